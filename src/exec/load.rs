//! One step from a file to a table: `redsql load FILE --table T --key K` and
//! `CREATE TABLE t WITH (source = 'file', key = 'k')`.
//!
//! The table's schema comes from the file: CSV/text headers name the columns
//! and the types are inferred from the first rows with the same rules as
//! discovery (so `00123` stays text), except that a column is typed only
//! when every sampled value fits (else it is text); Parquet and JSON columns keep their
//! types (strings are inferred the same way, so ISO dates become dates).
//! The table is declared (its definition saved in Redis) and the rows are
//! written in pipelined batches of 1000.
//!
//! If the table exists: `fail` (42P07, the default), `replace` (drop it,
//! then load) or `append`. Duplicate keys in the file or, when appending,
//! against existing rows: `fail` (23505, the default, as COPY) or `replace`
//! (the later row wins). A failure says how many rows were written.

use std::path::Path;

use polars::prelude::*;

use super::copy::CopyInPlan;
use super::copy_file::Progress;
use super::copy_format::{CopyFormat, RecordReader};
use super::files::FileKind;
use super::write::Conflict;
use super::{run_blocking, Engine};
use crate::catalog::infer::infer_columns;
use crate::catalog::meta::TableMeta;
use crate::catalog::{ColType, STORAGE_HASH};
use crate::error::{Error, Result};

/// What to do when the table already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfExists {
    Fail,
    Replace,
    Append,
}

impl IfExists {
    pub fn parse(s: &str) -> Result<IfExists> {
        Ok(match s.to_lowercase().as_str() {
            "fail" => IfExists::Fail,
            "replace" => IfExists::Replace,
            "append" => IfExists::Append,
            other => {
                return Err(Error::Data(
                    "22023",
                    format!("if_exists must be fail, replace or append, not {other:?}"),
                ))
            }
        })
    }
}

/// A file load.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub table: String,
    pub key: String,
    pub kind: FileKind,
    /// Delimited files: delimiter, quote, NULL spelling; a header is required.
    pub format: CopyFormat,
    pub prefix: Option<String>,
    pub ttl: Option<u64>,
    pub storage: &'static str,
    pub if_exists: IfExists,
    pub on_duplicate: Conflict,
}

impl LoadSpec {
    /// A load with the defaults: hash storage, fail if the table exists or a key repeats.
    pub fn new(table: &str, key: &str, kind: FileKind) -> LoadSpec {
        let format = CopyFormat::for_kind(Some(kind));
        LoadSpec {
            table: table.to_string(),
            key: key.to_string(),
            kind,
            format: CopyFormat { header: true, ..format },
            prefix: None,
            ttl: None,
            storage: STORAGE_HASH,
            if_exists: IfExists::Fail,
            on_duplicate: Conflict::Fail,
        }
    }
}

/// Rows sampled from a delimited file to infer its types.
const SAMPLE_ROWS: usize = 1000;

impl Engine {
    /// Load a file (already resolved and checked by the caller) into a table.
    pub async fn load_file(&self, spec: &LoadSpec, path: &Path, progress: Option<Progress<'_>>) -> Result<usize> {
        let exists = match self.catalog().get(&spec.table).await {
            Ok(_) => true,
            Err(Error::UndefinedTable(_)) => false,
            Err(e) => return Err(e),
        };
        match (exists, spec.if_exists) {
            (true, IfExists::Fail) => {
                return Err(Error::Data(
                    "42P07",
                    format!(
                        "relation \"{}\" already exists (load with if_exists replace or append)",
                        spec.table
                    ),
                ))
            }
            (true, IfExists::Replace) => {
                self.drop_table(&spec.table, true).await?;
            }
            _ => {}
        }
        // The file's columns and types; the frame too when it was read whole.
        let (columns, frame) = if spec.kind.is_delimited() {
            let p = path.to_path_buf();
            let format = spec.format.clone();
            (run_blocking(move || sample_delimited(&p, &format)).await?, None)
        } else {
            let (p, kind) = (path.to_path_buf(), spec.kind);
            let frame = run_blocking(move || super::files::read_frame(&p, kind)).await?;
            let frame = super::copy_file::flatten_structs(frame)?;
            (frame_columns(&frame)?, Some(frame))
        };
        if !exists || spec.if_exists == IfExists::Replace {
            self.create_table(&self.table_meta(spec, &columns)?, false).await?;
        }
        let table = self.catalog().get(&spec.table).await?;
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        let plan = CopyInPlan {
            columns: table.resolve_columns(&names)?,
            table,
            format: spec.format.clone(),
            conflict: spec.on_duplicate,
        };
        match frame {
            Some(frame) => {
                let result = self.load_frame(&plan, frame, progress).await;
                self.catalog().invalidate().await;
                result
            }
            None => self.copy_from_file(&plan, path, spec.kind, progress).await,
        }
    }

    fn table_meta(&self, spec: &LoadSpec, columns: &[(String, ColType)]) -> Result<TableMeta> {
        let key_type = columns
            .iter()
            .find(|(n, _)| *n == spec.key)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                Error::UndefinedColumn(format!(
                    "key column \"{}\" is not a column of the file (its columns: {})",
                    spec.key,
                    columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?;
        let prefix = spec.prefix.clone().unwrap_or_else(|| format!("{}:", spec.table));
        super::ddl::check_prefix(&prefix)?;
        Ok(TableMeta {
            name: spec.table.clone(),
            prefix,
            key_column: spec.key.clone(),
            key_type,
            columns: columns.iter().filter(|(n, _)| *n != spec.key).cloned().collect(),
            ttl: spec.ttl,
            storage: spec.storage,
        })
    }
}

/// Column names from the header and types inferred from the first rows.
fn sample_delimited(path: &Path, format: &CopyFormat) -> Result<Vec<(String, ColType)>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::Data("58030", format!("could not open {}: {e}", path.display())))?;
    let mut reader = RecordReader::new(CopyFormat {
        header: false,
        ..format.clone()
    });
    let mut records = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while records.len() <= SAMPLE_ROWS {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::Data("58030", format!("could not read {}: {e}", path.display())))?;
        if n == 0 {
            records.extend(reader.finish()?);
            break;
        }
        records.extend(reader.feed(&buf[..n])?);
    }
    let Some((_, header)) = records.first() else {
        return Err(Error::Data(
            "22P04",
            format!("{} is empty: a header line is needed", path.display()),
        ));
    };
    let names: Vec<String> = header.iter().map(|h| h.clone().unwrap_or_default()).collect();
    check_names(&names)?;
    let rows: Vec<Vec<(Vec<u8>, Vec<u8>)>> = records[1..]
        .iter()
        .take(SAMPLE_ROWS)
        .map(|(_, fields)| {
            names
                .iter()
                .zip(fields)
                .filter_map(|(n, v)| v.as_ref().map(|v| (n.clone().into_bytes(), v.clone().into_bytes())))
                .collect()
        })
        .collect();
    let inferred = infer_columns(&rows);
    Ok(names
        .iter()
        .map(|n| {
            let ty = inferred
                .iter()
                .find(|c| c.name == *n)
                .map_or(ColType::Text, strict_type);
            (n.clone(), ty)
        })
        .collect())
}

/// A frame's columns as table columns: numbers, booleans, dates and
/// timestamps keep their types, strings are inferred, anything else is text.
fn frame_columns(frame: &DataFrame) -> Result<Vec<(String, ColType)>> {
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    check_names(&names)?;
    frame
        .columns()
        .iter()
        .map(|c| {
            let ty = match c.dtype() {
                DataType::String => {
                    let rows: Vec<Vec<(Vec<u8>, Vec<u8>)>> = c
                        .as_materialized_series()
                        .str()?
                        .iter()
                        .take(SAMPLE_ROWS)
                        .map(|v| v.map(|v| (b"c".to_vec(), v.as_bytes().to_vec())).into_iter().collect())
                        .collect();
                    infer_columns(&rows).first().map_or(ColType::Text, strict_type)
                }
                dt => super::ddl::col_type_of(dt),
            };
            Ok((c.name().to_string(), ty))
        })
        .collect()
}

/// A loaded column takes a type only when every sampled value fits it (a
/// load must not fail on its own sample); otherwise it is text.
fn strict_type(c: &crate::catalog::ColumnInfo) -> ColType {
    if c.confidence >= 1.0 {
        c.ty
    } else {
        ColType::Text
    }
}

fn check_names(names: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for n in names {
        if n.is_empty() {
            return Err(Error::Data("22P04", "the file has a column without a name".into()));
        }
        if !seen.insert(n) {
            return Err(Error::Data("42701", format!("the file names column \"{n}\" twice")));
        }
    }
    Ok(())
}
