//! The embedded default: with no `--redis`, redsql starts a private
//! `redis-server` as a child process (RediSearch and RedisJSON loaded when
//! found next to it) and stops it when redsql exits.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::error::{Error, Result};

/// A running private Redis. Dropping it kills the server.
pub struct EmbeddedRedis {
    child: Child,
    pub url: String,
    pub modules: Vec<String>,
    _dir: TempDir,
}

/// Where to look for `redis-server`: `$REDSQL_REDIS_SERVER`, `./.redis/bin`,
/// the directory of the redsql binary and its parents' `.redis/bin`, then PATH.
pub fn find_redis_server() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("REDSQL_REDIS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join(".redis/bin/redis-server"));
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            candidates.push(dir.join(".redis/bin/redis-server"));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.push(dir.join("redis-server"));
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

impl EmbeddedRedis {
    pub async fn start() -> Result<EmbeddedRedis> {
        let server = find_redis_server().ok_or_else(|| {
            Error::RedisUnavailable(
                "no --redis given and no redis-server found (run `make redis`, or set REDSQL_REDIS_SERVER)".into(),
            )
        })?;
        let lib = server.parent().and_then(Path::parent).map(|p| p.join("lib"));
        let port = free_port()?;
        let dir = TempDir::new()?;
        let mut cmd = Command::new(&server);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(&dir.0)
            .arg("--logfile")
            .arg(dir.0.join("redis.log"));
        let mut modules = Vec::new();
        if let Some(lib) = lib {
            for (name, file) in [("search", "redisearch.so"), ("json", "rejson.so")] {
                let so = lib.join(file);
                if so.is_file() {
                    cmd.arg("--loadmodule").arg(so);
                    modules.push(name.to_string());
                }
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        // If redsql dies without cleaning up (SIGKILL), the kernel stops the server too.
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::RedisUnavailable(format!("cannot start {}: {e}", server.display())))?;
        let mut me = EmbeddedRedis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            modules,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                tracing::info!(url = %me.url, server = %server.display(), modules = ?me.modules, "embedded Redis started");
                return Ok(me);
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                let log = std::fs::read_to_string(me._dir.0.join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(Error::RedisUnavailable(format!(
                    "embedded redis-server exited ({status}): {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            if Instant::now() > deadline {
                return Err(Error::RedisUnavailable(
                    "embedded redis-server did not start in 10s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop the server and wait for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

#[cfg(target_os = "linux")]
const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
#[cfg(target_os = "linux")]
const SIGTERM: std::ffi::c_int = 15;

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// From the C library std already links.
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Internal(format!("no free port: {e}")))?;
    Ok(l.local_addr().map_err(|e| Error::Internal(e.to_string()))?.port())
}

/// A private directory for the embedded server, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("redsql-redis-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
