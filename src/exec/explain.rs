//! `EXPLAIN query`: what goes to Redis for each table (the exact FT.* command
//! with its parameters, a SCAN of the prefix, or direct reads of the keys a
//! WHERE pins) and the query Polars runs. `EXPLAIN ANALYZE` runs the query
//! and adds each step's row count and time.

use super::{search, stream, Access, Engine, Planned};
use crate::catalog::index::IndexInfo;
use crate::error::Result;
use crate::pushdown::pushed::Pushed;
use crate::pushdown::{search_tail, FetchPlan, Pushdown};
use crate::sql::analyze::Source;
use crate::sql::params::{bind, Param};

/// The name the printed commands use: the index's, or on a cluster its
/// first part's (each part runs them under its own name).
fn first_part(index: &IndexInfo) -> &str {
    match index.shards.as_slice() {
        [first, _, ..] => &first.name,
        _ => &index.name,
    }
}

/// On a Redis Cluster, where the index's parts are and how their answers
/// are put together; nothing for an index in one part.
fn parts_lines(index: &IndexInfo, merged: &str) -> Vec<String> {
    if index.shards.len() < 2 {
        return Vec::new();
    }
    let parts: Vec<String> = index.shards.iter().map(ToString::to_string).collect();
    vec![
        format!(
            "  in {} parts, one per Redis Cluster master, all run at once: {}",
            parts.len(),
            parts.join(", ")
        ),
        format!("  {merged}; each part runs the commands below under its own name:"),
    ]
}

/// Why the commands load `@__key` first, when they do.
fn live_only_line(pushed: &Pushed) -> Option<String> {
    pushed.live_only.then(|| {
        "  (keys in this database have TTLs, and RediSearch keeps a key whose TTL has passed until Redis deletes \
         it: each match's key is opened (LOAD 1 @__key) and only those still there are kept)"
            .to_string()
    })
}

/// A cluster's row fetch: the FT.SEARCH each part runs for keys.
fn cluster_fetch_lines(index: &IndexInfo, fetch: &FetchPlan) -> Vec<String> {
    let mut lines = parts_lines(
        index,
        "each part gives its matching keys (FT.SEARCH NOCONTENT: RediSearch in cluster mode loads no \
         document, and FT.SEARCH has no FILTER and sorts by one key)",
    );
    let ask = fetch.limit.unwrap_or(super::search_keys::FIRST_ASK);
    for body in fetch.search_commands() {
        let mut args = vec![first_part(index).to_string()];
        args.extend(body);
        args.extend(["LIMIT".into(), "0".into(), ask.to_string()]);
        args.extend(search_tail(&fetch.pushed));
        lines.push(format!("  {}", search::quoted("FT.SEARCH", &args)));
    }
    if fetch.limit.is_none() {
        lines.push(
            "  (a part with more matching keys is asked again for all of them at once, up to its MAXSEARCHRESULTS; \
             beyond that the table is scanned instead)"
                .to_string(),
        );
    }
    lines
}

impl Engine {
    /// The plan, one line per step.
    pub async fn explain(&self, planned: &Planned, params: &[Param], pushdown_on: bool) -> Result<Vec<String>> {
        let mut query = planned.analyzed.query.clone();
        bind(&mut query, params)?;
        let mut polars_query = query.to_string();
        let mut lines = Vec::new();
        let mut chunk_read = false;
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
            let type_check = super::scan::lookup_needs_type(t, &fields);
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
            let access = self.access(planned, &query, source, t, pushdown_on).await;
            chunk_read = stream::chunked(&access);
            match access {
                Access::Lookup(ids) => lines.push(format!(
                    "{}: key lookup, no scan: {}{read} ({fields}) of {} key{}: {}",
                    t.name,
                    if type_check { "TYPE + " } else { "" },
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" },
                    ids.iter().map(|id| t.key_of(id)).collect::<Vec<_>>().join(", ")
                )),
                Access::Push {
                    index,
                    plan: Pushdown::Aggregate(agg),
                } => {
                    lines.push(format!(
                        "{}: aggregate pushed down to RediSearch index {}:",
                        t.name, index.name
                    ));
                    lines.extend(live_only_line(&agg.pushed));
                    lines.extend(parts_lines(
                        &index,
                        "the groups of all parts merged: counts and sums added, MIN/MAX combined, AVG as merged sum / merged count",
                    ));
                    lines.push(format!(
                        "  {}",
                        search::command_text(&search::full_args(first_part(&index), agg.args(), &agg.pushed))
                    ));
                    for (name, body) in agg.missing_counts() {
                        lines.push(format!(
                            "  then, per group, the rows missing a field ({name} = count - missing):"
                        ));
                        lines.push(format!(
                            "  {}",
                            search::command_text(&search::full_args(first_part(&index), body, &agg.pushed))
                        ));
                    }
                    for body in agg.infinity_checks() {
                        lines.push(
                            "  then a check that MIN/MAX see no infinity (RediSearch skips them; if any, the table is scanned instead):"
                                .to_string(),
                        );
                        lines.push(format!(
                            "  {}",
                            search::command_text(&search::full_args(first_part(&index), body, &agg.pushed))
                        ));
                    }
                    if !agg.guards.is_empty() {
                        lines.push(format!(
                            "  (bigint columns {} are checked to be integers within ±2^53; if not, the table is scanned instead)",
                            agg.guards.iter().map(|g| g.column.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    polars_query = agg.query.to_string();
                }
                Access::Push {
                    index,
                    plan: Pushdown::Fetch(fetch),
                } => {
                    let what = match (
                        fetch.limit,
                        fetch.use_filter || fetch.pushed.exactness == crate::pushdown::filter::Exactness::Exact,
                    ) {
                        (Some(n), _) => format!("the first {n} matching rows"),
                        (None, true) => "the matching rows".to_string(),
                        (None, false) => "a superset of the matching rows (WHERE re-checked in Polars)".to_string(),
                    };
                    lines.push(format!("{}: RediSearch index {} fetches {what}:", t.name, index.name));
                    lines.extend(live_only_line(&fetch.pushed));
                    if fetch.cluster {
                        lines.extend(cluster_fetch_lines(&index, &fetch));
                    } else {
                        for body in fetch.commands() {
                            lines.push(format!(
                                "  {}",
                                search::command_text(&search::full_args(first_part(&index), body, &fetch.pushed))
                            ));
                        }
                    }
                    if fetch.json || fetch.cluster {
                        let routed = if fetch.cluster { ", routed by hash slot" } else { "" };
                        lines.push(format!("  then {read} ({fields}) of the keys found{routed}"));
                    }
                }
                Access::Scan { why } => {
                    let store = self.catalog().store();
                    let masters = if store.is_cluster() {
                        format!(
                            ", on each of the {} Redis Cluster masters at once",
                            store.masters().len()
                        )
                    } else {
                        String::new()
                    };
                    lines.push(format!(
                        "{}: SCAN MATCH {}* TYPE {} + pipelined {read} ({fields}){masters}",
                        t.name,
                        crate::store::escape_glob(&t.prefix),
                        t.redis_type()
                    ));
                    if let Some(why) = why {
                        lines.push(format!("  not pushed down: {why}"));
                    }
                }
            }
        }
        if Engine::direct_ids(planned, params).is_some() {
            lines.push("no Polars SQL: the result is the rows the key lookup read".to_string());
            return Ok(lines);
        }
        // As Engine::stream_select decides.
        let streams = chunk_read && stream::streamable(planned).is_some();
        lines.push(format!(
            "Polars SQL{}: {polars_query}",
            if streams {
                " (row-wise: run and sent chunk by chunk as the rows are read)"
            } else {
                ""
            }
        ));
        Ok(lines)
    }
}
