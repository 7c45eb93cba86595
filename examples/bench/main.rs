//! `make bench`: redsql next to the limits of the Redis it runs on, measured
//! side by side in one run. For each size (100k and 1M rows of the sales
//! shape by default) it starts the project's own Redis, a redsql server, and
//! measures, as medians of repeated runs:
//!
//! * load: `redsql load` of a CSV and `\copy ... FROM` (COPY FROM STDIN)
//!   through psql, vs redis-benchmark's pipelined HSET of the same hash;
//! * scan: `COPY (SELECT * FROM sale) TO STDOUT` through psql and a plain
//!   `SELECT * FROM sale` read by a client (tokio-postgres), vs
//!   redis-benchmark's pipelined HGETALL;
//! * an aggregate and a 1% filter: the scan path (no index), then with an
//!   index (pushdown) vs the same FT commands sent directly;
//! * point lookups: pgbench, a prepared `SELECT * FROM sale WHERE id = $1`
//!   from 16 clients, vs redis-benchmark's non-pipelined HGETALL at 16;
//! * redsql's peak RSS above its idle RSS in each case, next to the data's
//!   Arrow size.
//!
//! ```text
//! cargo run --release --example bench -- [--rows 100000,1000000] [--runs 3]
//!     [--redsql PATH] [--lookup-seconds 10]
//! ```

mod data;
mod procs;
mod raw_ft;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use procs::{cpu_ms, median, peak_kb, reset_peak, rss_kb, run_watched, Redis, Redsql, Res};

struct Args {
    sizes: Vec<usize>,
    runs: usize,
    bin: PathBuf,
    root: PathBuf,
    lookup_seconds: u32,
}

fn args() -> Res<Args> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let mut a = Args {
        sizes: vec![100_000, 1_000_000],
        runs: 3,
        bin: target.join("release/redsql"),
        root,
        lookup_seconds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rows" => {
                a.sizes = value
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--rows {s}: {e}")))
                    .collect::<Res<_>>()?
            }
            "--runs" => a.runs = value.parse().map_err(|e| format!("--runs: {e}"))?,
            "--redsql" => a.bin = PathBuf::from(value),
            "--lookup-seconds" => a.lookup_seconds = value.parse().map_err(|e| format!("--lookup-seconds: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// One figure of the report: redsql's rate next to its limit.
struct Line {
    what: String,
    redsql: f64,
    limit: f64,
    unit: &'static str,
    /// redsql's peak RSS above idle, MB (when measured).
    peak_mb: Option<f64>,
    /// CPU ms of redsql and of Redis per run.
    cpu: Option<(f64, f64)>,
}

/// What one measured step cost: redsql's peak RSS above its idle RSS (MB),
/// and the CPU ms of redsql and of Redis.
struct Sample {
    peak_mb: f64,
    cpu: (f64, f64),
}

/// Watches redsql (its peak RSS and CPU) and Redis (its CPU) over one step.
struct Watch {
    pids: (u32, u32),
    idle_kb: u64,
    cpu: (f64, f64),
}

impl Watch {
    fn start(redsql: u32, redis: u32) -> Watch {
        let idle_kb = rss_kb(redsql);
        reset_peak(redsql);
        Watch {
            pids: (redsql, redis),
            idle_kb,
            cpu: (cpu_ms(redsql), cpu_ms(redis)),
        }
    }
    fn stop(self, out: &mut Vec<Sample>) {
        out.push(Sample {
            peak_mb: peak_kb(self.pids.0).saturating_sub(self.idle_kb) as f64 / 1e3,
            cpu: (cpu_ms(self.pids.0) - self.cpu.0, cpu_ms(self.pids.1) - self.cpu.1),
        });
    }
}

/// A report line from the runs' figures: medians of redsql's and the
/// baseline's, of the peak RSS (when `with_peak`) and of the CPU times.
fn line(
    what: impl Into<String>,
    redsql: &[f64],
    limit: &[f64],
    unit: &'static str,
    samples: &[Sample],
    with_peak: bool,
) -> Line {
    let col = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    Line {
        what: what.into(),
        redsql: median(redsql),
        limit: median(limit),
        unit,
        peak_mb: (with_peak && !samples.is_empty()).then(|| col(|s| s.peak_mb)),
        cpu: (!samples.is_empty()).then(|| (col(|s| s.cpu.0), col(|s| s.cpu.1))),
    }
}

struct Report {
    rows: usize,
    arrow_mb: f64,
    lines: Vec<Line>,
    notes: Vec<String>,
}

const QA: &str = "SELECT region, count(*), sum(amount), min(amount), max(amount) FROM sale GROUP BY region";
const QB: &str = "SELECT * FROM sale WHERE amount BETWEEN 500 AND 509.99";

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    if !a.bin.exists() {
        eprintln!("bench: no redsql binary at {} (make bench builds it)", a.bin.display());
        std::process::exit(2);
    }
    let mut reports = Vec::new();
    for &rows in &a.sizes {
        match bench_size(&a, rows).await {
            Ok(r) => {
                print_report(&r, a.runs);
                reports.push(r);
            }
            Err(e) => {
                eprintln!("bench: {rows} rows: {e}");
                std::process::exit(1);
            }
        }
    }
    print_scaling(&reports);
}

async fn pg(server: &Redsql) -> Res<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connect to redsql: {e}"))?;
    tokio::spawn(conn);
    Ok(client)
}

/// Run `sql` over the simple protocol, reading every row as it streams in; (rows, seconds).
async fn read_all(client: &tokio_postgres::Client, sql: &str) -> Res<(usize, f64)> {
    let t = Instant::now();
    let stream = client.simple_query_raw(sql).await.map_err(|e| format!("{sql}: {e}"))?;
    futures::pin_mut!(stream);
    let mut n = 0;
    while let Some(m) = stream.next().await {
        if let tokio_postgres::SimpleQueryMessage::Row(_) = m.map_err(|e| format!("{sql}: {e}"))? {
            n += 1;
        }
    }
    Ok((n, t.elapsed().as_secs_f64()))
}

async fn bench_size(a: &Args, rows: usize) -> Res<Report> {
    let work = std::env::temp_dir().join(format!("redsql-bench-{}-{rows}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let csv = work.join("sale.csv");
    eprintln!("bench: {rows} rows: generating {}", csv.display());
    data::write_csv(&csv, rows).map_err(|e| e.to_string())?;
    let arrow_mb = data::arrow_bytes(&csv).map_err(|e| e.to_string())? as f64 / 1e6;
    let redis = Redis::start(&a.root)?;
    let server = Redsql::start(&a.bin, &redis.url(), &work.join("redsql.log"))?;
    let pid = server.pid();
    let client = pg(&server).await?;
    let mut r = Report {
        rows,
        arrow_mb,
        lines: Vec::new(),
        notes: Vec::new(),
    };
    let n = rows.to_string();

    // --- Load. The last run of each leaves the data redsql load wrote.
    eprintln!("bench: {rows} rows: load");
    let (mut load, mut copy_in, mut hset, mut load_cost, mut copy_cost) = (vec![], vec![], vec![], vec![], vec![]);
    let rpid = redis.pid;
    let csv_arg = csv.to_string_lossy().into_owned();
    for _ in 0..a.runs {
        redis.flush()?;
        let mut bench_args: Vec<String> = ["--dbnum", "1", "-P", "64", "-c", "4", "-n", &n, "-r", &n]
            .map(String::from)
            .to_vec();
        bench_args.extend(data::hset_args());
        hset.push(redis.benchmark(&bench_args)?);

        redis.flush()?;
        server.psql("DROP TABLE IF EXISTS sale")?;
        server.psql(data::CREATE_TABLE)?;
        let watch = Watch::start(pid, rpid);
        let copy = format!("\\copy sale FROM '{csv_arg}' WITH (FORMAT csv, HEADER true)");
        copy_in.push(rows as f64 / server.psql_timed(&["-c", &copy])?);
        watch.stop(&mut copy_cost);
        check_count(&client, rows).await?;

        server.psql("DROP TABLE sale")?;
        redis.flush()?;
        let redis_cpu = cpu_ms(rpid);
        let (wall, peak, cli_cpu, out) = run_watched(
            Command::new(&a.bin)
                .args(["load", &csv_arg, "--table", "sale", "--key", "id", "--no-progress"])
                .args(["--redis", &redis.url()]),
        )?;
        if !out.contains(&format!("loaded {rows} rows")) {
            return Err(format!("redsql load: {out}"));
        }
        load_cost.push(Sample {
            peak_mb: peak as f64 / 1e3,
            cpu: (cli_cpu, cpu_ms(rpid) - redis_cpu),
        });
        load.push(rows as f64 / wall);
    }
    server.psql("SELECT 1 FROM sale LIMIT 1")?;
    check_count(&client, rows).await?;
    let what = "load: redsql load (CSV file → hashes)";
    r.lines.push(line(what, &load, &hset, "rows/s", &load_cost, true));
    let what = "load: COPY FROM STDIN (psql \\copy)";
    r.lines.push(line(what, &copy_in, &hset, "rows/s", &copy_cost, true));
    r.notes
        .push("load limit: redis-benchmark -P 64 -c 4 HSET of the same 6-field hash".into());
    r.notes
        .push("redsql load's figure is the whole process's peak RSS (it is its own process), not above idle".into());

    // --- Scan: every row and column through the wire. The baselines read
    // the same rows from database 1, under redis-benchmark's key names.
    eprintln!("bench: {rows} rows: scan");
    data::copy_for_redis_benchmark(&redis.url(), &csv).map_err(|e| format!("copy for redis-benchmark: {e}"))?;
    let (mut copy_out, mut select, mut hgetall, mut out_cost, mut sel_cost) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..a.runs {
        let watch = Watch::start(pid, rpid);
        copy_out.push(rows as f64 / server.psql_timed(&["-c", "COPY (SELECT * FROM sale) TO STDOUT"])?);
        watch.stop(&mut out_cost);

        let watch = Watch::start(pid, rpid);
        let (got, secs) = read_all(&client, "SELECT * FROM sale").await?;
        if got != rows {
            return Err(format!("SELECT * FROM sale returned {got} rows, not {rows}"));
        }
        watch.stop(&mut sel_cost);
        select.push(rows as f64 / secs);

        let args = [
            "--dbnum",
            "1",
            "-P",
            "64",
            "-c",
            "4",
            "-n",
            &n,
            "-r",
            &n,
            "HGETALL",
            "sale:__rand_int__",
        ];
        hgetall.push(redis.benchmark(&args.map(String::from))?);
    }
    let what = "scan: COPY (SELECT * FROM sale) TO STDOUT (psql)";
    r.lines.push(line(what, &copy_out, &hgetall, "rows/s", &out_cost, true));
    let what = "scan: SELECT * FROM sale (tokio-postgres)";
    r.lines.push(line(what, &select, &hgetall, "rows/s", &sel_cost, true));
    r.notes.push(
        "scan limit: redis-benchmark -P 64 -c 4 HGETALL of the same rows (a copy in database 1 under redis-benchmark's \
         key names)"
            .into(),
    );

    // --- Aggregate and filter: scan path, then pushdown vs the raw FT commands.
    eprintln!("bench: {rows} rows: queries");
    // Per query: the ms of each scan-path run, their costs, the rows returned.
    let mut scan_path = Vec::new();
    for q in [QA, QB] {
        let (mut ms, mut cost, mut n) = (Vec::new(), Vec::new(), 0);
        for _ in 0..a.runs {
            let watch = Watch::start(pid, rpid);
            let (got, s) = read_all(&client, q).await?;
            watch.stop(&mut cost);
            ms.push(s * 1e3);
            n = got;
        }
        scan_path.push((ms, cost, n));
    }
    server.psql("CREATE INDEX ON sale (region, status, amount, qty)")?;
    wait_indexed(&redis, &server).await?;
    let mut raw = redsql::store::resp3::Pool::new(
        redis::Client::open(redis.url())
            .map_err(|e| e.to_string())?
            .get_connection_info(),
    )
    .map_err(|e| e.to_string())?
    .get()
    .await
    .map_err(|e| e.to_string())?;
    let queries = [(QA, "aggregate: GROUP BY region"), (QB, "filter: 1% of rows")];
    for ((q, name), (scan_ms, scan_cost, scan_rows)) in queries.into_iter().zip(scan_path) {
        let explain = server.psql(&format!("EXPLAIN {q}"))?;
        let cmds = raw_ft::commands(&explain);
        if cmds.is_empty() {
            return Err(format!("not pushed down: {q}\n{explain}"));
        }
        let (mut on, mut direct, mut on_cost) = (Vec::new(), Vec::new(), Vec::new());
        // Taking turns, so a machine that gets busier slows both alike.
        read_all(&client, q).await?;
        raw_ft::run(&mut raw, &cmds).await?;
        for _ in 0..3 {
            for _ in 0..a.runs {
                let watch = Watch::start(pid, rpid);
                on.push(read_all(&client, q).await?.1 * 1e3);
                watch.stop(&mut on_cost);
            }
            for _ in 0..a.runs {
                let t = Instant::now();
                raw_ft::run(&mut raw, &cmds).await?;
                direct.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let same = same_rows(&server, q)?;
        let what = format!("{name}, scan path (no index)");
        r.lines.push(line(what, &scan_ms, &on, "ms", &scan_cost, false));
        let what = format!("{name}, pushdown vs raw FT");
        r.lines.push(line(what, &on, &direct, "ms", &on_cost, false));
        r.notes.push(format!(
            "{name}: {} rows, pushdown and scan path agree: {same}; sends {}",
            scan_rows,
            cmds.iter().map(|c| c.join(" ")).collect::<Vec<_>>().join(" ; ")
        ));
    }

    // --- Point lookups.
    eprintln!("bench: {rows} rows: point lookups");
    let script = work.join("lookup.sql");
    std::fs::write(
        &script,
        format!("\\set id random(0, {})\nSELECT * FROM sale WHERE id = :id;\n", rows - 1),
    )
    .map_err(|e| e.to_string())?;
    let (mut tps, mut redis_tps, mut lk_cost) = (vec![], vec![], vec![]);
    for _ in 0..a.runs {
        let watch = Watch::start(pid, rpid);
        tps.push(server.pgbench(&script, 16, a.lookup_seconds)?);
        watch.stop(&mut lk_cost);
        let total = (200_000).to_string();
        let args = [
            "--dbnum",
            "1",
            "-c",
            "16",
            "-n",
            &total,
            "-r",
            &n,
            "HGETALL",
            "sale:__rand_int__",
        ];
        redis_tps.push(redis.benchmark(&args.map(String::from))?);
    }
    let what = "point lookups: pgbench -M prepared -c 16";
    r.lines.push(line(what, &tps, &redis_tps, "queries/s", &lk_cost, true));
    r.notes
        .push("lookup limit: redis-benchmark -c 16 HGETALL, not pipelined (one command per round trip)".into());
    drop(client);
    drop(server);
    drop(redis);
    let _ = std::fs::remove_dir_all(&work);
    Ok(r)
}

async fn check_count(client: &tokio_postgres::Client, rows: usize) -> Res<()> {
    let got: i64 = client
        .query_one("SELECT count(*) FROM sale", &[])
        .await
        .map_err(|e| format!("count: {e}"))?
        .get(0);
    if got as usize != rows {
        return Err(format!("sale has {got} rows, expected {rows}"));
    }
    Ok(())
}

/// Wait for the index build and for redsql to push both queries down.
async fn wait_indexed(redis: &Redis, server: &Redsql) -> Res<()> {
    let started = Instant::now();
    loop {
        let info = redis.cli(&["FT.INFO", "sale_idx"])?;
        let lines: Vec<&str> = info.lines().collect();
        let field = |f: &str| {
            lines
                .iter()
                .position(|l| *l == f)
                .and_then(|i| lines.get(i + 1))
                .copied()
        };
        let built = field("indexing") == Some("0") && field("percent_indexed") == Some("1");
        if built
            && [QA, QB].iter().all(|q| {
                server
                    .psql(&format!("EXPLAIN {q}"))
                    .is_ok_and(|p| p.contains("FT.AGGREGATE"))
            })
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err("the index was not built (or not used) within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether the query returns the same rows with pushdown on and off.
fn same_rows(server: &Redsql, q: &str) -> Res<bool> {
    let sorted = |s: String| {
        let mut l: Vec<String> = s.lines().map(String::from).collect();
        l.sort();
        l
    };
    let on = sorted(server.psql(q)?);
    let off = sorted(server.psql(&format!("SET redsql.pushdown = off; {q}"))?);
    Ok(on == off)
}

fn print_report(r: &Report, runs: usize) {
    println!();
    println!(
        "redsql benchmark: {} rows, Arrow size {:.1} MB; medians of {runs} runs (pushdown: {} runs, taking turns)",
        r.rows,
        r.arrow_mb,
        runs * 3
    );
    println!(
        "{:<52} {:>12} {:>12} {:>9} {:>9} {:>13} {:>17}",
        "", "redsql", "baseline", "ratio", "unit", "peak RSS MB", "CPU s redsql/Redis"
    );
    for l in &r.lines {
        let ratio = if l.unit == "ms" {
            l.limit / l.redsql
        } else {
            l.redsql / l.limit
        };
        let peak = l
            .peak_mb
            .map_or(String::from("-"), |p| format!("{p:.0} ({:.1}x)", p / r.arrow_mb));
        let cpu = l
            .cpu
            .map_or(String::from("-"), |(a, b)| format!("{:.2} / {:.2}", a / 1e3, b / 1e3));
        println!(
            "{:<52} {:>12.1} {:>12.1} {:>8.2}x {:>9} {:>13} {:>17}",
            l.what, l.redsql, l.limit, ratio, l.unit, peak, cpu
        );
    }
    println!("ratio: redsql / baseline for rates; baseline / redsql for times (above 1 = redsql faster).");
    println!("For the scan-path lines the baseline column is the pushdown time.");
    println!("peak RSS: redsql's peak above its idle RSS, and that as a multiple of the Arrow size.");
    println!("CPU: seconds of CPU time per run used by redsql and by Redis (steadier than wall time).");
    for n in &r.notes {
        println!("  {n}");
    }
}

/// Cost per row at the largest size against the smallest.
fn print_scaling(reports: &[Report]) {
    let (Some(small), Some(big)) = (reports.first(), reports.last()) else {
        return;
    };
    if small.rows == big.rows {
        return;
    }
    println!();
    println!(
        "cost per row at {} rows against {} rows (1.00 = linear; the baseline's own ratio beside it):",
        big.rows, small.rows
    );
    println!(
        "  {:<52} {:>11} {:>11} {:>6} {:>9}",
        "",
        format!("{} rows", small.rows),
        format!("{} rows", big.rows),
        "ratio",
        "baseline"
    );
    for (s, b) in small.lines.iter().zip(&big.lines) {
        if s.unit != "rows/s" {
            continue;
        }
        let (ns_small, ns_big) = (1e9 / s.redsql, 1e9 / b.redsql);
        println!(
            "  {:<52} {:>8.0} ns {:>8.0} ns {:>6.2} {:>9.2}",
            s.what,
            ns_small,
            ns_big,
            ns_big / ns_small,
            s.limit / b.limit
        );
    }
}
