//! The catalog: which tables exist (one per key prefix of hashes or RedisJSON
//! documents), their inferred columns and their RediSearch index, kept fresh
//! in the background.
//!
//! A key `<prefix>:<id>` belongs to table `<prefix>`: the prefix is
//! everything before the last `:`. Discovery SCANs the whole keyspace for
//! hashes, and again for JSON documents when RedisJSON is loaded. It runs at
//! startup, every `refresh_interval`, and at once (at most once a second)
//! when a query names a table the catalog has not seen.
//!
//! A prefix holding both hashes and JSON documents gives one table of the
//! type most of its keys have (hashes on a tie); the other keys are counted
//! in [`TableInfo::foreign_keys`], left out of reads (with a NOTICE), and
//! INSERT/COPY into such a table are refused.

pub mod index;
pub mod indexable;
pub mod infer;
pub mod meta;
pub mod pg;
pub mod shards;
pub mod system;
pub mod types;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use infer::ColumnInfo;
pub use types::ColType;

use crate::error::{Error, Result};
use crate::store::json::JSON_TYPE;
use crate::store::{Store, FETCH_BATCH};

/// Name of the pseudo-column holding a key's id part.
pub const KEY_COLUMN: &str = "_key";

/// Rows stored as Redis hashes, one field per column.
pub const STORAGE_HASH: &str = "hash";
/// Rows stored as RedisJSON documents (see [`crate::store::json`]).
pub const STORAGE_JSON: &str = "json";

/// The Redis type name (`TYPE`, `SCAN ... TYPE`) of a storage's keys.
pub fn redis_type(storage: &str) -> &'static str {
    if storage == STORAGE_JSON {
        JSON_TYPE
    } else {
        "hash"
    }
}

/// Keys found per full prefix (with its `:`): (key count, sampled keys).
type Found = HashMap<String, (u64, Vec<Vec<u8>>)>;

/// One Redis-backed table.
#[derive(Clone, Debug)]
pub struct TableInfo {
    pub name: String,
    /// Full key prefix including its `:` (`sale:`); a row's key is prefix + id.
    pub prefix: String,
    /// The column holding a key's id part (`_key` unless declared).
    pub key_column: String,
    pub key_type: ColType,
    /// Created with CREATE TABLE (metadata in Redis) rather than discovered.
    pub declared: bool,
    /// Seconds every written row lives, when declared.
    pub ttl: Option<u64>,
    /// `hash` or `json` ([`STORAGE_HASH`], [`STORAGE_JSON`]).
    pub storage: &'static str,
    pub key_count: u64,
    /// Keys under the prefix of the other storage type (JSON documents in a
    /// hash table or hashes in a JSON table): not rows, and INSERT is refused.
    pub foreign_keys: u64,
    /// Columns read from the hash fields (the key column is not among them).
    pub columns: Vec<ColumnInfo>,
    /// Number of keys the schema was inferred from.
    pub sampled: usize,
    /// The RediSearch index over this table's prefix, if any.
    pub index_name: Option<String>,
    /// That index as FT.INFO described it at the last refresh.
    pub index: Option<Arc<index::IndexInfo>>,
    /// Why the index cannot be used, as far as the last refresh could tell
    /// (document count differs from the key count, nested keys under the prefix).
    pub index_note: Option<String>,
}

impl TableInfo {
    pub fn key_column(&self) -> &str {
        &self.key_column
    }

    /// Every column with its type, the key column first.
    pub fn all_columns(&self) -> Vec<(String, ColType)> {
        std::iter::once((self.key_column.clone(), self.key_type))
            .chain(self.columns.iter().map(|c| (c.name.clone(), c.ty)))
            .collect()
    }

    /// The named columns with their types (all of them for an empty list).
    pub fn resolve_columns(&self, names: &[String]) -> Result<Vec<(String, ColType)>> {
        let all = self.all_columns();
        if names.is_empty() {
            return Ok(all);
        }
        names
            .iter()
            .map(|n| {
                all.iter().find(|(a, _)| a == n).cloned().ok_or_else(|| {
                    Error::UndefinedColumn(format!("column \"{n}\" of relation \"{}\" does not exist", self.name))
                })
            })
            .collect()
    }

    /// Whether the table's index could answer queries as of the last
    /// refresh (None: no index); [`Catalog::usable_index`] asks live.
    pub fn index_state_at_refresh(&self) -> Option<std::result::Result<(), String>> {
        let info = self.index.as_ref()?;
        Some(match &self.index_note {
            Some(note) => Err(note.clone()),
            None => index::check_live(info, &self.prefix, self.storage),
        })
    }

    /// The Redis key of the row with id `id`.
    pub fn key_of(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Redis type of this table's rows (`hash` or `ReJSON-RL`).
    pub fn redis_type(&self) -> &'static str {
        redis_type(self.storage)
    }

    fn other_storage(&self) -> &'static str {
        if self.storage == STORAGE_JSON {
            "hashes"
        } else {
            "JSON documents"
        }
    }

    /// Refuse to create rows in a prefix that also holds keys of the other type.
    pub fn check_writable(&self) -> Result<()> {
        if self.foreign_keys == 0 {
            return Ok(());
        }
        Err(Error::WrongKeyType(format!(
            "table \"{}\" stores {} but its prefix {:?} also holds {} {}; \
             redsql does not write into a prefix holding keys of another type",
            self.name,
            if self.storage == STORAGE_JSON {
                "JSON documents"
            } else {
                "hashes"
            },
            self.prefix,
            self.foreign_keys,
            self.other_storage()
        )))
    }

    /// The NOTICE a read of a table with foreign keys raises.
    pub fn foreign_notice(&self) -> Option<String> {
        (self.foreign_keys > 0).then(|| {
            format!(
                "table \"{}\": {} {} under prefix {:?} are not rows of this {} table and were skipped",
                self.name,
                self.foreign_keys,
                self.other_storage(),
                self.prefix,
                self.storage
            )
        })
    }
}

#[derive(Clone, Debug)]
pub struct CatalogOptions {
    /// Keys sampled per table for inference.
    pub sample_size: usize,
    /// How often the background task rescans the keyspace.
    pub refresh_interval: Duration,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            sample_size: 1000,
            refresh_interval: Duration::from_secs(10),
        }
    }
}

pub struct Catalog {
    store: Store,
    opts: CatalogOptions,
    tables: RwLock<Arc<BTreeMap<String, Arc<TableInfo>>>>,
    /// Serialises refreshes and remembers when the last one finished.
    refreshing: tokio::sync::Mutex<Option<Instant>>,
    /// The store's epoch (see [`Store::epoch`]) the last rescan read: a
    /// Redis restarted since, perhaps empty, makes what it found stale.
    scanned_epoch: AtomicU64,
}

/// A refresh on a miss happens at most this often.
const MISS_REFRESH_MIN_GAP: Duration = Duration::from_secs(1);

impl Catalog {
    pub fn new(store: Store, opts: CatalogOptions) -> Arc<Catalog> {
        Arc::new(Catalog {
            store,
            opts,
            tables: RwLock::new(Arc::new(BTreeMap::new())),
            refreshing: tokio::sync::Mutex::new(None),
            scanned_epoch: AtomicU64::new(0),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A snapshot of all tables.
    pub fn snapshot(&self) -> Arc<BTreeMap<String, Arc<TableInfo>>> {
        self.tables.read().expect("catalog lock").clone()
    }

    /// Look a table up, rescanning once if it is not known yet.
    /// Rescans first if Redis was restarted since the last rescan.
    pub async fn get(&self, name: &str) -> Result<Arc<TableInfo>> {
        let fresh = self.store.epoch().await? == self.scanned_epoch.load(Ordering::Relaxed);
        if fresh {
            if let Some(t) = self.snapshot().get(name) {
                return Ok(t.clone());
            }
        }
        self.refresh_if_older_than(MISS_REFRESH_MIN_GAP).await?;
        self.snapshot()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UndefinedTable(name.to_string()))
    }

    /// Refresh unless one finished less than `age` ago and Redis was not
    /// restarted since (waits for a running one).
    pub async fn refresh_if_older_than(&self, age: Duration) -> Result<()> {
        let mut last = self.refreshing.lock().await;
        let epoch = self.store.epoch().await?;
        let same_redis = epoch == self.scanned_epoch.load(Ordering::Relaxed);
        if same_redis && matches!(*last, Some(t) if t.elapsed() < age) {
            return Ok(());
        }
        self.rescan().await?;
        *last = Some(Instant::now());
        self.scanned_epoch.store(epoch, Ordering::Relaxed);
        Ok(())
    }

    /// Mark the catalog stale after a write, so the next read of a system
    /// view (or a miss) rescans instead of showing old counts.
    pub async fn invalidate(&self) {
        *self.refreshing.lock().await = None;
    }

    /// Rescan now.
    pub async fn refresh(&self) -> Result<()> {
        self.refresh_if_older_than(Duration::ZERO).await
    }

    /// Keep the catalog fresh until the returned task is aborted.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(me.opts.refresh_interval).await;
                if let Err(e) = me.refresh_if_older_than(me.opts.refresh_interval / 2).await {
                    tracing::warn!(error = %e, "catalog refresh failed");
                }
            }
        })
    }

    /// SCAN the keyspace for keys of one Redis type, grouped by prefix.
    async fn scan_prefixes(&self, key_type: &str) -> Result<Found> {
        let mut found: Found = HashMap::new();
        let sample_size = self.opts.sample_size;
        self.store
            .scan_keys(key_type, |keys| {
                for key in keys {
                    let Some(colon) = key.iter().rposition(|&b| b == b':') else {
                        continue;
                    };
                    let Ok(prefix) = std::str::from_utf8(&key[..=colon]) else {
                        continue;
                    };
                    let entry = found.entry(prefix.to_string()).or_default();
                    // SCAN can repeat keys; counts are estimates until a table is read.
                    entry.0 += 1;
                    if entry.1.len() < sample_size {
                        entry.1.push(key);
                    }
                }
            })
            .await?;
        found.remove(&format!("{}:", meta::META_PREFIX));
        Ok(found)
    }

    async fn rescan(&self) -> Result<()> {
        let started = Instant::now();
        let mut hashes = self.scan_prefixes("hash").await?;
        let mut docs = if self.store.has_json().await {
            self.scan_prefixes(JSON_TYPE).await?
        } else {
            HashMap::new()
        };
        let indexes = index::list(&self.store).await;
        let all_prefixes: Vec<(String, &'static str)> = hashes
            .keys()
            .map(|p| (p.clone(), STORAGE_HASH))
            .chain(docs.keys().map(|p| (p.clone(), STORAGE_JSON)))
            .collect();
        let old = self.snapshot();
        let mut tables = BTreeMap::new();
        for m in meta::load_all(&self.store).await? {
            let hash = hashes.remove(&m.prefix).unwrap_or_default();
            let doc = docs.remove(&m.prefix).unwrap_or_default();
            let ((count, sample), foreign) = if m.storage == STORAGE_JSON {
                (doc, hash.0)
            } else {
                (hash, doc.0)
            };
            let mut table = self.declared_table(m, count, &sample, None).await?;
            table.foreign_keys = foreign;
            self.attach_index(&mut table, &indexes, &all_prefixes).await;
            tables.insert(table.name.clone(), Arc::new(table));
        }
        // A prefix with both types: the type of most of its keys (hashes on a tie).
        let mut prefixes: Vec<String> = hashes.keys().chain(docs.keys()).cloned().collect();
        prefixes.sort();
        prefixes.dedup();
        for prefix in prefixes {
            let hash = hashes.remove(&prefix).unwrap_or_default();
            let doc = docs.remove(&prefix).unwrap_or_default();
            let (storage, (count, sample), foreign) = if doc.0 > hash.0 {
                (STORAGE_JSON, doc, hash.0)
            } else {
                (STORAGE_HASH, hash, doc.0)
            };
            let name = prefix[..prefix.len() - 1].to_string();
            if tables.contains_key(&name) {
                continue; // a declared table of that name wins
            }
            let reuse = old
                .get(&name)
                .filter(|t| !t.declared && t.key_count == count && t.storage == storage);
            let mut table = match reuse {
                Some(t) => TableInfo {
                    foreign_keys: foreign,
                    ..(**t).clone()
                },
                None => TableInfo {
                    foreign_keys: foreign,
                    ..self.infer_table(&prefix, storage, count, &sample, None).await?
                },
            };
            self.attach_index(&mut table, &indexes, &all_prefixes).await;
            tables.insert(name, Arc::new(table));
        }
        tracing::debug!(
            tables = tables.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "catalog refreshed"
        );
        *self.tables.write().expect("catalog lock") = Arc::new(tables);
        Ok(())
    }

    /// Sampled rows as (field, value text) pairs; JSON documents flattened
    /// to dotted columns (see [`crate::store::json`]).
    async fn sample_rows(&self, storage: &str, sample: &[Vec<u8>]) -> Result<Vec<Vec<(Vec<u8>, Vec<u8>)>>> {
        let mut rows = Vec::with_capacity(sample.len());
        for chunk in sample.chunks(FETCH_BATCH) {
            if storage == STORAGE_JSON {
                rows.extend(self.store.json_flat_batch(chunk).await?);
            } else {
                rows.extend(self.store.hgetall_batch(chunk).await?);
            }
        }
        rows.retain(|r| !r.is_empty());
        Ok(rows)
    }

    async fn infer_table(
        &self,
        prefix: &str,
        storage: &'static str,
        count: u64,
        sample: &[Vec<u8>],
        index_name: Option<String>,
    ) -> Result<TableInfo> {
        let rows = self.sample_rows(storage, sample).await?;
        Ok(TableInfo {
            name: prefix[..prefix.len() - 1].to_string(),
            prefix: prefix.to_string(),
            key_column: KEY_COLUMN.to_string(),
            key_type: ColType::Text,
            declared: false,
            ttl: None,
            storage,
            key_count: count,
            foreign_keys: 0,
            columns: infer::infer_columns(&rows),
            sampled: rows.len(),
            index_name,
            index: None,
            index_note: None,
        })
    }

    /// A declared table: declared columns first (types as declared, confidence
    /// measured on the sample), then any other fields found, inferred.
    async fn declared_table(
        &self,
        m: meta::TableMeta,
        count: u64,
        sample: &[Vec<u8>],
        index_name: Option<String>,
    ) -> Result<TableInfo> {
        let rows = self.sample_rows(m.storage, sample).await?;
        let mut columns: Vec<ColumnInfo> = m
            .columns
            .iter()
            .map(|(n, t)| infer::declared_column(&rows, n, *t))
            .collect();
        for extra in infer::infer_columns(&rows) {
            if extra.name != m.key_column && !columns.iter().any(|c| c.name == extra.name) {
                columns.push(extra);
            }
        }
        Ok(TableInfo {
            name: m.name,
            prefix: m.prefix,
            key_column: m.key_column,
            key_type: m.key_type,
            declared: true,
            ttl: m.ttl,
            storage: m.storage,
            key_count: count,
            foreign_keys: 0,
            columns,
            sampled: rows.len(),
            index_name,
            index: None,
            index_note: None,
        })
    }

    /// Find the index over a table's prefix and note what the refresh can
    /// tell about its coverage (the live state is checked per query).
    async fn attach_index(
        &self,
        table: &mut TableInfo,
        indexes: &[index::IndexInfo],
        all_prefixes: &[(String, &'static str)],
    ) {
        let over: Vec<&index::IndexInfo> = indexes
            .iter()
            .filter(|i| i.is_over(&table.prefix, table.storage))
            .collect();
        // Prefer an index that is live-usable, then the one with most attributes.
        let best = over.iter().max_by_key(|i| {
            (
                index::check_live(i, &table.prefix, table.storage).is_ok(),
                i.attributes.len(),
            )
        });
        let Some(info) = best else {
            table.index_name = None;
            table.index = None;
            table.index_note = None;
            return;
        };
        let nested: Vec<&String> = all_prefixes
            .iter()
            .filter(|(p, st)| *st == table.storage && p != &table.prefix && p.starts_with(&table.prefix))
            .map(|(p, _)| p)
            .collect();
        let mut note = info.layout_note.clone();
        if note.is_some() {
            // The parts do not cover the cluster: that is what to fix first.
        } else if let Some(p) = nested.first() {
            note = Some(format!(
                "index {} also holds keys under {p:?}, which are not rows of table \"{}\"",
                info.name, table.name
            ));
        } else if !info.count_matches(table.key_count) && info.percent_indexed >= 1.0 {
            // SCAN may repeat keys: count exactly before deciding.
            let exact = self
                .store
                .count_table_keys(&table.prefix, table.redis_type())
                .await
                .unwrap_or(u64::MAX);
            table.key_count = if exact == u64::MAX { table.key_count } else { exact };
            if !info.count_matches(exact) {
                note = Some(format!(
                    "index {} holds {} documents but the table has {} keys (created with SKIPINITIALSCAN, \
                     or keys written while it was checked)",
                    info.name, info.num_docs, table.key_count
                ));
            }
        }
        table.index_name = Some(info.name.clone());
        table.index = Some(Arc::new((*info).clone()));
        table.index_note = note;
    }

    /// The table's index if it can answer queries now (live FT.INFO check),
    /// else why not.
    pub async fn usable_index(&self, table: &TableInfo) -> std::result::Result<Arc<index::IndexInfo>, String> {
        let Some(name) = &table.index_name else {
            return Err(format!("no RediSearch index over prefix {:?}", table.prefix));
        };
        if self.store.db() != 0 {
            return Err(format!(
                "RediSearch indexes only database 0, and this server reads database {}",
                self.store.db()
            ));
        }
        if let Some(note) = &table.index_note {
            return Err(note.clone());
        }
        let Some(known) = &table.index else {
            return Err(format!("index {name} was not read at the last catalog refresh"));
        };
        let live = index::live(&self.store, known)
            .await
            .map_err(|e| format!("index {name}: {e}"))?;
        index::check_live(&live, &table.prefix, table.storage)?;
        let parts = |i: &index::IndexInfo| {
            i.shards
                .iter()
                .map(|s| (s.name.clone(), s.node.clone()))
                .collect::<Vec<_>>()
        };
        if (&known.attributes, &known.prefixes, parts(known)) != (&live.attributes, &live.prefixes, parts(&live)) {
            return Err(format!("index {name} changed since the catalog last checked it"));
        }
        Ok(Arc::new(live))
    }
}
