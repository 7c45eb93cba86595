//! Writing rows of JSON tables as RedisJSON documents.
//!
//! Values keep their JSON types: bigint and double precision become JSON
//! numbers (doubles in shortest round-trip form), boolean becomes true/false,
//! date and timestamp become ISO 8601 strings, text a string, and NULL the
//! JSON null (which reads back as NULL, like an absent field). NaN and
//! ±Infinity have no JSON form: writing them is an error (22P02). A dotted
//! column name (`address.city`) is a field of a nested object.
//!
//! INSERT writes a whole document with `JSON.SET key $ doc`; UPDATE sets each
//! changed field with `JSON.SET key $["a"]["b"] value`, creating missing
//! parent objects. Both run as Lua scripts, one row at a time atomically,
//! with the same conflict rules as hashes, and never touch a key of another type.

use serde_json::{Map, Number, Value as Json};

use super::update::UpdatePlan;
use super::values::in_column;
use super::write::Conflict;
use crate::catalog::types::parse_double;
use crate::catalog::{ColType, TableInfo};
use crate::error::{Error, Result};
use crate::store::Store;

/// Rows per pipelined write.
const WRITE_BATCH: usize = 1000;

/// Insert one document unless its key exists (mode 0 = fail, 1 = skip) or
/// replacing it (mode 2); -1 when the key holds another type.
/// ARGV: mode, ttl seconds (0 = none), document.
const INSERT_SCRIPT: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' then
  if t ~= 'ReJSON-RL' then return -1 end
  if ARGV[1] ~= '2' then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('JSON.SET', KEYS[1], '$', ARGV[3])
if ARGV[2] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
";

/// Update fields of one existing document: 0 when it is gone, -1 when the key
/// holds another type, -2 when a parent on a field's path is not an object
/// (checked before anything is written). ARGV, per field: the number n of
/// path segments, the n segments (`["name"]`), the JSON value.
const UPDATE_SCRIPT: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return 0 end
if t ~= 'ReJSON-RL' then return -1 end
if redis.call('JSON.TYPE', KEYS[1], '$')[1] ~= 'object' then return -2 end
for pass = 1, 2 do
  local i = 1
  while i <= #ARGV do
    local n = tonumber(ARGV[i])
    local path = '$'
    for j = 1, n - 1 do
      path = path .. ARGV[i + j]
      local ty = redis.call('JSON.TYPE', KEYS[1], path)[1]
      if pass == 1 then
        if ty ~= nil and ty ~= 'object' and ty ~= 'null' then return -2 end
      elseif ty ~= 'object' then
        redis.call('JSON.SET', KEYS[1], path, '{}')
      end
    end
    if pass == 2 then redis.call('JSON.SET', KEYS[1], path .. ARGV[i + n], ARGV[i + n + 1]) end
    i = i + n + 2
  end
end
return 1
";

/// The JSON value of a value in stored form (as `encode_column` gives it).
pub fn json_value(stored: Option<&str>, ty: ColType) -> Result<Json> {
    let Some(s) = stored else { return Ok(Json::Null) };
    let bad = || {
        Error::Data(
            "22P02",
            format!("invalid input syntax for type {}: {s:?}", ty.sql_name()),
        )
    };
    Ok(match ty {
        ColType::BigInt => Json::Number(s.parse::<i64>().map_err(|_| bad())?.into()),
        ColType::Double => {
            let v = parse_double(s).or_else(|| s.parse().ok()).ok_or_else(bad)?;
            Json::Number(Number::from_f64(v).ok_or_else(|| {
                Error::Data(
                    "22P02",
                    format!("{s} cannot be stored in a JSON document (JSON has no NaN or Infinity)"),
                )
            })?)
        }
        ColType::Boolean => Json::Bool(match s {
            "true" => true,
            "false" => false,
            _ => return Err(bad()),
        }),
        ColType::Date | ColType::Timestamp | ColType::Text => Json::String(s.to_string()),
    })
}

/// Put `value` at the dotted `name` of a document, creating nested objects.
fn put(doc: &mut Map<String, Json>, name: &str, value: Json) -> Result<()> {
    let clash = || {
        Error::Unsupported(format!(
            "column \"{name}\" and a column for one of its parents cannot both be set in one JSON document"
        ))
    };
    let mut segs: Vec<&str> = name.split('.').collect();
    let last = segs.pop().expect("split yields one part");
    let mut cur = doc;
    for seg in segs {
        let entry = cur.entry(seg.to_string()).or_insert(Json::Null);
        if entry.is_null() {
            *entry = Json::Object(Map::new());
        }
        cur = match entry {
            Json::Object(m) => m,
            _ => return Err(clash()),
        };
    }
    match cur.get(last) {
        Some(Json::Object(_)) if value.is_null() => {}
        Some(Json::Object(_)) => return Err(clash()),
        _ => {
            cur.insert(last.to_string(), value);
        }
    }
    Ok(())
}

/// Row `r` of `encoded` (stored form, column by column) as a JSON document.
pub fn build_doc(columns: &[(String, ColType)], encoded: &[Vec<Option<String>>], r: usize) -> Result<String> {
    let mut doc = Map::new();
    for (c, (name, ty)) in columns.iter().enumerate() {
        let value = json_value(encoded[c][r].as_deref(), *ty).map_err(|e| in_column(e, name))?;
        put(&mut doc, name, value)?;
    }
    Ok(Json::Object(doc).to_string())
}

/// The JSONPath segments (`["a"]`, `["b"]`) of a dotted column name.
fn path_segments(name: &str) -> Result<Vec<String>> {
    name.split('.')
        .map(|seg| {
            if seg.contains('\\') || (seg.contains('"') && seg.contains('\'')) {
                Err(Error::Unsupported(format!(
                    "column \"{name}\" cannot be addressed in a JSON path (backslash or both quote characters)"
                )))
            } else if seg.contains('"') {
                Ok(format!("['{seg}']"))
            } else {
                Ok(format!("[\"{seg}\"]"))
            }
        })
        .collect()
}

fn wrong_type(table: &TableInfo, id: &str) -> Error {
    Error::WrongKeyType(format!(
        "key {} is not a JSON document, so it is not a row of JSON table \"{}\"; it was not overwritten",
        table.key_of(id),
        table.name
    ))
}

/// Write checked rows (`(row index, id)`) of a JSON table with `JSON.SET`.
pub(super) async fn insert_docs(
    store: &Store,
    table: &TableInfo,
    columns: &[(String, ColType)],
    encoded: &[Vec<Option<String>>],
    rows: &[(usize, String)],
    conflict: Conflict,
) -> Result<usize> {
    // Build every document first, so a value JSON cannot hold writes nothing.
    let docs: Vec<String> = rows
        .iter()
        .map(|(r, _)| build_doc(columns, encoded, *r))
        .collect::<Result<_>>()?;
    let sha: String = store.query(redis::cmd("SCRIPT").arg("LOAD").arg(INSERT_SCRIPT)).await?;
    let mode = conflict.script_mode();
    let ttl = table.ttl.unwrap_or(0).to_string();
    let mut written = 0;
    for (chunk, docs) in rows.chunks(WRITE_BATCH).zip(docs.chunks(WRITE_BATCH)) {
        let mut pipe = crate::store::Pipe::new();
        for ((_, id), doc) in chunk.iter().zip(docs) {
            pipe.cmd("EVALSHA")
                .arg(&sha)
                .arg(1)
                .arg(table.key_of(id))
                .arg(mode)
                .arg(&ttl)
                .arg(doc);
        }
        for (v, (_, id)) in store.pipeline(&pipe).await?.iter().zip(chunk) {
            match v {
                redis::Value::Int(1) => written += 1,
                redis::Value::Int(0) if conflict == Conflict::DoNothing => {}
                redis::Value::Int(0) => {
                    return Err(Error::Data(
                        "23505",
                        format!(
                            "duplicate key value: {} was created concurrently; {written} rows were written before it",
                            table.key_of(id)
                        ),
                    ))
                }
                redis::Value::Int(-1) => return Err(wrong_type(table, id)),
                other => {
                    return Err(Error::Redis(format!(
                        "insert of {} failed: {other:?}; {written} rows were written before it",
                        table.key_of(id)
                    )))
                }
            }
        }
    }
    Ok(written)
}

/// UPDATE of a JSON table: per row, `JSON.SET` of every changed field (NULL
/// always written, as a stored value that did not parse also reads as NULL).
/// `new` and `old` hold the assigned columns' values in stored form.
pub(super) async fn update_docs(
    store: &Store,
    plan: &UpdatePlan,
    ids: &[Option<String>],
    new: &[Vec<Option<String>>],
    old: &[Vec<Option<String>>],
) -> Result<usize> {
    let table = &plan.table;
    let paths: Vec<Vec<String>> = plan
        .columns
        .iter()
        .map(|(name, _)| path_segments(name))
        .collect::<Result<_>>()?;
    // Arguments of every row first: a value JSON cannot hold updates nothing.
    let mut calls: Vec<(&str, Vec<String>)> = Vec::new();
    for (r, id) in ids.iter().enumerate() {
        let Some(id) = id.as_deref() else { continue };
        let mut args = Vec::new();
        for (c, (name, ty)) in plan.columns.iter().enumerate() {
            if new[c][r].is_some() && new[c][r] == old[c][r] {
                continue;
            }
            let value = json_value(new[c][r].as_deref(), *ty).map_err(|e| in_column(e, name))?;
            args.push(paths[c].len().to_string());
            args.extend(paths[c].iter().cloned());
            args.push(value.to_string());
        }
        calls.push((id, args));
    }
    let sha: String = store.query(redis::cmd("SCRIPT").arg("LOAD").arg(UPDATE_SCRIPT)).await?;
    let mut matched = 0;
    for chunk in calls.chunks(WRITE_BATCH) {
        let mut pipe = crate::store::Pipe::new();
        for (id, args) in chunk {
            pipe.cmd("EVALSHA").arg(&sha).arg(1).arg(table.key_of(id)).arg(args);
        }
        for (v, (id, _)) in store.pipeline(&pipe).await?.iter().zip(chunk) {
            match v {
                redis::Value::Int(1) => matched += 1,
                redis::Value::Int(0) => {} // deleted meanwhile: not updated
                redis::Value::Int(-1) => return Err(wrong_type(table, id)),
                redis::Value::Int(-2) => {
                    return Err(Error::Data(
                        "22023",
                        format!(
                            "cannot update key {}: it is not a JSON object, or a parent of a dotted column \
                             holds a value that is not an object; {matched} rows were updated before it",
                            table.key_of(id)
                        ),
                    ))
                }
                other => {
                    return Err(Error::Redis(format!(
                        "update failed: {other:?}; {matched} rows were updated before it"
                    )))
                }
            }
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn rows_become_typed_nested_documents() {
        let columns: Vec<(String, ColType)> = [
            ("id", ColType::BigInt),
            ("score", ColType::Double),
            ("ok", ColType::Boolean),
            ("born", ColType::Date),
            ("address.city", ColType::Text),
            ("address.zip", ColType::Text),
            ("note", ColType::Text),
            ("whole", ColType::Double),
        ]
        .iter()
        .map(|(n, t)| (n.to_string(), *t))
        .collect();
        let encoded = vec![
            vec![s("7")],
            vec![s("0.1")],
            vec![s("true")],
            vec![s("2024-01-02")],
            vec![s("Oslo")],
            vec![None],
            vec![s("42")],
            vec![s("2")],
        ];
        assert_eq!(
            build_doc(&columns, &encoded, 0).unwrap(),
            r#"{"id":7,"score":0.1,"ok":true,"born":"2024-01-02","address":{"city":"Oslo","zip":null},"note":"42","whole":2.0}"#
        );
    }

    #[test]
    fn nan_and_infinity_are_refused() {
        for v in ["NaN", "Infinity", "-Infinity"] {
            let e = json_value(Some(v), ColType::Double).unwrap_err();
            assert_eq!(e.sqlstate(), "22P02", "{v}");
        }
        assert_eq!(
            json_value(Some("1e+300"), ColType::Double).unwrap().as_f64(),
            Some(1e300)
        );
    }

    #[test]
    fn parent_and_child_columns_clash() {
        let columns = vec![("a".to_string(), ColType::Text), ("a.b".to_string(), ColType::Text)];
        let encoded = vec![vec![s("x")], vec![s("y")]];
        assert!(build_doc(&columns, &encoded, 0).is_err());
        let encoded = vec![vec![None], vec![s("y")]];
        assert_eq!(build_doc(&columns, &encoded, 0).unwrap(), r#"{"a":{"b":"y"}}"#);
    }

    #[test]
    fn paths_quote_each_segment() {
        assert_eq!(path_segments("a.b").unwrap(), [r#"["a"]"#, r#"["b"]"#]);
        assert_eq!(path_segments(r#"say "hi""#).unwrap(), [r#"['say "hi"']"#]);
        assert!(path_segments(r"a\b").is_err());
    }
}
