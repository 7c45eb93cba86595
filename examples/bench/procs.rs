//! The processes a benchmark run starts and watches: the project's own Redis
//! (through its scripts), a redsql server, the baseline tools
//! (redis-benchmark, pgbench, psql), and their CPU time and memory from /proc.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub type Res<T> = Result<T, String>;

/// Run a command to completion; its stdout, or an error with its stderr.
pub fn run(cmd: &mut Command) -> Res<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// CPU time (user + system) a process has used, in ms.
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks * 1000.0 / 100.0 // USER_HZ is 100 on Linux
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resident memory now, in kB.
pub fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

/// Peak resident memory since start or since [`reset_peak`], in kB.
pub fn peak_kb(pid: u32) -> u64 {
    status_kb(pid, "VmHWM:")
}

/// Reset a process's peak RSS to its current RSS (Linux clear_refs "5").
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if s.is_empty() {
        f64::NAN
    } else {
        s[(s.len() - 1) / 2]
    }
}

/// The project's own Redis 8.2 with RediSearch and RedisJSON, on a free port.
pub struct Redis {
    pub root: PathBuf,
    pub port: u16,
    pub pid: u32,
}

impl Redis {
    pub fn start(root: &Path) -> Res<Redis> {
        let port = free_port();
        run(Command::new(root.join("scripts/redis-start.sh")).arg(port.to_string()))?;
        let pid = std::fs::read_to_string(root.join(format!(".run/redis-{port}/redis.pid")))
            .map_err(|e| format!("redis pidfile: {e}"))?
            .trim()
            .parse()
            .map_err(|e| format!("redis pidfile: {e}"))?;
        Ok(Redis {
            root: root.to_path_buf(),
            port,
            pid,
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn cli(&self, args: &[&str]) -> Res<String> {
        run(Command::new("redis-cli")
            .arg("-p")
            .arg(self.port.to_string())
            .args(args))
    }

    pub fn flush(&self) -> Res<()> {
        self.cli(&["FLUSHALL"]).map(|_| ())
    }

    /// requests/s of `redis-benchmark -q` with `args` (e.g. -P 64 -c 4 -n N ... CMD).
    pub fn benchmark(&self, args: &[String]) -> Res<f64> {
        let out = run(Command::new("redis-benchmark")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-q")
            .args(args))?;
        out.replace('\r', "\n")
            .lines()
            .rev()
            .find_map(|l| {
                let (_, rest) = l.split_once(": ")?;
                rest.split_whitespace().next()?.parse::<f64>().ok()
            })
            .ok_or_else(|| format!("no requests per second in redis-benchmark's output: {out}"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = run(Command::new(self.root.join("scripts/redis-stop.sh")).arg(self.port.to_string()));
    }
}

/// A redsql server over one Redis.
pub struct Redsql {
    child: Child,
    pub port: u16,
}

impl Redsql {
    pub fn start(bin: &Path, redis_url: &str, log: &Path) -> Res<Redsql> {
        let port = free_port();
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        // The background catalog rescan SCANs the whole keyspace; it is moved
        // out of the measurement, as a user with a big keyspace would.
        let child = Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--redis", redis_url, "--refresh-seconds", "86400"])
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err("redsql did not start listening within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Redsql { child, port })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=bench dbname=bench", self.port)
    }

    /// psql connected to this server, stopping at the first error.
    fn psql_cmd(&self) -> Command {
        let mut cmd = Command::new("psql");
        cmd.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "bench",
            "-d",
            "bench",
        ])
        .args(["-p", &self.port.to_string()])
        .stdin(Stdio::null());
        cmd
    }

    /// psql with `args`, its output discarded; wall seconds.
    pub fn psql_timed(&self, args: &[&str]) -> Res<f64> {
        let t = Instant::now();
        let status = self
            .psql_cmd()
            .args(args)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("psql: {e}"))?;
        if !status.success() {
            return Err(format!("psql {args:?} failed"));
        }
        Ok(t.elapsed().as_secs_f64())
    }

    /// One statement's rows, unaligned, tuples only.
    pub fn psql(&self, sql: &str) -> Res<String> {
        run(self.psql_cmd().args(["-A", "-t", "-c", sql]))
    }

    /// Transactions per second of `pgbench` running `script` for `seconds`.
    pub fn pgbench(&self, script: &Path, clients: u32, seconds: u32) -> Res<f64> {
        let out = run(Command::new("pgbench")
            .args(["-n", "-M", "prepared", "-j", "2", "-h", "127.0.0.1", "-U", "bench"])
            .args(["-p", &self.port.to_string(), "-c", &clients.to_string()])
            .args(["-T", &seconds.to_string(), "-f"])
            .arg(script)
            .arg("bench"))?;
        let tps = out
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("no tps in pgbench's output: {out}"))?;
        if !out.contains("number of failed transactions: 0 ") {
            return Err(format!("pgbench saw failed transactions: {out}"));
        }
        Ok(tps)
    }
}

impl Drop for Redsql {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `cmd` to completion while watching its peak RSS and CPU time; (wall
/// s, peak kB, CPU ms as last seen, stdout and stderr).
pub fn run_watched(cmd: &mut Command) -> Res<(f64, u64, f64, String)> {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let pid = child.id();
    let (mut peak, mut cpu) = (0, 0.0);
    loop {
        peak = peak.max(peak_kb(pid));
        cpu = f64::max(cpu, cpu_ms(pid));
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = t.elapsed().as_secs_f64();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((wall, peak, cpu, text))
}
