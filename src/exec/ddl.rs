//! CREATE TABLE (declared, AS SELECT, or loaded from a file) and DROP TABLE.

use std::collections::BTreeMap;

use polars::prelude::DataType;
use sqlparser::ast::{CreateTable, CreateTableOptions, SqlOption};

use super::files::{kind_of, FileKind};
use super::load::{IfExists, LoadSpec};
use super::values::encode_frame;
use super::write::{insert_rows, table_name, Conflict, WritePlan};
use super::Engine;
use super::Planned;
use crate::catalog::meta::{self, TableMeta};
use crate::catalog::TableInfo;
use crate::catalog::{ColType, STORAGE_HASH, STORAGE_JSON};
use crate::error::{Error, Result};
use crate::sql::analyze::analyze;
use crate::sql::params::Param;
use crate::store::Store;

/// `WITH (...)` options of CREATE TABLE, lower-cased names, unquoted values.
fn table_options(ct: &CreateTable) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let CreateTableOptions::With(opts) = &ct.table_options {
        for o in opts {
            let SqlOption::KeyValue { key, value } = o else {
                return Err(Error::Unsupported(format!("table option {o} is not supported")));
            };
            let v = value.to_string();
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map_or(v.clone(), |v| v.replace("''", "'"));
            out.insert(key.value.to_lowercase(), v);
        }
    }
    Ok(out)
}

fn parse_ttl(v: &str) -> Result<u64> {
    v.parse::<u64>()
        .map_err(|_| Error::Data("22023", format!("ttl must be a number of seconds, not {v}")))
}

fn parse_storage(v: &str) -> Result<&'static str> {
    match v.to_lowercase().as_str() {
        STORAGE_HASH => Ok(STORAGE_HASH),
        STORAGE_JSON => Ok(STORAGE_JSON),
        _ => Err(Error::Unsupported(format!(
            "storage '{v}' is not supported ('hash' or 'json')"
        ))),
    }
}

/// A prefix must be non-empty and free of glob characters.
pub(super) fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || prefix.contains(['*', '?', '[', ']']) {
        return Err(Error::Data(
            "22023",
            format!("invalid prefix {prefix:?}: a table's prefix must not be empty or hold * ? [ ]"),
        ));
    }
    Ok(())
}

/// The column type a query result or file column is stored as.
pub fn col_type_of(dt: &DataType) -> ColType {
    match dt {
        DataType::Boolean => ColType::Boolean,
        DataType::Date => ColType::Date,
        DataType::Datetime(_, _) => ColType::Timestamp,
        dt if dt.is_integer() => ColType::BigInt,
        dt if dt.is_float() || matches!(dt, DataType::Decimal(_, _)) => ColType::Double,
        _ => ColType::Text,
    }
}

fn missing_key(name: &str, how: &str) -> Error {
    Error::Data(
        "42P16",
        format!("table \"{name}\" needs a key column: its value is the id part of each Redis key ({how})"),
    )
}

impl Engine {
    /// Plan `CREATE TABLE t (...) [WITH (prefix = 'p:', ttl = 3600, storage = 'hash', key = 'c')]`,
    /// `CREATE TABLE t WITH (key = 'c', ...) AS SELECT ...` and
    /// `CREATE TABLE t WITH (source = 'file', key = 'c', ...)`.
    /// The PRIMARY KEY column (or the `key` option) is the key's id part;
    /// `storage` is `hash` (the default) or `json` (RedisJSON documents).
    pub async fn plan_create(&self, ct: &CreateTable, text: &str) -> Result<WritePlan> {
        let name = table_name(&ct.name)?;
        let mut opts = table_options(ct)?;
        let mut key = opts.remove("key");
        let prefix = opts.remove("prefix").unwrap_or_else(|| format!("{name}:"));
        check_prefix(&prefix)?;
        let ttl = opts.remove("ttl").map(|v| parse_ttl(&v)).transpose()?;
        let storage = opts
            .remove("storage")
            .map(|v| parse_storage(&v))
            .transpose()?
            .unwrap_or(STORAGE_HASH);
        if let Some(source) = opts.remove("source") {
            if !ct.columns.is_empty() || ct.query.is_some() {
                return Err(Error::Unsupported(
                    "CREATE TABLE ... WITH (source = ...) takes its columns from the file".into(),
                ));
            }
            let key = key.ok_or_else(|| missing_key(&name, "add key = 'column' to WITH"))?;
            let path = self.data_dir().resolve_read(&source)?;
            let kind = kind_of(
                &path,
                opts.remove("format").map(|f| FileKind::from_name(&f)).transpose()?,
            )?;
            let mut spec = LoadSpec::new(&name, &key, kind);
            spec.prefix = Some(prefix);
            spec.ttl = ttl;
            spec.storage = storage;
            if let Some(v) = opts.remove("if_exists") {
                spec.if_exists = IfExists::parse(&v)?;
            }
            if ct.if_not_exists {
                spec.if_exists = IfExists::Append;
            }
            if let Some(v) = opts.remove("on_duplicate") {
                spec.on_duplicate = match v.to_lowercase().as_str() {
                    "fail" => Conflict::Fail,
                    "replace" => Conflict::Replace,
                    _ => {
                        return Err(Error::Data(
                            "22023",
                            format!("on_duplicate must be fail or replace, not {v:?}"),
                        ))
                    }
                };
            }
            if let Some(v) = opts.remove("delimiter") {
                spec.format.delimiter = v.chars().next().unwrap_or(',');
            }
            if let Some(v) = opts.remove("null") {
                spec.format.null = v;
            }
            no_more_options(opts)?;
            return Ok(WritePlan::Load { spec, path });
        }
        no_more_options(opts)?;
        let mut meta = TableMeta {
            name: name.clone(),
            prefix,
            key_column: String::new(),
            key_type: ColType::Text,
            columns: Vec::new(),
            ttl,
            storage,
        };
        if let Some(query) = &ct.query {
            if !ct.columns.is_empty() {
                return Err(Error::Unsupported(
                    "CREATE TABLE ... AS takes its columns from the query; rename them in the SELECT".into(),
                ));
            }
            meta.key_column =
                key.ok_or_else(|| missing_key(&name, "CREATE TABLE t WITH (key = 'column') AS SELECT ..."))?;
            let planned = self.plan(analyze(*query.clone(), text)?).await?;
            return Ok(WritePlan::CreateAs {
                meta,
                query: Box::new(planned),
                if_not_exists: ct.if_not_exists,
            });
        }
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
            meta.columns.push((cname, ty));
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
        let key = key.ok_or_else(|| missing_key(&name, "declare a PRIMARY KEY"))?;
        let pos = meta
            .columns
            .iter()
            .position(|(c, _)| *c == key)
            .ok_or_else(|| Error::UndefinedColumn(format!("key column \"{key}\" is not a column of \"{name}\"")))?;
        let (_, key_type) = meta.columns.remove(pos);
        meta.key_column = key;
        meta.key_type = key_type;
        Ok(WritePlan::Create {
            meta,
            if_not_exists: ct.if_not_exists,
        })
    }

    /// CREATE TABLE ... AS: declare the table from the query's result
    /// columns, then write its rows. All or nothing: when the rows cannot be
    /// written, the new table is dropped again.
    pub(super) async fn create_as(
        &self,
        meta: &TableMeta,
        query: &Planned,
        if_not_exists: bool,
        params: &[Param],
    ) -> Result<usize> {
        let out = self.execute(query, params).await?;
        let mut meta = meta.clone();
        let mut columns = Vec::new();
        for (name, c) in out.names.iter().zip(out.frame.columns()) {
            if columns.iter().any(|(n, _)| n == name) {
                return Err(Error::Data(
                    "42701",
                    format!("column \"{name}\" specified more than once"),
                ));
            }
            columns.push((name.clone(), col_type_of(c.dtype())));
        }
        let key = columns.iter().find(|(n, _)| *n == meta.key_column).ok_or_else(|| {
            Error::UndefinedColumn(format!(
                "key column \"{}\" is not a column of the query",
                meta.key_column
            ))
        })?;
        meta.key_type = key.1;
        meta.columns = columns.iter().filter(|(n, _)| *n != meta.key_column).cloned().collect();
        if !self.create_table(&meta, if_not_exists).await? {
            return Ok(0);
        }
        let table = self.catalog().get(&meta.name).await?;
        let written = match encode_frame(&out.frame, &columns) {
            Ok(encoded) => insert_rows(self.catalog().store(), &table, &columns, &encoded, Conflict::Fail).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(n) => Ok(n),
            Err(e) => {
                self.drop_table(&meta.name, true).await?;
                Err(match e {
                    Error::Data(code, msg) => {
                        Error::Data(code, format!("{msg}; table \"{}\" was not created", meta.name))
                    }
                    other => other,
                })
            }
        }
    }
}

fn no_more_options(opts: BTreeMap<String, String>) -> Result<()> {
    match opts.keys().next() {
        None => Ok(()),
        Some(k) => Err(Error::Unsupported(format!(
            "table option {k} is not supported (prefix, key, ttl, storage; source, format, if_exists, on_duplicate, delimiter, null for file loads)"
        ))),
    }
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

impl Engine {
    /// Save a declared table's definition (42P07 if the name or prefix is taken).
    /// Returns false when it exists and `if_not_exists` was given.
    pub async fn create_table(&self, meta: &TableMeta, if_not_exists: bool) -> Result<bool> {
        let store = self.catalog().store();
        self.catalog().refresh().await?;
        let snapshot = self.catalog().snapshot();
        if let Some(existing) = snapshot.get(&meta.name) {
            if existing.declared {
                if if_not_exists {
                    return Ok(false);
                }
                return Err(Error::Data(
                    "42P07",
                    format!("relation \"{}\" already exists", meta.name),
                ));
            }
        }
        if let Some(other) = snapshot.values().find(|t| t.declared && t.prefix == meta.prefix) {
            return Err(Error::Data(
                "42P07",
                format!("prefix {:?} already belongs to table \"{}\"", meta.prefix, other.name),
            ));
        }
        check_storage(store, meta, &snapshot).await?;
        meta::save(store, meta).await?;
        self.catalog().refresh().await?;
        Ok(true)
    }

    /// DROP TABLE: every key, the definition and the table's RediSearch index.
    /// Returns false when the table does not exist and `if_exists` was given.
    pub async fn drop_table(&self, name: &str, if_exists: bool) -> Result<bool> {
        let store = self.catalog().store();
        // Rescan first: the snapshot may predate an index made on the table since.
        self.catalog().refresh().await?;
        let table = match self.catalog().get(name).await {
            Ok(t) => t,
            Err(Error::UndefinedTable(_)) if if_exists => return Ok(false),
            Err(e) => return Err(e),
        };
        delete_all_keys(store, &table).await?;
        if table.declared {
            meta::remove(store, &table.name).await?;
        }
        if let Some(index) = &table.index {
            // The keys are gone already; FT.DROPINDEX without DD drops the index alone.
            crate::catalog::index::drop(store, index).await?;
        }
        self.catalog().refresh().await?;
        Ok(true)
    }
}

/// UNLINK every key of a table.
pub(super) async fn delete_all_keys(store: &Store, table: &TableInfo) -> Result<usize> {
    let mut batches = store.scan_table_keys(&table.prefix, table.redis_type());
    let mut n = 0;
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        let mut pipe = crate::store::Pipe::new();
        pipe.cmd("UNLINK").arg(&batch);
        store.pipeline(&pipe).await?;
        n += batch.len();
    }
    Ok(n)
}
