//! The `information_schema` views: declarations and rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{pkey_name, table_columns, types, view_columns, Col, Relation, Row, DATABASE_NAME, ROLE_NAME, V};
use crate::catalog::system::SYSTEM_VIEWS;
use crate::catalog::TableInfo;

macro_rules! view {
    ($name:literal, $oid:expr, $cols:literal) => {
        Relation {
            schema: "information_schema",
            name: $name,
            oid: $oid,
            kind: 'v',
            columns: $cols,
        }
    };
}

pub static RELATIONS: &[Relation] = &[
    view!(
        "schemata",
        13100,
        "catalog_name:text schema_name:text schema_owner:text default_character_set_catalog:text \
         default_character_set_schema:text default_character_set_name:text sql_path:text"
    ),
    view!(
        "tables",
        13101,
        "table_catalog:text table_schema:text table_name:text table_type:text self_referencing_column_name:text \
         reference_generation:text user_defined_type_catalog:text user_defined_type_schema:text \
         user_defined_type_name:text is_insertable_into:text is_typed:text commit_action:text"
    ),
    view!(
        "columns",
        13102,
        "table_catalog:text table_schema:text table_name:text column_name:text ordinal_position:int4 \
         column_default:text is_nullable:text data_type:text character_maximum_length:int4 \
         character_octet_length:int4 numeric_precision:int4 numeric_precision_radix:int4 numeric_scale:int4 \
         datetime_precision:int4 interval_type:text interval_precision:int4 character_set_catalog:text \
         character_set_schema:text character_set_name:text collation_catalog:text collation_schema:text \
         collation_name:text domain_catalog:text domain_schema:text domain_name:text udt_catalog:text \
         udt_schema:text udt_name:text scope_catalog:text scope_schema:text scope_name:text \
         maximum_cardinality:int4 dtd_identifier:text is_self_referencing:text is_identity:text \
         identity_generation:text identity_start:text identity_increment:text identity_maximum:text \
         identity_minimum:text identity_cycle:text is_generated:text generation_expression:text \
         is_updatable:text"
    ),
    view!(
        "table_constraints",
        13103,
        "constraint_catalog:text constraint_schema:text constraint_name:text table_catalog:text \
         table_schema:text table_name:text constraint_type:text is_deferrable:text initially_deferred:text \
         enforced:text nulls_distinct:text"
    ),
    view!(
        "key_column_usage",
        13104,
        "constraint_catalog:text constraint_schema:text constraint_name:text table_catalog:text \
         table_schema:text table_name:text column_name:text ordinal_position:int4 \
         position_in_unique_constraint:int4"
    ),
    view!(
        "views",
        13105,
        "table_catalog:text table_schema:text table_name:text view_definition:text check_option:text \
         is_updatable:text is_insertable_into:text is_trigger_updatable:text is_trigger_deletable:text \
         is_trigger_insertable_into:text"
    ),
    view!(
        "routines",
        13106,
        "specific_catalog:text specific_schema:text specific_name:text routine_catalog:text routine_schema:text \
         routine_name:text routine_type:text data_type:text"
    ),
    view!(
        "referential_constraints",
        13107,
        "constraint_catalog:text constraint_schema:text constraint_name:text unique_constraint_catalog:text \
         unique_constraint_schema:text unique_constraint_name:text match_option:text update_rule:text \
         delete_rule:text"
    ),
];

/// Precision facts `information_schema.columns` gives per type OID:
/// (numeric_precision, radix, scale, datetime_precision).
fn precision(oid: u32) -> (V, V, V, V) {
    let n = |p: i64, r: i64, s: Option<i64>| (V::Int(p), V::Int(r), s.map_or(V::Null, V::Int), V::Null);
    match oid {
        20 => n(64, 2, Some(0)),
        23 => n(32, 2, Some(0)),
        21 => n(16, 2, Some(0)),
        701 => n(53, 2, None),
        700 => n(24, 2, None),
        1082 => (V::Null, V::Null, V::Null, V::Int(0)),
        1114 | 1184 | 1083 => (V::Null, V::Null, V::Null, V::Int(6)),
        _ => (V::Null, V::Null, V::Null, V::Null),
    }
}

/// (schema, table, columns, is a view).
type Listed = (&'static str, String, Vec<Col>, bool);

fn listed(tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Listed> {
    let mut out: Vec<Listed> = tables
        .values()
        .map(|t| ("public", t.name.clone(), table_columns(t), false))
        .collect();
    for v in SYSTEM_VIEWS {
        out.push((
            "redsql",
            v.trim_start_matches("redsql.").to_string(),
            view_columns(v),
            true,
        ));
    }
    out
}

/// The columns naming a table's primary key constraint and its table.
fn pkey_constraint(t: &TableInfo) -> Row {
    let db = || V::from(DATABASE_NAME);
    vec![
        ("constraint_catalog", db()),
        ("constraint_schema", "public".into()),
        ("constraint_name", pkey_name(t).into()),
        ("table_catalog", db()),
        ("table_schema", "public".into()),
        ("table_name", t.name.clone().into()),
    ]
}

/// The rows of an `information_schema` view.
pub fn rows(rel: &Relation, tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Row> {
    let db = || V::from(DATABASE_NAME);
    match rel.name {
        "schemata" => ["pg_catalog", "public", "information_schema", "redsql"]
            .into_iter()
            .map(|s| {
                vec![
                    ("catalog_name", db()),
                    ("schema_name", s.into()),
                    ("schema_owner", ROLE_NAME.into()),
                ]
            })
            .collect(),
        "tables" => listed(tables)
            .into_iter()
            .map(|(schema, name, _, view)| {
                vec![
                    ("table_catalog", db()),
                    ("table_schema", schema.into()),
                    ("table_name", name.into()),
                    ("table_type", if view { "VIEW" } else { "BASE TABLE" }.into()),
                    ("is_insertable_into", if view { "NO" } else { "YES" }.into()),
                    ("is_typed", "NO".into()),
                ]
            })
            .collect(),
        "columns" => listed(tables)
            .into_iter()
            .flat_map(|(schema, table, cols, view)| {
                cols.into_iter().enumerate().map(move |(i, (name, oid, not_null))| {
                    let (p, radix, scale, dt) = precision(oid);
                    vec![
                        ("table_catalog", db()),
                        ("table_schema", schema.into()),
                        ("table_name", table.clone().into()),
                        ("column_name", name.into()),
                        ("ordinal_position", V::Int(i as i64 + 1)),
                        ("is_nullable", if not_null { "NO" } else { "YES" }.into()),
                        ("data_type", types::sql_name(oid).unwrap_or("text").into()),
                        ("numeric_precision", p),
                        ("numeric_precision_radix", radix),
                        ("numeric_scale", scale),
                        ("datetime_precision", dt),
                        ("udt_catalog", db()),
                        ("udt_schema", "pg_catalog".into()),
                        ("udt_name", types::type_name(oid).unwrap_or("text").into()),
                        ("dtd_identifier", (i + 1).to_string().into()),
                        ("is_self_referencing", "NO".into()),
                        ("is_identity", "NO".into()),
                        ("is_generated", "NEVER".into()),
                        ("is_updatable", if view { "NO" } else { "YES" }.into()),
                    ]
                })
            })
            .collect(),
        "table_constraints" => tables
            .values()
            .map(|t| {
                let mut row = pkey_constraint(t);
                row.extend([
                    ("constraint_type", "PRIMARY KEY".into()),
                    ("is_deferrable", "NO".into()),
                    ("initially_deferred", "NO".into()),
                    ("enforced", "YES".into()),
                ]);
                row
            })
            .collect(),
        "key_column_usage" => tables
            .values()
            .map(|t| {
                let mut row = pkey_constraint(t);
                row.extend([
                    ("column_name", t.key_column.clone().into()),
                    ("ordinal_position", V::Int(1)),
                ]);
                row
            })
            .collect(),
        "views" => SYSTEM_VIEWS
            .iter()
            .map(|v| {
                vec![
                    ("table_catalog", db()),
                    ("table_schema", "redsql".into()),
                    ("table_name", v.trim_start_matches("redsql.").into()),
                    ("check_option", "NONE".into()),
                    ("is_updatable", "NO".into()),
                    ("is_insertable_into", "NO".into()),
                ]
            })
            .collect(),
        _ => Vec::new(),
    }
}
