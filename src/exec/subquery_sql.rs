//! The SQL pieces `subquery` builds: literals of computed values, the
//! per-key table of a correlated subquery and the join to it.

use std::collections::HashSet;
use std::ops::ControlFlow;

use polars::prelude::*;
use sqlparser::ast::{
    Expr, GroupByExpr, Ident, Join, OrderByKind, Query, Select, SelectItem, SetExpr, TableFactor, Value, Visit,
    VisitMut, Visitor, VisitorMut,
};

use crate::error::{Error, Result};
pub use crate::sql::joins::and_all;

pub const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "median",
    "first",
    "last",
    "quantile_cont",
    "quantile_disc",
    "corr",
    "covar_pop",
    "covar_samp",
];

/// Whether `e` computes an aggregate (outside window functions and
/// subqueries: `(SELECT count(*) FROM t WHERE ...)` does not group the
/// outer query).
pub fn is_aggregate(e: &Expr) -> bool {
    crate::sql::outside_subqueries(e, |e| {
        matches!(e, Expr::Function(f) if f.over.is_none()
            && AGGREGATES.contains(&f.name.to_string().to_lowercase().as_str()))
    })
}

/// The qualifiers a relation defines.
pub fn qualifiers_of(f: &TableFactor) -> Vec<String> {
    crate::sql::joins::qualifier(f).into_iter().collect()
}

/// The SQL type redsql writes for a Polars type, where it has one.
pub fn sql_type(dt: &DataType) -> Option<&'static str> {
    Some(match dt {
        d if d.is_integer() => "BIGINT",
        d if d.is_float() => "DOUBLE PRECISION",
        DataType::String => "TEXT",
        DataType::Boolean => "BOOLEAN",
        DataType::Date => "DATE",
        DataType::Datetime(..) => "TIMESTAMP",
        _ => return None,
    })
}

/// NULL, typed as `dt` where redsql has the type.
pub fn typed_null(dt: &DataType) -> Expr {
    let null = Expr::Value(Value::Null.with_empty_span());
    match sql_type(dt).and_then(|t| crate::sql::parse_expr(&format!("CAST(NULL AS {t})")).ok()) {
        Some(e) => e,
        None => null,
    }
}

/// Whether `e` is a [`typed_null`] (NULL, or NULL cast to a type).
pub fn is_null_literal(e: &Expr) -> bool {
    match e {
        Expr::Value(v) => v.value == Value::Null,
        Expr::Cast { expr, .. } => is_null_literal(expr),
        _ => false,
    }
}

fn string(s: String) -> Expr {
    Expr::Value(Value::SingleQuotedString(s).with_empty_span())
}

/// A computed value as a SQL literal of its type.
pub fn literal(v: AnyValue<'_>, dt: &DataType) -> Result<Expr> {
    let number = |s: String| Expr::Value(Value::Number(s, false).with_empty_span());
    let float = |f: f64| -> Result<Expr> {
        if f.is_finite() && !format!("{f:?}").contains('e') {
            Ok(number(format!("{f:?}")))
        } else {
            crate::sql::parse_expr(&format!("CAST('{f:?}' AS DOUBLE PRECISION)"))
        }
    };
    Ok(match v {
        AnyValue::Null => typed_null(dt),
        AnyValue::Boolean(b) => Expr::Value(Value::Boolean(b).with_empty_span()),
        AnyValue::Int8(n) => number(n.to_string()),
        AnyValue::Int16(n) => number(n.to_string()),
        AnyValue::Int32(n) => number(n.to_string()),
        AnyValue::Int64(n) => number(n.to_string()),
        AnyValue::UInt8(n) => number(n.to_string()),
        AnyValue::UInt16(n) => number(n.to_string()),
        AnyValue::UInt32(n) => number(n.to_string()),
        AnyValue::UInt64(n) => number(n.to_string()),
        AnyValue::Float32(f) => float(f as f64)?,
        AnyValue::Float64(f) => float(f)?,
        AnyValue::String(s) => string(s.to_string()),
        AnyValue::StringOwned(s) => string(s.to_string()),
        AnyValue::Date(d) => {
            let day = crate::catalog::types::days_to_date(d)
                .ok_or_else(|| Error::Data("22008", "date out of range".into()))?;
            crate::sql::parse_expr(&format!("CAST('{day}' AS DATE)"))?
        }
        AnyValue::Datetime(n, unit, _) => {
            let us = match unit {
                TimeUnit::Nanoseconds => n / 1000,
                TimeUnit::Microseconds => n,
                TimeUnit::Milliseconds => n * 1000,
            };
            let t = chrono::DateTime::from_timestamp_micros(us)
                .ok_or_else(|| Error::Data("22008", "timestamp out of range".into()))?;
            crate::sql::dialect::timestamp_literal(t.naive_utc())
        }
        other => {
            return Err(Error::Unsupported(format!(
                "a subquery value of type {} used as an expression",
                other.dtype()
            )))
        }
    })
}

fn alias(expr: Expr, name: &str) -> SelectItem {
    SelectItem::ExprWithAlias {
        expr,
        alias: Ident::with_quote('"', name),
    }
}

fn order_exprs(q: &Query) -> Vec<sqlparser::ast::OrderByExpr> {
    match q.order_by.as_ref().map(|o| &o.kind) {
        Some(OrderByKind::Expressions(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// Per ORDER BY item: descending, and whether NULLs go last (PostgreSQL's
/// default: last ascending, first descending).
pub fn order_spec(q: &Query) -> (Vec<bool>, Vec<bool>) {
    order_exprs(q)
        .iter()
        .map(|o| {
            let desc = o.options.asc == Some(false);
            (desc, o.options.nulls_first.map_or(!desc, |first| !first))
        })
        .unzip()
}

/// `SELECT inner_key AS __k0.., value AS __v, true AS __m [, order AS __o0..]
/// FROM ... WHERE inner_preds [GROUP BY inner_keys]`.
pub fn derived_select(
    q: &Query,
    sel: &Select,
    value: &Expr,
    keys: &[(Expr, Expr)],
    inner_preds: Vec<Expr>,
    aggregate: bool,
) -> Query {
    let mut s = sel.clone();
    let mut items: Vec<SelectItem> = keys
        .iter()
        .enumerate()
        .map(|(i, (inner, _))| alias(inner.clone(), &format!("__k{i}")))
        .collect();
    items.push(alias(value.clone(), "__v"));
    items.push(alias(Expr::Value(Value::Boolean(true).with_empty_span()), "__m"));
    if !aggregate {
        for (j, o) in order_exprs(q).into_iter().enumerate() {
            items.push(alias(o.expr, &format!("__o{j}")));
        }
    }
    s.projection = items;
    s.selection = and_all(inner_preds);
    if aggregate {
        s.group_by = GroupByExpr::Expressions(keys.iter().map(|(inner, _)| inner.clone()).collect(), vec![]);
    }
    Query {
        body: Box::new(SetExpr::Select(Box::new(s))),
        order_by: None,
        limit_clause: None,
        ..q.clone()
    }
}

/// `LEFT JOIN name ON outer0 = name.__k0 AND ...` (Polars SQL reads an ON
/// equality as left-table column = right-table column).
pub fn join_on_keys(name: &str, keys: &[(Expr, Expr)]) -> Join {
    let cond: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, (_, outer))| format!("{outer} = {name}.__k{i}"))
        .collect();
    let sql = format!("SELECT * FROM x LEFT JOIN {name} ON {}", cond.join(" AND "));
    match crate::sql::parse(&sql).ok().and_then(|mut v| v.pop()) {
        Some(sqlparser::ast::Statement::Query(q)) => match *q.body {
            SetExpr::Select(mut s) => s.from.remove(0).joins.remove(0),
            _ => unreachable!("a SELECT"),
        },
        _ => unreachable!("the join parses"),
    }
}

/// `SELECT 1 FROM <from> LIMIT 1`: whether a FROM clause has rows.
pub fn probe_rows(from: &[sqlparser::ast::TableWithJoins]) -> Option<Query> {
    if from.is_empty() {
        return None;
    }
    let list: Vec<String> = from.iter().map(|f| f.to_string()).collect();
    match crate::sql::parse(&format!("SELECT 1 FROM {} LIMIT 1", list.join(", ")))
        .ok()?
        .pop()?
    {
        sqlparser::ast::Statement::Query(q) => Some(*q),
        _ => None,
    }
}

pub fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::CompoundIdentifier(p) if p.len() == 2)
}

/// `e` with each outer column of `equal` replaced by its inner equal.
pub fn substitute(mut e: Expr, equal: &[(Expr, Expr)]) -> Expr {
    struct Sub<'a>(&'a [(Expr, Expr)]);
    impl VisitorMut for Sub<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Some((_, inner)) = self.0.iter().find(|(outer, _)| outer == e) {
                *e = inner.clone();
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(&mut e, &mut Sub(equal));
    e
}

/// Qualifiers of `e`'s columns that are not the subquery's own relations.
pub fn outer_refs(e: &Expr, outer: &HashSet<String>) -> HashSet<String> {
    let mut found = HashSet::new();
    let _ = e.visit(&mut CollectQualified(&mut found));
    found.retain(|q| outer.contains(q));
    found
}

pub fn has_inner_refs(e: &Expr, outer: &HashSet<String>) -> bool {
    struct Inner<'a>(&'a HashSet<String>, bool);
    impl Visitor for Inner<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::Identifier(_) => self.1 = true,
                Expr::CompoundIdentifier(p) if !self.0.contains(&p[0].value) => self.1 = true,
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut v = Inner(outer, false);
    let _ = e.visit(&mut v);
    v.1
}

pub struct CollectQualified<'a>(&'a mut HashSet<String>);

impl Visitor for CollectQualified<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(p) = e {
            if p.len() >= 2 {
                self.0.insert(p[0].value.clone());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Qualifiers a subquery uses that its own FROM does not define.
pub fn outer_qualifiers(q: &Query) -> HashSet<String> {
    let mut used = HashSet::new();
    let _ = q.visit(&mut CollectQualified(&mut used));
    let mut own = HashSet::new();
    struct Own<'a>(&'a mut HashSet<String>);
    impl Visitor for Own<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, f: &TableFactor) -> ControlFlow<()> {
            self.0.extend(qualifiers_of(f));
            ControlFlow::Continue(())
        }
    }
    let _ = q.visit(&mut Own(&mut own));
    used.retain(|u| !own.contains(u));
    used
}
