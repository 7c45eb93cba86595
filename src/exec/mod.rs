//! Execution: read the referenced tables from Redis (scan path), register
//! them in a fresh per-query Polars SQL context and run the query there.
//!
//! Every query gets its own `SQLContext`, so nothing one query registers (a
//! CTE, a table) is visible to another connection.

pub mod alter;
pub mod copy;
pub mod copy_file;
pub mod copy_format;
pub mod copy_in;
pub mod ddl;
pub mod explain;
pub mod files;
pub mod hash_write;
pub mod json_doc;
pub mod load;
pub mod scan;
pub mod stream;
pub mod update;
pub mod upsert;
pub mod values;
pub mod write;

use std::collections::HashMap;
use std::sync::Arc;

use pgwire::api::Type;
use polars::prelude::*;
use polars_sql::SQLContext;

use crate::catalog::{system, Catalog, TableInfo};
use crate::error::{Error, Result};
use crate::sql::analyze::{Analyzed, Source};
use crate::sql::lookup::key_lookup;
use crate::sql::params::{bind, Param};

/// A query resolved against the catalog, ready to describe or run.
#[derive(Clone)]
pub struct Planned {
    pub analyzed: Analyzed,
    /// Each source with its table (None for system views).
    pub sources: Vec<(Source, Option<Arc<TableInfo>>)>,
    /// Server-side parameter types, `$1` first.
    pub param_types: Vec<Type>,
}

/// A query's result and the notices it raised.
pub struct Output {
    pub frame: DataFrame,
    /// Column names as the client sees them (may repeat, unlike the frame's).
    pub names: Vec<String>,
    pub notices: Vec<String>,
}

pub struct Engine {
    catalog: Arc<Catalog>,
    data_dir: files::DataDir,
}

impl Engine {
    pub fn new(catalog: Arc<Catalog>, data_dir: files::DataDir) -> Engine {
        Engine { catalog, data_dir }
    }

    /// Where server-side files may be read and written.
    pub fn data_dir(&self) -> &files::DataDir {
        &self.data_dir
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Resolve the tables an analyzed query reads and type its parameters.
    pub async fn plan(&self, analyzed: Analyzed) -> Result<Planned> {
        let mut sources = Vec::new();
        for s in &analyzed.sources {
            let table = match s {
                Source::Table(name) => Some(self.catalog.get(name).await?),
                Source::View(_) => None,
            };
            sources.push((s.clone(), table));
        }
        let mut param_types = vec![Type::TEXT; analyzed.param_count()];
        // Explicit casts win over column comparisons, which win over text.
        for pass in 0..2 {
            for (i, col, cast) in &analyzed.param_columns {
                let ty = match (pass, cast, col) {
                    (0, None, Some(col)) => sources.iter().filter_map(|(_, t)| t.as_ref()).find_map(|t| {
                        if col == t.key_column() {
                            Some(t.key_type.pg_type())
                        } else {
                            t.column(col).map(|c| c.ty.pg_type())
                        }
                    }),
                    (1, Some(ty), _) => Some(ty.clone()),
                    _ => None,
                };
                if let Some(ty) = ty {
                    param_types[i - 1] = ty;
                }
            }
        }
        Ok(Planned {
            analyzed,
            sources,
            param_types,
        })
    }

    /// The result schema, computed over empty tables (no data is read).
    pub async fn describe(&self, planned: &Planned) -> Result<Vec<(String, DataType)>> {
        let snapshot = self.catalog.snapshot();
        let ctx = SQLContext::new();
        for (source, table) in &planned.sources {
            let frame = match (source, table) {
                (_, Some(t)) => scan::empty_frame(t, planned.analyzed.words.contains(scan::TTL_COLUMN))?,
                (Source::View(v), None) => system::view_frame(v, &snapshot)
                    .ok_or_else(|| Error::UndefinedTable(v.clone()))??
                    .head(Some(0)),
                _ => unreachable!("tables always resolve"),
            };
            ctx.register(source.registered_name(), frame.lazy());
        }
        let params: Vec<Param> = planned.param_types.iter().map(|t| Param::Null(t.clone())).collect();
        let sql = self.bound_sql(planned, &params)?;
        let renames = planned.analyzed.renames.clone();
        let schema = run_blocking(move || {
            let mut ctx = ctx;
            let mut lf = ctx.execute(&sql)?;
            Ok(lf.collect_schema()?.as_ref().clone())
        })
        .await?;
        Ok(schema
            .iter()
            .map(|(n, dt)| (client_name(n.as_str(), &renames), dt.clone()))
            .collect())
    }

    /// Read the data and run the query.
    pub async fn execute(&self, planned: &Planned, params: &[Param]) -> Result<Output> {
        let mut bound = planned.analyzed.query.clone();
        bind(&mut bound, params)?;
        let sql = bound.to_string();
        let ctx = SQLContext::new();
        let mut notices = Vec::new();
        for (source, table) in &planned.sources {
            let frame = match (source, table) {
                (_, Some(t)) => {
                    let needed = planned
                        .analyzed
                        .needed_columns(t.columns.iter().map(|c| c.name.as_str()));
                    let with_ttl = planned.analyzed.words.contains(scan::TTL_COLUMN);
                    let keys = match key_lookup(&bound, source.registered_name(), &t.key_column, t.key_type) {
                        Some(ids) => scan::Keys::Ids(ids),
                        None => scan::Keys::All,
                    };
                    let (frame, messy) = scan::read_table(self.catalog.store(), t, &needed, with_ttl, keys).await?;
                    notices.extend(t.foreign_notice());
                    notices.extend(messy.iter().map(scan::Messy::notice));
                    frame
                }
                (Source::View(v), None) => {
                    self.catalog
                        .refresh_if_older_than(std::time::Duration::from_secs(1))
                        .await?;
                    let snapshot = self.catalog.snapshot();
                    system::view_frame(v, &snapshot).ok_or_else(|| Error::UndefinedTable(v.clone()))??
                }
                _ => unreachable!("tables always resolve"),
            };
            ctx.register(source.registered_name(), frame.lazy());
        }
        let renames = planned.analyzed.renames.clone();
        let frame = run_blocking(move || {
            let mut ctx = ctx;
            let df = ctx.execute(&sql)?.collect()?;
            Ok(df)
        })
        .await?;
        let names = frame
            .get_column_names()
            .iter()
            .map(|n| client_name(n.as_str(), &renames))
            .collect();
        Ok(Output { frame, names, notices })
    }

    fn bound_sql(&self, planned: &Planned, params: &[Param]) -> Result<String> {
        let mut query = planned.analyzed.query.clone();
        bind(&mut query, params)?;
        Ok(query.to_string())
    }
}

/// Run Polars work off the async runtime.
pub(crate) async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("query worker failed: {e}")))?
}

/// The name a client sees for an output column (duplicates are made unique
/// internally because Polars frames need unique names).
fn client_name(name: &str, renames: &HashMap<String, String>) -> String {
    renames.get(name).cloned().unwrap_or_else(|| name.to_string())
}
