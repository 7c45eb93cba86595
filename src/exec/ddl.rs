//! CREATE TABLE: a declared table's definition from the statement.

use sqlparser::ast::{CreateTable, CreateTableOptions, SqlOption};

use super::write::{table_name, WritePlan};
use crate::catalog::meta::TableMeta;
use crate::catalog::{ColType, STORAGE_HASH, STORAGE_JSON};
use crate::error::{Error, Result};

/// Plan `CREATE TABLE t (...) [WITH (prefix = 'p:', ttl = 3600, storage = 'hash', key = 'c')]`.
/// The PRIMARY KEY column (or the `key` option) is the key's id part;
/// `storage` is `hash` (the default) or `json` (RedisJSON documents).
pub fn plan_create(ct: &CreateTable) -> Result<WritePlan> {
    if ct.query.is_some() {
        return Err(Error::Unsupported("CREATE TABLE ... AS is not supported yet".into()));
    }
    let name = table_name(&ct.name)?;
    let mut columns = Vec::new();
    let mut key = None;
    for c in &ct.columns {
        let ty = ColType::from_sql(&c.data_type.to_string()).ok_or_else(|| {
            Error::Unsupported(format!(
                "column type {} is not supported (use bigint, double precision, boolean, date, timestamp or text)",
                c.data_type
            ))
        })?;
        let cname = crate::sql::fold_ident(&c.name);
        if c.options
            .iter()
            .any(|o| o.option.to_string().starts_with("PRIMARY KEY"))
        {
            key = Some(cname.clone());
        }
        columns.push((cname, ty));
    }
    for tc in &ct.constraints {
        let text = tc.to_string();
        if let Some(rest) = text.split("PRIMARY KEY").nth(1) {
            let inner = rest.trim().trim_start_matches('(').split(')').next().unwrap_or("");
            let cols: Vec<&str> = inner.split(',').map(str::trim).collect();
            if cols.len() != 1 {
                return Err(Error::Unsupported(
                    "a redsql table's PRIMARY KEY is one column (the Redis key)".into(),
                ));
            }
            let c = cols[0];
            key = Some(if c.starts_with('"') {
                c.trim_matches('"').to_string()
            } else {
                c.to_lowercase()
            });
        }
    }
    let (mut prefix, mut ttl, mut storage) = (format!("{name}:"), None, STORAGE_HASH);
    if let CreateTableOptions::With(opts) = &ct.table_options {
        for o in opts {
            let SqlOption::KeyValue { key: k, value } = o else {
                return Err(Error::Unsupported(format!("table option {o} is not supported")));
            };
            let v = value.to_string().trim_matches('\'').to_string();
            match k.value.to_lowercase().as_str() {
                "prefix" => prefix = v,
                "ttl" => {
                    ttl = Some(
                        v.parse::<u64>()
                            .map_err(|_| Error::Data("22023", format!("ttl must be a number of seconds, not {v}")))?,
                    )
                }
                "key" => key = Some(v),
                "storage" => {
                    storage = match v.to_lowercase().as_str() {
                        STORAGE_HASH => STORAGE_HASH,
                        STORAGE_JSON => STORAGE_JSON,
                        _ => {
                            return Err(Error::Unsupported(format!(
                                "storage '{v}' is not supported ('hash' or 'json')"
                            )))
                        }
                    }
                }
                other => return Err(Error::Unsupported(format!("table option {other} is not supported"))),
            }
        }
    }
    let key = key.ok_or_else(|| {
        Error::Data(
            "42P16",
            format!("table \"{name}\" needs a PRIMARY KEY column: its value is the id part of each Redis key"),
        )
    })?;
    let pos = columns
        .iter()
        .position(|(c, _)| *c == key)
        .ok_or_else(|| Error::UndefinedColumn(format!("key column \"{key}\" is not a column of \"{name}\"")))?;
    let (_, key_type) = columns.remove(pos);
    if prefix.is_empty() || prefix.contains(['*', '?', '[', ']']) {
        return Err(Error::Data("22023", format!("invalid prefix {prefix:?}")));
    }
    Ok(WritePlan::Create {
        meta: TableMeta {
            name,
            prefix,
            key_column: key,
            key_type,
            columns,
            ttl,
            storage,
        },
        if_not_exists: ct.if_not_exists,
    })
}

/// Before a table is declared: a JSON table needs RedisJSON, and no table is
/// declared over a prefix holding keys of the other storage type.
pub(super) async fn check_storage(
    store: &crate::store::Store,
    meta: &TableMeta,
    tables: &std::collections::BTreeMap<String, std::sync::Arc<crate::catalog::TableInfo>>,
) -> Result<()> {
    if meta.storage == STORAGE_JSON && !store.has_json().await {
        return Err(Error::Unsupported(
            "storage 'json' needs the RedisJSON module, which is not loaded in this Redis server".into(),
        ));
    }
    if let Some(t) = tables.values().find(|t| !t.declared && t.prefix == meta.prefix) {
        let other = if t.storage == meta.storage {
            t.foreign_keys
        } else {
            t.key_count
        };
        let kind = if meta.storage == STORAGE_JSON {
            "hashes"
        } else {
            "JSON documents"
        };
        if other > 0 {
            return Err(Error::WrongKeyType(format!(
                "prefix {:?} holds {other} {kind}; a {} table cannot be declared over them",
                meta.prefix, meta.storage
            )));
        }
    }
    Ok(())
}
