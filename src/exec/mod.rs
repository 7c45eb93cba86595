//! Execution: read the referenced tables from Redis (scan path), register
//! them in a fresh per-query Polars SQL context and run the query there.
//!
//! Every query gets its own `SQLContext`, so nothing one query registers (a
//! CTE, a table) is visible to another connection.

pub mod alter;
pub mod array_subquery;
pub mod batch_writer;
pub mod budget;
pub mod copy;
pub mod copy_file;
pub mod copy_format;
pub mod copy_in;
pub mod ddl;
pub mod explain;
pub mod files;
pub mod functions;
pub mod hash_write;
pub mod index_ddl;
mod interrupt;
pub mod json_doc;
pub mod load;
pub mod lookup_rows;
pub mod memory;
pub mod scan;
pub mod search;
mod search_agg;
mod search_keys;
pub mod srf;
pub mod stream;
pub mod subquery;
pub mod subquery_sql;
pub mod update;
pub mod upsert;
pub mod values;
pub mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use pgwire::api::Type;
use polars::prelude::*;

use crate::catalog::index::IndexInfo;
use crate::catalog::system::{self, SYSTEM_VIEWS};
use crate::catalog::{Catalog, TableInfo};
use crate::error::{Error, Result};
use crate::pushdown::{self, Pushdown};
use crate::sql::analyze::{Analyzed, Source};
use crate::sql::lookup::{key_lookup, plain_lookup, PlainLookup};
use crate::sql::params::{bind, Param};

/// A query resolved against the catalog, ready to describe or run.
#[derive(Clone)]
pub struct Planned {
    pub analyzed: Analyzed,
    /// Each source with its table (None for system views).
    pub sources: Vec<(Source, Option<Arc<TableInfo>>)>,
    /// Server-side parameter types, `$1` first.
    pub param_types: Vec<Type>,
    /// The table OID and column number of each output column, where traced.
    pub origins: Option<Vec<crate::sql::origins::Origin>>,
    /// When the result is the rows a key lookup reads, as they are: decided
    /// here once, so executing it binds no query and runs no Polars SQL.
    pub lookup: Option<PlainLookup>,
}

/// A query's result and the notices it raised.
pub struct Output {
    pub frame: DataFrame,
    /// Column names as the client sees them (may repeat, unlike the frame's).
    pub names: Vec<String>,
    pub notices: Vec<String>,
}

/// How one table of a query is read (one per query and table, so the
/// variants' size difference does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Access {
    /// Only these key ids (the WHERE pins the key column).
    Lookup(Vec<String>),
    /// RediSearch answers part of the query.
    Push { index: Arc<IndexInfo>, plan: Pushdown },
    /// SCAN the prefix; `why` pushdown is not used, when there is an index.
    Scan { why: Option<String> },
}

/// A query bound to its parameters, and how its one table is read: decided
/// once when a caller had to know before running it (see `stream::Started`).
pub struct Decided {
    pub bound: sqlparser::ast::Query,
    pub access: Access,
}

/// One step of a run, as EXPLAIN ANALYZE reports it.
pub type Trace = Vec<String>;

/// One EXPLAIN ANALYZE line for reading a table: `t: what: n rows, ms`.
fn step(t: &TableInfo, what: &str, n: usize, unit: &str, since: Instant) -> String {
    format!("{}: {what}: {n} {unit}, {}", t.name, ms(since))
}

fn ms(since: Instant) -> String {
    format!("{:.3} ms", since.elapsed().as_secs_f64() * 1000.0)
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
    pub async fn plan(&self, mut analyzed: Analyzed) -> Result<Planned> {
        let mut sources = Vec::new();
        for s in &analyzed.sources {
            let table = match s {
                Source::Table(name) => Some(self.catalog.get(name).await?),
                Source::View(_) => None,
            };
            sources.push((s.clone(), table));
        }
        let tables: Vec<&TableInfo> = sources.iter().filter_map(|(_, t)| t.as_deref()).collect();
        crate::sql::temporal::normalize_literals(&mut analyzed.query, |col| {
            let mut types = tables.iter().filter_map(|t| t.column(col).map(|c| c.ty));
            let first = types.next()?;
            types.all(|t| t == first).then_some(first)
        });
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
        let origins = crate::sql::origins::origins(&analyzed.query, |name| {
            sources.iter().find_map(|(s, t)| match (s, t) {
                (Source::Table(n), Some(t)) if n == name => Some((
                    crate::catalog::pg::relation_oid(n),
                    t.all_columns().into_iter().map(|(c, _)| c).collect(),
                )),
                _ => None,
            })
        });
        let lookup = match sources.as_slice() {
            [(source, Some(t))] if !analyzed.words.contains(scan::TTL_COLUMN) => {
                let columns: Vec<String> = t.all_columns().into_iter().map(|(c, _)| c).collect();
                plain_lookup(&analyzed.query, source.registered_name(), &t.key_column, &columns)
            }
            _ => None,
        };
        Ok(Planned {
            analyzed,
            sources,
            param_types,
            origins,
            lookup,
        })
    }

    /// The result schema, computed over empty tables (no data is read).
    pub async fn describe(&self, planned: &Planned) -> Result<Vec<(String, DataType)>> {
        let snapshot = self.catalog.snapshot();
        let ctx = functions::context();
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
        let mut query = planned.analyzed.query.clone();
        bind(&mut query, &params)?;
        let renames = planned.analyzed.renames.clone();
        let schema = run_blocking(move || {
            let mut ctx = ctx;
            subquery::resolve(&mut ctx, &mut query)?;
            let mut lf = lazy_sql(&mut ctx, query)?;
            Ok(lf.collect_schema()?.as_ref().clone())
        })
        .await?;
        Ok(schema
            .iter()
            .map(|(n, dt)| (client_name(n.as_str(), &renames), dt.clone()))
            .collect())
    }

    /// Read the data and run the query (pushdown on).
    pub async fn execute(&self, planned: &Planned, params: &[Param]) -> Result<Output> {
        Ok(self.execute_with(planned, params, true).await?.0)
    }

    /// How `table` (registered as `source`) is read for the bound query.
    pub async fn access(
        &self,
        planned: &Planned,
        bound: &sqlparser::ast::Query,
        source: &Source,
        t: &TableInfo,
        pushdown_on: bool,
    ) -> Access {
        if let Some(ids) = key_lookup(bound, source.registered_name(), &t.key_column, t.key_type) {
            return Access::Lookup(ids);
        }
        if t.index_name.is_none() {
            return Access::Scan { why: None };
        }
        let why = if !pushdown_on {
            "pushdown is off for this session (SET redsql.pushdown = on)".to_string()
        } else if planned.sources.len() != 1 {
            "the query reads more than one relation".to_string()
        } else if planned.analyzed.words.contains(scan::TTL_COLUMN) {
            format!("{} is not in the index", scan::TTL_COLUMN)
        } else {
            match self.catalog.usable_index(t).await {
                Err(why) => why,
                Ok(index) => match pushdown::plan(
                    bound,
                    source.registered_name(),
                    t,
                    &index,
                    self.no_expiring_keys().await,
                ) {
                    Ok(plan) => return Access::Push { index, plan },
                    Err(why) => why,
                },
            }
        };
        Access::Scan { why: Some(why) }
    }

    /// RediSearch keeps counting a key whose TTL has passed until Redis
    /// deletes it (measured: 11660 documents for 0 live keys during a mass
    /// expiry). While some key has a TTL, pushed commands on one node open
    /// each match's key and keep those still there; on a cluster, where that
    /// load returns nothing, aggregates and LIMITs are not pushed (row
    /// fetches re-read their rows, and an expired key is no row).
    async fn no_expiring_keys(&self) -> std::result::Result<(), String> {
        match self.catalog.store().keys_with_ttl().await {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!(
                "{n} keys in this database have a TTL, and on a Redis Cluster RediSearch keeps counting a key whose \
                 TTL has passed until Redis deletes it (it loads no key to check), so aggregates and LIMIT are \
                 computed from the rows"
            )),
            Err(e) => Err(format!("cannot read INFO keyspace: {e}")),
        }
    }

    /// The key ids a plain lookup (see [`Planned::lookup`]) reads with these
    /// parameters, and its table; None when the query runs the general way.
    pub(crate) fn direct_ids<'a>(
        planned: &'a Planned,
        params: &[Param],
    ) -> Option<(&'a PlainLookup, &'a TableInfo, Vec<String>)> {
        let lookup = planned.lookup.as_ref()?;
        let (_, Some(t)) = planned.sources.first()? else {
            return None;
        };
        Some((lookup, t, lookup.ids(params, t.key_type)?))
    }

    /// A plain lookup's result: the rows read, projected, with no query bound
    /// and no Polars SQL run (a point lookup costs one HMGET).
    async fn direct_lookup(&self, planned: &Planned, params: &[Param]) -> Result<Option<(Output, Trace)>> {
        let Some((lookup, t, ids)) = Self::direct_ids(planned, params) else {
            return Ok(None);
        };
        let started = Instant::now();
        let n = ids.len();
        let needed = planned
            .analyzed
            .needed_columns(t.columns.iter().map(|c| c.name.as_str()));
        let (frame, messy) = scan::read_table(self.catalog.store(), t, &needed, false, scan::Keys::Ids(ids)).await?;
        let trace = vec![
            step(t, &format!("key lookup of {n} keys"), frame.height(), "rows", started),
            "no Polars SQL: the result is the rows read".to_string(),
        ];
        let frame = project(&frame, &lookup.columns)?;
        let names = lookup.columns.iter().map(|(_, shown)| shown.clone()).collect();
        let mut notices: Vec<String> = t.foreign_notice().into_iter().collect();
        notices.extend(messy.iter().map(scan::Messy::notice));
        Ok(Some((Output { frame, names, notices }, trace)))
    }

    /// Read the data and run the query; `pushdown_on` is the session's
    /// `redsql.pushdown`. Returns what each step did, for EXPLAIN ANALYZE.
    pub async fn execute_with(
        &self,
        planned: &Planned,
        params: &[Param],
        pushdown_on: bool,
    ) -> Result<(Output, Trace)> {
        self.execute_known(planned, params, pushdown_on, None).await
    }

    /// [`Engine::execute_with`], with the bound query and the access to its
    /// one table when they are decided already.
    pub async fn execute_known(
        &self,
        planned: &Planned,
        params: &[Param],
        pushdown_on: bool,
        known: Option<Decided>,
    ) -> Result<(Output, Trace)> {
        if let Some(out) = self.direct_lookup(planned, params).await? {
            return Ok(out);
        }
        let (bound, mut known_access) = match known {
            Some(Decided { bound, access }) => (bound, Some(access)),
            None => {
                let mut bound = planned.analyzed.query.clone();
                bind(&mut bound, params)?;
                (bound, None)
            }
        };
        let mut query = bound.clone();
        let ctx = functions::context();
        let mut notices = Vec::new();
        let mut trace = Trace::new();
        for (source, table) in &planned.sources {
            let started = Instant::now();
            let frame = match (source, table) {
                (_, Some(t)) => {
                    let needed = planned
                        .analyzed
                        .needed_columns(t.columns.iter().map(|c| c.name.as_str()));
                    let with_ttl = planned.analyzed.words.contains(scan::TTL_COLUMN);
                    let store = self.catalog.store();
                    let access = match known_access.take() {
                        Some(access) => access,
                        None => self.access(planned, &bound, source, t, pushdown_on).await,
                    };
                    let (frame, messy) = match access {
                        Access::Lookup(ids) => {
                            let n = ids.len();
                            let out = scan::read_table(store, t, &needed, with_ttl, scan::Keys::Ids(ids)).await?;
                            trace.push(step(
                                t,
                                &format!("key lookup of {n} keys"),
                                out.0.height(),
                                "rows",
                                started,
                            ));
                            out
                        }
                        Access::Push {
                            index,
                            plan: Pushdown::Aggregate(agg),
                        } => match search::aggregate(store, &index, &agg).await? {
                            Some(groups) => {
                                let what = "FT.AGGREGATE (aggregate pushed down)";
                                trace.push(step(t, what, groups.height(), "groups", started));
                                query = agg.query.clone();
                                (groups, Vec::new())
                            }
                            None => {
                                let out = scan::read_table(store, t, &needed, with_ttl, scan::Keys::All).await?;
                                let what =
                                    "FT.AGGREGATE found values RediSearch does not aggregate exactly; scanned instead";
                                trace.push(step(t, what, out.0.height(), "rows", started));
                                out
                            }
                        },
                        Access::Push {
                            index,
                            plan: Pushdown::Fetch(fetch),
                        } => match search::fetch(store, &index, t, &needed, &fetch).await? {
                            Some(out) => {
                                let what = if fetch.cluster {
                                    "FT.SEARCH on every index part (keys), then rows read by key"
                                } else {
                                    "FT.AGGREGATE (rows fetched)"
                                };
                                trace.push(step(t, what, out.0.height(), "rows", started));
                                out
                            }
                            None => {
                                let out = scan::read_table(store, t, &needed, with_ttl, scan::Keys::All).await?;
                                let what = "FT.SEARCH found more matching keys than MAXSEARCHRESULTS lets one reply hold; scanned instead";
                                trace.push(step(t, what, out.0.height(), "rows", started));
                                out
                            }
                        },
                        Access::Scan { .. } => {
                            let out = scan::read_table(store, t, &needed, with_ttl, scan::Keys::All).await?;
                            trace.push(step(t, "SCAN", out.0.height(), "rows", started));
                            out
                        }
                    };
                    notices.extend(t.foreign_notice());
                    notices.extend(messy.iter().map(scan::Messy::notice));
                    frame
                }
                (Source::View(v), None) => {
                    // redsql.tables/columns promise a fresh scan; pg_catalog
                    // reads (dozens per GUI browse) use the current catalog
                    // rather than rescanning the keyspace each second.
                    if SYSTEM_VIEWS.contains(&v.as_str()) {
                        self.catalog
                            .refresh_if_older_than(std::time::Duration::from_secs(1))
                            .await?;
                    }
                    let snapshot = self.catalog.snapshot();
                    system::live_view_frame(&self.catalog, v, &snapshot)
                        .await
                        .ok_or_else(|| Error::UndefinedTable(v.clone()))??
                }
                _ => unreachable!("tables always resolve"),
            };
            ctx.register(source.registered_name(), frame.lazy());
        }
        let renames = planned.analyzed.renames.clone();
        let started = Instant::now();
        let frame = run_blocking(move || {
            let mut ctx = ctx;
            subquery::resolve(&mut ctx, &mut query)?;
            run_sql(&mut ctx, query)
        })
        .await?;
        trace.push(format!("Polars SQL: {} rows, {}", frame.height(), ms(started)));
        let names = frame
            .get_column_names()
            .iter()
            .map(|n| client_name(n.as_str(), &renames))
            .collect();
        Ok((Output { frame, names, notices }, trace))
    }
}

/// The columns `cols` (read, shown) of a frame, renamed as shown.
fn project(frame: &DataFrame, cols: &[(String, String)]) -> Result<DataFrame> {
    let columns = cols
        .iter()
        .map(|(read, shown)| Ok(frame.column(read)?.clone().with_name(shown.as_str().into())))
        .collect::<Result<Vec<Column>>>()?;
    Ok(DataFrame::new(frame.height(), columns)?)
}

pub(crate) use interrupt::{collect, run_blocking};

/// Run a query in a Polars SQL context (see [`lazy_sql`]).
pub(crate) fn run_sql(ctx: &mut polars::sql::SQLContext, query: sqlparser::ast::Query) -> Result<DataFrame> {
    collect(lazy_sql(ctx, query)?)
}

/// The name of the one-row relation a SELECT without FROM reads.
const ONE_ROW: &str = "__redsql_one_row";

/// Plan a query in a Polars SQL context. A SELECT without FROM reads a
/// one-row relation, which is what PostgreSQL means by it: Polars starts
/// such a SELECT from an empty frame, and some expressions over literals
/// then give no row at all (`SELECT CASE WHEN array_length(string_to_array('a,b',
/// ',')) > 0 THEN array_length(...) END`, `nullif(...)` of the same).
pub(crate) fn lazy_sql(ctx: &mut polars::sql::SQLContext, mut query: sqlparser::ast::Query) -> Result<LazyFrame> {
    use sqlparser::ast::{Ident, Select, TableWithJoins, VisitMut, VisitorMut};
    struct OneRow(bool);
    impl VisitorMut for OneRow {
        type Break = ();
        fn pre_visit_select(&mut self, s: &mut Select) -> std::ops::ControlFlow<()> {
            if s.from.is_empty() {
                let relation = crate::sql::table_factor(Ident::with_quote('"', ONE_ROW), None, None);
                s.from = vec![TableWithJoins {
                    relation,
                    joins: vec![],
                }];
                self.0 = true;
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut one = OneRow(false);
    let _ = VisitMut::visit(&mut query, &mut one);
    if one.0 {
        let frame = DataFrame::new_infer_height(vec![Column::new(ONE_ROW.into(), [true])])?;
        ctx.register(ONE_ROW, frame.lazy());
    }
    Ok(ctx.execute(&query.to_string())?)
}

/// The name a client sees for an output column (duplicates are made unique
/// internally because Polars frames need unique names).
fn client_name(name: &str, renames: &HashMap<String, String>) -> String {
    renames.get(name).cloned().unwrap_or_else(|| name.to_string())
}
