//! RediSearch indexes: discovery (`FT._LIST`, `FT.INFO`) and coverage.
//!
//! An index may answer a query over a table only if it provably holds every
//! row of the table and nothing else (see `docs/pushdown.md` and §4 of the
//! measured RediSearch semantics): same key type, a prefix list that is the
//! table's prefix (other prefixes only below it), no FILTER, fully built, no
//! indexing failures (a document with one unparsable NUMERIC value is left
//! out entirely), and a document count equal to the table's key count. The
//! first four and the failure counter are re-read at every query
//! ([`check_live`]); the count is checked at every catalog refresh, because it
//! needs a SCAN ([`IndexInfo::count_matches`]).

use redis::Value;

use super::shards::{self, Shard};
use crate::error::Result;
use crate::store::Store;

/// A field type in a RediSearch schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrType {
    Tag,
    Numeric,
    Text,
    Other(String),
}

/// One attribute of an index schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Hash field name, or JSON path (`$.a.b`).
    pub identifier: String,
    /// The name queries use (`@alias`).
    pub alias: String,
    pub ty: AttrType,
    /// TAG separator (`,` by default; empty for JSON TAGs, which do not split).
    pub separator: Option<String>,
    pub case_sensitive: bool,
    pub sortable: bool,
    pub unf: bool,
    pub noindex: bool,
    pub index_missing: bool,
    pub index_empty: bool,
}

/// What `FT.INFO` says about one index.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexInfo {
    pub name: String,
    /// `HASH` or `JSON`.
    pub key_type: String,
    pub prefixes: Vec<String>,
    pub filter: Option<String>,
    pub attributes: Vec<Attribute>,
    pub num_docs: u64,
    pub failures: u64,
    pub indexing: bool,
    pub percent_indexed: f64,
    /// Where the index lives: one part on one node; on a cluster one part
    /// per master (see [`super::shards`]); `num_docs` etc. are their sums.
    pub shards: Vec<Shard>,
    /// Why the parts cannot answer together (a cluster whose slots moved).
    pub layout_note: Option<String>,
    /// The index is on a Redis Cluster, where RediSearch (without its
    /// coordinator) answers from sortable values only: it loads no document
    /// (`LOAD *` and `@__key` come back empty, measured on 2.10), so only
    /// aggregates over SORTABLE fields are pushed down, and row fetches get
    /// keys from `FT.SEARCH ... NOCONTENT` and read the rows by key.
    pub on_cluster: bool,
}

/// The separator redsql's CREATE INDEX gives text columns: a control
/// character, so no real value is split into several tags.
pub const EXACT_SEPARATOR: &str = "\u{1f}";

impl IndexInfo {
    /// An index known by name only (no FT.INFO read yet).
    pub fn named(name: &str) -> IndexInfo {
        IndexInfo {
            name: name.to_string(),
            key_type: String::new(),
            prefixes: Vec::new(),
            filter: None,
            attributes: Vec::new(),
            num_docs: 0,
            failures: 0,
            indexing: false,
            percent_indexed: 0.0,
            shards: Vec::new(),
            layout_note: None,
            on_cluster: false,
        }
    }

    /// The column an attribute reads: the hash field, or for JSON the dotted
    /// path (`$.a.b` → `a.b`); None for paths redsql does not map to a column.
    pub fn column_of(&self, a: &Attribute) -> Option<String> {
        if self.key_type == "JSON" {
            let path = a.identifier.strip_prefix("$.")?;
            let plain = path
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
            plain.then(|| path.to_string())
        } else {
            Some(a.identifier.clone())
        }
    }

    /// The searchable attribute over a column, if any.
    pub fn attribute(&self, column: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| !a.noindex && self.column_of(a).as_deref() == Some(column))
    }

    /// Whether this index is over `prefix` (and perhaps prefixes below it) for
    /// keys of `storage` (`hash` / `json`).
    pub fn is_over(&self, prefix: &str, storage: &str) -> bool {
        self.key_type.eq_ignore_ascii_case(storage)
            && self.prefixes.iter().any(|p| p == prefix)
            && self.prefixes.iter().all(|p| p.starts_with(prefix))
    }

    /// Whether the index holds as many documents as the table has keys.
    pub fn count_matches(&self, keys: u64) -> bool {
        self.num_docs == keys
    }
}

/// Why an index cannot answer queries right now, from its live state; Ok
/// when nothing in it rules pushdown out.
pub fn check_live(info: &IndexInfo, prefix: &str, storage: &str) -> std::result::Result<(), String> {
    if let Some(note) = &info.layout_note {
        return Err(note.clone());
    }
    if !info.is_over(prefix, storage) {
        return Err(format!(
            "index {} is over {} prefixes {:?}, not exactly {} {prefix:?}",
            info.name, info.key_type, info.prefixes, storage
        ));
    }
    if let Some(f) = &info.filter {
        return Err(format!(
            "index {} has a FILTER ({f}) so it may leave rows out",
            info.name
        ));
    }
    if info.indexing || info.percent_indexed < 1.0 {
        return Err(format!(
            "index {} is still being built ({:.0}% indexed)",
            info.name,
            info.percent_indexed * 100.0
        ));
    }
    if info.failures > 0 {
        return Err(format!(
            "index {} failed to index {} document{} (a value it cannot parse leaves the whole row out); \
             fix the values, then DROP INDEX and CREATE INDEX again",
            info.name,
            info.failures,
            if info.failures == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// Every index, as FT.INFO describes it (on a cluster, the parts on the
/// masters grouped into indexes). Empty without RediSearch.
pub async fn list(store: &Store) -> Vec<IndexInfo> {
    // The parts are told apart by their names' slots: use the current map.
    if let Err(e) = store.refresh_slots().await {
        tracing::warn!("cannot read the Redis Cluster's slot map: {e}");
    }
    let mut per_node = Vec::new();
    for node in store.masters() {
        let Ok(names) = node.query::<Vec<String>>(&redis::cmd("FT._LIST")).await else {
            continue;
        };
        for name in names {
            if let Ok(v) = node.query::<Value>(redis::cmd("FT.INFO").arg(&name)).await {
                per_node.push((node.addr.clone(), parse_info(&name, &v)));
            }
        }
    }
    shards::group(store, per_node)
}

/// FT.INFO of every part of a known index, now.
pub async fn live(store: &Store, known: &IndexInfo) -> Result<IndexInfo> {
    let mut parts = Vec::new();
    for s in &known.shards {
        let node = store.master(&s.node)?;
        let v: Value = match node.query(redis::cmd("FT.INFO").arg(&s.name)).await {
            Err(e) if e.to_string().contains("MOVED") => {
                return Err(crate::error::Error::Redis(format!(
                    "its part {} on {} is out of reach since the cluster's slots moved ({e}); \
                     DROP INDEX {} and CREATE INDEX again",
                    s.name, s.node, known.name
                )))
            }
            other => other?,
        };
        parts.push((s.node.clone(), parse_info(&s.name, &v)));
    }
    Ok(shards::merge(store, &known.name, parts))
}

/// Drop every part of an index (FT.DROPINDEX without DD: the documents stay).
pub async fn drop(store: &Store, info: &IndexInfo) -> Result<()> {
    for s in &info.shards {
        store
            .master(&s.node)?
            .query::<Value>(redis::cmd("FT.DROPINDEX").arg(&s.name))
            .await?;
    }
    Ok(())
}

fn parse_info(name: &str, v: &Value) -> IndexInfo {
    let def = map_get(v, "index_definition");
    let key_type = def
        .and_then(|d| map_get(d, "key_type"))
        .and_then(as_str)
        .unwrap_or_default();
    let prefixes = match def.and_then(|d| map_get(d, "prefixes")) {
        Some(Value::Array(v)) => v.iter().filter_map(as_str).collect(),
        _ => Vec::new(),
    };
    let filter = def.and_then(|d| map_get(d, "filter")).and_then(as_str);
    let attributes = match map_get(v, "attributes") {
        Some(Value::Array(attrs)) => attrs.iter().filter_map(parse_attribute).collect(),
        _ => Vec::new(),
    };
    let num = |k: &str| map_get(v, k).and_then(as_str).and_then(|s| s.parse::<f64>().ok());
    IndexInfo {
        key_type,
        prefixes,
        filter: filter.filter(|f| !f.is_empty()),
        attributes,
        num_docs: num("num_docs").unwrap_or(0.0) as u64,
        failures: num("hash_indexing_failures").unwrap_or(0.0) as u64,
        indexing: num("indexing").unwrap_or(0.0) != 0.0,
        percent_indexed: num("percent_indexed").unwrap_or(0.0),
        ..IndexInfo::named(name)
    }
}

/// An attribute is a flat list: `identifier x attribute y type TAG SEPARATOR , SORTABLE ...`.
fn parse_attribute(v: &Value) -> Option<Attribute> {
    let Value::Array(items) = v else { return None };
    let words: Vec<Option<String>> = items.iter().map(as_str).collect();
    let get = |k: &str| {
        words
            .iter()
            .position(|w| w.as_deref().is_some_and(|w| w.eq_ignore_ascii_case(k)))
            .and_then(|i| words.get(i + 1).cloned().flatten())
    };
    let flag = |k: &str| {
        words
            .iter()
            .any(|w| w.as_deref().is_some_and(|w| w.eq_ignore_ascii_case(k)))
    };
    let identifier = get("identifier")?;
    let alias = get("attribute").unwrap_or_else(|| identifier.clone());
    let ty = match get("type")?.to_ascii_uppercase().as_str() {
        "TAG" => AttrType::Tag,
        "NUMERIC" => AttrType::Numeric,
        "TEXT" => AttrType::Text,
        other => AttrType::Other(other.to_string()),
    };
    Some(Attribute {
        identifier,
        alias,
        separator: if ty == AttrType::Tag { get("SEPARATOR") } else { None },
        ty,
        case_sensitive: flag("CASESENSITIVE"),
        sortable: flag("SORTABLE"),
        unf: flag("UNF"),
        noindex: flag("NOINDEX"),
        index_missing: flag("INDEXMISSING"),
        index_empty: flag("INDEXEMPTY"),
    })
}

/// Look a key up in a RESP2 flat key/value array or a RESP3 map.
pub fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Array(items) => items
            .chunks(2)
            .find(|kv| kv.len() == 2 && as_str(&kv[0]).as_deref() == Some(key))
            .map(|kv| &kv[1]),
        Value::Map(items) => items
            .iter()
            .find(|(k, _)| as_str(k).as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

pub fn as_str(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Double(d) => Some(d.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_ft_info_attributes() {
        let attr = Value::Array(
            [
                "identifier",
                "region",
                "attribute",
                "region",
                "type",
                "TAG",
                "SEPARATOR",
                "\u{1f}",
                "CASESENSITIVE",
                "SORTABLE",
                "UNF",
                "INDEXMISSING",
            ]
            .iter()
            .map(|s| bulk(s))
            .collect(),
        );
        let info = Value::Array(vec![
            bulk("index_definition"),
            Value::Array(vec![
                bulk("key_type"),
                bulk("HASH"),
                bulk("prefixes"),
                Value::Array(vec![bulk("sale:")]),
            ]),
            bulk("attributes"),
            Value::Array(vec![attr]),
            bulk("num_docs"),
            bulk("12"),
            bulk("hash_indexing_failures"),
            bulk("0"),
            bulk("indexing"),
            bulk("0"),
            bulk("percent_indexed"),
            bulk("1"),
        ]);
        let i = parse_info("idx", &info);
        assert_eq!(i.prefixes, vec!["sale:".to_string()]);
        assert_eq!(i.num_docs, 12);
        let a = i.attribute("region").unwrap();
        assert_eq!(a.ty, AttrType::Tag);
        assert_eq!(a.separator.as_deref(), Some(EXACT_SEPARATOR));
        assert!(a.case_sensitive && a.sortable && a.unf && a.index_missing && !a.index_empty);
        assert!(check_live(&i, "sale:", "hash").is_ok());
        assert!(check_live(&i, "sale:", "json").is_err());
        let building = IndexInfo {
            indexing: true,
            percent_indexed: 0.5,
            ..i.clone()
        };
        assert!(check_live(&building, "sale:", "hash").unwrap_err().contains("50%"));
        let failed = IndexInfo { failures: 2, ..i };
        assert!(check_live(&failed, "sale:", "hash")
            .unwrap_err()
            .contains("2 documents"));
    }
}
