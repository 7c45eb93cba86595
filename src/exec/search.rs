//! Running pushed-down reads: `FT.AGGREGATE ... WITHCURSOR` over the RESP3
//! connection, `FT.CURSOR READ` until the cursor is done, and the rows
//! turned into frames typed like the scan path's.
//!
//! A RediSearch warning in any reply (a timeout, a missing value in an
//! expression) means the result may be partial: the query fails with it.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::*;
use tokio::sync::mpsc;

use super::scan::{self, Keys, Messy, RowsBuilder};
use crate::catalog::TableInfo;
use crate::error::{Error, Result};
use crate::pushdown::aggregate::{guard_name, AggPlan, Reduce};
use crate::pushdown::filter::{Kind, EXACT_INT};
use crate::pushdown::{tail_args, FetchPlan, CURSOR_COUNT};
use crate::store::resp3::{self, Conn, Reply};
use crate::store::Store;

/// The full FT.AGGREGATE argument list after the command name.
pub fn full_args(index: &str, body: Vec<String>, pushed: &crate::pushdown::filter::Pushed) -> Vec<String> {
    let mut a = vec![index.to_string()];
    a.extend(body);
    a.extend(tail_args(pushed));
    a
}

/// A command as EXPLAIN prints it (arguments quoted when needed).
pub fn command_text(args: &[String]) -> String {
    let mut out = String::from("FT.AGGREGATE");
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
type Fields<'a> = [(&'a [u8], &'a [u8])];

/// Run one FT.AGGREGATE with a cursor, handing each row's field/value
/// pairs to `on_row` until the cursor ends or `limit` rows were seen. One
/// pooled connection serves the whole cursor; it goes back to the pool only
/// when every reply was read whole.
async fn cursor_rows(
    store: &Store,
    args: &[String],
    limit: Option<u64>,
    mut on_row: impl FnMut(&Fields<'_>),
) -> Result<u64> {
    let mut conn = store.search_conn().await?;
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
        store.search_done(conn);
    }
    out
}

/// Whether a connection is fit for the pool after this outcome: every reply
/// was read whole (a Redis error reply was read whole too).
fn reusable<T>(out: &Result<T>) -> bool {
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

fn field<'a>(fields: &Fields<'a>, name: &[u8]) -> Option<&'a [u8]> {
    fields.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

/// Fetch the rows of a [`FetchPlan`] as the table's frame (needed columns).
pub async fn fetch(
    store: &Store,
    index: &str,
    table: &TableInfo,
    columns: &[String],
    plan: &FetchPlan,
) -> Result<(DataFrame, Vec<Messy>)> {
    if plan.json {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for body in plan.commands() {
            let args = full_args(index, body, &plan.pushed);
            cursor_rows(store, &args, plan.limit, |fields| {
                keys.extend(field(fields, b"__key").map(<[u8]>::to_vec));
            })
            .await?;
        }
        let plen = table.prefix.len();
        keys.retain(|k| k.len() >= plen && !k[plen..].contains(&b':'));
        return scan::read_table(store, table, columns, false, Keys::Exact(keys)).await;
    }
    let mut rows = RowsBuilder::new(table, columns);
    for body in plan.commands() {
        let args = full_args(index, body, &plan.pushed);
        cursor_rows(store, &args, plan.limit, |fields| push_row(&mut rows, fields)).await?;
    }
    rows.finish()
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
    index: String,
    table: Arc<TableInfo>,
    columns: Vec<String>,
    plan: FetchPlan,
) -> mpsc::Receiver<Result<(DataFrame, Vec<Messy>)>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let mut conn = match store.search_conn().await {
            Ok(conn) => conn,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let out: Result<()> = async {
            for body in plan.commands() {
                let args = full_args(&index, body, &plan.pushed);
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
            store.search_done(conn);
        }
        if let Err(e) = out {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}

/// Run a pushed aggregate: the groups frame (group columns, then `__aN`),
/// or None when a guard shows values RediSearch does not aggregate exactly
/// (bigints beyond ±2⁵³ or fractional, infinities under MIN/MAX; the caller
/// falls back to the scan path).
pub async fn aggregate(store: &Store, index: &str, plan: &AggPlan) -> Result<Option<DataFrame>> {
    let args = full_args(index, plan.args(), &plan.pushed);
    let mut groups: Vec<Vec<Option<String>>> = vec![Vec::new(); plan.group_by.len()];
    let mut outs: Vec<Vec<Option<f64>>> = vec![Vec::new(); plan.reducers.len()];
    let mut dirty = false;
    let mut rows = 0usize;
    cursor_rows(store, &args, None, |fields| {
        let get = |name: &str| text(fields, name);
        for (g, col) in plan.group_by.iter().zip(groups.iter_mut()) {
            col.push(get(&g.alias));
        }
        for (r, col) in plan.reducers.iter().zip(outs.iter_mut()) {
            col.push(get(&r.name).and_then(|s| parse_number(&s)));
        }
        for g in &plan.guards {
            if get(&guard_name(g)).and_then(|s| parse_number(&s)).unwrap_or(0.0) != 0.0 {
                dirty = true;
            }
        }
        rows += 1;
    })
    .await?;
    for body in plan.infinity_checks() {
        let mut infinite = 0.0;
        cursor_rows(store, &full_args(index, body, &plan.pushed), None, |fields| {
            infinite += text(fields, "__infinite").and_then(|s| parse_number(&s)).unwrap_or(0.0);
        })
        .await?;
        if infinite > 0.0 {
            return Ok(None);
        }
    }
    // Counts of a field's values: COUNT(*) minus its missing rows per group.
    if let Some(all) = plan.reducers.iter().position(|r| r.reduce == Reduce::CountAll) {
        for (name, body) in plan.missing_counts() {
            let args = full_args(index, body, &plan.pushed);
            let mut missing: HashMap<Vec<Option<String>>, f64> = HashMap::new();
            cursor_rows(store, &args, None, |fields| {
                let key: Vec<Option<String>> = plan.group_by.iter().map(|g| text(fields, &g.alias)).collect();
                let n = text(fields, "__missing").and_then(|s| parse_number(&s)).unwrap_or(0.0);
                missing.insert(key, n);
            })
            .await?;
            let Some(col) = plan.reducers.iter().position(|r| r.name == name) else {
                continue;
            };
            for i in 0..rows {
                let key: Vec<Option<String>> = groups.iter().map(|g| g[i].clone()).collect();
                let m = missing.get(&key).copied().unwrap_or(0.0);
                outs[col][i] = outs[all][i].map(|n| n - m);
            }
        }
    }
    if dirty || !sums_exact(plan, &outs) {
        return Ok(None);
    }
    if plan.group_by.is_empty() && rows == 0 {
        // SQL's aggregate over no rows is one row: counts 0, the rest NULL.
        for (r, col) in plan.reducers.iter().zip(outs.iter_mut()) {
            col.push(matches!(r.reduce, Reduce::CountAll | Reduce::Count(_) | Reduce::CountDistinct(_)).then_some(0.0));
        }
    }
    let mut cols: Vec<Column> = Vec::new();
    for (g, values) in plan.group_by.iter().zip(groups) {
        cols.push(Series::new(g.column.as_str().into(), values).into_column());
    }
    for (r, values) in plan.reducers.iter().zip(outs) {
        let integral = match &r.reduce {
            Reduce::CountAll | Reduce::Count(_) | Reduce::CountDistinct(_) => true,
            Reduce::Sum(_) | Reduce::Min(_) | Reduce::Max(_) => {
                r.field.as_ref().is_some_and(|f| f.kind == Kind::BigInt)
            }
        };
        let s = if integral {
            Series::new(
                r.name.as_str().into(),
                values.iter().map(|v| v.map(|x| x as i64)).collect::<Vec<_>>(),
            )
        } else {
            Series::new(r.name.as_str().into(), values)
        };
        cols.push(s.into_column());
    }
    Ok(Some(DataFrame::new_infer_height(cols)?))
}

/// Bigint sums are exact only while |count × max(|min|, |max|)| < 2⁵³.
fn sums_exact(plan: &AggPlan, outs: &[Vec<Option<f64>>]) -> bool {
    let col = |r: &Reduce| plan.reducers.iter().position(|x| &x.reduce == r);
    for r in &plan.reducers {
        let (Reduce::Sum(c), Some(f)) = (&r.reduce, &r.field) else {
            continue;
        };
        if f.kind != Kind::BigInt {
            continue;
        }
        let (Some(n), Some(lo), Some(hi)) = (
            col(&Reduce::Count(c.clone())),
            col(&Reduce::Min(c.clone())),
            col(&Reduce::Max(c.clone())),
        ) else {
            return false;
        };
        for ((count, lo), hi) in outs[n].iter().zip(&outs[lo]).zip(&outs[hi]) {
            let count = count.unwrap_or(0.0);
            let big = lo.unwrap_or(0.0).abs().max(hi.unwrap_or(0.0).abs());
            if count * big >= EXACT_INT {
                return false;
            }
        }
    }
    true
}

/// A field of a reply row as text (None when absent or nil).
fn text(fields: &Fields<'_>, name: &str) -> Option<String> {
    field(fields, name.as_bytes()).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A reducer's printed number (`inf`, `-nan` included).
fn parse_number(s: &str) -> Option<f64> {
    match s {
        "nan" | "-nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}
