//! Writing a COPY's or a load's batches in input order with Redis kept busy.
//!
//! Batches are parsed and checked ([`Batch::new`]: keys present, without
//! `:`, not repeated) where the input is read; a writer task of their own
//! writes them one after another. The guarantees are those of checking and
//! then writing each batch in turn:
//! - a batch is written only once the one before it succeeded;
//! - a batch whose keys exist (a repeat of an earlier batch's key, or of a
//!   row already in the table) is found before any of its rows is written.
//!
//! For the common case (hash rows, no TTL, no `replace`, Redis 8's HSETEX)
//! the writer does that in one round trip per batch on one connection of
//! its own: it sends the previous batch's rows (`HSETEX key FNX ...`, see
//! hash_write.rs) followed by an `EXISTS` of this batch's keys. Behind the
//! rows on the same connection, the EXISTS sees them, so it answers exactly
//! what a check after the write would. While Redis works, the writer
//! encodes this batch's rows, to be sent with the next batch's EXISTS if
//! none of its keys exists. A batch whose keys do exist, and every batch in
//! the other cases, goes through [`write_checked`] (EXISTS, TYPE, the
//! insert script or HSETEX) before the next one is looked at.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::hash_write::{hsetex_code, tally, with_written, Rows};
use super::write::{checked_rows, write_checked, Checked, Conflict};
use crate::catalog::{ColType, TableInfo, STORAGE_HASH};
use crate::error::{Error, Result};
use crate::store::{resp3, Store};

/// One batch of rows in stored form, checked.
pub(super) struct Batch {
    encoded: Vec<Vec<Option<String>>>,
    /// The rows to write and their Redis keys.
    checked: Checked,
    /// Where the batch is in the input, added to its data errors ("in the
    /// batch starting at line 1001").
    place: String,
}

impl Batch {
    /// Check a batch's keys (see `write::checked_rows`).
    pub fn new(
        table: &TableInfo,
        columns: &[(String, ColType)],
        encoded: Vec<Vec<Option<String>>>,
        conflict: Conflict,
        place: String,
    ) -> Result<Batch> {
        match checked_rows(table, columns, &encoded, conflict) {
            Ok(checked) => Ok(Batch {
                encoded,
                checked,
                place,
            }),
            Err(e) => Err(placed(&place, e)),
        }
    }

    fn rows(&self) -> &[(usize, String)] {
        &self.checked.rows
    }

    fn placed(&self, e: Error) -> Error {
        placed(&self.place, e)
    }
}

/// A data error of the rows at `place` ("in rows 1..1000 of the file"), saying so.
pub(super) fn placed(place: &str, e: Error) -> Error {
    match e {
        Error::Data(code, msg) => Error::Data(code, format!("{msg} ({place})")),
        other => other,
    }
}

/// The writer task of one COPY or load.
pub(super) struct Writer {
    tx: mpsc::Sender<Batch>,
    task: tokio::task::JoinHandle<Result<()>>,
    written: Arc<AtomicUsize>,
}

/// What the writer works with.
struct Target {
    store: Store,
    table: Arc<TableInfo>,
    columns: Vec<(String, ColType)>,
    conflict: Conflict,
    /// Rows of the batches written in full.
    written: Arc<AtomicUsize>,
}

impl Writer {
    pub fn start(store: &Store, table: Arc<TableInfo>, columns: Vec<(String, ColType)>, conflict: Conflict) -> Writer {
        // One batch waits while one is checked and one written: the reader
        // stays ahead of Redis, its memory bounded.
        let (tx, rx) = mpsc::channel(1);
        let written = Arc::new(AtomicUsize::new(0));
        let target = Target {
            store: store.clone(),
            table,
            columns,
            conflict,
            written: written.clone(),
        };
        Writer {
            tx,
            task: tokio::spawn(target.run(rx)),
            written,
        }
    }

    /// Hand a batch over; false when the writer has stopped on an error
    /// (which [`Writer::finish`] returns).
    pub async fn send(&self, batch: Batch) -> bool {
        batch.rows().is_empty() || self.tx.send(batch).await.is_ok()
    }

    /// Whether the writer has stopped on an error.
    pub fn failed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Rows of the batches written in full so far.
    pub fn written(&self) -> usize {
        self.written.load(Ordering::Relaxed)
    }

    /// Write every batch handed over; the rows of the batches written in
    /// full, and the error that stopped the writer, if any.
    pub async fn finish(self) -> (usize, Result<()>) {
        drop(self.tx);
        let result = match self.task.await {
            Ok(r) => r,
            Err(e) => Err(Error::Internal(format!("the COPY writer failed: {e}"))),
        };
        (self.written.load(Ordering::Relaxed), result)
    }
}

impl Target {
    async fn run(self, mut rx: mpsc::Receiver<Batch>) -> Result<()> {
        let t = &self.table;
        // One connection to one server: on a cluster each batch goes by
        // write_alone, whose commands are routed to their keys' masters.
        let pipelined = t.storage == STORAGE_HASH
            && !self.store.is_cluster()
            && t.ttl.is_none()
            && self.conflict != Conflict::Replace
            && self.store.has_hsetex().await;
        if !pipelined {
            while let Some(batch) = rx.recv().await {
                self.write_alone(&batch).await?;
            }
            return Ok(());
        }
        let mut conn = self.store.search_conn().await?;
        // A batch whose keys were found absent, its rows encoded: written next.
        let mut ready: Option<(Batch, Vec<u8>)> = None;
        loop {
            let next = rx.recv().await;
            let (mut out, rows) = match &mut ready {
                Some((b, encoded)) => (std::mem::take(encoded), b.rows().len()),
                None => (Vec::new(), 0),
            };
            if let Some(b) = &next {
                let exists: [&[u8]; 1] = [b"EXISTS"];
                let args = exists.into_iter().chain(b.checked.keys.iter().map(|k| k.as_bytes()));
                resp3::encode_command(&mut out, &args.collect::<Vec<_>>());
            }
            let commands = rows + usize::from(next.is_some());
            if commands == 0 {
                break;
            }
            conn.send(&out).await?;
            // Encode the next rows while Redis works on these.
            let next = next.map(|b| {
                let mut encoded = Vec::new();
                self.rows(&b).encode_hsetex(&mut encoded, b.rows(), &b.checked.keys);
                (b, encoded)
            });
            let reply = conn.receive(commands).await?;
            let mut frames = reply.frames();
            if let Some((b, _)) = ready.take() {
                let (n, problem) = tally(t, self.conflict, frames.by_ref().take(rows).map(hsetex_code), b.rows());
                if let Some(e) = problem {
                    self.store.search_done(conn);
                    return Err(b.placed(with_written(e, n)));
                }
                self.written.fetch_add(n, Ordering::Relaxed);
            }
            let Some((b, encoded)) = next else { break };
            match frames.next().and_then(|f| f.int()) {
                Some(0) => ready = Some((b, encoded)),
                Some(_) => self.write_alone(&b).await?,
                None => return Err(Error::Redis("unexpected EXISTS reply".into())),
            }
        }
        self.store.search_done(conn);
        Ok(())
    }

    /// Check and write one batch by itself.
    async fn write_alone(&self, b: &Batch) -> Result<()> {
        let (t, cols) = (&self.table, &self.columns);
        let n = write_checked(&self.store, t, cols, &b.encoded, &b.checked, self.conflict)
            .await
            .map_err(|e| b.placed(e))?;
        self.written.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    fn rows<'a>(&'a self, b: &'a Batch) -> Rows<'a> {
        Rows {
            table: &self.table,
            columns: &self.columns,
            encoded: &b.encoded,
        }
    }
}
