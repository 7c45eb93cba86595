//! `EXPLAIN query`: what goes to Redis for each table (a SCAN of the prefix,
//! or direct reads of the keys a WHERE pins) and the query Polars runs.
//! `EXPLAIN ANALYZE` is not there yet.

use super::{stream, Engine, Planned};
use crate::error::Result;
use crate::sql::analyze::Source;
use crate::sql::lookup::key_lookup;
use crate::sql::params::{bind, Param};

impl Engine {
    /// The plan, one line per step.
    pub fn explain(&self, planned: &Planned, params: &[Param]) -> Result<Vec<String>> {
        let mut query = planned.analyzed.query.clone();
        bind(&mut query, params)?;
        let mut lines = Vec::new();
        for (source, table) in &planned.sources {
            let Some(t) = table else {
                if let Source::View(v) = source {
                    lines.push(format!("{v}: system view (no Redis access)"));
                }
                continue;
            };
            let mut fields = planned
                .analyzed
                .needed_columns(t.columns.iter().map(|c| c.name.as_str()));
            if planned.analyzed.words.contains(super::scan::TTL_COLUMN) {
                fields.push("TTL".into());
            }
            let read = if t.storage == crate::catalog::STORAGE_JSON {
                "JSON.MGET $"
            } else {
                "HMGET"
            };
            let fields = if fields.is_empty() {
                "no fields".to_string()
            } else {
                fields.join(", ")
            };
            match key_lookup(&query, source.registered_name(), &t.key_column, t.key_type) {
                Some(ids) => lines.push(format!(
                    "{}: key lookup, no scan: TYPE + {read} ({fields}) of {} key{}: {}",
                    t.name,
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" },
                    ids.iter().map(|id| t.key_of(id)).collect::<Vec<_>>().join(", ")
                )),
                None => lines.push(format!(
                    "{}: SCAN MATCH {}* TYPE {} + pipelined {read} ({fields})",
                    t.name,
                    crate::store::escape_glob(&t.prefix),
                    t.redis_type()
                )),
            }
        }
        let streams = stream::streamable(planned).is_some();
        lines.push(format!(
            "Polars SQL{}: {query}",
            if streams {
                " (row-wise: COPY TO streams it chunk by chunk)"
            } else {
                ""
            }
        ));
        Ok(lines)
    }
}
