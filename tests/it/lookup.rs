//! Plain key lookups answered row by row (exec::lookup_rows, no Polars
//! frame) return what the general path returns: every type, in text and
//! binary form, NULLs, empty and unreadable values with their notices,
//! missing keys and keys of another Redis type.

use chrono::{NaiveDate, NaiveDateTime};
use tokio_postgres::types::Type;
use tokio_postgres::Row;

use crate::common::*;

/// A binary-format row as text, by each column's type.
fn show(row: &Row) -> Vec<String> {
    (0..row.len())
        .map(|i| match *row.columns()[i].type_() {
            Type::INT8 => format!("{:?}", row.get::<_, Option<i64>>(i)),
            Type::FLOAT8 => format!("{:?}", row.get::<_, Option<f64>>(i).map(f64::to_bits)),
            Type::BOOL => format!("{:?}", row.get::<_, Option<bool>>(i)),
            Type::DATE => format!("{:?}", row.get::<_, Option<NaiveDate>>(i)),
            Type::TIMESTAMP => format!("{:?}", row.get::<_, Option<NaiveDateTime>>(i)),
            Type::TEXT => format!("{:?}", row.get::<_, Option<String>>(i)),
            ref other => panic!("column {i} has type {other}"),
        })
        .collect()
}

/// A row as stored: key id, fields and values.
type Stored<'a> = (&'a str, &'a [(&'a str, &'a [u8])]);

#[tokio::test]
async fn row_by_row_lookups_equal_the_general_path() {
    let url = redis_url();
    let t = unique("lookrows");
    let server = start_server(&url).await;
    let mut c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, n bigint, f double precision, b boolean, d date, \
             ts timestamp, s text)"
        ))
        .await
        .unwrap();
    let mut con = redis(&url).await;
    let rows: &[Stored] = &[
        (
            "1",
            &[
                ("n", b"-42"),
                ("f", b"2.5"),
                ("b", b"true"),
                ("d", b"2024-03-01"),
                ("ts", b"2024-03-01 08:00:00.5"),
                ("s", b"a \"quoted\", text"),
            ],
        ),
        (
            "2",
            &[
                ("n", b"9223372036854775807"),
                ("f", b"0.00001"),
                ("b", b"f"),
                ("d", b"0001-01-01"),
                ("ts", b"1969-12-31 23:59:59.999999"),
                ("s", b""),
            ],
        ),
        // Only one field: the others are absent (NULL).
        ("3", &[("s", b"only text")]),
        // Empty values: NULL for every type but text.
        (
            "4",
            &[("n", b""), ("f", b""), ("b", b""), ("d", b""), ("ts", b""), ("s", b"")],
        ),
        // Values that are not of the column's type: NULL, with a notice each.
        (
            "5",
            &[
                ("n", b"1.5"),
                ("f", b"abc"),
                ("b", b"maybe"),
                ("d", b"2024-13-45"),
                ("ts", b"yesterday"),
                ("s", b"\xff\xfe not utf-8"),
            ],
        ),
        ("6", &[("f", b"1e300"), ("n", b"0"), ("ts", b"2024-03-01T08:00:00")]),
    ];
    let mut pipe = redis::pipe();
    for (id, fields) in rows {
        pipe.cmd("HSET").arg(format!("{t}:{id}")).arg(*fields).ignore();
    }
    pipe.cmd("SET")
        .arg(format!("{t}:7"))
        .arg("a string, not a row")
        .ignore();
    let () = pipe.query_async(&mut con).await.unwrap();
    c.drain_notices();

    let queries = [
        (format!("SELECT * FROM {t} WHERE id = $1"), 1),
        (format!("SELECT s AS x, id, s, f FROM {t} WHERE id = $1"), 1),
        // `b` is an alias here and a column too: both paths read (and report on) it.
        (format!("SELECT n AS b FROM {t} WHERE id = $1"), 1),
        (format!("SELECT * FROM {t} WHERE id IN ($1, $2, $1)"), 2),
    ];
    let ids: [i64; 9] = [1, 2, 3, 4, 5, 6, 7, 99, -1];
    for (direct_sql, n_params) in &queries {
        // A key lookup too, but not a plain one: read into a frame, Polars SQL applies the LIMIT.
        let general_sql = format!("{direct_sql} LIMIT 1000");
        let direct = c.client.prepare(direct_sql).await.unwrap();
        let general = c.client.prepare(&general_sql).await.unwrap();
        for (i, id) in ids.iter().enumerate() {
            let other = ids[(i + 3) % ids.len()];
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match n_params {
                1 => vec![id],
                _ => vec![id, &other],
            };
            // Binary form (tokio-postgres asks for binary results).
            let a = c.client.query(&direct, &params).await.unwrap();
            let direct_notices = c.drain_notices();
            let b = c.client.query(&general, &params).await.unwrap();
            let general_notices = c.drain_notices();
            let what = format!("{direct_sql} with {id}");
            assert_eq!(
                a.iter().map(show).collect::<Vec<_>>(),
                b.iter().map(show).collect::<Vec<_>>(),
                "{what}"
            );
            assert_eq!(direct_notices, general_notices, "{what}");
            let expected_rows = if n_params == &1 {
                usize::from((1..=6).contains(id))
            } else {
                usize::from((1..=6).contains(id)) + usize::from((1..=6).contains(&other) && other != *id)
            };
            assert_eq!(a.len(), expected_rows, "{what}");
            assert_eq!(a.first().map(Row::len), b.first().map(Row::len), "{what}");

            // Text form (simple protocol, literal ids).
            let literal = |sql: &str| sql.replace("$1", &id.to_string()).replace("$2", &other.to_string());
            let a = texts(&c.client, &literal(direct_sql)).await;
            let direct_notices = c.drain_notices();
            let b = texts(&c.client, &literal(&general_sql)).await;
            let general_notices = c.drain_notices();
            assert_eq!(a, b, "{what} as text");
            assert_eq!(direct_notices, general_notices, "{what} as text");
        }
    }

    // The values a user sees, as text (so equality above is not vacuous).
    let one = texts(&c.client, &format!("SELECT * FROM {t} WHERE id = 1")).await;
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        one,
        vec![vec![
            s("1"),
            s("-42"),
            s("2.5"),
            s("t"),
            s("2024-03-01"),
            s("2024-03-01 08:00:00.5"),
            s("a \"quoted\", text")
        ]]
    );
    let two = texts(&c.client, &format!("SELECT f, ts FROM {t} WHERE id = 2")).await;
    assert_eq!(two, vec![vec![s("1e-05"), s("1969-12-31 23:59:59.999999")]]);
    c.drain_notices();
    let five = texts(&c.client, &format!("SELECT n, f, s FROM {t} WHERE id = 5")).await;
    assert_eq!(five, vec![vec![None, None, s("\u{fffd}\u{fffd} not utf-8")]]);
    let notices = c.drain_notices();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("1 value of column \"n\"") && notices[0].contains("not valid bigint"),
        "{notices:?}"
    );
    // EXPLAIN ANALYZE of the prepared lookup says it is one (no Polars SQL).
    let analyze = c
        .client
        .prepare(&format!("EXPLAIN ANALYZE SELECT * FROM {t} WHERE id = $1"))
        .await
        .unwrap();
    let lines: Vec<String> = c
        .client
        .query(&analyze, &[&1i64])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(lines.iter().any(|l| l.contains("no Polars SQL")), "{lines:?}");
    server.shutdown().await;
}
