//! Hostile and malformed input (issue 7, section 4): a wire fuzzer
//! ([`wire`]), mutated and generated SQL ([`sql`]), and glob / RediSearch
//! injection through names, keys and values ([`injection`]).
//!
//! The fuzzers run the real `redsql` binary as a child process, so a panic
//! (written to its stderr), a stack overflow or an abort (the process dies)
//! is seen as such instead of taking the test binary down with it.
//! `HOSTILE_SEED` replays a run (each test prints its seed), `HOSTILE_CASES`
//! changes how many cases the fuzzers try, `HOSTILE_TRACE=1` prints each
//! mutated statement before it runs.

mod injection;
mod memory;
mod sql;
mod wire;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

/// xorshift64*: small, seedable, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// 0..max random bytes.
    pub fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}

/// The seed of a test: `HOSTILE_SEED`, else `default`; printed for replay.
pub fn seed(test: &str, default: u64) -> u64 {
    let seed = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    println!("{test}: seed {seed} (HOSTILE_SEED={seed} replays it)");
    seed
}

/// How many cases a fuzzer runs: `HOSTILE_CASES`, else `default`.
pub fn cases(default: usize) -> usize {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The real `redsql serve` as a child process on a free port, over `redis_url`.
/// Killed (by its pid) when dropped.
pub struct Proc {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn start(redis_url: &str) -> Proc {
        Self::start_with(redis_url, &[])
    }

    /// [`Proc::start`] with more `serve` arguments.
    pub fn start_with(redis_url: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redsql"))
            .args(["serve", "--listen", "127.0.0.1:0", "--redis", redis_url])
            .args(["--refresh-seconds", "2"])
            .args(args)
            .env("REDSQL_LOG", "redsql=info")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("redsql runs");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("redsql is ready: psql -h ") {
                    let _ = tx.send(rest.to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let Ok(ready) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("redsql did not start: {}", log.lock().unwrap().join("\n"));
        };
        // "127.0.0.1 -p 41234 (Redis: ...)"
        let mut words = ready.split_whitespace();
        let host = words.next().unwrap();
        let port = words.nth(1).unwrap();
        let addr = format!("{host}:{port}").parse().expect("address in the ready line");
        Proc { child, addr, log }
    }

    /// Err(why) when the server died or panicked.
    pub fn check(&mut self) -> Result<(), String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!("redsql exited ({status}):\n{}", self.log_tail(40)));
        }
        let log = self.log.lock().unwrap();
        if let Some(i) = log
            .iter()
            .position(|l| l.contains("panicked at") || l.contains("stack overflow"))
        {
            return Err(format!(
                "redsql panicked:\n{}",
                log[i..].iter().take(20).cloned().collect::<Vec<_>>().join("\n")
            ));
        }
        Ok(())
    }

    /// Log lines (stderr) containing `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// The server's resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tokio-postgres session to `addr` (notices ignored).
pub async fn client(addr: SocketAddr) -> Client {
    let conf = format!(
        "host={} port={} user=hostile dbname=redsql connect_timeout=10",
        addr.ip(),
        addr.port()
    );
    let (client, conn) = tokio::time::timeout(Duration::from_secs(15), tokio_postgres::connect(&conf, NoTls))
        .await
        .expect("connect in time")
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// `SELECT 1` answers 1 within a few seconds.
pub async fn select_one(client: &Client) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(10), client.simple_query("SELECT 1")).await {
        Err(_) => Err("SELECT 1 took over 10 s".into()),
        Ok(Err(e)) => Err(format!("SELECT 1 failed: {e}")),
        Ok(Ok(msgs)) => {
            let one = msgs.iter().any(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0) == Some("1"),
                _ => false,
            });
            if one {
                Ok(())
            } else {
                Err("SELECT 1 returned no 1".into())
            }
        }
    }
}
