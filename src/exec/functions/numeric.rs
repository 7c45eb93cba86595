//! PostgreSQL's rounding, where Polars rounds half to even or truncates.
//!
//! * `round(x [, n])` (called as `pg_round` by `sql::dialect`) rounds half
//!   away from zero at the n-th decimal, as PostgreSQL's numeric does
//!   (`round(2.5)` = 3, `round(0.125, 2)` = 0.13), also for a negative n
//!   (`round(1250, -2)` = 1300). redsql keeps numeric as double: the value is
//!   rounded as the decimal it prints as, so `round(2.675, 2)` is 2.68 as in
//!   PostgreSQL, not the 2.67 of binary arithmetic.
//! * `pg_int_round(x, even)`, which `sql::dialect` puts under a cast to an
//!   integer type: a float rounds as PostgreSQL casts, half away from zero
//!   as a numeric (`350.5::int` = 351), or half to even when `even` (the value
//!   was cast to float8 / real: `2.5::float8::int` = 2); other values pass
//!   through to the cast unchanged.

use polars::prelude::*;
use rust_decimal::prelude::{FromStr, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{at, out_name, rows};

/// `x` rounded half away from zero at decimal `n` (n < 0: left of the point).
fn round_at(x: f64, n: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let exact = if x.abs() < 1e15 {
        Decimal::from_str(&format!("{x}")).ok()
    } else {
        None // no fraction left to round at n >= 0; too wide for Decimal
    };
    match exact {
        Some(d) if n >= 0 => d
            .round_dp_with_strategy(n as u32, RoundingStrategy::MidpointAwayFromZero)
            .to_f64()
            .unwrap_or(x),
        Some(d) => {
            let scale = Decimal::from(10i64.pow(n.unsigned_abs().min(15)));
            ((d / scale).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero) * scale)
                .to_f64()
                .unwrap_or(x)
        }
        None if n >= 0 => x,
        None => {
            let scale = 10f64.powi(-n);
            (x / scale).round() * scale
        }
    }
}

/// The result type of `pg_round`: integers stay integers, the rest is double.
pub fn round_type(fields: &[Field]) -> PolarsResult<DataType> {
    Ok(match fields.first().map(|f| f.dtype()) {
        Some(dt) if dt.is_integer() => DataType::Int64,
        _ => DataType::Float64,
    })
}

pub fn round(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(matches!(cols.len(), 1 | 2), ComputeError: "round takes a number and optionally the decimals");
    let n_rows = rows(cols);
    let name = out_name(cols);
    let places = match cols.get(1) {
        Some(c) => Some(c.as_materialized_series().cast(&DataType::Int64)?.i64()?.clone()),
        None => None,
    };
    let place = |i: usize| -> Option<i32> {
        match &places {
            Some(p) => p.get(at(i, p.len())).map(|n| n.clamp(-30, 30) as i32),
            None => Some(0),
        }
    };
    if cols[0].dtype().is_integer() {
        let x = cols[0].as_materialized_series().cast(&DataType::Int64)?.i64()?.clone();
        let out: Int64Chunked = (0..n_rows)
            .map(|i| match (x.get(at(i, x.len())), place(i)) {
                (Some(v), Some(n)) if n < 0 => Some(round_at(v as f64, n) as i64),
                (Some(v), Some(_)) => Some(v),
                _ => None,
            })
            .collect();
        return Ok(out.with_name(name).into_column());
    }
    let x = cols[0]
        .as_materialized_series()
        .cast(&DataType::Float64)?
        .f64()?
        .clone();
    let out: Float64Chunked = (0..n_rows)
        .map(|i| match (x.get(at(i, x.len())), place(i)) {
            (Some(v), Some(n)) => Some(round_at(v, n)),
            _ => None,
        })
        .collect();
    Ok(out.with_name(name).into_column())
}

/// The result type of `pg_int_round`: its argument's.
pub fn same_type(fields: &[Field]) -> PolarsResult<DataType> {
    Ok(fields.first().map_or(DataType::Null, |f| f.dtype().clone()))
}

pub fn int_round(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 2, ComputeError: "pg_int_round takes a value and whether to round half to even");
    let c = &cols[0];
    if !c.dtype().is_float() {
        return Ok(c.clone());
    }
    let even = cols[1].bool()?.get(0).unwrap_or(false);
    let name = c.name().clone();
    let dtype = c.dtype().clone();
    let x = c.as_materialized_series().cast(&DataType::Float64)?;
    let out: Float64Chunked = x
        .f64()?
        .apply_values(if even { f64::round_ties_even } else { f64::round });
    Ok(out.into_series().cast(&dtype)?.with_name(name).into_column())
}

#[cfg(test)]
mod tests {
    use super::round_at;

    #[test]
    fn rounds_half_away_from_zero_as_decimals() {
        assert_eq!(round_at(2.5, 0), 3.0);
        assert_eq!(round_at(-2.5, 0), -3.0);
        assert_eq!(round_at(0.125, 2), 0.13);
        assert_eq!(round_at(2.675, 2), 2.68);
        assert_eq!(round_at(1250.0, -2), 1300.0);
        assert_eq!(round_at(-1249.9, -2), -1200.0);
        assert_eq!(round_at(1e20, 2), 1e20);
        assert!(round_at(f64::NAN, 1).is_nan());
    }
}
