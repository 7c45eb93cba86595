//! CREATE INDEX / DROP INDEX over real RediSearch: the field definitions
//! FT.CREATE gets, the refusals (unparsable numbers, types, names), the
//! background build seen in `redsql.tables`, and a Redis without RediSearch.
//! RediSearch indexes db 0 only, so these tests use db 0 with unique names.

use std::time::{Duration, Instant};

use redis::Value;
use serde_json::json;

use crate::common::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let Value::Array(items) = v else { return None };
    items
        .chunks(2)
        .find(|kv| text(&kv[0]).as_deref() == Some(key))
        .map(|kv| &kv[1])
}

/// FT.INFO of an index: (key type, prefixes, each attribute as its words).
async fn ft_info(url: &str, index: &str) -> (String, Vec<String>, Vec<Vec<String>>) {
    let mut con = redis(url).await;
    let info: Value = redis::cmd("FT.INFO").arg(index).query_async(&mut con).await.unwrap();
    let def = get(&info, "index_definition").unwrap();
    let key_type = get(def, "key_type").and_then(text).unwrap();
    let prefixes = match get(def, "prefixes") {
        Some(Value::Array(p)) => p.iter().filter_map(text).collect(),
        _ => vec![],
    };
    let attrs = match get(&info, "attributes") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|a| match a {
                Value::Array(w) => w.iter().map(|w| text(w).unwrap_or_default()).collect(),
                _ => vec![],
            })
            .collect(),
        _ => vec![],
    };
    (key_type, prefixes, attrs)
}

async fn ft_list(url: &str) -> Vec<String> {
    let mut con = redis(url).await;
    redis::cmd("FT._LIST").query_async(&mut con).await.unwrap()
}

/// The attribute over `alias`, as its words.
fn attr<'a>(attrs: &'a [Vec<String>], alias: &str) -> &'a Vec<String> {
    attrs
        .iter()
        .find(|a| a.windows(2).any(|w| w[0] == "attribute" && w[1] == alias))
        .unwrap_or_else(|| panic!("no attribute {alias} in {attrs:?}"))
}

fn has(words: &[String], flags: &[&str]) -> bool {
    flags.iter().all(|f| words.iter().any(|w| w == f))
}

/// The words of a text attribute and a numeric one as redsql creates them.
fn assert_exact_fields(attrs: &[Vec<String>], tag: &str, num: &str) {
    let t = attr(attrs, tag);
    assert!(
        has(
            t,
            &["TAG", "CASESENSITIVE", "SORTABLE", "UNF", "INDEXMISSING", "INDEXEMPTY"]
        ),
        "{t:?}"
    );
    let n = attr(attrs, num);
    assert!(has(n, &["NUMERIC", "SORTABLE", "INDEXMISSING"]), "{n:?}");
    assert!(!has(n, &["INDEXEMPTY"]), "{n:?}");
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

/// `redsql.tables`' index columns for one table.
async fn index_row(client: &tokio_postgres::Client, t: &str) -> Vec<Option<String>> {
    let rows = texts(
        client,
        &format!("SELECT index_name, index_usable, index_note FROM redsql.tables WHERE table_name = '{t}'"),
    )
    .await;
    rows.into_iter().next().unwrap_or_else(|| panic!("no table {t}"))
}

/// Poll `redsql.tables` until the table's index is usable; every state seen
/// on the way is "being built" or usable.
async fn wait_usable(client: &tokio_postgres::Client, t: &str, index: &str) -> Vec<Vec<Option<String>>> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let row = index_row(client, t).await;
        assert_eq!(row[0].as_deref(), Some(index), "{row:?}");
        if !seen.contains(&row) {
            seen.push(row.clone());
        }
        match row[1].as_deref() {
            Some("t") => {
                assert_eq!(row[2], None, "{row:?}");
                return seen;
            }
            Some("f") => {
                let note = row[2].clone().unwrap_or_default();
                assert!(note.contains("being built"), "{row:?}");
            }
            _ => panic!("unexpected {row:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "index never usable: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn create_index_on_a_declared_table_and_drop_it() {
    let url = redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    let t = unique("ixd");
    texts(
        &c,
        &format!(
            "CREATE TABLE {t} (id text PRIMARY KEY, region text, amount bigint, price double precision, \
             ok boolean, day date)"
        ),
    )
    .await;
    texts(
        &c,
        &format!(
            "INSERT INTO {t} VALUES ('1', 'EU', 5, 1.5, true, '2024-01-01'), ('2', 'us', NULL, 2, false, NULL), \
             ('3', '', 7, NULL, NULL, NULL)"
        ),
    )
    .await;
    assert_eq!(index_row(&c, &t).await, vec![None, None, None]);

    // Refusals, before anything is created.
    let (code, msg) = error_of(&c, &format!("CREATE INDEX ON {t} (region, ok)")).await;
    assert_eq!(code, "0A000");
    assert!(
        msg.contains("\"ok\" is boolean: CREATE INDEX supports text, bigint and double columns"),
        "{msg}"
    );
    assert_eq!(sqlstate(&c, &format!("CREATE INDEX ON {t} (day)")).await, "0A000");
    let (code, msg) = error_of(&c, &format!("CREATE INDEX ON {t} (id)")).await;
    assert_eq!(code, "0A000");
    assert!(msg.contains("is the key"), "{msg}");
    assert_eq!(sqlstate(&c, &format!("CREATE INDEX ON {t} (nope)")).await, "42703");
    assert_eq!(
        sqlstate(&c, &format!("CREATE INDEX ON {t} (region, region)")).await,
        "42701"
    );
    assert_eq!(
        sqlstate(&c, &format!("CREATE INDEX ON {t}_nope (region)")).await,
        "42P01"
    );
    assert!(!ft_list(&url).await.contains(&format!("{t}_idx")));

    // The default name is <table>_idx.
    texts(&c, &format!("CREATE INDEX ON {t} (region, amount, price)")).await;
    let idx = format!("{t}_idx");
    let (key_type, prefixes, attrs) = ft_info(&url, &idx).await;
    assert_eq!(key_type, "HASH");
    assert_eq!(prefixes, vec![format!("{t}:")]);
    assert_eq!(attrs.len(), 3);
    assert_exact_fields(&attrs, "region", "amount");
    let r = attr(&attrs, "region");
    let sep = r.iter().position(|w| w == "SEPARATOR").unwrap();
    assert_eq!(r[sep + 1], "\u{1f}");
    assert!(has(attr(&attrs, "price"), &["NUMERIC", "SORTABLE", "INDEXMISSING"]));
    wait_usable(&c, &t, &idx).await;

    // Names: taken (42P07), IF NOT EXISTS, one index per table.
    assert_eq!(
        sqlstate(&c, &format!("CREATE INDEX {idx} ON {t} (amount)")).await,
        "42P07"
    );
    // As in PostgreSQL, IF NOT EXISTS needs a name.
    assert_eq!(
        sqlstate(&c, &format!("CREATE INDEX IF NOT EXISTS ON {t} (amount)")).await,
        "42601"
    );
    texts(&c, &format!("CREATE INDEX IF NOT EXISTS {idx} ON {t} (amount)")).await;
    let (code, msg) = error_of(&c, &format!("CREATE INDEX {t}_other ON {t} (amount)")).await;
    assert_eq!(code, "42P07");
    assert!(msg.contains(&format!("already has index \"{idx}\"")), "{msg}");
    assert_eq!(attrs, ft_info(&url, &idx).await.2, "the index is unchanged");

    // DROP INDEX keeps the rows.
    texts(&c, &format!("DROP INDEX {idx}")).await;
    assert!(!ft_list(&url).await.contains(&idx));
    assert_eq!(
        texts(&c, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("3")]]
    );
    let mut con = redis(&url).await;
    let region: Option<String> = redis::cmd("HGET")
        .arg(format!("{t}:1"))
        .arg("region")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(region.as_deref(), Some("EU"));
    assert_eq!(index_row(&c, &t).await, vec![None, None, None]);
    assert_eq!(sqlstate(&c, &format!("DROP INDEX {idx}")).await, "42704");
    texts(&c, &format!("DROP INDEX IF EXISTS {idx}")).await;

    // A named index; DROP TABLE drops it too.
    texts(&c, &format!("CREATE INDEX IF NOT EXISTS {t}_by_region ON {t} (region)")).await;
    assert!(ft_list(&url).await.contains(&format!("{t}_by_region")));
    texts(&c, &format!("DROP TABLE {t}")).await;
    assert!(!ft_list(&url).await.contains(&format!("{t}_by_region")));
    server.shutdown().await;
}

#[tokio::test]
async fn create_index_on_a_discovered_table() {
    let url = redis_url();
    let t = unique("ixf");
    let rows: Vec<(String, Vec<(&str, String)>)> = (0..40)
        .map(|i| {
            (
                i.to_string(),
                vec![("name", format!("n{}", i % 3)), ("n", i.to_string())],
            )
        })
        .collect();
    let refs: Vec<(&str, Vec<(&str, &str)>)> = rows
        .iter()
        .map(|(id, f)| (id.as_str(), f.iter().map(|(k, v)| (*k, v.as_str())).collect()))
        .collect();
    let refs: Vec<(&str, &[(&str, &str)])> = refs.iter().map(|(id, f)| (*id, f.as_slice())).collect();
    seed(&url, &t, &refs).await;
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    texts(&c, &format!("CREATE INDEX {t}_i ON {t} (name, n)")).await;
    let (key_type, prefixes, attrs) = ft_info(&url, &format!("{t}_i")).await;
    assert_eq!((key_type.as_str(), prefixes), ("HASH", vec![format!("{t}:")]));
    assert_exact_fields(&attrs, "name", "n");
    wait_usable(&c, &t, &format!("{t}_i")).await;
    assert_eq!(
        texts(&c, &format!("SELECT count(*) FROM {t} WHERE name = 'n1'")).await,
        vec![vec![s("13")]]
    );
    texts(&c, &format!("DROP TABLE {t}")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn unparsable_numbers_refuse_the_index() {
    let url = redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    let t = unique("ixbad");
    texts(
        &c,
        &format!("CREATE TABLE {t} (id text PRIMARY KEY, label text, amount bigint, price double precision)"),
    )
    .await;
    texts(
        &c,
        &format!("INSERT INTO {t} VALUES ('1', 'a', 1, 0.5), ('2', 'b', 2, 1e300), ('3', NULL, NULL, NULL)"),
    )
    .await;
    // Values RediSearch takes although they are odd, and some it drops.
    let mut con = redis(&url).await;
    let () = redis::pipe()
        .cmd("HSET")
        .arg(format!("{t}:4"))
        .arg(&[("amount", "0x1A"), ("price", "inf")])
        .ignore()
        .cmd("HSET")
        .arg(format!("{t}:5"))
        .arg(&[("amount", "12abc")])
        .ignore()
        .cmd("HSET")
        .arg(format!("{t}:6"))
        .arg(&[("amount", " 7"), ("price", "nan")])
        .ignore()
        .query_async(&mut con)
        .await
        .unwrap();
    let (code, msg) = error_of(&c, &format!("CREATE INDEX ON {t} (label, amount, price)")).await;
    assert_eq!(code, "22P02");
    assert!(
        msg.contains("column \"amount\" has 2 values RediSearch cannot index as numbers (e.g. key"),
        "{msg}"
    );
    assert!(msg.contains("an index would leave those rows out"), "{msg}");
    assert!(msg.contains("columns \"price\" have such values too"), "{msg}");
    // Only the bad column named: the refusal is the same, for price alone.
    let (code, msg) = error_of(&c, &format!("CREATE INDEX ON {t} (price)")).await;
    assert_eq!(code, "22P02");
    assert!(
        msg.contains(&format!(
            "has 1 value RediSearch cannot index as numbers (e.g. key {t}:6: \"nan\")"
        )),
        "{msg}"
    );
    assert!(!ft_list(&url).await.contains(&format!("{t}_idx")));
    assert_eq!(index_row(&c, &t).await, vec![None, None, None]);

    // A tag value holding the separator would be split.
    let () = redis::cmd("HSET")
        .arg(format!("{t}:7"))
        .arg(&[("label", "a\u{1f}b"), ("amount", "3")])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(sqlstate(&c, &format!("CREATE INDEX ON {t} (label)")).await, "22P02");

    // Fixed: the index is created, and holds every row.
    let () = redis::pipe()
        .cmd("HSET")
        .arg(format!("{t}:5"))
        .arg("amount")
        .arg("12")
        .ignore()
        .cmd("HSET")
        .arg(format!("{t}:6"))
        .arg(&[("amount", "7"), ("price", "-Infinity")])
        .ignore()
        .cmd("HSET")
        .arg(format!("{t}:7"))
        .arg("label")
        .arg("ab")
        .ignore()
        .query_async(&mut con)
        .await
        .unwrap();
    texts(&c, &format!("CREATE INDEX ON {t} (label, amount, price)")).await;
    wait_usable(&c, &t, &format!("{t}_idx")).await;
    let mut con = redis(&url).await;
    let info: Value = redis::cmd("FT.INFO")
        .arg(format!("{t}_idx"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(get(&info, "num_docs").and_then(text).as_deref(), Some("7"));
    assert_eq!(
        get(&info, "hash_indexing_failures").and_then(text).as_deref(),
        Some("0")
    );
    texts(&c, &format!("DROP TABLE {t}")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn create_index_on_a_json_table() {
    let url = redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    let t = unique("ixj");
    texts(
        &c,
        &format!(
            "CREATE TABLE {t} (id text PRIMARY KEY, region text, amount bigint, \"a.b\" text) WITH (storage = 'json')"
        ),
    )
    .await;
    texts(
        &c,
        &format!("INSERT INTO {t} VALUES ('1', 'EU', 5, 'x'), ('2', '', NULL, NULL)"),
    )
    .await;
    let mut con = redis(&url).await;
    let () = redis::cmd("JSON.SET")
        .arg(format!("{t}:3"))
        .arg("$")
        .arg(json!({"region": "us", "amount": "12"}).to_string())
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(sqlstate(&c, &format!("CREATE INDEX ON {t} (\"a.b\")")).await, "0A000");
    let (code, msg) = error_of(&c, &format!("CREATE INDEX ON {t} (region, amount)")).await;
    assert_eq!(code, "22P02");
    assert!(msg.contains("not JSON numbers"), "{msg}");
    assert!(msg.contains("\"12\""), "{msg}");
    let () = redis::cmd("JSON.SET")
        .arg(format!("{t}:3"))
        .arg("$.amount")
        .arg("12")
        .query_async(&mut con)
        .await
        .unwrap();
    texts(&c, &format!("CREATE INDEX ON {t} (region, amount)")).await;
    let (key_type, prefixes, attrs) = ft_info(&url, &format!("{t}_idx")).await;
    assert_eq!((key_type.as_str(), prefixes), ("JSON", vec![format!("{t}:")]));
    assert_exact_fields(&attrs, "region", "amount");
    assert!(has(attr(&attrs, "region"), &["$.region"]));
    assert!(has(attr(&attrs, "amount"), &["$.amount"]));
    wait_usable(&c, &t, &format!("{t}_idx")).await;
    texts(&c, &format!("DROP TABLE {t}")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn queries_use_the_scan_path_while_the_index_builds() {
    let url = redis_url();
    let t = unique("ixbig");
    let mut con = redis(&url).await;
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("HSET")
            .arg(format!("{t}:{i}"))
            .arg(&[("grp", format!("g{}", i % 7)), ("v", i.to_string())])
            .ignore();
    }
    let () = pipe.query_async(&mut con).await.unwrap();
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    texts(&c, &format!("CREATE INDEX ON {t} (grp, v)")).await;
    // Every state seen is "being built" (not usable, with a note) or usable;
    // the rows are all there whatever the state.
    let started = Instant::now();
    loop {
        let row = index_row(&c, &t).await;
        let count = texts(&c, &format!("SELECT count(*) FROM {t}")).await;
        assert_eq!(count, vec![vec![s("5000")]], "{row:?}");
        if row[1].as_deref() == Some("t") {
            assert_eq!(row, vec![s(&format!("{t}_idx")), s("t"), None]);
            break;
        }
        assert_eq!(row[1].as_deref(), Some("f"), "{row:?}");
        assert!(row[2].as_deref().unwrap_or_default().contains("being built"), "{row:?}");
        assert!(started.elapsed() < Duration::from_secs(60), "never usable: {row:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    texts(&c, &format!("DROP TABLE {t}")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn plain_redis_has_no_indexes() {
    let url = plain_redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    let t = unique("ixplain");
    seed(&url, &t, &[("1", &[("v", "1")])]).await;
    let (code, msg) = error_of(&c, &format!("CREATE INDEX ON {t} (v)")).await;
    assert_eq!(code, "0A000");
    assert!(msg.contains("RediSearch is not loaded"), "{msg}");
    assert_eq!(sqlstate(&c, &format!("DROP INDEX {t}_idx")).await, "0A000");
    // No index exists there, so IF EXISTS has nothing to do.
    texts(&c, &format!("DROP INDEX IF EXISTS {t}_idx")).await;
    assert_eq!(index_row(&c, &t).await, vec![None, None, None]);
    let mut con = redis(&url).await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{t}:1"))
        .query_async(&mut con)
        .await
        .unwrap();
    server.shutdown().await;
}

/// `system::live_view_frame` (what a query of `redsql.tables` is meant to
/// read) asks FT.INFO at once: no refresh needed to see a dropped index go.
#[tokio::test]
async fn live_index_states_for_redsql_tables() {
    use redsql::catalog::{system, Catalog, CatalogOptions};
    let url = redis_url();
    let t = unique("ixlive");
    seed(&url, &t, &[("1", &[("v", "1"), ("w", "a")]), ("2", &[("v", "2")])]).await;
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    texts(&c, &format!("CREATE INDEX ON {t} (v, w)")).await;
    wait_usable(&c, &t, &format!("{t}_idx")).await;
    let store = redsql::store::Store::connect(&url).await.unwrap();
    let catalog = Catalog::new(store, CatalogOptions::default());
    catalog.refresh().await.unwrap();
    let snapshot = catalog.snapshot();
    let row = |df: polars::prelude::DataFrame| {
        let names = df.column("table_name").unwrap().str().unwrap().clone();
        let i = names.iter().position(|n| n == Some(t.as_str())).unwrap();
        let usable = df.column("index_usable").unwrap().bool().unwrap().get(i);
        let note = df
            .column("index_note")
            .unwrap()
            .str()
            .unwrap()
            .get(i)
            .map(str::to_string);
        (usable, note)
    };
    let live = system::live_view_frame(&catalog, "redsql.tables", &snapshot).await;
    assert_eq!(row(live.unwrap().unwrap()), (Some(true), None));
    // Dropped behind the catalog's back: the snapshot still names it, the live state says why not.
    let mut con = redis(&url).await;
    let _: Value = redis::cmd("FT.DROPINDEX")
        .arg(format!("{t}_idx"))
        .query_async(&mut con)
        .await
        .unwrap();
    let live = system::live_view_frame(&catalog, "redsql.tables", &snapshot).await;
    let (usable, note) = row(live.unwrap().unwrap());
    assert_eq!(usable, Some(false));
    assert!(note.unwrap_or_default().contains(&format!("index {t}_idx")));
    let stale = system::view_frame("redsql.tables", &snapshot);
    assert_eq!(row(stale.unwrap().unwrap()), (Some(true), None));
    texts(&c, &format!("DROP TABLE {t}")).await;
    server.shutdown().await;
}
