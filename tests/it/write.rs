//! Writing back through the wire: CREATE TABLE (metadata in Redis), INSERT,
//! DELETE, TRUNCATE, DROP TABLE, and how values are stored in Redis.

use crate::common::*;
use chrono::{NaiveDate, NaiveDateTime};
use redis::AsyncCommands;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test]
async fn create_table_declares_types_key_prefix_and_ttl_in_redis() {
    let url = redis_url();
    let t = unique("decl");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint, name text, score double precision, active boolean, born date, seen timestamp, \
             PRIMARY KEY (id)) WITH (prefix = '{t}_p:', ttl = 3600)"
        ))
        .await
        .unwrap();
    let tables = texts(
        &c.client,
        &format!("SELECT prefix, key_count FROM redsql.tables WHERE table_name = '{t}'"),
    )
    .await;
    assert_eq!(tables, vec![vec![s(&format!("{t}_p:")), s("0")]]);
    let cols = texts(
        &c.client,
        &format!("SELECT column_name, data_type FROM redsql.columns WHERE table_name = '{t}'"),
    )
    .await;
    let cols: Vec<(String, String)> = cols
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    assert_eq!(
        cols,
        [
            ("id", "bigint"),
            ("name", "text"),
            ("score", "double precision"),
            ("active", "boolean"),
            ("born", "date"),
            ("seen", "timestamp without time zone")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(texts(&c.client, &format!("SELECT * FROM {t}")).await.is_empty());
    assert_eq!(
        sqlstate(&c.client, &format!("CREATE TABLE {t} (id bigint PRIMARY KEY)")).await,
        "42P07"
    );
    c.client
        .batch_execute(&format!("CREATE TABLE IF NOT EXISTS {t} (id bigint PRIMARY KEY)"))
        .await
        .unwrap();
    assert_eq!(sqlstate(&c.client, "CREATE TABLE nokey_xyz (a text)").await, "42P16");

    c.client
        .batch_execute(&format!("INSERT INTO {t} (id, name) VALUES (1, 'a')"))
        .await
        .unwrap();
    let mut r = redis(&url).await;
    let ttl: i64 = r.ttl(format!("{t}_p:1")).await.unwrap();
    assert!(ttl > 3500 && ttl <= 3600, "ttl {ttl}");
    // The remaining TTL in SQL: the _ttl pseudo-column (NULL without expiry).
    let () = r.hset(format!("{t}_p:2"), "name", "no ttl").await.unwrap();
    let rows = c
        .client
        .query(&format!("SELECT id, _ttl FROM {t} ORDER BY id"), &[])
        .await
        .unwrap();
    let ttl1: i64 = rows[0].get(1);
    assert!(ttl1 > 3500 && ttl1 <= 3600, "_ttl {ttl1}");
    assert_eq!(rows[1].get::<_, Option<i64>>(1), None);
    let expiring = texts(&c.client, &format!("SELECT count(*) FROM {t} WHERE _ttl < 4000")).await;
    assert_eq!(expiring, vec![vec![s("1")]]);
    server.shutdown().await;

    // Another server (a restart) sees the same declared table.
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let row = c
        .client
        .query_one(&format!("SELECT id, name FROM {t} WHERE id = 1"), &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, String>(1)), (1, "a".to_string()));
    server.shutdown().await;
}

#[tokio::test]
async fn inserted_values_read_back_identically_and_are_stored_canonically() {
    let url = redis_url();
    let t = unique("vals");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, score double precision, active boolean, born date, seen timestamp)"
        ))
        .await
        .unwrap();
    let insert = format!("INSERT INTO {t} (id, name, score, active, born, seen) VALUES ($1, $2, $3, $4, $5, $6)");
    let stmt = c.client.prepare(&insert).await.unwrap();
    let types: Vec<&str> = stmt.params().iter().map(|t| t.name()).collect();
    assert_eq!(types, ["int8", "text", "float8", "bool", "date", "timestamp"]);
    let ts = NaiveDateTime::parse_from_str("2024-02-29 23:59:58.25", "%Y-%m-%d %H:%M:%S%.f").unwrap();
    let day = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
    type Row<'a> = (i64, Option<&'a str>, Option<f64>, Option<bool>);
    let rows: Vec<Row> = vec![
        (1, Some("héllo ☃"), Some(0.1), Some(true)),
        (2, Some(""), Some(1e300), Some(false)),
        (3, None, None, None),
        (-9223372036854775808, Some("x'y\"z"), Some(-2.5e-7), Some(true)),
    ];
    for (id, name, score, active) in &rows {
        let n = c
            .client
            .execute(&stmt, &[id, name, score, active, &day, &ts])
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let got = c
        .client
        .query(
            &format!("SELECT id, name, score, active, born, seen FROM {t} ORDER BY id"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    let mut expect = rows.clone();
    expect.sort_by_key(|r| r.0);
    for (row, (id, name, score, active)) in got.iter().zip(&expect) {
        assert_eq!(row.get::<_, i64>(0), *id);
        assert_eq!(row.get::<_, Option<String>>(1).as_deref(), *name);
        assert_eq!(row.get::<_, Option<f64>>(2), *score);
        assert_eq!(row.get::<_, Option<bool>>(3), *active);
        assert_eq!(row.get::<_, NaiveDate>(4), day);
        assert_eq!(row.get::<_, NaiveDateTime>(5), ts);
    }
    // Stored forms: decimal, shortest floats, true/false, ISO 8601, NULL absent, "" kept.
    let mut r = redis(&url).await;
    let h: std::collections::BTreeMap<String, String> = r.hgetall(format!("{t}:2")).await.unwrap();
    let expect: std::collections::BTreeMap<String, String> = [
        ("id", "2"),
        ("name", ""),
        ("score", "1e+300"),
        ("active", "false"),
        ("born", "1999-12-31"),
        ("seen", "2024-02-29T23:59:58.25"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(h, expect);
    let h: std::collections::BTreeMap<String, String> = r.hgetall(format!("{t}:3")).await.unwrap();
    assert_eq!(h.keys().cloned().collect::<Vec<_>>(), ["born", "id", "seen"]);
    server.shutdown().await;
}

#[tokio::test]
async fn duplicate_keys_fail_with_23505_and_write_nothing() {
    let url = redis_url();
    let t = unique("dup");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!("CREATE TABLE {t} (id bigint PRIMARY KEY, v text)"))
        .await
        .unwrap();
    c.client
        .batch_execute(&format!("INSERT INTO {t} VALUES (1, 'one'), (2, 'two')"))
        .await
        .unwrap();
    assert_eq!(
        sqlstate(&c.client, &format!("INSERT INTO {t} VALUES (3, 'three'), (1, 'again')")).await,
        "23505"
    );
    assert_eq!(
        sqlstate(&c.client, &format!("INSERT INTO {t} VALUES (4, 'a'), (4, 'b')")).await,
        "23505"
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("2")]]
    );
    let n = c
        .client
        .execute(
            &format!("INSERT INTO {t} VALUES (1, 'x'), (5, 'five'), (5, 'dup') ON CONFLICT (id) DO NOTHING"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        texts(&c.client, &format!("SELECT id, v FROM {t} ORDER BY id")).await,
        vec![vec![s("1"), s("one")], vec![s("2"), s("two")], vec![s("5"), s("five")]]
    );
    // A value that does not fit its column: 22P02, nothing written.
    assert_eq!(
        sqlstate(
            &c.client,
            &format!("INSERT INTO {t} (id, v) VALUES (6, 'ok'), ('seven', 'bad')")
        )
        .await,
        "22P02"
    );
    assert_eq!(
        sqlstate(&c.client, &format!("INSERT INTO {t} (v) VALUES ('no key')")).await,
        "23502"
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("3")]]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn insert_select_delete_truncate_and_drop() {
    let url = redis_url();
    let raw = unique("raw");
    let clean = unique("clean");
    seed(
        &url,
        &raw,
        &[
            ("1", &[("email", "a@x.io"), ("age", "31")]),
            ("2", &[("email", ""), ("age", "n/a")]),
            ("3", &[("email", "c@x.io"), ("age", "45")]),
        ],
    )
    .await;
    let server = start_server(&url).await;
    let mut c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {clean} (id bigint PRIMARY KEY, email text, age bigint)"
        ))
        .await
        .unwrap();
    let n = c
        .client
        .execute(
            &format!("INSERT INTO {clean} SELECT CAST(_key AS BIGINT), email, age FROM {raw} WHERE email <> '' AND age IS NOT NULL"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    c.drain_notices();
    assert_eq!(
        texts(&c.client, &format!("SELECT id, email, age FROM {clean} ORDER BY id")).await,
        vec![vec![s("1"), s("a@x.io"), s("31")], vec![s("3"), s("c@x.io"), s("45")]]
    );
    let deleted = c
        .client
        .execute(&format!("DELETE FROM {clean} WHERE age > $1"), &[&40i64])
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        texts(&c.client, &format!("SELECT id FROM {clean}")).await,
        vec![vec![s("1")]]
    );

    c.client.batch_execute(&format!("TRUNCATE {clean}")).await.unwrap();
    assert!(texts(&c.client, &format!("SELECT * FROM {clean}")).await.is_empty());
    // Deleting every row of a discovered table removes its keys.
    let n = c.client.execute(&format!("DELETE FROM {raw}"), &[]).await.unwrap();
    assert_eq!(n, 3);
    let mut r = redis(&url).await;
    let left: Vec<String> = r.keys(format!("{raw}:*")).await.unwrap();
    assert!(left.is_empty(), "{left:?}");

    c.client
        .batch_execute(&format!("INSERT INTO {clean} VALUES (9, 'z@x.io', 1)"))
        .await
        .unwrap();
    c.client.batch_execute(&format!("DROP TABLE {clean}")).await.unwrap();
    assert_eq!(sqlstate(&c.client, &format!("SELECT * FROM {clean}")).await, "42P01");
    let left: Vec<String> = r.keys(format!("{clean}:*")).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    let meta: bool = r.exists(format!("redsql:meta:{clean}")).await.unwrap();
    assert!(!meta);
    c.client
        .batch_execute(&format!("DROP TABLE IF EXISTS {clean}"))
        .await
        .unwrap();
    assert_eq!(sqlstate(&c.client, &format!("DROP TABLE {clean}")).await, "42P01");
    server.shutdown().await;
}

#[tokio::test]
async fn update_writes_only_changed_fields() {
    let url = redis_url();
    let t = unique("upd");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, qty bigint, price double precision, note text)"
        ))
        .await
        .unwrap();
    c.client
        .batch_execute(&format!(
            "INSERT INTO {t} VALUES (1, 5, 2.5, 'a'), (2, 7, 1, 'b'), (3, 9, 4, 'c')"
        ))
        .await
        .unwrap();
    // A stored form that is valid but not canonical, to see what gets rewritten.
    let mut r = redis(&url).await;
    let () = r.hset(format!("{t}:1"), "price", "2.50").await.unwrap();
    let n = c
        .client
        .execute(
            &format!("UPDATE {t} SET qty = qty + 1, price = price WHERE qty < $1"),
            &[&8i64],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        texts(&c.client, &format!("SELECT id, qty, price FROM {t} ORDER BY id")).await,
        vec![
            vec![s("1"), s("6"), s("2.5")],
            vec![s("2"), s("8"), s("1")],
            vec![s("3"), s("9"), s("4")]
        ]
    );
    let price: String = r.hget(format!("{t}:1"), "price").await.unwrap();
    assert_eq!(price, "2.50", "an unchanged value is not rewritten");
    // NULL removes the field; a parameter takes the column's type.
    let stmt = c
        .client
        .prepare(&format!("UPDATE {t} SET note = $1 WHERE id = $2"))
        .await
        .unwrap();
    assert_eq!(
        stmt.params().iter().map(|t| t.name()).collect::<Vec<_>>(),
        ["text", "int8"]
    );
    assert_eq!(c.client.execute(&stmt, &[&None::<String>, &2i64]).await.unwrap(), 1);
    let has: bool = r.hexists(format!("{t}:2"), "note").await.unwrap();
    assert!(!has);
    assert_eq!(sqlstate(&c.client, &format!("UPDATE {t} SET id = 10")).await, "0A000");
    assert_eq!(
        sqlstate(&c.client, &format!("UPDATE {t} SET qty = 'many'")).await,
        "22P02"
    );
    assert_eq!(sqlstate(&c.client, &format!("UPDATE {t} SET nope = 1")).await, "42703");
    // A row that matches nothing is not created.
    assert_eq!(
        c.client
            .execute(&format!("UPDATE {t} SET qty = 0 WHERE id = 99"), &[])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("3")]]
    );
    server.shutdown().await;
}

/// Rows whose keys do not exist are written with one HSETEX FNX each (Redis
/// 8); a write meeting existing keys, `replace`, or a table with a TTL goes
/// through the insert script. Both store the same hashes and report
/// conflicts the same way.
#[tokio::test]
async fn new_rows_use_hsetex_and_every_other_write_the_script() {
    // A private Redis, so the command counts are this test's alone.
    let server = private_server(100).await;
    let url = server.redis_url().to_string();
    let c = connect(&server).await;
    let mut r = redis(&url).await;
    c.client
        .batch_execute(
            "CREATE TABLE fresh (id bigint PRIMARY KEY, name text, v double precision); \
             CREATE TABLE brief (id bigint PRIMARY KEY, name text) WITH (ttl = 3600)",
        )
        .await
        .unwrap();
    c.client
        .batch_execute("INSERT INTO fresh VALUES (1, 'a', 1.5), (2, NULL, 2)")
        .await
        .unwrap();
    assert_eq!(calls(&mut r, "hsetex").await, 2);
    assert_eq!(calls(&mut r, "evalsha").await, 0);
    let stored: std::collections::HashMap<String, String> = r.hgetall("fresh:2").await.unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored["id"], "2");
    assert_eq!(stored["v"], "2");

    // An existing key: the script, which reports it and writes nothing.
    let err = c
        .client
        .batch_execute("INSERT INTO fresh VALUES (3, 'c', 3), (2, 'b', 3)")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "23505", "{err}");
    c.client
        .batch_execute("INSERT INTO fresh VALUES (3, 'c', 3), (2, 'b', 3) ON CONFLICT DO NOTHING")
        .await
        .unwrap();
    assert!(calls(&mut r, "evalsha").await >= 1);
    assert_eq!(calls(&mut r, "hsetex").await, 2);
    // A TTL table: the script, which sets each row's expiry.
    c.client
        .batch_execute("INSERT INTO brief VALUES (1, 'x')")
        .await
        .unwrap();
    assert_eq!(calls(&mut r, "hsetex").await, 2);
    let ttl: i64 = r.ttl("brief:1").await.unwrap();
    assert!(ttl > 3500, "ttl {ttl}");
    let rows = c
        .client
        .query("SELECT id, name, v FROM fresh ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i64, Option<String>, Option<f64>)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        got,
        [
            (1, Some("a".into()), Some(1.5)),
            (2, None, Some(2.0)),
            (3, Some("c".into()), Some(3.0))
        ]
    );
    server.shutdown().await;
}
