//! Redis Cluster: which master holds which hash slot, found with `CLUSTER
//! SLOTS` from any node and asked again when a node answers `MOVED`. Each
//! master is a [`Node`] of its own; nodes are kept across topology changes
//! by address.
//!
//! The URL form is `redis+cluster://[user:password@]host:port[,host:port...]`
//! (`rediss+cluster://` for TLS): the seed nodes, any of which may be down.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use redis::Value;

use super::node::Node;
use super::{redacted, RedisTls};
use crate::error::{Error, Result};

pub const SLOTS: usize = 16384;

/// The hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag
/// (the part between the first `{` and the next `}`, if not empty), mod 16384.
pub fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter().position(|&b| b == b'}').map(|close| &rest[..close])
        })
        .filter(|tag| !tag.is_empty());
    crc16(tagged.unwrap_or(key)) % SLOTS as u16
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slots `CLUSTER NODES` text shows its node migrating or importing:
/// the `[slot->-id]` and `[slot-<-id]` entries of the `myself` line.
fn migrating_slots(nodes: &str) -> Vec<String> {
    let myself = nodes.lines().find(|l| {
        l.split(' ')
            .nth(2)
            .is_some_and(|flags| flags.split(',').any(|f| f == "myself"))
    });
    myself
        .into_iter()
        .flat_map(|l| l.split(' ').skip(8))
        .filter_map(|entry| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            let (slot, _) = inner.split_once("->-").or_else(|| inner.split_once("-<-"))?;
            Some(slot.to_string())
        })
        .collect()
}

/// Whether `url` names a cluster.
pub fn is_cluster_url(url: &str) -> bool {
    url.starts_with("redis+cluster://") || url.starts_with("rediss+cluster://")
}

/// How to reach any node: scheme and credentials of the cluster URL.
#[derive(Clone)]
struct Template {
    scheme: &'static str,
    userinfo: String,
}

impl Template {
    fn url(&self, addr: &str) -> String {
        format!("{}://{}{addr}", self.scheme, self.userinfo)
    }
}

/// The seed addresses and the template of a cluster URL.
fn parse_url(url: &str) -> Result<(Template, Vec<String>)> {
    let bad = |why: &str| Error::RedisUnavailable(format!("bad Redis Cluster URL {}: {why}", redacted(url)));
    let (scheme, rest) = if let Some(r) = url.strip_prefix("redis+cluster://") {
        ("redis", r)
    } else if let Some(r) = url.strip_prefix("rediss+cluster://") {
        ("rediss", r)
    } else {
        return Err(bad("it must start with redis+cluster:// or rediss+cluster://"));
    };
    let (hosts_part, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !matches!(path, "" | "/" | "/0") {
        return Err(bad(
            "a cluster has database 0 only, and no options are taken after the addresses",
        ));
    }
    let (userinfo, hosts) = match hosts_part.rfind('@') {
        Some(at) => (hosts_part[..=at].to_string(), &hosts_part[at + 1..]),
        None => (String::new(), hosts_part),
    };
    let seeds: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            if h.contains(':') {
                h.to_string()
            } else {
                format!("{h}:6379")
            }
        })
        .collect();
    if seeds.is_empty() {
        return Err(bad("no node address"));
    }
    Ok((Template { scheme, userinfo }, seeds))
}

/// Which master serves each slot.
pub struct Topology {
    /// Moves on with every change, so the catalog can tell.
    pub generation: u64,
    /// Index into `masters` per slot; `u16::MAX` for a slot no one serves.
    slots: Vec<u16>,
    pub masters: Vec<Arc<Node>>,
}

impl Topology {
    pub fn node_of_slot(&self, slot: u16) -> Option<&Arc<Node>> {
        self.masters.get(*self.slots.get(slot as usize)? as usize)
    }

    /// The master at `addr`, if it is one.
    pub fn master(&self, addr: &str) -> Option<&Arc<Node>> {
        self.masters.iter().find(|n| n.addr == addr)
    }
}

pub struct Cluster {
    template: Template,
    seeds: Vec<String>,
    tls: RedisTls,
    topology: RwLock<Arc<Topology>>,
    /// Held while the topology is being asked again.
    refreshing: tokio::sync::Mutex<()>,
}

impl Cluster {
    /// Connect to the cluster named by `url` and learn its topology.
    pub async fn connect(url: &str, tls: &RedisTls) -> Result<Cluster> {
        let (template, seeds) = parse_url(url)?;
        let cluster = Cluster {
            template,
            seeds,
            tls: tls.clone(),
            topology: RwLock::new(Arc::new(Topology {
                generation: 0,
                slots: vec![u16::MAX; SLOTS],
                masters: Vec::new(),
            })),
            refreshing: tokio::sync::Mutex::new(()),
        };
        cluster.refresh(0).await?;
        Ok(cluster)
    }

    pub fn topology(&self) -> Arc<Topology> {
        self.topology.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A node by address: a master, or a new connection (an `ASK` target).
    pub async fn node(&self, addr: &str) -> Result<Arc<Node>> {
        self.node_in(&self.topology(), addr).await
    }

    /// The master of `topology` at `addr`, or a new connection to it.
    async fn node_in(&self, topology: &Topology, addr: &str) -> Result<Arc<Node>> {
        match topology.master(addr) {
            Some(n) => Ok(n.clone()),
            None => Ok(Arc::new(Node::connect(&self.template.url(addr), &self.tls).await?)),
        }
    }

    /// Before reading every master (a scan, or every index part): the
    /// slot map's generation, for [`Cluster::still_steady`]; an error while
    /// a slot is being migrated, whose keys in transit a read of every
    /// master could miss or see twice.
    pub async fn steady(&self) -> Result<u64> {
        let generation = self.topology().generation;
        self.no_migration().await?;
        Ok(generation)
    }

    /// After reading every master: an error when a slot changed master
    /// since `generation` or a migration is under way. (With the check
    /// before, a key can only have moved during the read by a migration
    /// that began and ended within it, which changes the slot map.)
    pub async fn still_steady(&self, generation: u64) -> Result<()> {
        self.refresh(generation).await?;
        if self.topology().generation != generation {
            return Err(Error::RedisUnavailable(
                "the Redis Cluster's slots moved while every master was read; keys may have been missed \
                 or seen twice, so the statement stops (run it again)"
                    .into(),
            ));
        }
        self.no_migration().await
    }

    async fn no_migration(&self) -> Result<()> {
        let migrating = self.migrations().await?;
        match migrating.first() {
            None => Ok(()),
            Some(first) => Err(Error::RedisUnavailable(format!(
                "a slot is being migrated between Redis Cluster masters ({first}{}): keys in transit could \
                 be missed or seen twice by a read of every master, so the statement stops (run it again \
                 once the resharding is done)",
                if migrating.len() > 1 {
                    format!(" and {} more", migrating.len() - 1)
                } else {
                    String::new()
                }
            ))),
        }
    }

    /// The slots a master is migrating or importing now, as `slot 42 on
    /// host:port` (`CLUSTER NODES` of every master: each shows its own
    /// `[42->-<id>]` or `[42-<-<id>]` on its `myself` line).
    async fn migrations(&self) -> Result<Vec<String>> {
        let topology = self.topology();
        let cmd = redis::cmd("CLUSTER").arg("NODES").clone();
        let replies = futures::future::try_join_all(topology.masters.iter().map(|n| {
            let cmd = &cmd;
            async move { Ok::<_, Error>((n.addr.clone(), n.query::<String>(cmd).await?)) }
        }))
        .await?;
        let mut out = Vec::new();
        for (addr, text) in replies {
            out.extend(
                migrating_slots(&text)
                    .into_iter()
                    .map(|s| format!("slot {s} on {addr}")),
            );
        }
        Ok(out)
    }

    /// Ask the cluster for its slots again, unless someone did since
    /// `seen` (the generation the caller routed by).
    pub async fn refresh(&self, seen: u64) -> Result<()> {
        let _guard = self.refreshing.lock().await;
        let old = self.topology();
        if old.generation != seen {
            return Ok(());
        }
        let mut asked: Vec<String> = old.masters.iter().map(|n| n.addr.clone()).collect();
        for seed in &self.seeds {
            if !asked.contains(seed) {
                asked.push(seed.clone());
            }
        }
        let mut last_error = None;
        for addr in &asked {
            match self.slots_from(&old, addr).await {
                Ok(ranges) => {
                    let topology = self.build(&old, ranges).await?;
                    *self.topology.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(topology);
                    return Ok(());
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::RedisUnavailable("no Redis Cluster node to ask".into())))
    }

    /// `CLUSTER SLOTS` of the node at `addr`: (first, last, master address).
    async fn slots_from(&self, old: &Topology, addr: &str) -> Result<Vec<(u16, u16, String)>> {
        let node = self.node_in(old, addr).await?;
        let reply: Value = node.query(&redis::cmd("CLUSTER").arg("SLOTS").clone()).await?;
        let host_of_asked = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let unexpected = || Error::Redis(format!("unexpected CLUSTER SLOTS reply from {addr}"));
        let Value::Array(ranges) = reply else {
            return Err(unexpected());
        };
        let mut out = Vec::new();
        for range in ranges {
            let Value::Array(parts) = range else {
                return Err(unexpected());
            };
            let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                return Err(unexpected());
            };
            let host = match master.first() {
                Some(Value::BulkString(h)) if !h.is_empty() && h != b"?" => String::from_utf8_lossy(h).into_owned(),
                _ => host_of_asked.to_string(),
            };
            let Some(Value::Int(port)) = master.get(1) else {
                return Err(unexpected());
            };
            out.push((*first as u16, *last as u16, format!("{host}:{port}")));
        }
        if out.is_empty() {
            return Err(Error::RedisUnavailable(format!(
                "the Redis at {addr} serves no hash slots: is it a cluster node, and is the cluster created?"
            )));
        }
        Ok(out)
    }

    async fn build(&self, old: &Topology, ranges: Vec<(u16, u16, String)>) -> Result<Topology> {
        let mut by_addr: HashMap<&str, u16> = HashMap::new();
        let mut masters: Vec<Arc<Node>> = Vec::new();
        let mut slots = vec![u16::MAX; SLOTS];
        for (first, last, addr) in &ranges {
            let i = match by_addr.get(addr.as_str()) {
                Some(&i) => i,
                None => {
                    masters.push(self.node_in(old, addr).await?);
                    by_addr.insert(addr, (masters.len() - 1) as u16);
                    (masters.len() - 1) as u16
                }
            };
            for s in *first..=(*last).min(SLOTS as u16 - 1) {
                slots[s as usize] = i;
            }
        }
        let same = masters.len() == old.masters.len()
            && slots == old.slots
            && masters.iter().zip(&old.masters).all(|(a, b)| a.addr == b.addr);
        let generation = if same { old.generation } else { old.generation + 1 };
        if !same && old.generation > 0 {
            tracing::warn!(masters = masters.len(), "Redis Cluster topology changed");
        }
        Ok(Topology {
            generation,
            slots,
            masters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_and_importing_slots_are_read_from_the_myself_line() {
        let nodes = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [93->-292f] [77-<-58e6]\n\
                     292f 127.0.0.1:30002@40002 master - 0 1 2 connected 5461-10922 [93-<-07c3]\n";
        assert_eq!(migrating_slots(nodes), vec!["93".to_string(), "77".to_string()]);
        let steady = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n";
        assert!(migrating_slots(steady).is_empty());
    }

    #[test]
    fn slots_match_redis_cluster_keyslot() {
        // Values from CLUSTER KEYSLOT on Redis 8.2.
        assert_eq!(slot(b"idx"), 15755);
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b"sale:1"), 4774);
        assert_eq!(slot(b"a{sale}b"), 1974);
        assert_eq!(slot(b"sale"), 1974);
        assert_eq!(slot(b"{}sale"), 15732);
        assert_eq!(slot(b"x{}{y}"), 14166);
        assert_eq!(slot(b"foo{bar}{zap}"), 5061);
    }

    #[test]
    fn cluster_urls_name_seeds_and_credentials() {
        let (t, seeds) = parse_url("redis+cluster://u:p@h1:7000,h2:7001,h3").unwrap();
        assert_eq!(seeds, ["h1:7000", "h2:7001", "h3:6379"]);
        assert_eq!(t.url("10.0.0.1:7002"), "redis://u:p@10.0.0.1:7002");
        let (t, _) = parse_url("rediss+cluster://h:1/0").unwrap();
        assert_eq!(t.url("h:1"), "rediss://h:1");
        assert!(parse_url("redis+cluster://h:1/3").is_err());
        assert!(parse_url("redis+cluster://").is_err());
        assert!(is_cluster_url("redis+cluster://h:1") && !is_cluster_url("redis://h:1"));
    }
}
