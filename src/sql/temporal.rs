//! String literals compared with timestamp and date columns, read as
//! PostgreSQL reads them.
//!
//! PostgreSQL casts `'2024-01-01T00:00:00Z'` to the column's type when it is
//! compared with a `timestamp` column (the zone is dropped: `timestamp without
//! time zone` ignores it) or a `date` column (the time is dropped). Polars
//! converts only plain `YYYY-MM-DD[ HH:MM:SS]` strings and refuses the rest
//! ("cannot compare 'date/datetime/time' to a string value"), which is what
//! Grafana's `$__timeFilter` sends. Column types are known only once the
//! tables are resolved, so this runs at plan time, over comparisons of a
//! column with a string literal.

use std::ops::ControlFlow;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sqlparser::ast::{BinaryOperator, Expr, Query, Value, VisitMut, VisitorMut};

use crate::catalog::types::ColType;

/// Rewrites string literals compared with a column of type timestamp or date
/// (`type_of` names a column's type, if every table that has it agrees) into
/// the form Polars compares with that type.
pub fn normalize_literals(query: &mut Query, type_of: impl Fn(&str) -> Option<ColType>) {
    let _ = VisitMut::visit(query, &mut Normalize { type_of });
}

struct Normalize<F> {
    type_of: F,
}

impl<F: Fn(&str) -> Option<ColType>> Normalize<F> {
    fn column_type(&self, e: &Expr) -> Option<ColType> {
        let name = match e {
            Expr::Identifier(i) => &i.value,
            Expr::CompoundIdentifier(parts) => &parts.last()?.value,
            Expr::Nested(inner) => return self.column_type(inner),
            _ => return None,
        };
        (self.type_of)(name).filter(|t| matches!(t, ColType::Timestamp | ColType::Date))
    }
}

impl<F: Fn(&str) -> Option<ColType>> VisitorMut for Normalize<F> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        match e {
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                if let Some(ty) = self.column_type(left) {
                    rewrite(right, ty);
                } else if let Some(ty) = self.column_type(right) {
                    rewrite(left, ty);
                }
            }
            Expr::Between { expr, low, high, .. } => {
                if let Some(ty) = self.column_type(expr) {
                    rewrite(low, ty);
                    rewrite(high, ty);
                }
            }
            Expr::InList { expr, list, .. } => {
                if let Some(ty) = self.column_type(expr) {
                    list.iter_mut().for_each(|v| rewrite(v, ty));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    use BinaryOperator::*;
    matches!(op, Eq | NotEq | Lt | LtEq | Gt | GtEq)
}

fn rewrite(e: &mut Expr, ty: ColType) {
    let Expr::Value(v) = e else { return };
    let Value::SingleQuotedString(s) = &v.value else { return };
    if let Some(t) = parse_iso(s) {
        let text = match ty {
            ColType::Date => t.format("%Y-%m-%d").to_string(),
            _ => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
        };
        v.value = Value::SingleQuotedString(text);
    }
}

/// `YYYY-MM-DD`, optionally followed by `T` or a space, `HH:MM[:SS[.frac]]`
/// and a zone (`Z`, `+HH`, `+HH:MM`, `-HHMM`), which is dropped as
/// PostgreSQL drops it for `timestamp without time zone`.
pub fn parse_iso(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN));
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    if !valid_zone(zone) {
        return None;
    }
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    Some(date.and_time(time))
}

fn valid_zone(z: &str) -> bool {
    if z.is_empty() || z.eq_ignore_ascii_case("z") {
        return true;
    }
    let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
    matches!(digits.len(), 2 | 4) && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str, ty: ColType) -> String {
        let mut q = match crate::sql::parse(sql).unwrap().pop().unwrap() {
            sqlparser::ast::Statement::Query(q) => *q,
            _ => unreachable!(),
        };
        normalize_literals(&mut q, |c| (c == "ts").then_some(ty));
        q.to_string()
    }

    #[test]
    fn grafana_time_filter_drops_the_zone() {
        assert_eq!(
            run(
                "SELECT * FROM t WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-02-29T23:59:59.5+02:00'",
                ColType::Timestamp
            ),
            "SELECT * FROM t WHERE ts BETWEEN '2024-01-01 00:00:00' AND '2024-02-29 23:59:59.500'"
        );
        assert_eq!(
            run("SELECT * FROM t WHERE '2024-01-01T10:00' <= t.ts", ColType::Timestamp),
            "SELECT * FROM t WHERE '2024-01-01 10:00:00' <= t.ts"
        );
    }

    #[test]
    fn dates_keep_the_day_and_other_columns_are_untouched() {
        assert_eq!(
            run("SELECT * FROM t WHERE ts IN ('2024-01-01T10:00:00Z')", ColType::Date),
            "SELECT * FROM t WHERE ts IN ('2024-01-01')"
        );
        assert_eq!(
            run(
                "SELECT * FROM t WHERE name = '2024-01-01T00:00:00Z'",
                ColType::Timestamp
            ),
            "SELECT * FROM t WHERE name = '2024-01-01T00:00:00Z'"
        );
        // Not a timestamp: left for Polars to report.
        assert_eq!(
            run("SELECT * FROM t WHERE ts = '2024-01-01Tnoon'", ColType::Timestamp),
            "SELECT * FROM t WHERE ts = '2024-01-01Tnoon'"
        );
    }

    #[test]
    fn iso_forms() {
        assert!(parse_iso("2024-01-01").is_some());
        assert!(parse_iso("2024-01-01 10:00:00-0500").is_some());
        assert!(parse_iso("2024-01-01T10:00:00.123456Z").is_some());
        assert!(parse_iso("2024-13-01").is_none());
        assert!(parse_iso("2024-01-01T10:00:00+5").is_none());
    }
}
