//! Running COPY with server files and COPY TO STDOUT.
//!
//! Loads: CSV and text files stream through the same record reader and
//! batches as `COPY FROM STDIN` (errors name the line and column). Parquet,
//! JSON and NDJSON files are read as a frame whose columns are matched to
//! the table's by name; nested JSON objects flatten to dotted names; rows are
//! written in batches of 1000 and an error names the row. Either way a
//! failure says how many rows were written before it.
//!
//! Exports: the query's rows as text/CSV lines, or a Parquet/JSON/NDJSON file.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{stream, StreamExt};
use polars::prelude::*;
use tokio::io::AsyncReadExt;

use super::batch_writer::{placed, Batch, Writer};
use super::copy::CopyInPlan;
use super::copy_format::CopyFormat;
use super::copy_in::{with_count, CopyIn};
use super::files::FileKind;
use super::values::encode_frame;
use super::{run_blocking, Engine, Planned};
use crate::encode::copy::{CopyOut, CopyWriter};
use crate::encode::TextColumns;
use crate::error::{Error, Result};
use crate::sql::params::Param;

const FILE_CHUNK: usize = 256 * 1024;
const FRAME_BATCH: usize = 1000;

/// Called with the number of rows written so far and the share of the input done (0..=1).
pub type Progress<'a> = &'a (dyn Fn(usize, f64) + Send + Sync);

impl Engine {
    /// `COPY t FROM 'file'`: the number of rows written.
    pub async fn copy_from_file(
        &self,
        plan: &CopyInPlan,
        path: &Path,
        kind: FileKind,
        progress: Option<Progress<'_>>,
    ) -> Result<usize> {
        let result = if kind.is_delimited() {
            self.load_delimited(plan, path, progress).await
        } else {
            let path = path.to_path_buf();
            let frame = run_blocking(move || super::files::read_frame(&path, kind)).await?;
            self.load_frame(plan, frame, progress).await
        };
        self.catalog().invalidate().await;
        result
    }

    async fn load_delimited(&self, plan: &CopyInPlan, path: &Path, progress: Option<Progress<'_>>) -> Result<usize> {
        let store = self.catalog().store();
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::Data("58030", format!("could not open {}: {e}", path.display())))?;
        let size = file.metadata().await.map(|m| m.len()).unwrap_or(0).max(1);
        let mut done = 0u64;
        let mut copy = CopyIn::new(plan.clone());
        let mut buf = vec![0u8; FILE_CHUNK];
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| Error::Data("58030", format!("could not read {}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            copy.data(store, &buf[..n]).await;
            done += n as u64;
            if let Some(p) = progress {
                p(copy.written(), done as f64 / size as f64);
            }
            if copy.failed() {
                break;
            }
        }
        copy.end(store).await;
        copy.finish().await
    }

    /// Write a frame's rows into the table, columns matched by name.
    pub async fn load_frame(
        &self,
        plan: &CopyInPlan,
        frame: DataFrame,
        progress: Option<Progress<'_>>,
    ) -> Result<usize> {
        let frame = flatten_structs(frame)?;
        let mut columns = Vec::new();
        for c in frame.get_column_names() {
            let found = plan.columns.iter().find(|(n, _)| n == c.as_str()).ok_or_else(|| {
                Error::UndefinedColumn(format!(
                    "column \"{c}\" of the file is not a column of \"{}\" (COPY matches file columns by name)",
                    plan.table.name
                ))
            })?;
            columns.push(found.clone());
        }
        if !columns.iter().any(|(c, _)| *c == plan.table.key_column) {
            return Err(Error::Data(
                "23502",
                format!("the file has no column \"{}\" (the key column)", plan.table.key_column),
            ));
        }
        let (table, conflict) = (&plan.table, plan.conflict);
        let writer = Writer::start(self.catalog().store(), table.clone(), columns.clone(), conflict);
        let mut problem = None;
        for start in (0..frame.height()).step_by(FRAME_BATCH) {
            let batch = frame.slice(start as i64, FRAME_BATCH);
            let place = format!("in rows {}..{} of the file", start + 1, start + batch.height());
            let checked = match encode_frame(&batch, &columns) {
                Ok(encoded) => Batch::new(table, &columns, encoded, conflict, place),
                Err(e) => Err(placed(&place, e)),
            };
            match checked {
                Ok(b) => {
                    if !writer.send(b).await {
                        break;
                    }
                }
                Err(e) => {
                    problem = Some(e);
                    break;
                }
            }
            if let Some(p) = progress {
                p(
                    writer.written(),
                    (start + batch.height()) as f64 / frame.height() as f64,
                );
            }
        }
        // The writer's error came first: batches after it were not written.
        match writer.finish().await {
            (written, Err(e)) => Err(with_count(e, written)),
            (written, Ok(())) => problem.map_or(Ok(written), |e| Err(with_count(e, written))),
        }
    }

    /// `COPY ... TO 'file'`: the number of rows written.
    pub async fn copy_to_file(
        &self,
        query: &Planned,
        format: &CopyFormat,
        path: &Path,
        kind: FileKind,
    ) -> Result<usize> {
        let out = self.execute(query, &[]).await?;
        let (format, path) = (format.clone(), path.to_path_buf());
        run_blocking(move || write_file(out.frame, &out.names, &format, &path, kind)).await
    }

    /// `COPY ... TO STDOUT`: the number of columns and the lines to send.
    /// Row-wise queries over one table that SCAN reads or RediSearch fetches
    /// stream chunk by chunk (see `stream::chunked`); others (key lookups and
    /// pushed-down aggregates included) run whole and are encoded batch by batch.
    pub async fn copy_to_stdout(
        &self,
        query: &Planned,
        params: &[Param],
        format: &CopyFormat,
    ) -> Result<(usize, BoxStream<'static, Result<CopyOut>>)> {
        let writer = CopyWriter::new(format.clone());
        let binary = format.binary;
        let encode = move |writer: CopyWriter, header: Option<String>, frames| {
            if binary {
                crate::encode::copy_binary::lines(frames)
            } else {
                copy_lines(writer, header, frames)
            }
        };
        // Streamed exports follow the session-independent rule: pushdown on.
        let streamed = match self.stream_select(query, params, true, None).await? {
            super::stream::Started::Streamed(s) => s,
            super::stream::Started::Whole(known) => {
                let (out, _) = self.execute_known(query, params, true, known).await?;
                let width = out.names.len();
                let header = writer.header(&out.names);
                let frames = stream::iter(vec![Ok(out.frame)]).boxed();
                return Ok((width, encode(writer, header, frames)));
            }
        };
        let names: Vec<String> = streamed.columns.into_iter().map(|(n, _)| n).collect();
        let frames = super::stream::received(streamed.chunks)
            .map(|chunk| chunk.map(|(frame, _)| frame))
            .boxed();
        let header = writer.header(&names);
        Ok((names.len(), encode(writer, header, frames)))
    }
}

/// Frames → COPY lines: the header (CSV with HEADER), then one per row.
fn copy_lines(
    writer: CopyWriter,
    header: Option<String>,
    frames: BoxStream<'static, Result<DataFrame>>,
) -> BoxStream<'static, Result<CopyOut>> {
    let writer = std::sync::Arc::new(writer);
    // Each frame is converted to text columns once; its lines are made as they are sent.
    let rows = frames.flat_map(move |frame| {
        let writer = writer.clone();
        let cols = frame.and_then(|f| Ok((f.height(), TextColumns::new(&f)?)));
        match cols {
            Err(e) => stream::iter(vec![Err(e)]).boxed(),
            Ok((height, cols)) => {
                stream::iter((0..height).map(move |r| Ok(CopyOut::Row(Bytes::from(writer.line(&cols, r)))))).boxed()
            }
        }
    });
    let head = stream::iter(header.map(|h| Ok(CopyOut::Framing(Bytes::from(h)))));
    head.chain(rows).boxed()
}

/// Nested JSON objects become dotted columns (`address.city`).
pub(super) fn flatten_structs(frame: DataFrame) -> Result<DataFrame> {
    if !frame.columns().iter().any(|c| matches!(c.dtype(), DataType::Struct(_))) {
        return Ok(frame);
    }
    let mut cols = Vec::new();
    for c in frame.columns() {
        flatten_into(c.as_materialized_series().clone(), c.name().as_str(), &mut cols)?;
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

fn flatten_into(s: Series, name: &str, out: &mut Vec<Column>) -> Result<()> {
    if let DataType::Struct(_) = s.dtype() {
        for field in s.struct_()?.fields_as_series() {
            let child = format!("{name}.{}", field.name());
            flatten_into(field, &child, out)?;
        }
    } else {
        out.push(s.with_name(name.into()).into_column());
    }
    Ok(())
}

fn write_file(
    mut frame: DataFrame,
    names: &[String],
    format: &CopyFormat,
    path: &Path,
    kind: FileKind,
) -> Result<usize> {
    let file = std::fs::File::create(path)
        .map_err(|e| Error::Data("58030", format!("could not create {}: {e}", path.display())))?;
    let io = |e: std::io::Error| Error::Data("58030", format!("could not write {}: {e}", path.display()));
    let mut w = std::io::BufWriter::new(file);
    let rows = frame.height();
    // Files carry the names the client would see, when they are unique.
    let unique: std::collections::HashSet<&String> = names.iter().collect();
    if unique.len() == names.len() {
        frame.set_column_names(names)?;
    }
    match kind {
        FileKind::Csv | FileKind::Text => {
            let writer = CopyWriter::new(format.clone());
            if let Some(h) = writer.header(names) {
                w.write_all(h.as_bytes()).map_err(io)?;
            }
            let cols = TextColumns::new(&frame)?;
            for r in 0..rows {
                w.write_all(writer.line(&cols, r).as_bytes()).map_err(io)?;
            }
        }
        FileKind::Parquet => {
            ParquetWriter::new(&mut w).finish(&mut frame)?;
        }
        FileKind::Json | FileKind::NdJson => {
            let f = if kind == FileKind::Json {
                JsonFormat::Json
            } else {
                JsonFormat::JsonLines
            };
            JsonWriter::new(&mut w).with_json_format(f).finish(&mut frame)?;
        }
    }
    w.flush().map_err(io)?;
    Ok(rows)
}
