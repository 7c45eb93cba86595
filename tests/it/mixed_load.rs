//! 64 clients at once for a minute (issue 7, section 5): point reads,
//! scans and aggregates (pushed down and not), writes and COPY in both
//! directions against one real `redsql serve` process and one Redis. Every
//! answer is checked (a read-only table whose answers are known; a write
//! table whose final content each client's own writes determine), not
//! merely error-free; redsql's memory is sampled every second and must
//! level off; throughput and latencies are printed.
//!
//! It loads the machine, so it is `#[ignore]`d and run alone after the rest
//! by scripts/test.sh (`make test`); by hand:
//! `scripts/test.sh --test it -- --ignored --nocapture mixed_load`.
//! `REDSQL_LOAD_SECONDS` (default 60) and `REDSQL_LOAD_CLIENTS` (default
//! 64) change its size.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::sync::Mutex;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::*;
use crate::hostile::{client, Proc, Rng};

const BASE_ROWS: i64 = 10_000;
const REGIONS: [&str; 8] = ["north", "south", "east", "west", "centre", "coast", "hills", "plain"];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Row `i` of the read-only table: (region, qty, amount).
fn base_row(i: i64) -> (&'static str, i64, f64) {
    (REGIONS[(i % 8) as usize], i % 13, (i % 1000) as f64 / 4.0)
}

/// The kinds of statement the clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    PointRead,
    PushedDown,
    ScanAggregate,
    Insert,
    Update,
    Delete,
    CopyIn,
    CopyOut,
}

impl Kind {
    fn pick(rng: &mut Rng) -> Kind {
        match rng.below(100) {
            0..40 => Kind::PointRead,
            40..52 => Kind::PushedDown,
            52..58 => Kind::ScanAggregate,
            58..74 => Kind::Insert,
            74..82 => Kind::Update,
            82..88 => Kind::Delete,
            88..94 => Kind::CopyIn,
            _ => Kind::CopyOut,
        }
    }
}

/// What the clients measured and found wrong.
#[derive(Default)]
struct Tally {
    latencies: HashMap<Kind, Vec<Duration>>,
    errors: Vec<String>,
    /// Rows each client's writes leave in the write table: id -> qty.
    expected: HashMap<i64, i64>,
}

fn one_value(msgs: &[SimpleQueryMessage]) -> Option<String> {
    msgs.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string).unwrap_or_default()),
        _ => None,
    })
}

/// One client: statements of random kinds until `until`, each answer checked.
async fn run_client(n: usize, server: std::net::SocketAddr, until: Instant, tally: Arc<Mutex<Tally>>) {
    let c = client(server).await;
    let mut rng = Rng::new(0x5eed + n as u64);
    let lookup = c
        .prepare("SELECT region, qty, amount FROM base WHERE id = $1")
        .await
        .unwrap();
    let insert = c
        .prepare("INSERT INTO w (id, qty, note) VALUES ($1, $2, $3)")
        .await
        .unwrap();
    // This client's rows of the write table (ids n*10^7 + k), as it expects them.
    let mut mine: HashMap<i64, i64> = HashMap::new();
    let mut next = n as i64 * 10_000_000;
    let mut latencies: HashMap<Kind, Vec<Duration>> = HashMap::new();
    let mut errors = Vec::new();
    while Instant::now() < until && errors.len() < 5 {
        let kind = Kind::pick(&mut rng);
        let started = Instant::now();
        let outcome = step(kind, &c, &mut rng, &lookup, &insert, &mut mine, &mut next).await;
        latencies.entry(kind).or_default().push(started.elapsed());
        if let Err(e) = outcome {
            errors.push(format!("client {n}, {kind:?}: {e}"));
        }
    }
    let mut t = tally.lock().await;
    for (k, v) in latencies {
        t.latencies.entry(k).or_default().extend(v);
    }
    t.errors.extend(errors);
    t.expected.extend(mine);
}

async fn step(
    kind: Kind,
    c: &Client,
    rng: &mut Rng,
    lookup: &tokio_postgres::Statement,
    insert: &tokio_postgres::Statement,
    mine: &mut HashMap<i64, i64>,
    next: &mut i64,
) -> Result<(), String> {
    let e = |e: tokio_postgres::Error| format!("{e:?}");
    match kind {
        Kind::PointRead => {
            let id = 1 + rng.below(BASE_ROWS as usize) as i64;
            let rows = c.query(lookup, &[&id]).await.map_err(e)?;
            let (region, qty, amount) = base_row(id);
            let got: Vec<(String, i64, f64)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
            if got != vec![(region.to_string(), qty, amount)] {
                return Err(format!("id {id}: {got:?}"));
            }
        }
        Kind::PushedDown | Kind::ScanAggregate => {
            let region = REGIONS[rng.below(8)];
            let cutoff = rng.below(250) as f64;
            let expected = (1..=BASE_ROWS)
                .map(base_row)
                .filter(|(r, _, a)| *r == region && *a > cutoff)
                .count();
            // The same question, pushed down to RediSearch or scanned.
            let setting = if kind == Kind::PushedDown { "on" } else { "off" };
            let sql = format!(
                "SET redsql.pushdown = {setting}; \
                 SELECT count(*) FROM base WHERE region = '{region}' AND amount > {cutoff}"
            );
            let got = one_value(&c.simple_query(&sql).await.map_err(e)?);
            if got != Some(expected.to_string()) {
                return Err(format!("{sql}: {got:?}, expected {expected}"));
            }
        }
        Kind::Insert => {
            *next += 1;
            let qty = rng.below(100) as i64;
            let n = c.execute(insert, &[&*next, &qty, &"inserted"]).await.map_err(e)?;
            if n != 1 {
                return Err(format!("INSERT said {n} rows"));
            }
            mine.insert(*next, qty);
        }
        Kind::Update | Kind::Delete => {
            let Some(&id) = mine.keys().nth(rng.below(mine.len().max(1))) else {
                return Ok(());
            };
            let sql = if kind == Kind::Update {
                format!("UPDATE w SET qty = qty + 1 WHERE id = {id}")
            } else {
                format!("DELETE FROM w WHERE id = {id}")
            };
            let n = c.execute(&sql, &[]).await.map_err(e)?;
            if n != 1 {
                return Err(format!("{sql}: {n} rows"));
            }
            if kind == Kind::Update {
                *mine.get_mut(&id).unwrap() += 1;
            } else {
                mine.remove(&id);
            }
        }
        Kind::CopyIn => {
            let rows = 200 + rng.below(300);
            let mut data = String::new();
            let mut batch = Vec::new();
            for _ in 0..rows {
                *next += 1;
                let qty = rng.below(100) as i64;
                data.push_str(&format!("{next},{qty},copied\n"));
                batch.push((*next, qty));
            }
            let sink = c
                .copy_in("COPY w (id, qty, note) FROM STDIN (FORMAT csv)")
                .await
                .map_err(e)?;
            futures::pin_mut!(sink);
            sink.send(bytes::Bytes::from(data)).await.map_err(e)?;
            let n = sink.finish().await.map_err(e)?;
            if n != rows as u64 {
                return Err(format!("COPY said {n} rows of {rows}"));
            }
            mine.extend(batch);
        }
        Kind::CopyOut => {
            let stream = c.copy_out("COPY (SELECT * FROM base) TO STDOUT").await.map_err(e)?;
            futures::pin_mut!(stream);
            let mut lines = 0;
            while let Some(chunk) = stream.next().await {
                lines += chunk.map_err(e)?.iter().filter(|&&b| b == b'\n').count();
            }
            if lines != BASE_ROWS as usize {
                return Err(format!("COPY TO sent {lines} rows"));
            }
        }
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a minute of load: run alone by scripts/test.sh"]
async fn sixty_four_clients_for_a_minute() {
    let seconds = env_or("REDSQL_LOAD_SECONDS", 60);
    let clients = env_or("REDSQL_LOAD_CLIENTS", 64) as usize;
    let redis = OwnRedis::with_modules().await;
    let mut server = Proc::start_with(&redis.url(), &["--max-connections", "200"]);
    let setup = client(server.addr).await;
    setup
        .batch_execute(
            "CREATE TABLE base (id bigint PRIMARY KEY, region text, qty bigint, amount double precision);
             CREATE TABLE w (id bigint PRIMARY KEY, qty bigint, note text)",
        )
        .await
        .unwrap();
    let data: String = (1..=BASE_ROWS)
        .map(|i| {
            let (region, qty, amount) = base_row(i);
            format!("{i},{region},{qty},{amount}\n")
        })
        .collect();
    let sink = setup.copy_in("COPY base FROM STDIN (FORMAT csv)").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), BASE_ROWS as u64);
    setup
        .batch_execute("CREATE INDEX base_idx ON base (region, amount)")
        .await
        .unwrap();

    println!("mixed load: {clients} clients for {seconds} s");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..clients)
        .map(|n| tokio::spawn(run_client(n, server.addr, until, tally.clone())))
        .collect();
    let mut rss = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss.push(server.rss_kib().expect("redsql is running"));
        server.check().unwrap();
    }
    for w in workers {
        tokio::time::timeout(Duration::from_secs(120), w)
            .await
            .expect("every client ends within two minutes of the deadline")
            .expect("a client panicked");
    }
    let elapsed = started.elapsed().as_secs_f64();
    server.check().unwrap();

    let tally = tally.lock().await;
    let mut total = 0;
    println!(
        "{:<14} {:>8} {:>8} {:>9} {:>9}",
        "statement", "count", "per s", "p50 ms", "p99 ms"
    );
    let mut kinds: Vec<_> = tally.latencies.keys().copied().collect();
    kinds.sort();
    for k in kinds {
        let mut l = tally.latencies[&k].clone();
        l.sort();
        total += l.len();
        println!(
            "{:<14} {:>8} {:>8.0} {:>9.2} {:>9.2}",
            format!("{k:?}"),
            l.len(),
            l.len() as f64 / elapsed,
            percentile(&l, 0.5).as_secs_f64() * 1e3,
            percentile(&l, 0.99).as_secs_f64() * 1e3
        );
    }
    println!("{:<14} {:>8} {:>8.0}", "all", total, total as f64 / elapsed);
    assert!(
        tally.errors.is_empty(),
        "unexpected errors:\n{}",
        tally.errors.join("\n")
    );

    // The write table holds exactly what the clients' writes left.
    let rows = setup.query("SELECT id, qty FROM w", &[]).await.unwrap();
    let held: HashMap<i64, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(held.len(), tally.expected.len(), "rows in w");
    assert!(held == tally.expected, "w's rows differ from what the clients wrote");
    println!("write table: {} rows, as written", held.len());

    // Memory levels off: the last third of the run against the middle one.
    let third = rss.len() / 3;
    let (middle, last) = (median(&rss[third..2 * third]), median(&rss[2 * third..]));
    println!(
        "redsql RSS (MiB): first {} / middle third median {} / last third median {} / peak {}",
        rss[0] / 1024,
        middle / 1024,
        last / 1024,
        rss.iter().max().unwrap() / 1024
    );
    assert!(
        last <= middle + middle / 4 + 32 * 1024,
        "memory keeps growing: middle third {middle} KiB, last third {last} KiB"
    );
}
