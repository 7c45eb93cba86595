//! redsql on the 3-master Redis Cluster of `make test`: every key is stored
//! on the master of its hash slot, scans read every master, and writes,
//! COPY in and out, TTLs, metadata and DROP work across them with the
//! answers of a single node. (The .slt files also run on the cluster:
//! sqllogictest.rs; the PostgreSQL differential test too: scripts/test.sh.)

use crate::common::*;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};

fn s(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

/// Every key of `prefix` on each master, asked of each master alone (a
/// master answers only for keys it holds).
async fn keys_per_master(nodes: &[String], prefix: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for node in nodes {
        let mut con = redis(node).await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut con)
            .await
            .unwrap();
        out.push(keys.len());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_span_every_master_with_single_node_answers() {
    let (url, nodes, _lock) = cluster().await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let t = unique("cl");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, region text, qty bigint, amount double precision) \
             WITH (prefix = '{t}:')"
        ))
        .await
        .unwrap();

    // COPY FROM STDIN: 3,000 new keys, spread over the masters by slot.
    let regions = ["north", "south", "east", "west"];
    let mut csv = String::new();
    for id in 1..=3000 {
        csv += &format!("{id},{},{},{}.5\n", regions[id % 4], id % 10, id);
    }
    let sink = c
        .client
        .copy_in(&format!("COPY {t} FROM STDIN WITH (FORMAT csv)"))
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from(csv)).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 3000);
    let per_master = keys_per_master(&nodes, &format!("{t}:")).await;
    assert_eq!(per_master.iter().sum::<usize>(), 3000, "{per_master:?}");
    assert!(
        per_master.iter().all(|&n| n > 500),
        "keys spread over every master: {per_master:?}"
    );

    // Reads: the full scan merges every master's keys, each once.
    let expected_qty: usize = (1..=3000).map(|id| id % 10).sum();
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT count(*), sum(qty), count(DISTINCT id) FROM {t}")
        )
        .await,
        vec![vec![s(3000), s(expected_qty), s(3000)]]
    );
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT region, count(*) FROM {t} GROUP BY region ORDER BY region")
        )
        .await,
        vec![
            vec![s("east"), s(750)],
            vec![s("north"), s(750)],
            vec![s("south"), s(750)],
            vec![s("west"), s(750)]
        ]
    );
    // Key lookups go to each key's master.
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT id, region FROM {t} WHERE id IN (1, 2, 2999) ORDER BY id")
        )
        .await,
        vec![vec![s(1), s("south")], vec![s(2), s("east")], vec![s(2999), s("west")]]
    );

    // Writes: the insert script runs per slot; a duplicate is refused
    // with the rows written before it; ON CONFLICT skips.
    let e = c
        .client
        .batch_execute(&format!(
            "INSERT INTO {t} VALUES (5001, 'x', 1, 1), (5002, 'x', 1, 1), (7, 'x', 1, 1)"
        ))
        .await
        .unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "23505", "{e:?}");
    let n = c
        .client
        .execute(
            &format!("INSERT INTO {t} SELECT id + 10000, region, qty, amount FROM {t} WHERE id <= 500 ON CONFLICT (id) DO NOTHING"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 500);
    let n = c
        .client
        .execute(&format!("UPDATE {t} SET region = 'moved' WHERE id % 7 = 0"), &[])
        .await
        .unwrap();
    let sevens = (1..=3000).filter(|i| i % 7 == 0).count() + (10001..=10500).filter(|i| i % 7 == 0).count();
    assert_eq!(n as usize, sevens);
    let n = c
        .client
        .execute(&format!("DELETE FROM {t} WHERE id > 10000"), &[])
        .await
        .unwrap();
    assert_eq!(n, 500);
    let rows = texts(&c.client, &format!("SELECT count(*) FROM {t}")).await;
    // 3,000 and the two rows of the refused INSERT written before the duplicate, or not:
    // what the count says must be what the masters hold.
    let held: usize = keys_per_master(&nodes, &format!("{t}:")).await.iter().sum();
    assert_eq!(rows, vec![vec![s(held)]]);
    assert!(held >= 3000, "{held}");

    // COPY TO STDOUT streams every master's rows.
    let out = c
        .client
        .copy_out(&format!("COPY (SELECT id FROM {t} WHERE id <= 3000) TO STDOUT"))
        .await
        .unwrap();
    futures::pin_mut!(out);
    let mut lines = 0;
    while let Some(chunk) = out.next().await {
        lines += chunk.unwrap().iter().filter(|&&b| b == b'\n').count();
    }
    assert_eq!(lines, 3000);

    // TTLs on every master; the catalog's counts and metadata.
    c.client
        .batch_execute(&format!("ALTER TABLE {t} SET (ttl = 600)"))
        .await
        .unwrap();
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT count(*) FROM {t} WHERE _ttl BETWEEN 1 AND 600")
        )
        .await,
        vec![vec![s(held)]]
    );
    // (Indexes on the cluster, one part per master: cluster_index.rs.)
    let plan = texts(
        &c.client,
        &format!("EXPLAIN SELECT count(*) FROM {t} WHERE region = 'north'"),
    )
    .await;
    assert!(
        plan[0][0]
            .as_deref()
            .unwrap()
            .contains("on each of the 3 Redis Cluster masters at once"),
        "{plan:?}"
    );
    c.client.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
    assert_eq!(keys_per_master(&nodes, &format!("{t}:")).await, vec![0; nodes.len()]);
    assert_eq!(sqlstate(&c.client, &format!("SELECT * FROM {t}")).await, "42P01");
    server.shutdown().await;
}

/// A private cluster of `scripts/redis-cluster.sh`, stopped when dropped.
pub(crate) struct OwnCluster(pub(crate) Vec<u16>);

impl OwnCluster {
    pub(crate) fn start() -> OwnCluster {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-cluster.sh");
        let out = std::process::Command::new(script)
            .args(["start", "3"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let ports = String::from_utf8_lossy(&out.stdout);
        OwnCluster(ports.split_whitespace().map(|p| p.parse().unwrap()).collect())
    }

    pub(crate) fn url(&self) -> String {
        let addrs: Vec<String> = self.0.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+cluster://{}", addrs.join(","))
    }

    /// Start a killed node again on its port, with its cluster config: it
    /// comes back as the master of its slots, without data (no persistence).
    fn restart(&self, port: u16) {
        let root = env!("CARGO_MANIFEST_DIR");
        let run = format!("{root}/.run/redis-{port}");
        let status = std::process::Command::new(format!("{root}/.redis/bin/redis-server"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--dir", &run, "--daemonize", "yes"])
            .args([
                "--pidfile",
                &format!("{run}/redis.pid"),
                "--logfile",
                &format!("{run}/redis.log"),
            ])
            .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", "5000"])
            .args(["--loadmodule", &format!("{root}/.redis/lib/redisearch.so")])
            .args(["--loadmodule", &format!("{root}/.redis/lib/rejson.so")])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn signal(&self, port: u16, sig: &str) {
        let pidfile = format!("{}/.run/redis-{port}/redis.pid", env!("CARGO_MANIFEST_DIR"));
        let pid = std::fs::read_to_string(pidfile).unwrap();
        std::process::Command::new("kill")
            .args([sig, pid.trim()])
            .status()
            .unwrap();
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-cluster.sh");
        let ports: Vec<String> = self.0.iter().map(u16::to_string).collect();
        let _ = std::process::Command::new(script).arg("stop").args(ports).status();
    }
}

/// A master that dies while a scan waits on it ends the statement with an
/// error, never with the other masters' rows as if they were all; the next
/// statements fail promptly too (its slots are served by no one), and the
/// server and the session stay up. Restarted (empty: no persistence), the
/// master serves its slots again and the same session counts what the
/// cluster now holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_scan_is_an_error_not_a_partial_answer() {
    let cluster = OwnCluster::start();
    let store = redsql::store::Store::connect(&cluster.url()).await.unwrap();
    let server = start_server(&cluster.url()).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE fault (id bigint PRIMARY KEY, v bigint); \
             INSERT INTO fault SELECT g, g % 10 FROM generate_series(1, 20000) g",
        )
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, "SELECT count(*) FROM fault").await,
        vec![vec![s(20000)]]
    );
    // Frozen, the master holds the scan up; killed, it breaks it.
    let victim = cluster.0[1];
    cluster.signal(victim, "-STOP");
    let client = &c.client;
    let query = client.query("SELECT count(*), sum(v) FROM fault", &[]);
    let kill = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cluster.signal(victim, "-KILL");
    };
    let (answer, ()) = tokio::join!(query, kill);
    let e = answer.expect_err("a master died mid-scan: the answer must be an error");
    assert_eq!(e.as_db_error().map(|d| d.code().code()), Some("08006"), "{e:?}");
    let next = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        client.query("SELECT count(*) FROM fault", &[]),
    )
    .await
    .expect("no hang after a master died");
    assert!(next.is_err(), "a third of the slots has no master: {next:?}");
    assert_eq!(texts(client, "SELECT 1").await, vec![vec![s(1)]]);

    // Back, empty: the rows of the other masters remain.
    cluster.restart(victim);
    let victim_addr = format!("127.0.0.1:{victim}");
    let kept = (1..=20000)
        .filter(|id| store.master_of(format!("fault:{id}").as_bytes()).unwrap() != victim_addr)
        .count();
    let started = std::time::Instant::now();
    let answer = loop {
        match client.query("SELECT count(*) FROM fault", &[]).await {
            Ok(rows) => break rows[0].get::<_, i64>(0),
            Err(e) => {
                assert!(
                    started.elapsed().as_secs() < 60,
                    "the restarted master never served again: {e:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    };
    assert_eq!(answer as usize, kept);
    server.shutdown().await;
}

/// A slot that changes master while a scan runs could hide keys from it or
/// show them twice: the statement stops with 08006 instead of answering,
/// and the next one, on the new slot map, answers in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_during_a_scan_stops_the_statement() {
    let cluster = OwnCluster::start();
    let server = start_server(&cluster.url()).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE moving (id bigint PRIMARY KEY, v bigint); \
             INSERT INTO moving SELECT g, g FROM generate_series(1, 5000) g",
        )
        .await
        .unwrap();
    let (from, frozen, to) = (cluster.0[0], cluster.0[1], cluster.0[2]);
    let mut a = redis(&format!("redis://127.0.0.1:{from}")).await;
    let mut b = redis(&format!("redis://127.0.0.1:{to}")).await;
    // An empty slot of the first master.
    let slots: redis::Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(&mut a).await.unwrap();
    let redis::Value::Array(ranges) = slots else {
        panic!("{slots:?}")
    };
    let owned = ranges
        .iter()
        .find_map(|r| match r {
            redis::Value::Array(p) => match (&p[0], &p[1], &p[2]) {
                (redis::Value::Int(lo), redis::Value::Int(hi), redis::Value::Array(m))
                    if m[1] == redis::Value::Int(from as i64) =>
                {
                    Some(*lo..=*hi)
                }
                _ => None,
            },
            _ => None,
        })
        .expect("the first master's slots");
    let mut empty = None;
    for s in owned {
        let n: i64 = redis::cmd("CLUSTER")
            .arg("COUNTKEYSINSLOT")
            .arg(s)
            .query_async(&mut a)
            .await
            .unwrap();
        if n == 0 {
            empty = Some(s);
            break;
        }
    }
    let slot = empty.expect("an empty slot");
    let to_id: String = redis::cmd("CLUSTER").arg("MYID").query_async(&mut b).await.unwrap();

    // The scan waits on a frozen master while the slot moves elsewhere.
    cluster.signal(frozen, "-STOP");
    let client = &c.client;
    let query = client.query("SELECT count(*) FROM moving", &[]);
    let reshard = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        for con in [&mut b, &mut a] {
            let () = redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("NODE")
                .arg(&to_id)
                .query_async(con)
                .await
                .unwrap();
        }
        cluster.signal(frozen, "-CONT");
    };
    let (answer, ()) = tokio::join!(query, reshard);
    let e = answer.expect_err("a slot moved mid-scan: no answer");
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "08006");
    assert!(
        db.message().contains("slots moved while every master was read"),
        "{}",
        db.message()
    );
    assert_eq!(texts(client, "SELECT count(*) FROM moving").await, vec![vec![s(5000)]]);
    server.shutdown().await;
}

/// A slot being migrated (MIGRATING on its master, IMPORTING on another, as
/// a resharding leaves it while MIGRATE moves its keys) stops every read of
/// all masters with 08006: a scan, a pushed-down aggregate, a pushed-down
/// fetch. Key lookups still answer (routed, following ASK). Once the slot
/// is stable again, the same statements answer in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_being_migrated_stops_reads_of_every_master() {
    let cluster = OwnCluster::start();
    let store = redsql::store::Store::connect(&cluster.url()).await.unwrap();
    let server = start_server(&cluster.url()).await;
    let c = connect(&server).await;
    let off = connect_scanning(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE mig (id bigint PRIMARY KEY, v bigint); \
             INSERT INTO mig SELECT g, g % 10 FROM generate_series(1, 3000) g; \
             CREATE INDEX ON mig (v)",
        )
        .await
        .unwrap();
    crate::cluster_index::wait_usable(&c.client, "mig").await;
    let from = store.master_of(b"mig:1").unwrap();
    let to = cluster
        .0
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .find(|a| *a != from)
        .unwrap();
    let mut src = redis(&format!("redis://{from}")).await;
    let mut dst = redis(&format!("redis://{to}")).await;
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg("mig:1")
        .query_async(&mut src)
        .await
        .unwrap();
    let src_id: String = redis::cmd("CLUSTER").arg("MYID").query_async(&mut src).await.unwrap();
    let dst_id: String = redis::cmd("CLUSTER").arg("MYID").query_async(&mut dst).await.unwrap();
    let setslot = |state: &str, id: Option<&str>| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SETSLOT").arg(slot).arg(state);
        if let Some(id) = id {
            cmd.arg(id);
        }
        cmd
    };
    let () = setslot("IMPORTING", Some(&src_id)).query_async(&mut dst).await.unwrap();
    let () = setslot("MIGRATING", Some(&dst_id)).query_async(&mut src).await.unwrap();

    let reads = [
        (&c.client, "SELECT count(*), sum(v) FROM mig", "aggregate pushed down"),
        (&c.client, "SELECT id FROM mig WHERE v = 3 ORDER BY id", "FT.SEARCH"),
        (&off.client, "SELECT count(*), sum(v) FROM mig", "SCAN"),
    ];
    let mut stopped = Vec::new();
    for (client, sql, how) in reads {
        let plan = texts(client, &format!("EXPLAIN {sql}")).await;
        assert!(format!("{plan:?}").contains(how), "{sql}: {plan:?}");
        stopped.push(client.query(sql, &[]).await.map(|r| r.len()));
    }
    let lookup = texts(&c.client, "SELECT v FROM mig WHERE id = 1").await;
    let () = setslot("STABLE", None).query_async(&mut src).await.unwrap();
    let () = setslot("STABLE", None).query_async(&mut dst).await.unwrap();

    for (answer, (_, sql, _)) in stopped.iter().zip(&reads) {
        let e = answer.as_ref().expect_err(sql);
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "08006", "{sql}: {}", db.message());
        assert!(
            db.message().contains(&format!("slot {slot} on 127.0.0.1:")),
            "{}",
            db.message()
        );
    }
    assert_eq!(lookup, vec![vec![s(1)]]);
    for (client, sql, _) in reads {
        let want = if sql.contains("v = 3") { 300 } else { 1 };
        assert_eq!(client.query(sql, &[]).await.unwrap().len(), want, "{sql}");
    }
    assert_eq!(
        texts(&c.client, "SELECT count(*), sum(v) FROM mig").await,
        vec![vec![s(3000), s(13500)]]
    );
    server.shutdown().await;
}

/// `redsql load` writes a CSV across the masters (with a TTL: the insert
/// script, grouped per slot), and TRUNCATE empties every master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_load_and_truncate_span_every_master() {
    let (url, nodes, _lock) = cluster().await;
    let t = unique("clload");
    let file = std::env::temp_dir().join(format!("{t}.csv"));
    let csv: String = std::iter::once("id,name,score\n".to_string())
        .chain((1..=2000).map(|i| format!("{i},n{i},{}.25\n", i % 50)))
        .collect();
    std::fs::write(&file, csv).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redsql"))
        .args([
            "load",
            file.to_str().unwrap(),
            "--table",
            &t,
            "--key",
            "id",
            "--ttl",
            "600",
        ])
        .args(["--redis", &url])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("loaded 2000 rows into {t}")), "{err}");
    let per_master = keys_per_master(&nodes, &format!("{t}:")).await;
    assert_eq!(per_master.iter().sum::<usize>(), 2000, "{per_master:?}");
    assert!(per_master.iter().all(|&n| n > 300), "{per_master:?}");

    let server = start_server(&url).await;
    let c = connect(&server).await;
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT count(*), sum(score), min(name), count(*) FILTER (WHERE _ttl > 500) FROM {t}")
        )
        .await,
        vec![vec![
            s(2000),
            s((1..=2000).map(|i| (i % 50) as f64 + 0.25).sum::<f64>()),
            s("n1"),
            s(2000)
        ]]
    );
    c.client.batch_execute(&format!("TRUNCATE {t}")).await.unwrap();
    assert_eq!(keys_per_master(&nodes, &format!("{t}:")).await, vec![0; nodes.len()]);
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s(0)]]
    );
    server.shutdown().await;
}
