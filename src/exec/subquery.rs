//! Subqueries Polars SQL cannot run, answered before the query runs, in the
//! query's own Polars context (every table it reads is registered there):
//!
//! * an uncorrelated scalar subquery `(SELECT max(x) FROM t)` becomes its
//!   value (NULL of its type for no row; more than one row is error 21000);
//! * an uncorrelated `EXISTS (...)` becomes true or false;
//! * `x op ANY (SELECT ...)` / `x op ALL (...)` become `x op v1 OR/AND ...`
//!   over the subquery's values (so NULLs count as PostgreSQL counts them);
//! * a correlated scalar subquery whose conditions are equalities with the
//!   outer row (`(SELECT count(*) FROM o WHERE o.cid = c.id AND o.x > 1)`)
//!   becomes a LEFT JOIN to a table computed once: one row per key, with
//!   the value and a match flag, so a key without rows gets what the
//!   subquery gives over no rows (`count` 0, `max` NULL). Conditions on the
//!   outer row alone become a CASE around the value.
//!
//! Correlated EXISTS and `IN (SELECT ...)` are left to Polars, which runs them.

use std::collections::HashSet;
use std::ops::ControlFlow;

use polars::prelude::*;
use polars_sql::SQLContext;
use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Ident, Query, Select, SelectItem, SetExpr, TableFactor, Value, Visit, VisitMut,
    Visitor, VisitorMut,
};

use super::subquery_sql::{
    and_all, derived_select, has_inner_refs, is_aggregate, is_column, is_null_literal, join_on_keys, literal,
    order_spec, outer_qualifiers, outer_refs, probe_rows, qualifiers_of, substitute, typed_null,
};
use crate::error::{Error, Result};

/// Whether the query has a subquery expression this module answers.
pub fn has_subqueries(q: &Query) -> bool {
    struct Find(bool);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if matches!(e, Expr::Subquery(_) | Expr::Exists { .. }) || array_subquery(e).is_some() {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
            if super::srf::is_srf(tf) {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Find(false);
    let _ = q.visit(&mut f);
    f.0
}

/// `ARRAY(SELECT ...)`.
fn array_subquery(e: &Expr) -> Option<&Query> {
    match e {
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("array") => match &f.args {
            sqlparser::ast::FunctionArguments::Subquery(q) => Some(q),
            _ => None,
        },
        _ => None,
    }
}

/// Answer the query's subqueries in `ctx`, innermost first.
pub fn resolve(ctx: &mut SQLContext, query: &mut Query) -> Result<()> {
    if !has_subqueries(query) {
        return Ok(());
    }
    let mut r = Resolver {
        ctx,
        with: query.with.clone(),
        next: 0,
    };
    r.query(query)
}

struct Resolver<'a> {
    ctx: &'a mut SQLContext,
    /// The outer query's WITH, which subqueries may name.
    with: Option<sqlparser::ast::With>,
    next: usize,
}

impl Resolver<'_> {
    fn query(&mut self, q: &mut Query) -> Result<()> {
        if let Some(with) = &mut q.with {
            for cte in &mut with.cte_tables {
                self.query(&mut cte.query)?;
            }
        }
        self.set_expr(&mut q.body)
    }

    fn set_expr(&mut self, s: &mut SetExpr) -> Result<()> {
        match s {
            SetExpr::Select(sel) => self.select(sel),
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left)?;
                self.set_expr(right)
            }
            _ => Ok(()),
        }
    }

    fn select(&mut self, s: &mut Select) -> Result<()> {
        for from in &mut s.from {
            for f in std::iter::once(&mut from.relation).chain(from.joins.iter_mut().map(|j| &mut j.relation)) {
                if let TableFactor::Derived { subquery, .. } = f {
                    self.query(subquery)?;
                }
                if super::srf::is_srf(f) {
                    let internal = format!("__srf{}", self.next);
                    self.next += 1;
                    let rows = super::srf::materialize(f, &internal, |q| self.run(q))?;
                    self.ctx.register(&internal, rows.lazy());
                }
            }
        }
        let grouped = !matches!(&s.group_by, GroupByExpr::Expressions(v, _) if v.is_empty())
            || s.projection.iter().any(|i| match i {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => is_aggregate(e),
                _ => false,
            });
        let mut joins = Vec::new();
        // (expression, evaluated per group: in the select list or HAVING)
        let mut exprs: Vec<(&mut Expr, bool)> = Vec::new();
        for item in &mut s.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                exprs.push((e, grouped));
            }
        }
        exprs.extend(s.selection.as_mut().map(|e| (e, false)));
        exprs.extend(s.having.as_mut().map(|e| (e, grouped)));
        let from = s.from.clone();
        let mut outer_empty = None;
        for (e, grouped) in exprs {
            let mut v = ExprPass {
                r: self,
                joins: &mut joins,
                grouped,
                from: &from,
                outer_empty: &mut outer_empty,
                err: None,
            };
            let _ = VisitMut::visit(e, &mut v);
            if let Some(err) = v.err {
                return Err(err);
            }
        }
        for (qualifiers, join) in joins {
            let target = s
                .from
                .iter_mut()
                .position(|f| {
                    std::iter::once(&f.relation)
                        .chain(f.joins.iter().map(|j| &j.relation))
                        .any(|r| qualifiers_of(r).iter().any(|q| qualifiers.contains(q)))
                })
                .unwrap_or(0);
            match s.from.get_mut(target) {
                Some(f) => f.joins.push(join),
                None => {
                    return Err(Error::Unsupported(
                        "a correlated subquery in a SELECT without FROM".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Whether the FROM clause yields no rows at all, so the select list is
    /// never evaluated (psql's `\d` footers read empty catalogs such as
    /// pg_policy with subqueries redsql cannot decorrelate).
    fn yields_no_rows(&mut self, from: &[sqlparser::ast::TableWithJoins]) -> bool {
        probe_rows(from).is_some_and(|q| self.run(&q).is_ok_and(|df| df.height() == 0))
    }

    /// Whether a scalar subquery surely yields no row whatever the outer row:
    /// a plain SELECT without aggregates or GROUP BY over a FROM clause that
    /// is empty on its own (SQLAlchemy reads identity and default options
    /// from pg_sequence and pg_attrdef, empty here, with subqueries correlated
    /// through functions redsql cannot decorrelate). Such a subquery is NULL.
    fn never_yields(&mut self, q: &Query) -> bool {
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return false;
        };
        let plain_group = matches!(&sel.group_by, GroupByExpr::Expressions(v, _) if v.is_empty());
        let aggregate = sel.projection.iter().any(|i| match i {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => is_aggregate(e),
            _ => false,
        });
        plain_group && !aggregate && sel.having.is_none() && self.yields_no_rows(&sel.from)
    }

    /// Runs a subquery in the query's context.
    fn run(&mut self, q: &Query) -> Result<DataFrame> {
        let mut q = q.clone();
        if q.with.is_none() {
            q.with = self.with.clone();
        }
        super::run_sql(self.ctx, q)
    }

    fn scalar(&mut self, q: &Query) -> Result<Expr> {
        let df = self.run(q)?;
        if df.width() != 1 {
            return Err(Error::Syntax("subquery must return only one column".into()));
        }
        let col = df.columns()[0].clone();
        match df.height() {
            0 => Ok(typed_null(col.dtype())),
            1 => literal(col.get(0)?, col.dtype()),
            _ => Err(Error::Data(
                "21000",
                "more than one row returned by a subquery used as an expression".into(),
            )),
        }
    }

    fn any_all(&mut self, left: &Expr, op: &BinaryOperator, q: &Query, all: bool) -> Result<Expr> {
        let df = self.run(q)?;
        if df.width() != 1 {
            return Err(Error::Syntax("subquery has too many columns".into()));
        }
        const MAX: usize = 10_000;
        if df.height() > MAX {
            return Err(Error::Unsupported(format!(
                "ANY/ALL over a subquery of more than {MAX} rows; use IN or a join"
            )));
        }
        let col = df.columns()[0].clone();
        let mut terms = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            terms.push(Expr::BinaryOp {
                left: Box::new(left.clone()),
                op: op.clone(),
                right: Box::new(literal(col.get(i)?, col.dtype())?),
            });
        }
        let joiner = if all { BinaryOperator::And } else { BinaryOperator::Or };
        let empty = Expr::Value(Value::Boolean(all).with_empty_span());
        Ok(terms
            .into_iter()
            .reduce(|a, b| Expr::BinaryOp {
                left: Box::new(a),
                op: joiner.clone(),
                right: Box::new(b),
            })
            .map(|e| Expr::Nested(Box::new(e)))
            .unwrap_or(empty))
    }

    /// A correlated scalar subquery as a LEFT JOIN (see the module docs).
    fn correlated(
        &mut self,
        q: &Query,
        outer: &HashSet<String>,
        grouped: bool,
        joins: &mut Vec<(HashSet<String>, sqlparser::ast::Join)>,
    ) -> Result<Expr> {
        let unsupported = |why: &str| Error::Unsupported(format!("correlated subquery: {why}"));
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return Err(unsupported("only a plain SELECT can refer to the outer query"));
        };
        let plain_group = matches!(&sel.group_by, GroupByExpr::Expressions(v, _) if v.is_empty());
        if q.with.is_some() || sel.distinct.is_some() || !plain_group || sel.having.is_some() {
            return Err(unsupported("WITH, DISTINCT, GROUP BY, HAVING or OFFSET"));
        }
        let limit_one = match &q.limit_clause {
            None => false,
            Some(sqlparser::ast::LimitClause::LimitOffset {
                limit: Some(l),
                offset: None,
                ..
            }) if l.to_string() == "1" => true,
            Some(_) => return Err(unsupported("a LIMIT other than 1")),
        };
        let [item] = sel.projection.as_slice() else {
            return Err(Error::Syntax("subquery must return only one column".into()));
        };
        let (SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }) = item else {
            return Err(unsupported("a wildcard"));
        };
        if !outer_refs(value, outer).is_empty() {
            return Err(unsupported("outer columns in the select list"));
        }
        let mut inner_preds = Vec::new();
        let mut keys: Vec<(Expr, Expr)> = Vec::new();
        let mut outer_conds = Vec::new();
        let parts: Vec<Expr> = sel.selection.iter().flat_map(crate::sql::conjuncts).cloned().collect();
        // `inner = outer.col` lets other conditions name outer.col as inner
        // (psql: `c.oid = a.attcollation AND a.attcollation <> t.typcollation`).
        let equal: Vec<(Expr, Expr)> = parts
            .iter()
            .filter_map(|p| match p {
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } => match (outer_refs(left, outer).is_empty(), outer_refs(right, outer).is_empty()) {
                    (false, true) if is_column(left) && !has_inner_refs(right, outer) => None,
                    (false, true) if is_column(left) => Some(((**left).clone(), (**right).clone())),
                    (true, false) if is_column(right) && has_inner_refs(left, outer) => {
                        Some(((**right).clone(), (**left).clone()))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let parts: Vec<Expr> = parts
            .into_iter()
            .map(|p| {
                let is_key = matches!(&p, Expr::BinaryOp { op: BinaryOperator::Eq, left, right }
                    if equal.iter().any(|(o, i)| (**left == *o && **right == *i) || (**left == *i && **right == *o)));
                if is_key {
                    p
                } else {
                    substitute(p, &equal)
                }
            })
            .collect();
        for p in parts {
            let refs = outer_refs(&p, outer);
            if refs.is_empty() {
                inner_preds.push(p);
                continue;
            }
            if !has_inner_refs(&p, outer) {
                outer_conds.push(p);
                continue;
            }
            match &p {
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } => {
                    let (l_outer, r_outer) = (
                        !outer_refs(left, outer).is_empty(),
                        !outer_refs(right, outer).is_empty(),
                    );
                    match (l_outer, r_outer) {
                        (true, false) if !has_inner_refs(left, outer) => {
                            keys.push(((**right).clone(), (**left).clone()))
                        }
                        (false, true) if !has_inner_refs(right, outer) => {
                            keys.push(((**left).clone(), (**right).clone()))
                        }
                        _ => return Err(unsupported(&format!("the condition {p}"))),
                    }
                }
                _ => {
                    return Err(unsupported(&format!(
                        "the condition {p} (only equalities with the outer row)"
                    )))
                }
            }
        }
        let aggregate = is_aggregate(value);
        let value_expr = if keys.is_empty() {
            // Correlated only by conditions on the outer row.
            let mut inner = q.clone();
            if let SetExpr::Select(s) = inner.body.as_mut() {
                s.selection = and_all(inner_preds);
            }
            self.scalar(&inner)?
        } else {
            let name = format!("__sq{}", self.next);
            self.next += 1;
            let derived = derived_select(q, sel, value, &keys, inner_preds.clone(), aggregate);
            let mut df = self.run(&derived)?;
            let key_names: Vec<String> = (0..keys.len()).map(|i| format!("__k{i}")).collect();
            if !aggregate {
                df = df.drop_nulls(Some(&key_names))?;
                let order: Vec<PlSmallStr> = df
                    .get_column_names()
                    .into_iter()
                    .filter(|n| n.starts_with("__o"))
                    .cloned()
                    .collect();
                if limit_one {
                    if !order.is_empty() {
                        let (desc, nulls_last) = order_spec(q);
                        df = df.sort(
                            order.clone(),
                            SortMultipleOptions::default()
                                .with_order_descending_multi(desc)
                                .with_nulls_last_multi(nulls_last)
                                .with_maintain_order(true),
                        )?;
                    }
                    df = df.unique_stable(Some(&key_names), UniqueKeepStrategy::First, None)?;
                } else if df
                    .unique_stable(Some(&key_names), UniqueKeepStrategy::First, None)?
                    .height()
                    != df.height()
                {
                    return Err(Error::Data(
                        "21000",
                        "more than one row returned by a subquery used as an expression".into(),
                    ));
                }
                df = df.drop_many(order);
            }
            self.ctx.register(&name, df.lazy());
            let qualifiers: HashSet<String> = keys.iter().flat_map(|(_, o)| outer_refs(o, outer)).collect();
            joins.push((qualifiers, join_on_keys(&name, &keys)));
            let v = Expr::CompoundIdentifier(vec![Ident::new(&name), Ident::new("__v")]);
            let empty = if aggregate {
                let mut none = q.clone();
                if let SetExpr::Select(s) = none.body.as_mut() {
                    s.selection = Some(Expr::Value(Value::Boolean(false).with_empty_span()));
                }
                self.scalar(&none)?
            } else {
                typed_null(&DataType::Null)
            };
            if is_null_literal(&empty) {
                v
            } else {
                crate::sql::parse_expr(&format!("CASE WHEN {name}.__m IS NULL THEN {empty} ELSE {v} END"))?
            }
        };
        let mut e = match and_all(outer_conds) {
            Some(c) => crate::sql::parse_expr(&format!("CASE WHEN {c} THEN {value_expr} END"))?,
            None => value_expr,
        };
        if grouped {
            e = crate::sql::parse_expr(&format!("min({e})"))?;
        }
        Ok(e)
    }
}

struct ExprPass<'a, 'b> {
    r: &'a mut Resolver<'b>,
    joins: &'a mut Vec<(HashSet<String>, sqlparser::ast::Join)>,
    grouped: bool,
    /// The FROM clause of the SELECT the expressions belong to, and whether
    /// it is empty (asked once, only when a subquery cannot be answered).
    from: &'a [sqlparser::ast::TableWithJoins],
    outer_empty: &'a mut Option<bool>,
    err: Option<Error>,
}

impl ExprPass<'_, '_> {
    /// A subquery redsql cannot answer is NULL when the outer FROM has no
    /// rows (it would never be evaluated); otherwise its error stands.
    fn unanswerable(&mut self, err: Error) -> Result<Option<Expr>> {
        if !matches!(err, Error::Unsupported(_)) {
            return Err(err);
        }
        let empty = match *self.outer_empty {
            Some(b) => b,
            None => {
                let b = self.r.yields_no_rows(self.from);
                *self.outer_empty = Some(b);
                b
            }
        };
        if empty {
            Ok(Some(typed_null(&DataType::Null)))
        } else {
            Err(err)
        }
    }
}

impl VisitorMut for ExprPass<'_, '_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let all = matches!(e, Expr::AllOp { .. });
        let is_array = array_subquery(e).is_some();
        let result = match e {
            Expr::Subquery(q) => {
                let answer = self.r.query(q).and_then(|()| {
                    let outer = outer_qualifiers(q);
                    if outer.is_empty() {
                        self.r.scalar(q).map(Some)
                    } else {
                        self.r.correlated(q, &outer, self.grouped, self.joins).map(Some)
                    }
                });
                match answer {
                    Err(Error::Unsupported(_) | Error::UndefinedFunction(_)) if self.r.never_yields(q) => {
                        Ok(Some(typed_null(&DataType::Null)))
                    }
                    other => other,
                }
            }
            Expr::Exists { subquery, negated } if !outer_qualifiers(subquery).is_empty() => {
                // EXISTS (...) is (SELECT count(*) ...) > 0.
                let outer = outer_qualifiers(subquery);
                let mut counted = (**subquery).clone();
                if let SetExpr::Select(s) = counted.body.as_mut() {
                    s.projection = vec![SelectItem::UnnamedExpr(
                        crate::sql::parse_expr("count(*)").expect("parses"),
                    )];
                }
                counted.order_by = None;
                counted.limit_clause = None;
                let negated = *negated;
                self.r.query(&mut counted).and_then(|()| {
                    let n = self.r.correlated(&counted, &outer, self.grouped, self.joins)?;
                    let op = if negated { "=" } else { ">" };
                    crate::sql::parse_expr(&format!("coalesce({n}, 0) {op} 0")).map(Some)
                })
            }
            Expr::Exists { subquery, negated } => {
                let mut probe = (**subquery).clone();
                if let Err(err) = self.r.query(&mut probe) {
                    self.err = Some(err);
                    return ControlFlow::Break(());
                }
                self.r.run(&probe).map(|df| {
                    Some(Expr::Value(
                        Value::Boolean((df.height() > 0) != *negated).with_empty_span(),
                    ))
                })
            }
            Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op,
                right,
            } if matches!(right.as_ref(), Expr::Subquery(_)) => {
                let Expr::Subquery(q) = right.as_mut() else {
                    unreachable!("matched above")
                };
                match self.r.query(q) {
                    Err(err) => Err(err),
                    Ok(()) if outer_qualifiers(q).is_empty() => self.r.any_all(left, compare_op, q, all).map(Some),
                    Ok(()) => Err(Error::Unsupported("a correlated subquery in ANY/ALL".into())),
                }
            }
            // Polars answers `x IN (SELECT ...)` itself; functions in the
            // subquery's FROM are computed first, as for any query.
            Expr::InSubquery { subquery, .. } => self.r.query(subquery).map(|()| None),
            Expr::Function(f) if is_array => {
                let sqlparser::ast::FunctionArguments::Subquery(q) = &mut f.args else {
                    unreachable!("array_subquery matched")
                };
                if super::array_subquery::maps_outer_array(q) {
                    super::array_subquery::correlated(q, self.from, |p| self.r.run(p)).map(Some)
                } else if outer_qualifiers(q).is_empty() {
                    self.r
                        .query(q)
                        .and_then(|()| self.r.run(q))
                        .and_then(|df| super::array_subquery::literal_of(&df))
                        .map(Some)
                } else {
                    Err(Error::Unsupported(
                        "a correlated ARRAY(subquery) other than over unnest of the outer row's array".into(),
                    ))
                }
            }
            _ => Ok(None),
        };
        let result = match result {
            Err(err) => self.unanswerable(err),
            ok => ok,
        };
        match result {
            Ok(Some(new)) => *e = new,
            Ok(None) => {}
            Err(err) => {
                self.err = Some(err);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}
