//! UPDATE t SET c = expr, ... [WHERE ...]: the new values are computed by
//! the query engine next to the old ones, and only fields whose stored form
//! changes are written (HSET, or HDEL for NULL), each row atomically and only
//! if it still exists.

use std::sync::Arc;

use sqlparser::ast::{AssignmentTarget, Expr, SelectItem, SetExpr, Statement, TableFactor, Update};

use super::values::{encode_column, in_column};
use super::write::{quote_ident, table_name, WriteOutcome};
use super::{Engine, Planned};
use crate::catalog::{ColType, TableInfo};
use crate::error::{Error, Result};
use crate::sql::analyze::analyze;
use crate::sql::params::Param;

/// Rows per pipelined write.
const UPDATE_BATCH: usize = 1000;

/// Update one existing hash. ARGV: number of fields to set, field, value, ...,
/// then fields to delete.
const UPDATE_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
if #ARGV > 1 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 + 2 * n)) end
return 1
";

/// A planned UPDATE.
#[derive(Clone)]
pub struct UpdatePlan {
    pub table: Arc<TableInfo>,
    /// Assigned columns with their types.
    pub columns: Vec<(String, ColType)>,
    /// `SELECT key, new values..., old values... FROM t WHERE ...`
    pub source: Box<Planned>,
}

impl Engine {
    pub async fn plan_update(&self, up: &Update, text: &str) -> Result<UpdatePlan> {
        let TableFactor::Table { name, alias, .. } = &up.table.relation else {
            return Err(Error::Unsupported(
                "UPDATE of this kind of relation is not supported".into(),
            ));
        };
        if up.from.is_some() || up.returning.is_some() || !up.table.joins.is_empty() {
            return Err(Error::Unsupported(
                "UPDATE ... FROM/RETURNING is not supported yet".into(),
            ));
        }
        let table = self.catalog().get(&table_name(name)?).await?;
        let (columns, values) = assigned_columns(&table, &up.assignments)?;
        let alias = alias.as_ref().map(|a| format!(" AS {}", a.name)).unwrap_or_default();
        let old: Vec<String> = columns.iter().map(|(c, _)| quote_ident(c)).collect();
        let new_placeholders: Vec<String> = (0..columns.len()).map(|i| format!("NULL AS \"__new{i}\"")).collect();
        let sql = format!(
            "SELECT {}, {}, {} FROM {}{alias}",
            quote_ident(&table.key_column),
            new_placeholders.join(", "),
            old.join(", "),
            quote_ident(&table.name)
        );
        let mut stmts = crate::sql::parse(&sql)?;
        let Some(Statement::Query(mut q)) = stmts.pop() else {
            unreachable!()
        };
        if let SetExpr::Select(s) = q.body.as_mut() {
            for (i, v) in values.iter().enumerate() {
                if let SelectItem::ExprWithAlias { expr, .. } = &mut s.projection[1 + i] {
                    *expr = v.clone();
                }
            }
            s.selection = up.selection.clone();
        }
        let mut planned = self.plan(analyze(*q, text)?).await?;
        // SET c = $n: the parameter takes the column's type.
        for (v, (_, ty)) in values.iter().zip(&columns) {
            if let Some(i) = crate::sql::params::placeholder_index(v) {
                if let Some(slot) = planned.param_types.get_mut(i - 1) {
                    *slot = ty.pg_type();
                }
            }
        }
        Ok(UpdatePlan {
            table,
            columns,
            source: Box::new(planned),
        })
    }

    pub async fn update(&self, plan: &UpdatePlan, params: &[Param]) -> Result<WriteOutcome> {
        let out = self.execute(&plan.source, params).await?;
        let rows = self.write_updates(plan, &out.frame).await?;
        Ok(WriteOutcome { tag: "UPDATE", rows })
    }

    /// Write the changed fields of rows given as `key, new values..., old
    /// values...`; the number of rows that still existed.
    pub(super) async fn write_updates(&self, plan: &UpdatePlan, frame: &polars::prelude::DataFrame) -> Result<usize> {
        let n = plan.columns.len();
        let cols = frame.columns();
        let ids = encode_column(&cols[0], plan.table.key_type)?;
        let mut new = Vec::with_capacity(n);
        let mut old = Vec::with_capacity(n);
        for (i, (name, ty)) in plan.columns.iter().enumerate() {
            new.push(encode_column(&cols[1 + i], *ty).map_err(|e| in_column(e, name))?);
            old.push(encode_column(&cols[1 + n + i], *ty).map_err(|e| in_column(e, name))?);
        }
        let store = self.catalog().store();
        if plan.table.storage == crate::catalog::STORAGE_JSON {
            return super::json_doc::update_docs(store, plan, &ids, &new, &old).await;
        }
        let sha: String = store.query(redis::cmd("SCRIPT").arg("LOAD").arg(UPDATE_SCRIPT)).await?;
        let mut matched = 0;
        let rows: Vec<usize> = (0..ids.len()).filter(|&r| ids[r].is_some()).collect();
        for chunk in rows.chunks(UPDATE_BATCH) {
            let mut pipe = crate::store::Pipe::new();
            let mut sent = 0;
            for &r in chunk {
                let key = plan.table.key_of(ids[r].as_deref().expect("filtered"));
                // NULL always deletes: a stored value that did not parse also reads as NULL.
                let changed: Vec<usize> = (0..n)
                    .filter(|&c| new[c][r].is_none() || new[c][r] != old[c][r])
                    .collect();
                let sets: Vec<(&str, &str)> = changed
                    .iter()
                    .filter_map(|&c| new[c][r].as_deref().map(|v| (plan.columns[c].0.as_str(), v)))
                    .collect();
                let dels: Vec<&str> = changed
                    .iter()
                    .filter(|&&c| new[c][r].is_none())
                    .map(|&c| plan.columns[c].0.as_str())
                    .collect();
                let cmd = pipe.cmd("EVALSHA").arg(&sha).arg(1).arg(key).arg(sets.len());
                for (f, v) in &sets {
                    cmd.arg(*f).arg(*v);
                }
                cmd.arg(&dels);
                sent += 1;
            }
            if sent > 0 {
                for v in store.pipeline(&pipe).await? {
                    match v {
                        redis::Value::Int(1) => matched += 1,
                        redis::Value::Int(0) => {} // deleted meanwhile: not updated
                        other => {
                            return Err(Error::Redis(format!(
                                "update failed: {other:?}; {matched} rows were updated before it"
                            )))
                        }
                    }
                }
            }
        }
        Ok(matched)
    }
}

/// The assigned columns with their types, and the expressions.
type Assigned = (Vec<(String, ColType)>, Vec<Expr>);

/// `SET c = expr, ...`: the assigned columns with their types, and the expressions.
pub(super) fn assigned_columns(table: &TableInfo, assignments: &[sqlparser::ast::Assignment]) -> Result<Assigned> {
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for a in assignments {
        let AssignmentTarget::ColumnName(target) = &a.target else {
            return Err(Error::Unsupported("tuple assignments are not supported".into()));
        };
        let col = table_name(target)?;
        if col == table.key_column {
            return Err(Error::Unsupported(format!(
                "updating the key column \"{col}\" is not supported"
            )));
        }
        let ty = table.column(&col).map(|c| c.ty).ok_or_else(|| {
            Error::UndefinedColumn(format!(
                "column \"{col}\" of relation \"{}\" does not exist",
                table.name
            ))
        })?;
        columns.push((col, ty));
        values.push(a.value.clone());
    }
    Ok((columns, values))
}
