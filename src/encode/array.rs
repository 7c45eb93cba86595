//! Arrays on the wire: Polars list columns go out as PostgreSQL arrays
//! (`text[]`, `int8[]`, ...: `{a,b,"c d",NULL}` in text, the array send
//! format in binary), and the catalog's vector columns (`pg_index.indkey`,
//! `indoption`, `indclass`, `indcollation`) as `int2vector` / `oidvector`
//! (`1 2`), the form clients split on spaces.

use pgwire::api::Type;
use polars::prelude::DataType;

use crate::catalog::pg::vector_type_oid;

/// How an array's text form is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `{1,2,NULL}`, subscripts from 1.
    Braces,
    /// `1 2`, subscripts from 0 (`int2vector`, `oidvector`).
    Vector,
}

impl Form {
    /// The first subscript, as the binary form carries it.
    pub fn lower_bound(self) -> i32 {
        match self {
            Form::Braces => 1,
            Form::Vector => 0,
        }
    }
}

/// (element type, array type) for the arrays redsql encodes in both formats.
fn arrays() -> [(Type, Type); 11] {
    [
        (Type::BOOL, Type::BOOL_ARRAY),
        (Type::INT2, Type::INT2_ARRAY),
        (Type::INT4, Type::INT4_ARRAY),
        (Type::INT8, Type::INT8_ARRAY),
        (Type::FLOAT4, Type::FLOAT4_ARRAY),
        (Type::FLOAT8, Type::FLOAT8_ARRAY),
        (Type::DATE, Type::DATE_ARRAY),
        (Type::TIMESTAMP, Type::TIMESTAMP_ARRAY),
        (Type::TIMESTAMPTZ, Type::TIMESTAMPTZ_ARRAY),
        (Type::BYTEA, Type::BYTEA_ARRAY),
        (Type::TEXT, Type::TEXT_ARRAY),
    ]
}

/// The wire type of a list column of `inner` elements: an array of their
/// type; `text` for lists of lists, structs and types without a binary array
/// encoding here (they go out in Polars' text form, as before).
pub fn list_type(inner: &DataType) -> Type {
    if matches!(inner, DataType::Null) {
        return Type::TEXT_ARRAY;
    }
    if matches!(inner, DataType::List(_) | DataType::Struct(_)) {
        return Type::TEXT;
    }
    let elem = super::pg_type(inner);
    arrays()
        .into_iter()
        .find(|(e, _)| *e == elem)
        .map_or(Type::TEXT, |(_, a)| a)
}

/// The wire type of output column `name`: the catalog's vector columns
/// keep their PostgreSQL type while a query's output keeps their name
/// (`SELECT i.indkey` but not `i.indkey AS keys`, which goes out as an
/// array); everything else follows its Polars type.
pub fn column_type(name: &str, dt: &DataType) -> Type {
    match (dt, vector_type_oid(name).and_then(Type::from_oid)) {
        (DataType::List(inner), Some(vector)) if inner.is_integer() => vector,
        _ => super::pg_type(dt),
    }
}

/// The element type and text form of an array wire type (None for scalars).
pub fn element(ty: &Type) -> Option<(Type, Form)> {
    match *ty {
        Type::INT2_VECTOR => Some((Type::INT2, Form::Vector)),
        Type::OID_VECTOR => Some((Type::OID, Form::Vector)),
        _ => arrays()
            .into_iter()
            .find(|(_, a)| a == ty)
            .map(|(e, _)| (e, Form::Braces)),
    }
}

/// An array's text form from its elements' text forms (None for NULL):
/// `{a,"b c",NULL}`, quoting as PostgreSQL's `array_out` does; a vector is
/// its elements separated by spaces.
pub fn text(elements: impl Iterator<Item = Option<String>>, form: Form) -> String {
    let mut out = String::new();
    if form == Form::Braces {
        out.push('{');
    }
    for (i, e) in elements.enumerate() {
        if i > 0 {
            out.push(if form == Form::Braces { ',' } else { ' ' });
        }
        match e {
            None => out.push_str("NULL"),
            Some(s) if form == Form::Braces && needs_quotes(&s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            Some(s) => out.push_str(&s),
        }
    }
    if form == Form::Braces {
        out.push('}');
    }
    out
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars().any(|c| {
            matches!(
                c,
                '"' | '\\' | '{' | '}' | ',' | ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[Option<&str>], form: Form) -> String {
        text(v.iter().map(|s| s.map(str::to_string)), form)
    }

    #[test]
    fn text_form_quotes_like_array_out() {
        assert_eq!(t(&[Some("id"), Some("name")], Form::Braces), "{id,name}");
        assert_eq!(t(&[], Form::Braces), "{}");
        assert_eq!(
            t(
                &[Some(""), Some("a b"), Some("null"), None, Some("q\"\\"), Some("x,y")],
                Form::Braces
            ),
            r#"{"","a b","null",NULL,"q\"\\","x,y"}"#
        );
        assert_eq!(t(&[Some("1"), Some("2")], Form::Vector), "1 2");
        assert_eq!(t(&[], Form::Vector), "");
    }

    #[test]
    fn list_columns_map_to_array_types() {
        assert_eq!(list_type(&DataType::String), Type::TEXT_ARRAY);
        assert_eq!(list_type(&DataType::Int64), Type::INT8_ARRAY);
        assert_eq!(list_type(&DataType::Float64), Type::FLOAT8_ARRAY);
        assert_eq!(list_type(&DataType::List(Box::new(DataType::Int64))), Type::TEXT);
        let ints = DataType::List(Box::new(DataType::Int64));
        assert_eq!(column_type("indkey", &ints), Type::INT2_VECTOR);
        assert_eq!(column_type("indclass", &ints), Type::OID_VECTOR);
        assert_eq!(column_type("conkey", &ints), Type::INT8_ARRAY);
        assert_eq!(
            column_type("indkey", &DataType::List(Box::new(DataType::String))),
            Type::TEXT_ARRAY
        );
    }
}
