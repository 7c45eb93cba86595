//! SCAN over the keyspace: of one table (a safely escaped prefix pattern,
//! each key once) or of every key of a type (table discovery). SCAN is per
//! server, so on a cluster every master is scanned at once and the keys
//! merged; a scan during which the cluster's slots moved fails rather than
//! return a partial answer.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::node::Node;
use super::{Store, FETCH_BATCH, SCAN_COUNT};
use crate::error::{Error, Result};

type Batches = mpsc::Sender<Result<Vec<Vec<u8>>>>;

impl Store {
    /// Stream the distinct keys of one table (`<prefix><id>` with no `:` in
    /// the id) as batches. Keys of nested tables (`<prefix><x>:<id>`) are left
    /// out. SCAN may repeat a key; each key is sent once (remembered by a
    /// 128-bit fingerprint, XXH3 seeded at random per scan, 16 bytes a key
    /// rather than the key itself; two distinct keys share one with a chance
    /// of about n²/2¹²⁹). Two SipHashes a key were a tenth of a full scan's
    /// CPU; XXH3 is one pass. On a cluster each batch holds keys of one master.
    pub fn scan_table_keys(&self, prefix: &str, key_type: &str) -> mpsc::Receiver<Result<Vec<Vec<u8>>>> {
        let (tx, rx) = mpsc::channel(8);
        let pattern = format!("{}*", escape_glob(prefix));
        let (plen, key_type) = (prefix.len(), key_type.to_string());
        let Some(cluster) = self.cluster.clone() else {
            tokio::spawn(scan_node(self.node.clone(), pattern, plen, key_type, tx));
            return rx;
        };
        tokio::spawn(async move {
            let generation = match cluster.steady().await {
                Ok(g) => g,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let topology = cluster.topology();
            let scans: Vec<_> = topology
                .masters
                .iter()
                .map(|n| {
                    tokio::spawn(scan_node(
                        n.clone(),
                        pattern.clone(),
                        plen,
                        key_type.clone(),
                        tx.clone(),
                    ))
                })
                .collect();
            for scan in scans {
                let _ = scan.await;
            }
            // Keys moved between masters while they were scanned could be
            // missed or seen twice: check that no slot moved meanwhile.
            if let Err(e) = cluster.still_steady(generation).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        rx
    }

    /// Every key of one Redis type, page by page (SCAN may repeat keys): on
    /// every master of a cluster.
    pub async fn scan_keys(&self, key_type: &str, mut each: impl FnMut(Vec<Vec<u8>>)) -> Result<()> {
        for node in self.masters() {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor).arg("COUNT").arg(SCAN_COUNT).arg("TYPE").arg(key_type);
                let (next, keys): (u64, Vec<Vec<u8>>) = node.query(&cmd).await?;
                each(keys);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// SCAN one server for a table's keys, on one connection of its own read by
/// the RESP3 reader, sending batches of keys not seen before.
async fn scan_node(node: Arc<Node>, pattern: String, plen: usize, key_type: String, tx: Batches) {
    let mut seen: HashSet<u128, std::hash::BuildHasherDefault<Fingerprint>> = HashSet::default();
    // Seeded per scan, so no set of key names collides on purpose.
    let seed = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8);
    let fingerprint = |k: &[u8]| xxhash_rust::xxh3::xxh3_128_with_seed(k, seed);
    let mut conn = match node.pool.get().await {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
    };
    let count = SCAN_COUNT.to_string();
    let mut cursor = b"0".to_vec();
    loop {
        let args: [&[u8]; 8] = [
            b"SCAN",
            &cursor,
            b"MATCH",
            pattern.as_bytes(),
            b"COUNT",
            count.as_bytes(),
            b"TYPE",
            key_type.as_bytes(),
        ];
        let page = conn.call(&args).await.and_then(|reply| {
            let mut parts = reply.frame().elements();
            let (Some(next), Some(keys)) = (parts.next().and_then(|f| f.bytes()), parts.next()) else {
                return Err(Error::Redis(format!("unexpected SCAN reply {:?}", reply.frame())));
            };
            let batch: Vec<Vec<u8>> = keys
                .elements()
                .filter_map(|k| k.bytes())
                .filter(|k| k.len() >= plen && !k[plen..].contains(&b':'))
                .filter(|k| seen.insert(fingerprint(k)))
                .map(<[u8]>::to_vec)
                .collect();
            Ok((next.to_vec(), batch))
        });
        let (next, mut batch) = match page {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(FETCH_BATCH));
            if tx.send(Ok(batch)).await.is_err() {
                return; // the reader went away
            }
            batch = rest;
        }
        if next == b"0" {
            node.pool.put(conn);
            return;
        }
        cursor = next;
    }
}

/// Hashes a key fingerprint, which is already a random hash, by taking its
/// low bits: SipHash over 1M fingerprints was 9% of a full scan's CPU.
#[derive(Default)]
struct Fingerprint(u64);

impl std::hash::Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Escape the glob metacharacters of Redis MATCH patterns (`* ? [ ] \`), so a
/// prefix is matched literally and can never widen a SCAN.
pub fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
