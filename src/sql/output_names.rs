//! Output column names as PostgreSQL gives them: `count`, `?column?`,
//! `version`, duplicates allowed (made unique internally for Polars and
//! renamed back on the wire), later UNION branches named like the first.

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{Expr, Ident, Query, SelectItem, SetExpr};

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
    if !wildcard {
        let names: Vec<Option<String>> = select
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(e) => expr_base_name(e),
                SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                _ => None,
            })
            .collect();
        name_other_branches(query.body.as_mut(), &names, true);
    }
    renames
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
