//! Declared tables: metadata kept in Redis itself, so every redsql process
//! and every restart sees the same tables.
//!
//! * `redsql:tables` — a set of declared table names;
//! * `redsql:meta:<name>` — a hash: `prefix`, `key`, `key_type`, `storage`
//!   (`hash` or `json`; absent means `hash`),
//!   `ttl` (seconds, optional) and one field `c<i>` per column holding
//!   `<name>\t<type>` in declaration order.
//!
//! The `redsql:meta` prefix is never discovered as a table.

use redis::Value;

use super::types::ColType;
use crate::error::{Error, Result};
use crate::store::Store;

pub const TABLES_SET: &str = "redsql:tables";
pub const META_PREFIX: &str = "redsql:meta";

/// A declared table's definition.
#[derive(Clone, Debug, PartialEq)]
pub struct TableMeta {
    pub name: String,
    /// Full key prefix including its separator, e.g. `sale:`.
    pub prefix: String,
    pub key_column: String,
    pub key_type: ColType,
    /// Declared columns other than the key, in order.
    pub columns: Vec<(String, ColType)>,
    pub ttl: Option<u64>,
    pub storage: &'static str,
}

fn meta_key(name: &str) -> String {
    format!("{META_PREFIX}:{name}")
}

impl ColType {
    /// The type for a declared SQL type name (`varchar(20)` → text, ...).
    pub fn from_sql(name: &str) -> Option<ColType> {
        let lower = name.to_lowercase();
        let base = lower.split('(').next().unwrap_or("").trim();
        Some(match base {
            "bigint" | "int8" | "int" | "integer" | "int4" | "smallint" | "int2" | "bigserial" | "serial" => {
                ColType::BigInt
            }
            "double precision" | "float8" | "float" | "real" | "float4" | "numeric" | "decimal" | "double" => {
                ColType::Double
            }
            "boolean" | "bool" => ColType::Boolean,
            "date" => ColType::Date,
            "timestamp" | "timestamp without time zone" | "datetime" => ColType::Timestamp,
            "text" | "varchar" | "character varying" | "char" | "character" | "string" | "bpchar" => ColType::Text,
            _ => return None,
        })
    }
}

/// Save a table definition (and register its name).
pub async fn save(store: &Store, meta: &TableMeta) -> Result<()> {
    let key = meta_key(&meta.name);
    let mut pipe = crate::store::Pipe::new();
    pipe.atomic();
    pipe.cmd("DEL").arg(&key).ignore();
    let hset = pipe.cmd("HSET").arg(&key);
    hset.arg("prefix")
        .arg(&meta.prefix)
        .arg("key")
        .arg(&meta.key_column)
        .arg("key_type")
        .arg(meta.key_type.sql_name())
        .arg("storage")
        .arg(meta.storage);
    if let Some(ttl) = meta.ttl {
        hset.arg("ttl").arg(ttl);
    }
    for (i, (name, ty)) in meta.columns.iter().enumerate() {
        hset.arg(format!("c{i}")).arg(format!("{name}\t{}", ty.sql_name()));
    }
    hset.ignore();
    pipe.cmd("SADD").arg(TABLES_SET).arg(&meta.name).ignore();
    store.pipeline(&pipe).await?;
    Ok(())
}

/// Forget a table definition.
pub async fn remove(store: &Store, name: &str) -> Result<()> {
    let mut pipe = crate::store::Pipe::new();
    pipe.atomic();
    pipe.cmd("DEL").arg(meta_key(name)).ignore();
    pipe.cmd("SREM").arg(TABLES_SET).arg(name).ignore();
    store.pipeline(&pipe).await?;
    Ok(())
}

/// One declared table's definition, if the table is declared.
pub async fn load(store: &Store, name: &str) -> Result<Option<TableMeta>> {
    let reply: Value = store.query(redis::cmd("HGETALL").arg(meta_key(name))).await?;
    parse(name, reply)
}

/// Every declared table. Definitions that do not parse are skipped with a warning.
pub async fn load_all(store: &Store) -> Result<Vec<TableMeta>> {
    let names: Vec<String> = store.query(redis::cmd("SMEMBERS").arg(TABLES_SET)).await?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = crate::store::Pipe::new();
    for n in &names {
        pipe.cmd("HGETALL").arg(meta_key(n));
    }
    let replies = store.pipeline(&pipe).await?;
    let mut out = Vec::new();
    for (name, reply) in names.into_iter().zip(replies) {
        match parse(&name, reply) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => {}
            Err(e) => tracing::warn!(table = %name, error = %e, "ignoring unreadable table definition"),
        }
    }
    Ok(out)
}

fn parse(name: &str, reply: Value) -> Result<Option<TableMeta>> {
    let items: Vec<(String, String)> = redis::from_redis_value(reply).map_err(|e| Error::Redis(e.to_string()))?;
    if items.is_empty() {
        return Ok(None);
    }
    let get = |f: &str| items.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
    let bad = |what: &str| Error::Internal(format!("table {name}: bad {what} in its definition"));
    let mut cols: Vec<(usize, String, ColType)> = Vec::new();
    for (k, v) in &items {
        if let Some(i) = k.strip_prefix('c').and_then(|i| i.parse::<usize>().ok()) {
            let (cname, ty) = v.rsplit_once('\t').ok_or_else(|| bad("column"))?;
            cols.push((
                i,
                cname.to_string(),
                ColType::from_sql(ty).ok_or_else(|| bad("column type"))?,
            ));
        }
    }
    cols.sort_by_key(|(i, _, _)| *i);
    Ok(Some(TableMeta {
        name: name.to_string(),
        prefix: get("prefix").ok_or_else(|| bad("prefix"))?,
        key_column: get("key").ok_or_else(|| bad("key"))?,
        key_type: get("key_type")
            .and_then(|t| ColType::from_sql(&t))
            .ok_or_else(|| bad("key type"))?,
        columns: cols.into_iter().map(|(_, n, t)| (n, t)).collect(),
        ttl: get("ttl").and_then(|t| t.parse().ok()),
        storage: match get("storage").as_deref() {
            None | Some(super::STORAGE_HASH) => super::STORAGE_HASH,
            Some(super::STORAGE_JSON) => super::STORAGE_JSON,
            Some(_) => return Err(bad("storage")),
        },
    }))
}
