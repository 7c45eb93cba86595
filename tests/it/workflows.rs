//! The workflows of docs/workflows.md, end to end as a user runs them:
//! staging files into tables and exporting a report, cleaning messy data,
//! session analytics that expire by TTL, and cleaning up. Each test follows
//! one section of the guide; keep the two in step.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::files::temp_dir;
use polars::prelude::{ParquetReader, SerReader};
use redis::AsyncCommands;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn row(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| if *v == "NULL" { None } else { s(v) }).collect()
}

/// `redsql load FILE --table T --key K [extra...]` against the test Redis, off the runtime's threads.
async fn cli_load(file: &Path, table: &str, key: &str, extra: &[&str]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redsql"));
    cmd.arg("load")
        .arg(file)
        .args(["--table", table, "--key", key, "--redis", &redis_url()])
        .args(extra);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("redsql runs"))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redsql load {}: {stderr}", file.display());
}

/// Every key under `prefix` (SCAN, as another Redis client sees it).
async fn keys_under(url: &str, prefix: &str) -> Vec<String> {
    let mut con = redis(url).await;
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys
}

/// Write `orders.parquet` with polars, as another tool would.
fn write_orders_parquet(path: &Path) {
    let mut df = polars::df!(
        "order_id" => [100i64, 101, 102, 103, 104, 105, 106],
        "customer_id" => [1i64, 1, 2, 3, 2, 1, 9],
        "sku" => [10i64, 20, 10, 30, 30, 10, 10],
        "qty" => [2i64, 1, 5, 4, 1, 3, 7],
        "day" => ["2024-05-01", "2024-05-01", "2024-05-02", "2024-05-02", "2024-05-03", "2024-05-03", "2024-05-04"],
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    polars::prelude::ParquetWriter::new(file).finish(&mut df).unwrap();
}

const REPORT: &str = "SELECT c.id AS customer_id, c.name, c.country, count(*) AS orders, sum(o.qty) AS units,
        sum(o.qty * p.price) AS revenue, count(DISTINCT p.category) AS categories
   FROM {o} o JOIN {c} c ON o.customer_id = c.id JOIN {p} p ON o.sku = p.sku
  GROUP BY c.id, c.name, c.country
  ORDER BY customer_id";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etl_staging_files_to_a_joined_parquet_report() {
    let url = redis_url();
    let (c, o, p, r) = (
        unique("customers"),
        unique("orders"),
        unique("products"),
        unique("report"),
    );
    let dir = temp_dir("etl");
    std::fs::write(
        dir.join("customers.csv"),
        "id,name,country,signup\n1,Ann,NO,2024-01-05\n2,\"Lee, Bo\",IT,2024-02-29\n3,Cy,NO,2024-03-10\n4,Di,IT,2024-04-01\n",
    )
    .unwrap();
    write_orders_parquet(&dir.join("orders.parquet"));
    std::fs::write(
        dir.join("products.json"),
        r#"[{"sku": 10, "name": "Widget", "price": 2.5, "category": "tools"},
            {"sku": 20, "name": "Gadget", "price": 10.0, "category": "toys"},
            {"sku": 30, "name": "Gizmo", "price": 0.25, "category": "tools"}]"#,
    )
    .unwrap();

    // 1. Customers from the shell, orders and products from SQL.
    cli_load(&dir.join("customers.csv"), &c, "id", &[]).await;
    let server = start_server_with_data_dir(&url, Some(&dir)).await;
    let conn = connect(&server).await;
    let db = &conn.client;
    let n = db
        .execute(
            &format!("CREATE TABLE {o} WITH (source = 'orders.parquet', key = 'order_id')"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 7);
    db.batch_execute(&format!(
        "CREATE TABLE {p} (sku bigint PRIMARY KEY, name text, price double precision, category text)"
    ))
    .await
    .unwrap();
    let n = db
        .execute(&format!("COPY {p} FROM 'products.json'"), &[])
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        texts(
            db,
            &format!(
                "SELECT table_name, column_name, data_type FROM redsql.columns
                  WHERE table_name IN ('{c}', '{o}') ORDER BY table_name, column_name"
            )
        )
        .await,
        vec![
            row(&[&c, "country", "text"]),
            row(&[&c, "id", "bigint"]),
            row(&[&c, "name", "text"]),
            row(&[&c, "signup", "date"]),
            row(&[&o, "customer_id", "bigint"]),
            row(&[&o, "day", "date"]),
            row(&[&o, "order_id", "bigint"]),
            row(&[&o, "qty", "bigint"]),
            row(&[&o, "sku", "bigint"]),
        ]
    );

    // 2. The three-way join: order 106 has no customer, Di has no orders.
    let report = REPORT.replace("{o}", &o).replace("{c}", &c).replace("{p}", &p);
    let expected = vec![
        row(&["1", "Ann", "NO", "3", "6", "22.5", "2"]),
        row(&["2", "Lee, Bo", "IT", "2", "6", "12.75", "1"]),
        row(&["3", "Cy", "NO", "1", "4", "1", "1"]),
    ];
    assert_eq!(texts(db, &report).await, expected);

    // 3. Export, and read the file back: with polars directly, and as a table.
    let n = db
        .execute(&format!("COPY ({report}) TO 'report.parquet'"), &[])
        .await
        .unwrap();
    assert_eq!(n, 3);
    let file = std::fs::File::open(dir.join("report.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "name",
            "country",
            "orders",
            "units",
            "revenue",
            "categories"
        ]
    );
    let ids: Vec<Option<i64>> = df.column("customer_id").unwrap().i64().unwrap().iter().collect();
    assert_eq!(ids, [Some(1), Some(2), Some(3)]);
    let revenue: Vec<Option<f64>> = df.column("revenue").unwrap().f64().unwrap().iter().collect();
    assert_eq!(revenue, [Some(22.5), Some(12.75), Some(1.0)]);

    let n = db
        .execute(
            &format!("CREATE TABLE {r} WITH (source = 'report.parquet', key = 'customer_id')"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    let back = texts(
        db,
        &format!("SELECT customer_id, name, country, orders, units, revenue, categories FROM {r} ORDER BY customer_id"),
    )
    .await;
    assert_eq!(back, expected);
    // Typed, over the binary protocol: the same values, not just the same text.
    let typed = |rows: Vec<tokio_postgres::Row>| -> Vec<(i64, String, i64, f64)> {
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(4), r.get(5))).collect()
    };
    assert_eq!(
        typed(db.query(&report, &[]).await.unwrap()),
        typed(
            db.query(
                &format!("SELECT customer_id, name, country, orders, units, revenue FROM {r} ORDER BY customer_id"),
                &[]
            )
            .await
            .unwrap()
        )
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_cleaning_finds_messy_values_and_writes_clean_rows() {
    let url = redis_url();
    let u = unique("users");
    let clean = format!("{u}_clean");
    let rejects = format!("{u}_rejects");
    let dir = temp_dir("clean");
    std::fs::write(
        dir.join("users.csv"),
        "id,email,name,age,signup\n\
         1,ann@example.com,Ann,34,2024-01-05\n\
         2,,Bo,27,2024-01-06\n\
         3, ANN@Example.com ,Ann B.,35,2024-01-07\n\
         4,cy@example.com,Cy,unknown,2024-02-30\n\
         5,dee@example.com,Dee,41,2024-03-01\n\
         6,Cy@example.com,Cyrus,n/a,2024-03-02\n\
         7,,Eve,29,2024-03-03\n\
         8,finn@example.com,Finn,52,2024-03-04\n",
    )
    .unwrap();
    cli_load(&dir.join("users.csv"), &u, "id", &[]).await;
    let server = start_server(&url).await;
    let conn = connect(&server).await;
    let db = &conn.client;

    // 1. The schema report: age and signup hold values that are not numbers / dates, so they stay text.
    assert_eq!(
        texts(
            db,
            &format!(
                "SELECT column_name, data_type, confidence, null_ratio FROM redsql.columns
                  WHERE table_name = '{u}' ORDER BY column_name"
            )
        )
        .await,
        vec![
            row(&["age", "text", "1", "0"]),
            row(&["email", "text", "1", "0.25"]),
            row(&["id", "bigint", "1", "0"]),
            row(&["name", "text", "1", "0"]),
            row(&["signup", "text", "1", "0"]),
        ]
    );
    // Which values are the problem?
    assert_eq!(
        texts(
            db,
            &format!("SELECT id, age FROM {u} WHERE TRY_CAST(age AS BIGINT) IS NULL ORDER BY id")
        )
        .await,
        vec![row(&["4", "unknown"]), row(&["6", "n/a"])]
    );
    assert_eq!(
        texts(
            db,
            &format!("SELECT id, signup FROM {u} WHERE TRY_CAST(signup AS DATE) IS NULL ORDER BY id")
        )
        .await,
        vec![row(&["4", "2024-02-30"])]
    );

    // 2. Missing and duplicate emails (same address up to case and spaces).
    assert_eq!(
        texts(db, &format!("SELECT id, name FROM {u} WHERE email IS NULL ORDER BY id")).await,
        vec![row(&["2", "Bo"]), row(&["7", "Eve"])]
    );
    assert_eq!(
        texts(
            db,
            &format!(
                "SELECT lower(trim(email)) AS address, count(*) AS n, min(id) AS keep FROM {u}
                  WHERE email IS NOT NULL GROUP BY lower(trim(email)) HAVING count(*) > 1 ORDER BY address"
            )
        )
        .await,
        vec![row(&["ann@example.com", "2", "1"]), row(&["cy@example.com", "2", "4"])]
    );

    // 3. The clean table: one row per address (the lowest id), typed columns, bad values as NULL.
    db.batch_execute(&format!(
        "CREATE TABLE {clean} (id bigint PRIMARY KEY, email text, name text, age bigint, signup date)"
    ))
    .await
    .unwrap();
    let n = db
        .execute(
            &format!(
                "INSERT INTO {clean}
                 SELECT id, lower(trim(email)), name, TRY_CAST(age AS BIGINT), TRY_CAST(signup AS DATE) FROM {u}
                  WHERE id IN (SELECT min(id) FROM {u} WHERE email IS NOT NULL GROUP BY lower(trim(email)))"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        texts(
            db,
            &format!("SELECT id, email, name, age, signup FROM {clean} ORDER BY id")
        )
        .await,
        vec![
            row(&["1", "ann@example.com", "Ann", "34", "2024-01-05"]),
            row(&["4", "cy@example.com", "Cy", "NULL", "NULL"]),
            row(&["5", "dee@example.com", "Dee", "41", "2024-03-01"]),
            row(&["8", "finn@example.com", "Finn", "52", "2024-03-04"]),
        ]
    );
    assert_eq!(
        texts(
            db,
            &format!(
                "SELECT column_name, data_type, confidence FROM redsql.columns
                  WHERE table_name = '{clean}' AND column_name IN ('age', 'signup') ORDER BY column_name"
            )
        )
        .await,
        vec![row(&["age", "bigint", "1"]), row(&["signup", "date", "1"])]
    );

    // 4. Keep what was left out, for a human to look at: CREATE TABLE ... AS SELECT.
    let n = db
        .execute(
            &format!(
                "CREATE TABLE {rejects} WITH (key = 'id') AS
                 SELECT id, email, name FROM {u} WHERE id NOT IN (SELECT id FROM {clean})"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        texts(db, &format!("SELECT id, email, name FROM {rejects} ORDER BY id")).await,
        vec![
            row(&["2", "NULL", "Bo"]),
            row(&["3", " ANN@Example.com ", "Ann B."]),
            row(&["6", "Cy@example.com", "Cyrus"]),
            row(&["7", "NULL", "Eve"]),
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn session_analytics_rows_expire_by_ttl() {
    let url = redis_url();
    let (sess, users) = (unique("session"), unique("member"));
    let server = start_server(&url).await;
    let conn = connect(&server).await;
    let db = &conn.client;
    db.batch_execute(&format!(
        "CREATE TABLE {users} (id bigint PRIMARY KEY, name text);
         INSERT INTO {users} VALUES (1, 'Ann'), (2, 'Bo'), (3, 'Cy');
         CREATE TABLE {sess} (id bigint PRIMARY KEY, user_id bigint, page text, seconds bigint) WITH (ttl = 2);
         INSERT INTO {sess} VALUES (1, 1, '/home', 30), (2, 1, '/cart', 45), (3, 2, '/home', 5), (4, 3, '/help', 60)"
    ))
    .await
    .unwrap();

    // Every session row has an expiry of at most 2 s; the users have none.
    assert_eq!(
        texts(
            db,
            &format!("SELECT count(*), min(_ttl) >= 1, max(_ttl) <= 2 FROM {sess}")
        )
        .await,
        vec![row(&["4", "t", "t"])]
    );
    assert_eq!(
        texts(db, &format!("SELECT count(*), count(_ttl) FROM {users}")).await,
        vec![row(&["3", "0"])]
    );
    let per_user = format!(
        "SELECT u.name, count(*) AS visits, sum(s.seconds) AS seconds
           FROM {sess} s JOIN {users} u ON s.user_id = u.id GROUP BY u.name ORDER BY u.name"
    );
    assert_eq!(
        texts(db, &per_user).await,
        vec![
            row(&["Ann", "2", "75"]),
            row(&["Bo", "1", "5"]),
            row(&["Cy", "1", "60"])
        ]
    );

    // Wait for Redis to expire them (polling, up to a deadline).
    let started = Instant::now();
    loop {
        let n = texts(db, &format!("SELECT count(*) FROM {sess}")).await;
        if n == vec![row(&["0"])] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "sessions did not expire: {n:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(500), "expired too early");
    assert!(keys_under(&url, &format!("{sess}:")).await.is_empty());

    // The rows are gone, the declared table is not: it is empty, with its columns.
    assert!(texts(db, &format!("SELECT * FROM {sess}")).await.is_empty());
    assert!(texts(db, &per_user).await.is_empty());
    assert_eq!(
        texts(
            db,
            &format!("SELECT column_name FROM redsql.columns WHERE table_name = '{sess}' ORDER BY column_name")
        )
        .await,
        vec![row(&["id"]), row(&["page"]), row(&["seconds"]), row(&["user_id"])]
    );
    assert_eq!(
        texts(db, &format!("SELECT id, name FROM {users} ORDER BY id")).await,
        vec![row(&["1", "Ann"]), row(&["2", "Bo"]), row(&["3", "Cy"])]
    );
    // New sessions can still be written, and expire the same way.
    db.batch_execute(&format!("INSERT INTO {sess} VALUES (5, 2, '/home', 1)"))
        .await
        .unwrap();
    assert_eq!(
        texts(db, &format!("SELECT id, _ttl BETWEEN 1 AND 2 FROM {sess}")).await,
        vec![row(&["5", "t"])]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn cleanup_drops_rows_definition_and_index_and_truncate_keeps_the_table() {
    let url = redis_url();
    let (gone, kept, other) = (unique("scratch"), unique("staging"), unique("keep"));
    let index = format!("idx_{gone}");
    let server = start_server(&url).await;
    let conn = connect(&server).await;
    let db = &conn.client;
    db.batch_execute(&format!(
        "CREATE TABLE {gone} (id bigint PRIMARY KEY, name text, score bigint);
         INSERT INTO {gone} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30);
         CREATE TABLE {kept} (id bigint PRIMARY KEY, v text);
         INSERT INTO {kept} VALUES (1, 'x'), (2, 'y');
         CREATE TABLE {other} (id bigint PRIMARY KEY, v text);
         INSERT INTO {other} VALUES (1, 'stays')"
    ))
    .await
    .unwrap();
    let mut con = redis(&url).await;
    let () = redis::cmd("FT.CREATE")
        .arg(&index)
        .arg(&["ON", "HASH", "PREFIX", "1"])
        .arg(format!("{gone}:"))
        .arg(&["SCHEMA", "name", "TEXT", "score", "NUMERIC"])
        .query_async(&mut con)
        .await
        .unwrap();
    let list: Vec<String> = redis::cmd("FT._LIST").query_async(&mut con).await.unwrap();
    assert!(list.contains(&index));

    // DROP TABLE: rows, definition and index, at once.
    db.batch_execute(&format!("DROP TABLE {gone}")).await.unwrap();
    assert!(keys_under(&url, &format!("{gone}:")).await.is_empty());
    let exists: bool = con.exists(format!("redsql:meta:{gone}")).await.unwrap();
    assert!(!exists, "redsql:meta:{gone} is left");
    let member: bool = con.sismember("redsql:tables", &gone).await.unwrap();
    assert!(!member, "{gone} is still in redsql:tables");
    let list: Vec<String> = redis::cmd("FT._LIST").query_async(&mut con).await.unwrap();
    assert!(!list.contains(&index), "index {index} is left");
    assert_eq!(sqlstate(db, &format!("SELECT * FROM {gone}")).await, "42P01");
    assert!(texts(
        db,
        &format!("SELECT table_name FROM redsql.tables WHERE table_name = '{gone}'")
    )
    .await
    .is_empty());
    db.batch_execute(&format!("DROP TABLE IF EXISTS {gone}")).await.unwrap();
    assert_eq!(sqlstate(db, &format!("DROP TABLE {gone}")).await, "42P01");

    // TRUNCATE: no rows, the definition stays.
    db.batch_execute(&format!("TRUNCATE {kept}")).await.unwrap();
    assert!(keys_under(&url, &format!("{kept}:")).await.is_empty());
    assert_eq!(
        texts(db, &format!("SELECT count(*) FROM {kept}")).await,
        vec![row(&["0"])]
    );
    assert_eq!(
        texts(
            db,
            &format!("SELECT column_name, data_type FROM redsql.columns WHERE table_name = '{kept}'")
        )
        .await,
        vec![row(&["id", "bigint"]), row(&["v", "text"])]
    );
    db.batch_execute(&format!("INSERT INTO {kept} VALUES (3, 'z')"))
        .await
        .unwrap();
    assert_eq!(
        texts(db, &format!("SELECT id, v FROM {kept}")).await,
        vec![row(&["3", "z"])]
    );

    // Other tables are untouched.
    assert_eq!(
        texts(db, &format!("SELECT id, v FROM {other}")).await,
        vec![row(&["1", "stays"])]
    );
    assert_eq!(keys_under(&url, &format!("{other}:")).await, [format!("{other}:1")]);
    server.shutdown().await;
}
