//! Wire fuzzer: thousands of seeded connections to a live redsql that send
//! random bytes and mutated protocol messages (startup packets with bad
//! lengths and versions, SSL and GSS requests, Parse/Bind with wrong counts
//! and lengths, unknown portals, COPY messages outside COPY, Terminate in
//! the middle, huge declared lengths...). Each connection must end in an
//! ErrorResponse or a close, never a hang; the server must not panic or die,
//! and a session opened before the fuzzing keeps working throughout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{cases, client, seed, select_one, Proc, Rng};
use crate::common::{redis_url, unique};

const PROTOCOL_3: i32 = 196_608;
const SSL_REQUEST: i32 = 80_877_103;
const GSS_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;

/// A typed frontend message: tag, length (itself included), body.
fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend(((body.len() + 4) as i32).to_be_bytes());
    m.extend(body);
    m
}

/// An untyped packet (startup, SSL/GSS/cancel request): length, code, body.
fn packet(code: i32, body: &[u8]) -> Vec<u8> {
    let mut m = ((body.len() + 8) as i32).to_be_bytes().to_vec();
    m.extend(code.to_be_bytes());
    m.extend(body);
    m
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend(s.as_bytes());
    out.push(0);
}

fn startup(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in params {
        cstr(&mut body, k);
        cstr(&mut body, v);
    }
    body.push(0);
    packet(PROTOCOL_3, &body)
}

fn good_startup() -> Vec<u8> {
    startup(&[
        ("user", "fuzz"),
        ("database", "redsql"),
        ("application_name", "hostile"),
    ])
}

fn query(sql: &str) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, sql);
    msg(b'Q', &b)
}

fn parse(name: &str, sql: &str, declared: i16, oids: &[i32]) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, name);
    cstr(&mut b, sql);
    b.extend(declared.to_be_bytes());
    for o in oids {
        b.extend(o.to_be_bytes());
    }
    msg(b'P', &b)
}

/// Bind: `formats` and `params` counts as declared (they may lie), each
/// parameter a declared length (-1 is NULL) and the bytes actually sent.
fn bind(portal: &str, stmt: &str, formats: &[i16], params: (i16, &[(i32, &[u8])]), results: &[i16]) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal);
    cstr(&mut b, stmt);
    b.extend((formats.len() as i16).to_be_bytes());
    for f in formats {
        b.extend(f.to_be_bytes());
    }
    b.extend(params.0.to_be_bytes());
    for (len, bytes) in params.1 {
        b.extend(len.to_be_bytes());
        b.extend(*bytes);
    }
    b.extend((results.len() as i16).to_be_bytes());
    for f in results {
        b.extend(f.to_be_bytes());
    }
    msg(b'B', &b)
}

fn describe(kind: u8, name: &str) -> Vec<u8> {
    let mut b = vec![kind];
    cstr(&mut b, name);
    msg(b'D', &b)
}

fn execute(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal);
    b.extend(max_rows.to_be_bytes());
    msg(b'E', &b)
}

fn close(kind: u8, name: &str) -> Vec<u8> {
    let mut b = vec![kind];
    cstr(&mut b, name);
    msg(b'C', &b)
}

const SYNC: [u8; 5] = [b'S', 0, 0, 0, 4];

/// Lengths that break parsers: zero, below the minimum, negative, huge.
const LENGTHS: [i32; 12] = [
    0,
    1,
    3,
    4,
    5,
    7,
    -1,
    i32::MIN,
    i32::MAX,
    0x3fff_fffe,
    0x3fff_ffff,
    10_001,
];

/// One protocol message, valid or nearly so, for a session after startup.
fn message(rng: &mut Rng, table: &str) -> Vec<u8> {
    let sql = *rng.pick(&[
        "SELECT 1",
        "SELECT $1",
        "SELECT $1::int + $2",
        "",
        ";;",
        "BEGIN",
        "COMMIT",
        "SHOW statement_timeout",
        "SET statement_timeout = 2000",
        "SELECT * FROM pg_catalog.pg_type LIMIT 3",
        "SELECT * FROM no_such_table",
        "selec 1",
    ]);
    let tsql = format!("SELECT v FROM {table} WHERE v > $1");
    let payload = rng.some_bytes(12);
    match rng.below(24) {
        0 => query(sql),
        1 => query(&format!("SELECT count(*), max(v) FROM {table}")),
        2 => query(&format!("COPY {table} FROM STDIN")),
        3 => query(&format!("COPY {table} TO STDOUT")),
        4 => parse("", sql, 0, &[]),
        5 => parse("s", &tsql, 1, &[20]),
        // Declared parameter types that lie about their count.
        6 => parse("s", "SELECT $1", *rng.pick(&[-1, 2, 100, i16::MAX, i16::MIN]), &[23]),
        7 => parse(
            "",
            "SELECT $1",
            1,
            &[*rng.pick(&[0, 1, -1, 23, 25, 1043, 99999, i32::MAX])],
        ),
        8 => bind("", "", &[], (0, &[]), &[]),
        9 => bind("", "s", &[0], (1, &[(1, b"5")]), &[0]),
        // Wrong parameter counts and lengths.
        10 => bind("", "s", &[], (*rng.pick(&[2, 5, -1, i16::MAX]), &[(1, b"5")]), &[]),
        11 => bind(
            "",
            "s",
            &[1],
            (1, &[(*rng.pick(&[-2, -100, i32::MIN, 8, 1 << 30]), b"5")]),
            &[],
        ),
        12 => bind("", "s", &[7, -1], (1, &[(4, b"\0\0\0\x05")]), &[3]),
        13 => bind("p", "s", &[1], (1, &[(4, &payload)]), &[1, 1, 1]),
        14 => bind("p", "nope", &[], (0, &[]), &[]),
        15 => describe(*rng.pick(b"SPX"), rng.pick::<&str>(&["", "s", "p", "nope"])),
        16 => execute(rng.pick::<&str>(&["", "p", "nope"]), *rng.pick(&[0, 1, -1, i32::MAX])),
        17 => close(*rng.pick(b"SP?"), rng.pick::<&str>(&["", "s", "p"])),
        18 => SYNC.to_vec(),
        19 => msg(b'H', &[]),
        20 => msg(*rng.pick(b"dcf"), &payload),
        21 => msg(b'X', &[]),
        // Messages a client never sends after startup, or no message at all.
        22 => match rng.below(4) {
            0 => msg(b'p', b"secret\0"),
            1 => msg(b'F', &payload),
            2 => good_startup(),
            _ => packet(SSL_REQUEST, &[]),
        },
        _ => msg(rng.next_u64() as u8, &payload),
    }
}

/// Mutate a message list: drop, duplicate, swap, truncate, relabel, lie
/// about a length, flip bits.
fn mutate(rng: &mut Rng, msgs: &mut Vec<Vec<u8>>) {
    for _ in 0..rng.below(4) {
        if msgs.is_empty() {
            return;
        }
        let i = rng.below(msgs.len());
        match rng.below(8) {
            0 => {
                msgs.remove(i);
            }
            1 => msgs.insert(i, msgs[i].clone()),
            2 => {
                let j = rng.below(msgs.len());
                msgs.swap(i, j);
            }
            3 => {
                let n = rng.below(msgs[i].len() + 1);
                msgs[i].truncate(n);
            }
            4 => msgs[i][0] = rng.next_u64() as u8,
            5 if msgs[i].len() >= 5 => {
                let len = *rng.pick(&LENGTHS);
                msgs[i][1..5].copy_from_slice(&len.to_be_bytes());
            }
            6 => {
                let at = rng.below(msgs[i].len());
                msgs[i][at] ^= 1 << rng.below(8);
            }
            _ => {
                let at = rng.below(msgs[i].len() + 1);
                let n = 1 + rng.below(8);
                let junk = rng.bytes(n);
                msgs[i].splice(at..at, junk);
            }
        }
    }
}

/// The bytes of one case (deterministic in its seed).
fn case(rng: &mut Rng, table: &str) -> Vec<u8> {
    match rng.below(10) {
        // Random bytes from the first byte on.
        0 => {
            let n = rng.below(300);
            rng.bytes(n)
        }
        // A broken startup packet (length, version, parameters).
        1 => {
            let mut s = good_startup();
            match rng.below(6) {
                0 => s[0..4].copy_from_slice(&rng.pick(&LENGTHS).to_be_bytes()),
                1 => s[4..8].copy_from_slice(
                    &rng.pick(&[0i32, 1, 0x0002_0000, 0x0003_0001, 0x0004_0000, -1])
                        .to_be_bytes(),
                ),
                2 => {
                    s.pop();
                    let len = s.len() as i32;
                    s[0..4].copy_from_slice(&len.to_be_bytes());
                }
                3 => s = startup(&[("database", "redsql")]),
                4 => s = startup(&[("user", "")]),
                _ => {
                    let at = 8 + rng.below(s.len() - 8);
                    s[at] = rng.next_u64() as u8;
                }
            }
            let mut out = s;
            if rng.chance(50) {
                out.extend(query("SELECT 1"));
            }
            out
        }
        // SSL / GSS / cancel requests, then perhaps a startup.
        2 => {
            let mut out = match rng.below(4) {
                0 => packet(SSL_REQUEST, &[]),
                1 => packet(GSS_REQUEST, &[]),
                2 => packet(CANCEL_REQUEST, &rng.bytes(8)),
                _ => packet(SSL_REQUEST, &rng.some_bytes(6)),
            };
            if rng.chance(70) {
                out.extend(good_startup());
                out.extend(query("SELECT 1"));
            }
            out
        }
        // A session: a good startup, then mutated messages.
        _ => {
            let mut msgs: Vec<Vec<u8>> = (0..1 + rng.below(8)).map(|_| message(rng, table)).collect();
            mutate(rng, &mut msgs);
            let mut out = good_startup();
            out.extend(msgs.concat());
            if rng.chance(40) {
                out.extend(SYNC);
            }
            out
        }
    }
}

/// What the server answered one case with.
struct Answer {
    /// SQLSTATEs of the ErrorResponses.
    codes: Vec<String>,
    /// The connection was closed (EOF or reset) in time.
    closed: bool,
}

/// Split backend bytes into ErrorResponse codes (best effort: the server's
/// own bytes, so they must parse).
fn error_codes(bytes: &[u8]) -> Vec<String> {
    let mut codes = Vec::new();
    let mut i = 0;
    // An SSL/GSS refusal is one byte.
    while i < bytes.len() && (bytes[i] == b'N' && (i + 1 == bytes.len() || !bytes[i + 1].is_ascii_control())) {
        i += 1;
    }
    while i + 5 <= bytes.len() {
        let tag = bytes[i];
        let len = i32::from_be_bytes(bytes[i + 1..i + 5].try_into().unwrap()) as usize;
        let end = (i + 1 + len).min(bytes.len());
        if tag == b'E' {
            let body = &bytes[(i + 5).min(end)..end];
            for field in body.split(|b| *b == 0) {
                if let Some(code) = field.strip_prefix(b"C") {
                    codes.push(String::from_utf8_lossy(code).into_owned());
                }
            }
        }
        if len < 4 {
            break;
        }
        i += 1 + len;
    }
    codes
}

/// Send `bytes`, half-close, and read the answer until the server closes.
async fn run_case(addr: std::net::SocketAddr, bytes: &[u8]) -> Result<Answer, String> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect took over 5 s".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    // The server may close before reading everything: write errors are fine.
    let _ = tokio::time::timeout(Duration::from_secs(5), s.write_all(bytes)).await;
    let _ = s.shutdown().await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    Ok(Answer {
        codes: error_codes(&got),
        closed: read.is_ok(),
    })
}

fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(160).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 160 {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fuzzed_protocol_messages_get_errors_or_a_close_and_hurt_no_one() {
    let seed = seed("wire fuzz", 0x5eed_0007);
    let n = cases(3000);
    let mut server = Proc::start(&redis_url());
    let addr = server.addr;
    let table = unique("fuzzwire");
    let bystander = client(addr).await;
    bystander
        .batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, v bigint) WITH (ttl = 3600); \
             INSERT INTO {table} VALUES (1, 10), (2, 20), (3, 30)"
        ))
        .await
        .unwrap();

    // The bystander queries throughout; every answer must be right.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let sql = format!("SELECT sum(v) FROM {table} WHERE id <= 3");
        tokio::spawn(async move {
            let mut ran = 0;
            while !stop.load(Ordering::Relaxed) {
                let got = tokio::time::timeout(Duration::from_secs(10), bystander.simple_query(&sql)).await;
                match got {
                    Ok(Ok(m)) => match m.iter().find_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
                        _ => None,
                    }) {
                        // COPY cases may add rows with other ids; ids 1..3 stay.
                        Some(Some(v)) if v == "60" => {}
                        other => return Err(format!("bystander got {other:?}")),
                    },
                    Ok(Err(e)) => return Err(format!("bystander failed: {e}")),
                    Err(_) => return Err("bystander's query took over 10 s".to_string()),
                }
                ran += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok((bystander, ran))
        })
    };

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let codes = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let mut workers = Vec::new();
    for _ in 0..12 {
        let (next, failures, codes, table) = (next.clone(), failures.clone(), codes.clone(), table.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let mut rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let bytes = case(&mut rng, &table);
                match run_case(addr, &bytes).await {
                    Err(e) => failures
                        .lock()
                        .unwrap()
                        .push(format!("case {i}: {e}; sent {}", hex(&bytes))),
                    Ok(a) => {
                        if !a.closed {
                            failures.lock().unwrap().push(format!(
                                "case {i}: no close within 10 s of the client's FIN; sent {}",
                                hex(&bytes)
                            ));
                        }
                        for c in a.codes {
                            if c == "XX000" {
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("case {i}: internal error XX000; sent {}", hex(&bytes)));
                            }
                            *codes.lock().unwrap().entry(c).or_default() += 1;
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (bystander, ran) = watcher
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail(30)));
    server.check().unwrap();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed (seed {seed}):\n{}\nthe server's internal errors:\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n"),
        server.log_lines("query failed").join("\n")
    );
    // The session from before still works, and so do new ones.
    select_one(&bystander).await.unwrap();
    select_one(&client(addr).await).await.unwrap();
    server.check().unwrap();
    println!(
        "{n} fuzzed connections in {elapsed:.1?}; bystander ran {ran} queries; error codes {:?}",
        codes.lock().unwrap()
    );
}
