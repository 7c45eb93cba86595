//! End-to-end tests over real sockets: tokio-postgres → redsql → Redis.

use crate::common::*;
use chrono::{NaiveDate, NaiveDateTime};

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test]
async fn discovers_tables_and_infers_types_with_confidence() {
    let url = redis_url();
    let t = unique("infer");
    seed(
        &url,
        &t,
        &[
            (
                "1",
                &[
                    ("n", "1"),
                    ("x", "1.5"),
                    ("b", "true"),
                    ("d", "2024-01-01"),
                    ("ts", "2024-01-01T10:00:00"),
                    ("name", "a"),
                ],
            ),
            (
                "2",
                &[
                    ("n", "2"),
                    ("x", "2"),
                    ("b", "false"),
                    ("d", "2024-01-02"),
                    ("ts", "2024-01-02 11:00:00"),
                    ("name", "b"),
                ],
            ),
            (
                "3",
                &[
                    ("n", "3"),
                    ("x", "oops"),
                    ("b", "t"),
                    ("d", "2024-01-03"),
                    ("ts", "2024-01-03"),
                    ("name", "c"),
                ],
            ),
            ("4", &[("n", "zz"), ("b", "f"), ("name", "d")]),
        ],
    )
    .await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let rows = texts(
        &c.client,
        &format!(
            "SELECT column_name, data_type, confidence, null_ratio, samples FROM redsql.columns \
             WHERE table_name = '{t}' ORDER BY column_name"
        ),
    )
    .await;
    let expect = [
        ["_key", "text", "1", "0", "4"],
        ["b", "boolean", "1", "0", "4"],
        ["d", "date", "1", "0.25", "3"],
        ["n", "bigint", "0.75", "0", "4"],
        ["name", "text", "1", "0", "4"],
        ["ts", "timestamp without time zone", "1", "0.25", "3"],
    ];
    for e in expect {
        assert!(
            rows.iter()
                .any(|r| r.iter().map(|v| v.as_deref().unwrap_or("")).collect::<Vec<_>>() == e),
            "missing {e:?} in {rows:?}"
        );
    }
    let x = rows.iter().find(|r| r[0].as_deref() == Some("x")).unwrap();
    assert_eq!(x[1].as_deref(), Some("double precision"));
    let conf: f64 = x[2].as_deref().unwrap().parse().unwrap();
    assert!((conf - 2.0 / 3.0).abs() < 1e-9, "{conf}");

    let tables = texts(
        &c.client,
        &format!(
            "SELECT table_name, prefix, storage, key_count, index_name FROM redsql.tables WHERE table_name = '{t}'"
        ),
    )
    .await;
    assert_eq!(tables, vec![vec![s(&t), s(&format!("{t}:")), s("hash"), s("4"), None]]);
    server.shutdown().await;
}

#[tokio::test]
async fn new_prefixes_are_found_without_restart() {
    let url = redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let t = unique("late");
    assert_eq!(sqlstate(&c.client, &format!("SELECT * FROM {t}")).await, "42P01");
    seed(&url, &t, &[("1", &[("v", "10")]), ("2", &[("v", "32")])]).await;
    // Found at once on a miss (after the rate limit of one rescan per second).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rows = texts(&c.client, &format!("SELECT sum(v) FROM {t}")).await;
    assert_eq!(rows, vec![vec![s("42")]]);
    server.shutdown().await;
}

#[tokio::test]
async fn messy_values_read_as_null_with_a_notice() {
    let url = redis_url();
    let t = unique("messy");
    let mut rows: Vec<(String, Vec<(&str, &str)>)> =
        (1..=9).map(|i| (i.to_string(), vec![("amount", "1.5")])).collect();
    rows.push(("10".into(), vec![("amount", "n/a")]));
    let rows_ref: Vec<(&str, &[(&str, &str)])> = rows.iter().map(|(k, f)| (k.as_str(), f.as_slice())).collect();
    seed(&url, &t, &rows_ref).await;
    let server = start_server(&url).await;
    let mut c = connect(&server).await;
    let got = texts(
        &c.client,
        &format!("SELECT count(*), count(amount), sum(amount) FROM {t}"),
    )
    .await;
    assert_eq!(got, vec![vec![s("10"), s("9"), s("13.5")]]);
    let notices = c.drain_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("1 value of column \"amount\""), "{}", notices[0]);
    assert!(
        notices[0].contains(&format!("{t}:10")) && notices[0].contains("n/a"),
        "{}",
        notices[0]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn missing_fields_are_null_and_key_column_is_exposed() {
    let url = redis_url();
    let t = unique("sparse");
    seed(
        &url,
        &t,
        &[
            ("a", &[("x", "1"), ("y", "hello")]),
            ("b", &[("x", "2")]),
            ("c", &[("y", "")]),
        ],
    )
    .await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let rows = texts(&c.client, &format!("SELECT _key, x, y FROM {t} ORDER BY _key")).await;
    assert_eq!(
        rows,
        vec![
            vec![s("a"), s("1"), s("hello")],
            vec![s("b"), s("2"), None],
            vec![s("c"), None, s("")],
        ]
    );
    // Keys of nested prefixes belong to their own table.
    seed(&url, &format!("{t}:sub"), &[("1", &[("x", "100")])]).await;
    let rows = texts(&c.client, &format!("SELECT count(*) FROM {t}")).await;
    assert_eq!(rows, vec![vec![s("3")]]);
    server.shutdown().await;
}

#[tokio::test]
async fn every_type_round_trips_over_both_protocols() {
    let url = redis_url();
    let t = unique("types");
    seed(
        &url,
        &t,
        &[(
            "1",
            &[
                ("i", "-9007199254740993"),
                ("f", "0.1"),
                ("b", "true"),
                ("d", "2024-02-29"),
                ("ts", "2024-02-29T23:59:58.123456"),
                ("s", "héllo 'x'"),
            ],
        )],
    )
    .await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let sql = format!("SELECT i, f, b, d, ts, s, _key FROM {t}");
    // Extended protocol: typed values (binary results).
    let row = c.client.query_one(&sql, &[]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), -9007199254740993);
    assert_eq!(row.get::<_, f64>(1), 0.1);
    assert!(row.get::<_, bool>(2));
    assert_eq!(
        row.get::<_, NaiveDate>(3),
        NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
    );
    assert_eq!(
        row.get::<_, NaiveDateTime>(4),
        NaiveDateTime::parse_from_str("2024-02-29T23:59:58.123456", "%Y-%m-%dT%H:%M:%S%.f").unwrap()
    );
    assert_eq!(row.get::<_, String>(5), "héllo 'x'");
    assert_eq!(row.get::<_, String>(6), "1");
    let types: Vec<String> = row.columns().iter().map(|c| c.type_().name().to_string()).collect();
    assert_eq!(types, ["int8", "float8", "bool", "date", "timestamp", "text", "text"]);
    // Simple protocol: PostgreSQL's text forms.
    let rows = texts(&c.client, &sql).await;
    assert_eq!(
        rows,
        vec![vec![
            s("-9007199254740993"),
            s("0.1"),
            s("t"),
            s("2024-02-29"),
            s("2024-02-29 23:59:58.123456"),
            s("héllo 'x'"),
            s("1")
        ]]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_statements_bind_parameters_safely() {
    let url = redis_url();
    let t = unique("params");
    seed(
        &url,
        &t,
        &[
            ("1", &[("id", "1"), ("name", "ann")]),
            ("2", &[("id", "2"), ("name", "o'brien")]),
        ],
    )
    .await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let stmt = c
        .client
        .prepare(&format!("SELECT name FROM {t} WHERE id = $1"))
        .await
        .unwrap();
    assert_eq!(stmt.params()[0].name(), "int8");
    for (id, name) in [(1i64, "ann"), (2, "o'brien")] {
        let row = c.client.query_one(&stmt, &[&id]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), name);
    }
    let by_name = format!("SELECT id FROM {t} WHERE name = $1");
    let rows = c.client.query(&by_name, &[&"o'brien"]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i64>(0), 2);
    // An injection attempt is just a value that matches nothing.
    let rows = c.client.query(&by_name, &[&"x' OR '1'='1"]).await.unwrap();
    assert!(rows.is_empty());
    // NULL parameters compare as NULL.
    let rows = c.client.query(&by_name, &[&None::<String>]).await.unwrap();
    assert!(rows.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn multi_statement_empty_and_comment_only_queries() {
    let url = redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let msgs = c.client.simple_query("SELECT 1 AS a; SELECT 2 AS b").await.unwrap();
    let rows: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(rows, ["1", "2"]);
    for empty in ["", "-- ping", ";"] {
        let msgs = c.client.simple_query(empty).await.unwrap();
        assert!(
            !msgs
                .iter()
                .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))),
            "{empty:?} returned rows"
        );
    }
    c.client.batch_execute("/* nothing */ ;").await.unwrap();
    // An error stops the string; the session goes on.
    assert_eq!(
        sqlstate(&c.client, "SELECT 1; SELECT * FROM no_such_table_xyz; SELECT 3").await,
        "42P01"
    );
    assert_eq!(texts(&c.client, "SELECT 3 AS three").await, vec![vec![s("3")]]);
    server.shutdown().await;
}

#[tokio::test]
async fn errors_carry_sqlstates_and_the_session_survives() {
    let url = redis_url();
    let t = unique("errs");
    seed(&url, &t, &[("1", &[("v", "1")])]).await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    assert_eq!(sqlstate(&c.client, "SELECT * FROM does_not_exist_abc").await, "42P01");
    assert_eq!(sqlstate(&c.client, &format!("SELECT nope FROM {t}")).await, "42703");
    assert_eq!(sqlstate(&c.client, "SELEC 1").await, "42601");
    assert_eq!(
        sqlstate(&c.client, &format!("CREATE VIEW v AS SELECT * FROM {t}")).await,
        "0A000"
    );
    assert_eq!(
        sqlstate(&c.client, "SELECT * FROM read_csv('/etc/passwd')").await,
        "42501"
    );
    assert_eq!(
        sqlstate(&c.client, "SELECT * FROM read_parquet('/etc/hostname')").await,
        "42501"
    );
    assert_eq!(sqlstate(&c.client, "SELECT no_such_function(1)").await, "42883");
    // Extended protocol errors too.
    let e = c.client.prepare("SELECT * FROM does_not_exist_abc").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42P01");
    assert_eq!(
        texts(&c.client, &format!("SELECT v FROM {t}")).await,
        vec![vec![s("1")]]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn output_columns_are_named_like_postgres() {
    let url = redis_url();
    let t = unique("names");
    seed(&url, &t, &[("1", &[("v", "1")]), ("2", &[("v", "2")])]).await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let stmt = c
        .client
        .prepare(&format!(
            "SELECT count(*), sum(v), max(v), v, v, 1 FROM {t} GROUP BY v ORDER BY v"
        ))
        .await
        .unwrap();
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["count", "sum", "max", "v", "v", "?column?"]);
    let rows = c.client.query(&stmt, &[]).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].get::<_, i64>(4), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn unquoted_identifiers_fold_to_lower_case() {
    let url = redis_url();
    let t = unique("fold");
    seed(&url, &t, &[("1", &[("amount", "5")])]).await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let rows = texts(&c.client, &format!("SELECT AMOUNT AS Total FROM {} ", t.to_uppercase())).await;
    assert_eq!(rows, vec![vec![s("5")]]);
    let msgs = c
        .client
        .simple_query(&format!("SELECT amount AS \"Total\" FROM {t}"))
        .await
        .unwrap();
    let tokio_postgres::SimpleQueryMessage::RowDescription(cols) = &msgs[0] else {
        panic!()
    };
    assert_eq!(cols[0].name(), "Total");
    server.shutdown().await;
}

#[tokio::test]
async fn plain_redis_without_modules_gives_the_same_answers() {
    let t = unique("plain");
    let rows: &[(&str, &[(&str, &str)])] = &[
        ("1", &[("region", "north"), ("amount", "10.5"), ("status", "completed")]),
        ("2", &[("region", "south"), ("amount", "4"), ("status", "completed")]),
        ("3", &[("region", "north"), ("amount", "1"), ("status", "pending")]),
    ];
    let sql = format!("SELECT region, sum(amount) FROM {t} WHERE status = 'completed' GROUP BY region ORDER BY region");
    let mut answers = Vec::new();
    for url in [redis_url(), plain_redis_url()] {
        seed(&url, &t, rows).await;
        let server = start_server(&url).await;
        let c = connect(&server).await;
        answers.push(texts(&c.client, &sql).await);
        server.shutdown().await;
    }
    assert_eq!(answers[0], vec![vec![s("north"), s("10.5")], vec![s("south"), s("4")]]);
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn show_set_and_transaction_statements() {
    let server = start_server(&redis_url()).await;
    let c = connect(&server).await;
    c.client
        .batch_execute("SET application_name = 'tests'; BEGIN; COMMIT; START TRANSACTION; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(texts(&c.client, "SHOW application_name").await, vec![vec![s("tests")]]);
    assert_eq!(
        texts(&c.client, "SHOW TRANSACTION ISOLATION LEVEL").await,
        vec![vec![s("read committed")]]
    );
    assert_eq!(sqlstate(&c.client, "SHOW no_such_setting").await, "42704");
    server.shutdown().await;
}

/// redsql has no transactions: the first change inside BEGIN says so (once
/// per block, in both protocols and in a one-string script), and ROLLBACK
/// indeed keeps it.
#[tokio::test]
async fn changes_inside_begin_are_told_they_are_not_transactional() {
    let server = start_server(&redis_url()).await;
    let mut c = connect(&server).await;
    let t = unique("tx");
    c.client
        .batch_execute(&format!("CREATE TABLE {t} (id bigint PRIMARY KEY, v text)"))
        .await
        .unwrap();
    c.client
        .batch_execute(&format!("INSERT INTO {t} VALUES (1, 'a')"))
        .await
        .unwrap();
    assert!(c.drain_notices().is_empty(), "no notice outside a block");
    let told = "redsql has no transactions: this change is written to Redis now, and ROLLBACK will not undo it";

    // One string: BEGIN, two changes, ROLLBACK: one notice, both rows stay.
    c.client
        .batch_execute(&format!(
            "BEGIN; INSERT INTO {t} VALUES (2, 'b'); UPDATE {t} SET v = 'x' WHERE id = 1; ROLLBACK"
        ))
        .await
        .unwrap();
    assert_eq!(c.drain_notices(), vec![told.to_string()]);
    assert_eq!(
        texts(&c.client, &format!("SELECT id, v FROM {t} ORDER BY id")).await,
        vec![vec![s("1"), s("x")], vec![s("2"), s("b")]]
    );

    // Statement by statement, extended protocol: again once per block; reads say nothing.
    c.client.batch_execute("BEGIN").await.unwrap();
    c.client.query(&format!("SELECT * FROM {t}"), &[]).await.unwrap();
    assert!(c.drain_notices().is_empty());
    c.client
        .execute(&format!("DELETE FROM {t} WHERE id = $1"), &[&2i64])
        .await
        .unwrap();
    c.client
        .execute(&format!("DELETE FROM {t} WHERE id = $1"), &[&1i64])
        .await
        .unwrap();
    c.client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(c.drain_notices(), vec![told.to_string()]);
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("0")]]
    );
    c.client
        .batch_execute(&format!("INSERT INTO {t} VALUES (3, 'c')"))
        .await
        .unwrap();
    assert!(c.drain_notices().is_empty(), "the block is over");
    server.shutdown().await;
}
