//! Differential test of RediSearch pushdown: thousands of seeded random
//! queries (WHERE trees, GROUP BY with each aggregate, HAVING, ORDER BY /
//! LIMIT / OFFSET, global aggregates) over tables of awkward values, each
//! run with pushdown on and off; the results must be the same (as multisets
//! unless the ORDER BY fixes the order; integers exactly, floating-point
//! numbers to 1e-11 relative; errors with the same SQLSTATE).
//!
//! On the 3-master cluster of `make test` the index is one part per master
//! and each query runs three ways: on the cluster with pushdown on and off,
//! and on the single node (pushdown off) over the same rows; all three
//! must agree.
//!
//! `REDSQL_DIFF_SEED` replays a run (the seed is printed), and
//! `REDSQL_DIFF_QUERIES` sets how many queries run. RediSearch indexes only
//! db 0, so the tables live there under unique names and are dropped (keys,
//! definition, index) at the end.

mod data;
mod gen;

use std::time::{Duration, Instant};

use tokio_postgres::{Client, SimpleQueryMessage};

use redsql::store::{Pipe, Store};

use crate::common::{cluster, connect, connect_scanning, redis_url, start_server, unique};
use data::Table;
use gen::{Gen, Rng};

type Rows = Vec<Vec<Option<String>>>;
/// Column names and rows, or the error's SQLSTATE and message.
type Answer = Result<(Vec<String>, Rows), (String, String)>;

/// The URL of db 0 of the test Redis.
fn db0(url: &str) -> String {
    let base = match url.rfind('/') {
        Some(i) if i > "redis://".len() && url[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &url[..i],
        _ => url,
    };
    format!("{base}/0")
}

/// Rows as text (simple protocol), or the error's SQLSTATE and message.
async fn run(client: &Client, sql: &str) -> Answer {
    let res = tokio::time::timeout(Duration::from_secs(60), client.simple_query(sql)).await;
    let msgs = match res {
        Err(_) => return Err(("timeout".into(), format!("{sql} took over 60 s"))),
        Ok(Err(e)) => {
            let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
            let msg = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or(e.to_string());
            return Err((code, msg));
        }
        Ok(Ok(m)) => m,
    };
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for m in msgs {
        match m {
            SimpleQueryMessage::RowDescription(cols) => names = cols.iter().map(|c| c.name().to_string()).collect(),
            SimpleQueryMessage::Row(r) => rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => {}
        }
    }
    Ok((names, rows))
}

fn parse_f64(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// Same value: equal text; else numbers — integers exactly, floating point
/// to 1e-11 relative (NaN = NaN, infinities equal).
fn cell_eq(a: &Option<String>, b: &Option<String>) -> bool {
    let (Some(x), Some(y)) = (a, b) else {
        return a.is_none() && b.is_none();
    };
    if x == y {
        return true;
    }
    // Integers exactly ("-0" is 0: RediSearch prints a MIN/MAX of -0 as 0).
    if let (Ok(i), Ok(j)) = (x.parse::<i64>(), y.parse::<i64>()) {
        return i == j;
    }
    let (Some(p), Some(q)) = (parse_f64(x), parse_f64(y)) else {
        return false;
    };
    if p.is_nan() || q.is_nan() {
        return p.is_nan() && q.is_nan();
    }
    if p.is_infinite() || q.is_infinite() {
        return p == q;
    }
    p == q || (p - q).abs() <= 1e-11 * p.abs().max(q.abs())
}

fn row_eq(a: &[Option<String>], b: &[Option<String>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| cell_eq(x, y))
}

fn row_key(r: &[Option<String>]) -> String {
    r.iter()
        .map(|c| c.as_deref().unwrap_or("\u{1}NULL"))
        .collect::<Vec<_>>()
        .join("\u{0}")
}

/// Equal as multisets: sorted pairwise, or (values within tolerance sort
/// apart) by matching each row to an unused equal one.
fn same_multiset(a: &Rows, b: &Rows) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut x = a.clone();
    let mut y = b.clone();
    x.sort_by_key(|r| row_key(r));
    y.sort_by_key(|r| row_key(r));
    if x.iter().zip(&y).all(|(p, q)| row_eq(p, q)) {
        return true;
    }
    let mut used = vec![false; y.len()];
    x.iter()
        .all(|r| match (0..y.len()).find(|&j| !used[j] && row_eq(r, &y[j])) {
            Some(j) => {
                used[j] = true;
                true
            }
            None => false,
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Aggregate,
    Fetch,
    Scan,
    Error,
}

/// How the query runs with pushdown on, from its EXPLAIN; and the plan.
async fn classify(client: &Client, sql: &str) -> (Class, String) {
    match run(client, &format!("EXPLAIN {sql}")).await {
        Err((code, msg)) => (Class::Error, format!("{code}: {msg}")),
        Ok((_, rows)) => {
            let text: Vec<String> = rows.iter().filter_map(|r| r.first().cloned().flatten()).collect();
            let first = text.first().cloned().unwrap_or_default();
            let class = if first.contains("aggregate pushed down to RediSearch") {
                Class::Aggregate
            } else if first.contains("RediSearch index") {
                Class::Fetch
            } else {
                Class::Scan
            };
            (class, text.join("\n"))
        }
    }
}

/// HSET the rows straight into Redis, create the index as redsql's CREATE
/// INDEX would (on a cluster, one part per master under a name whose hash
/// slot that master serves), and wait until it is built.
async fn setup(client: &Client, store: &Store, t: &Table, rng: &mut Rng) {
    client.batch_execute(&t.create_sql()).await.unwrap();
    let mut pipe = Pipe::new();
    for (i, row) in t.rows(rng).into_iter().enumerate() {
        if row.is_empty() {
            continue;
        }
        let fields: Vec<String> = row.into_iter().flat_map(|(f, v)| [f, v]).collect();
        pipe.cmd("HSET").arg(format!("{}:{i}", t.name)).arg(&fields).ignore();
    }
    store.pipeline(&pipe).await.expect("seed");
    let index = format!("idx_{}", t.name);
    for node in store.masters() {
        let name = if store.is_cluster() {
            redsql::catalog::shards::part_name(store, &index, &node.addr).expect("a slot of the master")
        } else {
            index.clone()
        };
        let _: redis::Value = node
            .query(
                redis::cmd("FT.CREATE")
                    .arg(&name)
                    .arg(&["ON", "HASH", "PREFIX", "1"])
                    .arg(format!("{}:", t.name))
                    .arg(t.schema_args()),
            )
            .await
            .expect("FT.CREATE");
        let started = Instant::now();
        loop {
            let info: redis::Value = node.query(redis::cmd("FT.INFO").arg(&name)).await.unwrap();
            let get = |k: &str| redsql::catalog::index::map_get(&info, k).and_then(redsql::catalog::index::as_str);
            if get("indexing").as_deref() == Some("0") && get("percent_indexed").as_deref() == Some("1") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "index {name} is not built");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Wait until redsql's catalog has the index (pushdown shows in EXPLAIN,
/// or for an unusable index, EXPLAIN names it as the reason).
async fn wait_for_catalog(client: &Client, t: &Table) {
    // Pushed as an aggregate, or (while some key of db 0 has a TTL) as a
    // fetch; on a cluster only as an aggregate.
    let sql = format!("SELECT count(*) FROM {} WHERE u > 0", t.name);
    let started = Instant::now();
    loop {
        let (class, plan) = classify(client, &sql).await;
        let ready = if t.usable {
            matches!(class, Class::Aggregate | Class::Fetch)
        } else {
            plan.contains("not pushed down") && plan.contains(&format!("idx_{}", t.name))
        };
        if ready {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "redsql does not see index idx_{}: {plan}",
            t.name
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Rows of `a` with no equal row in `b` (as a multiset).
fn only_in(a: &Rows, b: &Rows) -> Rows {
    let mut used = vec![false; b.len()];
    a.iter()
        .filter(|r| match (0..b.len()).find(|&j| !used[j] && row_eq(r, &b[j])) {
            Some(j) => {
                used[j] = true;
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

fn show(r: &Answer) -> String {
    match r {
        Err((code, msg)) => format!("ERROR {code}: {msg}"),
        Ok((names, rows)) => {
            let mut out = format!("{} rows [{}]", rows.len(), names.join(", "));
            for row in rows.iter().take(25) {
                let cells: Vec<String> = row
                    .iter()
                    .map(|c| c.as_ref().map(|s| format!("{s:?}")).unwrap_or("NULL".into()))
                    .collect();
                out.push_str(&format!("\n      ({})", cells.join(", ")));
            }
            if rows.len() > 25 {
                out.push_str("\n      ...");
            }
            out
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushdown_returns_what_the_scan_path_returns_on_random_queries() {
    differential(&db0(&redis_url()), None, 3000).await;
}

/// The same on the 3-master cluster, with the index in one part per master:
/// every query's answer with pushdown on and off must be the single node's
/// answer (pushdown off) over the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushdown_on_a_cluster_returns_what_one_node_returns_on_random_queries() {
    let (url, _nodes, _lock) = cluster().await;
    differential(&url, Some(&db0(&redis_url())), 3000).await;
}

/// Run `REDSQL_DIFF_QUERIES` (default `default_count`) random queries over
/// `url` with pushdown on and off; with a `reference` Redis, the same
/// tables are made there too and both answers must equal its (scanned) one.
async fn differential(url: &str, reference: Option<&str>, default_count: usize) {
    let seed: u64 = std::env::var("REDSQL_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let count: usize = std::env::var("REDSQL_DIFF_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_count);
    println!(
        "pushdown differential test on {url}: seed {seed} (REDSQL_DIFF_SEED), {count} queries (REDSQL_DIFF_QUERIES)"
    );
    // REDSQL_DIFF_ONLY=i runs only query i of the seed's sequence.
    let only: Option<usize> = std::env::var("REDSQL_DIFF_ONLY").ok().and_then(|s| s.parse().ok());
    let started = Instant::now();
    let server = start_server(url).await;
    let on = connect(&server).await;
    let off = connect_scanning(&server).await;
    let store = Store::connect(url).await.unwrap();
    let reference = match reference {
        Some(url) => {
            let server = start_server(url).await;
            let conn = connect(&server).await;
            conn.client.batch_execute("SET redsql.pushdown = off").await.unwrap();
            Some((server, conn, Store::connect(url).await.unwrap()))
        }
        None => None,
    };
    let mut rng = Rng::new(seed);
    let mut reference_rng = Rng::new(seed);
    let tables = [
        data::clean(unique("pd_clean")),
        data::dirty(unique("pd_dirty")),
        data::broken(unique("pd_broken")),
    ];
    for t in &tables {
        setup(&on.client, &store, t, &mut rng).await;
        if let Some((_, r, store)) = &reference {
            setup(&r.client, store, t, &mut reference_rng).await;
        }
    }
    for t in &tables {
        wait_for_catalog(&on.client, t).await;
    }
    println!("tables ready in {:.1} s", started.elapsed().as_secs_f64());

    let (mut agg, mut fetch, mut scan, mut errors, mut guarded) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failed = 0usize;
    for i in 0..count {
        // Mostly the clean table: that is where pushdown happens.
        let t = &tables[match rng.below(10) {
            0..=6 => 0,
            7 | 8 => 1,
            _ => 2,
        }];
        let q = Gen { rng: &mut rng, t }.query();
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let (class, plan) = classify(&on.client, &q.sql).await;
        let a = run(&on.client, &q.sql).await;
        let mut b = run(&off.client, &q.sql).await;
        if let Some((_, r, _)) = &reference {
            // The cluster's scan answer is compared first, then stands in
            // for the single node's in the comparison below.
            let one_node = run(&r.client, &q.sql).await;
            if !same(&q, &b, &one_node) && failures.len() < 8 {
                failed += 1;
                failures.push(format!(
                    "query {i} (pushdown off: the cluster's answer differs from one node's): {}\n  cluster: {}\n  one node: {}",
                    q.sql,
                    show(&b),
                    show(&one_node)
                ));
            }
            b = one_node;
        }
        match class {
            Class::Aggregate => {
                agg += 1;
                if let Ok((_, rows)) = run(&on.client, &format!("EXPLAIN ANALYZE {}", q.sql)).await {
                    if rows.iter().flatten().flatten().any(|l| l.contains("scanned instead")) {
                        guarded += 1;
                    }
                }
            }
            Class::Fetch => fetch += 1,
            Class::Scan => {
                scan += 1;
                // Why not, without the literals and names that vary.
                let why = plan
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("not pushed down: "))
                    .unwrap_or("no index")
                    .chars()
                    .take(60)
                    .collect::<String>();
                *reasons.entry(why).or_insert(0usize) += 1;
            }
            Class::Error => errors += 1,
        }
        let mut why = None;
        if !t.usable && matches!(class, Class::Aggregate | Class::Fetch) {
            why = Some("the index of a table with indexing failures was used".to_string());
        }
        if !same(&q, &a, &b) {
            why = Some("results differ".into());
        }
        if let Some(why) = why {
            failed += 1;
            if failures.len() < 8 {
                failures.push(format!(
                    "query {i} ({why}, {class:?}{}): {}\n  plan:\n    {}\n  pushdown on:  {}\n  pushdown off: {}",
                    if q.ordered {
                        ", ordered"
                    } else if q.count_only {
                        ", count only"
                    } else {
                        ""
                    },
                    q.sql,
                    plan.replace('\n', "\n    "),
                    show(&a),
                    show(&b)
                ));
                if let (Ok((n, ra)), Ok((_, rb))) = (&a, &b) {
                    let diff = |x: &Rows, y: &Rows| show(&Ok((n.clone(), only_in(x, y))));
                    let last = failures.last_mut().unwrap();
                    last.push_str(&format!("\n  only with pushdown on:  {}", diff(ra, rb)));
                    last.push_str(&format!("\n  only with pushdown off: {}", diff(rb, ra)));
                }
                // Flaky or not: the same query again, both ways.
                let again_on = run(&on.client, &q.sql).await;
                let again_off = run(&off.client, &q.sql).await;
                let analyze = run(&on.client, &format!("EXPLAIN ANALYZE {}", q.sql)).await;
                let last = failures.last_mut().unwrap();
                last.push_str(&format!(
                    "\n  again: on same as before: {}, off same as before: {}\n  {}",
                    again_on == a,
                    again_off == b,
                    show(&analyze)
                ));
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "pushdown differential test: {count} queries in {elapsed:.1} s: {agg} aggregates pushed down \
         ({guarded} of them fell back to a scan on a guard: bigints beyond 2^53 or fractional, infinities under min/max), {fetch} row fetches pushed down, \
         {scan} scanned, {errors} failed to plan (both sides must fail alike); {failed} mismatches (seed {seed})"
    );

    let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (why, n) in reasons.iter().take(6) {
        println!("  scanned {n:5}: {why}");
    }
    // REDSQL_DIFF_KEEP=1 keeps the tables and indexes, to replay queries.
    if std::env::var("REDSQL_DIFF_KEEP").is_err() {
        for t in &tables {
            let drop = format!("DROP TABLE {}", t.name);
            on.client.batch_execute(&drop).await.unwrap();
            if let Some((_, r, _)) = &reference {
                r.client.batch_execute(&drop).await.unwrap();
            }
        }
    }
    server.shutdown().await;
    if let Some((server, _, _)) = reference {
        server.shutdown().await;
    }
    assert!(
        failures.is_empty(),
        "{failed} of {count} queries differ with pushdown on and off (seed {seed}, REDSQL_DIFF_SEED={seed} replays):\n\n{}",
        failures.join("\n\n")
    );
    // About half the queries are pushed, on one node and on a cluster.
    let least = count * 3 / 10;
    assert!(
        agg + fetch >= least,
        "only {} of {count} queries were pushed down: the test no longer exercises pushdown",
        agg + fetch
    );
}

/// The same answer: the same error (SQLSTATE), or the same columns and
/// rows (as multisets unless the ORDER BY fixes the order).
fn same(q: &gen::Query, a: &Answer, b: &Answer) -> bool {
    match (a, b) {
        (Err((x, _)), Err((y, _))) => x == y,
        (Ok((na, ra)), Ok((nb, rb))) => {
            na == nb
                && if q.count_only {
                    ra.len() == rb.len()
                } else if q.ordered {
                    ra.len() == rb.len() && ra.iter().zip(rb).all(|(x, y)| row_eq(x, y))
                } else {
                    same_multiset(ra, rb)
                }
        }
        _ => false,
    }
}
