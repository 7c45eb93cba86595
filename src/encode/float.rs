//! PostgreSQL's text form of float8 and float4: the shortest digits that
//! read back as the same value, chosen as PostgreSQL chooses them (Ryu,
//! which breaks an exact tie towards the even digit: 662936471232937.25 is
//! `662936471232937.2`; Rust's `Display` says `.3`), in fixed notation for
//! decimal exponents in [-4, 15) (float4: [-4, 6)) and as `1.5e-05`
//! otherwise; `NaN`, `Infinity`, `-Infinity`.

use std::borrow::Cow;

/// Decimal exponents (of the first digit) printed in fixed notation: [-4, this).
const FLOAT8_FIXED_BELOW: i32 = 15;
const FLOAT4_FIXED_BELOW: i32 = 6;

pub fn float8_text(v: f64) -> String {
    float8_str(v, &mut ryu::Buffer::new()).into_owned()
}

/// [`float8_text`], borrowed from `buf` in the common case (no allocation).
pub(super) fn float8_str(v: f64, buf: &mut ryu::Buffer) -> Cow<'_, str> {
    if let Some(s) = special(v) {
        return Cow::Borrowed(s);
    }
    // The shortest digits of v have decimal exponent e exactly when
    // 10^e <= |v| < 10^(e+1) taken as the doubles nearest those powers (a
    // shorter string between a power and the value would read back as the
    // double nearest the power), so the fixed range is a comparison. There
    // Ryu writes fixed notation itself, with ".0" after a whole number.
    let s = buf.format_finite(v);
    if v == 0.0 || (1e-4..1e15).contains(&v.abs()) {
        return Cow::Borrowed(s.strip_suffix(".0").unwrap_or(s));
    }
    Cow::Owned(postgres_form(s, FLOAT8_FIXED_BELOW))
}

pub fn float4_text(v: f32) -> String {
    if let Some(s) = special(v.into()) {
        return s.to_string();
    }
    postgres_form(ryu::Buffer::new().format_finite(v), FLOAT4_FIXED_BELOW)
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v.is_infinite() {
        Some(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        None
    }
}

/// Ryu's text of a finite value (`-1.5e-7`, `1e16`, `0.00012`, `100.0`) as
/// (negative, significant digits, decimal exponent of the first digit).
fn digits(ryu: &str) -> (bool, String, i32) {
    let (negative, s) = match ryu.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, ryu),
    };
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = [int, frac].concat();
    let lead = all.bytes().take_while(|&b| b == b'0').count();
    let significant = all[lead..].trim_end_matches('0');
    if significant.is_empty() {
        return (negative, "0".into(), 0);
    }
    (
        negative,
        significant.to_string(),
        exp + int.len() as i32 - 1 - lead as i32,
    )
}

/// Ryu's text rewritten in PostgreSQL's notation.
fn postgres_form(ryu: &str, fixed_below: i32) -> String {
    let (negative, digits, exp) = digits(ryu);
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if (-4..fixed_below).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        if exp.abs() < 10 {
            out.push('0');
        }
        out.push_str(&exp.abs().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{digits, float4_text, float8_text as f8};

    /// 662936471232937.25 exactly: halfway between ...937.2 and ...937.3.
    const TIE: f64 = f64::from_bits(0x4302_d77f_6703_0d4a);

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(f8(4.0), "4");
        assert_eq!(f8(0.1), "0.1");
        assert_eq!(f8(-2.5), "-2.5");
        assert_eq!(f8(1e15), "1e+15");
        assert_eq!(f8(123456789012345.0), "123456789012345");
        assert_eq!(f8(0.0001), "0.0001");
        assert_eq!(f8(0.00001), "1e-05");
        assert_eq!(f8(1.5e-300), "1.5e-300");
        assert_eq!(f8(-2.5e100), "-2.5e+100");
        assert_eq!(f8(f64::INFINITY), "Infinity");
        assert_eq!(f8(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(f8(f64::NAN), "NaN");
        assert_eq!(f8(-0.0), "-0");
        assert_eq!(f8(0.0), "0");
        // PostgreSQL 15: SELECT 662936471232937.25::float8 → 662936471232937.2
        assert_eq!(f8(TIE), "662936471232937.2");
        assert_eq!(float4_text(1234567.0), "1.234567e+06");
        assert_eq!(float4_text(123456.0), "123456");
        assert_eq!(float4_text(0.1), "0.1");
        assert_eq!(float4_text(-0.0), "-0");
        assert_eq!(float4_text(1e-5), "1e-05");
    }

    /// The exact decimal digits of `v`, and the exponent of the first.
    fn exact(v: f64) -> (String, i32) {
        let s = format!("{:.1100e}", v.abs());
        let (m, e) = s.split_once('e').unwrap();
        (m.replace('.', ""), e.parse().unwrap())
    }

    /// Against an independent rule, for random bit patterns, values next to
    /// every power of ten, and the whole fixed-notation range: the text
    /// reads back as the value, in the notation its exponent calls for,
    /// with as few digits as Rust's shortest form, and where the two differ
    /// the value lies exactly between them and ours ends in an even digit.
    #[test]
    fn float8_text_is_the_shortest_round_trip_rounded_to_even() {
        let mut values = vec![f64::MIN_POSITIVE, f64::MAX, f64::MIN, 5e-324, TIE];
        for e in -330..310 {
            let p: f64 = format!("1e{e}").parse().unwrap();
            for v in [
                p,
                f64::from_bits(p.to_bits().wrapping_sub(1)),
                f64::from_bits(p.to_bits() + 1),
            ] {
                values.extend([v, -v]);
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 1_000_000_000) as f64 / 1000.0);
            // Any mantissa, binary exponents -13..47: the fixed-notation range.
            values.push(f64::from_bits(
                (x & 0x800F_FFFF_FFFF_FFFF) | ((1010 + (x >> 20) % 60) << 52),
            ));
        }
        for v in values.into_iter().filter(|v| v.is_finite() && *v != 0.0) {
            let ours = f8(v);
            let back: f64 = ours.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{ours} for {v:e}");
            let (_, rust_digits, rust_exp) = digits(&format!("{v:e}"));
            assert_eq!(ours.contains('e'), !(-4..15).contains(&rust_exp), "{ours} for {v:e}");
            let (_, mine, my_exp) = digits(&ours.replace("e+", "e"));
            assert_eq!((mine.len(), my_exp), (rust_digits.len(), rust_exp), "{ours} vs {v:e}");
            if mine != rust_digits {
                let (exact, e) = exact(v);
                assert_eq!(e, my_exp);
                let rest = &exact[mine.len()..];
                assert!(
                    rest.starts_with('5') && rest[1..].bytes().all(|b| b == b'0'),
                    "{ours} vs {v:e}"
                );
                assert!(
                    (mine.as_bytes()[mine.len() - 1] - b'0').is_multiple_of(2),
                    "{ours} vs {v:e}"
                );
            }
        }
    }
}
