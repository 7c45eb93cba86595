//! A lean RESP3 client for RediSearch's FT.* commands.
//!
//! A pushed-down fetch returns thousands of rows per cursor page, each a map
//! of field names to values. Parsing such a page into the `redis` crate's
//! `Value` tree costs an allocation per string and more CPU than Redis spends
//! answering, so FT.* commands go over these connections instead, and their
//! replies are read by the tape reader of [`tape`] (no copy of a value).
//!
//! RESP3 (HELLO 3) because RediSearch puts its partial-result warnings only
//! in RESP3 replies. Connections are pooled; one is held for a whole cursor
//! (see `exec::search`) and dropped instead of returned when a command did
//! not complete, so a half-read reply is never read as the next one's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::health::Health;
use crate::error::{Error, Result};

mod tape;
use tape::Replies;
pub use tape::{Frame, Reply};

/// Idle connections kept for reuse.
const POOL_IDLE: usize = 8;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One RESP3 connection.
pub struct Conn {
    io: Box<dyn Io>,
    buf: BytesMut,
    out: Vec<u8>,
    /// Told when this connection breaks (Redis may have restarted).
    health: Arc<Health>,
}

impl Conn {
    /// Send one command and read its reply. A Redis error reply is returned
    /// as an error frame, leaving the connection usable.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        self.pipeline(std::iter::once(args)).await
    }

    /// Send commands in one write and read their replies into one [`Reply`]
    /// (one frame per command, in order; see [`Reply::frames`]). Error
    /// replies are error frames and leave the connection usable.
    pub async fn pipeline<'c, A: AsRef<[u8]> + 'c>(
        &mut self,
        commands: impl IntoIterator<Item = &'c [A]>,
    ) -> Result<Reply> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let n = encode_commands(&mut out, commands);
        let sent = self.send(&out).await;
        self.out = out;
        sent?;
        self.receive(n).await
    }

    /// Send commands encoded by [`encode_commands`] without waiting for
    /// their replies; read them with [`Conn::receive`] (the connection
    /// must not be given back in between).
    pub async fn send(&mut self, encoded: &[u8]) -> Result<()> {
        let sent = match self.io.write_all(encoded).await {
            Ok(()) => self.io.flush().await,
            Err(e) => Err(e),
        };
        sent.map_err(|e| self.broken(e))
    }

    /// Read the replies of `n` commands sent, into one [`Reply`].
    pub async fn receive(&mut self, n: usize) -> Result<Reply> {
        let mut replies = Replies::new(n);
        while !replies.advance(&self.buf)? {
            if self.buf.capacity() - self.buf.len() < 64 * 1024 {
                self.buf.reserve(1 << 20);
            }
            let read = self.io.read_buf(&mut self.buf).await;
            if read.map_err(|e| self.broken(e))? == 0 {
                self.health.suspect();
                return Err(Error::RedisUnavailable("Redis closed the connection".into()));
            }
        }
        Ok(replies.finish(&mut self.buf))
    }

    /// An I/O failure of this connection, told to the store's health.
    fn broken(&self, e: std::io::Error) -> Error {
        self.health.suspect();
        broken(e)
    }

    /// Whether an idle connection is still open: nothing to read, not even
    /// the end of the stream (as after a Redis restart), checked without a
    /// round trip.
    fn idle_and_open(&mut self) -> bool {
        let mut byte = [0u8; 1];
        let mut buf = tokio::io::ReadBuf::new(&mut byte);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut buf)
            .is_pending()
    }
}

/// Append commands (each its arguments) as RESP arrays of bulk strings; how many.
pub fn encode_commands<'c, A: AsRef<[u8]> + 'c>(
    out: &mut Vec<u8>,
    commands: impl IntoIterator<Item = &'c [A]>,
) -> usize {
    let mut n = 0;
    for args in commands {
        encode_command(out, args);
        n += 1;
    }
    n
}

/// Append one command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn broken(e: std::io::Error) -> Error {
    Error::RedisUnavailable(format!("connection to Redis broke: {e}"))
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A TCP connection to Redis, without Nagle's delay.
async fn tcp(host: &str, port: u16) -> Result<tokio::net::TcpStream> {
    let s = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| Error::RedisUnavailable(format!("connecting to {host}:{port} timed out")))?
        .map_err(|e| Error::RedisUnavailable(format!("cannot connect to {host}:{port}: {e}")))?;
    s.set_nodelay(true).map_err(broken)?;
    Ok(s)
}

/// Where and how to open connections, and the idle ones.
pub struct Pool {
    health: Arc<Health>,
    /// For `rediss://` (see `store::tls`).
    tls: Option<tokio_rustls::TlsConnector>,
    addr: redis::ConnectionAddr,
    hello: Vec<Vec<u8>>,
    db: i64,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// A pool of its own (the benchmark's raw FT client).
    pub fn new(info: &redis::ConnectionInfo) -> Result<Pool> {
        Self::with_health(info, Arc::default(), None)
    }

    /// A pool whose broken connections tell `health` (a [`super::Store`]'s);
    /// `tls` for a `rediss://` address.
    pub fn with_health(
        info: &redis::ConnectionInfo,
        health: Arc<Health>,
        tls: Option<tokio_rustls::TlsConnector>,
    ) -> Result<Pool> {
        let settings = info.redis_settings();
        let mut hello: Vec<Vec<u8>> = vec![b"HELLO".to_vec(), b"3".to_vec()];
        if let Some(pass) = settings.password() {
            hello.push(b"AUTH".to_vec());
            hello.push(settings.username().unwrap_or("default").as_bytes().to_vec());
            hello.push(pass.as_bytes().to_vec());
        }
        match info.addr() {
            redis::ConnectionAddr::Tcp(..) | redis::ConnectionAddr::Unix(_) => {}
            redis::ConnectionAddr::TcpTls { insecure: false, .. } if tls.is_some() => {}
            redis::ConnectionAddr::TcpTls { insecure: true, .. } => {
                return Err(Error::RedisUnavailable(
                    "rediss://...#insecure (TLS without checking Redis' certificate) is not supported; \
                     give the CA that signed it with --redis-ca"
                        .into(),
                ))
            }
            other => return Err(Error::RedisUnavailable(format!("unsupported Redis address {other:?}"))),
        }
        Ok(Pool {
            health,
            tls,
            addr: info.addr().clone(),
            hello,
            db: settings.db(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection, or a new one.
    pub async fn get(&self) -> Result<Conn> {
        loop {
            let Some(mut c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                break;
            };
            if c.idle_and_open() {
                return Ok(c);
            }
            // Closed by Redis while idle: Redis may have restarted.
            self.health.suspect();
        }
        let opened = self.open().await;
        if opened.is_err() {
            self.health.suspect();
        }
        opened
    }

    /// A new connection, set up (HELLO 3, AUTH, SELECT).
    async fn open(&self) -> Result<Conn> {
        let io: Box<dyn Io> = match &self.addr {
            redis::ConnectionAddr::Tcp(host, port) => Box::new(tcp(host, *port).await?),
            redis::ConnectionAddr::TcpTls { host, port, .. } => {
                let tls = self.tls.as_ref().expect("checked in with_health");
                let name = super::tls::server_name(host)?;
                let tcp = tcp(host, *port).await?;
                let s = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(name, tcp))
                    .await
                    .map_err(|_| Error::RedisUnavailable(format!("TLS with {host}:{port} timed out")))?
                    .map_err(|e| Error::RedisUnavailable(format!("TLS with {host}:{port} failed: {e}")))?;
                Box::new(s)
            }
            #[cfg(unix)]
            redis::ConnectionAddr::Unix(path) => Box::new(
                tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| Error::RedisUnavailable(format!("cannot connect to {}: {e}", path.display())))?,
            ),
            other => return Err(Error::RedisUnavailable(format!("unsupported Redis address {other:?}"))),
        };
        let mut conn = Conn {
            io,
            buf: BytesMut::with_capacity(64 * 1024),
            out: Vec::new(),
            health: self.health.clone(),
        };
        let mut setup = vec![self.hello.clone()];
        if self.db != 0 {
            setup.push(vec![b"SELECT".to_vec(), self.db.to_string().into_bytes()]);
        }
        for cmd in setup {
            let reply = conn.call(&cmd).await?;
            if let Some(e) = reply.frame().error() {
                return Err(Error::RedisUnavailable(format!(
                    "Redis refused the connection setup: {}",
                    String::from_utf8_lossy(e)
                )));
            }
        }
        Ok(conn)
    }

    /// Give back a connection whose last command completed.
    pub fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL_IDLE {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands_as_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode_command(&mut out, &["HSETEX", "sale:1", "", &"x".repeat(12)]);
        let long = format!("$12\r\n{}\r\n", "x".repeat(12));
        assert_eq!(
            out,
            format!("*4\r\n$6\r\nHSETEX\r\n$6\r\nsale:1\r\n$0\r\n\r\n{long}").as_bytes()
        );
    }
}
