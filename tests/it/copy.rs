//! COPY FROM STDIN: CSV and text, through tokio-postgres and psql's \copy;
//! failures say the line and how many rows were written.

use crate::common::*;
use bytes::Bytes;
use futures::SinkExt;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

async fn copy_in(client: &tokio_postgres::Client, sql: &str, chunks: &[&str]) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in(sql).await?;
    futures::pin_mut!(sink);
    for c in chunks {
        sink.send(Bytes::from(c.to_string())).await?;
    }
    sink.finish().await
}

/// A COPY that must fail: its SQLSTATE and message.
async fn copy_error(client: &tokio_postgres::Client, sql: &str, data: &str) -> (String, String) {
    let e = copy_in(client, sql, &[data]).await.unwrap_err();
    let db = e.as_db_error().expect("a server error");
    (db.code().code().to_string(), db.message().to_string())
}

#[tokio::test]
async fn csv_copy_loads_rows_with_quotes_nulls_and_empty_strings() {
    let url = redis_url();
    let t = unique("copycsv");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, score double precision)"
        ))
        .await
        .unwrap();
    let n = copy_in(
        &c.client,
        &format!("COPY {t} (id, name, score) FROM STDIN WITH (FORMAT csv, HEADER true)"),
        &[
            "id,name,score\n1,\"Lee, Ann\",1.5\n2,",
            ",\n3,\"\",-0.25\n4,\"multi\nline\",1e3",
        ],
    )
    .await
    .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        texts(&c.client, &format!("SELECT id, name, score FROM {t} ORDER BY id")).await,
        vec![
            vec![s("1"), s("Lee, Ann"), s("1.5")],
            vec![s("2"), None, None],
            vec![s("3"), s(""), s("-0.25")],
            vec![s("4"), s("multi\nline"), s("1000")],
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn copy_failures_name_the_line_and_rows_written() {
    let url = redis_url();
    let t = unique("copybad");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!("CREATE TABLE {t} (id bigint PRIMARY KEY, v bigint)"))
        .await
        .unwrap();
    // 2500 rows, line 2101 is bad: the first two batches of 1000 are written.
    let mut data = String::new();
    for i in 1..=2500 {
        data.push_str(&if i == 2101 {
            format!("{i},oops\n")
        } else {
            format!("{i},{i}\n")
        });
    }
    let (code, msg) = copy_error(&c.client, &format!("COPY {t} FROM STDIN (FORMAT csv)"), &data).await;
    assert_eq!(code, "22P02");
    assert!(
        msg.contains("line 2101") && msg.contains("2000 rows were written before it"),
        "{msg}"
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("2000")]]
    );

    // A malformed line: missing column, nothing written from that batch.
    let e = copy_in(
        &c.client,
        &format!("COPY {t} FROM STDIN (FORMAT csv)"),
        &["5000,1\n5001\n"],
    )
    .await
    .unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "22P04");
    assert!(
        db.message().contains("missing data for column \"v\" (line 2)")
            && db.message().contains("no rows were written"),
        "{}",
        db.message()
    );
    // Duplicate keys.
    let e = copy_in(&c.client, &format!("COPY {t} FROM STDIN (FORMAT csv)"), &["1,1\n"])
        .await
        .unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "23505");
    // The session goes on.
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("2000")]]
    );
    server.shutdown().await;
}

/// Batches are written while later ones are parsed and checked (one round
/// trip per batch carries a batch's rows and the next batch's key check);
/// the guarantees stay those of one batch after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_batches_are_checked_after_the_batches_before_them() {
    let url = redis_url();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    // With a TTL every batch is checked and written by itself; without, pipelined.
    for ttl in ["", " WITH (ttl = 3600)"] {
        let t = unique("copyorder");
        c.client
            .batch_execute(&format!(
                "CREATE TABLE {t} (id bigint PRIMARY KEY, v text, n bigint){ttl}"
            ))
            .await
            .unwrap();
        // 5500 rows in chunks that cut records; quoted fields with commas,
        // quotes and newlines among plain ones.
        let mut data = String::new();
        for i in 1..=5500 {
            let v = match i % 4 {
                0 => format!("\"a,{i}\""),
                1 => format!("\"q\"\"{i}\n\""),
                2 => String::new(),
                _ => format!("p{i}"),
            };
            data.push_str(&format!("{i},{v},{}\n", i * 2));
        }
        let chunks: Vec<&str> = data
            .as_bytes()
            .chunks(7777)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let n = copy_in(&c.client, &format!("COPY {t} FROM STDIN (FORMAT csv)"), &chunks)
            .await
            .unwrap();
        assert_eq!(n, 5500);
        assert_eq!(
            texts(
                &c.client,
                &format!(
                    "SELECT count(*), sum(n), count(v), max(v) FILTER (WHERE id = 4), max(v) FILTER (WHERE id = 5) FROM {t}"
                )
            )
            .await,
            vec![vec![s("5500"), s("30255500"), s("4125"), s("a,4"), s("q\"5\n")]]
        );

        // Line 2600 repeats the key of line 1500 (the batch before): found
        // before any row of its batch is written.
        let mut data = String::new();
        for i in 1..=3500 {
            let id = if i == 2600 { 10_1500 } else { 10_0000 + i };
            data.push_str(&format!("{id},x,{i}\n"));
        }
        let (code, msg) = copy_error(&c.client, &format!("COPY {t} FROM STDIN (FORMAT csv)"), &data).await;
        assert_eq!(code, "23505", "{ttl}: {msg}");
        assert!(
            msg.contains("(id)=(101500)")
                && msg.contains("line 2001")
                && msg.contains("2000 rows were written before it"),
            "{msg}"
        );
        assert_eq!(
            texts(&c.client, &format!("SELECT count(*) FROM {t} WHERE id > 100000")).await,
            vec![vec![s("2000")]]
        );

        // A row already in the table, in the third batch: nothing of that batch is written.
        let data: String = (1..=3500)
            .map(|i| format!("{},y,{i}\n", if i == 2500 { 7 } else { 20_0000 + i }))
            .collect();
        let (code, msg) = copy_error(&c.client, &format!("COPY {t} FROM STDIN (FORMAT csv)"), &data).await;
        assert_eq!(code, "23505", "{ttl}: {msg}");
        assert!(
            msg.contains("(id)=(7)") && msg.contains("2000 rows were written before it"),
            "{msg}"
        );
        assert_eq!(
            texts(&c.client, &format!("SELECT count(*) FROM {t} WHERE id > 200000")).await,
            vec![vec![s("2000")]]
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_backslash_copy_loads_text_and_csv_files() {
    let url = redis_url();
    let t = unique("psqlcopy");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, note text, day date)"
        ))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(unique("copyfiles"));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("rows.tsv");
    std::fs::write(&text, "1\ttab\\there\t2024-01-01\n2\t\\N\t2024-01-02\n").unwrap();
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, "id,note,day\n3,\"a,b\",2024-01-03\n").unwrap();
    let addr = server.local_addr();
    let (t2, text, csv) = (t.clone(), text.display().to_string(), csv.display().to_string());
    let out = tokio::task::spawn_blocking(move || {
        psql_command(addr)
            .args(["-v", "ON_ERROR_STOP=1"])
            .args(["-c", &format!("\\copy {t2} FROM '{text}'")])
            .args([
                "-c",
                &format!("\\copy {t2} FROM '{csv}' WITH (FORMAT csv, HEADER true)"),
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "COPY 2\nCOPY 1\n");
    assert_eq!(
        texts(&c.client, &format!("SELECT id, note, day FROM {t} ORDER BY id")).await,
        vec![
            vec![s("1"), s("tab\there"), s("2024-01-01")],
            vec![s("2"), None, s("2024-01-02")],
            vec![s("3"), s("a,b"), s("2024-01-03")],
        ]
    );
    server.shutdown().await;
}
