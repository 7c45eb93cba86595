//! redsql's own RESP3 client (src/store/resp3.rs), which carries every
//! FT.* command of a pushed-down query, against a real Redis with
//! RediSearch: cursors read to the end, partial-result warnings visible,
//! error replies leaving the connection usable, replies larger than one
//! socket read.

use std::time::{Duration, Instant};

use redsql::store::resp3::{Conn, Reply};
use redsql::store::Store;

use crate::common::*;

async fn call(c: &mut Conn, args: &[&str]) -> Reply {
    c.call(args).await.unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// A scalar reply field as text (strings, doubles and integers alike).
fn text(f: Option<redsql::store::resp3::Frame<'_>>) -> Option<String> {
    let f = f?;
    f.bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .or_else(|| f.int().map(|n| n.to_string()))
}

#[tokio::test]
async fn ft_replies_are_read_whole_with_warnings_errors_and_cursors() {
    let url = redis_url();
    let t = unique("resp3");
    let index = format!("{t}_idx");
    // Nine rows with v = 0..8, then one without v (a missing value).
    let mut rows: Vec<(String, Vec<(&str, String)>)> = (0..9)
        .map(|i| (i.to_string(), vec![("v", i.to_string()), ("name", format!("n{i}"))]))
        .collect();
    rows.push(("9".into(), vec![("name", "n9".into())]));
    let store = Store::connect(&url).await.unwrap();
    let mut c = store.search_conn().await.unwrap();
    let created = call(
        &mut c,
        &[
            "FT.CREATE",
            &index,
            "ON",
            "HASH",
            "PREFIX",
            "1",
            &format!("{t}:"),
            "SCHEMA",
            "v",
            "NUMERIC",
            "SORTABLE",
        ],
    )
    .await;
    assert_eq!(text(Some(created.frame())).as_deref(), Some("OK"));
    // FT.CREATE starts a background scan of existing keys even when there
    // are none; rows written while it runs are indexed in hash order. Once
    // it has finished, rows get document ids in the order written, so the
    // row without v is met last: RediSearch then warns (met first, it
    // errors instead).
    wait_indexed(&mut c, &index).await;
    let mut con = redis(&url).await;
    for (id, fields) in &rows {
        let () = redis::cmd("HSET")
            .arg(format!("{t}:{id}"))
            .arg(fields.clone())
            .query_async(&mut con)
            .await
            .unwrap();
    }
    wait_indexed(&mut c, &index).await;

    // A cursor two rows a page, read to its end.
    let mut values = Vec::new();
    let mut pages = 0;
    let mut reply = call(
        &mut c,
        &[
            "FT.AGGREGATE",
            &index,
            "@v:[-inf +inf]",
            "LOAD",
            "1",
            "@v",
            "WITHCURSOR",
            "COUNT",
            "2",
            "DIALECT",
            "2",
        ],
    )
    .await;
    loop {
        let cursor = {
            let f = reply.frame();
            let mut parts = f.elements();
            let page = parts.next().expect("page");
            for r in page.get("results").expect("results").elements() {
                let attrs = r.get("extra_attributes").expect("extra_attributes");
                values.push(text(attrs.get("v")).expect("v").parse::<i64>().unwrap());
            }
            parts.next().and_then(|c| c.int()).expect("cursor id")
        };
        pages += 1;
        if cursor == 0 {
            break;
        }
        reply = call(
            &mut c,
            &["FT.CURSOR", "READ", &index, &cursor.to_string(), "COUNT", "2"],
        )
        .await;
    }
    values.sort();
    assert_eq!(values, (0..9).collect::<Vec<i64>>());
    assert!(pages >= 5, "{pages} pages of at most 2 rows");

    // A missing value in FILTER: RediSearch truncates the result and says so
    // only in RESP3's warning list, which the client must expose.
    let reply = call(
        &mut c,
        &[
            "FT.AGGREGATE",
            &index,
            "*",
            "LOAD",
            "2",
            "@__key",
            "@v",
            "FILTER",
            "@v != 4",
            "DIALECT",
            "2",
        ],
    )
    .await;
    let f = reply.frame();
    let warning = f
        .get("warning")
        .and_then(|w| w.elements().next())
        .and_then(|w| w.bytes());
    assert!(warning.is_some(), "expected a partial-result warning in {f:?}");

    // An error reply is a frame; the connection stays usable.
    let reply = call(&mut c, &["FT.AGGREGATE", &format!("{t}_no_such_index"), "*"]).await;
    let err = reply.frame().error().map(|e| String::from_utf8_lossy(e).to_lowercase());
    assert!(err.as_deref().is_some_and(|e| e.contains("no such index")), "{err:?}");
    assert_eq!(
        text(Some(call(&mut c, &["PING"]).await.frame())).as_deref(),
        Some("PONG")
    );

    // A reply far larger than one socket read arrives whole and exact.
    let big: String = (0..3_000_000u32).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let key = format!("{t}:big");
    call(&mut c, &["SET", &key, &big]).await;
    let reply = call(&mut c, &["GET", &key]).await;
    assert!(
        reply.frame().bytes() == Some(big.as_bytes()),
        "3 MB value read back exactly"
    );

    store.search_done(c);
    let mut c = store.search_conn().await.unwrap();
    call(&mut c, &["FT.DROPINDEX", &index]).await;
    let mut del = vec!["DEL".to_string(), key];
    del.extend(rows.iter().map(|(id, _)| format!("{t}:{id}")));
    let del: Vec<&str> = del.iter().map(String::as_str).collect();
    assert_eq!(call(&mut c, &del).await.frame().int(), Some(11));
    store.search_done(c);
}

/// Waits until the index's background scan has finished.
async fn wait_indexed(c: &mut Conn, index: &str) {
    let started = Instant::now();
    loop {
        let info = call(c, &["FT.INFO", index]).await;
        let f = info.frame();
        assert!(f.is_map(), "FT.INFO over RESP3 is a map");
        if text(f.get("indexing")).as_deref() == Some("0") && text(f.get("percent_indexed")).as_deref() == Some("1") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "index not built");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The scan path's batch read: HMGET of many keys pipelined on one RESP3
/// connection, one frame per key in order, each key's row status exact
/// (a hash is a row, also one lacking every field read only if it exists;
/// a missing key or one of another type is not), values larger than a
/// socket read intact.
#[tokio::test]
async fn pipelined_hmget_reads_each_key_in_order() {
    let url = redis_url();
    let t = unique("hmget_rows");
    let store = Store::connect(&url).await.unwrap();
    let mut c = store.search_conn().await.unwrap();
    let big = "y".repeat(300_000);
    call(&mut c, &["HSET", &format!("{t}:1"), "a", "1", "b", "one"]).await;
    call(&mut c, &["HSET", &format!("{t}:2"), "b", &big]).await;
    call(&mut c, &["HSET", &format!("{t}:3"), "other", "x"]).await;
    call(&mut c, &["SET", &format!("{t}:4"), "a string"]).await;
    store.search_done(c);
    let keys: Vec<Vec<u8>> = (1..=5).map(|i| format!("{t}:{i}").into_bytes()).collect();
    let fields = ["a".to_string(), "b".to_string()];
    let (reply, rows) = store.hmget_rows(&keys, &fields).await.unwrap();
    assert_eq!(rows, [true, true, true, false, false]);
    let values: Vec<Vec<Option<String>>> = reply
        .frames()
        .map(|f| {
            f.elements()
                .map(|v| v.bytes().map(|b| String::from_utf8_lossy(b).into_owned()))
                .collect()
        })
        .collect();
    assert_eq!(values[0], [Some("1".to_string()), Some("one".to_string())]);
    assert_eq!(values[1], [None, Some(big)]);
    assert_eq!(values[2], [None, None]);
    assert_eq!(values[4], [None, None]);
    // No fields: existence alone.
    let (_, rows) = store.hmget_rows(&keys, &[]).await.unwrap();
    assert_eq!(rows, [true, true, true, true, false]);
    let mut c = store.search_conn().await.unwrap();
    let del: Vec<String> = std::iter::once("DEL".to_string())
        .chain((1..=4).map(|i| format!("{t}:{i}")))
        .collect();
    assert_eq!(c.call(&del).await.unwrap().frame().int(), Some(4));
    store.search_done(c);
}
