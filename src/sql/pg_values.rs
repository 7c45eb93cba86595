//! PostgreSQL's value semantics where Polars SQL differs, on the parsed
//! tree (applied by `sql::dialect`, after output naming):
//!
//! * three-valued boolean tests: `x IS NOT TRUE` is true for a NULL `x`
//!   (Polars: NULL), `IS [NOT] FALSE` likewise, `IS [NOT] UNKNOWN` is
//!   `IS [NOT] NULL`;
//! * a cast to an integer type rounds a float as PostgreSQL casts
//!   (`pg_int_round`: half away from zero, as numeric does; half to even
//!   after a cast to float8/real); Polars truncates;
//! * functions Polars has under PostgreSQL's name with other results are
//!   called as redsql's own ([`pg_function`]): `round` (half away from zero,
//!   negative places), `strpos` and `position(a IN b)` (characters, not
//!   bytes), `string_to_array` (`''` is `{}`). See `exec::functions`.

use sqlparser::ast::{CastKind, DataType, Expr, Value};

use super::dialect::call;
use super::parse_expr;
use super::pg_compat::string_value;
use crate::error::Result;

pub fn rule(e: &Expr) -> Result<Option<Expr>> {
    Ok(match e {
        Expr::Cast {
            expr, data_type, kind, ..
        } if !matches!(kind, CastKind::TryCast | CastKind::SafeCast)
            && is_integer_type(data_type)
            && string_value(expr).is_none()
            && !matches!(expr.as_ref(), Expr::Value(_)) =>
        {
            // A float cast to an integer rounds: half to even from float8
            // (`x::float8::int`), half away from zero otherwise (numeric).
            Some(Expr::Cast {
                kind: kind.clone(),
                expr: Box::new(call(
                    "pg_int_round",
                    vec![
                        (**expr).clone(),
                        Expr::Value(Value::Boolean(is_float_cast(expr)).with_empty_span()),
                    ],
                )),
                data_type: data_type.clone(),
                array: false,
                format: None,
            })
        }
        // PostgreSQL's three-valued tests: NULL IS NOT TRUE is true.
        Expr::IsTrue(x) => Some(parse_expr(&format!("coalesce({x}, false)"))?),
        Expr::IsNotTrue(x) => Some(parse_expr(&format!("NOT coalesce({x}, false)"))?),
        Expr::IsFalse(x) => Some(parse_expr(&format!("NOT coalesce({x}, true)"))?),
        Expr::IsNotFalse(x) => Some(parse_expr(&format!("coalesce({x}, true)"))?),
        Expr::IsUnknown(x) => Some(Expr::IsNull(x.clone())),
        Expr::IsNotUnknown(x) => Some(Expr::IsNotNull(x.clone())),
        Expr::Position { expr, r#in } => Some(call("pg_strpos", vec![(**r#in).clone(), (**expr).clone()])),
        _ => None,
    })
}

/// redsql's own implementation of a PostgreSQL function that Polars SQL
/// has under the same name with other results (also for functions in FROM).
pub fn pg_function(name: &str) -> Option<&'static str> {
    match name {
        "string_to_array" => Some("pg_string_to_array"),
        "round" => Some("pg_round"),
        "strpos" => Some("pg_strpos"),
        _ => None,
    }
}

/// `x::float8`, `x::real`, ...: PostgreSQL casts those to integers rounding
/// half to even.
fn is_float_cast(e: &Expr) -> bool {
    match e {
        Expr::Nested(inner) => is_float_cast(inner),
        Expr::Cast { data_type, .. } => matches!(
            data_type,
            DataType::DoublePrecision
                | DataType::Double(_)
                | DataType::Float(_)
                | DataType::Float4
                | DataType::Float8
                | DataType::Float64
                | DataType::Float32
                | DataType::Real
        ),
        _ => false,
    }
}

fn is_integer_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int(_)
            | DataType::Integer(_)
            | DataType::BigInt(_)
            | DataType::SmallInt(_)
            | DataType::Int2(_)
            | DataType::Int4(_)
            | DataType::Int8(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str) -> String {
        let e = parse_expr(sql).unwrap();
        rule(&e).unwrap().map_or_else(|| e.to_string(), |n| n.to_string())
    }

    #[test]
    fn three_valued_tests_casts_and_positions() {
        assert_eq!(rw("g IS NOT TRUE"), "NOT coalesce(g, false)");
        assert_eq!(rw("g IS NOT FALSE"), "coalesce(g, true)");
        assert_eq!(rw("g IS UNKNOWN"), "g IS NULL");
        assert_eq!(rw("price::int"), "pg_int_round(price, false)::INT");
        assert_eq!(rw("2.5::float8::int"), "pg_int_round(2.5::FLOAT8, true)::INT");
        assert_eq!(rw("'42'::int"), "'42'::INT");
        assert_eq!(rw("position('@' IN email)"), "pg_strpos(email, '@')");
        assert_eq!(pg_function("round"), Some("pg_round"));
    }
}
