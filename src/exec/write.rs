//! Writing back: CREATE TABLE, DROP TABLE, TRUNCATE, INSERT, DELETE.
//!
//! Statements are planned once (at Parse for prepared statements): the rows
//! to write or the keys to delete come from an ordinary query run by the
//! engine, so `INSERT ... SELECT`, `DELETE ... WHERE` and `$n` parameters
//! work like in SELECT. Values are stored so they read back identically.

use std::collections::HashSet;
use std::sync::Arc;

use super::index_ddl;
use sqlparser::ast::{
    Delete, Expr, FromTable, Insert, ObjectName, ObjectType, OnConflictAction, OnInsert, SetExpr, Statement,
    TableFactor, TableObject,
};

use super::values::{constant_text, encode_column, encode_constants, encode_frame};
use super::{Engine, Planned};
use crate::catalog::meta::TableMeta;
use crate::catalog::{ColType, TableInfo};
use crate::error::{Error, Result};
use crate::sql::analyze::analyze;
use crate::sql::params::Param;

/// Rows per pipelined write.
const WRITE_BATCH: usize = 1000;

/// Where inserted rows come from.
#[derive(Clone)]
pub enum InsertSource {
    /// `VALUES` rows of constants and parameters, evaluated here.
    Constants {
        rows: Vec<Vec<Expr>>,
        param_types: Vec<pgwire::api::Type>,
    },
    /// Anything else, run as a query.
    Query(Box<Planned>),
}

/// What to do when an inserted key exists.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Conflict {
    /// 23505 (INSERT and COPY, as in PostgreSQL).
    Fail,
    /// Skip rows whose key exists (`ON CONFLICT DO NOTHING`).
    DoNothing,
    /// Replace the existing row as a whole (bulk loads that ask for it).
    Replace,
}

impl Conflict {
    /// The mode argument of the insert scripts.
    pub(super) fn script_mode(self) -> &'static str {
        match self {
            Conflict::Fail => "0",
            Conflict::DoNothing => "1",
            Conflict::Replace => "2",
        }
    }
}

/// A planned write statement.
#[derive(Clone)]
pub enum WritePlan {
    Create {
        meta: TableMeta,
        if_not_exists: bool,
    },
    /// CREATE TABLE ... AS: `meta` lacks the columns, which come from the query.
    CreateAs {
        meta: TableMeta,
        query: Box<Planned>,
        if_not_exists: bool,
    },
    Alter {
        name: String,
        ops: Vec<super::alter::AlterOp>,
        if_exists: bool,
    },
    /// CREATE TABLE ... WITH (source = 'file').
    Load {
        spec: super::load::LoadSpec,
        path: std::path::PathBuf,
    },
    Drop {
        names: Vec<String>,
        if_exists: bool,
    },
    Truncate {
        names: Vec<String>,
    },
    CreateIndex(index_ddl::CreateIndexPlan),
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    Insert {
        table: Arc<TableInfo>,
        columns: Vec<(String, ColType)>,
        source: InsertSource,
        conflict: Conflict,
        /// ON CONFLICT (key) DO UPDATE: how existing rows change.
        upsert: Option<Box<super::update::UpdatePlan>>,
    },
    Delete {
        table: Arc<TableInfo>,
        source: Box<Planned>,
    },
    Update(Box<super::update::UpdatePlan>),
}

impl WritePlan {
    /// Types of the `$n` parameters, `$1` first.
    pub fn param_types(&self) -> Vec<pgwire::api::Type> {
        let mut types = self.own_param_types();
        // `$n` in ON CONFLICT DO UPDATE: typed there where the rows leave it open.
        if let WritePlan::Insert { upsert: Some(u), .. } = self {
            for (i, t) in u.source.param_types.iter().enumerate() {
                if i >= types.len() {
                    types.push(t.clone());
                } else if types[i] == pgwire::api::Type::TEXT {
                    types[i] = t.clone();
                }
            }
        }
        types
    }

    fn own_param_types(&self) -> Vec<pgwire::api::Type> {
        match self {
            WritePlan::Insert {
                source: InsertSource::Query(source),
                ..
            }
            | WritePlan::Delete { source, .. } => source.param_types.clone(),
            WritePlan::Update(u) => u.source.param_types.clone(),
            WritePlan::CreateAs { query, .. } => query.param_types.clone(),
            WritePlan::Insert {
                source: InsertSource::Constants { param_types, .. },
                ..
            } => param_types.clone(),
            _ => Vec::new(),
        }
    }
}

/// The result of a write: the command tag and the row count.
pub struct WriteOutcome {
    pub tag: &'static str,
    pub rows: usize,
}

/// Whether the statement is a write redsql plans here.
pub fn is_write(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateTable(_)
            | Statement::AlterTable(_)
            | Statement::Insert(_)
            | Statement::Delete(_)
            | Statement::Update(_)
            | Statement::Truncate(_)
            | Statement::CreateIndex(_)
            | Statement::Drop {
                object_type: ObjectType::Table | ObjectType::Index,
                ..
            }
    )
}

/// A table name as PostgreSQL folds it (unquoted parts to lower case).
pub(super) fn table_name(name: &ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(crate::sql::fold_ident)
        .collect();
    match parts.as_slice() {
        [one] => Ok(one.clone()),
        [schema, table] if schema == "public" => Ok(table.clone()),
        _ => Err(Error::UndefinedTable(name.to_string())),
    }
}

pub(super) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Engine {
    /// Plan a write statement (resolving tables and typing parameters).
    pub async fn plan_write(&self, stmt: &Statement, text: &str) -> Result<WritePlan> {
        match stmt {
            Statement::CreateTable(ct) => self.plan_create(ct, text).await,
            Statement::AlterTable(at) => super::alter::plan_alter(at),
            Statement::CreateIndex(ci) => index_ddl::plan_create_index(ci),
            Statement::Drop {
                object_type: ObjectType::Index,
                names,
                if_exists,
                ..
            } => index_ddl::plan_drop_index(names, *if_exists),
            Statement::Drop { names, if_exists, .. } => Ok(WritePlan::Drop {
                names: names.iter().map(table_name).collect::<Result<_>>()?,
                if_exists: *if_exists,
            }),
            Statement::Truncate(t) => Ok(WritePlan::Truncate {
                names: t
                    .table_names
                    .iter()
                    .map(|n| table_name(&n.name))
                    .collect::<Result<_>>()?,
            }),
            Statement::Insert(ins) => self.plan_insert(ins, text).await,
            Statement::Delete(del) => self.plan_delete(del, text).await,
            Statement::Update(up) => Ok(WritePlan::Update(Box::new(self.plan_update(up, text).await?))),
            other => Err(Error::Unsupported(format!(
                "{} is not supported",
                other.to_string().split_whitespace().next().unwrap_or("")
            ))),
        }
    }

    async fn plan_insert(&self, ins: &Insert, text: &str) -> Result<WritePlan> {
        let TableObject::TableName(name) = &ins.table else {
            return Err(Error::Unsupported(
                "INSERT into a table function is not supported".into(),
            ));
        };
        let table = self.catalog().get(&table_name(name)?).await?;
        let names: Vec<String> = ins.columns.iter().map(table_name).collect::<Result<_>>()?;
        let columns = table.resolve_columns(&names)?;
        if !columns.iter().any(|(c, _)| *c == table.key_column) {
            return Err(Error::Data(
                "23502",
                format!(
                    "INSERT into \"{}\" must set the key column \"{}\"",
                    table.name, table.key_column
                ),
            ));
        }
        let (conflict, upsert) = match &ins.on {
            None => (Conflict::Fail, None),
            Some(OnInsert::OnConflict(oc)) => match &oc.action {
                OnConflictAction::DoNothing => (Conflict::DoNothing, None),
                OnConflictAction::DoUpdate(du) => {
                    let plan = self
                        .plan_upsert(ins, &table, oc.conflict_target.as_ref(), du, text)
                        .await?;
                    (Conflict::Fail, Some(Box::new(plan)))
                }
            },
            Some(_) => return Err(Error::Unsupported("ON DUPLICATE KEY UPDATE is not supported".into())),
        };
        let source = *ins
            .source
            .clone()
            .ok_or_else(|| Error::Unsupported("INSERT without VALUES or SELECT is not supported".into()))?;
        if let SetExpr::Values(v) = source.body.as_ref() {
            if v.rows
                .iter()
                .flat_map(|r| r.iter())
                .all(|e| constant_text(e, &[]).is_ok())
            {
                for row in &v.rows {
                    if row.len() != columns.len() {
                        return Err(Error::Syntax(format!(
                            "INSERT has {} expressions but {} target columns",
                            row.len(),
                            columns.len()
                        )));
                    }
                }
                // $n takes the type of the column it is inserted into.
                let mut param_types = Vec::new();
                for row in &v.rows {
                    for (e, (_, ty)) in row.iter().zip(&columns) {
                        if let Some(i) = crate::sql::params::placeholder_index(e) {
                            if param_types.len() < i {
                                param_types.resize(i, pgwire::api::Type::TEXT);
                            }
                            param_types[i - 1] = ty.pg_type();
                        }
                    }
                }
                let source = InsertSource::Constants {
                    rows: v.rows.iter().map(|r| r.to_vec()).collect(),
                    param_types,
                };
                return Ok(WritePlan::Insert {
                    table,
                    columns,
                    source,
                    conflict,
                    upsert,
                });
            }
            return Err(Error::Unsupported(
                "INSERT ... VALUES takes constants and parameters; use INSERT ... SELECT for expressions".into(),
            ));
        }
        let planned = self.plan(analyze(source, text)?).await?;
        Ok(WritePlan::Insert {
            table,
            columns,
            source: InsertSource::Query(Box::new(planned)),
            conflict,
            upsert,
        })
    }

    async fn plan_delete(&self, del: &Delete, text: &str) -> Result<WritePlan> {
        let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &del.from;
        let [twj] = from.as_slice() else {
            return Err(Error::Unsupported("DELETE from several tables is not supported".into()));
        };
        let TableFactor::Table { name, alias, .. } = &twj.relation else {
            return Err(Error::Unsupported(
                "DELETE from this kind of relation is not supported".into(),
            ));
        };
        if del.using.is_some() || !twj.joins.is_empty() || del.returning.is_some() {
            return Err(Error::Unsupported(
                "DELETE ... USING/RETURNING is not supported yet".into(),
            ));
        }
        let table = self.catalog().get(&table_name(name)?).await?;
        let alias = alias.as_ref().map(|a| format!(" AS {}", a.name)).unwrap_or_default();
        let sql = format!(
            "SELECT {} FROM {}{alias}",
            quote_ident(&table.key_column),
            quote_ident(&table.name)
        );
        let mut stmts = crate::sql::parse(&sql)?;
        let Some(Statement::Query(mut q)) = stmts.pop() else {
            unreachable!()
        };
        if let (SetExpr::Select(s), Some(cond)) = (q.body.as_mut(), &del.selection) {
            s.selection = Some(cond.clone());
        }
        let planned = self.plan(analyze(*q, text)?).await?;
        Ok(WritePlan::Delete {
            table,
            source: Box::new(planned),
        })
    }

    /// Run a planned write; the catalog is marked stale afterwards (even on
    /// failure, which may have written part of the rows).
    pub async fn write(&self, plan: &WritePlan, params: &[Param]) -> Result<WriteOutcome> {
        let result = self.write_inner(plan, params).await;
        self.catalog().invalidate().await;
        result
    }

    async fn write_inner(&self, plan: &WritePlan, params: &[Param]) -> Result<WriteOutcome> {
        let store = self.catalog().store();
        match plan {
            WritePlan::Create { meta, if_not_exists } => {
                self.create_table(meta, *if_not_exists).await?;
                Ok(WriteOutcome {
                    tag: "CREATE TABLE",
                    rows: 0,
                })
            }
            WritePlan::CreateAs {
                meta,
                query,
                if_not_exists,
            } => {
                let rows = self.create_as(meta, query, *if_not_exists, params).await?;
                Ok(WriteOutcome { tag: "SELECT", rows })
            }
            WritePlan::Alter { name, ops, if_exists } => {
                self.alter(name, ops, *if_exists).await?;
                Ok(WriteOutcome {
                    tag: "ALTER TABLE",
                    rows: 0,
                })
            }
            WritePlan::Load { spec, path } => {
                let rows = self.load_file(spec, path, None).await?;
                Ok(WriteOutcome { tag: "COPY", rows })
            }
            WritePlan::Drop { names, if_exists } => {
                for name in names {
                    self.drop_table(name, *if_exists).await?;
                }
                Ok(WriteOutcome {
                    tag: "DROP TABLE",
                    rows: 0,
                })
            }
            WritePlan::CreateIndex(plan) => {
                self.create_index(plan).await?;
                Ok(WriteOutcome {
                    tag: "CREATE INDEX",
                    rows: 0,
                })
            }
            WritePlan::DropIndex { names, if_exists } => {
                self.drop_indexes(names, *if_exists).await?;
                Ok(WriteOutcome {
                    tag: "DROP INDEX",
                    rows: 0,
                })
            }
            WritePlan::Truncate { names } => {
                for name in names {
                    let table = self.catalog().get(name).await?;
                    super::ddl::delete_all_keys(store, &table).await?;
                }
                Ok(WriteOutcome {
                    tag: "TRUNCATE TABLE",
                    rows: 0,
                })
            }
            WritePlan::Insert {
                table,
                columns,
                source,
                conflict,
                upsert,
            } => {
                let encoded = match source {
                    InsertSource::Query(q) => {
                        let out = self.execute(q, params).await?;
                        encode_frame(&out.frame, columns)?
                    }
                    InsertSource::Constants { rows, .. } => encode_constants(rows, columns, params)?,
                };
                let rows = match upsert {
                    Some(plan) => self.upsert(table, columns, &encoded, plan, params).await?,
                    None => insert_rows(store, table, columns, &encoded, *conflict).await?,
                };
                Ok(WriteOutcome { tag: "INSERT", rows })
            }
            WritePlan::Update(plan) => self.update(plan, params).await,
            WritePlan::Delete { table, source } => {
                let out = self.execute(source, params).await?;
                let ids = encode_column(&out.frame.columns()[0], table.key_type)?;
                let keys: Vec<String> = ids.iter().flatten().map(|id| table.key_of(id)).collect();
                let mut deleted = 0;
                for chunk in keys.chunks(WRITE_BATCH) {
                    let mut pipe = crate::store::Pipe::new();
                    for k in chunk {
                        pipe.cmd("UNLINK").arg(k);
                    }
                    for v in store.pipeline(&pipe).await? {
                        deleted += matches!(v, redis::Value::Int(1)) as usize;
                    }
                }
                Ok(WriteOutcome {
                    tag: "DELETE",
                    rows: deleted,
                })
            }
        }
    }
}

/// Write rows given in stored form, column by column (in the order of `columns`).
pub(super) async fn insert_rows(
    store: &crate::store::Store,
    table: &TableInfo,
    columns: &[(String, ColType)],
    encoded: &[Vec<Option<String>>],
    conflict: Conflict,
) -> Result<usize> {
    let checked = checked_rows(table, columns, encoded, conflict)?;
    write_checked(store, table, columns, encoded, &checked, conflict).await
}

/// Rows checked for writing: (row index, key id) and the Redis key of each.
pub(super) struct Checked {
    pub rows: Vec<(usize, String)>,
    pub keys: Vec<String>,
}

/// The rows to write, checked before anything is written: every key
/// present and without `:`, none repeated unless the conflict mode allows
/// it (`DoNothing` keeps the first, `Replace` all).
pub(super) fn checked_rows(
    table: &TableInfo,
    columns: &[(String, ColType)],
    encoded: &[Vec<Option<String>>],
    conflict: Conflict,
) -> Result<Checked> {
    table.check_writable()?;
    let height = encoded.first().map_or(0, Vec::len);
    let key_idx = columns
        .iter()
        .position(|(c, _)| *c == table.key_column)
        .expect("planned with a key");
    // Check every key before writing anything, so a failing INSERT writes nothing.
    let mut seen = HashSet::new();
    let mut rows = Vec::with_capacity(height);
    for (r, id) in encoded[key_idx].iter().enumerate() {
        let id = id.clone().ok_or_else(|| {
            Error::Data(
                "23502",
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    table.key_column, table.name
                ),
            )
        })?;
        if id.contains(':') {
            return Err(Error::Data(
                "22023",
                format!("key value {id:?} contains ':', which separates table prefixes"),
            ));
        }
        if !seen.insert(id.clone()) {
            match conflict {
                Conflict::DoNothing => continue,
                // Rows are written in order, so the last one with a key wins.
                Conflict::Replace => {}
                Conflict::Fail => return Err(duplicate(table, &id)),
            }
        }
        rows.push((r, id));
    }
    let keys = rows.iter().map(|(_, id)| table.key_of(id)).collect();
    Ok(Checked { rows, keys })
}

/// Write rows checked by [`checked_rows`]. An existing row is a duplicate
/// (unless the conflict mode says otherwise); a key of another type is
/// never written over.
pub(super) async fn write_checked(
    store: &crate::store::Store,
    table: &TableInfo,
    columns: &[(String, ColType)],
    encoded: &[Vec<Option<String>>],
    checked: &Checked,
    conflict: Conflict,
) -> Result<usize> {
    let Checked { rows, keys } = checked;
    // One EXISTS per chunk of keys, all in one round trip: when none exists
    // (a load into a new table), no TYPE per key is needed.
    let mut exists = crate::store::Pipe::new();
    for chunk in keys.chunks(WRITE_BATCH) {
        exists.cmd("EXISTS").arg(chunk);
    }
    let existing: Vec<i64> = if rows.is_empty() {
        Vec::new()
    } else {
        store
            .pipeline(&exists)
            .await?
            .into_iter()
            .map(|v| match v {
                redis::Value::Int(n) => Ok(n),
                other => Err(Error::Redis(format!("unexpected EXISTS reply {other:?}"))),
            })
            .collect::<Result<_>>()?
    };
    let mut all_new = true;
    let chunks = rows.chunks(WRITE_BATCH).zip(keys.chunks(WRITE_BATCH)).zip(existing);
    for ((chunk, chunk_keys), _) in chunks.filter(|(_, n)| *n > 0) {
        all_new = false;
        let mut pipe = crate::store::Pipe::new();
        for key in chunk_keys {
            pipe.cmd("TYPE").arg(key);
        }
        for (v, (_, id)) in store.pipeline(&pipe).await?.iter().zip(chunk) {
            let ty = match v {
                redis::Value::SimpleString(t) => t.as_str(),
                _ => "none",
            };
            if ty != "none" && ty != table.redis_type() {
                return Err(Error::WrongKeyType(format!(
                    "key {} holds a Redis {ty}, not a row of {} table \"{}\"; it was not overwritten",
                    table.key_of(id),
                    table.storage,
                    table.name
                )));
            }
            if ty != "none" && conflict == Conflict::Fail {
                return Err(duplicate(table, id));
            }
        }
    }
    if table.storage == crate::catalog::STORAGE_JSON {
        return super::json_doc::insert_docs(store, table, columns, encoded, rows, conflict).await;
    }
    let how = if all_new && table.ttl.is_none() && conflict != Conflict::Replace && store.has_hsetex().await {
        super::hash_write::How::NewKeys
    } else {
        super::hash_write::How::Script
    };
    super::hash_write::insert_hashes(store, table, columns, encoded, checked, conflict, how).await
}

pub(super) fn duplicate(table: &TableInfo, id: &str) -> Error {
    Error::Data(
        "23505",
        format!(
            "duplicate key value violates unique constraint \"{}_pkey\": key ({})=({id}) already exists",
            table.name, table.key_column
        ),
    )
}
