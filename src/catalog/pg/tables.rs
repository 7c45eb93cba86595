//! The rows of the `pg_catalog` relations (declared in [`super::relations`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::relations::RELATIONS;
use super::{
    indexes, pkey_name, table_columns, types, view_columns, Col, Relation, Row, DATABASE_NAME, DATABASE_OID,
    INFORMATION_SCHEMA_NS, PG_CATALOG_NS, PUBLIC_NS, REDSQL_NS, ROLE_NAME, ROLE_OID, V,
};
use crate::catalog::system::SYSTEM_VIEWS;
use crate::catalog::TableInfo;

/// Access methods: tables, btree (the primary keys), and RediSearch indexes.
const AM_HEAP: u32 = 2;
const AM_BTREE: u32 = 403;
const AM_REDISEARCH: u32 = 16382;

/// A stable OID for a name: PostgreSQL's user OIDs start at 16384; these
/// are FNV-1a hashes above 2^24 so they stay put across catalog changes.
pub(super) fn hashed_oid(kind: &str, name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in kind.bytes().chain([0u8]).chain(name.bytes()) {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    (1 << 24) + h % ((1u32 << 31) - (1 << 24))
}

/// The OID of a relation by name (`sale`, `pg_class`, `redsql.tables`):
/// what `'name'::regclass` gives.
pub fn relation_oid(name: &str) -> u32 {
    let bare = name.strip_prefix("pg_catalog.").unwrap_or(name);
    if let Some(r) = RELATIONS.iter().find(|r| r.name == bare) {
        return r.oid;
    }
    if let Some(r) = super::all().find(|r| r.qualified() == name) {
        return r.oid;
    }
    if let Some(i) = SYSTEM_VIEWS.iter().position(|v| *v == name) {
        return 16385 + i as u32;
    }
    hashed_oid("rel", name.strip_prefix("public.").unwrap_or(name))
}

/// Every relation `pg_class` lists: (oid, name, namespace, kind, columns
/// (name, type OID, not null), access method, has indexes, tuples).
struct Rel {
    oid: u32,
    name: String,
    ns: u32,
    kind: &'static str,
    columns: Vec<Col>,
    am: u32,
    has_index: bool,
    tuples: f64,
}

/// A catalog column's type as the wire carries it (`crate::encode`).
fn catalog_type_oid(name: &str, ty: super::Ty) -> u32 {
    use super::Ty;
    match ty {
        Ty::Oid => 26,
        Ty::Text => 25,
        // Names, sent as text (see Ty::RegProc).
        Ty::RegProc => 25,
        Ty::Bool => 16,
        // Sent as int4 (see Ty::I16): the catalog says what the wire carries.
        Ty::I16 => 23,
        Ty::I32 => 23,
        Ty::I64 => 20,
        Ty::F32 => 700,
        Ty::TextList => 1009,
        // Vectors by name; other lists' elements are held as int8 (see build's I16List).
        Ty::I16List => super::vector_type_oid(name).unwrap_or(1016),
    }
}

fn relations(tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Rel> {
    let mut out = Vec::new();
    for t in tables.values() {
        let oid = relation_oid(&t.name);
        let columns = table_columns(t);
        out.push(Rel {
            oid,
            name: t.name.clone(),
            ns: PUBLIC_NS,
            kind: "r",
            columns: columns.clone(),
            am: AM_HEAP,
            has_index: true,
            tuples: t.key_count as f64,
        });
        out.push(Rel {
            oid: hashed_oid("pkey", &t.name),
            name: pkey_name(t),
            ns: PUBLIC_NS,
            kind: "i",
            columns: columns[..1].to_vec(),
            am: AM_BTREE,
            has_index: false,
            tuples: t.key_count as f64,
        });
        if let (Some(name), Some(index)) = (&t.index_name, &t.index) {
            let cols = index
                .attributes
                .iter()
                .filter_map(|a| columns.iter().find(|c| c.0 == a.identifier || c.0 == a.alias).cloned())
                .collect();
            out.push(Rel {
                oid: hashed_oid("index", name),
                name: name.clone(),
                ns: PUBLIC_NS,
                kind: "i",
                columns: cols,
                am: AM_REDISEARCH,
                has_index: false,
                tuples: index.num_docs as f64,
            });
        }
    }
    for v in SYSTEM_VIEWS {
        out.push(Rel {
            oid: relation_oid(v),
            name: v.trim_start_matches("redsql.").to_string(),
            ns: REDSQL_NS,
            kind: "v",
            columns: view_columns(v),
            am: 0,
            has_index: false,
            tuples: 0.0,
        });
    }
    for r in super::all() {
        out.push(Rel {
            oid: r.oid,
            name: r.name.to_string(),
            ns: if r.schema == "pg_catalog" {
                PG_CATALOG_NS
            } else {
                INFORMATION_SCHEMA_NS
            },
            kind: if r.kind == 'v' { "v" } else { "r" },
            columns: r
                .columns()
                .map(|(n, ty)| (n.to_string(), catalog_type_oid(n, ty), false))
                .collect(),
            am: if r.kind == 'v' { 0 } else { AM_HEAP },
            has_index: false,
            tuples: 0.0,
        });
    }
    out
}

/// The rows of a `pg_catalog` relation.
pub fn rows(rel: &Relation, tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Row> {
    match rel.name {
        "pg_namespace" => [
            (PG_CATALOG_NS, "pg_catalog"),
            (PUBLIC_NS, "public"),
            (INFORMATION_SCHEMA_NS, "information_schema"),
            (REDSQL_NS, "redsql"),
        ]
        .into_iter()
        .map(|(oid, name)| {
            vec![
                ("oid", oid.into()),
                ("nspname", name.into()),
                ("nspowner", ROLE_OID.into()),
            ]
        })
        .collect(),
        "pg_class" => relations(tables)
            .into_iter()
            .map(|r| {
                vec![
                    ("oid", r.oid.into()),
                    ("relname", r.name.into()),
                    ("relnamespace", r.ns.into()),
                    ("relowner", ROLE_OID.into()),
                    ("relam", r.am.into()),
                    ("relfilenode", r.oid.into()),
                    ("reltuples", V::Float(r.tuples)),
                    ("relhasindex", r.has_index.into()),
                    ("relpersistence", "p".into()),
                    ("relkind", r.kind.into()),
                    ("relnatts", V::Int(r.columns.len() as i64)),
                    ("relispopulated", true.into()),
                    ("relreplident", if r.kind == "r" { "d" } else { "n" }.into()),
                ]
            })
            .collect(),
        "pg_attribute" => relations(tables)
            .into_iter()
            .flat_map(|r| {
                r.columns.into_iter().enumerate().map(move |(i, (name, ty, not_null))| {
                    let len = types::length(ty);
                    vec![
                        ("attrelid", r.oid.into()),
                        ("attname", name.into()),
                        ("atttypid", ty.into()),
                        ("attstattarget", V::Int(-1)),
                        ("attlen", V::Int(len as i64)),
                        ("attnum", V::Int(i as i64 + 1)),
                        ("attndims", V::Int(0)),
                        ("attcacheoff", V::Int(-1)),
                        ("atttypmod", V::Int(-1)),
                        ("attbyval", (len > 0 && len <= 8).into()),
                        ("attalign", if len > 0 { "d" } else { "i" }.into()),
                        ("attstorage", if len > 0 { "p" } else { "x" }.into()),
                        ("attcompression", "".into()),
                        ("attnotnull", not_null.into()),
                        ("attidentity", "".into()),
                        ("attgenerated", "".into()),
                        ("attislocal", true.into()),
                        ("attinhcount", V::Int(0)),
                        ("attcollation", if ty == 25 { 100u32 } else { 0 }.into()),
                    ]
                })
            })
            .collect(),
        "pg_type" => types::TYPES
            .iter()
            .map(|&(oid, name, _, len, category, array, elem)| {
                vec![
                    ("oid", oid.into()),
                    ("typname", name.into()),
                    ("typnamespace", PG_CATALOG_NS.into()),
                    ("typowner", ROLE_OID.into()),
                    ("typlen", V::Int(len as i64)),
                    ("typbyval", (len > 0 && len <= 8).into()),
                    ("typtype", "b".into()),
                    ("typcategory", category.to_string().into()),
                    ("typisdefined", true.into()),
                    ("typdelim", ",".into()),
                    ("typelem", elem.into()),
                    ("typarray", array.into()),
                    ("typinput", types::io_function(oid, "in").into()),
                    ("typoutput", types::io_function(oid, "out").into()),
                    ("typreceive", types::io_function(oid, "recv").into()),
                    ("typsend", types::io_function(oid, "send").into()),
                    ("typmodin", types::io_function(oid, "typmodin").into()),
                    ("typmodout", types::io_function(oid, "typmodout").into()),
                    ("typalign", if len == 8 { "d" } else { "i" }.into()),
                    ("typstorage", if len > 0 { "p" } else { "x" }.into()),
                    ("typtypmod", V::Int(-1)),
                    ("typndims", V::Int(0)),
                    ("typcollation", if category == 'S' { 100u32 } else { 0 }.into()),
                ]
            })
            .collect(),
        "pg_database" => vec![vec![
            ("oid", DATABASE_OID.into()),
            ("datname", DATABASE_NAME.into()),
            ("datdba", ROLE_OID.into()),
            ("encoding", V::Int(6)),
            ("datlocprovider", "c".into()),
            ("datallowconn", true.into()),
            ("datconnlimit", V::Int(-1)),
            ("dattablespace", 1663u32.into()),
            ("datcollate", "C.UTF-8".into()),
            ("datctype", "C.UTF-8".into()),
        ]],
        "pg_roles" => vec![vec![
            ("rolname", ROLE_NAME.into()),
            ("rolsuper", true.into()),
            ("rolinherit", true.into()),
            ("rolcreatedb", true.into()),
            ("rolcanlogin", true.into()),
            ("rolconnlimit", V::Int(-1)),
            ("rolpassword", "********".into()),
            ("oid", ROLE_OID.into()),
        ]],
        "pg_user" => vec![vec![
            ("usename", ROLE_NAME.into()),
            ("usesysid", ROLE_OID.into()),
            ("usecreatedb", true.into()),
            ("usesuper", true.into()),
            ("passwd", "********".into()),
        ]],
        "pg_am" => [
            (AM_HEAP, "heap", "t"),
            (AM_BTREE, "btree", "i"),
            (AM_REDISEARCH, "redisearch", "i"),
        ]
        .into_iter()
        .map(|(oid, name, ty)| vec![("oid", oid.into()), ("amname", name.into()), ("amtype", ty.into())])
        .collect(),
        "pg_index" => indexes::index_rows(tables),
        "pg_constraint" => indexes::constraint_rows(tables),
        "pg_description" => tables
            .values()
            .map(|t| {
                vec![
                    ("objoid", relation_oid(&t.name).into()),
                    ("classoid", 1259u32.into()),
                    ("objsubid", V::Int(0)),
                    ("description", format!("Redis {} keys {}*", t.storage, t.prefix).into()),
                ]
            })
            .collect(),
        "pg_settings" => crate::session::commands::DEFAULT_SETTINGS
            .iter()
            .map(|(name, value)| {
                vec![
                    ("name", (*name).into()),
                    ("setting", (*value).into()),
                    ("category", "redsql".into()),
                    ("context", "user".into()),
                    ("vartype", "string".into()),
                    ("source", "default".into()),
                    ("boot_val", (*value).into()),
                    ("reset_val", (*value).into()),
                ]
            })
            .collect(),
        "pg_tables" => tables
            .values()
            .map(|t| {
                vec![
                    ("schemaname", "public".into()),
                    ("tablename", t.name.clone().into()),
                    ("tableowner", ROLE_NAME.into()),
                    ("hasindexes", true.into()),
                ]
            })
            .collect(),
        "pg_views" => SYSTEM_VIEWS
            .iter()
            .map(|v| {
                vec![
                    ("schemaname", "redsql".into()),
                    ("viewname", v.trim_start_matches("redsql.").into()),
                    ("viewowner", ROLE_NAME.into()),
                ]
            })
            .collect(),
        "pg_stat_user_tables" => tables
            .values()
            .map(|t| {
                vec![
                    ("relid", relation_oid(&t.name).into()),
                    ("schemaname", "public".into()),
                    ("relname", t.name.clone().into()),
                    ("n_live_tup", V::Int(t.key_count as i64)),
                    ("n_dead_tup", V::Int(0)),
                ]
            })
            .collect(),
        "pg_collation" => [(100u32, "default", "d"), (950, "C", "c"), (951, "POSIX", "c")]
            .into_iter()
            .map(|(oid, name, p)| {
                vec![
                    ("oid", oid.into()),
                    ("collname", name.into()),
                    ("collnamespace", PG_CATALOG_NS.into()),
                    ("collowner", ROLE_OID.into()),
                    ("collprovider", p.into()),
                ]
            })
            .collect(),
        "pg_tablespace" => [(1663u32, "pg_default"), (1664, "pg_global")]
            .into_iter()
            .map(|(oid, name)| {
                vec![
                    ("oid", oid.into()),
                    ("spcname", name.into()),
                    ("spcowner", ROLE_OID.into()),
                ]
            })
            .collect(),
        // Everything else is empty in redsql: no functions of its own,
        // defaults, inheritance, policies, publications, triggers, ...
        _ => Vec::new(),
    }
}
