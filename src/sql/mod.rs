//! Parse and rewrite: SQL text → statements → a query Polars can run.
//!
//! * [`parse`]: PostgreSQL-dialect parsing, statement splitting.
//! * [`analyze`]: resolves tables, folds identifiers, blocks table functions,
//!   names output columns as PostgreSQL does and finds parameter types.
//! * [`output_names`]: PostgreSQL's output column names (`count`, `?column?`, duplicates).
//! * [`lookup`]: finds WHERE clauses that pin a table's key (read by key, no scan).
//! * [`pg_compat`]: client catalog SQL (qualifiers, reg casts, catalog functions).
//! * [`arrays`]: array subscripts, bounds and set-returning functions in a select list.
//! * [`joins`]: join conditions Polars cannot take in ON, moved where they mean the same.
//! * [`dialect`]: PostgreSQL's arithmetic, clock, literal and percentile forms.
//! * [`temporal`]: string literals compared with timestamp/date columns (at plan time).
//! * [`params`]: binds `$n` parameters (and the statement's clock) into the AST.

pub mod analyze;
mod array_literals;
pub mod arrays;
pub mod dialect;
pub mod grouped_windows;
pub mod joins;
pub mod lookup;
pub mod oid_types;
pub mod origins;
pub mod output_names;
pub mod params;
pub mod pg_compat;
pub mod pg_values;
pub mod temporal;

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Result};

/// A FROM item reading relation `name` (quoted), under `alias` if given, with
/// the table-function arguments `args` if given.
pub fn table_factor(
    name: sqlparser::ast::Ident,
    alias: Option<sqlparser::ast::TableAlias>,
    args: Option<sqlparser::ast::TableFunctionArgs>,
) -> sqlparser::ast::TableFactor {
    use sqlparser::ast::{ObjectName, ObjectNamePart, TableFactor};
    TableFactor::Table {
        name: ObjectName(vec![ObjectNamePart::Identifier(name)]),
        alias,
        args,
        with_hints: vec![],
        version: None,
        with_ordinality: false,
        partitions: vec![],
        json_path: None,
        sample: None,
        index_hints: vec![],
    }
}

/// An identifier as PostgreSQL folds it: unquoted ones to lower case.
pub fn fold_ident(ident: &sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_none() {
        ident.value.to_lowercase()
    } else {
        ident.value.clone()
    }
}

/// An identifier as PostgreSQL prints it (`quote_ident`, index definitions):
/// as is when it is a plain lower-case name, else double-quoted.
pub fn quote_ident_if_needed(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Parse a query string into statements (none for an empty or comment-only string).
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.strip_prefix("sql parser error: ").unwrap_or(&msg);
        Error::Syntax(format!("syntax error: {msg}"))
    })
}

/// The AND-ed parts of a condition (through parentheses).
pub fn conjuncts(e: &sqlparser::ast::Expr) -> Vec<&sqlparser::ast::Expr> {
    use sqlparser::ast::{BinaryOperator, Expr};
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut out = conjuncts(left);
            out.extend(conjuncts(right));
            out
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// Parse one query (tests of the rewrite rules).
#[cfg(test)]
pub(crate) fn parse_query(sql: &str) -> sqlparser::ast::Query {
    match parse(sql).unwrap().remove(0) {
        Statement::Query(q) => *q,
        other => panic!("not a query: {other}"),
    }
}

/// Parse one expression.
pub fn parse_expr(sql: &str) -> Result<sqlparser::ast::Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::Internal(format!("rewrite produced {sql:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_handles_comments() {
        assert_eq!(parse("select 1; select 2").unwrap().len(), 2);
        assert!(parse("-- just a comment").unwrap().is_empty());
        assert!(parse("/* c */").unwrap().is_empty());
        assert_eq!(parse("selec 1").unwrap_err().sqlstate(), "42601");
    }
}
