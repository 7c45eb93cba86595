//! Streaming exports: a row-wise query over one table (filters, projections,
//! scalar expressions; no aggregates, ordering, LIMIT, DISTINCT, windows,
//! joins or subqueries) gives the same rows whether it runs over the whole
//! table or chunk by chunk and the results are concatenated. COPY ... TO
//! runs such queries chunk by chunk (SCAN → read a chunk → run the query on
//! it → encode → send), so memory does not grow with the table; a bounded
//! channel makes a slow client slow the scan down.
//!
//! A plain SELECT of such a query streams the same way when SCAN would read
//! the table anyway, or when RediSearch fetches its matching rows (a chunk
//! per cursor page; [`Engine::stream_select`], [`chunked`]): rows reach the
//! client while the rest is still being read, instead of after all of it.
//!
//! Any other query is run whole, then encoded batch by batch.

use std::ops::ControlFlow;
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::StreamExt;
use polars::prelude::*;
use sqlparser::ast::{Expr, GroupByExpr, Query, SetExpr, TableFactor, Visit, Visitor};
use tokio::sync::mpsc;

use super::scan::{self, Keys, Messy};
use super::{functions, search};
use super::{Access, Decided, Engine, Planned};
use crate::catalog::TableInfo;
use crate::error::Result;
use crate::pushdown::Pushdown;
use crate::sql::dialect::NOW;
use crate::sql::params::{bind, Param};
use crate::store::Store;

/// Keys read (and rows run through the query) per chunk.
pub const CHUNK_ROWS: usize = 8192;

/// Scalar functions a row-wise query may call (deterministic, one row in, one value out).
const SCALAR_FUNCTIONS: &[&str] = &[
    "abs",
    "btrim",
    "ceil",
    "ceiling",
    "char_length",
    "coalesce",
    "concat",
    "date_part",
    "ends_with",
    "floor",
    "greatest",
    "initcap",
    "least",
    "left",
    "length",
    "lower",
    "lpad",
    "ltrim",
    "nullif",
    "replace",
    "reverse",
    "right",
    "round",
    "rpad",
    "rtrim",
    "split_part",
    "sqrt",
    "starts_with",
    "strpos",
    "strptime",
    "substr",
    "substring",
    "trim",
    "upper",
];

/// Whether the query may run chunk by chunk with the same result.
pub fn is_row_wise(q: &Query) -> bool {
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return false;
    }
    let SetExpr::Select(s) = q.body.as_ref() else {
        return false;
    };
    let plain_group = matches!(&s.group_by, GroupByExpr::Expressions(v, m) if v.is_empty() && m.is_empty());
    let [from] = s.from.as_slice() else {
        return false;
    };
    if s.distinct.is_some()
        || !plain_group
        || s.having.is_some()
        || s.qualify.is_some()
        || !s.named_window.is_empty()
        || s.top.is_some()
        || !from.joins.is_empty()
        || !matches!(from.relation, TableFactor::Table { .. })
    {
        return false;
    }
    struct OnlyScalar(bool);
    impl Visitor for OnlyScalar {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let ok = match e {
                Expr::Function(f) => {
                    let name = f.name.to_string().to_lowercase();
                    let name = name.trim_matches('"');
                    f.over.is_none()
                        && f.filter.is_none()
                        && (SCALAR_FUNCTIONS.contains(&name) || functions::is_function(name) || name == NOW)
                }
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => false,
                _ => true,
            };
            if ok {
                ControlFlow::Continue(())
            } else {
                self.0 = false;
                ControlFlow::Break(())
            }
        }
    }
    let mut v = OnlyScalar(true);
    let _ = s.visit(&mut v);
    v.0
}

/// The one table a row-wise query reads, if the query is row-wise.
pub fn streamable(planned: &Planned) -> Option<Arc<TableInfo>> {
    match planned.sources.as_slice() {
        [(_, Some(table))] if is_row_wise(&planned.analyzed.query) => Some(table.clone()),
        _ => None,
    }
}

/// One chunk's result, and the values of it read as NULL.
pub type Chunk = (DataFrame, Vec<Messy>);

/// A row-wise query started chunk by chunk.
pub struct Streamed {
    /// The result's columns as described (client names, types); every chunk
    /// is cast to these.
    pub columns: Vec<(String, DataType)>,
    /// Notices known before any row is read (a foreign table's).
    pub notices: Vec<String>,
    pub chunks: mpsc::Receiver<Result<Chunk>>,
}

/// How a query starts: streamed, or to be run whole.
#[allow(clippy::large_enum_variant)]
pub enum Started {
    Streamed(Streamed),
    /// Run it whole ([`Engine::execute_known`]), with the bound query and
    /// its table's access if they were decided (the query is not bound, nor
    /// FT.INFO and INFO asked, twice).
    Whole(Option<Decided>),
}

impl Engine {
    /// Start `planned` chunk by chunk when it is row-wise over one table that
    /// is read by SCAN or by a RediSearch fetch (see [`chunked`]; a key lookup
    /// or an aggregate runs whole). `described` are the columns announced at
    /// Parse, if any.
    pub async fn stream_select(
        &self,
        planned: &Planned,
        params: &[Param],
        pushdown_on: bool,
        described: Option<&[(String, DataType)]>,
    ) -> Result<Started> {
        let Some(table) = streamable(planned) else {
            return Ok(Started::Whole(None));
        };
        let mut bound = planned.analyzed.query.clone();
        bind(&mut bound, params)?;
        let source = &planned.sources[0].0;
        let access = self.access(planned, &bound, source, &table, pushdown_on).await;
        if !chunked(&access) {
            return Ok(Started::Whole(Some(Decided { bound, access })));
        }
        let columns = match described {
            Some(cols) if !cols.is_empty() => cols.to_vec(),
            _ => self.describe(planned).await?,
        };
        let needed = planned
            .analyzed
            .needed_columns(table.columns.iter().map(|c| c.name.as_str()));
        let notices = table.foreign_notice().into_iter().collect();
        let store = self.catalog().store().clone();
        let reads = match access {
            Access::Push {
                index,
                plan: Pushdown::Fetch(fetch),
            } => received(search::fetch_pages(store, index, table, needed, fetch)).boxed(),
            _ => {
                let with_ttl = planned.analyzed.words.contains(scan::TTL_COLUMN);
                scan_reads(store, table, needed, with_ttl).boxed()
            }
        };
        let chunks = run_chunks(reads, source.registered_name().to_string(), bound.to_string());
        Ok(Started::Streamed(Streamed {
            columns,
            notices,
            chunks,
        }))
    }
}

/// `found` merged into `all`: counts added per column, the first example kept.
pub fn merge_messy(all: &mut Vec<Messy>, found: Vec<Messy>) {
    for m in found {
        match all.iter_mut().find(|a| a.column == m.column) {
            Some(a) => a.count += m.count,
            None => all.push(m),
        }
    }
}

/// Whether a row-wise query over a table read this way runs chunk by chunk:
/// when SCAN reads the whole table, or RediSearch fetches a hash table's
/// matching rows (one chunk per cursor page). A key lookup, an aggregate,
/// and a fetch of keys first (a JSON table's, or any on a Redis Cluster)
/// run whole.
pub fn chunked(access: &Access) -> bool {
    match access {
        Access::Scan { .. } => true,
        Access::Push {
            plan: Pushdown::Fetch(fetch),
            ..
        } => !fetch.json && !fetch.cluster && fetch.limit.is_none(),
        Access::Push { .. } | Access::Lookup(_) => false,
    }
}

/// The chunks of a whole table: SCAN's keys in chunks of `CHUNK_ROWS`, each
/// read (HMGET or JSON.GET) while the next keys are scanned; at most `AHEAD`
/// chunks are read ahead.
fn scan_reads(
    store: Store,
    table: Arc<TableInfo>,
    columns: Vec<String>,
    with_ttl: bool,
) -> impl futures::Stream<Item = Result<Chunk>> + Send + 'static {
    let scan = store.scan_table_keys(&table.prefix, table.redis_type());
    Box::pin(key_chunks(scan))
        .map(move |keys| {
            let (store, table, columns) = (store.clone(), table.clone(), columns.clone());
            async move { scan::read_table(&store, &table, &columns, with_ttl, Keys::Exact(keys?)).await }
        })
        .buffered(AHEAD)
}

/// What a task sends on a channel, as a stream.
pub(super) fn received<T: Send + 'static>(rx: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// Chunks read ahead of the one the query runs on.
const AHEAD: usize = 2;

/// Run a row-wise query over each chunk read; results arrive on the
/// receiver, in chunk order. The steps overlap: while one chunk runs
/// through the query, the next ones are read, so Redis is not left idle
/// while Polars works.
pub fn run_chunks(
    reads: BoxStream<'static, Result<Chunk>>,
    registered: String,
    sql: String,
) -> mpsc::Receiver<Result<Chunk>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let mut results = reads
            .map(|read: Result<Chunk>| {
                let (name, sql) = (registered.clone(), sql.clone());
                async move {
                    let (frame, messy) = read?;
                    let frame = super::run_blocking(move || {
                        let mut ctx = functions::context();
                        ctx.register(&name, frame.lazy());
                        super::collect(ctx.execute(&sql)?)
                    })
                    .await?;
                    Ok((frame, messy))
                }
            })
            .buffered(AHEAD);
        while let Some(result) = results.next().await {
            let failed = result.is_err();
            if tx.send(result).await.is_err() || failed {
                return; // the client went away, or the query failed
            }
        }
    });
    rx
}

/// The keys a SCAN streams, in chunks of `CHUNK_ROWS` (the last one smaller).
fn key_chunks(
    scan: mpsc::Receiver<Result<Vec<Vec<u8>>>>,
) -> impl futures::Stream<Item = Result<Vec<Vec<u8>>>> + Send + 'static {
    futures::stream::unfold(Some(scan), |scan| async move {
        let mut scan = scan?;
        let mut pending: Vec<Vec<u8>> = Vec::new();
        loop {
            match scan.recv().await {
                Some(Ok(batch)) => {
                    pending.extend(batch);
                    if pending.len() >= CHUNK_ROWS {
                        return Some((Ok(pending), Some(scan)));
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None if pending.is_empty() => return None,
                None => return Some((Ok(pending), None)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::is_row_wise;
    use sqlparser::ast::Statement;

    fn row_wise(sql: &str) -> bool {
        let Some(Statement::Query(q)) = crate::sql::parse(sql).unwrap().pop() else {
            panic!()
        };
        is_row_wise(&q)
    }

    #[test]
    fn only_row_by_row_queries_stream() {
        assert!(row_wise("SELECT * FROM t"));
        assert!(row_wise(
            "SELECT id, upper(name), v * 2 FROM t WHERE id % 7 = 3 AND coalesce(a, 0) > 1"
        ));
        for sql in [
            "SELECT count(*) FROM t",
            "SELECT sum(v) FROM t WHERE id > 1",
            "SELECT DISTINCT a FROM t",
            "SELECT a FROM t GROUP BY a",
            "SELECT a FROM t ORDER BY a",
            "SELECT a FROM t LIMIT 5",
            "SELECT a, rank() OVER (ORDER BY a) FROM t",
            "SELECT a FROM t JOIN u ON t.id = u.id",
            "SELECT a FROM t WHERE id IN (SELECT id FROM u)",
            "WITH x AS (SELECT 1) SELECT * FROM t",
            "SELECT random() FROM t",
            "SELECT a FROM t UNION SELECT a FROM u",
        ] {
            assert!(!row_wise(sql), "{sql}");
        }
    }
}
