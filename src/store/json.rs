//! RedisJSON documents as rows: batched reads with `JSON.MGET key... $` and
//! the mapping from a document to column values.
//!
//! A document's columns are its scalar fields; nested objects flatten to
//! dotted names at any depth (`{"address": {"city": "Oslo"}}` gives
//! `address.city`); arrays are one column holding their compact JSON text.
//! A value is read as text: strings as their content, numbers as JSON writes
//! them (`42`, `2.5`, `1e300`), booleans as `true`/`false`; JSON null and an
//! absent field are both NULL. The typed column readers then parse that text
//! exactly as they parse hash fields.

use redis::Value;
use serde_json::Value as Json;

use super::Store;
use crate::error::{Error, Result};

/// The Redis type name of a RedisJSON document (`TYPE key`, `SCAN ... TYPE`).
pub const JSON_TYPE: &str = "ReJSON-RL";

impl Store {
    /// Whether the RedisJSON module is loaded (`COMMAND INFO` knows JSON.SET).
    pub async fn has_json(&self) -> bool {
        match self
            .query::<Value>(redis::cmd("COMMAND").arg("INFO").arg("JSON.SET"))
            .await
        {
            Ok(Value::Array(v)) => v.first().is_some_and(|c| !matches!(c, Value::Nil)),
            _ => false,
        }
    }

    /// The documents at `keys` in one `JSON.MGET` (None: gone or not a document).
    pub async fn json_mget(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Json>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let reply: Value = self.query(redis::cmd("JSON.MGET").arg(keys).arg("$")).await?;
        let items = match reply {
            Value::Array(v) | Value::Set(v) => v,
            other => return Err(Error::Redis(format!("unexpected JSON.MGET reply {other:?}"))),
        };
        items
            .into_iter()
            .map(|v| match v {
                Value::BulkString(b) => {
                    // With a `$` path every document comes wrapped in a one-element array.
                    let parsed: Json = serde_json::from_slice(&b)
                        .map_err(|e| Error::Redis(format!("JSON.MGET returned invalid JSON: {e}")))?;
                    Ok(match parsed {
                        Json::Array(mut a) if a.len() == 1 => a.pop(),
                        _ => None,
                    })
                }
                _ => Ok(None),
            })
            .collect()
    }

    /// The values of `fields` (column names, dotted for nested fields) of every
    /// document, shaped like [`Store::hmget_batch`]: None for a key that is
    /// gone, and per field a bulk string or Nil.
    pub async fn json_fields_batch(&self, keys: &[Vec<u8>], fields: &[String]) -> Result<Vec<Option<Vec<Value>>>> {
        if fields.is_empty() {
            return Ok(keys.iter().map(|_| Some(Vec::new())).collect());
        }
        Ok(self
            .json_mget(keys)
            .await?
            .into_iter()
            .map(|doc| {
                doc.map(|doc| {
                    fields
                        .iter()
                        .map(|f| match lookup(&doc, f).and_then(render) {
                            Some(s) => Value::BulkString(s.into_bytes()),
                            None => Value::Nil,
                        })
                        .collect()
                })
            })
            .collect())
    }

    /// Every document flattened to (column, value text) pairs, for inference.
    pub async fn json_flat_batch(&self, keys: &[Vec<u8>]) -> Result<Vec<Vec<(Vec<u8>, Vec<u8>)>>> {
        Ok(self
            .json_mget(keys)
            .await?
            .into_iter()
            .map(|doc| {
                let mut out = Vec::new();
                if let Some(doc) = doc {
                    flatten(&doc, "", &mut out);
                }
                out.into_iter().map(|(k, v)| (k.into_bytes(), v.into_bytes())).collect()
            })
            .collect())
    }
}

/// The (dotted name, value text) pairs of a document's columns, in document
/// order. Nulls are left out (they read like absent fields); an empty object
/// gives no column.
pub fn flatten(v: &Json, prefix: &str, out: &mut Vec<(String, String)>) {
    let Json::Object(map) = v else {
        return;
    };
    for (k, v) in map {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Json::Object(_) => flatten(v, &name, out),
            other => {
                if let Some(s) = render(other) {
                    out.push((name, s));
                }
            }
        }
    }
}

/// The value of column `name` in a document: the field of that exact name,
/// or else a nested one, `a.b.c` being tried as `a` → `b.c`, then `a.b` → `c`.
pub fn lookup<'a>(v: &'a Json, name: &str) -> Option<&'a Json> {
    let map = v.as_object()?;
    if let Some(found) = map.get(name) {
        return Some(found);
    }
    for (i, _) in name.match_indices('.') {
        if let Some(found) = map.get(&name[..i]).and_then(|inner| lookup(inner, &name[i + 1..])) {
            return Some(found);
        }
    }
    None
}

/// A JSON value as the text a column reads (None for null): strings as their
/// content, numbers and booleans as JSON writes them, arrays and objects as
/// compact JSON.
pub fn render(v: &Json) -> Option<String> {
    Some(match v {
        Json::Null => return None,
        Json::String(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_flatten_to_dotted_columns_and_json_text() {
        let doc: Json = serde_json::from_str(
            r#"{"id":7,"name":"Ann","score":2.0,"ok":true,"gone":null,"tags":["a",1],
                "address":{"city":"Oslo","geo":{"lat":59.9}},"empty":{},"when":"2024-01-02"}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        flatten(&doc, "", &mut out);
        let pairs: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("id", "7"),
                ("name", "Ann"),
                ("score", "2.0"),
                ("ok", "true"),
                ("tags", r#"["a",1]"#),
                ("address.city", "Oslo"),
                ("address.geo.lat", "59.9"),
                ("when", "2024-01-02"),
            ]
        );
    }

    #[test]
    fn lookup_follows_dots_and_literal_names() {
        let doc: Json = serde_json::from_str(r#"{"a":{"b":{"c":1}},"x.y":2,"o":{"p":[1]}}"#).unwrap();
        assert_eq!(lookup(&doc, "a.b.c"), Some(&Json::from(1)));
        assert_eq!(lookup(&doc, "x.y"), Some(&Json::from(2)));
        assert_eq!(lookup(&doc, "a.b.zz"), None);
        assert_eq!(lookup(&doc, "o.p").and_then(render).as_deref(), Some("[1]"));
        assert_eq!(lookup(&doc, "a").and_then(render).as_deref(), Some(r#"{"b":{"c":1}}"#));
    }
}
