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
//! merged into rather than reported (see docs/performance.md).

use futures::stream::FuturesOrdered;
use futures::StreamExt;
use redis::Value;

use super::write::Conflict;
use crate::catalog::{ColType, TableInfo};
use crate::error::{Error, Result};
use crate::store::Store;

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

/// Write checked rows (`(row index, id)`) of a hash table; the rows written.
pub(super) async fn insert_hashes(
    store: &Store,
    table: &TableInfo,
    columns: &[(String, ColType)],
    encoded: &[Vec<Option<String>>],
    rows: &[(usize, String)],
    conflict: Conflict,
    how: How,
) -> Result<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    // The insert script's SHA; None when rows go by HSETEX.
    let sha: Option<String> = match how {
        How::Script => Some(
            store
                .query(redis::cmd("SCRIPT").arg("LOAD").arg(INSERT_GROUP_SCRIPT))
                .await?,
        ),
        How::NewKeys => None,
    };
    let mode = conflict.script_mode();
    let ttl = table.ttl.unwrap_or(0).to_string();
    let pipelines: Vec<&[(usize, String)]> = rows.chunks(GROUP * GROUPS_PER_PIPELINE).collect();
    // A row's present fields as `n field value ...`, added to the pipeline's last command.
    let add_fields = |cmd: &mut redis::Pipeline, r: usize| {
        let fields: Vec<(&str, &str)> = columns
            .iter()
            .enumerate()
            .filter_map(|(c, (name, _))| encoded[c][r].as_deref().map(|v| (name.as_str(), v)))
            .collect();
        cmd.arg(fields.len());
        for (f, v) in fields {
            cmd.arg(f).arg(v);
        }
    };
    let send = |chunk: &'_ [(usize, String)]| {
        let mut pipe = redis::pipe();
        match &sha {
            None => {
                pipe.ignore_errors();
                for (r, id) in chunk {
                    add_fields(pipe.cmd("HSETEX").arg(table.key_of(id)).arg("FNX").arg("FIELDS"), *r);
                }
            }
            Some(sha) => {
                for group in chunk.chunks(GROUP) {
                    let cmd = pipe.cmd("EVALSHA").arg(sha).arg(group.len());
                    for (_, id) in group {
                        cmd.arg(table.key_of(id));
                    }
                    cmd.arg(mode).arg(&ttl);
                    for (r, _) in group {
                        add_fields(cmd, *r);
                    }
                }
            }
        }
        async move { store.pipeline(&pipe).await }
    };
    let mut in_flight = FuturesOrdered::new();
    let mut next = 0;
    let mut written = 0;
    let mut first_error: Option<Error> = None;
    loop {
        // After a problem no new pipeline is sent; those in flight are still counted.
        while first_error.is_none() && in_flight.len() < IN_FLIGHT && next < pipelines.len() {
            let chunk = pipelines[next];
            in_flight.push_back(async move { (chunk, send(chunk).await) });
            next += 1;
        }
        let Some((chunk, reply)) = in_flight.next().await else {
            break;
        };
        let groups = match reply {
            Ok(groups) => groups,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        // One code per row: 1 written, 0 exists, -1 another type.
        let codes: Vec<std::result::Result<i64, &Value>> = match how {
            How::Script => groups
                .iter()
                .flat_map(|g| match g {
                    Value::Array(codes) => codes.iter().map(code).collect::<Vec<_>>(),
                    other => vec![Err(other)],
                })
                .collect(),
            How::NewKeys => groups.iter().map(code).collect(),
        };
        for (code, (_, id)) in codes.into_iter().zip(chunk) {
            let problem = match code {
                Ok(1) => {
                    written += 1;
                    continue;
                }
                Ok(0) if conflict == Conflict::DoNothing => continue,
                Ok(0) => Error::Data(
                    "23505",
                    format!("duplicate key value: {} was created concurrently", table.key_of(id)),
                ),
                Ok(-1) => Error::WrongKeyType(format!(
                    "key {} holds another Redis type, not a row of hash table \"{}\"; it was not overwritten",
                    table.key_of(id),
                    table.name
                )),
                other => Error::Redis(format!("insert of {} failed: {other:?}", table.key_of(id))),
            };
            first_error.get_or_insert(problem);
        }
    }
    if let Some(e) = first_error {
        let note = format!("; {written} of these rows were written");
        return Err(match e {
            Error::Data(code, msg) => Error::Data(code, msg + &note),
            Error::WrongKeyType(msg) => Error::WrongKeyType(msg + &note),
            Error::Redis(msg) => Error::Redis(msg + &note),
            other => other,
        });
    }
    Ok(written)
}

/// A row's code from the script (1, 0, -1) or HSETEX FNX (1 written, 0 a
/// field exists, WRONGTYPE: another type).
fn code(v: &Value) -> std::result::Result<i64, &Value> {
    match v {
        Value::Int(c @ -1..=1) => Ok(*c),
        Value::ServerError(e) if e.code() == "WRONGTYPE" => Ok(-1),
        other => Err(other),
    }
}
