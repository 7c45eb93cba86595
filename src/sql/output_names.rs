//! Output column names as PostgreSQL gives them: `count`, `?column?`,
//! `version`, duplicates allowed (made unique internally for Polars and
//! renamed back on the wire), later UNION branches named like the first.

use std::collections::{HashMap, HashSet};

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Ident, Query, SelectItem, SetExpr, VisitMut, VisitorMut};

/// The output name PostgreSQL gives an unaliased select item, when Polars
/// would name it differently.
fn pg_output_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => None,
        Expr::Function(f) => {
            let name = f.name.0.last()?.as_ident()?.value.to_lowercase();
            Some(name)
        }
        Expr::Nested(inner) => pg_output_name(inner),
        Expr::Cast { expr, .. } => match expr.as_ref() {
            Expr::Identifier(i) => Some(i.value.clone()),
            Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
            other => pg_output_name(other),
        },
        Expr::Case { .. } => Some("case".into()),
        // A scalar subquery is named by its one output column.
        Expr::Subquery(q) => match q.body.as_ref() {
            SetExpr::Select(s) => match s.projection.as_slice() {
                [SelectItem::ExprWithAlias { alias, .. }] => Some(alias.value.clone()),
                [SelectItem::UnnamedExpr(e)] => expr_base_name(e),
                _ => Some("?column?".into()),
            },
            _ => Some("?column?".into()),
        },
        Expr::Exists { .. } => Some("exists".into()),
        Expr::Extract { .. } => Some("extract".into()),
        _ => Some("?column?".into()),
    }
}

fn expr_base_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
        other => pg_output_name(other),
    }
}

/// Give the top-level select's unaliased items PostgreSQL's names, and make
/// duplicate names unique internally (PostgreSQL allows them, Polars does not).
pub fn name_outputs(query: &mut Query) -> HashMap<String, String> {
    let mut renames = HashMap::new();
    let mut body = query.body.as_mut();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_mut();
    }
    let SetExpr::Select(select) = body else { return renames };
    let mut used: HashSet<String> = HashSet::new();
    // `SELECT n.oid, n.*`: a wildcard's columns are only known to Polars, so
    // the other items get internal names (PostgreSQL allows the duplicate).
    let wildcard = select
        .projection
        .iter()
        .any(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)));
    for (i, item) in select.projection.iter_mut().enumerate() {
        let (expr, current) = match item {
            SelectItem::UnnamedExpr(e) => {
                let name = expr_base_name(e);
                (e.clone(), name)
            }
            SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), Some(alias.value.clone())),
            _ => continue,
        };
        let Some(name) = current else { continue };
        let needs_alias = matches!(item, SelectItem::UnnamedExpr(_)) && pg_output_name(&expr).is_some();
        let unique = if used.insert(name.clone()) && !wildcard {
            name.clone()
        } else {
            let internal = format!("{name}\u{1}{i}");
            renames.insert(internal.clone(), name.clone());
            internal
        };
        if needs_alias || unique != name {
            *item = SelectItem::ExprWithAlias {
                expr,
                alias: Ident::with_quote('"', unique),
            };
        }
    }
    // Every set operation's later branches, the query's own and those inside
    // it (a UNION in FROM, as pgjdbc joins its `(SELECT 16384 AS oid, 1 AS
    // attnum UNION ALL SELECT 16384, 2) vals`).
    struct Nested;
    impl VisitorMut for Nested {
        type Break = ();
        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            if let Some(names) = leftmost_names(&q.body) {
                name_other_branches(q.body.as_mut(), &names, true);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(query, &mut Nested);
    renames
}

/// The output names of a set operation's first SELECT (None for a plain
/// SELECT, or one with a wildcard).
fn leftmost_names(body: &SetExpr) -> Option<Vec<Option<String>>> {
    let SetExpr::SetOperation { left, .. } = body else {
        return None;
    };
    let mut first = left.as_ref();
    loop {
        match first {
            SetExpr::SetOperation { left, .. } => first = left.as_ref(),
            SetExpr::Query(q) => first = q.body.as_ref(),
            _ => break,
        }
    }
    let SetExpr::Select(select) = first else { return None };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some(expr_base_name(e)),
            SelectItem::ExprWithAlias { alias, .. } => Some(Some(alias.value.clone())),
            _ => None,
        })
        .collect()
}

/// The later SELECTs of a UNION/INTERSECT/EXCEPT take the first one's
/// output names (PostgreSQL names the result after the first branch; Polars
/// wants each branch's names unique: `SELECT a, NULL, NULL UNION ...`).
fn name_other_branches(body: &mut SetExpr, names: &[Option<String>], leftmost: bool) {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            name_other_branches(left, names, leftmost);
            name_other_branches(right, names, false);
        }
        SetExpr::Query(q) => name_other_branches(q.body.as_mut(), names, leftmost),
        SetExpr::Select(select) if !leftmost => {
            if select
                .projection
                .iter()
                .any(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)))
            {
                return;
            }
            for (item, name) in select.projection.iter_mut().zip(names) {
                let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else {
                    continue;
                };
                if let Some(name) = name {
                    *item = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: Ident::with_quote('"', name.clone()),
                    };
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(sql: &str) -> String {
        let mut q = crate::sql::parse_query(sql);
        name_outputs(&mut q);
        q.to_string()
    }

    #[test]
    fn later_union_branches_take_the_first_ones_names() {
        assert_eq!(
            named("SELECT a, 1 AS n FROM t UNION ALL SELECT b, 2"),
            "SELECT a, 1 AS n FROM t UNION ALL SELECT b AS \"a\", 2 AS \"n\""
        );
        // Also inside FROM (pgjdbc's ResultSetMetaData lookup).
        assert_eq!(
            named("SELECT c.x FROM c JOIN (SELECT 1 AS oid, 1 AS attnum UNION ALL SELECT 1, 2) vals ON c.oid = vals.oid"),
            "SELECT c.x FROM c JOIN (SELECT 1 AS oid, 1 AS attnum UNION ALL SELECT 1 AS \"oid\", 2 AS \"attnum\") vals \
             ON c.oid = vals.oid"
        );
    }
}
