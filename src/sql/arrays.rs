//! PostgreSQL's arrays and set-returning functions in a select list, on the
//! parsed tree, in forms Polars SQL runs:
//!
//! * `unnest(a)` in a select list is Polars' own (it explodes the rows; a
//!   bare column goes in as `coalesce(a, NULL)` so the column itself stays whole);
//!   `generate_subscripts(a, 1)` → `unnest(pg_subscripts(a))`, the positions
//!   1..n exploded alongside. PostgreSQL emits no row for an empty or NULL
//!   array, Polars one NULL row: the SELECT gets `WHERE array_length(a) > 0`.
//! * `information_schema._pg_expandarray(a)` (pgjdbc, Metabase): its fields
//!   `(..).x` / `(..).n` are `unnest(a)` / `unnest(pg_subscripts(a))`; as a
//!   whole select item `AS k` it becomes the two columns `k__x`, `k__n`, and
//!   `(t.k).x` elsewhere reads `t.k__x`.
//! * `t.a[i]` → `CASE WHEN i >= 1 THEN array_get(t.a, i) END` (1-based, NULL outside;
//!   Polars counts negative positions from the end). `int2vector` catalog
//!   columns (`indkey`, `indoption`, ...) count from 0, as in PostgreSQL,
//!   also in `generate_subscripts` (`_pg_expandarray`'s `n` counts from 1).
//! * `array_length(a, 1)`, `array_upper(a, 1)`, `array_lower(a, 1)`,
//!   `cardinality(a)` over list columns; over array literals (as
//!   `current_schemas()` becomes one in `pg_compat`) they and `(ARRAY[..])[i]`
//!   are computed on the tree.
//! * `'{a,"b c",NULL}'::text[]` (an array in its text form) → `ARRAY['a', 'b c', NULL]`;
//!   `x <> ALL (ARRAY[..])` → `x NOT IN (..)` and `x = ANY (ARRAY[..])` →
//!   `x IN (..)`, the same three-valued answer (Polars reads ALL as a min/max):
//!   [`super::array_literals`].
//! * `a || b` where a side is surely an array (`ARRAY[..]`, `ARRAY(SELECT
//!   ..)`, `::text[]`, a function returning one) → `array_cat(a, b)`, which
//!   concatenates, or appends the other side when it is an element
//!   ([`concatenation`], applied by `sql::dialect` after output naming).

use std::ops::ControlFlow;

use sqlparser::ast::{
    AccessExpr, Expr, GroupByExpr, Ident, ObjectNamePart, Query, Select, SelectItem, Subscript, VisitMut, VisitorMut,
};

use super::array_literals::{array_text_literal, in_list};
use super::pg_compat::{function_args, null, number, parse as expr};

/// Apply the rules to every SELECT and expression of a query.
pub fn rewrite(query: &mut Query) {
    struct Rules;
    impl VisitorMut for Rules {
        type Break = ();
        fn pre_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
            select(s);
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Some(new) = rule(e) {
                *e = new;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(query, &mut Rules);
}

fn call_name(e: &Expr) -> Option<String> {
    let Expr::Function(f) = e else { return None };
    let ObjectNamePart::Identifier(last) = f.name.0.last()? else {
        return None;
    };
    Some(last.value.to_lowercase())
}

fn call_args(e: &Expr) -> Vec<Expr> {
    match e {
        Expr::Function(f) => function_args(f),
        _ => Vec::new(),
    }
}

/// `_pg_expandarray(a)` → `a`.
fn expandarray_arg(e: &Expr) -> Option<Expr> {
    let e = match e {
        Expr::Nested(inner) => inner.as_ref(),
        other => other,
    };
    if call_name(e)? != "_pg_expandarray" {
        return None;
    }
    let [a] = call_args(e).try_into().ok()?;
    Some(a)
}

/// `unnest(a)`. A bare column goes through `coalesce`: Polars explodes a
/// column named in `unnest` in place, so `SELECT unnest(a), a` would show
/// the elements twice instead of the elements and the whole array.
fn unnest_values(a: &Expr) -> Expr {
    if matches!(a, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
        expr(&format!("unnest(coalesce({a}, NULL))"))
    } else {
        expr(&format!("unnest({a})"))
    }
}

fn unnest_positions(a: &Expr) -> Expr {
    expr(&format!("unnest(pg_subscripts({a}))"))
}

/// Expand `_pg_expandarray(a) AS k` items, name `generate_subscripts` items
/// as PostgreSQL does, and keep empty arrays from giving rows.
fn select(s: &mut Select) {
    let mut items = Vec::with_capacity(s.projection.len());
    for item in std::mem::take(&mut s.projection) {
        let (e, alias) = match &item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            _ => {
                items.push(item);
                continue;
            }
        };
        if let Some(a) = expandarray_arg(e) {
            let k = alias.unwrap_or_else(|| "_pg_expandarray".into());
            // Plain `unnest(a)`: the expression rules below, run after this,
            // give it its `coalesce` (see `unnest_values`).
            for (field, value) in [("x", expr(&format!("unnest({a})"))), ("n", unnest_positions(&a))] {
                items.push(SelectItem::ExprWithAlias {
                    expr: value,
                    alias: Ident::with_quote('"', format!("{k}__{field}")),
                });
            }
            continue;
        }
        // `s[2]` is named after its array, as PostgreSQL names it.
        if let (None, Expr::CompoundFieldAccess { root, access_chain }) = (&alias, e) {
            // `s[2]`, `t.a[1]` (parsed as `t` then `.a` then `[1]`), `t.a[1][2]`.
            let mut name = match root.as_ref() {
                Expr::Identifier(i) => Some(i),
                Expr::CompoundIdentifier(parts) => parts.last(),
                _ => None,
            };
            let dots = access_chain
                .iter()
                .take_while(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
                .count();
            if let Some(AccessExpr::Dot(Expr::Identifier(i))) = dots.checked_sub(1).map(|d| &access_chain[d]) {
                name = Some(i);
            }
            let rest = &access_chain[dots..];
            let only_subscripts = !rest.is_empty() && rest.iter().all(|a| matches!(a, AccessExpr::Subscript(_)));
            if let (Some(name), true) = (name, only_subscripts) {
                items.push(SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: Ident::with_quote('"', name.value.clone()),
                });
                continue;
            }
        }
        if alias.is_none() && call_name(e).as_deref() == Some("generate_subscripts") {
            items.push(SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: Ident::with_quote('"', "generate_subscripts"),
            });
            continue;
        }
        items.push(item);
    }
    s.projection = items;

    // Arrays the select list unnests (before the expression rules run).
    let grouped = !matches!(&s.group_by, GroupByExpr::Expressions(v, _) if v.is_empty());
    if grouped {
        return;
    }
    let mut arrays: Vec<String> = Vec::new();
    for item in &s.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            collect_unnested(e, &mut arrays);
        }
    }
    if arrays.is_empty() {
        return;
    }
    let any = arrays
        .iter()
        .map(|a| format!("array_length({a}) > 0"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let guard = expr(&format!("({any})"));
    s.selection = Some(match s.selection.take() {
        Some(w) => expr(&format!("({w}) AND {guard}")),
        None => guard,
    });
}

/// The arrays under `unnest(..)`, `generate_subscripts(.., 1)` and
/// `_pg_expandarray(..)` in a select item (not inside subqueries).
fn collect_unnested(e: &Expr, out: &mut Vec<String>) {
    use sqlparser::ast::Visit;
    struct Find<'a>(&'a mut Vec<String>);
    impl sqlparser::ast::Visitor for Find<'_> {
        type Break = ();
        // A subquery has its own select list: the search stops there.
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let name = call_name(e);
            if matches!(
                name.as_deref(),
                Some("unnest" | "generate_subscripts" | "_pg_expandarray")
            ) {
                // unnest(pg_subscripts(a)) is a's positions: a itself is found too.
                if let Some(a) = call_args(e)
                    .first()
                    .filter(|a| call_name(a).as_deref() != Some("pg_subscripts"))
                {
                    let a = a.to_string();
                    if !self.0.contains(&a) {
                        self.0.push(a);
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = e.visit(&mut Find(out));
}

/// The elements of an array literal, under any parentheses.
fn array_elements(e: &Expr) -> Option<&[Expr]> {
    match e {
        Expr::Nested(inner) => array_elements(inner),
        Expr::Array(a) => Some(&a.elem),
        _ => None,
    }
}

/// Operations on an array literal (as `current_schemas()` becomes one)
/// computed on the tree: `(ARRAY[..])[i]` → a CASE over the positions
/// (1-based, NULL outside), `array_upper(ARRAY[..], 1)` / `array_length`
/// → its length, `array_lower(ARRAY[..], 1)` → 1 (NULL when empty).
fn array_literal_op(e: &Expr) -> Option<Expr> {
    match e {
        Expr::CompoundFieldAccess { root, access_chain } => {
            let elems = array_elements(root)?;
            let [AccessExpr::Subscript(Subscript::Index { index })] = access_chain.as_slice() else {
                return None;
            };
            let mut sql = format!("CASE {index}");
            for (i, el) in elems.iter().enumerate() {
                sql.push_str(&format!(" WHEN {} THEN {el}", i + 1));
            }
            sql.push_str(" ELSE NULL END");
            Some(expr(&sql))
        }
        Expr::Function(f) => {
            let [ObjectNamePart::Identifier(name)] = f.name.0.as_slice() else {
                return None;
            };
            let name = name.value.to_lowercase();
            if !matches!(name.as_str(), "array_upper" | "array_length" | "array_lower") {
                return None;
            }
            let a = call_args(e);
            let [array, dim] = a.as_slice() else {
                return None;
            };
            let len = array_elements(array)?.len();
            Some(if dim.to_string() != "1" || len == 0 {
                null()
            } else if name == "array_lower" {
                number(1)
            } else {
                number(len)
            })
        }
        _ => None,
    }
}

/// Bottom-up expression rules.
fn rule(e: &Expr) -> Option<Expr> {
    if let Some(new) = array_literal_op(e) {
        return Some(new);
    }
    match e {
        Expr::Cast {
            expr: inner, data_type, ..
        } => array_text_literal(inner, data_type),
        Expr::AnyOp {
            left,
            compare_op,
            right,
            ..
        } => in_list(left, compare_op, right, false),
        Expr::AllOp {
            left,
            compare_op,
            right,
        } => in_list(left, compare_op, right, true),
        Expr::CompoundFieldAccess { root, access_chain } => field_access(root, access_chain),
        Expr::Function(_) => function(e),
        _ => None,
    }
}

/// `a || b` where a side is surely an array → `array_cat(a, b)`. Applied by
/// `sql::dialect` after output naming, so the column stays `?column?`.
pub fn concatenation(left: &Expr, right: &Expr) -> Option<Expr> {
    (is_array(left) || is_array(right)).then(|| expr(&format!("array_cat({left}, {right})")))
}

/// Whether `e` is surely an array, as written: `ARRAY[..]`, `ARRAY(SELECT
/// ..)`, a cast to an array type or a function that returns one.
fn is_array(e: &Expr) -> bool {
    const RETURNS_ARRAY: &[&str] = &[
        "array",
        "array_agg",
        "array_append",
        "array_cat",
        "array_prepend",
        "current_schemas",
        "parse_ident",
        "pg_array_map",
        "regexp_split_to_array",
        "string_to_array",
    ];
    match e {
        Expr::Nested(inner) => is_array(inner),
        Expr::Array(_) => true,
        Expr::Cast { data_type, .. } => matches!(data_type, sqlparser::ast::DataType::Array(_)),
        Expr::Function(_) => call_name(e).is_some_and(|n| RETURNS_ARRAY.contains(&n.as_str())),
        _ => false,
    }
}

fn function(e: &Expr) -> Option<Expr> {
    let name = call_name(e)?;
    let a = call_args(e);
    let dim_one = |d: &Expr| d.to_string() == "1";
    Some(match (name.as_str(), a.as_slice()) {
        ("unnest", [arr]) if matches!(arr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => unnest_values(arr),
        ("generate_subscripts", [arr, d]) if dim_one(d) && zero_based(arr) => {
            expr(&format!("unnest(pg_subscripts({arr})) - 1"))
        }
        ("generate_subscripts", [arr, d]) if dim_one(d) => unnest_positions(arr),
        ("array_length" | "array_upper", [arr, d]) if dim_one(d) => expr(&format!(
            "CASE WHEN array_length({arr}) > 0 THEN array_length({arr}) END"
        )),
        ("array_lower", [arr, d]) if dim_one(d) => expr(&format!("CASE WHEN array_length({arr}) > 0 THEN 1 END")),
        ("cardinality", [arr]) => expr(&format!("array_length({arr})")),
        _ => return None,
    })
}

fn field_access(root: &Expr, chain: &[AccessExpr]) -> Option<Expr> {
    // (_pg_expandarray(a)).x / .n
    if let (Some(a), [AccessExpr::Dot(Expr::Identifier(f))]) = (expandarray_arg(root), chain) {
        return match f.value.to_lowercase().as_str() {
            "x" => Some(unnest_values(&a)),
            "n" => Some(unnest_positions(&a)),
            _ => None,
        };
    }
    // (t.k).f → t.k__f (a composite expanded by `select` above)
    if let (Expr::Nested(inner), [AccessExpr::Dot(Expr::Identifier(f))]) = (root, chain) {
        let mut parts = match inner.as_ref() {
            Expr::Identifier(i) => vec![i.clone()],
            Expr::CompoundIdentifier(p) => p.clone(),
            _ => return None,
        };
        let last = parts.pop()?;
        parts.push(Ident::with_quote(
            '"',
            format!("{}__{}", last.value, f.value.to_lowercase()),
        ));
        return Some(Expr::CompoundIdentifier(parts));
    }
    // t.a[i] (parsed as t, .a, [i]) and a[i]: one subscript after names.
    let (Some(AccessExpr::Subscript(Subscript::Index { index })), names) = (chain.last(), &chain[..chain.len() - 1])
    else {
        return None;
    };
    let mut parts: Vec<Ident> = match root {
        Expr::Identifier(i) => vec![i.clone()],
        Expr::CompoundIdentifier(p) => p.clone(),
        _ if names.is_empty() => Vec::new(),
        _ => return None,
    };
    for n in names {
        let AccessExpr::Dot(Expr::Identifier(i)) = n else {
            return None;
        };
        parts.push(i.clone());
    }
    let array = match parts.as_slice() {
        [] if matches!(root, Expr::Subquery(_) | Expr::Nested(_)) => root.clone(),
        [] => Expr::Nested(Box::new(root.clone())),
        [one] => Expr::Identifier(one.clone()),
        _ => Expr::CompoundIdentifier(parts.clone()),
    };
    let (low, position) = if zero_based(&array) {
        ("0", format!("({index}) + 1"))
    } else {
        ("1", index.to_string())
    };
    // array_get, not `a[i]`: the array may be a subquery that is later
    // replaced by a joined column (`__sq0.__v`), which Polars would read as
    // a field access on `__sq0`.
    Some(expr(&format!(
        "CASE WHEN ({index}) >= {low} THEN array_get({array}, {position}) END"
    )))
}

/// Whether `a` names an `int2vector` catalog column (subscripts from 0).
fn zero_based(a: &Expr) -> bool {
    let last = match a {
        Expr::Identifier(i) => i,
        Expr::CompoundIdentifier(p) => match p.last() {
            Some(i) => i,
            None => return false,
        },
        _ => return false,
    };
    crate::catalog::pg::vector_type_oid(&last.value).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str) -> String {
        let mut q = crate::sql::parse_query(sql);
        rewrite(&mut q);
        q.to_string()
    }

    /// One expression through pg_compat and then these rules, printed back.
    fn both(sql: &str) -> String {
        let mut stmts = crate::sql::parse(&format!("SELECT {sql} AS e")).unwrap();
        let sqlparser::ast::Statement::Query(q) = &mut stmts[0] else {
            panic!("not a query")
        };
        crate::sql::pg_compat::rewrite(q);
        rewrite(q);
        q.to_string()
            .trim_start_matches("SELECT ")
            .trim_end_matches(" AS e")
            .to_string()
    }

    #[test]
    fn search_path_arrays_and_their_subscripts() {
        assert_eq!(
            both("(pg_catalog.current_schemas(true))[1]"),
            "CASE 1 WHEN 1 THEN 'pg_catalog' WHEN 2 THEN 'public' ELSE NULL END"
        );
        assert_eq!(both("array_upper(current_schemas(false), 1)"), "1");
        assert_eq!(both("array_lower(current_schemas(true), 1)"), "1");
        assert_eq!(both("array_length(ARRAY['a', 'b', 'c'], 1)"), "3");
        assert_eq!(both("array_upper(ARRAY['a'], 2)"), "NULL");
        assert_eq!(
            both("(current_schemas(false))[s.r]"),
            "CASE s.r WHEN 1 THEN 'public' ELSE NULL END"
        );
        // Other functions over an array literal are left alone.
        assert_eq!(both("array_to_string(ARRAY['a'], 1)"), "array_to_string(ARRAY['a'], 1)");
    }

    #[test]
    fn arrays_in_text_form_and_all_any_over_them() {
        assert_eq!(
            both(r#"'{a,"b c",NULL,"NULL", d\,e}'::text[]"#),
            "ARRAY['a', 'b c', NULL, 'NULL', 'd,e']"
        );
        assert_eq!(both("'{1, 2}'::int[]"), "ARRAY[CAST('1' AS INT), CAST('2' AS INT)]");
        assert_eq!(both("'{}'::text[]"), "ARRAY[]");
        // Nested or malformed text stays as it is (Polars then says why).
        assert_eq!(both("'{{1},{2}}'::int[]"), "'{{1},{2}}'::INT[]");
        assert_eq!(both("w <> ALL ('{a,b}'::text[])"), "w NOT IN ('a', 'b')");
        assert_eq!(both("w = ANY (ARRAY['a'])"), "w IN ('a')");
        assert_eq!(both("w <> ALL ('{}'::text[])"), "true");
        assert_eq!(both("w > ALL (ARRAY[1])"), "w > ALL(ARRAY[1])");
    }

    #[test]
    fn expandarray_fields_and_composites() {
        assert_eq!(
            rw("SELECT (information_schema._pg_expandarray(i.indkey)).n AS pos, _pg_expandarray(i.indkey) AS keys FROM pg_index AS i"),
            "SELECT unnest(pg_subscripts(i.indkey)) AS pos, unnest(coalesce(i.indkey, NULL)) AS \"keys__x\", \
             unnest(pg_subscripts(i.indkey)) AS \"keys__n\" FROM pg_index AS i WHERE (array_length(i.indkey) > 0)"
        );
        assert_eq!(
            rw("SELECT s[2], t.a[1] FROM t"),
            "SELECT CASE WHEN (2) >= 1 THEN array_get(s, 2) END AS \"s\", \
             CASE WHEN (1) >= 1 THEN array_get(t.a, 1) END AS \"a\" FROM t"
        );
        assert_eq!(
            rw("SELECT r.a FROM r WHERE r.a = (r.keys).x"),
            "SELECT r.a FROM r WHERE r.a = r.\"keys__x\""
        );
    }

    #[test]
    fn generate_subscripts_in_a_select_list() {
        assert_eq!(
            rw("SELECT unnest(t.a) AS v, generate_subscripts(t.a, 1) FROM t WHERE t.k = 1"),
            "SELECT unnest(coalesce(t.a, NULL)) AS v, unnest(pg_subscripts(t.a)) AS \"generate_subscripts\" FROM t \
             WHERE (t.k = 1) AND (array_length(t.a) > 0)"
        );
        // Grouped selects are left as written.
        assert!(!rw("SELECT t.k, unnest(t.a) FROM t GROUP BY t.k, t.a").contains("array_length"));
    }

    #[test]
    fn subscripts_one_based_or_zero_based() {
        assert_eq!(
            rw("SELECT con.conkey[pos.n] FROM con"),
            "SELECT CASE WHEN (pos.n) >= 1 THEN array_get(con.conkey, pos.n) END AS \"conkey\" FROM con"
        );
        assert_eq!(
            rw("SELECT i.indoption[p - 1] FROM i"),
            "SELECT CASE WHEN (p - 1) >= 0 THEN array_get(i.indoption, (p - 1) + 1) END AS \"indoption\" FROM i"
        );
        assert_eq!(
            rw("SELECT a[2] FROM t"),
            "SELECT CASE WHEN (2) >= 1 THEN array_get(a, 2) END AS \"a\" FROM t"
        );
        assert_eq!(
            rw("SELECT (SELECT x.l FROM x WHERE x.k = t.k)[t.i] FROM t"),
            "SELECT CASE WHEN (t.i) >= 1 THEN array_get((SELECT x.l FROM x WHERE x.k = t.k), t.i) END FROM t"
        );
        // int2vector positions start at 0 in generate_subscripts too.
        assert!(rw("SELECT generate_subscripts(i.indkey, 1) FROM i").contains("unnest(pg_subscripts(i.indkey)) - 1"));
    }

    #[test]
    fn array_bounds_over_columns() {
        assert_eq!(
            rw("SELECT array_upper(t.a, 1), array_lower(t.a, 1), cardinality(t.a) FROM t"),
            "SELECT CASE WHEN array_length(t.a) > 0 THEN array_length(t.a) END, \
             CASE WHEN array_length(t.a) > 0 THEN 1 END, array_length(t.a) FROM t"
        );
    }

    #[test]
    fn concatenation_of_arrays() {
        let cat = |sql: &str| {
            let Expr::BinaryOp { left, right, .. } = crate::sql::parse_expr(sql).unwrap() else {
                panic!("not a binary operation")
            };
            concatenation(&left, &right).map(|e| e.to_string())
        };
        assert_eq!(
            cat("c.o || ARRAY(SELECT 'toast.' || x FROM unnest(t.o) x)").as_deref(),
            Some("array_cat(c.o, ARRAY(SELECT 'toast.' || x FROM UNNEST(t.o) x))")
        );
        assert_eq!(cat("ARRAY[1] || 2").as_deref(), Some("array_cat(ARRAY[1], 2)"));
        assert_eq!(cat("'a' || x::text[]").as_deref(), Some("array_cat('a', x::TEXT[])"));
        assert_eq!(cat("'a' || 'b'"), None);
        assert_eq!(
            cat("a || string_to_array(b, ',')").as_deref(),
            Some("array_cat(a, string_to_array(b, ','))")
        );
    }
}
