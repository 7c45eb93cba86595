//! System views over the catalog, queryable like any table:
//! `redsql.tables` and `redsql.columns` (the schema-confidence report).

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::*;

use super::TableInfo;

/// Schema-qualified names of the system views.
pub const SYSTEM_VIEWS: [&str; 2] = ["redsql.tables", "redsql.columns"];

pub fn tables_frame(tables: &BTreeMap<String, Arc<TableInfo>>) -> PolarsResult<DataFrame> {
    let t: Vec<&Arc<TableInfo>> = tables.values().collect();
    df!(
        "table_name" => t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        "prefix" => t.iter().map(|t| t.prefix.as_str()).collect::<Vec<_>>(),
        "storage" => t.iter().map(|t| t.storage).collect::<Vec<_>>(),
        "key_count" => t.iter().map(|t| t.key_count as i64).collect::<Vec<_>>(),
        "index_name" => t.iter().map(|t| t.index_name.clone()).collect::<Vec<_>>(),
    )
}

pub fn columns_frame(tables: &BTreeMap<String, Arc<TableInfo>>) -> PolarsResult<DataFrame> {
    let (mut table, mut column, mut ty, mut conf, mut nulls, mut samples) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for t in tables.values() {
        table.push(t.name.clone());
        column.push(t.key_column.clone());
        ty.push(t.key_type.sql_name());
        conf.push(1.0);
        nulls.push(0.0);
        samples.push(t.sampled as i64);
        for c in &t.columns {
            table.push(t.name.clone());
            column.push(c.name.clone());
            ty.push(c.ty.sql_name());
            conf.push(c.confidence);
            nulls.push(c.null_ratio);
            samples.push(c.samples as i64);
        }
    }
    df!(
        "table_name" => table,
        "column_name" => column,
        "data_type" => ty,
        "confidence" => conf,
        "null_ratio" => nulls,
        "samples" => samples,
    )
}

/// The schema of a system view, for describing statements without data.
pub fn view_frame(name: &str, tables: &BTreeMap<String, Arc<TableInfo>>) -> Option<PolarsResult<DataFrame>> {
    match name {
        "redsql.tables" => Some(tables_frame(tables)),
        "redsql.columns" => Some(columns_frame(tables)),
        _ => None,
    }
}
