//! PostgreSQL's dialect where Polars SQL reads the same text differently, on
//! the parsed tree. Runs after output naming (`SELECT 7/2` is still named
//! `?column?`, `SELECT now()` still `now`).
//!
//! * `a / b` → `pg_div(a, b)`, `a % b` → `pg_mod(a, b)`: integer division
//!   truncates, and ÷ 0 is error 22012 (`exec::functions`);
//! * `now()`, `current_timestamp`, `localtimestamp`, `transaction_timestamp()`,
//!   `statement_timestamp()`, `clock_timestamp()` → [`NOW`], bound to the
//!   statement's start when it runs ([`bind_clock_expr`]); `current_date` → its date;
//! * `'2024-01-01T10:00:00Z'::timestamp`, `DATE '2024-01-01'`,
//!   `'yes'::boolean`: literals of these types are read as PostgreSQL reads
//!   them (ISO dates with a space or `T`, an optional zone converted to UTC;
//!   every spelling of a boolean) and handed to Polars in one form it reads;
//!   a malformed one is error 22007 / 22P02 before anything runs;
//! * `percentile_cont(f) WITHIN GROUP (ORDER BY x)` → `quantile_cont(x, f)`
//!   (and `percentile_disc` → `quantile_disc`).

use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDateTime};
use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName, ObjectNamePart, OrderByExpr, Query, SelectItem, Value, VisitMut, VisitorMut,
};

use super::pg_compat::string_value;
use crate::catalog::types::{parse_bool, parse_date, parse_timestamp};
use crate::error::{Error, Result};

/// The placeholder for "the statement's start time".
pub const NOW: &str = "__redsql_now";

/// Apply every rule to a query.
pub fn rewrite(query: &mut Query) -> Result<()> {
    let mut rules = Rules(None, 0);
    let _ = VisitMut::visit(query, &mut rules);
    rules.0.map_or(Ok(()), Err)
}

/// The first error, and how deep in subqueries the visit is.
struct Rules(Option<Error>, usize);

/// Deeper than the parser lets a statement nest: only a rewrite that
/// keeps rewriting its own output gets here, and ends with an error
/// instead of taking all memory.
const MAX_QUERY_DEPTH: usize = 200;

impl VisitorMut for Rules {
    type Break = ();
    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        self.1 += 1;
        let check = if self.1 > MAX_QUERY_DEPTH {
            Err(Error::Data(
                "54001",
                "statement too complex: subqueries nest too deeply".into(),
            ))
        } else {
            super::grouped_windows::check(q)
        };
        if let Err(err) = check {
            self.0 = Some(err);
            return ControlFlow::Break(());
        }
        super::grouped_windows::rewrite(q);
        drop_constant_sort_keys(q);
        keys_by_position(q);
        ControlFlow::Continue(())
    }
    fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.1 -= 1;
        ControlFlow::Continue(())
    }
    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        match rule(e) {
            Ok(Some(new)) => *e = new,
            Ok(None) => {}
            Err(err) => {
                self.0 = Some(err);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

/// `ORDER BY NULL = 'DEFAULT'` (psql, once `pg_get_expr` is NULL) orders
/// nothing; Polars cannot sort an empty frame by a constant, so constant
/// keys go (`ORDER BY 2` stays: it names an output column).
fn drop_constant_sort_keys(q: &mut Query) {
    let Some(order) = &mut q.order_by else { return };
    let sqlparser::ast::OrderByKind::Expressions(items) = &mut order.kind else {
        return;
    };
    items.retain(|o| {
        if matches!(&o.expr, Expr::Value(v) if matches!(v.value, Value::Number(..))) {
            return true;
        }
        let mut refers = false;
        let _ = sqlparser::ast::visit_expressions(&o.expr, |e| {
            refers |= matches!(
                e,
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_) | Expr::Subquery(_)
            );
            ControlFlow::<()>::Continue(())
        });
        refers
    });
    if items.is_empty() {
        q.order_by = None;
    }
}

/// `GROUP BY date_trunc('month', ts) ORDER BY date_trunc('month', ts)` with
/// the same expression in the select list → `GROUP BY 1 ORDER BY 1` (its
/// position): the same grouping and order in PostgreSQL, and the form Polars
/// groups by (it finds no column for a function call of the source columns
/// once they are grouped away). Bare columns and queries with `*` stay as written.
fn keys_by_position(q: &mut Query) {
    let sqlparser::ast::SetExpr::Select(s) = q.body.as_mut() else {
        return;
    };
    let mut items = Vec::new();
    for item in &s.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => items.push(e.clone()),
            _ => return sort_by_aliased_expressions(s, q.order_by.as_mut()),
        }
    }
    let position = |e: &Expr| -> Option<Expr> {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_)) {
            return None;
        }
        let i = items.iter().position(|item| item == e)?;
        Some(Expr::Value(Value::Number((i + 1).to_string(), false).with_empty_span()))
    };
    if let sqlparser::ast::GroupByExpr::Expressions(keys, _) = &mut s.group_by {
        for k in keys.iter_mut() {
            if let Some(p) = position(k) {
                *k = p;
            }
        }
    }
    if let Some(sqlparser::ast::OrderByKind::Expressions(keys)) = q.order_by.as_mut().map(|o| &mut o.kind) {
        for k in keys.iter_mut() {
            if let Some(p) = position(&k.expr) {
                k.expr = p;
            }
        }
    }
}

/// `SELECT i.*, tc.relname AS tabrelname ... ORDER BY tabrelname` (DBeaver)
/// → `ORDER BY tc.relname`: Polars finds no output alias to sort by next to
/// a wildcard. Only where that is the same order: no GROUP BY, no DISTINCT.
fn sort_by_aliased_expressions(s: &sqlparser::ast::Select, order: Option<&mut sqlparser::ast::OrderBy>) {
    let grouped = !matches!(&s.group_by, sqlparser::ast::GroupByExpr::Expressions(v, _) if v.is_empty());
    let Some(sqlparser::ast::OrderByKind::Expressions(keys)) = order.map(|o| &mut o.kind) else {
        return;
    };
    if grouped || s.distinct.is_some() {
        return;
    }
    for k in keys.iter_mut() {
        let Expr::Identifier(name) = &k.expr else { continue };
        let aliased = s.projection.iter().find_map(|item| match item {
            // Output naming may have made the alias unique (`tabrelname\u{1}6`).
            SelectItem::ExprWithAlias { expr, alias } if alias.value.split('\u{1}').next() == Some(&name.value) => {
                Some(expr.clone())
            }
            _ => None,
        });
        if let Some(e) = aliased {
            k.expr = e;
        }
    }
}

fn rule(e: &Expr) -> Result<Option<Expr>> {
    if let Some(new) = super::pg_values::rule(e)? {
        return Ok(Some(new));
    }
    Ok(match e {
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Divide => Some(call("pg_div", vec![(**left).clone(), (**right).clone()])),
            BinaryOperator::Modulo => Some(call("pg_mod", vec![(**left).clone(), (**right).clone()])),
            BinaryOperator::StringConcat => super::arrays::concatenation(left, right),
            _ => None,
        },
        Expr::Cast {
            expr, data_type, kind, ..
        } if !matches!(kind, CastKind::TryCast | CastKind::SafeCast) => match string_value(expr) {
            Some(s) => typed_literal(data_type, s)?,
            None => None,
        },
        Expr::TypedString(t) => match &t.value.value {
            Value::SingleQuotedString(s) => typed_literal(&t.data_type, s)?,
            _ => None,
        },
        Expr::Function(f) => function(f),
        Expr::Like {
            negated,
            expr,
            pattern,
            escape_char,
            any: false,
        } => like(expr, pattern, escape_char.as_ref(), *negated, false)?,
        Expr::ILike {
            negated,
            expr,
            pattern,
            escape_char,
            any: false,
        } => like(expr, pattern, escape_char.as_ref(), *negated, true)?,
        _ => None,
    })
}

/// A string literal, or a concatenation of them (SQLAlchemy sends
/// `LIKE 'pg/_' || '%' ESCAPE '/'`).
fn constant_string(e: &Expr) -> Option<String> {
    match e {
        Expr::Nested(inner) => constant_string(inner),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::StringConcat,
            right,
        } => Some(constant_string(left)? + &constant_string(right)?),
        other => string_value(other).map(str::to_string),
    }
}

/// `x LIKE 'a\_%'`: PostgreSQL escapes with `\` by default (or the ESCAPE
/// character); Polars' LIKE knows no escapes. A literal pattern that uses
/// one becomes the equivalent anchored regular expression (`~`, `~*`).
fn like(
    expr: &Expr,
    pattern: &Expr,
    escape: Option<&sqlparser::ast::ValueWithSpan>,
    negated: bool,
    insensitive: bool,
) -> Result<Option<Expr>> {
    let Some(p) = constant_string(pattern) else {
        return Ok(None);
    };
    let esc = match escape.map(|v| &v.value) {
        None => Some('\\'),
        Some(Value::SingleQuotedString(e)) if e.is_empty() => None,
        Some(Value::SingleQuotedString(e)) if e.chars().count() == 1 => e.chars().next(),
        Some(other) => {
            return Err(Error::Data(
                "22019",
                format!("invalid escape string {other}: it must be empty or one character"),
            ))
        }
    };
    if escape.is_none() && !p.contains('\\') {
        return Ok(None); // nothing escaped: Polars' LIKE means the same
    }
    let mut re = String::from("(?s)^");
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            c if Some(c) == esc => match chars.next() {
                Some(lit) => re.push_str(&regex::escape(&lit.to_string())),
                None => {
                    return Err(Error::Data(
                        "22025",
                        "LIKE pattern must not end with escape character".into(),
                    ))
                }
            },
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    let op = match (negated, insensitive) {
        (false, false) => BinaryOperator::PGRegexMatch,
        (false, true) => BinaryOperator::PGRegexIMatch,
        (true, false) => BinaryOperator::PGRegexNotMatch,
        (true, true) => BinaryOperator::PGRegexNotIMatch,
    };
    Ok(Some(Expr::BinaryOp {
        left: Box::new(expr.clone()),
        op,
        right: Box::new(Expr::Value(Value::SingleQuotedString(re).with_empty_span())),
    }))
}

pub(super) fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn cast(s: String, data_type: DataType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(Expr::Value(Value::SingleQuotedString(s).with_empty_span())),
        data_type,
        array: false,
        format: None,
    }
}

/// A timestamp in a form Polars reads exactly (its text casts refuse
/// fractional seconds).
pub fn timestamp_literal(t: NaiveDateTime) -> Expr {
    let text = Expr::Value(Value::SingleQuotedString(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()).with_empty_span());
    let format = Expr::Value(Value::SingleQuotedString("%Y-%m-%d %H:%M:%S%.f".into()).with_empty_span());
    call("strptime", vec![text, format])
}

/// A string literal of a date, timestamp or boolean type, read as
/// PostgreSQL reads it.
fn typed_literal(data_type: &DataType, s: &str) -> Result<Option<Expr>> {
    let text = s.trim();
    let invalid =
        |ty: &str, code: &'static str| Error::Data(code, format!("invalid input syntax for type {ty}: \"{s}\""));
    Ok(match data_type {
        DataType::Timestamp(..) | DataType::Datetime(_) | DataType::TimestampNtz(_) => {
            let us = match text.to_lowercase().as_str() {
                "epoch" => 0,
                _ => parse_timestamp(text).ok_or_else(|| invalid("timestamp", "22007"))?,
            };
            let t = DateTime::from_timestamp_micros(us).ok_or_else(|| invalid("timestamp", "22008"))?;
            Some(timestamp_literal(t.naive_utc()))
        }
        DataType::Date => {
            let days = match parse_date(text) {
                Some(d) => d as i64,
                None => parse_timestamp(text)
                    .ok_or_else(|| invalid("date", "22007"))?
                    .div_euclid(86_400_000_000),
            };
            let d = DateTime::from_timestamp(days * 86_400, 0).ok_or_else(|| invalid("date", "22008"))?;
            Some(cast(d.format("%Y-%m-%d").to_string(), DataType::Date))
        }
        DataType::Boolean | DataType::Bool => {
            let b = parse_pg_bool(text).ok_or_else(|| invalid("boolean", "22P02"))?;
            Some(Expr::Value(Value::Boolean(b).with_empty_span()))
        }
        _ => None,
    })
}

/// Every spelling PostgreSQL accepts for a boolean (any unique prefix of
/// true/false/yes/no, on/off, 1/0).
fn parse_pg_bool(s: &str) -> Option<bool> {
    let l = s.to_lowercase();
    if let Some(b) = parse_bool(&l) {
        return Some(b);
    }
    let prefix_of = |word: &str| !l.is_empty() && word.starts_with(l.as_str());
    match l.as_str() {
        "on" => Some(true),
        "off" | "of" => Some(false),
        _ if prefix_of("true") || prefix_of("yes") => Some(true),
        _ if prefix_of("false") || prefix_of("no") => Some(false),
        _ => None,
    }
}

fn name(f: &Function) -> Option<String> {
    match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(i)] => Some(i.value.to_lowercase()),
        _ => None,
    }
}

fn function(f: &Function) -> Option<Expr> {
    let name = name(f)?;
    let no_args = match &f.args {
        FunctionArguments::None => true,
        FunctionArguments::List(l) => l.args.is_empty(),
        FunctionArguments::Subquery(_) => false,
    };
    match name.as_str() {
        "now"
        | "current_timestamp"
        | "localtimestamp"
        | "transaction_timestamp"
        | "statement_timestamp"
        | "clock_timestamp"
            if no_args =>
        {
            Some(call(NOW, vec![]))
        }
        "current_date" if no_args => Some(Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(call(NOW, vec![])),
            data_type: DataType::Date,
            array: false,
            format: None,
        }),
        "percentile_cont" | "percentile_disc" => percentile(f, &name),
        _ => super::pg_values::pg_function(&name).map(|own| {
            let mut f = f.clone();
            f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(own))]);
            Expr::Function(f)
        }),
    }
}

/// `percentile_cont(f) WITHIN GROUP (ORDER BY x)` → `quantile_cont(x, f)`.
fn percentile(f: &Function, name: &str) -> Option<Expr> {
    let [OrderByExpr { expr: x, options, .. }] = f.within_group.as_slice() else {
        return None;
    };
    if options.asc == Some(false) {
        return None;
    }
    let FunctionArguments::List(l) = &f.args else {
        return None;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(fraction))] = l.args.as_slice() else {
        return None;
    };
    let mut q = call(
        &name.replace("percentile", "quantile"),
        vec![x.clone(), fraction.clone()],
    );
    if let Expr::Function(new) = &mut q {
        new.filter = f.filter.clone();
        new.over = f.over.clone();
    }
    Some(q)
}

/// Replaces [`NOW`] with the statement's start time (PostgreSQL's `now()` is
/// one value for the whole statement); `params::bind` calls it on every
/// expression in its pass over the tree.
pub fn bind_clock_expr(e: &mut Expr, now: NaiveDateTime) {
    if let Expr::Function(f) = e {
        if name(f).as_deref() == Some(NOW) {
            *e = timestamp_literal(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind_clock(query: &mut Query, now: NaiveDateTime) {
        struct Clock(NaiveDateTime);
        impl VisitorMut for Clock {
            type Break = ();
            fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
                bind_clock_expr(e, self.0);
                ControlFlow::Continue(())
            }
        }
        let _ = VisitMut::visit(query, &mut Clock(now));
    }

    fn rewritten(sql: &str) -> Result<String> {
        let mut q = match crate::sql::parse(sql).unwrap().remove(0) {
            sqlparser::ast::Statement::Query(q) => *q,
            other => panic!("{other}"),
        };
        rewrite(&mut q)?;
        Ok(q.to_string())
    }

    #[test]
    fn like_escapes_become_regular_expressions() {
        assert_eq!(
            rewritten(r"SELECT * FROM t WHERE a LIKE 'cl\_%'").unwrap(),
            r"SELECT * FROM t WHERE a ~ '(?s)^cl_.*$'"
        );
        assert_eq!(
            rewritten("SELECT * FROM t WHERE a NOT ILIKE 'x/%.' || '%' ESCAPE '/'").unwrap(),
            r"SELECT * FROM t WHERE a !~* '(?s)^x%\..*$'"
        );
        // No escape in the pattern: Polars' LIKE is left alone.
        assert_eq!(
            rewritten("SELECT * FROM t WHERE a LIKE 'a_%'").unwrap(),
            "SELECT * FROM t WHERE a LIKE 'a_%'"
        );
        assert!(matches!(
            rewritten(r"SELECT * FROM t WHERE a LIKE 'a\'"),
            Err(Error::Data("22025", _))
        ));
    }

    #[test]
    fn division_and_modulo() {
        assert_eq!(
            rewritten("SELECT a / b % 3 FROM t").unwrap(),
            "SELECT pg_mod(pg_div(a, b), 3) FROM t"
        );
    }

    #[test]
    fn clock_functions_become_the_statement_time() {
        let sql = rewritten("SELECT now(), current_timestamp, current_date, localtimestamp").unwrap();
        assert_eq!(
            sql,
            "SELECT __redsql_now(), __redsql_now(), CAST(__redsql_now() AS DATE), __redsql_now()"
        );
        let mut q = match crate::sql::parse(&sql).unwrap().remove(0) {
            sqlparser::ast::Statement::Query(q) => *q,
            _ => unreachable!(),
        };
        let t = NaiveDateTime::parse_from_str("2026-11-23 10:00:00.5", "%Y-%m-%d %H:%M:%S%.f").unwrap();
        bind_clock(&mut q, t);
        assert!(q
            .to_string()
            .starts_with("SELECT strptime('2026-11-23 10:00:00.500000', '%Y-%m-%d %H:%M:%S%.f'), "));
    }

    const TS0: &str = "strptime('2024-01-01 00:00:00.000000', '%Y-%m-%d %H:%M:%S%.f')";
    const TS10: &str = "strptime('2024-01-01 10:00:00.000000', '%Y-%m-%d %H:%M:%S%.f')";

    #[test]
    fn typed_literals_read_as_postgres_does() {
        let cases = [
            ("'2024-01-01'::timestamp", TS0),
            ("'2024-01-01T10:00:00Z'::timestamptz", TS10),
            ("TIMESTAMP '2024-01-01 10:00'", TS10),
            ("'2024-01-01 23:00'::date", "CAST('2024-01-01' AS DATE)"),
            ("DATE '2024-02-29'", "CAST('2024-02-29' AS DATE)"),
            ("'yes'::boolean", "true"),
            ("'f'::bool", "false"),
            ("' on '::boolean", "true"),
        ];
        for (input, want) in cases {
            assert_eq!(
                rewritten(&format!("SELECT {input}")).unwrap(),
                format!("SELECT {want}"),
                "{input}"
            );
        }
        for (bad, code) in [
            ("'2024-13-01'::timestamp", "22007"),
            ("'soon'::date", "22007"),
            ("'maybe'::boolean", "22P02"),
        ] {
            assert_eq!(
                rewritten(&format!("SELECT {bad}")).unwrap_err().sqlstate(),
                code,
                "{bad}"
            );
        }
        // Columns are left to the engine.
        assert_eq!(rewritten("SELECT ts::date FROM t").unwrap(), "SELECT ts::DATE FROM t");
    }

    #[test]
    fn percentiles() {
        assert_eq!(
            rewritten("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t").unwrap(),
            "SELECT quantile_cont(x, 0.5) FROM t"
        );
    }

    #[test]
    fn grouping_and_sort_expressions_of_the_select_list_by_position() {
        assert_eq!(
            rewritten(
                "SELECT date_trunc('month', t.ts) AS ts, count(*) FROM t GROUP BY date_trunc('month', t.ts) \
                 ORDER BY date_trunc('month', t.ts) DESC"
            )
            .unwrap(),
            "SELECT date_trunc('month', t.ts) AS ts, count(*) FROM t GROUP BY 1 ORDER BY 1 DESC"
        );
        // Bare columns, other expressions and `*` stay.
        assert_eq!(
            rewritten("SELECT region, upper(x) FROM t GROUP BY region, upper(x), lower(x) ORDER BY region").unwrap(),
            "SELECT region, upper(x) FROM t GROUP BY region, 2, lower(x) ORDER BY region"
        );
        assert_eq!(
            rewritten("SELECT *, upper(x) FROM t ORDER BY upper(x)").unwrap(),
            "SELECT *, upper(x) FROM t ORDER BY upper(x)"
        );
        // Next to a wildcard, an output alias sorts by its expression.
        assert_eq!(
            rewritten("SELECT i.*, tc.relname AS tabrelname FROM i, tc ORDER BY tabrelname, i.x").unwrap(),
            "SELECT i.*, tc.relname AS tabrelname FROM i, tc ORDER BY tc.relname, i.x"
        );
        assert_eq!(
            rewritten("SELECT DISTINCT i.*, tc.relname AS n FROM i, tc ORDER BY n").unwrap(),
            "SELECT DISTINCT i.*, tc.relname AS n FROM i, tc ORDER BY n"
        );
    }
}
