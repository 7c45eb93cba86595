//! Who gets in (session::auth): SCRAM-SHA-256, MD5 and cleartext passwords
//! checked against plain, md5 and SCRAM secrets; unknown users and wrong
//! passwords refused alike (28P01); no password-less server off loopback
//! unless asked for; read-only users and servers (25006); the connection
//! limit (53300). Real clients: tokio-postgres and psql.

use std::time::{Duration, Instant};

use redsql::server::AuthConfig;
use redsql::session::auth::{scram_verifier, Method, Users};
use tokio_postgres::NoTls;

use crate::common::*;

/// alice: password stored plain; bob: a SCRAM verifier; carol: an md5 hash
/// (PostgreSQL's form: "md5" + md5(password + user)); dave: read-only.
fn users() -> Users {
    let carol = format!("md5{:x}", md5::compute("pw-carolcarol"));
    Users::parse(&format!(
        "alice pw-alice\nbob {}\ncarol {carol}\ndave pw-dave read-only\n",
        scram_verifier("pw-bob")
    ))
    .unwrap()
}

async fn server(method: Method, read_only: bool, max_connections: usize) -> redsql::Server {
    let auth = AuthConfig {
        method: Some(method),
        users: users(),
        read_only,
        max_connections,
        ..Default::default()
    };
    try_start_server(&redis_url(), "127.0.0.1:0", auth).await.unwrap()
}

/// Connect as `user` with `password`: the client, or the SQLSTATE and message.
async fn login(
    server: &redsql::Server,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, (String, String)> {
    let addr = server.local_addr();
    let conf = format!(
        "host={} port={} user={user} password={password} dbname=redsql connect_timeout=10",
        addr.ip(),
        addr.port()
    );
    match tokio_postgres::connect(&conf, NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            Ok(client)
        }
        Err(e) => Err((e.code().map(|c| c.code().to_string()).unwrap_or_default(), msg(&e))),
    }
}

/// The server's message, or the client's error.
fn msg(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_string())
}

async fn refused(server: &redsql::Server, user: &str, password: &str) -> String {
    match login(server, user, password).await {
        Ok(_) => panic!("{user} got in with {password}"),
        Err((code, message)) => {
            assert_eq!(code, "28P01", "{user}: {message}");
            message
        }
    }
}

async fn one(client: &tokio_postgres::Client) -> i32 {
    client.query_one("SELECT 1", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn each_method_checks_the_secrets_it_can() {
    // SCRAM: plain passwords and verifiers; an md5 hash cannot answer it.
    let s = server(Method::ScramSha256, false, 100).await;
    assert_eq!(one(&login(&s, "alice", "pw-alice").await.unwrap()).await, 1);
    assert_eq!(one(&login(&s, "bob", "pw-bob").await.unwrap()).await, 1);
    refused(&s, "carol", "pw-carol").await;
    refused(&s, "alice", "pw-bob").await;
    // An unknown user fails the same exchange, with the same error.
    let unknown = refused(&s, "mallory", "pw-alice").await;
    let wrong = refused(&s, "alice", "nope").await;
    assert_eq!(unknown.replace("mallory", "X"), wrong.replace("alice", "X"));
    // psql, as a user would.
    let psql = |password: &'static str| {
        let addr = s.local_addr();
        tokio::task::spawn_blocking(move || {
            psql_command(addr)
                .args(["-U", "bob", "-Atc", "SELECT 40 + 2"])
                .env("PGPASSWORD", password)
                .output()
                .unwrap()
        })
    };
    let out = psql("pw-bob").await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "42",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = psql("wrong").await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("password authentication failed for user \"bob\""),
        "{stderr}"
    );

    // MD5: plain passwords and md5 hashes; a SCRAM verifier cannot answer it.
    let s = server(Method::Md5, false, 100).await;
    assert_eq!(one(&login(&s, "alice", "pw-alice").await.unwrap()).await, 1);
    assert_eq!(one(&login(&s, "carol", "pw-carol").await.unwrap()).await, 1);
    refused(&s, "bob", "pw-bob").await;
    refused(&s, "carol", "pw-alice").await;
    refused(&s, "mallory", "x").await;

    // Cleartext: every kind of secret.
    let s = server(Method::Password, false, 100).await;
    for (user, pw) in [("alice", "pw-alice"), ("bob", "pw-bob"), ("carol", "pw-carol")] {
        assert_eq!(one(&login(&s, user, pw).await.unwrap()).await, 1, "{user}");
        refused(&s, user, "pw-dave").await;
    }
}

#[tokio::test]
async fn no_password_less_server_on_the_network_unless_asked() {
    let url = redis_url();
    let e = try_start_server(&url, "0.0.0.0:0", AuthConfig::default())
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("without passwords"), "{e}");
    let needs_users = AuthConfig {
        method: Some(Method::ScramSha256),
        ..Default::default()
    };
    let e = try_start_server(&url, "127.0.0.1:0", needs_users).await.err().unwrap();
    assert!(e.to_string().contains("needs users"), "{e}");
    // Said explicitly, trust on the network starts; users alone mean SCRAM.
    let trust = AuthConfig {
        method: Some(Method::Trust),
        ..Default::default()
    };
    try_start_server(&url, "0.0.0.0:0", trust)
        .await
        .unwrap()
        .shutdown()
        .await;
    let with_users = AuthConfig {
        users: users(),
        ..Default::default()
    };
    let s = try_start_server(&url, "127.0.0.1:0", with_users).await.unwrap();
    refused(&s, "alice", "").await;
    assert_eq!(one(&login(&s, "alice", "pw-alice").await.unwrap()).await, 1);
}

/// The SQLSTATE of a failing statement.
async fn code(client: &tokio_postgres::Client, sql: &str) -> String {
    let e = client.batch_execute(sql).await.unwrap_err();
    e.code().map(|c| c.code().to_string()).unwrap_or_else(|| e.to_string())
}

#[tokio::test]
async fn read_only_users_and_servers_change_nothing() {
    let s = server(Method::ScramSha256, false, 100).await;
    let alice = login(&s, "alice", "pw-alice").await.unwrap();
    let t = unique("ro");
    alice
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, v text); INSERT INTO {t} VALUES (1, 'a')"
        ))
        .await
        .unwrap();
    let dave = login(&s, "dave", "pw-dave").await.unwrap();
    for sql in [
        format!("INSERT INTO {t} VALUES (2, 'b')"),
        format!("UPDATE {t} SET v = 'x'"),
        format!("DELETE FROM {t}"),
        format!("CREATE TABLE {t}_2 (id bigint PRIMARY KEY)"),
        format!("CREATE INDEX ON {t} (v)"),
        format!("DROP TABLE {t}"),
        format!("TRUNCATE {t}"),
        format!("ALTER TABLE {t} SET (ttl = 600)"),
        format!("ALTER TABLE {t} ALTER COLUMN v TYPE bigint"),
        format!("INSERT INTO {t} SELECT id + 10, v FROM {t}"),
    ] {
        assert_eq!(code(&dave, &sql).await, "25006", "{sql}");
    }
    // Extended protocol too, and COPY in; reads, exports and the session go on.
    let e = dave
        .execute(&format!("INSERT INTO {t} VALUES ($1, 'c')"), &[&3i64])
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("25006"), "{e}");
    let addr = s.local_addr();
    let copy = format!("COPY {t} FROM STDIN");
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = psql_command(addr)
            .args(["-U", "dave", "-c", &copy])
            .env("PGPASSWORD", "pw-dave")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"3\tc\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("cannot COPY into a table: user \"dave\" may only read"),
        "{stderr}"
    );
    let rows = texts(&dave, &format!("SELECT id, v FROM {t}")).await;
    assert_eq!(rows, vec![vec![Some("1".into()), Some("a".into())]]);
    assert!(dave.copy_out(format!("COPY {t} TO STDOUT").as_str()).await.is_ok());
    // alice may still write.
    alice
        .batch_execute(&format!("INSERT INTO {t} VALUES (2, 'b')"))
        .await
        .unwrap();
    assert_eq!(
        texts(&dave, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );

    // A read-only server: nobody writes.
    let ro = server(Method::ScramSha256, true, 100).await;
    let alice = login(&ro, "alice", "pw-alice").await.unwrap();
    let e = alice.batch_execute(&format!("DELETE FROM {t}")).await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("25006"));
    assert!(msg(&e).contains("--read-only"), "{e}");
    assert_eq!(
        texts(&alice, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );
}

#[tokio::test]
async fn connections_past_the_limit_are_refused() {
    let s = server(Method::Password, false, 2).await;
    let first = login(&s, "alice", "pw-alice").await.unwrap();
    let second = login(&s, "bob", "pw-bob").await.unwrap();
    let (code, message) = login(&s, "alice", "pw-alice").await.err().unwrap();
    assert_eq!(code, "53300", "{message}");
    assert!(message.contains("too many clients"), "{message}");
    // The ones in are unaffected; when one leaves, a place frees up.
    assert_eq!(one(&first).await + one(&second).await, 2);
    drop(second);
    let started = Instant::now();
    let third = loop {
        match login(&s, "carol", "pw-carol").await {
            Ok(c) => break c,
            Err((code, m)) => {
                assert_eq!(code, "53300", "{m}");
                assert!(started.elapsed() < Duration::from_secs(10), "no place freed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(one(&third).await, 1);
}

/// A self-signed certificate for localhost (openssl), as (cert, key) files.
fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ],
    );
    (cert, key)
}

/// psql with this sslmode: (success, stdout, stderr).
async fn psql_ssl(addr: std::net::SocketAddr, sslmode: &'static str, command: &'static str) -> (bool, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        psql_command(addr)
            .args(["-U", "alice", "-Atc", command])
            .env("PGPASSWORD", "pw-alice")
            .env("PGSSLMODE", sslmode)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn tls_is_offered_and_can_be_required() {
    let dir = std::env::temp_dir().join(unique("redsql-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = certificate(&dir);
    let auth = |require_tls| AuthConfig {
        users: users(),
        tls: Some((cert.clone(), key.clone())),
        require_tls,
        ..Default::default()
    };
    // Offered: a client may use it or not.
    let s = try_start_server(&redis_url(), "127.0.0.1:0", auth(false))
        .await
        .unwrap();
    let (ok, out, err) = psql_ssl(s.local_addr(), "require", "\\conninfo").await;
    assert!(ok && out.contains("SSL connection (protocol: TLSv1."), "{out} {err}");
    let (ok, out, err) = psql_ssl(s.local_addr(), "disable", "SELECT 7").await;
    assert!(ok && out.trim() == "7", "{out} {err}");

    // Required: a client without TLS is refused before its password is asked for.
    let s = try_start_server(&redis_url(), "127.0.0.1:0", auth(true)).await.unwrap();
    let (ok, out, err) = psql_ssl(s.local_addr(), "require", "SELECT 8").await;
    assert!(ok && out.trim() == "8", "{out} {err}");
    let (ok, _, err) = psql_ssl(s.local_addr(), "disable", "SELECT 9").await;
    assert!(!ok && err.contains("accepts only TLS connections"), "{err}");
    let (code, message) = login(&s, "alice", "pw-alice").await.err().unwrap();
    assert_eq!(code, "28000", "{message}");

    // Asked for without a certificate, or with files that are not one: no start.
    let no_cert = AuthConfig {
        require_tls: true,
        ..Default::default()
    };
    let e = try_start_server(&redis_url(), "127.0.0.1:0", no_cert)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("--tls-cert"), "{e}");
    let swapped = AuthConfig {
        tls: Some((key.clone(), cert.clone())),
        ..Default::default()
    };
    let e = try_start_server(&redis_url(), "127.0.0.1:0", swapped)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("TLS"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn redis_acl_users_in_the_url() {
    let url = redis_url();
    let user = unique("acl");
    let mut con = redis(&url).await;
    let () = redis::cmd("ACL")
        .arg(&["SETUSER", &user, "on", ">pw-acl", "~*", "&*", "+@all"])
        .query_async(&mut con)
        .await
        .unwrap();
    let with = |password: &str| url.replacen("redis://", &format!("redis://{user}:{password}@"), 1);
    // Scans (the multiplexed connection) and RediSearch (pooled connections) both log in.
    let s = try_start_server(&with("pw-acl"), "127.0.0.1:0", AuthConfig::default())
        .await
        .unwrap();
    let c = connect(&s).await;
    let t = unique("acl_t");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, v text); INSERT INTO {t} VALUES (1, 'a'), (2, 'b'); \
             CREATE INDEX ON {t} (v)"
        ))
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );
    let started = Instant::now();
    while !texts(&c.client, &format!("EXPLAIN SELECT id FROM {t} WHERE v = 'b'"))
        .await
        .iter()
        .any(|r| r[0].as_deref().unwrap_or("").contains("FT.AGGREGATE"))
    {
        assert!(started.elapsed() < Duration::from_secs(30), "index not used");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        texts(&c.client, &format!("SELECT id FROM {t} WHERE v = 'b'")).await,
        vec![vec![Some("2".into())]]
    );
    s.shutdown().await;
    // A wrong password: redsql does not start, and says why.
    let e = try_start_server(&with("wrong"), "127.0.0.1:0", AuthConfig::default())
        .await
        .err()
        .unwrap();
    let e = e.to_string();
    assert!(e.contains("authentication failed") && !e.contains("wrong"), "{e}");
    let () = redis::cmd("ACL")
        .arg(&["DELUSER", &user])
        .query_async(&mut con)
        .await
        .unwrap();
}
