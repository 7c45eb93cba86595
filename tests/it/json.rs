//! RedisJSON documents as tables: discovery and typed reads (dotted columns
//! for nested objects, JSON text for arrays), CREATE TABLE ... WITH (storage =
//! 'json'), INSERT / UPDATE / DELETE / COPY / TRUNCATE / DROP, what is stored
//! (JSON types, not strings), prefixes mixing hashes and documents, and a
//! Redis without RedisJSON.

use bytes::Bytes;
use futures::SinkExt;
use serde_json::{json, Value as Json};

use crate::common::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// JSON.SET each document under `<table>:<id>`.
async fn seed_json(url: &str, table: &str, docs: &[(&str, Json)]) {
    let mut con = redis(url).await;
    let mut pipe = redis::pipe();
    for (id, doc) in docs {
        pipe.cmd("JSON.SET")
            .arg(format!("{table}:{id}"))
            .arg("$")
            .arg(doc.to_string())
            .ignore();
    }
    let () = pipe.query_async(&mut con).await.expect("seed json");
}

/// The stored document of a key, parsed.
async fn json_get(url: &str, key: &str) -> Option<Json> {
    let mut con = redis(url).await;
    let raw: Option<String> = redis::cmd("JSON.GET").arg(key).query_async(&mut con).await.unwrap();
    raw.map(|r| serde_json::from_str(&r).unwrap())
}

async fn error_of(client: &tokio_postgres::Client, sql: &str) -> (String, String) {
    match client.simple_query(sql).await {
        Ok(_) => panic!("expected {sql} to fail"),
        Err(e) => {
            let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
            (db.code().code().to_string(), db.message().to_string())
        }
    }
}

#[tokio::test]
async fn json_documents_read_as_typed_tables_with_dotted_columns() {
    let url = redis_url();
    let t = unique("jdocs");
    seed_json(
        &url,
        &t,
        &[
            (
                "1",
                json!({"id": 1, "name": "Ann", "score": 2.5, "active": true, "born": "1990-05-01",
                       "address": {"city": "Oslo", "zip": "0150", "geo": {"lat": 59.9}},
                       "tags": ["a", "b"], "n": 10}),
            ),
            (
                "2",
                json!({"id": 2, "name": "Bo", "score": 3, "active": false, "born": "1991-06-02",
                       "address": {"city": "Rome"}, "tags": [], "n": 20}),
            ),
            (
                "3",
                json!({"id": 3, "name": null, "score": 1e-7, "active": true, "born": "1992-07-03",
                       "tags": [{"k": 1}], "n": "oops"}),
            ),
        ],
    )
    .await;
    let server = start_server(&url).await;
    let mut c = connect(&server).await;
    let storage = texts(
        &c.client,
        &format!("SELECT storage, key_count FROM redsql.tables WHERE table_name = '{t}'"),
    )
    .await;
    assert_eq!(storage, vec![vec![s("json"), s("3")]]);
    let cols = texts(
        &c.client,
        &format!("SELECT column_name, data_type FROM redsql.columns WHERE table_name = '{t}'"),
    )
    .await;
    let mut cols: Vec<(String, String)> = cols
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    // Columns come in the order first seen in the sample, which SCAN orders.
    cols.sort();
    let mut expected = [
        ("_key", "text"),
        ("id", "bigint"),
        ("name", "text"),
        ("score", "double precision"),
        ("active", "boolean"),
        ("born", "date"),
        ("address.city", "text"),
        ("address.zip", "text"),
        ("address.geo.lat", "double precision"),
        ("tags", "text"),
        ("n", "bigint"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    expected.sort();
    assert_eq!(cols, expected);

    let rows = c
        .client
        .query(
            &format!(
                "SELECT id, name, score, active, born, \"address.city\", \"address.zip\", \"address.geo.lat\", tags, n \
                 FROM {t} ORDER BY id"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert_eq!(r.get::<_, i64>(0), 1);
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("Ann"));
    assert_eq!(r.get::<_, f64>(2), 2.5);
    assert!(r.get::<_, bool>(3));
    assert_eq!(
        r.get::<_, chrono::NaiveDate>(4),
        chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap()
    );
    assert_eq!(r.get::<_, Option<String>>(5).as_deref(), Some("Oslo"));
    assert_eq!(r.get::<_, Option<String>>(6).as_deref(), Some("0150"));
    assert_eq!(r.get::<_, Option<f64>>(7), Some(59.9));
    assert_eq!(r.get::<_, Option<String>>(8).as_deref(), Some(r#"["a","b"]"#));
    assert_eq!(r.get::<_, Option<i64>>(9), Some(10));
    // Missing nested object and null: NULL; an empty array is "[]".
    let r = &rows[1];
    assert_eq!(r.get::<_, f64>(2), 3.0);
    assert_eq!(r.get::<_, Option<String>>(6), None);
    assert_eq!(r.get::<_, Option<String>>(8).as_deref(), Some("[]"));
    let r = &rows[2];
    assert_eq!(r.get::<_, Option<String>>(1), None);
    assert_eq!(r.get::<_, f64>(2), 1e-7);
    assert_eq!(r.get::<_, Option<String>>(5), None);
    assert_eq!(r.get::<_, Option<String>>(8).as_deref(), Some(r#"[{"k":1}]"#));
    // A string in a bigint column reads as NULL, with a NOTICE.
    assert_eq!(r.get::<_, Option<i64>>(9), None);
    let notices = c.drain_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].starts_with("1 value of column \"n\"") && notices[0].contains("oops"),
        "{}",
        notices[0]
    );
    // Filters and aggregates over nested columns.
    let got = texts(
        &c.client,
        &format!("SELECT count(*), sum(n) FROM {t} WHERE \"address.city\" IS NOT NULL AND active"),
    )
    .await;
    assert_eq!(got, vec![vec![s("1"), s("10")]]);
    server.shutdown().await;
}

#[tokio::test]
async fn json_table_writes_keep_json_types_and_read_back_identically() {
    let url = redis_url();
    let t = unique("jwrite");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, score double precision, active boolean, \
             born date, seen timestamp, \"address.city\" text, \"address.zip\" text) \
             WITH (storage = 'json', prefix = '{t}_p:')"
        ))
        .await
        .unwrap();
    let got = texts(
        &c.client,
        &format!("SELECT storage, prefix FROM redsql.tables WHERE table_name = '{t}'"),
    )
    .await;
    assert_eq!(got, vec![vec![s("json"), s(&format!("{t}_p:"))]]);
    let n = c
        .client
        .execute(
            &format!(
                "INSERT INTO {t} (id, name, score, active, born, seen, \"address.city\", \"address.zip\") VALUES \
                 (1, 'héllo \"q\"', 0.1, true, '1999-12-31', '2024-02-29 23:59:58.25', 'Oslo', '0150'), \
                 (2, '42', 2, false, NULL, NULL, NULL, NULL), \
                 (3, NULL, NULL, NULL, NULL, NULL, 'Rome', NULL)"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    // Stored as JSON types: numbers, booleans and null, not strings.
    assert_eq!(
        json_get(&url, &format!("{t}_p:1")).await.unwrap(),
        json!({"id": 1, "name": "héllo \"q\"", "score": 0.1, "active": true, "born": "1999-12-31",
               "seen": "2024-02-29T23:59:58.25", "address": {"city": "Oslo", "zip": "0150"}})
    );
    let doc2 = json_get(&url, &format!("{t}_p:2")).await.unwrap();
    assert_eq!(
        doc2,
        json!({"id": 2, "name": "42", "score": 2.0, "active": false, "born": null, "seen": null,
               "address": {"city": null, "zip": null}})
    );
    assert!(doc2["score"].is_f64() && doc2["id"].is_i64() && doc2["name"].is_string());
    let all =
        format!("SELECT id, name, score, active, born, seen, \"address.city\", \"address.zip\" FROM {t} ORDER BY id");
    assert_eq!(
        texts(&c.client, &all).await,
        vec![
            vec![
                s("1"),
                s("héllo \"q\""),
                s("0.1"),
                s("t"),
                s("1999-12-31"),
                s("2024-02-29 23:59:58.25"),
                s("Oslo"),
                s("0150")
            ],
            vec![s("2"), s("42"), s("2"), s("f"), None, None, None, None],
            vec![s("3"), None, None, None, None, None, s("Rome"), None],
        ]
    );

    // Duplicates, DO NOTHING, and values JSON cannot hold.
    assert_eq!(
        sqlstate(&c.client, &format!("INSERT INTO {t} (id, name) VALUES (1, 'again')")).await,
        "23505"
    );
    let n = c
        .client
        .execute(
            &format!("INSERT INTO {t} (id, name) VALUES (1, 'again'), (4, 'four') ON CONFLICT (id) DO NOTHING"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        json_get(&url, &format!("{t}_p:4")).await.unwrap(),
        json!({"id": 4, "name": "four"})
    );
    let (code, msg) = error_of(&c.client, &format!("INSERT INTO {t} (id, score) VALUES (5, 'NaN')")).await;
    assert_eq!(code, "22P02");
    assert!(msg.contains("JSON"), "{msg}");
    assert_eq!(json_get(&url, &format!("{t}_p:5")).await, None);

    // UPDATE sets changed fields with their JSON types, NULL as null, and
    // creates missing parents of dotted columns.
    let n = c
        .client
        .execute(
            &format!("UPDATE {t} SET score = score + 1, name = NULL, \"address.zip\" = '9' WHERE id IN (1, 4)"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        json_get(&url, &format!("{t}_p:1")).await.unwrap(),
        json!({"id": 1, "name": null, "score": 1.1, "active": true, "born": "1999-12-31",
               "seen": "2024-02-29T23:59:58.25", "address": {"city": "Oslo", "zip": "9"}})
    );
    assert_eq!(
        json_get(&url, &format!("{t}_p:4")).await.unwrap(),
        json!({"id": 4, "name": null, "score": null, "address": {"zip": "9"}})
    );
    let stmt = c
        .client
        .prepare(&format!("UPDATE {t} SET active = $1, born = $2 WHERE id = $3"))
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
    assert_eq!(c.client.execute(&stmt, &[&true, &day, &3i64]).await.unwrap(), 1);
    let doc3 = json_get(&url, &format!("{t}_p:3")).await.unwrap();
    assert_eq!((&doc3["active"], &doc3["born"]), (&json!(true), &json!("2000-01-02")));

    // DELETE, TRUNCATE, DROP.
    let n = c
        .client
        .execute(&format!("DELETE FROM {t} WHERE \"address.zip\" = '9'"), &[])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(json_get(&url, &format!("{t}_p:1")).await, None);
    assert_eq!(
        texts(&c.client, &format!("SELECT id FROM {t} ORDER BY id")).await,
        vec![vec![s("2")], vec![s("3")]]
    );
    c.client.batch_execute(&format!("TRUNCATE {t}")).await.unwrap();
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("0")]]
    );
    c.client
        .batch_execute(&format!("INSERT INTO {t} (id) VALUES (9)"))
        .await
        .unwrap();
    c.client.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
    assert_eq!(json_get(&url, &format!("{t}_p:9")).await, None);
    assert_eq!(sqlstate(&c.client, &format!("SELECT * FROM {t}")).await, "42P01");
    server.shutdown().await;
}

#[tokio::test]
async fn copy_from_stdin_into_a_json_table() {
    let url = redis_url();
    let t = unique("jcopy");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, score double precision, \"geo.ok\" boolean) \
             WITH (storage = 'json')"
        ))
        .await
        .unwrap();
    let sink = c
        .client
        .copy_in(&format!("COPY {t} FROM STDIN WITH (FORMAT csv)"))
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from("1,\"Lee, Ann\",1.5,t\n2,,")).await.unwrap();
    sink.send(Bytes::from(",\n3,\"\",-0.25,false\n")).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 3);
    assert_eq!(
        json_get(&url, &format!("{t}:1")).await.unwrap(),
        json!({"id": 1, "name": "Lee, Ann", "score": 1.5, "geo": {"ok": true}})
    );
    assert_eq!(
        json_get(&url, &format!("{t}:2")).await.unwrap(),
        json!({"id": 2, "name": null, "score": null, "geo": {"ok": null}})
    );
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT id, name, score, \"geo.ok\" FROM {t} ORDER BY id")
        )
        .await,
        vec![
            vec![s("1"), s("Lee, Ann"), s("1.5"), s("t")],
            vec![s("2"), None, None, None],
            vec![s("3"), s(""), s("-0.25"), s("f")],
        ]
    );
    // A duplicate key stops the COPY like for hashes.
    let sink = c.client.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from("3\tx\t1\tt\n")).await.unwrap();
    let e = sink.finish().await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23505"), "{e}");
    server.shutdown().await;
}

#[tokio::test]
async fn hashes_and_json_documents_never_overwrite_each_other() {
    let url = redis_url();
    let mut r = redis(&url).await;
    let server = start_server(&url).await;
    let mut c = connect(&server).await;

    // A JSON table over a prefix that holds hashes cannot be declared, nor the reverse.
    let h = unique("jh");
    seed(&url, &h, &[("1", &[("a", "1")])]).await;
    let (code, msg) = error_of(
        &c.client,
        &format!("CREATE TABLE {h}_t (id bigint PRIMARY KEY, a bigint) WITH (storage = 'json', prefix = '{h}:')"),
    )
    .await;
    assert_eq!(code, "42809", "{msg}");
    assert!(msg.contains("hashes"), "{msg}");
    let j = unique("jj");
    seed_json(&url, &j, &[("1", json!({"a": 1}))]).await;
    let (code, msg) = error_of(
        &c.client,
        &format!("CREATE TABLE {j}_t (id bigint PRIMARY KEY, a bigint) WITH (prefix = '{j}:')"),
    )
    .await;
    assert_eq!(code, "42809", "{msg}");

    // A declared JSON table never writes over a key of another type.
    let t = unique("jkeys");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, a bigint) WITH (storage = 'json')"
        ))
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(format!("{t}:5"))
        .arg("plain string")
        .query_async(&mut r)
        .await
        .unwrap();
    for sql in [
        format!("INSERT INTO {t} VALUES (5, 1)"),
        format!("INSERT INTO {t} VALUES (5, 1) ON CONFLICT (id) DO NOTHING"),
    ] {
        let (code, msg) = error_of(&c.client, &sql).await;
        assert_eq!(code, "42809", "{sql}: {msg}");
        assert!(msg.contains("not overwritten"), "{msg}");
    }
    let kept: String = redis::cmd("GET")
        .arg(format!("{t}:5"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(kept, "plain string");

    // A hash slipped into a JSON table's prefix: skipped on read with a
    // NOTICE, and INSERT is refused until it is gone.
    c.client
        .batch_execute(&format!("INSERT INTO {t} VALUES (1, 10)"))
        .await
        .unwrap();
    seed(&url, &t, &[("2", &[("a", "20")])]).await;
    server_refresh(&c.client, &t).await;
    c.drain_notices();
    assert_eq!(
        texts(&c.client, &format!("SELECT id, a FROM {t}")).await,
        vec![vec![s("1"), s("10")]]
    );
    let notices = c.drain_notices();
    assert!(
        notices.iter().any(|n| n.contains("1 hashes") && n.contains("skipped")),
        "{notices:?}"
    );
    let (code, msg) = error_of(&c.client, &format!("INSERT INTO {t} VALUES (3, 30)")).await;
    assert_eq!(code, "42809", "{msg}");
    let hash: Vec<String> = redis::cmd("HVALS")
        .arg(format!("{t}:2"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(hash, ["20"]);

    // A discovered prefix with more documents than hashes is a JSON table.
    let m = unique("jmix");
    seed_json(&url, &m, &[("1", json!({"v": 1})), ("2", json!({"v": 2}))]).await;
    seed(&url, &m, &[("3", &[("v", "3")])]).await;
    server_refresh(&c.client, &m).await;
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT storage, key_count FROM redsql.tables WHERE table_name = '{m}'")
        )
        .await,
        vec![vec![s("json"), s("2")]]
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT sum(v) FROM {m}")).await,
        vec![vec![s("3")]]
    );
    assert_eq!(
        sqlstate(&c.client, &format!("INSERT INTO {m} (_key, v) VALUES ('4', 4)")).await,
        "42809"
    );
    server.shutdown().await;
}

/// Make the catalog see keys seeded behind its back: reading a system view
/// rescans when the last scan is over a second old.
async fn server_refresh(client: &tokio_postgres::Client, table: &str) {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let _ = texts(
        client,
        &format!("SELECT key_count FROM redsql.tables WHERE table_name = '{table}'"),
    )
    .await;
}

#[tokio::test]
async fn json_tables_need_redisjson() {
    let url = plain_redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let t = unique("jplain");
    let (code, msg) = error_of(
        &c.client,
        &format!("CREATE TABLE {t} (id bigint PRIMARY KEY, a text) WITH (storage = 'json')"),
    )
    .await;
    assert_eq!(code, "0A000", "{msg}");
    assert!(msg.contains("RedisJSON"), "{msg}");
    // Hash tables are unaffected.
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, a text); INSERT INTO {t} VALUES (1, 'x')"
        ))
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, &format!("SELECT id, a FROM {t}")).await,
        vec![vec![s("1"), s("x")]]
    );
    c.client.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
    server.shutdown().await;
}
