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

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, Statement, Visit, Visitor};
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

/// Square brackets nested deeper than this are refused before parsing:
/// sqlparser (0.62) backtracks over `ARRAY[ARRAY[...` in time that doubles
/// with each level past about 47 (found by the SQL fuzzer: 48 levels held
/// a worker thread for minutes). Parentheses end at its recursion limit.
const MAX_BRACKET_DEPTH: usize = 32;

/// Stack of the threads that parse, rewrite and plan statements (the
/// server's runtime): trees as deep as [`MAX_CHAIN`] allows fit in it.
pub const THREAD_STACK: usize = 256 << 20;

/// Operators and set operations one statement may chain (`1 + 1 + ...`,
/// `x::int::int...`, `UNION ALL SELECT ...`): each is a level of the tree
/// every pass recurses over. PostgreSQL ends such statements at its stack
/// limit too (54001).
const MAX_CHAIN: usize = 10_000;

/// Subqueries and CTEs one statement may hold: Polars plans a chain of n
/// CTEs in time that grows with about n³ (1,000: 4 s; 2,000: 30 s).
const MAX_QUERIES: usize = 500;

/// How deep `[` nest in `sql`, and how many binary operators and set
/// operations it has, outside quoted strings and identifiers. A `-` or
/// `+` after `(`, `,` or another operator is a sign, not counted (bulk
/// INSERTs hold many negative numbers).
fn shape(sql: &str) -> (usize, usize) {
    let (mut depth, mut max, mut chain, mut quote) = (0usize, 0usize, 0usize, None);
    let mut prev = b'(';
    let bytes = sql.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => continue,
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'[') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'+' | b'-') if !b"(,=<>+-*/|:[".contains(&prev) => chain += 1,
            (None, b'*' | b'/' | b'%') => chain += 1,
            (None, b'|') if bytes.get(i + 1) == Some(&b'|') => chain += 1,
            (None, b':') if bytes.get(i + 1) == Some(&b':') => chain += 1,
            (None, b' ') => {
                let word =
                    |w: &[u8]| bytes.len() >= i + 1 + w.len() && bytes[i + 1..i + 1 + w.len()].eq_ignore_ascii_case(w);
                if word(b"and ") || word(b"or ") || word(b"union ") || word(b"except ") || word(b"intersect ") {
                    chain += 1;
                }
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            prev = b;
        }
    }
    (max, chain)
}

/// Parse a query string into statements (none for an empty or comment-only string).
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    let (brackets, chain) = shape(sql);
    if brackets > MAX_BRACKET_DEPTH {
        return Err(Error::Data(
            "54001",
            format!("statement too complex: brackets nest deeper than {MAX_BRACKET_DEPTH} levels"),
        ));
    }
    if chain > MAX_CHAIN {
        return Err(Error::Data(
            "54001",
            format!("statement too complex: more than {MAX_CHAIN} operators or set operations"),
        ));
    }
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.strip_prefix("sql parser error: ").unwrap_or(&msg);
        Error::Syntax(format!("syntax error: {msg}"))
    })?;
    let mut queries = 0usize;
    struct Count<'a>(&'a mut usize);
    impl Visitor for Count<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            *self.0 += 1;
            ControlFlow::Continue(())
        }
    }
    let _ = statements.visit(&mut Count(&mut queries));
    if queries > MAX_QUERIES {
        return Err(Error::Data(
            "54001",
            format!("statement too complex: more than {MAX_QUERIES} subqueries and CTEs"),
        ));
    }
    Ok(statements)
}

/// Whether `pred` holds for an expression of `node` outside its subqueries.
pub fn outside_subqueries(node: &impl Visit, pred: impl Fn(&Expr) -> bool) -> bool {
    struct Find<F> {
        depth: usize,
        pred: F,
    }
    impl<F: Fn(&Expr) -> bool> Visitor for Find<F> {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if self.depth == 0 && (self.pred)(e) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    node.visit(&mut Find { depth: 0, pred }).is_break()
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
    fn deeply_nested_brackets_are_refused_before_the_parser_backtracks() {
        let nested = |n: usize| format!("SELECT {}1{}", "ARRAY[".repeat(n), "]".repeat(n));
        assert!(parse(&nested(MAX_BRACKET_DEPTH)).is_ok());
        let e = parse(&nested(5000)).unwrap_err();
        assert_eq!(e.sqlstate(), "54001");
        assert_eq!(shape("SELECT '[[[[' , \"a[[\" , x[1][2]").0, 1);
        let chain = |sql: &str| shape(sql).1;
        assert_eq!(chain("SELECT 1 + 2 - 3 * 4 / 5 % 6 || 'a' || '-' "), 7);
        assert_eq!(chain("SELECT x::int FROM t WHERE a AND b OR c UNION SELECT 1"), 4);
        assert_eq!(
            chain("INSERT INTO t VALUES (-1, -2), (+3, 5 - -4)"),
            1,
            "signs are not operators"
        );
        let ctes: Vec<String> = (1..=MAX_QUERIES)
            .map(|i| format!("c{i} AS (SELECT * FROM c{})", i - 1))
            .collect();
        let sql = format!(
            "WITH c0 AS (SELECT 1 AS x), {} SELECT * FROM c{MAX_QUERIES}",
            ctes.join(", ")
        );
        assert_eq!(parse(&sql).unwrap_err().sqlstate(), "54001");
        let casts = format!("SELECT 1{}", "::int".repeat(MAX_CHAIN + 1));
        assert_eq!(parse(&casts).unwrap_err().sqlstate(), "54001");
    }

    #[test]
    fn splits_and_handles_comments() {
        assert_eq!(parse("select 1; select 2").unwrap().len(), 2);
        assert!(parse("-- just a comment").unwrap().is_empty());
        assert!(parse("/* c */").unwrap().is_empty());
        assert_eq!(parse("selec 1").unwrap_err().sqlstate(), "42601");
    }
}
