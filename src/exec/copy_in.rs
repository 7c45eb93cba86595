//! `COPY t [(cols)] FROM STDIN | 'file.csv'` (text or CSV: HEADER, DELIMITER, NULL, QUOTE):
//! records are parsed as CopyData arrives and written in batches of 1000
//! rows, each batch checked like an INSERT (types, keys, duplicates). A
//! failure stops the COPY and says at which line and how many rows were
//! written before it.
//!
//! Batches are written by a writer task (batch_writer.rs) while the next
//! ones are parsed and checked; a batch is only written once the one before
//! it has succeeded, so a failing batch is never followed by a written one.

use super::batch_writer::{Batch, Writer};
use super::copy::CopyInPlan;
use super::copy_format::RecordReader;
use super::values::canonical_or_error;
use crate::error::{Error, Result};
use crate::store::Store;

const COPY_BATCH: usize = 1000;

/// A COPY in progress on one connection.
pub struct CopyIn {
    plan: CopyInPlan,
    reader: RecordReader,
    pending: Vec<(usize, Vec<Option<String>>)>,
    /// A problem of the input (which the writer never saw).
    error: Option<Error>,
    /// Started with the first batch.
    writer: Option<Writer>,
}

impl CopyIn {
    pub fn new(plan: CopyInPlan) -> CopyIn {
        let reader = RecordReader::new(plan.format.clone());
        CopyIn {
            plan,
            reader,
            pending: Vec::new(),
            error: None,
            writer: None,
        }
    }

    /// Take a chunk of data; full batches are handed to the writer at once.
    /// After an error the rest of the data is ignored until the end.
    pub async fn data(&mut self, store: &Store, chunk: &[u8]) {
        if self.failed() {
            return;
        }
        match self.reader.feed(chunk) {
            Ok(records) => self.pending.extend(records),
            Err(e) => self.error = Some(e),
        }
        while !self.failed() && self.pending.len() >= COPY_BATCH {
            let batch: Vec<_> = self.pending.drain(..COPY_BATCH).collect();
            self.write(store, batch).await;
        }
    }

    /// The end of the data: hand what is left to the writer. Like [`data`],
    /// this may be dropped part way (the COPY is then [`abandon`]ed).
    ///
    /// [`data`]: CopyIn::data
    /// [`abandon`]: CopyIn::abandon
    pub async fn end(&mut self, store: &Store) {
        if !self.failed() {
            match self.reader.finish() {
                Ok(records) => self.pending.extend(records),
                Err(e) => self.error = Some(e),
            }
        }
        if !self.failed() {
            let batch = std::mem::take(&mut self.pending);
            self.write(store, batch).await;
        }
    }

    /// After [`CopyIn::end`]: wait for the writer; the row count or the error.
    pub async fn finish(mut self) -> Result<usize> {
        let (written, result) = self.settle().await;
        // The writer's error came first: batches after it were not written.
        match result.err().or(self.error) {
            None => Ok(written),
            Some(e) => Err(with_count(e, written)),
        }
    }

    /// Whether the COPY has failed (the rest of the data will be ignored).
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.writer.as_ref().is_some_and(Writer::failed)
    }

    /// Rows written so far.
    pub fn written(&self) -> usize {
        self.writer.as_ref().map_or(0, Writer::written)
    }

    /// Rows written before the COPY was abandoned (the batches handed over complete).
    pub async fn abandon(mut self) -> usize {
        self.settle().await.0
    }

    /// Wait for the batches handed over.
    async fn settle(&mut self) -> (usize, Result<()>) {
        match self.writer.take() {
            Some(w) => w.finish().await,
            None => (0, Ok(())),
        }
    }

    /// Check a batch and hand it to the writer (started with the first).
    async fn write(&mut self, store: &Store, batch: Vec<(usize, Vec<Option<String>>)>) {
        let Some(&(first_line, _)) = batch.first() else {
            return;
        };
        let plan = &self.plan;
        let checked = self.encode(batch).and_then(|encoded| {
            let place = format!("in the batch starting at line {first_line}");
            Batch::new(&plan.table, &plan.columns, encoded, plan.conflict, place)
        });
        let batch = match checked {
            Ok(b) => b,
            Err(e) => return self.error = Some(e),
        };
        let writer = self
            .writer
            .get_or_insert_with(|| Writer::start(store, plan.table.clone(), plan.columns.clone(), plan.conflict));
        writer.send(batch).await;
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

pub(crate) fn with_count(e: Error, written: usize) -> Error {
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
