//! A private `redis-server` process a test can kill (SIGKILL) and start
//! again on the same port, with or without RediSearch and RedisJSON (the
//! modules `make test` installs next to the binary, as
//! `scripts/redis-start.sh` loads them). No persistence: a Redis started
//! again comes back empty.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `redis-server` of `make test` (`.redis/bin/redis-server`).
pub fn redis_server_bin() -> String {
    std::env::var("REDSQL_REDIS_SERVER").expect("REDSQL_REDIS_SERVER is not set: run the tests with `make test`")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The module files next to the Redis binary (`.redis/lib/*.so`).
fn module_paths() -> Vec<PathBuf> {
    let bin = PathBuf::from(redis_server_bin());
    let lib = bin
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("lib"))
        .expect("redis-server lives in <dir>/bin");
    ["redisearch.so", "rejson.so"]
        .into_iter()
        .map(|f| lib.join(f))
        .inspect(|p| assert!(p.is_file(), "{} is missing: run `make redis`", p.display()))
        .collect()
}

/// A redis-server child process. Dropping it kills the server.
pub struct OwnRedis {
    child: Option<Child>,
    pub port: u16,
    modules: bool,
}

impl OwnRedis {
    /// A plain Redis (no modules) on `port`.
    pub async fn start(port: u16) -> OwnRedis {
        Self::launch(port, false).await
    }

    /// A Redis with RediSearch and RedisJSON on a free port.
    pub async fn with_modules() -> OwnRedis {
        Self::launch(free_port(), true).await
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(port: u16, modules: bool) -> OwnRedis {
        let mut cmd = Command::new(redis_server_bin());
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            // DEBUG (e.g. SET-ACTIVE-EXPIRE 0) from the tests' own connections.
            .args(["--enable-debug-command", "local"])
            .arg("--dir")
            .arg(std::env::temp_dir());
        if modules {
            for so in module_paths() {
                cmd.arg("--loadmodule").arg(so);
            }
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("redis-server on {port} exited at once: {status}");
            }
            if ping(port).await {
                return OwnRedis {
                    child: Some(child),
                    port,
                    modules,
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on {port}");
    }

    /// SIGKILL the server and reap it: no goodbye to its clients, no data kept.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP the server: connections stay open and nothing is answered,
    /// as with a Redis stuck on a slow disk or a long command.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`OwnRedis::freeze`].
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill")
            .arg(sig)
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {sig} {pid}: {status}");
    }

    /// Start it again on the same port (empty), after [`OwnRedis::kill`].
    pub async fn restart(&mut self) {
        self.kill();
        let again = Self::launch(self.port, self.modules).await;
        *self = again;
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a Redis on `port` answers PING (not merely accepts connections:
/// a loading server accepts them too).
async fn ping(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), s.read_exact(&mut buf)).await,
        Ok(Ok(_)) if &buf == b"+PONG\r\n"
    )
}

/// Keep Redis busy for about two seconds: a Lua loop waiting for TIME to move.
/// Inside a script Redis (7+) freezes TIME, so the loop ends only once Redis
/// passes its busy-reply threshold (set to 2 s here) and refreshes its clock;
/// until then Redis answers nobody. Returns when the script is done.
pub async fn busy_redis(url: String) {
    // No response timeout: the reply comes when the script is done.
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap();
    let () = redis::cmd("CONFIG")
        .arg(&["SET", "busy-reply-threshold", "2000"])
        .query_async(&mut con)
        .await
        .unwrap();
    let script = "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] \
                  while true do local n = redis.call('TIME') \
                  if n[1] * 1000000 + n[2] > start then break end end return 1";
    let _: i64 = redis::cmd("EVAL")
        .arg(script)
        .arg(0)
        .query_async(&mut con)
        .await
        .unwrap();
}

/// Start a script that keeps Redis busy (see [`busy_redis`]), and wait until it runs.
pub async fn block_redis(url: &str) -> tokio::task::JoinHandle<()> {
    let busy = tokio::spawn(busy_redis(url.to_string()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    busy
}
