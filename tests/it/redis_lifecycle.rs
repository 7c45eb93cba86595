//! Redis going away and coming back, and the embedded Redis of `serve`
//! without `--redis`. These tests start their own redis-server processes.

use std::time::Duration;

use crate::common::*;

#[tokio::test]
async fn redis_down_gives_08006_and_redsql_reconnects() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let redis = OwnRedis::start(port).await;
    seed(&url, "gone", &[("1", &[("v", "7")])]).await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    assert_eq!(
        texts(&c.client, "SELECT v FROM gone").await,
        vec![vec![Some("7".to_string())]]
    );

    drop(redis);
    let state = sqlstate(&c.client, "SELECT v FROM gone").await;
    assert!(state.starts_with("08"), "expected a connection error, got {state}");
    // The session is still usable for queries that do not need Redis.
    assert_eq!(
        texts(&c.client, "SELECT 1 AS one").await,
        vec![vec![Some("1".to_string())]]
    );

    let _redis = OwnRedis::start(port).await;
    seed(&url, "gone", &[("1", &[("v", "8")])]).await;
    let mut last = String::new();
    for _ in 0..50 {
        match c.client.simple_query("SELECT v FROM gone").await {
            Ok(_) => {
                assert_eq!(
                    texts(&c.client, "SELECT v FROM gone").await,
                    vec![vec![Some("8".to_string())]]
                );
                server.shutdown().await;
                return;
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("redsql did not reconnect: {last}");
}

/// The pooled RESP3 connections of FT.* commands do not hand out a
/// connection that Redis closed: after a restart the next command works.
#[tokio::test]
async fn search_connections_survive_a_redis_restart() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let redis = OwnRedis::start(port).await;
    let store = redsql::store::Store::connect(&url).await.unwrap();
    let ping = |reply: redsql::store::resp3::Reply| reply.frame().bytes() == Some(&b"PONG"[..]);
    let mut c = store.search_conn().await.unwrap();
    assert!(ping(c.call(&["PING"]).await.unwrap()));
    store.search_done(c);

    drop(redis);
    let _redis = OwnRedis::start(port).await;
    // Let the closed socket's end of stream arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = store.search_conn().await.unwrap();
    assert!(
        ping(c.call(&["PING"]).await.unwrap()),
        "a fresh connection after the restart"
    );
    store.search_done(c);
}

#[tokio::test]
async fn embedded_redis_starts_and_stops_with_the_server() {
    let server = redsql::Server::start(redsql::Config {
        listen: "127.0.0.1:0".into(),
        redis_url: None,
        demo: true,
        ..Default::default()
    })
    .await
    .expect("starts with an embedded Redis");
    let redis_url = server.redis_url().to_string();
    let c = connect(&server).await;
    let rows = texts(&c.client, "SELECT count(*), count(DISTINCT region) FROM sale").await;
    assert_eq!(rows, vec![vec![Some("3000".to_string()), Some("8".to_string())]]);
    server.shutdown().await;
    let port: u16 = redis_url.rsplit(':').next().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "embedded Redis still running"
    );
}
