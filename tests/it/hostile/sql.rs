//! SQL mutation: the statements of `sql-tests/*.slt` and generated ones,
//! mutated token by token (dropped, duplicated, swapped, stray quotes,
//! parentheses and keywords, huge numbers, NUL bytes, long identifiers),
//! plus statements nested thousands deep, all sent to a live redsql over
//! both protocols. Every failure must be a clean ErrorResponse whose
//! SQLSTATE is not XX000, the session must answer `SELECT 1` after each,
//! and the server must neither panic nor die.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::{cases, client, seed, select_one, Proc, Rng};
use crate::common::{redis, redis_url};

/// The database these tests write to (mutated writes stay out of db 0,
/// where the other tests' tables live; db 15 is the .slt files').
const DB: u32 = 11;

fn db_url() -> String {
    format!("{}/{DB}", redis_url())
}

/// The SQL of every `statement` and `query` record of the .slt files.
fn slt_statements() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql-tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.starts_with("statement ") || line.starts_with("query ") {
                let sql: Vec<&str> = lines
                    .by_ref()
                    .take_while(|l| !l.trim().is_empty() && *l != "----")
                    .collect();
                out.push(sql.join("\n"));
            }
        }
    }
    out
}

/// Empty the test db (key by key: FLUSHDB drops every RediSearch index)
/// and load the .slt seeds into it.
async fn reseed() {
    let mut con = redis(&db_url()).await;
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query_async(&mut con).await.unwrap();
    for chunk in keys.chunks(500) {
        let _: i64 = redis::cmd("DEL").arg(chunk).query_async(&mut con).await.unwrap();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql-tests");
    let mut pipe = redis::pipe();
    for file in ["seed.redis", "json.redis"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let args = crate::sqllogictest::split_args(line);
            pipe.cmd(&args[0]).arg(&args[1..]).ignore();
        }
    }
    let () = pipe.query_async(&mut con).await.unwrap();
}

/// SQL split into tokens: words, numbers, quoted strings and identifiers,
/// operators, punctuation.
fn tokens(sql: &str) -> Vec<String> {
    let c: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let start = i;
        if c[i].is_whitespace() {
            i += 1;
            continue;
        }
        if c[i] == '\'' || c[i] == '"' {
            let q = c[i];
            i += 1;
            while i < c.len() && !(c[i] == q && c.get(i + 1) != Some(&q)) {
                i += if c[i] == q { 2 } else { 1 };
            }
            i += 1;
        } else if c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$' {
            while i < c.len() && (c[i].is_alphanumeric() || matches!(c[i], '_' | '$' | '.')) {
                i += 1;
            }
        } else if i + 1 < c.len()
            && ["::", "<=", ">=", "<>", "!=", "||", "->"].contains(&&*format!("{}{}", c[i], c[i + 1]))
        {
            i += 2;
        } else {
            i += 1;
        }
        out.push(c[start..i.min(c.len())].iter().collect());
    }
    out
}

const WORDS: [&str; 48] = [
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "ORDER",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT",
    "ON",
    "USING",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "IS",
    "IN",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "AS",
    "UNION",
    "ALL",
    "DISTINCT",
    "OVER",
    "PARTITION",
    "WITH",
    "VALUES",
    "INSERT",
    "INTO",
    "UPDATE",
    "SET",
    "DELETE",
    "ARRAY",
    "ANY",
    "EXISTS",
    "INTERVAL",
    "RETURNING",
    "LATERAL",
    "FILTER",
];

const ODD: [&str; 34] = [
    "'",
    "\"",
    "(",
    ")",
    "((",
    "))",
    ",",
    ";",
    "*",
    "$1",
    "$0",
    "$99999",
    "::",
    "::int",
    "::text[]",
    "[",
    "]",
    "[1]",
    "E'\\x",
    "''",
    "\"\"",
    "-",
    "+",
    "/",
    "%",
    "||",
    "->>",
    "@",
    "#",
    "?",
    "\\",
    "{",
    "}",
    "NULL::jsonb",
];

const NUMBERS: [&str; 14] = [
    "99999999999999999999999999999999",
    "-9223372036854775808",
    "9223372036854775807",
    "9223372036854775808",
    "1e308",
    "1e309",
    "-1e-400",
    "0.000000000000000000000000000000001",
    "'NaN'",
    "'-Infinity'::float8",
    "-0",
    "2147483648",
    "1.7976931348623157e308",
    "123456789012345678901234567890.123456789",
];

const STRINGS: [&str; 12] = [
    "''",
    "'\\'",
    "'%_%'",
    "'\u{1F600}'",
    "'a''b'",
    "E'\\\\'",
    "E'\\u0000'",
    "U&'\\0000'",
    "$$dollar$$",
    "'2024-13-45'",
    "'99999-01-01'",
    "'{1,2'",
];

/// One mutation of a token list.
fn mutate(rng: &mut Rng, t: &mut Vec<String>) {
    let i = rng.below(t.len().max(1));
    let n = t.len();
    match rng.below(12) {
        0 if n > 0 => {
            t.remove(i);
        }
        1 if n > 0 => t.insert(i, t[i].clone()),
        2 if n > 1 => {
            let j = rng.below(n);
            t.swap(i, j);
        }
        3 => t.insert(i.min(n), rng.pick(&WORDS).to_string()),
        4 => t.insert(i.min(n), rng.pick(&ODD).to_string()),
        5 => {
            let num = rng.pick(&NUMBERS).to_string();
            match t.iter().position(|x| x.starts_with(|c: char| c.is_ascii_digit())) {
                Some(p) => t[p] = num,
                None => t.insert(i.min(n), num),
            }
        }
        6 => {
            let s = rng.pick(&STRINGS).to_string();
            match t.iter().position(|x| x.starts_with('\'')) {
                Some(p) => t[p] = s,
                None => t.insert(i.min(n), s),
            }
        }
        // A NUL byte inside a token or between tokens.
        7 => t.insert(i.min(n), "\0".into()),
        // A very long identifier, quoted or not.
        8 => {
            let long = "x".repeat(1 + rng.below(100_000));
            let id = if rng.chance(50) { format!("\"{long}\"") } else { long };
            match t
                .iter()
                .position(|x| x.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            {
                Some(p) => t[p] = id,
                None => t.insert(i.min(n), id),
            }
        }
        // Wrap a token in many parentheses.
        9 if n > 0 => {
            let d = 1 + rng.below(300);
            t[i] = format!("{}{}{}", "(".repeat(d), t[i], ")".repeat(d));
        }
        10 if n > 0 => t.truncate(i),
        _ => t.push(rng.pick(&WORDS).to_string()),
    }
}

/// A generated statement over the seeded tables.
fn generated(rng: &mut Rng) -> String {
    fn expr(rng: &mut Rng, depth: u32) -> String {
        if depth == 0 || rng.chance(30) {
            return rng
                .pick(&[
                    "id",
                    "amount",
                    "qty",
                    "region",
                    "status",
                    "ts",
                    "_key",
                    "1",
                    "2.5",
                    "'north'",
                    "NULL",
                    "true",
                    "'2024-01-01'",
                ])
                .to_string();
        }
        let a = expr(rng, depth - 1);
        let b = expr(rng, depth - 1);
        match rng.below(10) {
            0 => format!(
                "({a} {} {b})",
                rng.pick(&["+", "-", "*", "/", "%", "||", "=", "<>", "<", ">=", "AND", "OR", "LIKE"])
            ),
            1 => format!(
                "{}({a})",
                rng.pick(&[
                    "abs", "upper", "lower", "length", "round", "sum", "count", "max", "min", "avg", "sqrt", "ln"
                ])
            ),
            2 => format!("coalesce({a}, {b})"),
            3 => format!("CASE WHEN {a} THEN {b} ELSE NULL END"),
            4 => format!(
                "CAST({a} AS {})",
                rng.pick(&[
                    "int",
                    "bigint",
                    "text",
                    "float8",
                    "numeric(10,2)",
                    "date",
                    "timestamp",
                    "boolean",
                    "interval",
                    "int[]"
                ])
            ),
            5 => format!("{a} IS {}NULL", if rng.chance(50) { "NOT " } else { "" }),
            6 => format!("{a} IN ({b}, {})", expr(rng, 0)),
            7 => format!("(SELECT max({a}) FROM region)"),
            8 => format!("row_number() OVER (PARTITION BY {a} ORDER BY {b})"),
            _ => format!("NOT {a}"),
        }
    }
    let e = expr(rng, 3);
    let w = expr(rng, 3);
    match rng.below(6) {
        0 => format!("SELECT {e} FROM sale WHERE {w}"),
        1 => format!("SELECT region, {e} FROM sale GROUP BY region HAVING {w} ORDER BY 1"),
        2 => format!("SELECT {e} FROM sale s JOIN region r ON r.name = s.region ORDER BY {w} LIMIT 3"),
        3 => format!("UPDATE sale SET qty = {e} WHERE {w}"),
        4 => format!("WITH c AS (SELECT {e} AS x FROM sale) SELECT * FROM c WHERE x IS NOT NULL"),
        _ => format!("SELECT {e} UNION ALL SELECT {w}"),
    }
}

/// Statements nested or repeated thousands deep, each of a kind a
/// recursive parser, planner or destructor would take one frame a level for.
fn deep() -> Vec<(&'static str, String)> {
    let n = 5000;
    let rep = |s: &str, k: usize| s.repeat(k);
    vec![
        ("parentheses", format!("SELECT {}1{}", rep("(", n), rep(")", n))),
        (
            "parentheses in WHERE",
            format!("SELECT * FROM sale WHERE {}id = 1{}", rep("(", n), rep(")", n)),
        ),
        (
            "parenthesised FROM",
            format!("SELECT * FROM {}sale{}", rep("(", n), rep(")", n)),
        ),
        ("NOT chain", format!("SELECT {}true", rep("NOT ", n))),
        ("unary minus chain", format!("SELECT {}1", rep("- ", n))),
        (
            "nested subqueries",
            format!("SELECT {}1{}", rep("(SELECT ", n), rep(")", n)),
        ),
        (
            "nested function calls",
            format!("SELECT {}1{}", rep("abs(", n), rep(")", n)),
        ),
        (
            "nested CASE",
            format!("SELECT {}1{}", rep("CASE WHEN true THEN ", n), rep(" END", n)),
        ),
        ("nested arrays", format!("SELECT {}1{}", rep("ARRAY[", n), rep("]", n))),
        ("addition chain", format!("SELECT 1{}", rep(" + 1", 100_000))),
        ("concatenation chain", format!("SELECT 'a'{}", rep(" || 'a'", 50_000))),
        (
            "AND chain",
            format!("SELECT count(*) FROM sale WHERE id > 0{}", rep(" AND id > 0", 50_000)),
        ),
        (
            "OR chain",
            format!("SELECT count(*) FROM sale WHERE id = 0{}", rep(" OR id = 0", 50_000)),
        ),
        ("cast chain", format!("SELECT 1{}", rep("::int", 50_000))),
        ("subscript chain", format!("SELECT ARRAY[1]{}", rep("[1]", 50_000))),
        (
            "JSON arrow chain",
            format!("SELECT '{{}}'::jsonb{}", rep(" -> 'a'", 50_000)),
        ),
        ("UNION chain", format!("SELECT 1{}", rep(" UNION ALL SELECT 1", 20_000))),
        ("CTE chain", {
            let ctes: Vec<String> = (1..2000)
                .map(|i| format!("c{i} AS (SELECT * FROM c{})", i - 1))
                .collect();
            format!("WITH c0 AS (SELECT 1 AS x), {} SELECT * FROM c1999", ctes.join(", "))
        }),
        (
            "IN list",
            format!(
                "SELECT count(*) FROM sale WHERE id IN ({})",
                vec!["1"; 100_000].join(", ")
            ),
        ),
        ("wide SELECT", format!("SELECT {}", vec!["1"; 20_000].join(", "))),
        ("many joins", {
            let joins: Vec<String> = (0..200)
                .map(|i| format!(" JOIN region r{i} ON r{i}.name = s.region"))
                .collect();
            format!("SELECT count(*) FROM sale s{}", joins.concat())
        }),
        ("long identifier", format!("SELECT {} FROM sale", "x".repeat(1 << 20))),
        ("long string", format!("SELECT length('{}')", "y".repeat(8 << 20))),
        ("many statements", rep("SELECT 1;", 20_000)),
    ]
}

/// How one statement went: None when fine (success or a clean error).
async fn run(
    client: &Client,
    sql: &str,
    extended: bool,
    codes: &mut BTreeMap<String, usize>,
) -> Result<Option<String>, String> {
    let res = if extended {
        tokio::time::timeout(Duration::from_secs(30), async {
            client.query(sql, &[]).await.map(|_| ())
        })
        .await
    } else {
        tokio::time::timeout(Duration::from_secs(30), async {
            client.simple_query(sql).await.map(|_| ())
        })
        .await
    };
    match res {
        Err(_) => Err("no answer within 30 s".into()),
        Ok(Ok(())) => Ok(None),
        Ok(Err(e)) => match e.as_db_error() {
            Some(db) => {
                let code = db.code().code().to_string();
                *codes.entry(code.clone()).or_default() += 1;
                Ok((code == "XX000").then(|| format!("XX000 {}", db.message())))
            }
            // tokio-postgres refusing a statement itself (parameters it was
            // not given) is not the server's doing; a closed session is.
            None if e.is_closed() => Err(format!("the session ended: {e}")),
            None => Ok(None),
        },
    }
}

fn shown(sql: &str) -> String {
    let s: String = sql.chars().take(300).collect();
    if s.len() < sql.len() {
        format!("{s:?}... ({} bytes)", sql.len())
    } else {
        format!("{s:?}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_statements_get_clean_errors_and_the_session_goes_on() {
    let seed = seed("sql mutation", 0x5eed_5017);
    let n = cases(1500);
    reseed().await;
    let mut server = Proc::start(&db_url());
    let c = client(server.addr).await;
    let corpus = slt_statements();
    assert!(corpus.len() > 30, "found only {} .slt statements", corpus.len());
    let mut codes = BTreeMap::new();
    let mut internal = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..n {
        if i % 300 == 0 {
            reseed().await;
        }
        let mut rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let base = if rng.chance(60) {
            rng.pick(&corpus).clone()
        } else {
            generated(&mut rng)
        };
        let mut t = tokens(&base);
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut t);
        }
        let sql = t.join(" ");
        // COPY switches the protocol to a sub-protocol tokio-postgres'
        // query calls do not speak; the wire fuzzer covers COPY.
        if sql.to_ascii_uppercase().contains("COPY") {
            continue;
        }
        let extended = rng.chance(35);
        if std::env::var_os("HOSTILE_TRACE").is_some() {
            eprintln!(
                "case {i} ({}): {}",
                if extended { "extended" } else { "simple" },
                shown(&sql)
            );
        }
        match run(&c, &sql, extended, &mut codes).await {
            Ok(None) => {}
            Ok(Some(xx)) => internal.push(format!(
                "case {i} ({}): {xx}\n    {}",
                if extended { "extended" } else { "simple" },
                shown(&sql)
            )),
            Err(e) => failures.push(format!("case {i}: {e}\n    {}", shown(&sql))),
        }
        if let Err(e) = select_one(&c).await {
            failures.push(format!("case {i}: after it, {e}\n    {}", shown(&sql)));
            break;
        }
        if sql.to_ascii_uppercase().contains("SET") {
            // A mutated SET must not leave later statements a 1 ms timeout.
            let _ = c.simple_query("SET statement_timeout = '20s'").await;
        }
        if let Err(e) = server.check() {
            failures.push(format!("case {i}: {e}\n    {}", shown(&sql)));
            break;
        }
    }
    let mutated_in = started.elapsed();

    let started = Instant::now();
    for (what, sql) in deep() {
        for extended in [false, true] {
            let t0 = Instant::now();
            match run(&c, &sql, extended, &mut codes).await {
                Ok(None) => {}
                Ok(Some(xx)) => internal.push(format!(
                    "{what} ({}): {xx}",
                    if extended { "extended" } else { "simple" }
                )),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
            if let Err(e) = server.check() {
                failures.push(format!("{what}: {e}"));
                break;
            }
            if let Err(e) = select_one(&c).await {
                failures.push(format!("{what}: after it, {e}"));
            }
            if t0.elapsed() > Duration::from_secs(2) {
                println!("slow: {what} took {:.1?}", t0.elapsed());
            }
        }
        if !failures.is_empty() {
            break;
        }
    }
    let deep_in = started.elapsed();
    server.check().unwrap();
    select_one(&client(server.addr).await).await.unwrap();
    println!("{n} mutated statements in {mutated_in:.1?}, deep ones in {deep_in:.1?}; SQLSTATEs {codes:?}");
    assert!(
        failures.is_empty() && internal.is_empty(),
        "seed {seed}:\n{}\n\ninternal errors (XX000):\n{}",
        failures.join("\n"),
        internal.join("\n")
    );
}
