//! The real psql client against redsql: the acceptance query of the demo,
//! errors with their SQLSTATEs, and notices, as a user sees them.

use crate::common::*;

/// Run psql with unaligned, tuples-only output; returns (status ok, stdout, stderr).
fn psql(addr: std::net::SocketAddr, args: &[&str]) -> (bool, String, String) {
    let out = psql_command(addr)
        .args(["-A", "-t", "-F", "|", "-v", "VERBOSITY=verbose"])
        .args(args)
        .output()
        .expect("psql is installed (make test installs postgresql-client when missing)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_runs_the_demo_query_and_reports_errors() {
    let url = redis_url();
    let t = unique("psql_sale");
    seed(
        &url,
        &t,
        &[
            (
                "1",
                &[("region", "north"), ("status", "completed"), ("amount", "10.25")],
            ),
            ("2", &[("region", "north"), ("status", "completed"), ("amount", "5")]),
            ("3", &[("region", "south"), ("status", "pending"), ("amount", "7")]),
            ("4", &[("region", "south"), ("status", "completed"), ("amount", "bad")]),
        ],
    )
    .await;
    let server = start_server(&url).await;
    let addr = server.local_addr();
    let sql = format!("SELECT region, sum(amount) FROM {t} WHERE status = 'completed' GROUP BY region ORDER BY region");
    let (ok, out, err) = tokio::task::spawn_blocking(move || psql(addr, &["-c", &sql]))
        .await
        .unwrap();
    assert!(ok, "psql failed: {err}");
    assert_eq!(out, "north|15.25\nsouth|\n");
    assert!(
        err.contains("NOTICE:") && err.contains("not valid double precision"),
        "{err}"
    );

    let (ok, _, err) = tokio::task::spawn_blocking(move || psql(addr, &["-c", "SELECT * FROM nowhere_at_all"]))
        .await
        .unwrap();
    assert!(!ok);
    assert!(
        err.contains("42P01") && err.contains("relation \"nowhere_at_all\" does not exist"),
        "{err}"
    );

    // A script with several statements, one per line, through psql's -f.
    let dir = std::env::temp_dir().join(unique("psql_script"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("q.sql");
    std::fs::write(
        &script,
        format!("SELECT count(*) FROM {t};\n-- a comment\nSELECT 2 AS two;\n"),
    )
    .unwrap();
    let path = script.to_string_lossy().into_owned();
    let (ok, out, err) = tokio::task::spawn_blocking(move || psql(addr, &["-f", &path]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert_eq!(out, "4\n2\n");
    server.shutdown().await;
}
