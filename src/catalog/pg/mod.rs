//! `pg_catalog` and `information_schema`: real tables that the query engine
//! reads like any other, so the catalog queries of psql, pgjdbc (DBeaver,
//! Metabase), SQLAlchemy and Grafana run as written (after the tree rewrites
//! of `sql::pg_compat`). Rows that are static in PostgreSQL are static here;
//! the rest are generated per query from redsql's catalog: each Redis table
//! is a table in schema `public` whose key column is its primary key, each
//! RediSearch index an index, redsql's system views views in schema `redsql`.
//!
//! Every relation is declared once as a [`Relation`] (name, OID, kind,
//! columns); its frame, its `pg_class` row and its `pg_attribute` rows all
//! come from that declaration.

mod indexes;
mod info_schema;
mod relations;
mod tables;
pub mod types;

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::*;

use super::TableInfo;

pub use tables::relation_oid;

/// OIDs PostgreSQL gives its built-in namespaces, and ours.
pub const PG_CATALOG_NS: u32 = 11;
pub const PUBLIC_NS: u32 = 2200;
pub const INFORMATION_SCHEMA_NS: u32 = 13183;
pub const REDSQL_NS: u32 = 16383;
/// The one role (OID 10 is the bootstrap superuser in PostgreSQL).
pub const ROLE_OID: u32 = 10;
pub const ROLE_NAME: &str = "redsql";
/// The one database.
pub const DATABASE_OID: u32 = 16384;
pub const DATABASE_NAME: &str = "redsql";

/// Catalog columns PostgreSQL types `int2vector`: subscripted from 0 and
/// sent space-separated (`1 2`), like the `oidvector` ones below.
const INT2_VECTOR_COLUMNS: &[&str] = &["indkey", "indoption", "stxkeys", "partattrs"];
/// Catalog columns PostgreSQL types `oidvector`.
const OID_VECTOR_COLUMNS: &[&str] = &["indclass", "indcollation"];

/// The type OID of a catalog vector column: `int2vector` (22) or `oidvector` (30).
pub fn vector_type_oid(name: &str) -> Option<u32> {
    if INT2_VECTOR_COLUMNS.contains(&name) {
        Some(22)
    } else if OID_VECTOR_COLUMNS.contains(&name) {
        Some(30)
    } else {
        None
    }
}

/// A column's type in a catalog relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Oid,
    Text,
    /// `regproc`: a function's name, `-` for none (PostgreSQL's OID 0).
    RegProc,
    Bool,
    /// PostgreSQL's `int2` catalog columns (attnum, indnatts, ...), never NULL:
    /// held and sent as `int4`, since Polars is built without Int16 kernels
    /// (a comparison on an Int16 column panics).
    I16,
    I32,
    I64,
    F32,
    /// An array of text: ACLs and options (NULL here), index column names.
    TextList,
    /// `int2vector` / `int2[]` (index and constraint keys).
    I16List,
}

/// A catalog relation's declaration: `columns` is `"name:type ..."`.
pub struct Relation {
    pub schema: &'static str,
    pub name: &'static str,
    pub oid: u32,
    /// `r` table, `v` view.
    pub kind: char,
    pub columns: &'static str,
}

impl Relation {
    pub fn columns(&self) -> impl Iterator<Item = (&'static str, Ty)> {
        self.columns.split_whitespace().map(|c| {
            let (name, ty) = c.split_once(':').expect("name:type");
            let ty = match ty {
                "oid" => Ty::Oid,
                "text" => Ty::Text,
                "regproc" => Ty::RegProc,
                "bool" => Ty::Bool,
                "int2" => Ty::I16,
                "int4" => Ty::I32,
                "int8" => Ty::I64,
                "float4" => Ty::F32,
                "list" => Ty::TextList,
                "int2v" => Ty::I16List,
                other => panic!("unknown catalog column type {other}"),
            };
            (name, ty)
        })
    }

    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// One cell of a generated row.
#[derive(Clone, Debug)]
pub enum V {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    Float(f64),
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

impl From<&str> for V {
    fn from(s: &str) -> V {
        V::Text(s.to_string())
    }
}
impl From<String> for V {
    fn from(s: String) -> V {
        V::Text(s)
    }
}
impl From<bool> for V {
    fn from(b: bool) -> V {
        V::Bool(b)
    }
}
impl From<u32> for V {
    fn from(n: u32) -> V {
        V::Int(n as i64)
    }
}
impl From<i64> for V {
    fn from(n: i64) -> V {
        V::Int(n)
    }
}
impl From<i32> for V {
    fn from(n: i32) -> V {
        V::Int(n as i64)
    }
}
impl From<Option<String>> for V {
    fn from(s: Option<String>) -> V {
        s.map_or(V::Null, V::Text)
    }
}

/// A row: the columns it sets; the others are NULL (or 0/false for OIDs,
/// counts and flags, as PostgreSQL's catalogs never hold NULL there).
pub type Row = Vec<(&'static str, V)>;

/// The frame of a relation from its rows.
pub fn build(rel: &Relation, rows: &[Row]) -> PolarsResult<DataFrame> {
    let mut cols = Vec::new();
    for (name, ty) in rel.columns() {
        let cell = |r: &Row| {
            r.iter()
                .find(|(c, _)| *c == name)
                .map(|(_, v)| v.clone())
                .unwrap_or(V::Null)
        };
        let values: Vec<V> = rows.iter().map(cell).collect();
        let int = |v: &V, default: i64| match v {
            V::Int(n) => Some(*n),
            V::Bool(b) => Some(*b as i64),
            V::Null => Some(default),
            _ => None,
        };
        let s = match ty {
            Ty::Oid => Series::new(
                name.into(),
                values.iter().map(|v| int(v, 0).map(|n| n as u32)).collect::<Vec<_>>(),
            ),
            Ty::I16 => Series::new(
                name.into(),
                values.iter().map(|v| int(v, 0).map(|n| n as i32)).collect::<Vec<_>>(),
            ),
            Ty::I32 => Series::new(
                name.into(),
                values
                    .iter()
                    .map(|v| {
                        if matches!(v, V::Null) {
                            None
                        } else {
                            int(v, 0).map(|n| n as i32)
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
            Ty::I64 => Series::new(
                name.into(),
                values
                    .iter()
                    .map(|v| if matches!(v, V::Null) { None } else { int(v, 0) })
                    .collect::<Vec<_>>(),
            ),
            Ty::F32 => Series::new(
                name.into(),
                values
                    .iter()
                    .map(|v| match v {
                        V::Float(f) => Some(*f as f32),
                        V::Int(n) => Some(*n as f32),
                        _ => Some(0.0),
                    })
                    .collect::<Vec<_>>(),
            ),
            Ty::Bool => Series::new(
                name.into(),
                values.iter().map(|v| matches!(v, V::Bool(true))).collect::<Vec<_>>(),
            ),
            Ty::Text => Series::new(
                name.into(),
                values
                    .iter()
                    .map(|v| match v {
                        V::Text(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            Ty::RegProc => Series::new(
                name.into(),
                values
                    .iter()
                    .map(|v| match v {
                        V::Text(s) => s.clone(),
                        _ => "-".to_string(),
                    })
                    .collect::<Vec<_>>(),
            ),
            Ty::TextList => list_series(name, &values, DataType::String, |v| match v {
                V::Texts(ts) => Some(Series::new("".into(), ts.clone())),
                _ => None,
            })?,
            // Elements are Int64: Polars' list kernels (`attnum = ANY(conkey)`)
            // are not built for Int16. Lists go out as text either way.
            Ty::I16List => list_series(name, &values, DataType::Int64, |v| match v {
                V::Ints(ns) => Some(Series::new("".into(), ns.clone())),
                _ => None,
            })?,
        };
        cols.push(s.into_column());
    }
    DataFrame::new_infer_height(cols)
}

/// A list column of `inner` elements, one list per cell (`list` gives None for NULL).
fn list_series(name: &str, values: &[V], inner: DataType, list: impl Fn(&V) -> Option<Series>) -> PolarsResult<Series> {
    let s = Series::new(name.into(), values.iter().map(list).collect::<Vec<_>>());
    let dtype = DataType::List(Box::new(inner));
    if s.dtype() == &dtype {
        Ok(s)
    } else {
        s.cast(&dtype)
    }
}

/// A column as the catalog shows it: name, type OID, NOT NULL.
pub type Col = (String, u32, bool);

/// A Redis table's columns, the key column (NOT NULL) first.
pub fn table_columns(t: &TableInfo) -> Vec<Col> {
    let mut out = vec![(t.key_column.clone(), t.key_type.pg_type().oid(), true)];
    out.extend(t.columns.iter().map(|c| (c.name.clone(), c.ty.pg_type().oid(), false)));
    out
}

/// The columns of one of redsql's system views (`redsql.tables`).
pub fn view_columns(view: &str) -> Vec<Col> {
    crate::catalog::system::view_frame(view, &BTreeMap::new())
        .and_then(|f| f.ok())
        .map(|f| {
            f.schema()
                .iter()
                .map(|(n, dt)| (n.to_string(), crate::encode::pg_type(dt).oid(), false))
                .collect()
        })
        .unwrap_or_default()
}

/// The name of a table's primary key (its constraint and its index).
pub fn pkey_name(t: &TableInfo) -> String {
    format!("{}_pkey", t.name)
}

/// Relations outside the search path (redsql's views, information_schema):
/// `pg_table_is_visible` is false for them.
pub fn hidden_relation_oids() -> impl Iterator<Item = u32> {
    crate::catalog::system::SYSTEM_VIEWS
        .iter()
        .map(|v| relation_oid(v))
        .chain(info_schema::RELATIONS.iter().map(|r| r.oid))
}

/// Whether `schema.name` is a catalog relation (`pg_catalog.*`,
/// `information_schema.*`).
pub fn is_relation(schema: &str, name: &str) -> bool {
    find(schema, name).is_some()
}

/// The declaration of a catalog relation.
pub fn find(schema: &str, name: &str) -> Option<&'static Relation> {
    all().find(|r| r.schema == schema && r.name == name)
}

/// Every catalog relation.
pub fn all() -> impl Iterator<Item = &'static Relation> {
    relations::RELATIONS.iter().chain(info_schema::RELATIONS.iter())
}

/// The frame of `pg_catalog.x` or `information_schema.x` over these tables.
pub fn frame(qualified: &str, tables: &BTreeMap<String, Arc<TableInfo>>) -> Option<PolarsResult<DataFrame>> {
    let (schema, name) = qualified.split_once('.')?;
    let rel = find(schema, name)?;
    let rows = match schema {
        "pg_catalog" => tables::rows(rel, tables),
        _ => info_schema::rows(rel, tables),
    };
    Some(build(rel, &rows))
}
