//! Text-building functions clients call in their catalog queries:
//!
//! * `format(fmt, args...)`: `%s` (a value, NULL as nothing), `%I` (an
//!   identifier, quoted when needed; NULL is error 22004), `%L` (a literal,
//!   quoted; NULL as `NULL`), `%%`, and argument positions `%2$s`. Metabase
//!   names columns' types with `format('%s', udt_name)`.
//! * `json_build_object(k1, v1, ...)`: a JSON object as text, spaced as
//!   PostgreSQL prints it (`{"a" : 1, "b" : "x"}`). SQLAlchemy's column
//!   reflection asks for one per column's identity and collation options.

use polars::prelude::*;

use super::{at, out_name, rows};

/// Messages the error mapping recognises (`error.rs`).
pub const NULL_IDENTIFIER: &str = "null values cannot be formatted as an SQL identifier";
/// (Also `parse_ident`'s: all three are 22023 in PostgreSQL.)
pub const BAD_ARGUMENTS: &str = "invalid argument for format or json_build_object";

/// One argument of row `i` as PostgreSQL's text output would show it (None for NULL).
fn text_of(c: &Column, i: usize) -> PolarsResult<Option<String>> {
    let v = c.get(at(i, c.len()))?;
    Ok(match v {
        AnyValue::Null => None,
        AnyValue::Boolean(b) => Some(if b { "t" } else { "f" }.to_string()),
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        other => Some(other.to_string()),
    })
}

fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// `format(fmt, args...)` for one row.
fn format_one(fmt: &str, args: &[Option<String>]) -> PolarsResult<String> {
    let mut out = String::with_capacity(fmt.len());
    let mut chars = fmt.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // %[n$]type
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        let index = if !digits.is_empty() {
            polars_ensure!(chars.next() == Some('$'), ComputeError: "{BAD_ARGUMENTS}: unrecognized format() type specifier");
            let n: usize = digits.parse().unwrap_or(0);
            polars_ensure!(n > 0, ComputeError: "{BAD_ARGUMENTS}: format specifies argument 0, but arguments are numbered from 1");
            n - 1
        } else {
            next
        };
        let kind = chars.next();
        if kind == Some('%') && digits.is_empty() {
            out.push('%');
            continue;
        }
        let Some(kind @ ('s' | 'I' | 'L')) = kind else {
            polars_bail!(ComputeError: "{BAD_ARGUMENTS}: unrecognized format() type specifier \"{}\"",
                kind.map(String::from).unwrap_or_default());
        };
        let Some(arg) = args.get(index) else {
            polars_bail!(ComputeError: "{BAD_ARGUMENTS}: too few arguments for format()");
        };
        next = index + 1;
        match (kind, arg) {
            ('s', Some(v)) => out.push_str(v),
            ('s', None) => {}
            ('I', Some(v)) => out.push_str(&crate::sql::quote_ident_if_needed(v)),
            ('I', None) => polars_bail!(ComputeError: "{NULL_IDENTIFIER}"),
            ('L', Some(v)) => out.push_str(&quote_literal(v)),
            (_, None) => out.push_str("NULL"),
            _ => unreachable!("kinds matched above"),
        }
    }
    Ok(out)
}

pub fn format(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(!cols.is_empty(), ComputeError: "{BAD_ARGUMENTS}: format() needs a format string");
    let n = rows(cols);
    let mut out: Vec<Option<String>> = Vec::with_capacity(n);
    for i in 0..n {
        let Some(fmt) = text_of(&cols[0], i)? else {
            out.push(None);
            continue;
        };
        let args = cols[1..]
            .iter()
            .map(|c| text_of(c, i))
            .collect::<PolarsResult<Vec<_>>>()?;
        out.push(Some(format_one(&fmt, &args)?));
    }
    Ok(StringChunked::from_iter_options(out_name(cols), out.into_iter()).into_column())
}

fn json_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// A value as PostgreSQL's `to_json` writes it.
fn json_value(v: AnyValue<'_>, out: &mut String) {
    match v {
        AnyValue::Null => out.push_str("null"),
        AnyValue::Boolean(b) => out.push_str(if b { "true" } else { "false" }),
        AnyValue::String(s) => json_string(s, out),
        AnyValue::StringOwned(s) => json_string(&s, out),
        AnyValue::Float32(f) if f.is_finite() => out.push_str(&f.to_string()),
        AnyValue::Float64(f) if f.is_finite() => out.push_str(&f.to_string()),
        v if v.is_integer() => out.push_str(&v.to_string()),
        other => json_string(&other.to_string(), out),
    }
}

pub fn json_build_object(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len().is_multiple_of(2), ComputeError: "{BAD_ARGUMENTS}: json_build_object's argument list must have an even number of elements");
    let n = rows(cols);
    let mut out: Vec<String> = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = String::from("{");
        for (k, pair) in cols.chunks(2).enumerate() {
            let Some(key) = text_of(&pair[0], i)? else {
                polars_bail!(ComputeError: "{BAD_ARGUMENTS}: json_build_object's keys must not be null");
            };
            if k > 0 {
                s.push_str(", ");
            }
            json_string(&key, &mut s);
            s.push_str(" : ");
            json_value(pair[1].get(at(i, pair[1].len()))?, &mut s);
        }
        s.push('}');
        out.push(s);
    }
    let name = if cols.is_empty() {
        "json_build_object".into()
    } else {
        out_name(cols)
    };
    Ok(StringChunked::from_iter_values(name, out.into_iter()).into_column())
}

/// `strpos(s, sub)` and `position(sub IN s)`: the 1-based character
/// position of the first `sub` in `s`, 0 if none (Polars counts bytes).
pub fn strpos(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 2, ComputeError: "{BAD_ARGUMENTS}: strpos(text, text)");
    let n = rows(cols);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match (text_of(&cols[0], i)?, text_of(&cols[1], i)?) {
            (Some(s), Some(sub)) => Some(s.find(&sub).map_or(0, |b| s[..b].chars().count() as i32 + 1)),
            _ => None,
        });
    }
    Ok(Int32Chunked::from_iter_options(out_name(cols), out.into_iter()).into_column())
}

/// `string_to_array(s, delimiter [, null_string])` as PostgreSQL splits:
/// an empty string gives an empty array, a NULL delimiter one element per
/// character, an empty delimiter the whole string; elements equal to
/// `null_string` are NULL (`sql::dialect` calls it as `pg_string_to_array`,
/// Polars' own gives `{""}` for `''`).
pub fn string_to_array(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(matches!(cols.len(), 2 | 3), ComputeError: "{BAD_ARGUMENTS}: string_to_array(text, text [, text])");
    let n = rows(cols);
    let mut out: Vec<Option<Series>> = Vec::with_capacity(n);
    for i in 0..n {
        let Some(text) = text_of(&cols[0], i)? else {
            out.push(None);
            continue;
        };
        let parts: Vec<String> = match text_of(&cols[1], i)? {
            _ if text.is_empty() => Vec::new(),
            None => text.chars().map(String::from).collect(),
            Some(d) if d.is_empty() => vec![text],
            Some(d) => text.split(d.as_str()).map(str::to_string).collect(),
        };
        let null = match cols.get(2) {
            Some(c) => text_of(c, i)?,
            None => None,
        };
        let parts: Vec<Option<String>> = parts
            .into_iter()
            .map(|p| (Some(&p) != null.as_ref()).then_some(p))
            .collect();
        out.push(Some(Series::new("".into(), parts)));
    }
    let list: ListChunked = out.into_iter().collect();
    let list = list.cast(&DataType::List(Box::new(DataType::String)))?;
    Ok(list.with_name(out_name(cols)).into_column())
}

/// `parse_ident(s [, strict])`: a qualified identifier's parts, unquoted
/// ones folded to lower case (`'"Some".Tab'` → `{Some,tab}`); anything but
/// dot-separated identifiers is 22023, or with `strict` false ends the list.
pub fn parse_ident(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(matches!(cols.len(), 1 | 2), ComputeError: "{BAD_ARGUMENTS}: parse_ident(text [, strict boolean])");
    let n = rows(cols);
    let mut out: Vec<Option<Series>> = Vec::with_capacity(n);
    for i in 0..n {
        let strict = match cols.get(1) {
            Some(c) => text_of(c, i)?.as_deref() != Some("f"),
            None => true,
        };
        out.push(match text_of(&cols[0], i)? {
            None => None,
            Some(text) => Some(Series::new("".into(), ident_parts(&text, strict)?)),
        });
    }
    let list: ListChunked = out.into_iter().collect();
    let list = list.cast(&DataType::List(Box::new(DataType::String)))?;
    Ok(list.with_name(out_name(cols)).into_column())
}

fn ident_parts(text: &str, strict: bool) -> PolarsResult<Vec<String>> {
    let invalid = || polars_err!(ComputeError: "{BAD_ARGUMENTS}: string is not a valid identifier: \"{text}\"");
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut part = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next().ok_or_else(invalid)? {
                    '"' if chars.next_if_eq(&'"').is_some() => part.push('"'),
                    '"' => break,
                    c => part.push(c),
                }
            }
            if part.is_empty() {
                return Err(invalid());
            }
        } else {
            while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '$') {
                part.push(c.to_ascii_lowercase());
            }
            if part.is_empty() || part.starts_with(|c: char| c.is_ascii_digit() || c == '$') {
                return Err(invalid());
            }
        }
        parts.push(part);
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Ok(parts),
            Some('.') => {}
            Some(_) if !strict => return Ok(parts),
            Some(_) => return Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_specifiers() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(format_one("%s.%s", &[s("a"), s("b")]).unwrap(), "a.b");
        assert_eq!(
            format_one("%I.%I", &[s("public"), s("My Table")]).unwrap(),
            "public.\"My Table\""
        );
        assert_eq!(format_one("%L, %L", &[s("it's"), None]).unwrap(), "'it''s', NULL");
        assert_eq!(format_one("[%s] 100%%", &[None]).unwrap(), "[] 100%");
        assert_eq!(format_one("%2$s %1$s %s", &[s("a"), s("b"), s("c")]).unwrap(), "b a b");
        assert!(format_one("%I", &[None])
            .unwrap_err()
            .to_string()
            .contains(NULL_IDENTIFIER));
        assert!(format_one("%s %s", &[s("a")])
            .unwrap_err()
            .to_string()
            .contains("too few"));
        assert!(format_one("%d", &[s("1")])
            .unwrap_err()
            .to_string()
            .contains("type specifier"));
    }

    #[test]
    fn json_objects_as_postgres_prints_them() {
        let df = super::super::context()
            .execute(
                "SELECT json_build_object('a', 1, 'b', 'x\"y', 'c', NULL, 'd', true, 'e', 1.5) j, \
                 format('%I.%I', 'public', 'Sale') f",
            )
            .unwrap()
            .collect()
            .unwrap();
        let s = |c: &str| df.column(c).unwrap().str().unwrap().get(0).unwrap().to_string();
        assert_eq!(s("j"), r#"{"a" : 1, "b" : "x\"y", "c" : null, "d" : true, "e" : 1.5}"#);
        assert_eq!(s("f"), "public.\"Sale\"");
    }

    #[test]
    fn identifiers_parse_as_postgres_splits_them() {
        let p = |s: &str| super::ident_parts(s, true).map_err(|e| e.to_string());
        assert_eq!(p("\"SomeSchema\".someTable").unwrap(), vec!["SomeSchema", "sometable"]);
        assert_eq!(p(" a . \"b\"\"c\" ").unwrap(), vec!["a", "b\"c"]);
        assert!(p("a.").unwrap_err().contains("not a valid identifier"));
        assert!(p("a b").is_err());
        assert_eq!(super::ident_parts("a.b(1)", false).unwrap(), vec!["a", "b"]);
    }
}
