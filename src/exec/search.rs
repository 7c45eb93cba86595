//! Running pushed-down reads: `FT.AGGREGATE ... WITHCURSOR` over the RESP3
//! connection, `FT.CURSOR READ` until the cursor is done, and the rows
//! turned into frames typed like the scan path's.
//!
//! A RediSearch warning in any reply (a timeout, a missing value in an
//! expression) means the result may be partial: the query fails with it.
//!
//! An index is one or more parts (one per Redis Cluster master, see
//! `catalog::shards`); every command runs on each part at once, on a
//! connection to its master. Aggregates are merged group by group in
//! [`super::search_agg`]. Row fetches read one node's cursor; on a cluster,
//! where RediSearch loads no document, the parts give keys
//! ([`super::search_keys`]) and the rows are read by key.

use std::sync::Arc;

use polars::prelude::*;
use tokio::sync::mpsc;

use super::scan::{self, Keys, Messy, RowsBuilder};
use crate::catalog::index::IndexInfo;
use crate::catalog::TableInfo;
use crate::error::{Error, Result};
use crate::pushdown::{tail_args, FetchPlan, CURSOR_COUNT};
use crate::store::node::Node;
use crate::store::resp3::{self, Conn, Reply};
use crate::store::Store;

pub use super::search_agg::aggregate;

/// The full FT.AGGREGATE argument list after the command name.
pub fn full_args(index: &str, body: Vec<String>, pushed: &crate::pushdown::filter::Pushed) -> Vec<String> {
    let mut a = vec![index.to_string()];
    a.extend(body);
    a.extend(tail_args(pushed));
    a
}

/// A command as EXPLAIN prints it (arguments quoted when needed).
pub fn command_text(args: &[String]) -> String {
    quoted("FT.AGGREGATE", args)
}

/// `command` and its arguments as EXPLAIN prints them.
pub fn quoted(command: &str, args: &[String]) -> String {
    let mut out = String::from(command);
    for a in args {
        out.push(' ');
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '$' | '.' | '*' | '-' | ':'));
        if plain {
            out.push_str(a);
        } else {
            out.push('\'');
            for c in a.chars() {
                match c {
                    '\'' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    '\u{1f}' => out.push_str("\\x1f"),
                    c => out.push(c),
                }
            }
            out.push('\'');
        }
    }
    out
}

/// A reply row: its field/value pairs, borrowed from the reply.
pub(super) type Fields<'a> = [(&'a [u8], &'a [u8])];

/// Run one FT.AGGREGATE with a cursor, handing each row's field/value
/// pairs to `on_row` until the cursor ends or `limit` rows were seen. One
/// pooled connection serves the whole cursor; it goes back to the pool only
/// when every reply was read whole.
pub(super) async fn cursor_rows(
    node: &Node,
    args: &[String],
    limit: Option<u64>,
    mut on_row: impl FnMut(&Fields<'_>),
) -> Result<u64> {
    let mut conn = node.search_conn().await?;
    let out = async {
        let mut cursor = Cursor::open(&mut conn, args, limit).await?;
        // Each page counts against the statement's row budget as it comes.
        let mut counted = 0;
        loop {
            let more = cursor.page(&mut on_row).await?;
            if let Err(e) = super::budget::charge((cursor.seen - counted) as usize) {
                cursor.abandon().await?;
                return Err(e);
            }
            counted = cursor.seen;
            if !more {
                return Ok(cursor.seen);
            }
        }
    }
    .await;
    if reusable(&out) {
        node.search_done(conn);
    }
    out
}

/// Whether a connection is fit for the pool after this outcome: every reply
/// was read whole (a Redis error reply was read whole too).
pub(super) fn reusable<T>(out: &Result<T>) -> bool {
    matches!(out, Ok(_) | Err(Error::Redis(_)))
}

/// An FT.AGGREGATE cursor read page by page. Without a limit the next page
/// is asked for before this one's rows are handed on, so RediSearch builds
/// it while redsql parses and sends them (a page's rows are only known to be
/// needed once a limit has not been reached, so with a limit the pages are
/// read one after the other).
struct Cursor<'c> {
    conn: &'c mut Conn,
    index: Vec<u8>,
    limit: Option<u64>,
    /// Rows handed on so far.
    seen: u64,
    next: Next,
}

/// The page a cursor hands on next.
enum Next {
    /// Read, waiting.
    Read(Reply),
    /// Asked for; its reply is the next one on the connection.
    Asked,
    /// The cursor is done (or deleted).
    Done,
}

impl<'c> Cursor<'c> {
    async fn open(conn: &'c mut Conn, args: &[String], limit: Option<u64>) -> Result<Cursor<'c>> {
        let mut cmd: Vec<&[u8]> = vec![b"FT.AGGREGATE"];
        cmd.extend(args.iter().map(|a| a.as_bytes()));
        let next = Next::Read(conn.call(&cmd).await?);
        Ok(Cursor {
            conn,
            index: args[0].as_bytes().to_vec(),
            limit,
            seen: 0,
            next,
        })
    }

    /// Hand the next page's rows to `on_row`; whether pages remain after it.
    async fn page(&mut self, on_row: &mut impl FnMut(&Fields<'_>)) -> Result<bool> {
        let Some(reply) = self.take_reply().await? else {
            return Ok(false);
        };
        let frame = reply.frame();
        if let Some(e) = frame.error() {
            return Err(Error::Redis(String::from_utf8_lossy(e).into_owned()));
        }
        let mut parts = frame.elements();
        let (Some(page), Some(cursor), None) = (parts.next(), parts.next().and_then(|c| c.int()), parts.next()) else {
            return Err(Error::Redis(format!("unexpected FT.AGGREGATE reply {frame:?}")));
        };
        let warning = page
            .get("warning")
            .and_then(|w| w.elements().next())
            .and_then(|w| w.bytes());
        if let Some(w) = warning {
            let w = String::from_utf8_lossy(w).into_owned();
            self.delete(cursor).await?;
            return Err(Error::Redis(format!(
                "RediSearch returned a partial result ({w}); the query was not answered"
            )));
        }
        if cursor != 0 && self.limit.is_none() {
            let mut read = Vec::new();
            resp3::encode_command(&mut read, &self.read_command(cursor));
            self.conn.send(&read).await?;
            self.next = Next::Asked;
        }
        let mut fields: Vec<(&[u8], &[u8])> = Vec::with_capacity(16);
        for r in page.get("results").iter().flat_map(|r| r.elements()) {
            if let Some(attrs) = r.get("extra_attributes").filter(|a| a.is_map()) {
                fields.clear();
                fields.extend(attrs.pairs().filter_map(|(f, v)| Some((f.bytes()?, v.bytes()?))));
                on_row(&fields);
                self.seen += 1;
            }
        }
        if matches!(self.next, Next::Done) && cursor != 0 {
            if self.limit.is_some_and(|l| self.seen >= l) {
                self.delete(cursor).await?;
            } else {
                let read = self.read_command(cursor);
                self.next = Next::Read(self.conn.call(&read).await?);
            }
        }
        Ok(!matches!(self.next, Next::Done))
    }

    fn read_command(&self, cursor: i64) -> [Vec<u8>; 6] {
        [
            b"FT.CURSOR".to_vec(),
            b"READ".to_vec(),
            self.index.clone(),
            cursor.to_string().into_bytes(),
            b"COUNT".to_vec(),
            CURSOR_COUNT.to_string().into_bytes(),
        ]
    }

    /// Give up on the pages not read yet: RediSearch drops the cursor now
    /// rather than when it idles out.
    async fn abandon(mut self) -> Result<()> {
        let Some(reply) = self.take_reply().await? else {
            return Ok(());
        };
        let id = reply.frame().elements().nth(1).and_then(|c| c.int()).unwrap_or(0);
        self.delete(id).await
    }

    /// The next page's reply (read now if it was only asked for), leaving
    /// the cursor done until `page` decides otherwise; None once it is done.
    async fn take_reply(&mut self) -> Result<Option<Reply>> {
        Ok(match std::mem::replace(&mut self.next, Next::Done) {
            Next::Read(reply) => Some(reply),
            Next::Asked => Some(self.conn.receive(1).await?),
            Next::Done => None,
        })
    }

    /// Delete the cursor (no-op for the id 0 of a finished one).
    async fn delete(&mut self, cursor: i64) -> Result<()> {
        if cursor != 0 {
            let id = cursor.to_string();
            self.conn
                .call(&[&b"FT.CURSOR"[..], b"DEL", &self.index, id.as_bytes()])
                .await?;
        }
        Ok(())
    }
}

pub(super) fn field<'a>(fields: &Fields<'a>, name: &[u8]) -> Option<&'a [u8]> {
    fields.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

/// Each part of `index` with the master holding it (one on a single node).
fn parts(store: &Store, index: &IndexInfo) -> Result<Vec<(String, Arc<Node>)>> {
    index
        .shards
        .iter()
        .map(|s| Ok((s.name.clone(), store.master(&s.node)?)))
        .collect()
}

/// `run` on every part of `index` at once (its name and master), the
/// answers in part order. On a cluster a key migrating between masters
/// could be seen by two parts or by none: the read stops unless no slot is
/// being migrated before it and none moved after it.
pub(super) async fn on_every_part<T, F, Fut>(store: &Store, index: &IndexInfo, run: F) -> Result<Vec<T>>
where
    F: Fn(String, Arc<Node>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let parts = parts(store, index)?;
    let generation = store.steady().await?;
    let answers = futures::future::try_join_all(parts.into_iter().map(|(name, node)| run(name, node))).await?;
    store.still_steady(generation).await?;
    Ok(answers)
}

/// The one part a cursor fetch reads (a cluster's fetches, in several
/// parts, read keys instead: see [`super::search_keys`]).
fn one_part(store: &Store, index: &IndexInfo) -> Result<(String, Arc<Node>)> {
    match parts(store, index)?.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::Internal(format!(
            "a row fetch was planned over index {} in several parts",
            index.name
        ))),
    }
}

/// Fetch the rows of a [`FetchPlan`] as the table's frame (needed columns);
/// None when a cluster's part has more matching keys than one FT.SEARCH
/// reply may hold (the caller scans instead).
pub async fn fetch(
    store: &Store,
    index: &IndexInfo,
    table: &TableInfo,
    columns: &[String],
    plan: &FetchPlan,
) -> Result<Option<(DataFrame, Vec<Messy>)>> {
    if plan.cluster {
        let Some(keys) = super::search_keys::keys(store, index, plan).await? else {
            return Ok(None);
        };
        let keys = own_keys(table, keys);
        return scan::read_table(store, table, columns, false, Keys::Exact(keys))
            .await
            .map(Some);
    }
    let (name, node) = one_part(store, index)?;
    if plan.json {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for body in plan.commands() {
            let args = full_args(&name, body, &plan.pushed);
            cursor_rows(&node, &args, plan.limit, |fields| {
                keys.extend(field(fields, b"__key").map(<[u8]>::to_vec));
            })
            .await?;
        }
        let keys = own_keys(table, keys);
        return scan::read_table(store, table, columns, false, Keys::Exact(keys))
            .await
            .map(Some);
    }
    let mut rows = RowsBuilder::new(table, columns);
    for body in plan.commands() {
        let args = full_args(&name, body, &plan.pushed);
        cursor_rows(&node, &args, plan.limit, |fields| push_row(&mut rows, fields)).await?;
    }
    rows.finish().map(Some)
}

/// The index's keys that are the table's rows (not those of a table under a
/// longer prefix, such as `sale:eu:1` beside `sale:1`).
fn own_keys(table: &TableInfo, mut keys: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let plen = table.prefix.len();
    keys.retain(|k| k.len() >= plen && !k[plen..].contains(&b':'));
    keys
}

/// One fetched row into the builder (hash tables: the row is the fields
/// `LOAD *` returned).
fn push_row(rows: &mut RowsBuilder, fields: &Fields<'_>) {
    let Some(key) = field(fields, b"__key") else {
        return;
    };
    // A key whose TTL passed but that Redis has not deleted yet is still in
    // the index; it loads no fields and is not a row.
    if fields.len() < 2 {
        return;
    }
    rows.push(key, fields.iter().copied());
}

/// The rows of a hash table's fetch (no limit needed) page by page, each
/// cursor page a frame of the needed columns, like the scan path's chunks:
/// a task reads the pages on a pooled connection while the receiver works
/// through earlier ones. When the receiver goes away the cursor is deleted.
pub fn fetch_pages(
    store: Store,
    index: Arc<IndexInfo>,
    table: Arc<TableInfo>,
    columns: Vec<String>,
    plan: FetchPlan,
) -> mpsc::Receiver<Result<(DataFrame, Vec<Messy>)>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let (name, node) = match one_part(&store, &index) {
            Ok(part) => part,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let mut conn = match node.search_conn().await {
            Ok(conn) => conn,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let out: Result<()> = async {
            for body in plan.commands() {
                let args = full_args(&name, body, &plan.pushed);
                let mut cursor = Cursor::open(&mut conn, &args, plan.limit).await?;
                loop {
                    let mut rows = RowsBuilder::new(&table, &columns);
                    let more = cursor.page(&mut |fields| push_row(&mut rows, fields)).await?;
                    let chunk = rows.finish();
                    let empty = matches!(&chunk, Ok((f, m)) if f.height() == 0 && m.is_empty());
                    if !empty && tx.send(chunk).await.is_err() {
                        return cursor.abandon().await;
                    }
                    if !more {
                        break;
                    }
                }
            }
            Ok(())
        }
        .await;
        if reusable(&out) {
            node.search_done(conn);
        }
        if let Err(e) = out {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}
