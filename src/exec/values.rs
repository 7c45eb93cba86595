//! How values are stored in Redis hashes, so they read back identically:
//! integers in decimal, floats in shortest round-trip form, `true`/`false`,
//! ISO 8601 dates and timestamps, NULL as an absent field, and the empty
//! string kept. Strings headed for a typed column must parse as that type
//! with the same parsers the read path uses.

use polars::prelude::*;
use sqlparser::ast::{Expr, UnaryOperator, Value};

use crate::catalog::types::{days_to_date, parse_bigint, parse_date, parse_double, parse_timestamp};
use crate::catalog::ColType;
use crate::error::{Error, Result};
use crate::sql::params::Param;

/// A query's rows in stored form, column by column.
pub fn encode_frame(frame: &DataFrame, columns: &[(String, ColType)]) -> Result<Vec<Vec<Option<String>>>> {
    if frame.width() != columns.len() {
        return Err(Error::Syntax(format!(
            "INSERT has {} expressions but {} target columns",
            frame.width(),
            columns.len()
        )));
    }
    frame
        .columns()
        .iter()
        .zip(columns)
        .map(|(c, (name, ty))| encode_column(c, *ty).map_err(|e| in_column(e, name)))
        .collect()
}

/// Constant VALUES rows in stored form, column by column.
pub fn encode_constants(
    rows: &[Vec<Expr>],
    columns: &[(String, ColType)],
    params: &[Param],
) -> Result<Vec<Vec<Option<String>>>> {
    let mut out = vec![Vec::with_capacity(rows.len()); columns.len()];
    for (r, row) in rows.iter().enumerate() {
        for (c, e) in row.iter().enumerate() {
            let (name, ty) = &columns[c];
            let value = match constant_text(e, params)? {
                None => None,
                Some(v) => Some(canonical(&v, *ty).ok_or_else(|| {
                    Error::Data(
                        "22P02",
                        format!(
                            "invalid input syntax for type {}: {v:?} (row {}, column \"{name}\")",
                            ty.sql_name(),
                            r + 1
                        ),
                    )
                })?),
            };
            out[c].push(value);
        }
    }
    Ok(out)
}

/// The text of a constant expression (None for NULL): literals, signed
/// numbers, casts and typed strings of literals, and bound parameters.
pub fn constant_text(e: &Expr, params: &[Param]) -> Result<Option<String>> {
    let not_constant = || Error::Unsupported(format!("{e} is not a constant"));
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Ok(Some(n.clone())),
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Ok(Some(s.clone())),
            Value::Boolean(b) => Ok(Some(b.to_string())),
            Value::Null => Ok(None),
            Value::Placeholder(_) => {
                let i = crate::sql::params::placeholder_index(e).ok_or_else(not_constant)?;
                // While planning there are no values yet: any parameter is a constant.
                if params.is_empty() {
                    return Ok(None);
                }
                let p = params
                    .get(i - 1)
                    .ok_or_else(|| Error::Data("08P01", format!("there is no parameter ${i}")))?;
                Ok(param_text(p))
            }
            _ => Err(not_constant()),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match constant_text(expr, params)? {
            Some(v) if !v.starts_with('-') => Ok(Some(format!("-{v}"))),
            _ => Err(not_constant()),
        },
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => constant_text(inner, params),
        Expr::TypedString(ts) => match &ts.value.value {
            Value::SingleQuotedString(s) => Ok(Some(s.clone())),
            _ => Err(not_constant()),
        },
        _ => Err(not_constant()),
    }
}

fn param_text(p: &Param) -> Option<String> {
    Some(match p {
        Param::Null(_) => return None,
        Param::Int(v) => v.to_string(),
        Param::Float(v) => crate::encode::float8_text(*v),
        Param::Bool(v) => v.to_string(),
        Param::Text(s) => s.clone(),
        Param::Date(d) => crate::encode::date_text(*d),
        Param::Timestamp(t) => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
    })
}

pub(super) fn in_column(e: Error, column: &str) -> Error {
    match e {
        Error::Data(code, msg) => Error::Data(code, format!("{msg} (column \"{column}\")")),
        other => other,
    }
}

/// Encode a column as the strings redsql stores: integers in decimal, floats
/// in shortest round-trip form, `true`/`false`, ISO 8601 dates and
/// timestamps; NULL is None (an absent field). Strings headed for a typed
/// column must parse as that type (22P02 otherwise).
pub fn encode_column(col: &Column, ty: ColType) -> Result<Vec<Option<String>>> {
    let s = col.as_materialized_series();
    if s.dtype() == &DataType::String && ty != ColType::Text {
        let ca = s.str()?;
        return ca
            .iter()
            .enumerate()
            .map(|(row, v)| match v {
                None => Ok(None),
                Some(v) => canonical(v, ty).map(Some).ok_or_else(|| {
                    Error::Data(
                        "22P02",
                        format!(
                            "invalid input syntax for type {}: {v:?} (row {})",
                            ty.sql_name(),
                            row + 1
                        ),
                    )
                }),
            })
            .collect();
    }
    let cast = s.strict_cast(&ty.polars_type()).map_err(|_| {
        Error::Data(
            "22P02",
            format!(
                "cannot store values of type {} in a {} column",
                s.dtype(),
                ty.sql_name()
            ),
        )
    })?;
    Ok(match ty {
        ColType::BigInt => cast.i64()?.iter().map(|v| v.map(|v| v.to_string())).collect(),
        ColType::Double => cast.f64()?.iter().map(|v| v.map(crate::encode::float8_text)).collect(),
        ColType::Boolean => cast.bool()?.iter().map(|v| v.map(|v| v.to_string())).collect(),
        ColType::Date => cast
            .cast(&DataType::Int32)?
            .i32()?
            .iter()
            .map(|v| v.and_then(days_to_date).map(crate::encode::date_text))
            .collect(),
        ColType::Timestamp => cast
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map(|us| crate::encode::timestamp_text(us, "").replacen(' ', "T", 1)))
            .collect(),
        ColType::Text => cast.str()?.iter().map(|v| v.map(str::to_string)).collect(),
    })
}

/// The stored form of a string value, or 22P02 naming the type. A value
/// already in stored form (text, whole-second timestamps and dates in ISO
/// form, plain integers: most of a typical CSV) is kept, not copied.
pub fn canonical_or_error(v: String, ty: ColType) -> Result<String> {
    let kept = match ty {
        ColType::Text => true,
        ColType::Timestamp => crate::catalog::types::is_whole_second_timestamp(&v),
        ColType::Date => crate::catalog::types::is_stored_date(&v),
        ColType::BigInt => parse_bigint(&v).is_some_and(|n| itoa::Buffer::new().format(n) == v),
        ColType::Double | ColType::Boolean => false,
    };
    if kept {
        let mut v = v;
        if ty == ColType::Timestamp {
            v.replace_range(10..11, "T");
        }
        return Ok(v);
    }
    canonical(&v, ty).ok_or_else(|| {
        Error::Data(
            "22P02",
            format!("invalid input syntax for type {}: {v:?}", ty.sql_name()),
        )
    })
}

/// The stored form of a string value for a typed column, if it is valid.
fn canonical(v: &str, ty: ColType) -> Option<String> {
    Some(match ty {
        ColType::BigInt => parse_bigint(v.trim())?.to_string(),
        ColType::Double => crate::encode::float8_text(parse_double(v.trim()).or_else(|| v.trim().parse().ok())?),
        ColType::Boolean => match v.trim().to_lowercase().as_str() {
            "t" | "true" | "yes" | "on" | "1" => "true".into(),
            "f" | "false" | "no" | "off" | "0" => "false".into(),
            _ => return None,
        },
        ColType::Date => {
            let d = parse_date(v.trim())?;
            crate::encode::date_text(days_to_date(d)?)
        }
        ColType::Timestamp => crate::encode::timestamp_text(parse_timestamp(v.trim())?, "").replacen(' ', "T", 1),
        ColType::Text => v.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeping a value that is already in stored form gives what the general
    /// rule (parse, then write the stored form) gives.
    #[test]
    fn kept_values_equal_the_general_rule() {
        let samples = [
            "2024-03-14 10:00:00",
            "2024-03-14T10:00:00",
            "0000-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "2024-02-30 00:00:00",
            "2024-01-01 24:00:00",
            "2024-03-14 10:00:00.5",
            " 2024-03-14 10:00:0",
            "2024-03-14",
            "2023-02-29",
            "0000-01-01",
            "0",
            "-0",
            "+5",
            "007",
            "-9223372036854775808",
            "9223372036854775808",
            " 12",
            "12 ",
            "1e3",
            "x",
            "",
        ];
        for ty in [ColType::BigInt, ColType::Date, ColType::Timestamp, ColType::Text] {
            for v in samples {
                let general = canonical(v, ty);
                let kept = canonical_or_error(v.to_string(), ty).ok();
                assert_eq!(kept, general, "{v:?} as {ty:?}");
            }
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (y, mo, d) = (x % 10_000, (x >> 14) % 14, (x >> 20) % 33);
            let (h, mi, s) = ((x >> 26) % 26, (x >> 31) % 61, (x >> 37) % 61);
            let t = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
            let n = ((x >> 3) as i64).to_string();
            for (v, ty) in [
                (t.as_str(), ColType::Timestamp),
                (&t[..10], ColType::Date),
                (n.as_str(), ColType::BigInt),
            ] {
                assert_eq!(
                    canonical_or_error(v.to_string(), ty).ok(),
                    canonical(v, ty),
                    "{v:?} as {ty:?}"
                );
            }
        }
    }
}
