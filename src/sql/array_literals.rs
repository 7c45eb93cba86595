//! Arrays written as text and compared with ALL / ANY (part of
//! [`super::arrays`]' rules):
//!
//! * `'{a,"b c",NULL}'::text[]` → `ARRAY['a', 'b c', NULL]` (elements cast to
//!   the element type unless it is text);
//! * `x <> ALL (ARRAY[..])` → `x NOT IN (..)`, `x = ANY (ARRAY[..])` → `x IN (..)`.

use sqlparser::ast::{Array, ArrayElemTypeDef, BinaryOperator, CastKind, DataType, Expr, Value};

use super::pg_compat::null;

/// `'{a,b}'::text[]` → `ARRAY['a', 'b']` (elements cast to the element
/// type unless it is text); None when the text is not a one-dimensional array.
pub(super) fn array_text_literal(inner: &Expr, data_type: &DataType) -> Option<Expr> {
    let text = super::pg_compat::string_value(inner)?;
    let elem = match data_type {
        DataType::Array(ArrayElemTypeDef::SquareBracket(t, _) | ArrayElemTypeDef::AngleBracket(t)) => t.as_ref(),
        _ => return None,
    };
    let is_text = matches!(elem, DataType::Text | DataType::Varchar(_) | DataType::String(_));
    let elements = parse_array_text(text)?
        .into_iter()
        .map(|v| match v {
            None => null(),
            Some(v) => {
                let lit = Expr::Value(Value::SingleQuotedString(v).with_empty_span());
                if is_text {
                    lit
                } else {
                    Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(lit),
                        data_type: elem.clone(),
                        array: false,
                        format: None,
                    }
                }
            }
        })
        .collect();
    Some(Expr::Array(Array {
        elem: elements,
        named: true,
    }))
}

/// The elements of an array's text form (`{a,"b \"c\"",NULL}`), None if malformed or nested.
fn parse_array_text(s: &str) -> Option<Vec<Option<String>>> {
    let body = s.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    let mut chars = body.chars().peekable();
    if body.trim().is_empty() {
        return Some(out);
    }
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut v = String::new();
        let quoted = chars.next_if_eq(&'"').is_some();
        if quoted {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => v.push(chars.next()?),
                    c => v.push(c),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                match c {
                    '{' | '}' | '"' => return None,
                    '\\' => v.push(chars.next()?),
                    c => v.push(c),
                }
            }
            v = v.trim_end().to_string();
        }
        out.push((quoted || !v.eq_ignore_ascii_case("null")).then_some(v));
        match chars.next() {
            None => return Some(out),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// `x <> ALL (ARRAY[..])` → `x NOT IN (..)`, `x = ANY (ARRAY[..])` → `x IN (..)`
/// (over no elements: false for ANY, true for ALL).
pub(super) fn in_list(left: &Expr, op: &BinaryOperator, right: &Expr, all: bool) -> Option<Expr> {
    let right = match right {
        Expr::Nested(inner) => inner.as_ref(),
        other => other,
    };
    let Expr::Array(Array { elem, .. }) = right else {
        return None;
    };
    let negated = match (op, all) {
        (BinaryOperator::NotEq, true) => true,
        (BinaryOperator::Eq, false) => false,
        _ => return None,
    };
    if elem.is_empty() {
        return Some(Expr::Value(Value::Boolean(negated).with_empty_span()));
    }
    Some(Expr::InList {
        expr: Box::new(left.clone()),
        list: elem.clone(),
        negated,
    })
}
