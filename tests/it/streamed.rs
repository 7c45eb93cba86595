//! A row-wise SELECT that SCAN reads, or whose rows RediSearch fetches, is
//! run and sent chunk by chunk (exec::stream, session::streamed). The client must not be able to tell:
//! the same rows, types and notices as the same query run whole, in both
//! protocols; an error part way through leaves the session usable; Execute
//! with a row limit, multi-statement strings and COPY of a key lookup take
//! the whole path.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use futures::StreamExt;
use tokio_postgres::Row;

use crate::common::*;

/// Rows in the table: three chunks (exec::stream::CHUNK_ROWS is 8192).
const ROWS: i64 = 20_000;
/// Ids whose `n` is not a bigint (read as NULL with a NOTICE).
const MESSY: [i64; 3] = [5, 9_001, 17_003];

fn ts_of(id: i64) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + Duration::seconds(id)
}

/// A table of `ROWS` rows: id, n = 3·id (text "oops" for the MESSY ids), s, ts.
async fn table(url: &str, c: &Conn) -> String {
    let t = unique("streamed");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, n bigint, s text, ts timestamp)"
        ))
        .await
        .unwrap();
    let mut con = redis(url).await;
    let mut pipe = redis::pipe();
    for id in 1..=ROWS {
        let n = if MESSY.contains(&id) {
            "oops".to_string()
        } else {
            (3 * id).to_string()
        };
        let ts = ts_of(id).format("%Y-%m-%d %H:%M:%S").to_string();
        pipe.cmd("HSET")
            .arg(format!("{t}:{id}"))
            .arg(&[("n", n), ("s", format!("s{}", id % 7)), ("ts", ts)])
            .ignore();
    }
    let () = pipe.query_async(&mut con).await.unwrap();
    t
}

/// A row-wise query over the table.
fn row_wise(t: &str) -> String {
    format!("SELECT id, n + 1 AS m, upper(s) AS u, ts FROM {t} WHERE id % 3 <> 0")
}

/// What [`row_wise`] must return, computed from the stored data, in text form, by id.
fn expected() -> Vec<Vec<Option<String>>> {
    expected_where(|id| id % 3 != 0)
}

/// The rows of ids that `keep`, as [`row_wise`]'s columns.
fn expected_where(keep: impl Fn(i64) -> bool) -> Vec<Vec<Option<String>>> {
    (1..=ROWS)
        .filter(|id| keep(*id))
        .map(|id| {
            vec![
                Some(id.to_string()),
                (!MESSY.contains(&id)).then(|| (3 * id + 1).to_string()),
                Some(format!("S{}", id % 7)),
                Some(ts_of(id).format("%Y-%m-%d %H:%M:%S").to_string()),
            ]
        })
        .collect()
}

fn sorted(mut rows: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    rows.sort_by_key(|r| r[0].as_deref().and_then(|id| id.parse::<i64>().ok()));
    rows
}

/// Notices without their example key (which row is met first depends on the read).
fn counted(notices: Vec<String>) -> Vec<String> {
    notices
        .into_iter()
        .map(|n| n.split(" (e.g.").next().unwrap().to_string())
        .collect()
}

fn typed(rows: &[Row]) -> Vec<(i64, Option<i64>, String, NaiveDateTime)> {
    let mut out: Vec<_> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    out.sort_by_key(|r| r.0);
    out
}

async fn explain(c: &Conn, sql: &str) -> String {
    let rows = texts(&c.client, &format!("EXPLAIN {sql}")).await;
    rows.into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn streamed_selects_send_what_the_whole_query_sends() {
    let url = redis_url();
    let server = start_server(&url).await;
    let mut c = connect(&server).await;
    let t = table(&url, &c).await;
    let streamed = row_wise(&t);
    // ORDER BY makes the query whole (not row-wise); the rows are the same set.
    let whole = format!("{streamed} ORDER BY id");
    assert!(explain(&c, &streamed).await.contains("chunk by chunk"));
    assert!(!explain(&c, &whole).await.contains("chunk by chunk"));
    c.drain_notices();

    // Simple protocol: text rows and notices.
    let got = texts(&c.client, &streamed).await;
    let streamed_notices = counted(c.drain_notices());
    assert_eq!(got.len(), expected().len());
    assert_eq!(sorted(got), expected());
    assert_eq!(texts(&c.client, &whole).await, expected());
    let whole_notices = counted(c.drain_notices());
    assert_eq!(
        streamed_notices,
        vec![format!(
            "{} values of column \"n\" in table \"{t}\" are not valid bigint and read as NULL",
            MESSY.len()
        )]
    );
    assert_eq!(streamed_notices, whole_notices);

    // Extended protocol, binary results, a parameter: the described types hold.
    let with_param = format!("SELECT id, n + 1 AS m, upper(s) AS u, ts FROM {t} WHERE id % 3 <> 0 AND id > $1");
    let rows = c.client.query(&with_param, &[&0i64]).await.unwrap();
    let whole_rows = c
        .client
        .query(&format!("{with_param} ORDER BY id"), &[&0i64])
        .await
        .unwrap();
    assert_eq!(typed(&rows), typed(&whole_rows));
    assert_eq!(rows.len(), expected().len());
    assert_eq!(
        counted(c.drain_notices()),
        [whole_notices.clone(), whole_notices].concat()
    );

    // A filter that keeps nothing, and an empty table: no rows, columns described.
    let none = c
        .client
        .query(&format!("SELECT id, s FROM {t} WHERE id < 0"), &[])
        .await
        .unwrap();
    assert!(none.is_empty());
    let empty = unique("streamed_empty");
    c.client
        .batch_execute(&format!("CREATE TABLE {empty} (id bigint PRIMARY KEY, s text)"))
        .await
        .unwrap();
    let addr = server.local_addr();
    let sql = format!("SELECT id, s FROM {empty}");
    let out = tokio::task::spawn_blocking(move || psql_command(addr).args(["-c", &sql]).output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" id | s") && stdout.contains("(0 rows)"), "{stdout}");
}

#[tokio::test]
async fn an_error_in_a_streamed_select_leaves_the_session_usable() {
    let url = redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let t = table(&url, &c).await;
    // One row's text does not cast to bigint: the query fails whichever chunk it is in.
    let bad = format!("SELECT id, CAST(CASE WHEN id = 12345 THEN 'x' ELSE CAST(id AS text) END AS bigint) FROM {t}");
    let e = c.client.simple_query(&bad).await.unwrap_err();
    let code = e.code().map(|c| c.code().to_string());
    assert_eq!(code.as_deref(), Some("22P02"), "{e}");
    let e = c.client.query(&bad, &[]).await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("22P02"), "{e}");
    // The session, the server and the data are fine.
    let n = texts(&c.client, &format!("SELECT id FROM {t} WHERE id % 1000 = 0")).await;
    assert_eq!(n.len() as i64, ROWS / 1000);
    let other = connect(&server).await;
    assert_eq!(
        texts(&other.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some(ROWS.to_string())]]
    );
}

#[tokio::test]
async fn row_limits_and_statement_lists_take_the_whole_path() {
    let url = redis_url();
    let server = start_server(&url).await;
    let mut c = connect(&server).await;
    let t = table(&url, &c).await;
    let sql = row_wise(&t);

    // Execute with a row limit (a portal read in pieces).
    let tx = c.client.transaction().await.unwrap();
    let portal = tx.bind(sql.as_str(), &[]).await.unwrap();
    let mut rows = tx.query_portal(&portal, 1000).await.unwrap();
    assert_eq!(rows.len(), 1000);
    loop {
        let more = tx.query_portal(&portal, 5000).await.unwrap();
        if more.is_empty() {
            break;
        }
        rows.extend(more);
    }
    tx.commit().await.unwrap();
    assert_eq!(typed(&rows).len(), expected().len());

    // Two statements in one string: both results, in order.
    let rows = texts(&c.client, &format!("{sql}; SELECT 42")).await;
    assert_eq!(rows.last().unwrap(), &vec![Some("42".to_string())]);
    assert_eq!(sorted(rows[..rows.len() - 1].to_vec()), expected());
    c.drain_notices();
}

#[tokio::test]
async fn copy_of_a_key_lookup_reads_the_key_not_the_table() {
    let server = private_server(1000).await;
    let c = connect(&server).await;
    let url = server.redis_url().to_string();
    let t = table(&url, &c).await;
    let mut con = redis(&url).await;
    let copy = |sql: String| {
        let client = &c.client;
        async move {
            let out = client.copy_out(sql.as_str()).await.unwrap();
            let parts: Vec<bytes::Bytes> = out.map(|b| b.unwrap()).collect().await;
            String::from_utf8(parts.concat()).unwrap()
        }
    };
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut con)
        .await
        .unwrap();
    let one = copy(format!("COPY (SELECT id, s FROM {t} WHERE id = 10) TO STDOUT")).await;
    assert_eq!(one, "10\ts3\n");
    assert_eq!(calls(&mut con, "scan").await, 0);
    // A row-wise export of the whole table streams over SCAN.
    let all = copy(format!("COPY (SELECT id FROM {t} WHERE id % 2 = 0) TO STDOUT")).await;
    assert_eq!(all.lines().count() as i64, ROWS / 2);
    assert!(calls(&mut con, "scan").await > 0);
}

#[tokio::test]
async fn a_pushed_down_fetch_streams_page_by_page() {
    let server = private_server(1000).await;
    let mut c = connect(&server).await;
    let url = server.redis_url().to_string();
    let t = table(&url, &c).await;
    c.client
        .batch_execute(&format!("CREATE INDEX ON {t} (s)"))
        .await
        .unwrap();
    // 2/7 of the rows: three cursor pages (CURSOR_COUNT is 2000), two messy values.
    let sql = format!("SELECT id, n + 1 AS m, upper(s) AS u, ts FROM {t} WHERE s IN ('s5', 's6')");
    let want = expected_where(|id| id % 7 >= 5);
    let started = std::time::Instant::now();
    loop {
        let plan = explain(&c, &sql).await;
        if plan.contains("FT.AGGREGATE") && texts(&c.client, &format!("{sql} ORDER BY id")).await == want {
            assert!(plan.contains("chunk by chunk"), "{plan}");
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "not pushed down: {plan}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    c.drain_notices();
    let mut con = redis(&url).await;
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut con)
        .await
        .unwrap();

    // Simple protocol: the rows and the notice about the unreadable values.
    assert_eq!(sorted(texts(&c.client, &sql).await), want);
    assert_eq!(
        counted(c.drain_notices()),
        vec![format!(
            "2 values of column \"n\" in table \"{t}\" are not valid bigint and read as NULL"
        )]
    );
    // Read page by page from the index, not scanned.
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await
        .unwrap();
    let cursor_reads: u64 = info
        .lines()
        .filter(|l| l.to_lowercase().starts_with("cmdstat_ft.cursor"))
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum();
    assert!(cursor_reads >= 2, "{info}");
    assert_eq!(calls(&mut con, "scan").await, 0);

    // Extended protocol with a parameter: what the whole path and the scan path return.
    let with_param = format!("{sql} AND id > $1");
    let rows = c.client.query(&with_param, &[&100i64]).await.unwrap();
    let whole = c
        .client
        .query(&format!("{with_param} ORDER BY id"), &[&100i64])
        .await
        .unwrap();
    assert_eq!(typed(&rows), typed(&whole));
    c.client.batch_execute("SET redsql.pushdown = off").await.unwrap();
    let scanned = c.client.query(&with_param, &[&100i64]).await.unwrap();
    assert_eq!(typed(&rows), typed(&scanned));
    assert_eq!(rows.len(), want.len() - 28); // ids 5, 6, 12, 13, ..., 96, 97 are not > 100
    c.drain_notices();

    // The same query as an export.
    let out = c
        .client
        .copy_out(format!("COPY ({sql}) TO STDOUT").as_str())
        .await
        .unwrap();
    let parts: Vec<bytes::Bytes> = out.map(|b| b.unwrap()).collect().await;
    assert_eq!(String::from_utf8(parts.concat()).unwrap().lines().count(), want.len());
}
