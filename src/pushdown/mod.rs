//! Pushdown planning: which part of a query over one indexed table RediSearch
//! can answer, provably with the same result as the scan path.
//!
//! * [`filter`]: WHERE → FT query (a superset, or exact) and exact FILTER.
//! * [`aggregate`]: GROUP BY / aggregates → one FT.AGGREGATE over groups.
//! * [`FetchPlan`]: otherwise, fetch only the rows the WHERE can match
//!   (`FT.AGGREGATE ... LOAD * WITHCURSOR`), and when the translation is
//!   exact, only the first `LIMIT + OFFSET` of them in ORDER BY order; the
//!   whole query then runs in Polars over the fetched rows, re-checking the
//!   WHERE, so a superset fetch is still exact. On a Redis Cluster the index
//!   parts give the matching keys (`FT.SEARCH ... NOCONTENT`, each part's own
//!   first `LIMIT + OFFSET` by one sort key) and the rows are read by key.
//!
//! Every command carries `TIMEOUT 0` (no partial results on timeout) and
//! `DIALECT 2`, literals travel as PARAMS, and replies come over RESP3 so a
//! RediSearch warning fails the query instead of passing partial results.

pub mod aggregate;
pub mod filter;
pub mod pushed;

use sqlparser::ast::{Expr, LimitClause, OrderByKind, Query, SetExpr, TableFactor, Value};

use crate::catalog::index::IndexInfo;
use crate::catalog::TableInfo;
use crate::exec::stream::is_row_wise;
use aggregate::AggPlan;
use filter::{translate, Exactness, Kind, Pushed, Schema};

/// Rows per cursor read: pages small enough that RediSearch builds the next
/// one while redsql parses this one (see `exec::search::read_cursor`).
pub const CURSOR_COUNT: usize = 2_000;

/// How a query over an indexed table uses the index (one per query and
/// table, so the variants' size difference does not matter).
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Pushdown {
    Aggregate(AggPlan),
    Fetch(FetchPlan),
}

/// A filtered (and perhaps ordered and limited) fetch of rows.
#[derive(Clone, Debug)]
pub struct FetchPlan {
    pub pushed: Pushed,
    pub use_filter: bool,
    /// SORTBY keys (alias, ascending), only with `limit`.
    pub sort: Vec<(String, bool)>,
    /// Rows needed (LIMIT + OFFSET), when the fetch is exact.
    pub limit: Option<u64>,
    /// The first sort key's NULLs come first: fetch rows missing it apart.
    pub nulls_first: bool,
    pub json: bool,
    /// The index is in parts on a Redis Cluster: keys come from FT.SEARCH
    /// NOCONTENT on every part (see [`FetchPlan::search_commands`]).
    pub cluster: bool,
}

impl FetchPlan {
    /// One argument list (after `FT.AGGREGATE <index>`) per command; their
    /// rows together are the fetch.
    pub fn commands(&self) -> Vec<Vec<String>> {
        self.split(|query, sort| self.command(query, sort))
    }

    /// On a cluster: one argument list (after `FT.SEARCH <part>`, before
    /// [`search_tail`]) per command; each part's keys from all of them
    /// together hold the fetch's rows. FT.SEARCH has no FILTER and sorts by
    /// one key only (the planner allows no more); its missing values sort
    /// last in both directions, as FT.AGGREGATE's do.
    pub fn search_commands(&self) -> Vec<Vec<String>> {
        self.split(|query, sort| {
            let mut a = vec![query, "NOCONTENT".into()];
            if let (Some((alias, asc)), Some(_)) = (sort.first(), self.limit) {
                a.extend(["SORTBY".into(), alias.clone(), if *asc { "ASC" } else { "DESC" }.into()]);
            }
            a
        })
    }

    /// The commands' queries: one, or with the first sort key NULLS FIRST
    /// the rows missing it (unsorted) and then the others.
    fn split(&self, make: impl Fn(String, &[(String, bool)]) -> Vec<String>) -> Vec<Vec<String>> {
        match (self.nulls_first, self.sort.first()) {
            (true, Some((first, _))) => vec![
                make(self.pushed.query_and(&format!("ismissing(@{first})")), &self.sort[1..]),
                make(self.pushed.query_and(&format!("-ismissing(@{first})")), &self.sort),
            ],
            _ => vec![make(self.pushed.query_text().to_string(), &self.sort)],
        }
    }

    fn command(&self, query: String, sort: &[(String, bool)]) -> Vec<String> {
        let mut a = self.pushed.command_start(query, self.use_filter);
        // SORTBY before LOAD: after `LOAD *` a field is the hash's string,
        // and SORTBY would order numbers as strings ("-0.75" < "-20.25").
        if let Some(n) = self.limit {
            if !sort.is_empty() {
                a.extend(["SORTBY".into(), (sort.len() * 2).to_string()]);
                for (alias, asc) in sort {
                    a.extend([format!("@{alias}"), if *asc { "ASC" } else { "DESC" }.into()]);
                }
                a.extend(["MAX".into(), n.to_string()]);
            } else {
                a.extend(["LIMIT".into(), "0".into(), n.to_string()]);
            }
        }
        a.extend(["LOAD".into(), "1".into(), "@__key".into()]);
        if !self.json {
            a.extend(["LOAD".into(), "*".into()]);
        }
        a
    }
}

/// Common trailing arguments: cursor, PARAMS, no timeout, dialect 2.
pub fn tail_args(pushed: &Pushed) -> Vec<String> {
    let mut a = vec!["WITHCURSOR".into(), "COUNT".into(), CURSOR_COUNT.to_string()];
    a.extend(search_tail(pushed));
    a
}

/// FT.SEARCH's trailing arguments (after LIMIT): PARAMS, no timeout, dialect 2.
pub fn search_tail(pushed: &Pushed) -> Vec<String> {
    let mut a = Vec::new();
    if !pushed.params.is_empty() {
        a.push("PARAMS".into());
        a.push((pushed.params.len() * 2).to_string());
        for (k, v) in &pushed.params {
            a.push(k.clone());
            a.push(v.clone());
        }
    }
    a.extend(["TIMEOUT".into(), "0".into(), "DIALECT".into(), "2".into()]);
    a
}

/// Plan the pushdown of `query` (bound) over `table`, registered as `name`.
/// `no_expiring_keys`: Err(why) when keys may have outlived their TTL in the
/// index. On one node every command then keeps only the matches whose key
/// is still there ([`filter::Pushed::live_only`]); on a cluster, where
/// RediSearch loads nothing, only row fetches (whose rows are re-read) are
/// pushed, without a LIMIT (an expired key would take a live row's place).
pub fn plan(
    query: &Query,
    name: &str,
    table: &TableInfo,
    index: &IndexInfo,
    no_expiring_keys: Result<(), String>,
) -> Result<Pushdown, String> {
    if query.with.is_some() {
        return Err("the query has a WITH clause".into());
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err("not a plain SELECT".into());
    };
    let single = match select.from.as_slice() {
        [from] if from.joins.is_empty() => matches!(&from.relation, TableFactor::Table { name: n, .. }
            if matches!(n.0.as_slice(), [p] if p.as_ident().is_some_and(|i| i.value == name))),
        _ => false,
    };
    if !single {
        return Err("not a single-table SELECT".into());
    }
    let mut schema = Schema::new(table, index);
    let no_expiring_keys = match no_expiring_keys {
        Err(_) if !schema.cluster => {
            schema.live_only = true;
            Ok(())
        }
        other => other,
    };
    let ttl_free = no_expiring_keys.is_ok();
    let agg_why = match no_expiring_keys.and_then(|()| aggregate::plan(query, &schema)) {
        Ok(p) => return Ok(Pushdown::Aggregate(p)),
        Err(why) => why,
    };
    let pushed = translate(select.selection.as_ref(), &schema);
    // On a cluster keys come from FT.SEARCH, which has no FILTER.
    let filter_exact = !schema.cluster && pushed.filter_exactness == Exactness::Exact;
    let exact = pushed.exactness == Exactness::Exact || filter_exact;
    let use_filter = pushed.exactness != Exactness::Exact && filter_exact;
    let mut fetch = FetchPlan {
        pushed,
        use_filter,
        sort: Vec::new(),
        limit: None,
        nulls_first: false,
        json: schema.json,
        cluster: schema.cluster,
    };
    if exact && ttl_free {
        if let Some((n, sort, nulls_first)) = top_k(query, &schema) {
            fetch.limit = Some(n);
            fetch.sort = sort;
            fetch.nulls_first = nulls_first;
        }
    }
    if fetch.pushed.query.is_none() && fetch.limit.is_none() && !fetch.use_filter {
        let filter_only = if schema.cluster && fetch.pushed.filter.is_some() {
            " query (on a Redis Cluster the index parts are asked with FT.SEARCH, which has no FILTER)"
        } else {
            ""
        };
        return Err(format!(
            "no part of the WHERE clause can be evaluated by the index{filter_only} (aggregate not pushed: {agg_why})"
        ));
    }
    Ok(Pushdown::Fetch(fetch))
}

/// Rows to fetch, SORTBY keys (alias, ascending), first key NULLS FIRST.
type TopK = (u64, Vec<(String, bool)>, bool);

/// `ORDER BY ... LIMIT n [OFFSET m]` of a row-wise query over sortable
/// columns: (rows to fetch, SORTBY keys, first key NULLS FIRST).
fn top_k(query: &Query, schema: &Schema) -> Option<TopK> {
    let (limit, offset) = match &query.limit_clause {
        Some(LimitClause::LimitOffset {
            limit: Some(limit),
            offset,
            limit_by,
        }) if limit_by.is_empty() => (
            number(limit)?,
            offset.as_ref().map(|o| number(&o.value)).unwrap_or(Some(0))?,
        ),
        _ => return None,
    };
    if query.fetch.is_some() {
        return None;
    }
    let mut plain = query.clone();
    plain.order_by = None;
    plain.limit_clause = None;
    if !is_row_wise(&plain) {
        return None;
    }
    let mut sort = Vec::new();
    let mut nulls_first = false;
    if let Some(order) = &query.order_by {
        let OrderByKind::Expressions(exprs) = &order.kind else {
            return None;
        };
        // FT.SEARCH (a cluster's fetch) sorts by one key.
        if schema.cluster && exprs.len() > 1 {
            return None;
        }
        for (i, o) in exprs.iter().enumerate() {
            let f = schema.field_of(&o.expr)?;
            // Doubles order the same in both; bigints beyond ±2⁵³ do not.
            if f.kind == Kind::BigInt || !f.exact_value() {
                return None;
            }
            let asc = o.options.asc != Some(false);
            let nf = o.options.nulls_first.unwrap_or(!asc);
            if nf {
                if i > 0 || !f.attr.index_missing {
                    return None;
                }
                nulls_first = true;
            }
            sort.push((f.alias.clone(), asc));
        }
    }
    Some((limit.checked_add(offset)?, sort, nulls_first))
}

fn number(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(s, _) => s.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}
