//! An index's parts: one per master of a Redis Cluster.
//!
//! Open-source RediSearch in cluster mode indexes only the documents of the
//! node that holds the index, and routes `FT.*` commands by the index
//! name's hash slot (`FT.CREATE` on the wrong master answers `MOVED`). So an
//! index over a table is one part per master, each named `<name>{<tag>}`
//! with a tag whose slot that master serves (`sale_idx{3}`), and a query
//! runs on every part and merges their answers (see `exec::search`). When
//! the cluster's slots move, a part may stop being reachable under its name
//! or a master may have none: the index then stops answering queries
//! ([`IndexInfo::layout_note`]) until it is created again. On one node an
//! index is its own single part.

use std::collections::BTreeMap;

use super::index::IndexInfo;
use crate::store::Store;

/// One part of an index: its RediSearch name and the master holding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub name: String,
    /// The master's `host:port`.
    pub node: String,
    pub num_docs: u64,
}

/// As EXPLAIN and `redsql.tables.index_parts` show it.
impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {} ({} docs)", self.name, self.node, self.num_docs)
    }
}

/// The index name a part name belongs to: `sale_idx{3}` → `sale_idx`;
/// a name without a trailing hash tag is its own.
pub fn base_name(part: &str) -> &str {
    match part.strip_suffix('}').and_then(|p| p.rfind('{').map(|i| &part[..i])) {
        Some(base) if !base.is_empty() => base,
        _ => part,
    }
}

/// The name of `base`'s part on the master at `addr`: the smallest number
/// whose hash slot that master serves, as hash tag. None if it serves none.
pub fn part_name(store: &Store, base: &str, addr: &str) -> Option<String> {
    (0..100_000u32)
        .map(|i| format!("{base}{{{i}}}"))
        .find(|name| store.master_of(name.as_bytes()).as_deref() == Some(addr))
}

/// Each node's indexes (the node's address, FT.INFO of the index) grouped
/// into indexes: on one node each index alone, on a cluster the parts with
/// the same base name together.
pub fn group(store: &Store, per_node: Vec<(String, IndexInfo)>) -> Vec<IndexInfo> {
    if !store.is_cluster() {
        return per_node.into_iter().map(|(addr, info)| single(addr, info)).collect();
    }
    let mut by_base: BTreeMap<String, Vec<(String, IndexInfo)>> = BTreeMap::new();
    for (addr, info) in per_node {
        if stranded(store, &info.name, &addr) {
            tracing::warn!(
                "RediSearch index {} on {addr} is left out: its name's hash slot is now served by another \
                 master, so it can be neither queried nor dropped there until the slot moves back",
                info.name
            );
            continue;
        }
        by_base
            .entry(base_name(&info.name).to_string())
            .or_default()
            .push((addr, info));
    }
    by_base
        .into_iter()
        .map(|(base, parts)| merge(store, &base, parts))
        .collect()
}

/// Whether the index `name` on the master at `addr` is out of reach: on a
/// cluster whose slot map moved its name's slot to another master, Redis
/// answers every `FT.*` command naming it with `MOVED`.
pub fn stranded(store: &Store, name: &str, addr: &str) -> bool {
    store.is_cluster() && store.master_of(name.as_bytes()).as_deref() != Some(addr)
}

fn single(addr: String, mut info: IndexInfo) -> IndexInfo {
    info.shards = vec![Shard {
        name: info.name.clone(),
        node: addr,
        num_docs: info.num_docs,
    }];
    info
}

/// One index from its parts' FT.INFO (each with its master's address):
/// documents and failures added up, built only when every part is, and a
/// note when the parts no longer cover the cluster's masters one each.
pub fn merge(store: &Store, base: &str, mut parts: Vec<(String, IndexInfo)>) -> IndexInfo {
    if !store.is_cluster() && parts.len() == 1 {
        let (addr, info) = parts.remove(0);
        return single(addr, info);
    }
    if parts.is_empty() {
        return IndexInfo {
            layout_note: Some(format!("index {base} has no parts")),
            ..IndexInfo::named(base)
        };
    }
    let shards: Vec<Shard> = parts
        .iter()
        .map(|(addr, i)| Shard {
            name: i.name.clone(),
            node: addr.clone(),
            num_docs: i.num_docs,
        })
        .collect();
    let mut merged = parts[0].1.clone();
    let same_definition = parts.iter().all(|(_, i)| {
        (&i.key_type, &i.prefixes, &i.filter, &i.attributes)
            == (&merged.key_type, &merged.prefixes, &merged.filter, &merged.attributes)
    });
    merged.name = base.to_string();
    merged.num_docs = parts.iter().map(|(_, i)| i.num_docs).sum();
    merged.failures = parts.iter().map(|(_, i)| i.failures).sum();
    merged.indexing = parts.iter().any(|(_, i)| i.indexing);
    merged.percent_indexed = parts.iter().map(|(_, i)| i.percent_indexed).fold(1.0, f64::min);
    merged.layout_note = if same_definition {
        layout(store, &shards).err()
    } else {
        Some("its parts on the masters differ in their definitions".into())
    }
    .map(|why| format!("index {base} cannot answer queries: {why}; DROP INDEX {base} and CREATE INDEX again"));
    merged.shards = shards;
    merged.on_cluster = true;
    merged
}

/// Whether the parts are one per current master, each reachable under its
/// name (the name's slot served by the master holding the part).
fn layout(store: &Store, shards: &[Shard]) -> Result<(), String> {
    let masters = store.masters();
    for m in &masters {
        match shards.iter().filter(|s| s.node == m.addr).count() {
            1 => {}
            0 => {
                return Err(format!(
                    "it has parts on {} of the cluster's {} masters, none on {}",
                    shards.len(),
                    masters.len(),
                    m.addr
                ))
            }
            n => return Err(format!("it has {n} parts on master {}", m.addr)),
        }
    }
    for s in shards {
        let routed = store.master_of(s.name.as_bytes());
        if routed.as_deref() != Some(s.node.as_str()) {
            return Err(match routed {
                Some(other) => format!(
                    "its part {} is on {} but its name's hash slot is now served by {other}",
                    s.name, s.node
                ),
                None => format!("no master serves the hash slot of its part {}", s.name),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_strip_one_trailing_hash_tag() {
        assert_eq!(base_name("sale_idx{3}"), "sale_idx");
        assert_eq!(base_name("sale_idx{12}"), "sale_idx");
        assert_eq!(base_name("sale_idx"), "sale_idx");
        assert_eq!(base_name("{3}"), "{3}");
        assert_eq!(base_name("a{b}c"), "a{b}c");
        assert_eq!(base_name("a{x}{3}"), "a{x}");
    }
}
