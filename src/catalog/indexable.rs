//! Which stored values a RediSearch index built by CREATE INDEX can hold.
//!
//! RediSearch leaves a whole document out of an index when one of its
//! NUMERIC fields does not parse (§0 of the measured RediSearch semantics),
//! and a TAG field with redsql's separator splits a value holding that
//! character. CREATE INDEX reads every value of the columns it indexes first
//! and refuses to build an index that would miss rows or match them wrongly.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::index::EXACT_SEPARATOR;
use super::{ColType, TableInfo, STORAGE_JSON};
use crate::error::{Error, Result};
use crate::store::Store;

/// Whether RediSearch indexes `s` as a NUMERIC hash field value: what C
/// `strtod` reads in full with no surrounding whitespace, except NaN and
/// values out of range (overflow to infinity, or underflow to zero).
/// Measured on RediSearch 2.10: `5`, `+5`, `05`, `5.`, `.5`, `1E2`, `0x1A`,
/// `0x1p3`, `inf`, `-Infinity`, `1e-320` are indexed; `nan`, ``, ` 7`, `7 `,
/// `1_0`, `5e`, `0x`, `1e400`, `1e-400`, `abc` leave the document out.
pub fn redisearch_number(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return true;
    }
    match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        // `0x` with no hex digit after it reads as `0` followed by junk.
        Some(hex) if hex_syntax(hex).is_some() => hex_in_range(hex),
        _ => decimal_number(body),
    }
}

/// `digits[.digits]` with at least one digit, then an optional exponent
/// (`e`/`p` and a signed decimal integer); the mantissa's digits and the
/// exponent text, or None when `s` is not exactly that.
fn split_number(s: &str, is_digit: fn(u8) -> bool, exp: u8) -> Option<(Vec<u8>, usize, Option<&str>)> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut digits = Vec::new();
    let mut frac = 0;
    let mut dot = false;
    while i < b.len() {
        match b[i] {
            c if is_digit(c) => {
                digits.push(c);
                frac += dot as usize;
            }
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    if i == b.len() {
        return Some((digits, frac, None));
    }
    if !b[i].eq_ignore_ascii_case(&exp) {
        return None;
    }
    let e = &s[i + 1..];
    let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
    if unsigned.is_empty() || !unsigned.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((digits, frac, Some(e)))
}

fn decimal_number(s: &str) -> bool {
    let Some((digits, _, _)) = split_number(s, |c| c.is_ascii_digit(), b'e') else {
        return false;
    };
    // Rust rounds decimal text exactly like glibc's strtod.
    let Ok(v) = s.parse::<f64>() else { return false };
    v.is_finite() && (v != 0.0 || digits.iter().all(|&d| d == b'0'))
}

fn hex_syntax(s: &str) -> Option<(Vec<u8>, usize, Option<&str>)> {
    split_number(s, |c| c.is_ascii_hexdigit(), b'p')
}

/// A hex float (after `0x`) is in range: not rounded to infinity, and not
/// rounded to zero unless it is zero.
fn hex_in_range(s: &str) -> bool {
    let Some((digits, frac, exp)) = hex_syntax(s) else {
        return false;
    };
    let bits: Vec<bool> = digits
        .iter()
        .flat_map(|&d| {
            let v = (d as char).to_digit(16).unwrap_or(0);
            (0..4).rev().map(move |k| v >> k & 1 == 1)
        })
        .skip_while(|b| !b)
        .collect();
    if bits.is_empty() {
        return true; // zero, whatever the exponent
    }
    let p: i64 = exp.map_or(0, |e| {
        let neg = e.starts_with('-');
        let mag = e
            .trim_start_matches(['+', '-'])
            .bytes()
            .fold(0i64, |acc, c| (acc * 10 + i64::from(c - b'0')).min(1 << 40));
        if neg {
            -mag
        } else {
            mag
        }
    });
    // The value lies in [2^top, 2^(top+1)).
    let top = (bits.len() as i64 - 1) - 4 * frac as i64 + p;
    match top {
        t if t > 1023 => false,
        // Rounds up to 2^1024 when the 53 kept bits are all ones and the next is one.
        1023 => !(bits.len() > 53 && bits[..54].iter().all(|&b| b)),
        // Exactly 2^-1075 ties to even, which is zero; anything above rounds up.
        -1075 => bits.iter().skip(1).any(|&b| b),
        t => t > -1075,
    }
}

/// Why a column's values keep it out of an index: how many and one example.
#[derive(Debug, Default)]
struct Bad {
    count: u64,
    example: Option<(String, String)>,
}

/// What a column holds, as far as the index is concerned.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Number,
    Tag,
}

/// Read every value of `columns` and refuse (22P02) when one would be left
/// out of the index or split into several tags.
pub async fn check_values(store: &Store, table: &TableInfo, columns: &[(String, ColType)]) -> Result<()> {
    let kinds: Vec<Kind> = columns
        .iter()
        .map(|(_, t)| if *t == ColType::Text { Kind::Tag } else { Kind::Number })
        .collect();
    let names: Vec<String> = columns.iter().map(|(c, _)| c.clone()).collect();
    let json = table.storage == STORAGE_JSON;
    let mut bad: HashMap<usize, Bad> = HashMap::new();
    let mut note = |i: usize, key: &[u8], value: String| {
        let b = bad.entry(i).or_default();
        b.count += 1;
        b.example
            .get_or_insert_with(|| (String::from_utf8_lossy(key).into_owned(), value));
    };
    let mut batches = store.scan_table_keys(&table.prefix, table.redis_type());
    while let Some(keys) = batches.recv().await {
        let keys = keys?;
        if json {
            for (key, doc) in keys.iter().zip(store.json_mget(&keys).await?) {
                let Some(doc) = doc else { continue };
                for (i, name) in names.iter().enumerate() {
                    if let Some(v) = doc.get(name).filter(|v| !json_ok(v, kinds[i])) {
                        note(i, key, v.to_string());
                    }
                }
            }
        } else {
            let (reply, present) = store.hmget_rows(&keys, &names).await?;
            for ((key, row), is_row) in keys.iter().zip(reply.frames()).zip(present) {
                if !is_row {
                    continue;
                }
                for (i, v) in row.elements().enumerate() {
                    if let Some(b) = v.bytes() {
                        let s = String::from_utf8_lossy(b);
                        if !hash_ok(&s, kinds[i]) {
                            note(i, key, format!("{s:?}"));
                        }
                    }
                }
            }
        }
    }
    let Some((i, b)) = (0..columns.len()).find_map(|i| bad.remove(&i).map(|b| (i, b))) else {
        return Ok(());
    };
    let (key, value) = b.example.unwrap_or_default();
    let n = b.count;
    let values = if n == 1 { "value" } else { "values" };
    let what = match (kinds[i], json) {
        (Kind::Number, false) => format!("{n} {values} RediSearch cannot index as numbers"),
        (Kind::Number, true) => format!("{n} {values} that are not JSON numbers, which RediSearch cannot index as numbers"),
        (Kind::Tag, false) => format!("{n} {values} holding the character U+001F, which the index uses to separate tags"),
        (Kind::Tag, true) => format!(
            "{n} {values} that are not JSON strings or booleans (or hold U+001F), which RediSearch cannot index as one tag"
        ),
    };
    let effect = match kinds[i] {
        Kind::Number => "an index would leave those rows out",
        Kind::Tag => "an index would leave those rows out or match them wrongly",
    };
    let others: Vec<String> = bad.keys().map(|&j| format!("\"{}\"", names[j])).collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!(" (columns {} have such values too)", others.join(", "))
    };
    Err(Error::Data(
        "22P02",
        format!(
            "column \"{}\" has {what} (e.g. key {key}: {value}); {effect}. \
             Fix or delete them, or leave the column out of the index{also}",
            names[i]
        ),
    ))
}

fn hash_ok(s: &str, kind: Kind) -> bool {
    match kind {
        Kind::Number => redisearch_number(s),
        Kind::Tag => !s.contains(EXACT_SEPARATOR),
    }
}

/// JSON null reads as NULL and is indexed as such; numbers go to NUMERIC
/// fields, strings and booleans to TAG fields (a number, an object or an
/// array there leaves the document out or indexes several tags).
fn json_ok(v: &Json, kind: Kind) -> bool {
    match (v, kind) {
        (Json::Null, _) => true,
        (Json::Number(_), Kind::Number) => true,
        (Json::String(s), Kind::Tag) => !s.contains(EXACT_SEPARATOR),
        (Json::Bool(_), Kind::Tag) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_redisearch_indexes() {
        // Each of these was indexed by RediSearch 2.10.5 (HSET, then FT.SEARCH).
        for s in [
            "5",
            "+5",
            "-5",
            "0x1A",
            "0X1A",
            "05",
            "00",
            "-0",
            "5.",
            ".5",
            "-.5",
            "1E2",
            "1e+2",
            "1e0001",
            "1.5e-3",
            "inf",
            "INF",
            "+inf",
            "-inf",
            "infinity",
            "-Infinity",
            "inFiNiTy",
            "0x1p3",
            "0x1.8p1",
            "0x.8p1",
            "0x1.p1",
            "0xAbC.dEf",
            "1e308",
            "1e-320",
            "3e-324",
            "2.4703282292062328e-324",
            "0e-400",
            "0e99999999999999999999",
            "0.0000",
            "0x0p99999",
            "0x1P-1074",
            "0x1.000001p-1075",
            "0x1p1023",
            "0x1.fffffffffffff7p1023",
        ] {
            assert!(redisearch_number(s), "{s:?} should be indexable");
        }
    }

    #[test]
    fn numbers_redisearch_leaves_out() {
        // Each of these made RediSearch 2.10.5 leave the document out.
        for s in [
            "nan",
            "-nan",
            "nan(123)",
            "",
            " 7",
            "7 ",
            "\t5",
            "5\t",
            "1_0",
            "1,5",
            "5e",
            "5x",
            "1e400",
            "-1e400",
            "1.7976931348623159e308",
            "1e99999999999999999999",
            "1e-400",
            "1e-324",
            "2.4703282292062327e-324",
            "1e-99999999999999999999",
            "abc",
            "12abc",
            "0x",
            "0x.p1",
            "0x1p",
            "0x1g",
            "00x1",
            "0b1",
            ".",
            "-",
            "+",
            "+-5",
            "1e5.5",
            "1.2.3",
            "infinit",
            "infinityx",
            "0x1p-1075",
            "0x1p1024",
            "0x1.fffffffffffff8p1023",
            "٣",
        ] {
            assert!(!redisearch_number(s), "{s:?} should not be indexable");
        }
    }

    #[test]
    fn json_values_by_kind() {
        let j = |s: &str| serde_json::from_str::<Json>(s).unwrap();
        assert!(json_ok(&j("5"), Kind::Number) && json_ok(&j("null"), Kind::Number));
        for bad in [r#""7""#, "true", "[1,2]", "{}"] {
            assert!(!json_ok(&j(bad), Kind::Number), "{bad}");
        }
        assert!(json_ok(&j(r#""x""#), Kind::Tag) && json_ok(&j("true"), Kind::Tag));
        for bad in ["5", r#"["a"]"#, "[]", r#"{"a":1}"#, r#""a\u001fb""#] {
            assert!(!json_ok(&j(bad), Kind::Tag), "{bad}");
        }
        assert!(hash_ok("", Kind::Tag) && !hash_ok("a\u{1f}b", Kind::Tag));
        assert!(!hash_ok("", Kind::Number));
    }
}
