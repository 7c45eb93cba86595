//! `COPY t [(cols)] FROM STDIN | 'file.csv'` (text or CSV: HEADER, DELIMITER, NULL, QUOTE):
//! records are parsed as CopyData arrives and written in batches of 1000
//! rows, each batch checked like an INSERT (types, keys, duplicates). A
//! failure stops the COPY and says at which line and how many rows were
//! written before it.
//!
//! One batch is written to Redis while the next is parsed and checked; a
//! batch is only sent once the one before it has succeeded, so a failing
//! batch is never followed by a written one.

use super::copy::CopyInPlan;
use super::copy_format::RecordReader;
use super::values::canonical_or_error;
use super::write::insert_rows;
use crate::error::{Error, Result};
use crate::store::Store;

const COPY_BATCH: usize = 1000;

/// A COPY in progress on one connection.
pub struct CopyIn {
    plan: CopyInPlan,
    reader: RecordReader,
    pending: Vec<(usize, Vec<Option<String>>)>,
    pub written: usize,
    error: Option<Error>,
    /// The batch being written, if any.
    in_flight: Option<tokio::task::JoinHandle<Result<usize>>>,
}

impl CopyIn {
    pub fn new(plan: CopyInPlan) -> CopyIn {
        let reader = RecordReader::new(plan.format.clone());
        CopyIn {
            plan,
            reader,
            pending: Vec::new(),
            written: 0,
            error: None,
            in_flight: None,
        }
    }

    /// Take a chunk of data; full batches are written at once. After an
    /// error the rest of the data is ignored until the end.
    pub async fn data(&mut self, store: &Store, chunk: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.reader.feed(chunk) {
            Ok(records) => self.pending.extend(records),
            Err(e) => self.error = Some(e),
        }
        while self.error.is_none() && self.pending.len() >= COPY_BATCH {
            let batch: Vec<_> = self.pending.drain(..COPY_BATCH).collect();
            if let Err(e) = self.write(store, batch).await {
                self.error = Some(e);
            }
        }
    }

    /// The end of the data: write what is left; the row count or the error.
    pub async fn finish(mut self, store: &Store) -> Result<usize> {
        if self.error.is_none() {
            match self.reader.finish() {
                Ok(records) => self.pending.extend(records),
                Err(e) => self.error = Some(e),
            }
        }
        if self.error.is_none() {
            let batch = std::mem::take(&mut self.pending);
            if let Err(e) = self.write(store, batch).await {
                self.error = Some(e);
            }
        }
        if let Err(e) = self.settle().await {
            self.error.get_or_insert(e);
        }
        match self.error {
            None => Ok(self.written),
            Some(e) => Err(with_count(e, self.written)),
        }
    }

    /// Whether the COPY has failed (the rest of the data will be ignored).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Rows written before the COPY was abandoned (the batch in flight completes).
    pub async fn abandon(mut self) -> usize {
        let _ = self.settle().await;
        self.written
    }

    /// Wait for the batch in flight; count its rows or return its error.
    async fn settle(&mut self) -> Result<()> {
        if let Some(handle) = self.in_flight.take() {
            let n = handle
                .await
                .map_err(|e| Error::Internal(format!("COPY writer failed: {e}")))??;
            self.written += n;
        }
        Ok(())
    }

    async fn write(&mut self, store: &Store, batch: Vec<(usize, Vec<Option<String>>)>) -> Result<()> {
        let Some(&(first_line, _)) = batch.first() else {
            return self.settle().await;
        };
        // Check this batch while the previous one is being written; report in line order.
        let encoded = self.encode(batch);
        self.settle().await?;
        let encoded = encoded?;
        let (store, table, cols, conflict) = (
            store.clone(),
            self.plan.table.clone(),
            self.plan.columns.clone(),
            self.plan.conflict,
        );
        self.in_flight = Some(tokio::spawn(async move {
            insert_rows(&store, &table, &cols, &encoded, conflict)
                .await
                .map_err(|e| match e {
                    Error::Data(code, msg) => {
                        Error::Data(code, format!("{msg} (in the batch starting at line {first_line})"))
                    }
                    other => other,
                })
        }));
        Ok(())
    }

    /// A batch in stored form, column by column (22P04/22P02 naming line and column).
    fn encode(&self, batch: Vec<(usize, Vec<Option<String>>)>) -> Result<Vec<Vec<Option<String>>>> {
        let cols = &self.plan.columns;
        let mut encoded = vec![Vec::with_capacity(batch.len()); cols.len()];
        for (line, fields) in batch {
            if fields.len() < cols.len() {
                let missing = &cols[fields.len()].0;
                return Err(Error::Data(
                    "22P04",
                    format!("missing data for column \"{missing}\" (line {line})"),
                ));
            }
            if fields.len() > cols.len() {
                return Err(Error::Data(
                    "22P04",
                    format!("extra data after last expected column (line {line})"),
                ));
            }
            for (c, (v, (name, ty))) in fields.into_iter().zip(cols).enumerate() {
                let v = match v {
                    None => None,
                    Some(v) => Some(canonical_or_error(v, *ty).map_err(|e| at_line(e, line, name))?),
                };
                encoded[c].push(v);
            }
        }
        Ok(encoded)
    }
}

fn at_line(e: Error, line: usize, column: &str) -> Error {
    match e {
        Error::Data(code, msg) => Error::Data(code, format!("{msg} (line {line}, column \"{column}\")")),
        other => other,
    }
}

pub(super) fn with_count(e: Error, written: usize) -> Error {
    let note = match written {
        0 => "; no rows were written".to_string(),
        1 => "; 1 row was written before it".to_string(),
        n => format!("; {n} rows were written before it"),
    };
    match e {
        Error::Data(code, msg) => Error::Data(code, format!("COPY failed: {msg}{note}")),
        Error::RedisUnavailable(msg) => Error::RedisUnavailable(format!("{msg}{note}")),
        other => Error::Data(other.sqlstate(), format!("COPY failed: {other}{note}")),
    }
}
