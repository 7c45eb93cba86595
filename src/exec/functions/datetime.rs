//! Date and time functions as PostgreSQL computes them.
//!
//! * `date_trunc(unit, ts)`: microseconds … millennium; weeks start on Monday.
//! * `to_char(ts, template)`: the template patterns of PostgreSQL's
//!   "Template Patterns for Date/Time Formatting" table (YYYY, MM, DD, HH24,
//!   MI, SS, MS, US, Mon, Month, Dy, Day, AM, Q, DDD, IW, ...); text in
//!   double quotes is copied; the FM prefix drops padding.
//! * `to_timestamp(seconds)`: seconds since 1970-01-01 (fractions kept).
//!
//! Timestamps are redsql's `timestamp` (microseconds, no zone, UTC).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};
use polars::prelude::*;

use super::{at, out_name, rows};
use crate::catalog::types::parse_timestamp;

/// How one to_char pattern renders (given the text it matched).
type Render<'a> = &'a dyn Fn(&str) -> String;

pub const TIMESTAMP: DataType = DataType::Datetime(TimeUnit::Microseconds, None);

/// A column's values as microseconds since 1970 (dates at midnight; text
/// parsed as PostgreSQL reads a timestamp literal).
fn micros(c: &Column) -> PolarsResult<Vec<Option<i64>>> {
    let s = c.as_materialized_series();
    if let DataType::String = s.dtype() {
        return s
            .str()?
            .iter()
            .map(|v| {
                v.map(|t| {
                    parse_timestamp(t.trim())
                        .ok_or_else(|| polars_err!(ComputeError: "invalid input syntax for type timestamp: \"{t}\""))
                })
                .transpose()
            })
            .collect();
    }
    let ts = s.cast(&TIMESTAMP)?;
    Ok(ts.cast(&DataType::Int64)?.i64()?.iter().collect())
}

fn texts(c: &Column) -> PolarsResult<StringChunked> {
    Ok(c.as_materialized_series().cast(&DataType::String)?.str()?.clone())
}

fn to_naive(us: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(us).map(|t| t.naive_utc())
}

fn from_naive(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn output(name: PlSmallStr, values: Vec<Option<i64>>) -> PolarsResult<Column> {
    Ok(Int64Chunked::from_iter_options(name, values.into_iter())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column())
}

/// The start of the `unit` containing `t`.
fn truncate(unit: &str, t: NaiveDateTime) -> Option<NaiveDateTime> {
    let d = t.date();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
    let first = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).and_then(midnight);
    let floor_year = |n: i32| {
        // PostgreSQL's decades start at years divisible by 10, centuries and
        // millennia at year 1 (2001, 1001).
        let y = d.year();
        match n {
            10 => y.div_euclid(10) * 10,
            _ => (y - 1).div_euclid(n) * n + 1,
        }
    };
    match unit {
        "microseconds" | "microsecond" => Some(t),
        "milliseconds" | "millisecond" => t.with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000),
        "second" | "seconds" => t.with_nanosecond(0),
        "minute" | "minutes" => t.with_nanosecond(0)?.with_second(0),
        "hour" | "hours" => t.with_nanosecond(0)?.with_second(0)?.with_minute(0),
        "day" | "days" => midnight(d),
        "week" | "weeks" => midnight(d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64)),
        "month" | "months" => first(d.year(), d.month()),
        "quarter" => first(d.year(), (d.month() - 1) / 3 * 3 + 1),
        "year" | "years" => first(d.year(), 1),
        "decade" => first(floor_year(10), 1),
        "century" => first(floor_year(100), 1),
        "millennium" => first(floor_year(1000), 1),
        _ => None,
    }
}

pub fn date_trunc(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 2, ComputeError: "date_trunc takes a unit and a timestamp");
    let units = texts(&cols[0])?;
    let values = micros(&cols[1])?;
    let n = rows(cols);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (Some(unit), Some(us)) = (units.get(at(i, units.len())), values[at(i, values.len())]) else {
            out.push(None);
            continue;
        };
        let unit = unit.to_lowercase();
        let t = to_naive(us).ok_or_else(|| polars_err!(ComputeError: "timestamp out of range"))?;
        let truncated = truncate(&unit, t)
            .ok_or_else(|| polars_err!(ComputeError: "unit \"{unit}\" not recognized for type timestamp"))?;
        out.push(Some(from_naive(truncated)));
    }
    output(out_name(&cols[1..]), out)
}

pub fn to_timestamp(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 1, ComputeError: "to_timestamp(text, format) is not supported; use to_timestamp(seconds) or a cast");
    let secs = cols[0].as_materialized_series().cast(&DataType::Float64)?;
    let out = secs
        .f64()?
        .iter()
        .map(|v| {
            v.map(|s| {
                let us = (s * 1e6).round();
                if us.is_finite() && us.abs() < 9.2e18 {
                    Ok(us as i64)
                } else {
                    Err(polars_err!(ComputeError: "timestamp out of range: \"{s}\""))
                }
            })
            .transpose()
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    output(out_name(cols), out)
}

pub fn to_char(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 2, ComputeError: "to_char takes a value and a template");
    polars_ensure!(
        matches!(cols[0].dtype(), DataType::Date | DataType::Datetime(..) | DataType::String | DataType::Null),
        ComputeError: "to_char of {} values is not supported (only dates and timestamps)", cols[0].dtype()
    );
    let values = micros(&cols[0])?;
    let templates = texts(&cols[1])?;
    let n = rows(cols);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (Some(us), Some(tpl)) = (values[at(i, values.len())], templates.get(at(i, templates.len()))) else {
            out.push(None);
            continue;
        };
        let t = to_naive(us).ok_or_else(|| polars_err!(ComputeError: "timestamp out of range"))?;
        out.push(Some(format(t, tpl)));
    }
    Ok(StringChunked::from_iter_options(out_name(cols), out.into_iter()).into_column())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn cased(word: &str, pattern: &str) -> String {
    if pattern.chars().all(|c| c.is_ascii_uppercase()) {
        word.to_uppercase()
    } else if pattern.chars().skip(1).all(|c| c.is_ascii_lowercase()) && pattern.starts_with(char::is_uppercase) {
        word.to_string()
    } else {
        word.to_lowercase()
    }
}

/// Formats `t` by a PostgreSQL to_char template.
pub fn format(t: NaiveDateTime, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let dow = t.weekday().num_days_from_sunday() as usize;
    while !rest.is_empty() {
        let fill_mode = rest.starts_with("FM") || rest.starts_with("fm");
        if fill_mode {
            rest = &rest[2..];
        }
        let num = |v: i64, width: usize| {
            if fill_mode {
                v.to_string()
            } else {
                format!("{v:0width$}")
            }
        };
        let word = |w: &str, pattern: &str, width: usize| {
            let w = cased(w, pattern);
            if fill_mode {
                w
            } else {
                format!("{w:<width$}")
            }
        };
        // Longest patterns first, as PostgreSQL matches them.
        let patterns: [(&str, Render<'_>); 31] = [
            ("HH24", &|_| num(t.hour() as i64, 2)),
            ("HH12", &|_| num(hour12 as i64, 2)),
            ("HH", &|_| num(hour12 as i64, 2)),
            ("MI", &|_| num(t.minute() as i64, 2)),
            ("SSSS", &|_| num(t.num_seconds_from_midnight() as i64, 1)),
            ("SS", &|_| num(t.second() as i64, 2)),
            ("MS", &|_| num((t.nanosecond() / 1_000_000) as i64, 3)),
            ("US", &|_| num((t.nanosecond() / 1_000) as i64, 6)),
            ("AM", &|p| cased(if t.hour() < 12 { "AM" } else { "PM" }, p)),
            ("PM", &|p| cased(if t.hour() < 12 { "AM" } else { "PM" }, p)),
            ("A.M.", &|p| cased(if t.hour() < 12 { "A.M." } else { "P.M." }, p)),
            ("P.M.", &|p| cased(if t.hour() < 12 { "A.M." } else { "P.M." }, p)),
            ("YYYY", &|_| num(t.year() as i64, 4)),
            ("YYY", &|_| num((t.year() % 1000) as i64, 3)),
            ("YY", &|_| num((t.year() % 100) as i64, 2)),
            ("IYYY", &|_| num(t.iso_week().year() as i64, 4)),
            ("MONTH", &|p| word(MONTHS[t.month0() as usize], p, 9)),
            ("MON", &|p| cased(&MONTHS[t.month0() as usize][..3], p)),
            ("MM", &|_| num(t.month() as i64, 2)),
            ("DAY", &|p| word(DAYS[dow], p, 9)),
            ("DY", &|p| cased(&DAYS[dow][..3], p)),
            ("DDD", &|_| num(t.ordinal() as i64, 3)),
            ("DD", &|_| num(t.day() as i64, 2)),
            ("D", &|_| num(dow as i64 + 1, 1)),
            ("IW", &|_| num(t.iso_week().week() as i64, 2)),
            ("ID", &|_| num(t.weekday().number_from_monday() as i64, 1)),
            ("WW", &|_| num((t.ordinal0() / 7 + 1) as i64, 2)),
            ("Q", &|_| num((t.month0() / 3 + 1) as i64, 1)),
            ("CC", &|_| num(((t.year() - 1) / 100 + 1) as i64, 2)),
            ("J", &|_| num(t.date().num_days_from_ce() as i64 + 1_721_425, 1)),
            ("Y", &|_| num((t.year() % 10) as i64, 1)),
        ];
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            out.push_str(&quoted[..end]);
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        let upper = rest.to_ascii_uppercase();
        match patterns.iter().find(|(p, _)| upper.starts_with(p)) {
            Some((p, f)) => {
                out.push_str(&f(&rest[..p.len()]));
                rest = &rest[p.len()..];
            }
            None => {
                let c = rest.chars().next().expect("not empty");
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn truncates_like_postgres() {
        let t = at("2024-05-17 13:45:30.123456");
        let cases = [
            ("second", "2024-05-17 13:45:30"),
            ("minute", "2024-05-17 13:45:00"),
            ("hour", "2024-05-17 13:00:00"),
            ("day", "2024-05-17 00:00:00"),
            ("week", "2024-05-13 00:00:00"),
            ("month", "2024-05-01 00:00:00"),
            ("quarter", "2024-04-01 00:00:00"),
            ("year", "2024-01-01 00:00:00"),
            ("decade", "2020-01-01 00:00:00"),
            ("century", "2001-01-01 00:00:00"),
            ("millennium", "2001-01-01 00:00:00"),
        ];
        for (unit, want) in cases {
            assert_eq!(truncate(unit, t).unwrap(), at(want), "{unit}");
        }
        assert_eq!(truncate("milliseconds", t).unwrap(), at("2024-05-17 13:45:30.123"));
        assert!(truncate("fortnight", t).is_none());
    }

    #[test]
    fn formats_like_postgres() {
        let t = at("2024-03-05 07:08:09.012345");
        let cases = [
            ("YYYY-MM-DD HH24:MI:SS", "2024-03-05 07:08:09"),
            ("YYYY-MM", "2024-03"),
            ("Mon DD, YYYY", "Mar 05, 2024"),
            ("FMMonth FMDD", "March 5"),
            ("Month", "March    "),
            ("Day", "Tuesday  "),
            ("DY dy", "TUE tue"),
            ("HH12:MI AM", "07:08 AM"),
            ("\"Q\"Q YYYY", "Q1 2024"),
            ("MS US", "012 012345"),
            ("DDD IW D", "065 10 3"),
        ];
        for (tpl, want) in cases {
            assert_eq!(format(t, tpl), want, "{tpl}");
        }
    }
}
