//! Query parameters (`$1`, `$2`, ...). Polars SQL has no placeholders, so each
//! one is replaced in the AST by a typed literal expression. Values never pass
//! through the query text: each literal is parsed on its own into one
//! expression node, so a value cannot change the query's structure.

use std::ops::ControlFlow;

use chrono::{NaiveDate, NaiveDateTime};
use pgwire::api::Type;
use sqlparser::ast::{Expr, LimitClause, Query, Value, VisitMut, VisitorMut};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Result};

/// A bound parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// NULL of the parameter's type.
    Null(Type),
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL type name Polars understands for a parameter type.
fn cast_name(ty: &Type) -> &'static str {
    match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 => "BIGINT",
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => "DOUBLE PRECISION",
        Type::BOOL => "BOOLEAN",
        Type::DATE => "DATE",
        Type::TIMESTAMP | Type::TIMESTAMPTZ => "TIMESTAMP",
        _ => "TEXT",
    }
}

impl Param {
    /// The literal as SQL text, parsed separately into a single expression.
    fn literal_sql(&self) -> String {
        match self {
            Param::Null(ty) => format!("CAST(NULL AS {})", cast_name(ty)),
            Param::Int(v) => v.to_string(),
            Param::Float(v) if v.is_finite() => {
                let s = format!("{v:?}");
                format!("CAST({s} AS DOUBLE PRECISION)")
            }
            Param::Float(v) => format!("CAST({} AS DOUBLE PRECISION)", quote(&v.to_string())),
            Param::Bool(v) => v.to_string(),
            Param::Text(s) => quote(s),
            Param::Date(d) => format!("CAST({} AS DATE)", quote(&d.format("%Y-%m-%d").to_string())),
            Param::Timestamp(t) => format!("TIMESTAMP {}", quote(&t.format("%Y-%m-%d %H:%M:%S%.f").to_string())),
        }
    }

    pub(crate) fn to_expr(&self) -> Result<Expr> {
        let sql = self.literal_sql();
        Parser::new(&GenericDialect {})
            .try_with_sql(&sql)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| Error::Internal(format!("cannot build literal {sql}: {e}")))
    }
}

/// The 1-based index of a `$n` placeholder (`$0` is none: there is no
/// parameter 0).
pub fn placeholder_index(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok().filter(|n: &usize| *n > 0),
            _ => None,
        },
        _ => None,
    }
}

/// Replace every `$n` in `query` by the literal of `params[n-1]`, and
/// `now()` by the time of this call (see `dialect::bind_clock_expr`).
pub fn bind(query: &mut Query, params: &[Param]) -> Result<()> {
    struct Binder<'a> {
        params: &'a [Param],
        now: chrono::NaiveDateTime,
        err: Option<Error>,
    }
    impl VisitorMut for Binder<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            super::dialect::bind_clock_expr(expr, self.now);
            // `$1::varchar` bound to NULL is `NULL::varchar`, not a cast of a
            // cast (which Polars refuses inside ARRAY[...]).
            if let Expr::Cast { expr: inner, .. } = expr {
                let i = placeholder_index(inner).unwrap_or(0);
                if let Some(Param::Null(_)) = self.params.get(i.wrapping_sub(1)) {
                    **inner = Expr::Value(Value::Null.with_empty_span());
                }
            }
            if let Some(i) = placeholder_index(expr) {
                match self.params.get(i.wrapping_sub(1)).map(Param::to_expr) {
                    Some(Ok(lit)) => *expr = lit,
                    Some(Err(e)) => {
                        self.err = Some(e);
                        return ControlFlow::Break(());
                    }
                    None => {
                        self.err = Some(Error::Data(
                            "08P01",
                            format!("there is no parameter ${i} ({} supplied)", self.params.len()),
                        ));
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            match row_counts(q) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    self.err = Some(e);
                    ControlFlow::Break(())
                }
            }
        }
    }
    let mut binder = Binder {
        params,
        now: chrono::Utc::now().naive_utc(),
        err: None,
    };
    let _ = VisitMut::visit(query, &mut binder);
    binder.err.map_or(Ok(()), Err)
}

/// `LIMIT $1` / `OFFSET $2` / `FETCH FIRST $1 ROWS` bound to text (psycopg 3
/// sends Python ints untyped), under a cast (`$1::INTEGER`, SQLAlchemy) or
/// NULL: PostgreSQL reads the text as a bigint and takes NULL as no limit
/// (no offset); Polars takes only a bare number.
fn row_counts(q: &mut Query) -> Result<()> {
    fn count(e: &Expr) -> Result<Option<Expr>> {
        // `$1::INTEGER` (SQLAlchemy) bound: the literal inside the cast.
        let mut lit = e;
        while let Expr::Cast { expr, .. } | Expr::Nested(expr) = lit {
            lit = expr;
        }
        let Expr::Value(v) = lit else {
            return Ok(Some(e.clone()));
        };
        match &v.value {
            Value::SingleQuotedString(s) => match s.trim().parse::<i64>() {
                Ok(n) => Ok(Some(Expr::Value(Value::Number(n.to_string(), false).with_empty_span()))),
                Err(_) => Err(Error::Data(
                    "22P02",
                    format!("invalid input syntax for type bigint: \"{s}\""),
                )),
            },
            Value::Null => Ok(None),
            Value::Number(..) => Ok(Some(lit.clone())),
            _ => Ok(Some(e.clone())),
        }
    }
    if let Some(LimitClause::LimitOffset { limit, offset, .. }) = &mut q.limit_clause {
        if let Some(l) = limit {
            *limit = count(l)?;
        }
        if let Some(o) = offset {
            match count(&o.value)? {
                Some(v) => o.value = v,
                None => *offset = None,
            }
        }
        if limit.is_none() && offset.is_none() {
            q.limit_clause = None;
        }
    }
    if let Some(f) = &mut q.fetch {
        if let Some(n) = &f.quantity {
            f.quantity = count(n)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;
    use sqlparser::dialect::PostgreSqlDialect;

    fn bound(sql: &str, params: &[Param]) -> String {
        let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        let Statement::Query(q) = &mut stmts[0] else { panic!() };
        bind(q, params).unwrap();
        q.to_string()
    }

    #[test]
    fn values_become_literals_not_text() {
        assert_eq!(
            bound("SELECT * FROM t WHERE a = $1", &[Param::Int(5)]),
            "SELECT * FROM t WHERE a = 5"
        );
        assert_eq!(
            bound("SELECT * FROM t WHERE a = $1", &[Param::Text("x' OR '1'='1".into())]),
            "SELECT * FROM t WHERE a = 'x'' OR ''1''=''1'"
        );
        assert_eq!(
            bound("SELECT $1, $2", &[Param::Null(Type::INT8), Param::Bool(true)]),
            "SELECT CAST(NULL AS BIGINT), true"
        );
    }

    #[test]
    fn row_counts_bound_as_text_or_null() {
        let text = |s: &str| Param::Text(s.into());
        assert_eq!(
            bound("SELECT * FROM t LIMIT $1 OFFSET $2", &[text("10"), text(" 5")]),
            "SELECT * FROM t LIMIT 10 OFFSET 5"
        );
        assert_eq!(
            bound("SELECT * FROM t LIMIT $1", &[Param::Null(Type::INT8)]),
            "SELECT * FROM t"
        );
        assert_eq!(
            bound(
                "SELECT * FROM t LIMIT $1 OFFSET $2",
                &[Param::Null(Type::TEXT), text("2")]
            ),
            "SELECT * FROM t OFFSET 2"
        );
        assert_eq!(
            bound("SELECT * FROM t LIMIT $1::INTEGER", &[Param::Int(4)]),
            "SELECT * FROM t LIMIT 4"
        );
        assert_eq!(
            bound(
                "SELECT ARRAY[$1::VARCHAR, $2::VARCHAR]",
                &[Param::Null(Type::TEXT), text("r")]
            ),
            "SELECT ARRAY[NULL::VARCHAR, 'r'::VARCHAR]"
        );
        assert_eq!(
            bound("SELECT * FROM t FETCH FIRST $1 ROWS ONLY", &[text("3")]),
            "SELECT * FROM t FETCH FIRST 3 ROWS ONLY"
        );
        let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, "SELECT 1 LIMIT $1").unwrap();
        let Statement::Query(q) = &mut stmts[0] else { panic!() };
        let err = bind(q, &[text("ten")]).unwrap_err();
        assert!(
            err.to_string().contains("invalid input syntax for type bigint"),
            "{err}"
        );
    }

    #[test]
    fn missing_parameter_is_an_error() {
        let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, "SELECT $2").unwrap();
        let Statement::Query(q) = &mut stmts[0] else { panic!() };
        assert!(bind(q, &[Param::Int(1)]).is_err());
    }
}
