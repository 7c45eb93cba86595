//! System views over the catalog, queryable like any table:
//! `redsql.tables` and `redsql.columns` (the schema-confidence report).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use polars::prelude::*;

use super::{Catalog, TableInfo};

/// Per table with an index: whether it can answer queries now (Ok) or why not.
pub type IndexStates = HashMap<String, Result<(), String>>;

/// The live state of every table's index (one FT.INFO per index), for
/// `redsql.tables`.
pub async fn index_states(catalog: &Catalog, tables: &BTreeMap<String, Arc<TableInfo>>) -> IndexStates {
    let mut out = HashMap::new();
    for t in tables.values().filter(|t| t.index_name.is_some()) {
        out.insert(t.name.clone(), catalog.usable_index(t).await.map(|_| ()));
    }
    out
}

/// Schema-qualified names of the system views.
pub const SYSTEM_VIEWS: [&str; 2] = ["redsql.tables", "redsql.columns"];

/// `redsql.tables`. A table missing from `states` shows its index's state
/// as of the last catalog refresh.
pub fn tables_frame(tables: &BTreeMap<String, Arc<TableInfo>>, states: &IndexStates) -> PolarsResult<DataFrame> {
    let t: Vec<&Arc<TableInfo>> = tables.values().collect();
    let state: Vec<Option<Result<(), String>>> = t
        .iter()
        .map(|t| {
            t.index_name.as_ref()?;
            states.get(&t.name).cloned().or_else(|| t.index_state_at_refresh())
        })
        .collect();
    df!(
        "table_name" => t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        "prefix" => t.iter().map(|t| t.prefix.as_str()).collect::<Vec<_>>(),
        "storage" => t.iter().map(|t| t.storage).collect::<Vec<_>>(),
        "key_count" => t.iter().map(|t| t.key_count as i64).collect::<Vec<_>>(),
        "index_name" => t.iter().map(|t| t.index_name.clone()).collect::<Vec<_>>(),
        "index_usable" => state.iter().map(|s| s.as_ref().map(Result::is_ok)).collect::<Vec<_>>(),
        "index_note" => state
            .iter()
            .map(|s| s.as_ref().and_then(|r| r.clone().err()))
            .collect::<Vec<_>>(),
        "index_parts" => t.iter().map(|t| t.index.as_deref().map(parts)).collect::<Vec<_>>(),
    )
}

/// Where an index lives, as of the last refresh: `name on host:port (N docs)`
/// per part (one on a single node, one per master on a cluster).
fn parts(index: &super::index::IndexInfo) -> String {
    index
        .shards
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
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

/// A system view, index states as of the last catalog refresh.
pub fn view_frame(name: &str, tables: &BTreeMap<String, Arc<TableInfo>>) -> Option<PolarsResult<DataFrame>> {
    view_frame_with(name, tables, &IndexStates::new())
}

/// A system view, with the live index states from [`index_states`].
pub fn view_frame_with(
    name: &str,
    tables: &BTreeMap<String, Arc<TableInfo>>,
    states: &IndexStates,
) -> Option<PolarsResult<DataFrame>> {
    match name {
        "redsql.tables" => Some(tables_frame(tables, states)),
        "redsql.columns" => Some(columns_frame(tables)),
        _ => super::pg::frame(name, tables),
    }
}

/// A system view as a query reads it: `redsql.tables` with the live state of
/// every index (one FT.INFO each), other views as [`view_frame`] builds them.
pub async fn live_view_frame(
    catalog: &Catalog,
    name: &str,
    tables: &BTreeMap<String, Arc<TableInfo>>,
) -> Option<PolarsResult<DataFrame>> {
    let states = if name == "redsql.tables" {
        index_states(catalog, tables).await
    } else {
        IndexStates::new()
    };
    view_frame_with(name, tables, &states)
}
