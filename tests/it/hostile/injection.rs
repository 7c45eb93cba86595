//! Injection through names, keys and values: glob characters (`* ? [ ] \`)
//! in table names and prefixes must never widen a SCAN pattern (reads and
//! writes touch exactly the table's keys, never decoy keys the unescaped
//! pattern would match), and RediSearch syntax (`@ { } | - : ( ) " ' $ *`,
//! spaces) in values and names must never change what an FT query matches
//! (answers with pushdown on and off equal the rows computed here).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::Rng;
use crate::common::{connect, redis, redis_url, start_server, unique};

/// A SQL string literal.
fn lit(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// A quoted SQL identifier.
fn ident(v: &str) -> String {
    format!("\"{}\"", v.replace('"', "\"\""))
}

fn db(n: u32) -> String {
    format!("{}/{n}", redis_url())
}

/// First column of every row (simple protocol); panics with the SQL on error.
async fn col(c: &Client, sql: &str) -> Vec<Option<String>> {
    let msgs = c.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    msgs.into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        })
        .collect()
}

/// Every key of the connection's db matching `pattern` (SCAN MATCH, as given).
async fn scan_match(con: &mut MultiplexedConnection, pattern: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(10_000)
            .query_async(con)
            .await
            .unwrap();
        out.extend(keys);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

#[tokio::test]
async fn escaped_prefixes_match_exactly_their_keys_in_redis() {
    // redsql's escape_glob against real Redis matching: for random prefixes
    // made of glob characters, `escape_glob(p)*` matches exactly the keys
    // that start with p.
    let seed = super::seed("escape_glob", 0x5eed_9106);
    let mut con = redis(&db(9)).await;
    let base = unique("eg");
    let alphabet = ['a', 'b', '*', '?', '[', ']', '\\', '^', '!', '-', ':', ' ', '{', '}'];
    let mut rng = Rng::new(seed);
    let prefixes: Vec<String> = (0..150)
        .map(|_| {
            let n = 1 + rng.below(6);
            let s: String = (0..n).map(|_| *rng.pick(&alphabet)).collect();
            format!("{base}{s}")
        })
        .collect();
    // Keys: every prefix with a suffix, and every prefix cut short or with
    // one character changed (what a widened pattern would match).
    let mut keys = BTreeSet::new();
    for p in &prefixes {
        keys.insert(format!("{p}1"));
        keys.insert(p.clone());
        let tail = &p[base.len()..];
        for (i, _) in tail.char_indices() {
            let mut cut = tail.to_string();
            cut.remove(i);
            keys.insert(format!("{base}{cut}1"));
            for c in ['a', 'z', 'Q', '\\'] {
                let mut changed: Vec<char> = tail.chars().collect();
                changed[tail[..i].chars().count()] = c;
                keys.insert(format!("{base}{}1", changed.iter().collect::<String>()));
            }
        }
    }
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg(1).arg("EX").arg(600).ignore();
    }
    let () = pipe.query_async(&mut con).await.unwrap();
    let mut widened_if_unescaped = 0;
    for p in &prefixes {
        let want: BTreeSet<String> = keys.iter().filter(|k| k.starts_with(p.as_str())).cloned().collect();
        let got = scan_match(&mut con, &format!("{}*", redsql::store::escape_glob(p))).await;
        assert_eq!(got, want, "prefix {p:?} (seed {seed})");
        if scan_match(&mut con, &format!("{p}*")).await != want {
            widened_if_unescaped += 1;
        }
    }
    // The test has teeth: most of these prefixes do go wrong unescaped.
    assert!(
        widened_if_unescaped > 75,
        "only {widened_if_unescaped} prefixes misbehave unescaped"
    );
    let _: i64 = redis::cmd("DEL")
        .arg(keys.iter().collect::<Vec<_>>())
        .query_async(&mut con)
        .await
        .unwrap();
}

/// Keys that look like `prefix<id>` to a pattern `prefix*` left unescaped:
/// each glob construct of the prefix replaced by what it would match.
fn decoy_prefixes(prefix: &str) -> Vec<String> {
    let swaps = [
        ("*", ""),
        ("*", "Z"),
        ("?", "Q"),
        ("[ab]", "a"),
        ("[!a]", "a"),
        ("[x]", "x"),
        ("[^a]", "b"),
        ("[a-c]", "b"),
        ("\\*", "*"),
        ("\\", ""),
    ];
    let mut out = Vec::new();
    for (from, to) in swaps {
        if prefix.contains(from) {
            out.push(prefix.replacen(from, to, 1));
            out.push(prefix.replace(from, to));
        }
    }
    // Every construct at once.
    let all = swaps
        .iter()
        .fold(prefix.to_string(), |p, (from, to)| p.replace(from, to));
    out.push(all);
    out.sort();
    out.dedup();
    out.retain(|p| p != prefix);
    out
}

/// Glob constructs put into table names: each alone can widen a pattern.
const GLOBS: [&str; 9] = ["*", "?", "[ab]", "[!a]", "[^a]", "[a-c]", "\\", "\\*", "*?[x]"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glob_characters_in_names_never_widen_a_scan() {
    let url = db(10);
    let mut con = redis(&url).await;
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    let base = unique("gl");

    // Discovered tables (any key prefix is a table), with decoys next to them.
    let mut decoys = BTreeMap::new();
    let mut tables = Vec::new();
    let mut pipe = redis::pipe();
    for (i, g) in GLOBS.iter().enumerate() {
        let name = format!("{base}{i}{g}z");
        let prefix = format!("{name}:");
        for id in ["1", "2"] {
            // Text values (digits would be inferred as bigint).
            pipe.cmd("HSET")
                .arg(format!("{prefix}{id}"))
                .arg(&["v", &format!("r{id}")])
                .ignore();
        }
        // A key of another table under the prefix (more colons).
        pipe.cmd("HSET")
            .arg(format!("{prefix}n:1"))
            .arg(&["v", "nested"])
            .ignore();
        for d in decoy_prefixes(&prefix) {
            let key = format!("{d}123456789");
            pipe.cmd("HSET").arg(&key).arg(&["v", "decoy"]).ignore();
            decoys.insert(key, prefix.clone());
        }
        tables.push((name, prefix));
    }
    // A declared table for writes: prefixes of declared tables may hold `\`
    // (glob characters proper are refused: tested below), and its name anything.
    let declared = format!("{base}d\\x");
    let dprefix = format!("{declared}:");
    for d in decoy_prefixes(&dprefix) {
        let key = format!("{d}123456789");
        pipe.cmd("HSET").arg(&key).arg(&["v", "decoy"]).ignore();
        decoys.insert(key, dprefix.clone());
    }
    let () = pipe.query_async(&mut con).await.unwrap();

    // Only decoys the unescaped pattern really matches count; there must be
    // some for every kind of glob character, or the test proves nothing.
    let mut effective = BTreeSet::new();
    for (name, prefix) in tables.iter().chain([&(declared.clone(), dprefix.clone())]) {
        let widened = scan_match(&mut con, &format!("{prefix}*")).await;
        let hits: Vec<&String> = decoys.keys().filter(|k| widened.contains(*k)).collect();
        assert!(!hits.is_empty(), "no decoy of table {name:?} is matched by {prefix:?}*");
        effective.extend(hits.into_iter().cloned());
    }

    // Reads: exactly the table's own rows.
    let started = Instant::now();
    for (name, _) in &tables {
        let sql = format!("SELECT _key || '=' || v FROM {} ORDER BY 1", ident(name));
        loop {
            match c.simple_query(&sql).await {
                Ok(_) => break,
                Err(e)
                    if e.code().is_some_and(|c| c.code() == "42P01") && started.elapsed() < Duration::from_secs(30) =>
                {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => panic!("{sql}: {e:?}"),
            }
        }
        let rows = col(&c, &sql).await;
        assert_eq!(rows, vec![Some("1=r1".into()), Some("2=r2".into())], "table {name:?}");
        let n = col(&c, &format!("SELECT count(*) FROM {} WHERE v <> 'x'", ident(name))).await;
        assert_eq!(n, vec![Some("2".into())], "table {name:?}");
    }
    let listed = col(
        &c,
        &format!(
            "SELECT key_count FROM redsql.tables WHERE table_name = {}",
            lit(&tables[0].0)
        ),
    )
    .await;
    assert_eq!(listed, vec![Some("2".into())]);

    // Writes: on discovered and declared tables, never a decoy.
    for (name, _) in &tables {
        let t = ident(name);
        c.batch_execute(&format!("UPDATE {t} SET v = 'u' WHERE v <> 'x'"))
            .await
            .unwrap();
        c.batch_execute(&format!("DELETE FROM {t} WHERE _key = '1'"))
            .await
            .unwrap();
        assert_eq!(
            col(&c, &format!("SELECT _key || '=' || v FROM {t}")).await,
            vec![Some("2=u".into())]
        );
        c.batch_execute(&format!("DELETE FROM {t}")).await.unwrap();
    }
    let d = ident(&declared);
    c.batch_execute(&format!(
        "CREATE TABLE {d} (id bigint PRIMARY KEY, v text) WITH (ttl = 600); \
         INSERT INTO {d} VALUES (1, 'a'), (2, 'b'), (3, 'c'); \
         UPDATE {d} SET v = 'u'; DELETE FROM {d} WHERE id = 1"
    ))
    .await
    .unwrap();
    assert_eq!(
        col(&c, &format!("SELECT id || '=' || v FROM {d} ORDER BY id")).await,
        vec![Some("2=u".into()), Some("3=u".into())]
    );
    c.batch_execute(&format!("TRUNCATE {d}")).await.unwrap();
    assert_eq!(
        col(&c, &format!("SELECT count(*) FROM {d}")).await,
        vec![Some("0".into())]
    );
    c.batch_execute(&format!("INSERT INTO {d} VALUES (4, 'd'); DROP TABLE {d}"))
        .await
        .unwrap();
    let globbed = ident(&format!("{base}d*x"));
    let refused = c
        .batch_execute(&format!("CREATE TABLE {globbed} (id bigint PRIMARY KEY)"))
        .await
        .unwrap_err();
    assert_eq!(refused.code().map(|c| c.code()), Some("22023"), "{refused:?}");

    // Every decoy is still there, untouched; the nested keys too.
    for key in decoys.keys() {
        let v: Option<String> = redis::cmd("HGET")
            .arg(key)
            .arg("v")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(
            v.as_deref(),
            Some("decoy"),
            "decoy {key:?} (of {:?}) was changed",
            decoys[key]
        );
    }
    for (_, prefix) in &tables {
        let v: Option<String> = redis::cmd("HGET")
            .arg(format!("{prefix}n:1"))
            .arg("v")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some("nested"));
    }
    println!(
        "{} tables, {} decoys ({} matched by an unescaped pattern) untouched",
        tables.len() + 1,
        decoys.len(),
        effective.len()
    );
    let keys = scan_match(&mut con, &format!("{}*", redsql::store::escape_glob(&base))).await;
    let _: i64 = redis::cmd("DEL")
        .arg(keys.iter().collect::<Vec<_>>())
        .query_async(&mut con)
        .await
        .unwrap();
    server.shutdown().await;
}
