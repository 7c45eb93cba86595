//! `INSERT ... ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c, ... [WHERE ...]`,
//! as in PostgreSQL: rows whose key is new are inserted; for rows whose key
//! exists, the SET expressions are evaluated over the existing row (the
//! table's name or alias) and the proposed one (`excluded`), and only the
//! changed fields are written. The command's count is inserted + updated.
//! A key proposed twice in one statement is 21000, as in PostgreSQL.
//!
//! Existing rows are read by key (no scan).

use std::collections::HashSet;
use std::sync::Arc;

use polars::prelude::*;
use sqlparser::ast::{ConflictTarget, DoUpdate, Insert, SelectItem, SetExpr, Statement};

use super::update::UpdatePlan;
use super::write::{insert_rows, quote_ident, Conflict};
use super::{run_blocking, scan, Engine};
use crate::catalog::{ColType, TableInfo};
use crate::error::{Error, Result};
use crate::sql::analyze::analyze;
use crate::sql::params::{bind, Param};

const EXCLUDED: &str = "excluded";

impl Engine {
    /// Plan the DO UPDATE part: `SELECT key, new values..., old values...
    /// FROM t JOIN excluded USING key [WHERE ...]`, run later over the
    /// existing rows and the proposed ones.
    pub(super) async fn plan_upsert(
        &self,
        ins: &Insert,
        table: &Arc<TableInfo>,
        target: Option<&ConflictTarget>,
        du: &DoUpdate,
        text: &str,
    ) -> Result<UpdatePlan> {
        let targets_key = match target {
            Some(ConflictTarget::Columns(cols)) => {
                cols.len() == 1 && crate::sql::fold_ident(&cols[0]) == table.key_column
            }
            _ => false,
        };
        if !targets_key {
            return Err(Error::Data(
                "42P10",
                format!(
                    "ON CONFLICT DO UPDATE needs the key column as its target: ON CONFLICT ({})",
                    table.key_column
                ),
            ));
        }
        let alias = ins
            .table_alias
            .as_ref()
            .map_or(table.name.clone(), |a| crate::sql::fold_ident(&a.alias));
        let (columns, values) = super::update::assigned_columns(table, &du.assignments)?;
        let (t, k) = (quote_ident(&alias), quote_ident(&table.key_column));
        let placeholders: Vec<String> = (0..columns.len()).map(|i| format!("NULL AS \"__new{i}\"")).collect();
        let old: Vec<String> = columns.iter().map(|(c, _)| format!("{t}.{}", quote_ident(c))).collect();
        // The CTE only lets the analyzer accept `excluded`; it is dropped
        // again and the proposed rows registered under that name instead.
        let sql = format!(
            "WITH {EXCLUDED} AS (SELECT * FROM {name} LIMIT 0) SELECT {t}.{k}, {}, {} FROM {name} AS {t} JOIN {EXCLUDED} ON {t}.{k} = {EXCLUDED}.{k}",
            placeholders.join(", "),
            old.join(", "),
            name = quote_ident(&table.name),
        );
        let Some(Statement::Query(mut q)) = crate::sql::parse(&sql)?.pop() else {
            unreachable!()
        };
        if let SetExpr::Select(s) = q.body.as_mut() {
            for (i, v) in values.iter().enumerate() {
                if let SelectItem::ExprWithAlias { expr, .. } = &mut s.projection[1 + i] {
                    *expr = v.clone();
                }
            }
            s.selection = du.selection.clone();
        }
        let mut analyzed = analyze(*q, text)?;
        analyzed.query.with = None;
        let mut planned = self.plan(analyzed).await?;
        for (v, (_, ty)) in values.iter().zip(&columns) {
            if let Some(i) = crate::sql::params::placeholder_index(v) {
                if let Some(slot) = planned.param_types.get_mut(i - 1) {
                    *slot = ty.pg_type();
                }
            }
        }
        Ok(UpdatePlan {
            table: table.clone(),
            columns,
            source: Box::new(planned),
        })
    }

    /// Insert the new rows, update the existing ones; the rows affected.
    pub(super) async fn upsert(
        &self,
        table: &Arc<TableInfo>,
        columns: &[(String, ColType)],
        encoded: &[Vec<Option<String>>],
        plan: &UpdatePlan,
        params: &[Param],
    ) -> Result<usize> {
        let store = self.catalog().store();
        let key_idx = columns
            .iter()
            .position(|(c, _)| *c == table.key_column)
            .expect("planned with a key");
        let mut seen = HashSet::new();
        for id in encoded[key_idx].iter().flatten() {
            if !seen.insert(id.as_str()) {
                return Err(Error::Data(
                    "21000",
                    format!("ON CONFLICT DO UPDATE command cannot affect row a second time (key {id})"),
                ));
            }
        }
        let keys: Vec<Vec<u8>> = seen.iter().map(|id| table.key_of(id).into_bytes()).collect();
        let existing: HashSet<String> = store
            .keys_of_type(keys, table.redis_type())
            .await?
            .into_iter()
            .map(|k| String::from_utf8_lossy(&k[table.prefix.len()..]).into_owned())
            .collect();
        let (mut fresh, mut old) = (vec![Vec::new(); columns.len()], vec![Vec::new(); columns.len()]);
        for r in 0..encoded[key_idx].len() {
            let is_old = encoded[key_idx][r].as_ref().is_some_and(|id| existing.contains(id));
            for (c, col) in encoded.iter().enumerate() {
                let side = if is_old { &mut old } else { &mut fresh };
                side[c].push(col[r].clone());
            }
        }
        let inserted = insert_rows(store, table, columns, &fresh, Conflict::Fail).await?;
        if existing.is_empty() {
            return Ok(inserted);
        }
        // The existing rows, read by key, and the proposed ones as `excluded`.
        let all = table.all_columns();
        let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let ids: Vec<String> = existing.into_iter().collect();
        let (current, _) = scan::read_table(store, table, &names, false, scan::Keys::Ids(ids)).await?;
        let proposed: Vec<Column> = all
            .iter()
            .map(|(name, ty)| {
                let values = match columns.iter().position(|(c, _)| c == name) {
                    Some(c) => old[c].clone(),
                    None => vec![None; old[key_idx].len()],
                };
                scan::typed_column(&table.name, name, *ty, &values)
            })
            .collect();
        let proposed = DataFrame::new_infer_height(proposed)?;
        let mut query = plan.source.analyzed.query.clone();
        bind(&mut query, params)?;
        let sql = query.to_string();
        let registered = plan
            .source
            .sources
            .first()
            .map(|(s, _)| s.registered_name().to_string())
            .unwrap_or_else(|| table.name.clone());
        let result = run_blocking(move || {
            let mut ctx = super::functions::context();
            ctx.register(&registered, current.lazy());
            ctx.register(EXCLUDED, proposed.lazy());
            super::collect(ctx.execute(&sql)?)
        })
        .await?;
        let updated = self.write_updates(plan, &result).await?;
        Ok(inserted + updated)
    }
}
