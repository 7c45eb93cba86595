//! Rewrites that let PostgreSQL clients' catalog SQL run on Polars, on the
//! parsed tree. Each rule is one small function over an expression (tested
//! below); [`rewrite`] applies them all, bottom-up, to a query.
//!
//! * `pg_catalog.f(...)` → `f(...)`; `x::pg_catalog.text` → `x::text`
//! * `a OPERATOR(pg_catalog.~) b` → `a ~ b`
//! * `x COLLATE "C"` → `x`
//! * `E'...'` → `'...'`
//! * casts to the OID alias types (`::regclass`, ...) and comparisons of
//!   OID and `regproc` catalog columns: [`super::oid_types`]
//! * the functions clients call: `version()`, `current_database()`,
//!   `current_schema()`, `current_user`, `pg_get_userbyid()`,
//!   `pg_table_is_visible()`, `has_*_privilege()`, `format_type()`,
//!   `pg_encoding_to_char()`, `pg_get_expr()`, `col_description()`,
//!   `obj_description()`, `current_setting()`, `quote_ident()`,
//!   `pg_get_indexdef()`, `pg_get_constraintdef()`, ...
//!   become the expressions that compute them.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, JoinConstraint,
    JoinOperator, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::oid_types;
use crate::catalog::pg::{self, types};

/// Apply every rule to a query.
pub fn rewrite(query: &mut Query) {
    let _ = VisitMut::visit(query, &mut Rules);
}

struct Rules;

impl VisitorMut for Rules {
    type Break = ();
    fn pre_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
        name_rewritten_calls(s);
        ControlFlow::Continue(())
    }
    fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        join_conditions(q);
        ControlFlow::Continue(())
    }
    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Some(new) = rule(e) {
            *e = new;
        }
        ControlFlow::Continue(())
    }
}

/// `SELECT version()` keeps the output name `version` after the call
/// becomes a literal, as PostgreSQL names it.
fn name_rewritten_calls(s: &mut Select) {
    for item in &mut s.projection {
        if let SelectItem::UnnamedExpr(e @ Expr::Function(_)) = item {
            let Expr::Function(f) = &*e else { continue };
            let Some(name) = f.name.0.last().and_then(|p| p.as_ident()).cloned() else {
                continue;
            };
            let mut probe = e.clone();
            strip_qualifier(&mut probe);
            if function(&probe).is_some() {
                *item = SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: Ident::with_quote('"', name.value.to_lowercase()),
                };
            }
        }
    }
}

/// `pg_catalog.pg_class.relname` → `pg_class.relname`, and
/// `"public"."sale"."id"` → `sale.id` (the relation is known by its bare name).
fn catalog_column(e: &Expr) -> Option<Expr> {
    let Expr::CompoundIdentifier(parts) = e else {
        return None;
    };
    let schema = parts.first()?.value.to_lowercase();
    (parts.len() == 3 && (schema == "pg_catalog" || schema == "public"))
        .then(|| Expr::CompoundIdentifier(parts[1..].to_vec()))
}

/// `JOIN t ON (a = b)` → `JOIN t ON a = b` (Polars wants the bare condition).
fn join_conditions(q: &mut Query) {
    let SetExpr::Select(select) = q.body.as_mut() else {
        return;
    };
    for from in &mut select.from {
        for join in &mut from.joins {
            let constraint = match &mut join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => c,
                _ => continue,
            };
            if let JoinConstraint::On(on) = constraint {
                while let Expr::Nested(inner) = on {
                    *on = (**inner).clone();
                }
            }
        }
    }
}

/// The first rule that rewrites `e`, if any.
fn rule(e: &mut Expr) -> Option<Expr> {
    strip_qualifier(e);
    escaped_string(e)
        .or_else(|| catalog_column(e))
        .or_else(|| custom_operator(e))
        .or_else(|| collate(e))
        .or_else(|| oid_types::reg_cast(e))
        .or_else(|| oid_types::oid_literal(e))
        .or_else(|| oid_types::regproc_zero(e))
        .or_else(|| function(e))
}

/// A rewrite's SQL template as an expression (templates are the code's own: they parse).
pub(super) fn parse(sql: &str) -> Expr {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .unwrap_or_else(|e| panic!("rewrite template {sql:?} does not parse: {e}"))
}

pub(super) fn string(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_string()).with_empty_span())
}

pub(super) fn number(n: impl ToString) -> Expr {
    Expr::Value(Value::Number(n.to_string(), false).with_empty_span())
}

pub(super) fn null() -> Expr {
    Expr::Value(Value::Null.with_empty_span())
}

pub(super) fn string_value(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn is_pg_catalog(part: &ObjectNamePart) -> bool {
    part.as_ident()
        .is_some_and(|i| i.value.eq_ignore_ascii_case("pg_catalog"))
}

/// `pg_catalog.f(...)` → `f(...)`, and catalog-qualified type names in casts.
fn strip_qualifier(e: &mut Expr) {
    match e {
        Expr::Function(f) if f.name.0.len() == 2 && is_pg_catalog(&f.name.0[0]) => {
            f.name.0.remove(0);
        }
        Expr::Cast {
            data_type: data_type @ DataType::Custom(..),
            ..
        } => {
            let DataType::Custom(name, mods) = &*data_type else {
                return;
            };
            if name.0.len() == 2 && is_pg_catalog(&name.0[0]) {
                let bare = name.0[1].clone();
                *data_type = type_by_name(&bare.to_string())
                    .unwrap_or_else(|| DataType::Custom(ObjectName(vec![bare]), mods.clone()));
            }
        }
        _ => {}
    }
}

/// The sqlparser type for a PostgreSQL type name written as an identifier.
fn type_by_name(name: &str) -> Option<DataType> {
    let name = name.trim_matches('"').to_lowercase();
    let sql = match name.as_str() {
        "text" | "name" | "varchar" | "char" | "bpchar" => "text",
        "int2" | "int4" | "int8" | "float4" | "float8" | "bool" | "date" | "numeric" | "timestamp" => &name,
        "regclass" => "regclass",
        "int2[]" | "_int2" => "int2[]",
        "text[]" | "_text" => "text[]",
        _ => return None,
    };
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_data_type())
        .ok()
}

/// `E'a\nb'` → `'a<newline>b'` (the parser already decoded the escapes).
fn escaped_string(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::EscapedStringLiteral(s) => Some(string(s)),
            _ => None,
        },
        _ => None,
    }
}

/// `a OPERATOR(pg_catalog.~) b` → `a ~ b` (and `!~`, `~*`, `!~*`, `=`, ...).
fn custom_operator(e: &Expr) -> Option<Expr> {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::PGCustomBinaryOperator(parts),
        right,
    } = e
    else {
        return None;
    };
    let op = match parts.last()?.as_str() {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "=" => BinaryOperator::Eq,
        "<>" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        _ => return None,
    };
    Some(Expr::BinaryOp {
        left: left.clone(),
        op,
        right: right.clone(),
    })
}

/// `x COLLATE "C"` → `x` (redsql compares text byte-wise, as `C` does).
fn collate(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Collate { expr, .. } => Some((**expr).clone()),
        _ => None,
    }
}

/// `format_type(t, m)` as a CASE over the known types.
pub(super) fn format_type(t: &Expr) -> Expr {
    let mut sql = format!("CASE {t}");
    for (oid, _, name, ..) in types::TYPES {
        sql.push_str(&format!(" WHEN {oid} THEN '{}'", name.replace('\'', "''")));
    }
    sql.push_str(" ELSE '???' END");
    parse(&sql)
}

/// A call's positional arguments.
pub(super) fn function_args(f: &sqlparser::ast::Function) -> Vec<Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The catalog functions clients call, as expressions.
fn function(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else {
        return None;
    };
    let [ObjectNamePart::Identifier(name)] = f.name.0.as_slice() else {
        return None;
    };
    let name = name.value.to_lowercase();
    let a = function_args(f);
    Some(match name.as_str() {
        "version" => string(&format!(
            "PostgreSQL 16.6 (redsql {}) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit",
            env!("CARGO_PKG_VERSION")
        )),
        "current_database" => string(pg::DATABASE_NAME),
        "current_schema" => string("public"),
        // The search path as an array: with implicit schemas, pg_catalog first.
        "current_schemas" => {
            let implicit = a.first()?.to_string().to_lowercase();
            let names: &[&str] = match implicit.as_str() {
                "true" => &["pg_catalog", "public"],
                "false" => &["public"],
                _ => return None,
            };
            Expr::Array(sqlparser::ast::Array {
                elem: names.iter().map(|n| string(n)).collect(),
                named: true,
            })
        }
        "current_user" | "session_user" | "user" | "current_role" | "getpgusername" => string(pg::ROLE_NAME),
        "pg_get_userbyid" => string(pg::ROLE_NAME),
        "pg_encoding_to_char" => string("UTF8"),
        // Relations of schemas outside the search path (redsql,
        // information_schema) are not visible, as in PostgreSQL.
        "pg_table_is_visible" => {
            let hidden: Vec<String> = pg::hidden_relation_oids().map(|o| o.to_string()).collect();
            parse(&format!("{} NOT IN ({})", a.first()?, hidden.join(", ")))
        }
        n if n.starts_with("pg_") && n.ends_with("_is_visible") => parse("true"),
        n if n.starts_with("has_") && n.ends_with("_privilege") => parse("true"),
        "pg_relation_is_publishable" => parse("false"),
        "format_type" => format_type(a.first()?),
        // The type's OID if it exists, else NULL (psycopg 3 looks types up
        // with `t.oid = to_regtype($1)`; the argument may be a parameter).
        "to_regtype" => {
            let arms: String = types::TYPES
                .iter()
                .map(|t| format!(" WHEN '{}' THEN {} WHEN '{}' THEN {}", t.1, t.0, t.2, t.0))
                .collect();
            parse(&format!("CASE lower({}){arms} ELSE NULL END", a.first()?))
        }
        // The definitions pg_index and pg_constraint carry (catalog::pg::indexes),
        // looked up by a subquery that is decorrelated like any other.
        // With a column number k > 0: that column's name (1-based).
        "pg_get_indexdef" => match a.get(1).filter(|col| col.to_string() != "0") {
            None => parse(&format!(
                "(SELECT __ix.indexdef FROM pg_catalog.pg_index AS __ix WHERE __ix.indexrelid = {})",
                a.first()?
            )),
            Some(col) => parse(&format!(
                "(SELECT __ix.indexcols FROM pg_catalog.pg_index AS __ix WHERE __ix.indexrelid = {})[{col}]",
                a.first()?
            )),
        },
        "pg_get_constraintdef" => parse(&format!(
            "(SELECT __co.condef FROM pg_catalog.pg_constraint AS __co WHERE __co.oid = {})",
            a.first()?
        )),
        "pg_get_expr"
        | "col_description"
        | "obj_description"
        | "shobj_description"
        | "pg_get_partkeydef"
        | "pg_get_statisticsobjdef_columns"
        | "pg_get_viewdef"
        | "pg_get_triggerdef"
        | "pg_get_functiondef" => parse("CAST(NULL AS TEXT)"), // text, so LIKE and || take it
        "current_setting" => {
            let setting = string_value(a.first()?)?.to_lowercase();
            crate::session::commands::DEFAULT_SETTINGS
                .iter()
                .find(|(n, _)| *n == setting)
                .map_or_else(null, |(_, v)| string(v))
        }
        "quote_ident" => {
            let x = a.first()?;
            parse(&format!(
                "CASE WHEN {x} ~ '^[a-z_][a-z0-9_$]*$' THEN {x} ELSE '\"' || replace({x}, '\"', '\"\"') || '\"' END"
            ))
        }
        "pg_backend_pid" => number(std::process::id()),
        // Boolean aggregates (NULLs skipped; NULL over no values).
        "bool_and" | "every" => parse(&format!("(min(CAST({} AS INTEGER)) = 1)", a.first()?)),
        "bool_or" => parse(&format!("(max(CAST({} AS INTEGER)) = 1)", a.first()?)),
        // No sequences, tablespaces of their own, sizes or statistics: what
        // PostgreSQL answers for objects without them.
        "pg_get_serial_sequence" => null(),
        "pg_tablespace_location" => string(""),
        "pg_relation_size"
        | "pg_total_relation_size"
        | "pg_table_size"
        | "pg_indexes_size"
        | "pg_stat_get_numscans" => null(),
        // substring(s, from [, for]) called as a function (DBeaver quotes its name).
        "substring" if (2..=3).contains(&a.len()) => Expr::Substring {
            expr: Box::new(a[0].clone()),
            substring_from: Some(Box::new(a[1].clone())),
            substring_for: a.get(2).cloned().map(Box::new),
            special: true,
            shorthand: false,
        },
        _ => return None,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Rewrite `SELECT <sql>` and print its select list back.
    fn select(sql: &str) -> String {
        let stmts = crate::sql::parse(&format!("SELECT {sql}")).unwrap();
        let sqlparser::ast::Statement::Query(mut q) = stmts.into_iter().next().unwrap() else {
            panic!("not a query")
        };
        rewrite(&mut q);
        q.to_string().trim_start_matches("SELECT ").to_string()
    }

    /// Rewrite one expression and print it back (also for oid_types' tests).
    pub(in crate::sql) fn rw(sql: &str) -> String {
        select(&format!("{sql} AS e")).trim_end_matches(" AS e").to_string()
    }

    #[test]
    fn to_regtype_names_known_types_only() {
        let e = rw("to_regtype($1)");
        assert!(
            e.starts_with("CASE lower($1) WHEN 'bool' THEN 16 WHEN 'boolean' THEN 16"),
            "{e}"
        );
        assert!(
            e.contains("WHEN 'bigint' THEN 20") && e.ends_with("ELSE NULL END"),
            "{e}"
        );
    }

    #[test]
    fn catalog_qualifiers_go() {
        assert_eq!(rw("pg_catalog.pg_class.relname"), "pg_class.relname");
        assert_eq!(select("pg_catalog.version() AS v"), select("version() AS v"));
        assert!(rw("pg_catalog.pg_table_is_visible(c.oid)").starts_with("c.oid NOT IN (16385, 16386, 13100"));
        assert_eq!(rw("x::pg_catalog.text"), "x::TEXT");
    }

    #[test]
    fn operators_collations_and_escaped_strings() {
        assert_eq!(rw("c.relname OPERATOR(pg_catalog.~) '^(t)$'"), "c.relname ~ '^(t)$'");
        assert_eq!(rw("a OPERATOR(pg_catalog.!~) 'x'"), "a !~ 'x'");
        assert_eq!(rw("'^(t)$' COLLATE pg_catalog.default"), "'^(t)$'");
        assert_eq!(rw(r"E'a\nb''c'"), "'a\nb''c'");
    }

    #[test]
    fn parenthesized_join_conditions_are_unwrapped() {
        let stmts = crate::sql::parse("SELECT 1 FROM a LEFT JOIN b ON (a.x = b.y)").unwrap();
        let sqlparser::ast::Statement::Query(mut q) = stmts.into_iter().next().unwrap() else {
            panic!()
        };
        rewrite(&mut q);
        assert_eq!(q.to_string(), "SELECT 1 FROM a LEFT JOIN b ON a.x = b.y");
    }

    #[test]
    fn catalog_functions() {
        assert!(rw("version()").starts_with("'PostgreSQL 16.6 (redsql"));
        assert!(
            select("version()").ends_with("AS \"version\""),
            "keeps PostgreSQL's output name"
        );
        assert!(select("pg_catalog.version()").ends_with("AS \"version\""));
        assert_eq!(select("current_user"), "'redsql' AS \"current_user\"");
        assert_eq!(select("lower(x)"), "lower(x)");
        assert_eq!(rw("current_database()"), "'redsql'");
        assert_eq!(rw("current_schema()"), "'public'");
        assert_eq!(rw("current_user"), "'redsql'");
        assert_eq!(rw("pg_catalog.pg_get_userbyid(c.relowner)"), "'redsql'");
        assert_eq!(rw("has_table_privilege('sale', 'select')"), "true");
        assert_eq!(rw("pg_catalog.pg_encoding_to_char(d.encoding)"), "'UTF8'");
        assert_eq!(rw("pg_get_expr(d.adbin, d.adrelid, true)"), "CAST(NULL AS TEXT)");
        assert_eq!(rw("current_setting('server_version_num')"), "'160006'");
        assert_eq!(rw("current_setting('no_such')"), "NULL");
        assert!(rw("format_type(a.atttypid, a.atttypmod)").contains("WHEN 20 THEN 'bigint'"));
        assert!(rw("quote_ident(x)").starts_with("CASE WHEN x ~ '^[a-z_][a-z0-9_$]*$' THEN x"));
        assert_eq!(rw("lower(x)"), "lower(x)", "other functions are left alone");
    }

    #[test]
    fn functions_for_objects_redsql_does_not_have() {
        assert_eq!(rw("pg_catalog.pg_get_serial_sequence('t', 'c')"), "NULL");
        assert_eq!(rw("pg_tablespace_location(t.oid)"), "''");
        assert_eq!(rw("pg_relation_size(i.indexrelid)"), "NULL");
        assert_eq!(rw("pg_collation_is_visible(c.oid)"), "true");
        assert_eq!(
            rw("bool_and(i.indisunique)"),
            "(min(CAST(i.indisunique AS INTEGER)) = 1)"
        );
        assert_eq!(rw("\"substring\"(x, 7)"), "SUBSTRING(x, 7)");
    }
}
