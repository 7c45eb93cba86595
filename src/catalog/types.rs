//! The SQL types redsql reads Redis values as, and how a stored string parses
//! into each. The same parsers drive inference (which type fits a sample) and
//! reading (a value that does not parse reads as NULL and is reported).

use chrono::{NaiveDate, NaiveDateTime};
use pgwire::api::Type;
use polars::prelude::{DataType, TimeUnit};

/// A column type of a Redis-backed table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColType {
    BigInt,
    Double,
    Boolean,
    Date,
    Timestamp,
    Text,
}

/// Days between 0001-01-01 (CE day 1) and 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

impl ColType {
    /// Candidates for inference, most specific first (ties go to the first).
    pub const INFERABLE: [ColType; 5] = [
        ColType::BigInt,
        ColType::Double,
        ColType::Boolean,
        ColType::Date,
        ColType::Timestamp,
    ];

    /// The PostgreSQL name shown in `redsql.columns` and `information_schema`.
    pub fn sql_name(self) -> &'static str {
        match self {
            ColType::BigInt => "bigint",
            ColType::Double => "double precision",
            ColType::Boolean => "boolean",
            ColType::Date => "date",
            ColType::Timestamp => "timestamp without time zone",
            ColType::Text => "text",
        }
    }

    pub fn pg_type(self) -> Type {
        match self {
            ColType::BigInt => Type::INT8,
            ColType::Double => Type::FLOAT8,
            ColType::Boolean => Type::BOOL,
            ColType::Date => Type::DATE,
            ColType::Timestamp => Type::TIMESTAMP,
            ColType::Text => Type::TEXT,
        }
    }

    pub fn polars_type(self) -> DataType {
        match self {
            ColType::BigInt => DataType::Int64,
            ColType::Double => DataType::Float64,
            ColType::Boolean => DataType::Boolean,
            ColType::Date => DataType::Date,
            ColType::Timestamp => DataType::Datetime(TimeUnit::Microseconds, None),
            ColType::Text => DataType::String,
        }
    }

    /// Whether `s` is a valid value of this type.
    pub fn accepts(self, s: &str) -> bool {
        match self {
            ColType::BigInt => parse_bigint(s).is_some(),
            ColType::Double => parse_double(s).is_some(),
            ColType::Boolean => parse_bool(s).is_some(),
            ColType::Date => parse_date(s).is_some(),
            ColType::Timestamp => parse_timestamp(s).is_some(),
            ColType::Text => true,
        }
    }
}

/// Decimal integers as written by people and tools: optional sign, digits, no
/// leading zeros (so "02134" stays text and keeps its zero).
pub fn parse_bigint(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Decimal or scientific floats, plus PostgreSQL's `Infinity`, `-Infinity`
/// and `NaN` spellings. Hex, leading zeros and surrounding spaces are not numbers.
pub fn parse_double(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "infinity" | "inf" | "+infinity" | "+inf" => return Some(f64::INFINITY),
        "-infinity" | "-inf" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let first = body.bytes().next()?;
    if !(first.is_ascii_digit() || first == b'.') {
        return None;
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let int_part = body.split(['.', 'e', 'E']).next().unwrap_or("");
    if int_part.len() > 1 && int_part.starts_with('0') {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// A stored value of a double column, read the way RediSearch reads a
/// NUMERIC field (C `strtod` over the whole value, no surrounding space):
/// besides [`parse_double`]'s forms, `+5`, `05`, `5.`, hex `0x1A` and hex
/// floats `0x1p3`. Reading what the index reads is what lets a pushed-down
/// query agree with the scan path. (Inference stays strict: a column of
/// `02134`s is text.)
pub fn read_double(s: &str) -> Option<f64> {
    parse_double(s).or_else(|| strtod(s))
}

/// A stored value of a bigint column: [`parse_bigint`]'s forms, or any
/// number RediSearch reads (see [`read_double`]) that is integral and fits.
pub fn read_bigint(s: &str) -> Option<i64> {
    if let Some(v) = parse_bigint(s) {
        return Some(v);
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.strip_prefix('+').unwrap_or(s).parse().ok();
    }
    let v = strtod(s)?;
    (v.fract() == 0.0 && v.abs() < 9.223_372_036_854_776e18).then_some(v as i64)
}

/// C `strtod` over the whole string (finite results, or an explicit infinity).
fn strtod(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let sign = if neg { -1.0 } else { 1.0 };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(sign * f64::INFINITY);
    }
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        hex_float(hex)?
    } else {
        let ok = body.bytes().any(|b| b.is_ascii_digit())
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            && !body.starts_with(['+', '-']);
        if !ok {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    v.is_finite().then_some(sign * v)
}

/// `1A`, `1.8`, `1p3`, `a.bP-2` (after `0x`): up to 13 significant hex digits.
fn hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits = format!("{int}{frac}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > 13 {
        return None; // would need strtod's rounding; read as not a number
    }
    let m = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(digits, 16).ok()?
    };
    Some(m as f64 * 2f64.powi(exp - 4 * frac.len() as i32))
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "TRUE" | "True" | "t" => Some(true),
        "false" | "FALSE" | "False" | "f" => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i32> {
    if s.len() != 10 {
        return None;
    }
    let d = fast_date(s.as_bytes()).or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())?;
    Some(date_to_days(d))
}

/// `YYYY-MM-DD` with exactly these digits, without chrono's pattern parser;
/// None sends the text through the general parser.
fn fast_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(b, 0, 4)? as i32, digits(b, 5, 7)?, digits(b, 8, 10)?)
}

/// The decimal number in `b[from..to]`, all ASCII digits.
fn digits(b: &[u8], from: usize, to: usize) -> Option<u32> {
    b[from..to].iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Whether `s` is a valid date in the form redsql stores (`YYYY-MM-DD`).
pub fn is_stored_date(s: &str) -> bool {
    fast_date(s.as_bytes()).is_some()
}

/// Whether `s` is a valid timestamp in the form `YYYY-MM-DD[T ]HH:MM:SS`
/// (whole seconds: with `T`, the form redsql stores).
pub fn is_whole_second_timestamp(s: &str) -> bool {
    s.len() == 19 && fast_timestamp(s.as_bytes()).is_some()
}

pub fn date_to_days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE)
}

/// ISO 8601 timestamps (`T` or space, optional fraction) → microseconds since
/// the epoch. An offset (`Z`, `+02:00`) is converted to UTC. A bare date is midnight.
/// `YYYY-MM-DD[T ]HH:MM:SS[.fffffffff]`, the form redsql writes and most
/// tools do, without chrono's pattern parser; None sends the text through
/// the general parser (which accepts the same texts with the same values).
fn fast_timestamp(b: &[u8]) -> Option<i64> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| digits(b, from, to);
    let nanos = match b.len() {
        19 => 0,
        21..=29 if b[19] == b'.' => {
            let digits = b.len() - 20;
            num(20, b.len())? * 10u32.pow(9 - digits as u32)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?, nanos)?;
    Some(NaiveDateTime::new(date, time).and_utc().timestamp_micros())
}

pub fn parse_timestamp(s: &str) -> Option<i64> {
    fast_timestamp(s.as_bytes()).or_else(|| parse_timestamp_general(s))
}

fn parse_timestamp_general(s: &str) -> Option<i64> {
    if s.len() < 10 {
        return None;
    }
    if s.len() == 10 {
        return parse_date(s).map(|d| d as i64 * 86_400_000_000);
    }
    let b = s.as_bytes();
    if !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    let with_z = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'));
    if let Some(naive) = with_z {
        return parse_timestamp(naive).filter(|_| !naive.ends_with('Z'));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, fmt) {
            return Some(t.timestamp_micros());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_numbers_read_like_redisearch() {
        // Accepted by RediSearch 2.10 (measured): the same values here.
        for (s, v) in [
            ("5", 5.0),
            ("+5", 5.0),
            ("0x1A", 26.0),
            ("05", 5.0),
            ("5.", 5.0),
            (".5", 0.5),
            ("1E2", 100.0),
            ("1e308", 1e308),
            ("-0", 0.0),
            ("00", 0.0),
            ("0x1p3", 8.0),
            ("-0x1.8p1", -3.0),
        ] {
            assert_eq!(read_double(s), Some(v), "{s}");
        }
        assert_eq!(read_double("inf"), Some(f64::INFINITY));
        assert_eq!(read_double("-Infinity"), Some(f64::NEG_INFINITY));
        // Rejected by RediSearch (the document is not indexed): not numbers here either.
        for s in [
            "", " 7", "7 ", "1_0", "5e", "1e400", "abc", "12abc", "1,5", "0x", "+-5", "--5",
        ] {
            assert_eq!(read_double(s), None, "{s:?}");
        }
        assert_eq!(read_bigint("+5"), Some(5));
        assert_eq!(read_bigint("007"), Some(7));
        assert_eq!(read_bigint("1e2"), Some(100));
        assert_eq!(read_bigint("0x1A"), Some(26));
        assert_eq!(read_bigint("5.0"), Some(5));
        assert_eq!(read_bigint("5.5"), None);
        assert_eq!(read_bigint("9223372036854775807"), Some(i64::MAX));
        assert_eq!(read_bigint("1e300"), None);
    }

    #[test]
    fn integers_keep_leading_zero_strings_as_text() {
        assert_eq!(parse_bigint("42"), Some(42));
        assert_eq!(parse_bigint("-7"), Some(-7));
        assert_eq!(parse_bigint("0"), Some(0));
        assert_eq!(parse_bigint("02134"), None);
        assert_eq!(parse_bigint("+5"), None);
        assert_eq!(parse_bigint(" 5"), None);
        assert_eq!(parse_bigint("99999999999999999999"), None);
    }

    #[test]
    fn doubles() {
        assert_eq!(parse_double("1.5"), Some(1.5));
        assert_eq!(parse_double("-2e3"), Some(-2000.0));
        assert_eq!(parse_double(".5"), Some(0.5));
        assert_eq!(parse_double("0.25"), Some(0.25));
        assert_eq!(parse_double("Infinity"), Some(f64::INFINITY));
        assert!(parse_double("NaN").unwrap().is_nan());
        assert_eq!(parse_double("abc"), None);
        assert_eq!(parse_double("0x1A"), None);
        assert_eq!(parse_double("1,5"), None);
        assert_eq!(parse_double("007.5"), None);
        assert_eq!(parse_double("1e400"), None);
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(days_to_date(1), NaiveDate::from_ymd_opt(1970, 1, 2));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("f"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn the_fast_timestamp_path_agrees_with_chrono() {
        for t in [
            "2024-03-01 08:00:00",
            "2024-03-01T08:00:00.5",
            "1969-12-31 23:59:59.999999",
            "1969-12-31 23:59:59.9999999",
            "0001-01-01T00:00:00",
            "9999-12-31 23:59:59.123456789",
            "2024-02-30 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 23:59:60",
            "2024-01-01 1:00:00",
            "2024-01-01 10:00:00.",
            "2024-01-01 10:00:00.1234567890",
            "+024-01-01 10:00:00",
            "2024-01-01X10:00:00",
        ] {
            let chrono = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
                .map(|v| v.and_utc().timestamp_micros());
            let fast = super::fast_timestamp(t.as_bytes());
            assert!(fast.is_none() || fast == chrono, "{t}: fast {fast:?} chrono {chrono:?}");
            assert_eq!(super::parse_timestamp(t), super::parse_timestamp_general(t), "{t}");
        }
    }

    #[test]
    fn the_fast_date_path_agrees_with_chrono() {
        for d in [
            "2024-03-01",
            "0000-01-01",
            "0001-01-01",
            "9999-12-31",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-011",
            "+024-01-01",
            "2024-01-1x",
            "2024/01/01",
        ] {
            let chrono = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
            let fast = super::fast_date(d.as_bytes());
            assert!(fast.is_none() || fast == chrono, "{d}: fast {fast:?} chrono {chrono:?}");
            assert_eq!(super::parse_date(d), chrono.map(super::date_to_days), "{d}");
        }
    }
}
