//! COPY statements, planned: which direction, which table or query, which
//! format, which server file (inside the data directory) if any.
//!
//! * `COPY t [(cols)] FROM STDIN` — streamed by the session (copy_in.rs);
//! * `COPY t [(cols)] FROM 'file'` — csv/text streamed record by record,
//!   Parquet/JSON/NDJSON read as a frame (copy_file.rs);
//! * `COPY t|(query) TO STDOUT | 'file'` (copy_file.rs, encode/copy.rs).
//!
//! `COPY ... PROGRAM` is refused: a query may not run server commands.

use std::path::PathBuf;
use std::sync::Arc;

use sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Statement};

use super::copy_format::CopyFormat;
use super::files::{kind_of, FileKind};
use super::write::{quote_ident, table_name, Conflict};
use super::{Engine, Planned};
use crate::catalog::{ColType, TableInfo};
use crate::error::{Error, Result};
use crate::sql::analyze::analyze;

/// A planned `COPY ... FROM` (STDIN or a server file).
#[derive(Clone)]
pub struct CopyInPlan {
    pub table: Arc<TableInfo>,
    pub columns: Vec<(String, ColType)>,
    pub format: CopyFormat,
    /// Duplicate keys fail (23505) for COPY, as in PostgreSQL; bulk loads may replace.
    pub conflict: Conflict,
}

/// Any planned COPY.
#[derive(Clone)]
pub enum CopyPlan {
    FromStdin(CopyInPlan),
    FromFile {
        plan: CopyInPlan,
        path: PathBuf,
        kind: FileKind,
    },
    To {
        query: Box<Planned>,
        format: CopyFormat,
        /// None: STDOUT.
        file: Option<(PathBuf, FileKind)>,
    },
}

pub fn is_copy(stmt: &Statement) -> bool {
    matches!(stmt, Statement::Copy { .. })
}

/// The format a COPY names, new style (`WITH (FORMAT csv)`) or old (`CSV`).
fn named_kind(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<Option<FileKind>> {
    let mut kind = None;
    for o in options {
        if let CopyOption::Format(f) = o {
            kind = Some(FileKind::from_name(&f.value)?);
        }
    }
    if legacy.iter().any(|o| matches!(o, CopyLegacyOption::Csv(_))) {
        kind = Some(FileKind::Csv);
    }
    Ok(kind)
}

/// The layout of text or CSV data: the format's defaults, then the options
/// (HEADER, DELIMITER, NULL, QUOTE, in either spelling).
fn copy_format(options: &[CopyOption], legacy: &[CopyLegacyOption], kind: Option<FileKind>) -> Result<CopyFormat> {
    let mut format = CopyFormat::for_kind(kind);
    for o in options {
        match o {
            CopyOption::Format(_) => {}
            CopyOption::Header(h) => format.header = *h,
            CopyOption::Delimiter(d) => format.delimiter = *d,
            CopyOption::Null(n) => format.null = n.clone(),
            CopyOption::Quote(q) => format.quote = *q,
            CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Err(Error::Unsupported(format!("COPY option {other} is not supported"))),
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Csv(csv) => {
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => format.header = true,
                        CopyLegacyCsvOption::Quote(q) => format.quote = *q,
                        other => return Err(Error::Unsupported(format!("COPY option {other} is not supported"))),
                    }
                }
            }
            CopyLegacyOption::Delimiter(d) => format.delimiter = *d,
            CopyLegacyOption::Null(n) => format.null = n.clone(),
            other => return Err(Error::Unsupported(format!("COPY option {other} is not supported"))),
        }
    }
    Ok(format)
}

impl Engine {
    pub async fn plan_copy(&self, stmt: &Statement, text: &str) -> Result<CopyPlan> {
        let Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } = stmt
        else {
            unreachable!("planned only for COPY");
        };
        // BINARY is a layout of COPY TO STDOUT only; the rest of the options
        // are read as for text and CSV.
        let is_binary = |o: &CopyOption| matches!(o, CopyOption::Format(f) if f.value.eq_ignore_ascii_case("binary"));
        let binary =
            options.iter().any(is_binary) || legacy_options.iter().any(|o| matches!(o, CopyLegacyOption::Binary));
        let options: Vec<CopyOption> = options.iter().filter(|o| !is_binary(o)).cloned().collect();
        let legacy_options: Vec<CopyLegacyOption> = legacy_options
            .iter()
            .filter(|o| !matches!(o, CopyLegacyOption::Binary))
            .cloned()
            .collect();
        let (options, legacy_options) = (&options, &legacy_options);
        if binary && !(*to && matches!(target, CopyTarget::Stdout)) {
            return Err(Error::Unsupported(
                "binary COPY is supported only for COPY ... TO STDOUT".into(),
            ));
        }
        let kind = named_kind(options, legacy_options)?;
        // A server file's format may come from its extension, so the layout follows the path.
        let format_for = |kind| copy_format(options, legacy_options, kind);
        if let CopyTarget::Program { .. } = target {
            return Err(Error::Forbidden("COPY ... PROGRAM is not allowed".into()));
        }
        if *to {
            let sql = match source {
                CopySource::Query(q) => q.to_string(),
                CopySource::Table { table_name: t, columns } => {
                    let cols = if columns.is_empty() {
                        "*".to_string()
                    } else {
                        columns.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                    };
                    format!("SELECT {cols} FROM {}", quote_ident(&table_name(t)?))
                }
            };
            let Some(Statement::Query(q)) = crate::sql::parse(&sql)?.pop() else {
                return Err(Error::Syntax("COPY needs a table or a query".into()));
            };
            let query = Box::new(self.plan(analyze(*q, text)?).await?);
            let file = match target {
                CopyTarget::Stdout => {
                    if matches!(kind, Some(k) if !k.is_delimited()) {
                        return Err(Error::Unsupported(
                            "COPY TO STDOUT writes text or csv; write Parquet and JSON to a server file".into(),
                        ));
                    }
                    None
                }
                CopyTarget::File { filename } => {
                    let path = self.data_dir().resolve_write(filename)?;
                    let kind = kind_of(&path, kind)?;
                    Some((path, kind))
                }
                _ => return Err(Error::Syntax("COPY TO takes STDOUT or a file".into())),
            };
            let format = CopyFormat {
                binary,
                ..format_for(file.as_ref().map_or(kind, |(_, k)| Some(*k)))?
            };
            return Ok(CopyPlan::To { query, format, file });
        }
        let CopySource::Table {
            table_name: name,
            columns,
        } = source
        else {
            return Err(Error::Syntax("COPY FROM needs a table".into()));
        };
        let table = self.catalog().get(&table_name(name)?).await?;
        let names: Vec<String> = columns.iter().map(crate::sql::fold_ident).collect();
        let columns = table.resolve_columns(&names)?;
        if !columns.iter().any(|(c, _)| *c == table.key_column) {
            return Err(Error::Data(
                "23502",
                format!(
                    "COPY into \"{}\" must include the key column \"{}\"",
                    table.name, table.key_column
                ),
            ));
        }
        match target {
            CopyTarget::Stdin => {
                if matches!(kind, Some(k) if !k.is_delimited()) {
                    return Err(Error::Unsupported(
                        "COPY FROM STDIN reads text or csv; load Parquet and JSON from a server file".into(),
                    ));
                }
                Ok(CopyPlan::FromStdin(CopyInPlan {
                    table,
                    columns,
                    format: format_for(kind)?,
                    conflict: Conflict::Fail,
                }))
            }
            CopyTarget::File { filename } => {
                let path = self.data_dir().resolve_read(filename)?;
                let kind = kind_of(&path, kind)?;
                let format = format_for(Some(kind))?;
                Ok(CopyPlan::FromFile {
                    plan: CopyInPlan {
                        table,
                        columns,
                        format,
                        conflict: Conflict::Fail,
                    },
                    path,
                    kind,
                })
            }
            _ => Err(Error::Syntax("COPY FROM takes STDIN or a file".into())),
        }
    }
}
