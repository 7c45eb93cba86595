//! Named windows (`count(*) OVER w ... WINDOW w AS (ORDER BY id)`) are
//! written inline first (Polars SQL ignored their ORDER BY for `count(*)`).
//!
//! Window functions over a grouped query (`sum(count(*)) OVER ()`, `rank()
//! OVER (ORDER BY count(*))`): PostgreSQL computes the groups first and the
//! windows over the grouped rows; Polars SQL evaluates such a window per
//! group (a wrong share-of-total) or refuses it. The SELECT is split in two:
//!
//! ```sql
//! SELECT status, count(*) AS n, sum(count(*)) OVER () AS total FROM t GROUP BY status
//! -- becomes
//! SELECT __g0 AS status, __a0 AS n, sum(__a0) OVER () AS total
//! FROM (SELECT status AS __g0, count(*) AS __a0 FROM t GROUP BY status) AS __grouped
//! ```
//!
//! The inner SELECT keeps FROM, WHERE, GROUP BY and HAVING; the outer one the
//! select list, DISTINCT, ORDER BY and LIMIT, with each aggregate and each
//! grouping expression read from the inner one.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, GroupByExpr, Ident, NamedWindowDefinition, NamedWindowExpr, OrderByKind, Query, Select, SelectItem, SetExpr,
    Visit, VisitMut, Visitor, VisitorMut, WindowSpec, WindowType,
};

use super::outside_subqueries;
use crate::error::{Error, Result};
use crate::exec::subquery_sql::AGGREGATES;

/// A window function in `e`, not counting those of its subqueries (which
/// the rewrite handles when it visits them).
fn is_window(e: &Expr) -> bool {
    outside_subqueries(e, |e| matches!(e, Expr::Function(f) if f.over.is_some()))
}

fn is_aggregate_call(e: &Expr) -> bool {
    matches!(e, Expr::Function(f) if f.over.is_none()
        && AGGREGATES.contains(&f.name.to_string().to_lowercase().as_str()))
}

/// `OVER w` with `WINDOW w AS (spec)` → `OVER (spec)`: Polars SQL counted
/// `count(*) OVER w` over the whole partition, ignoring the window's ORDER BY.
fn inline_named_windows(sel: &mut Select) {
    if sel.named_window.is_empty() {
        return;
    }
    let specs: Vec<(String, WindowSpec)> = sel
        .named_window
        .iter()
        .filter_map(|NamedWindowDefinition(name, e)| match e {
            NamedWindowExpr::WindowSpec(spec) => Some((name.value.clone(), spec.clone())),
            NamedWindowExpr::NamedWindow(_) => None,
        })
        .collect();
    if specs.len() != sel.named_window.len() {
        return;
    }
    struct Inline<'a>(&'a [(String, WindowSpec)], bool);
    impl VisitorMut for Inline<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e {
                if let Some(WindowType::NamedWindow(name)) = &f.over {
                    match self.0.iter().find(|(n, _)| *n == name.value) {
                        Some((_, spec)) => f.over = Some(WindowType::WindowSpec(spec.clone())),
                        None => self.1 = false,
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut inline = Inline(&specs, true);
    let mut projection = sel.projection.clone();
    let _ = VisitMut::visit(&mut projection, &mut inline);
    if inline.1 {
        sel.projection = projection;
        sel.named_window.clear();
    }
}

/// Inline named windows; split the query's SELECT when it groups and has a
/// window function.
/// PostgreSQL's rule (42803): an aggregate cannot take a window function
/// (`max(row_number() OVER ())`); window functions go over aggregates, not
/// inside them. Subqueries are checked when the rewrite visits them.
pub fn check(q: &Query) -> Result<()> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Ok(());
    };
    let window = |e: &Expr| matches!(e, Expr::Function(f) if f.over.is_some());
    let nested =
        |e: &Expr| matches!(e, Expr::Function(f) if is_aggregate_call(e) && outside_subqueries(&f.args, window));
    if outside_subqueries(&sel.projection, nested) || outside_subqueries(&sel.having, nested) {
        return Err(Error::Grouping(
            "aggregate function calls cannot contain window function calls".into(),
        ));
    }
    Ok(())
}

pub fn rewrite(q: &mut Query) {
    let SetExpr::Select(sel) = q.body.as_mut() else { return };
    inline_named_windows(sel);
    let groups = match &sel.group_by {
        GroupByExpr::Expressions(v, m) if m.is_empty() => v.clone(),
        _ => return,
    };
    // `GROUP BY 1`: the first select item's expression.
    let mut groups = groups;
    for g in groups.iter_mut() {
        if let Expr::Value(v) = g {
            let sqlparser::ast::Value::Number(n, _) = &v.value else {
                return;
            };
            let Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = n
                .parse::<usize>()
                .ok()
                .and_then(|n| sel.projection.get(n.checked_sub(1)?))
            else {
                return;
            };
            *g = e.clone();
        }
    }
    let items: Vec<&Expr> = sel
        .projection
        .iter()
        .filter_map(|i| match i {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
        .collect();
    if items.len() != sel.projection.len() || !items.iter().any(|e| is_window(e)) {
        return;
    }
    if groups.is_empty() && !items.iter().any(|e| crate::exec::subquery_sql::is_aggregate(e)) {
        return;
    }
    // Every aggregate outside window functions' OVER-less calls, in order.
    struct Collect(Vec<Expr>);
    impl Visitor for Collect {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if is_aggregate_call(e) && !self.0.contains(e) {
                self.0.push(e.clone());
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            ControlFlow::Break(()) // not into subqueries
        }
    }
    let mut aggs = Collect(Vec::new());
    let _ = sel.projection.visit(&mut aggs);
    if let Some(ob) = &q.order_by {
        let _ = ob.visit(&mut aggs);
    }
    let aggs = aggs.0;
    struct Replace<'a> {
        groups: &'a [Expr],
        aggs: &'a [Expr],
    }
    impl VisitorMut for Replace<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Some(i) = self.groups.iter().position(|g| g == e) {
                *e = Expr::Identifier(Ident::new(format!("__g{i}")));
            } else if let Some(i) = self.aggs.iter().position(|a| a == e) {
                *e = Expr::Identifier(Ident::new(format!("__a{i}")));
            }
            ControlFlow::Continue(())
        }
    }
    let mut inner: Select = (**sel).clone();
    inner.projection = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g, format!("__g{i}")))
        .chain(aggs.iter().enumerate().map(|(i, a)| (a, format!("__a{i}"))))
        .map(|(e, n)| SelectItem::ExprWithAlias {
            expr: e.clone(),
            alias: Ident::new(n),
        })
        .collect();
    inner.distinct = None;
    let mut replace = Replace {
        groups: &groups,
        aggs: &aggs,
    };
    for item in sel.projection.iter_mut() {
        // Keep the column's name: `status` read as `__g0` is still `status`.
        if let SelectItem::UnnamedExpr(e) = item {
            let name = match e {
                Expr::Identifier(i) => Some(i.value.clone()),
                Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
                _ => None,
            };
            if let Some(name) = name {
                *item = SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: Ident::with_quote('"', name),
                };
            }
        }
        let _ = VisitMut::visit(item, &mut replace);
    }
    if let Some(ob) = &mut q.order_by {
        if let OrderByKind::Expressions(exprs) = &mut ob.kind {
            for o in exprs {
                let _ = VisitMut::visit(&mut o.expr, &mut replace);
            }
        }
    }
    let inner_query = Query {
        with: None,
        body: Box::new(SetExpr::Select(Box::new(inner))),
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: vec![],
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: vec![],
    };
    let derived = sqlparser::ast::TableFactor::Derived {
        lateral: false,
        subquery: Box::new(inner_query),
        alias: Some(sqlparser::ast::TableAlias {
            explicit: true,
            name: Ident::new("__grouped"),
            columns: vec![],
            at: None,
        }),
        sample: None,
    };
    sel.from = vec![sqlparser::ast::TableWithJoins {
        relation: derived,
        joins: vec![],
    }];
    sel.selection = None;
    sel.group_by = GroupByExpr::Expressions(vec![], vec![]);
    sel.having = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str) -> String {
        let mut q = crate::sql::parse_query(sql);
        rewrite(&mut q);
        q.to_string()
    }

    #[test]
    fn windows_over_groups_read_a_grouped_subquery() {
        assert_eq!(
            rw("SELECT status, count(*) AS n, sum(count(*)) OVER () AS total FROM t WHERE x > 1 GROUP BY status ORDER BY status"),
            "SELECT __g0 AS \"status\", __a0 AS n, sum(__a0) OVER () AS total FROM \
             (SELECT status AS __g0, count(*) AS __a0 FROM t WHERE x > 1 GROUP BY status) AS __grouped ORDER BY __g0"
        );
        assert_eq!(
            rw("SELECT c, count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS r FROM t GROUP BY c ORDER BY n DESC LIMIT 3"),
            "SELECT __g0 AS \"c\", __a0 AS n, rank() OVER (ORDER BY __a0 DESC) AS r FROM \
             (SELECT c AS __g0, count(*) AS __a0 FROM t GROUP BY c) AS __grouped ORDER BY n DESC LIMIT 3"
        );
        assert_eq!(
            rw("SELECT c, count(*) AS n, sum(count(*)) OVER () AS s FROM t GROUP BY 1"),
            "SELECT __g0 AS \"c\", __a0 AS n, sum(__a0) OVER () AS s FROM \
             (SELECT c AS __g0, count(*) AS __a0 FROM t GROUP BY 1) AS __grouped"
        );
        assert_eq!(
            rw("SELECT id, count(*) OVER w AS c FROM t WINDOW w AS (ORDER BY id) ORDER BY id"),
            "SELECT id, count(*) OVER (ORDER BY id) AS c FROM t ORDER BY id"
        );
        // No window, or no grouping: unchanged.
        for sql in [
            "SELECT c, count(*) FROM t GROUP BY c",
            "SELECT a, rank() OVER (ORDER BY a) FROM t",
        ] {
            assert_eq!(rw(sql), sql);
        }
    }

    /// Found by the SQL fuzzer: each of these once rewrote its own output
    /// without end, until the server ran out of memory.
    #[test]
    fn windows_inside_aggregates_or_subqueries_end() {
        let rewritten = |sql: &str| {
            let mut q = crate::sql::parse_query(sql);
            crate::sql::dialect::rewrite(&mut q).map(|()| q.to_string())
        };
        let e = rewritten("SELECT max(row_number() OVER ()) FROM t").unwrap_err();
        assert_eq!(e.sqlstate(), "42803");
        // A window in a scalar subquery inside an aggregate is fine (as in PostgreSQL).
        let sql = "SELECT sum((SELECT count(*) OVER () FROM r LIMIT 1)) FROM t";
        assert!(rewritten(sql).unwrap().contains("count(*) OVER ()"));
    }
}
