//! The OID alias types and the catalog columns that hold OIDs, on the parsed
//! tree (part of [`super::pg_compat`]'s rules):
//!
//! * `'sale'::regclass` → the relation's OID; `'16384'::oid` → 16384;
//!   `'pg_catalog.array_in'::regproc` → `'array_in'`; `t::regtype` → its
//!   type name; `n::regnamespace` → the schema name;
//! * `oid_column = '16384'` → `oid_column = 16384` (PostgreSQL types the
//!   literal from the column; Polars will not compare text with numbers);
//! * `typreceive != 0` → `typreceive <> '-'` (a `regproc` column holds names).

use std::collections::HashSet;
use std::sync::OnceLock;

use sqlparser::ast::{BinaryOperator, DataType, Expr, Value};

use super::pg_compat::{format_type, number, parse, string, string_value};
use crate::catalog::pg::{self, types, Ty};

/// Which reg* (or oid) type a cast is to.
fn reg_type(dt: &DataType) -> Option<String> {
    let name = match dt {
        DataType::Regclass => "regclass".to_string(),
        DataType::Custom(n, _) => n.0.last()?.to_string().trim_matches('"').to_lowercase(),
        _ => return None,
    };
    matches!(
        name.as_str(),
        "regclass" | "regtype" | "regproc" | "regprocedure" | "regnamespace" | "oid"
    )
    .then_some(name)
}

/// Casts to the OID alias types.
pub(super) fn reg_cast(e: &Expr) -> Option<Expr> {
    let Expr::Cast { expr, data_type, .. } = e else {
        return None;
    };
    let reg = reg_type(data_type)?;
    let text = string_value(expr);
    Some(match (reg.as_str(), text) {
        ("regclass", Some(name)) => number(pg::relation_oid(name.trim_matches('"'))),
        ("regtype", Some(name)) => number(types::oid_of(name)?),
        ("regproc" | "regprocedure", Some(name)) => string(name.strip_prefix("pg_catalog.").unwrap_or(name)),
        ("oid", Some(n)) => number(n.trim().parse::<u32>().ok()?),
        ("oid" | "regclass" | "regproc" | "regprocedure", None) => (**expr).clone(),
        ("regtype", None) => format_type(expr),
        ("regnamespace", None) => parse(&format!(
            "CASE {expr} WHEN {} THEN 'pg_catalog' WHEN {} THEN 'public' WHEN {} THEN 'information_schema' \
             WHEN {} THEN 'redsql' END",
            pg::PG_CATALOG_NS,
            pg::PUBLIC_NS,
            pg::INFORMATION_SCHEMA_NS,
            pg::REDSQL_NS
        )),
        _ => return None,
    })
}

/// Names of the catalog columns of type `ty`.
fn columns_of(ty: Ty) -> HashSet<&'static str> {
    pg::all()
        .flat_map(|r| r.columns())
        .filter(|(_, t)| *t == ty)
        .map(|(n, _)| n)
        .collect()
}

fn oid_columns() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| columns_of(Ty::Oid))
}

fn regproc_columns() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| columns_of(Ty::RegProc))
}

/// `typreceive != 0` → `typreceive != '-'`: a `regproc` column holds a
/// function's name here, and PostgreSQL shows the OID 0 ("no function") as `-`.
pub(super) fn regproc_zero(e: &Expr) -> Option<Expr> {
    let Expr::BinaryOp { left, op, right } = e else {
        return None;
    };
    if !matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
        return None;
    }
    let is_regproc = |e: &Expr| column_name(e).is_some_and(|c| regproc_columns().contains(c));
    let zero = |e: &Expr| matches!(e, Expr::Value(v) if v.value == Value::Number("0".into(), false));
    let (col, other) = if is_regproc(left) { (left, right) } else { (right, left) };
    (is_regproc(col) && zero(other)).then(|| Expr::BinaryOp {
        left: col.clone(),
        op: op.clone(),
        right: Box::new(string("-")),
    })
}

fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Identifier(i) => Some(&i.value),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.as_str()),
        _ => None,
    }
}

/// `c.oid = '16384'` → `c.oid = 16384`, for the catalog's OID columns.
pub(super) fn oid_literal(e: &Expr) -> Option<Expr> {
    let Expr::BinaryOp { left, op, right } = e else {
        return None;
    };
    if !matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    ) {
        return None;
    }
    let numeric = |e: &Expr| string_value(e).and_then(|s| s.trim().parse::<u32>().ok());
    let is_oid = |e: &Expr| column_name(e).is_some_and(|c| oid_columns().contains(c));
    if is_oid(left) {
        let n = numeric(right)?;
        return Some(Expr::BinaryOp {
            left: left.clone(),
            op: op.clone(),
            right: Box::new(number(n)),
        });
    }
    if is_oid(right) {
        let n = numeric(left)?;
        return Some(Expr::BinaryOp {
            left: Box::new(number(n)),
            op: op.clone(),
            right: right.clone(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::pg_compat::tests::rw;
    use super::*;

    #[test]
    fn reg_casts() {
        assert_eq!(rw("'pg_class'::regclass"), "1259");
        assert_eq!(rw("'pg_catalog.pg_namespace'::regclass"), "2615");
        assert_eq!(rw("'sale'::regclass"), pg::relation_oid("sale").to_string());
        assert_eq!(rw("'int8'::regtype"), "20");
        assert_eq!(rw("'pg_catalog.array_in'::regproc"), "'array_in'");
        assert_eq!(rw("'16384'::oid"), "16384");
        assert!(rw("t.oid::regtype::text").contains("CASE t.oid WHEN 16 THEN 'boolean'"));
        assert!(rw("n::regnamespace").contains("WHEN 2200 THEN 'public'"));
    }

    #[test]
    fn regproc_zero_is_the_dash() {
        assert_eq!(rw("typreceive != 0"), "typreceive <> '-'");
        assert_eq!(rw("0 = t.typmodin"), "t.typmodin = '-'");
        assert_eq!(rw("typname != 0"), "typname <> 0");
    }

    #[test]
    fn text_literals_compared_with_oid_columns_become_numbers() {
        assert_eq!(rw("c.oid = '16384'"), "c.oid = 16384");
        assert_eq!(rw("'42' <> attrelid"), "42 <> attrelid");
        assert_eq!(
            rw("c.relname = '16384'"),
            "c.relname = '16384'",
            "relname is no OID column"
        );
        assert_eq!(rw("c.oid = 'x'"), "c.oid = 'x'");
    }
}
