//! Writing checked rows as hashes, fast: one Lua script call writes a group
//! of rows (each row still checked and written atomically: no existing key is
//! overwritten unless asked, no key of another type ever), several groups per
//! pipeline, several pipelines in flight on the multiplexed connection (sent
//! in order, so later rows still win under `replace`).
//!
//! Rows whose keys were just found not to exist (a load into a new or
//! growing table, no TTL, no `replace`) are written on Redis 8 with one
//! `HSETEX key FNX FIELDS n field value ...` each instead: the script costs
//! Redis 1.6x the CPU of plain HSET per row (measured with redis-cli --pipe:
//! 3.7 s against 2.2 s per million 6-field rows), HSETEX FNX 1.07x. FNX
//! writes only if none of the row's fields exists, so a key another client
//! created since the check is reported as a duplicate when it shares a field
//! with the row (every row redsql writes carries its key column); only a
//! hash created in those milliseconds with none of the row's fields would be
//! merged into rather than reported (see docs/performance.md). Those rows
//! have distinct keys and nothing to replace, so their pipelines may run on
//! connections of their own, whose replies redsql's RESP3 reader parses at a
//! fraction of the shared connection's cost.

use futures::stream::FuturesOrdered;
use futures::StreamExt;
use redis::Value;

use super::write::{Checked, Conflict};
use crate::catalog::{ColType, TableInfo};
use crate::error::{Error, Result};
use crate::store::cluster::slot;
use crate::store::resp3::{self, Frame};
use crate::store::{Pipe, Store};

/// Rows per script call.
const GROUP: usize = 100;
/// Script calls per pipeline.
const GROUPS_PER_PIPELINE: usize = 2;
/// Pipelines in flight.
const IN_FLIGHT: usize = 4;

/// Write rows KEYS[i] unless the key exists (mode 0 = report, 1 = skip) or
/// replacing it (mode 2); a key of another type is never touched (-1).
/// ARGV: mode, ttl seconds (0 = none), then per row: n, field, value, ... (n pairs).
/// Returns one code per row: 1 written, 0 exists, -1 other type.
const INSERT_GROUP_SCRIPT: &str = r"
local mode, ttl = ARGV[1], ARGV[2]
local out = {}
local pos = 3
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[pos])
  pos = pos + 1
  local t = 'none'
  if redis.call('EXISTS', key) == 1 then t = redis.call('TYPE', key).ok end
  if t ~= 'none' and t ~= 'hash' then
    out[i] = -1
  elseif t == 'hash' and mode ~= '2' then
    out[i] = 0
  else
    if t == 'hash' then redis.call('DEL', key) end
    if n > 0 then redis.call('HSET', key, unpack(ARGV, pos, pos + 2 * n - 1)) end
    if ttl ~= '0' then redis.call('EXPIRE', key, ttl) end
    out[i] = 1
  end
  pos = pos + 2 * n
end
return out
";

/// How rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum How {
    /// The insert script: any conflict mode, TTLs, keys that may exist.
    Script,
    /// HSETEX FNX per row: keys checked not to exist, no TTL, not `replace`.
    NewKeys,
}

/// Write checked rows of a hash table; the rows written.
pub(super) async fn insert_hashes(
    store: &Store,
    table: &TableInfo,
    columns: &[(String, ColType)],
    encoded: &[Vec<Option<String>>],
    checked: &Checked,
    conflict: Conflict,
    how: How,
) -> Result<usize> {
    let Checked { rows, keys } = checked;
    if rows.is_empty() {
        return Ok(0);
    }
    // The insert script's SHA and conflict mode; None when rows go by HSETEX.
    let script: Option<(String, &str)> = match how {
        How::Script => {
            let sha = store
                .query(redis::cmd("SCRIPT").arg("LOAD").arg(INSERT_GROUP_SCRIPT))
                .await?;
            Some((sha, conflict.script_mode()))
        }
        How::NewKeys => None,
    };
    let per_pipeline = GROUP * GROUPS_PER_PIPELINE;
    let pipelines: Vec<_> = rows.chunks(per_pipeline).zip(keys.chunks(per_pipeline)).collect();
    let rows_of = Rows {
        table,
        columns,
        encoded,
    };
    let mut in_flight = FuturesOrdered::new();
    let mut next = 0;
    let mut written = 0;
    let mut first_error: Option<Error> = None;
    loop {
        // After a problem no new pipeline is sent; those in flight are still counted.
        while first_error.is_none() && in_flight.len() < IN_FLIGHT && next < pipelines.len() {
            let (chunk, keys) = pipelines[next];
            let (rows_of, script) = (&rows_of, &script);
            in_flight.push_back(async move {
                let codes = match script {
                    Some((sha, mode)) => rows_of.run_script(store, sha, mode, chunk, keys).await,
                    None => rows_of.hsetex_new(store, chunk, keys).await,
                };
                (chunk, codes)
            });
            next += 1;
        }
        let Some((chunk, reply)) = in_flight.next().await else {
            break;
        };
        let codes = match reply {
            Ok(codes) => codes,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let (n, problem) = tally(table, conflict, codes, chunk);
        written += n;
        if let Some(e) = problem {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(with_written(e, written));
    }
    Ok(written)
}

/// Count the outcomes of rows written: how many were written, and the
/// first problem (a duplicate unless `DoNothing` skips it, a key of another
/// type, an unexpected reply).
pub(super) fn tally(
    table: &TableInfo,
    conflict: Conflict,
    codes: impl IntoIterator<Item = Code>,
    rows: &[(usize, String)],
) -> (usize, Option<Error>) {
    let mut written = 0;
    for (code, (_, id)) in codes.into_iter().zip(rows) {
        let problem = match code {
            Ok(1) => {
                written += 1;
                continue;
            }
            Ok(0) if conflict == Conflict::DoNothing => continue,
            Ok(0) => super::write::duplicate(table, id),
            Ok(-1) => Error::WrongKeyType(format!(
                "key {} holds another Redis type, not a row of hash table \"{}\"; it was not overwritten",
                table.key_of(id),
                table.name
            )),
            Ok(c) => Error::Redis(format!("insert of {} failed: unexpected reply {c}", table.key_of(id))),
            Err(reply) => Error::Redis(format!("insert of {} failed: {reply}", table.key_of(id))),
        };
        return (written, Some(problem));
    }
    (written, None)
}

/// A write's error, saying how many of its rows were written.
pub(super) fn with_written(e: Error, written: usize) -> Error {
    let note = format!("; {written} of these rows were written");
    match e {
        Error::Data(code, msg) => Error::Data(code, msg + &note),
        Error::WrongKeyType(msg) => Error::WrongKeyType(msg + &note),
        Error::Redis(msg) => Error::Redis(msg + &note),
        other => other,
    }
}

/// A row's outcome: 1 written, 0 a key (script) or field (HSETEX FNX)
/// exists, -1 the key holds another type; or the unexpected reply.
pub(super) type Code = std::result::Result<i64, String>;

/// A row's code from `HSETEX ... FNX`.
pub(super) fn hsetex_code(f: Frame<'_>) -> Code {
    match (f.int(), f.error()) {
        (Some(c @ 0..=1), _) => Ok(c),
        (_, Some(e)) if e.starts_with(b"WRONGTYPE") => Ok(-1),
        _ => Err(format!("{f:?}")),
    }
}

/// A row's code from the script.
fn code(v: &Value) -> Code {
    match v {
        Value::Int(c @ -1..=1) => Ok(*c),
        other => Err(format!("{other:?}")),
    }
}

/// The rows being written: the table, its columns and their stored values.
pub(super) struct Rows<'a> {
    pub table: &'a TableInfo,
    pub columns: &'a [(String, ColType)],
    pub encoded: &'a [Vec<Option<String>>],
}

impl Rows<'_> {
    /// Row `r`'s present fields as (name, value).
    fn fields(&self, r: usize) -> impl Iterator<Item = (&str, &str)> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(move |(c, (name, _))| self.encoded[c][r].as_deref().map(|v| (name.as_str(), v)))
    }

    /// Write rows with the insert script, GROUP rows per call (on a
    /// cluster, rows of one hash slot per call: a script's keys must share
    /// one); the codes in the rows' order.
    async fn run_script(
        &self,
        store: &Store,
        sha: &str,
        mode: &str,
        rows: &[(usize, String)],
        keys: &[String],
    ) -> Result<Vec<Code>> {
        let ttl = self.table.ttl.unwrap_or(0);
        let groups: Vec<Vec<usize>> = if store.is_cluster() {
            let mut by_slot: std::collections::BTreeMap<u16, Vec<usize>> = Default::default();
            for (i, k) in keys.iter().enumerate() {
                by_slot.entry(slot(k.as_bytes())).or_default().push(i);
            }
            by_slot
                .into_values()
                .flat_map(|g| g.chunks(GROUP).map(<[usize]>::to_vec).collect::<Vec<_>>())
                .collect()
        } else {
            (0..rows.len())
                .collect::<Vec<_>>()
                .chunks(GROUP)
                .map(<[usize]>::to_vec)
                .collect()
        };
        let mut pipe = Pipe::new();
        for group in &groups {
            let cmd = pipe.cmd("EVALSHA").arg(sha).arg(group.len());
            for &i in group {
                cmd.arg(&keys[i]);
            }
            cmd.arg(mode).arg(ttl);
            for &i in group {
                let r = rows[i].0;
                cmd.arg(self.fields(r).count());
                for (f, v) in self.fields(r) {
                    cmd.arg(f).arg(v);
                }
            }
        }
        let replies = store.pipeline(&pipe).await?;
        let mut codes: Vec<Code> = vec![Err("no reply".into()); rows.len()];
        for (group, reply) in groups.iter().zip(&replies) {
            match reply {
                Value::Array(got) if got.len() == group.len() => {
                    for (&i, c) in group.iter().zip(got) {
                        codes[i] = code(c);
                    }
                }
                other => {
                    for &i in group {
                        codes[i] = Err(format!("{other:?}"));
                    }
                }
            }
        }
        Ok(codes)
    }

    /// Write rows whose keys were just found not to exist with one
    /// `HSETEX key FNX FIELDS n field value ...` each, pipelined on a
    /// connection of their own (replies read without a value per row; on
    /// a cluster, routed to each key's master).
    async fn hsetex_new(&self, store: &Store, rows: &[(usize, String)], keys: &[String]) -> Result<Vec<Code>> {
        if store.is_cluster() {
            let counts = self.field_counts();
            let commands: Vec<Vec<&[u8]>> = rows
                .iter()
                .zip(keys)
                .map(|((r, _), key)| {
                    let mut args = Vec::new();
                    self.hsetex_args(*r, key, &counts, &mut args);
                    args
                })
                .collect();
            let reply = store.pipeline_own(commands.iter().map(Vec::as_slice)).await?;
            return Ok(reply.frames().map(hsetex_code).collect());
        }
        let mut out = Vec::new();
        let n = self.encode_hsetex(&mut out, rows, keys);
        let reply = store.pipeline_encoded(&out, n).await?;
        Ok(reply.frames().map(hsetex_code).collect())
    }

    /// "0" to "n" for n columns: HSETEX's field counts.
    fn field_counts(&self) -> Vec<String> {
        (0..=self.columns.len()).map(|n| n.to_string()).collect()
    }

    /// Row `r`'s `HSETEX key FNX FIELDS n field value ...` into `args`.
    fn hsetex_args<'s>(&'s self, r: usize, key: &'s str, counts: &'s [String], args: &mut Vec<&'s [u8]>) {
        args.clear();
        args.extend([b"HSETEX".as_slice(), key.as_bytes(), b"FNX", b"FIELDS", b""]);
        for (f, v) in self.fields(r) {
            args.extend([f.as_bytes(), v.as_bytes()]);
        }
        args[4] = counts[(args.len() - 5) / 2].as_bytes();
    }

    /// Append one `HSETEX key FNX FIELDS n field value ...` per row (`keys`
    /// are the rows' keys); how many commands.
    pub(super) fn encode_hsetex(&self, out: &mut Vec<u8>, rows: &[(usize, String)], keys: &[String]) -> usize {
        let counts = self.field_counts();
        let mut args: Vec<&[u8]> = Vec::with_capacity(5 + 2 * self.columns.len());
        for ((r, _), key) in rows.iter().zip(keys) {
            self.hsetex_args(*r, key, &counts, &mut args);
            resp3::encode_command(out, &args);
        }
        rows.len()
    }
}
