//! COPY TO STDOUT (tokio-postgres and psql's \copy) and server-side files:
//! COPY FROM/TO 'file' in CSV, text, Parquet, JSON and NDJSON, bounded by
//! the data directory.

use std::path::PathBuf;

use crate::common::*;
use futures::TryStreamExt;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(&format!("redsql-{name}")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn copy_out(client: &tokio_postgres::Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

async fn make_people(client: &tokio_postgres::Client, t: &str) {
    client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, score double precision, ok boolean, born date);
             INSERT INTO {t} VALUES (1, 'Lee, Ann', 1.5, true, '2001-02-03'),
                                    (2, NULL, NULL, NULL, NULL),
                                    (3, '', -0.25, false, '1999-12-31'),
                                    (4, 'tab\there \"q\"', 1e20, true, NULL)"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn copy_to_stdout_writes_csv_and_text_like_postgres() {
    let url = redis_url();
    let t = unique("cpout");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    make_people(&c.client, &t).await;

    let csv = copy_out(
        &c.client,
        &format!(
            "COPY (SELECT id, name, score, ok, born FROM {t} ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER true)"
        ),
    )
    .await;
    assert_eq!(
        csv,
        "id,name,score,ok,born\n1,\"Lee, Ann\",1.5,t,2001-02-03\n2,,,,\n3,\"\",-0.25,f,1999-12-31\n4,\"tab\there \"\"q\"\"\",1e+20,t,\n"
    );
    let text = copy_out(
        &c.client,
        &format!("COPY (SELECT id, name FROM {t} ORDER BY id) TO STDOUT"),
    )
    .await;
    assert_eq!(text, "1\tLee, Ann\n2\t\\N\n3\t\n4\ttab\\there \"q\"\n");

    // A whole table with a column list.
    let mut lines: Vec<String> = copy_out(&c.client, &format!("COPY {t} (id, ok) TO STDOUT (FORMAT csv)"))
        .await
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    assert_eq!(lines, vec!["1,t", "2,", "3,f", "4,t"]);

    // The session goes on.
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("4")]]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_copy_to_a_client_file_round_trips_through_copy_from() {
    let url = redis_url();
    let t = unique("cppsql");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    make_people(&c.client, &t).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t}_copy (id bigint PRIMARY KEY, name text, score double precision, ok boolean, born date)"
        ))
        .await
        .unwrap();
    let dir = temp_dir("psqlout");
    let file = dir.join("people.csv");
    let addr = server.local_addr();
    let script = format!(
        "\\copy (SELECT * FROM {t} ORDER BY id) TO '{f}' CSV HEADER\n\\copy {t}_copy FROM '{f}' CSV HEADER\n",
        f = file.display()
    );
    let script_file = dir.join("script.sql");
    std::fs::write(&script_file, script).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        psql_command(addr)
            .args(["-v", "ON_ERROR_STOP=1", "-f", script_file.to_str().unwrap()])
            .output()
            .expect("psql runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "psql failed: {stdout} {stderr}");
    let content = std::fs::read_to_string(&file).unwrap();
    assert!(
        content.starts_with("id,name,score,ok,born\n1,\"Lee, Ann\",1.5,t,2001-02-03\n"),
        "{content}"
    );
    let q = |x: &str| format!("SELECT id, name, score, ok, born FROM {x} ORDER BY id");
    assert_eq!(
        texts(&c.client, &q(&format!("{t}_copy"))).await,
        texts(&c.client, &q(&t)).await
    );
    server.shutdown().await;
}

#[tokio::test]
async fn server_files_round_trip_in_every_format() {
    let url = redis_url();
    let t = unique("cpfile");
    let dir = temp_dir("formats");
    let server = start_server_with_data_dir(&url, Some(&dir)).await;
    let c = connect(&server).await;
    make_people(&c.client, &t).await;
    let all = |x: &str| format!("SELECT id, name, score, ok, born FROM {x} ORDER BY id");
    let expected = texts(&c.client, &all(&t)).await;
    for (i, file) in ["p.csv", "p.txt", "p.parquet", "p.json", "p.ndjson"].iter().enumerate() {
        let header = if file.ends_with(".csv") {
            " WITH (HEADER true)"
        } else {
            ""
        };
        let n = c
            .client
            .execute(&format!("COPY {t} TO '{file}'{header}"), &[])
            .await
            .unwrap_or_else(|e| panic!("COPY TO {file}: {e}"));
        assert_eq!(n, 4, "{file}");
        assert!(dir.join(file).metadata().unwrap().len() > 0);
        let copy = format!("{t}_{i}");
        c.client
            .batch_execute(&format!(
                "CREATE TABLE {copy} (id bigint PRIMARY KEY, name text, score double precision, ok boolean, born date)"
            ))
            .await
            .unwrap();
        let n = c
            .client
            .execute(&format!("COPY {copy} FROM '{file}'{header}"), &[])
            .await
            .unwrap_or_else(|e| panic!("COPY FROM {file}: {e}"));
        assert_eq!(n, 4, "{file}");
        assert_eq!(texts(&c.client, &all(&copy)).await, expected, "{file}");
    }
    // FORMAT wins over the extension.
    c.client
        .execute(&format!("COPY (SELECT id FROM {t}) TO 'ids.out' (FORMAT csv)"), &[])
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("ids.out")).unwrap().lines().count(), 4);
    server.shutdown().await;
}

#[tokio::test]
async fn nested_json_files_flatten_and_bad_files_say_where() {
    let url = redis_url();
    let t = unique("cpjson");
    let dir = temp_dir("json");
    std::fs::write(
        dir.join("c.ndjson"),
        "{\"id\": 1, \"name\": \"a\", \"address\": {\"city\": \"Oslo\", \"zip\": \"0150\"}}\n\
         {\"id\": 2, \"name\": \"b\", \"address\": {\"city\": \"Rome\", \"zip\": null}}\n",
    )
    .unwrap();
    let mut csv = String::from("id,v\n");
    for i in 1..=1500 {
        csv.push_str(&if i == 1203 {
            format!("{i},x\n")
        } else {
            format!("{i},{i}\n")
        });
    }
    std::fs::write(dir.join("bad.csv"), csv).unwrap();
    let server = start_server_with_data_dir(&url, Some(&dir)).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, \"address.city\" text, \"address.zip\" text);
             CREATE TABLE {t}_n (id bigint PRIMARY KEY, v bigint)"
        ))
        .await
        .unwrap();
    c.client
        .execute(&format!("COPY {t} FROM 'c.ndjson'"), &[])
        .await
        .unwrap();
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT id, \"address.city\", \"address.zip\" FROM {t} ORDER BY id")
        )
        .await,
        vec![vec![s("1"), s("Oslo"), s("0150")], vec![s("2"), s("Rome"), None]]
    );
    let e = c
        .client
        .execute(&format!("COPY {t}_n FROM 'bad.csv' (FORMAT csv, HEADER true)"), &[])
        .await
        .unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "22P02", "{db:?}");
    assert!(db.message().contains("line 1204"), "{}", db.message());
    assert!(db.message().contains("column \"v\""), "{}", db.message());
    assert!(
        db.message().contains("1000 rows were written before it"),
        "{}",
        db.message()
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}_n")).await,
        vec![vec![s("1000")]]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn server_paths_are_confined_to_the_data_directory() {
    let url = redis_url();
    let t = unique("cpsec");
    let dir = temp_dir("secure");
    let outside = temp_dir("outside");
    std::fs::write(outside.join("secret.csv"), "1\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.join("secret.csv"), dir.join("link.csv")).unwrap();
    let server = start_server_with_data_dir(&url, Some(&dir)).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!("CREATE TABLE {t} (id bigint PRIMARY KEY)"))
        .await
        .unwrap();
    let secret = outside.join("secret.csv");
    for sql in [
        format!("COPY {t} FROM '/etc/passwd'"),
        format!("COPY {t} FROM '{}'", secret.display()),
        format!(
            "COPY {t} FROM '../{}/secret.csv'",
            outside.file_name().unwrap().to_str().unwrap()
        ),
        format!("COPY {t} FROM 'link.csv'"),
        format!("COPY {t} TO '/tmp/redsql-escape.csv'"),
        format!("COPY {t} TO '{}'", outside.join("x.csv").display()),
        format!("COPY {t} TO PROGRAM 'touch /tmp/redsql-pwned'"),
        format!("COPY {t} FROM PROGRAM 'cat /etc/passwd'"),
    ] {
        assert_eq!(sqlstate(&c.client, &sql).await, "42501", "{sql}");
    }
    assert!(!outside.join("x.csv").exists());
    assert_eq!(
        sqlstate(&c.client, &format!("COPY {t} FROM 'missing.csv'")).await,
        "58P01"
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![s("0")]]
    );
    server.shutdown().await;

    // Without --data-dir no server file is touched at all.
    let server = start_server(&url).await;
    let c = connect(&server).await;
    std::fs::write(dir.join("ok.csv"), "1\n").unwrap();
    let in_dir = dir.join("ok.csv");
    assert_eq!(
        sqlstate(&c.client, &format!("COPY {t} FROM '{}'", in_dir.display())).await,
        "42501"
    );
    assert_eq!(sqlstate(&c.client, &format!("COPY {t} TO 'x.csv'")).await, "42501");
    server.shutdown().await;
}

#[tokio::test]
async fn streamed_exports_match_whole_query_results() {
    let url = redis_url();
    let t = unique("cpstream");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, v double precision)"
        ))
        .await
        .unwrap();
    // 20,000 rows: several chunks of the streamed path.
    let mut data = String::new();
    for i in 0..20_000 {
        data.push_str(&format!("{i}\tn{i}\t{}\n", i as f64 / 4.0));
    }
    let sink = c.client.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    futures::pin_mut!(sink);
    futures::SinkExt::send(&mut sink, bytes::Bytes::from(data))
        .await
        .unwrap();
    sink.finish().await.unwrap();

    // Row-wise (streamed chunk by chunk) against the same rows computed whole (ORDER BY).
    let select = format!("SELECT id, upper(name) AS u, v * 2 AS w, _ttl FROM {t} WHERE id % 7 = 3");
    let mut streamed: Vec<String> = copy_out(
        &c.client,
        &format!("COPY ({select}) TO STDOUT (FORMAT csv, HEADER true)"),
    )
    .await
    .lines()
    .map(str::to_string)
    .collect();
    let whole: Vec<String> = copy_out(
        &c.client,
        &format!("COPY ({select} ORDER BY id) TO STDOUT (FORMAT csv, HEADER true)"),
    )
    .await
    .lines()
    .map(str::to_string)
    .collect();
    assert_eq!(streamed[0], "id,u,w,_ttl");
    assert_eq!(whole.len(), 1 + (0..20_000).filter(|i| i % 7 == 3).count());
    let header = streamed.remove(0);
    streamed.sort_by_key(|l| l.split(',').next().unwrap().parse::<i64>().unwrap());
    streamed.insert(0, header);
    assert_eq!(streamed, whole);
    // An empty result still has its header.
    assert_eq!(
        copy_out(
            &c.client,
            &format!("COPY (SELECT id FROM {t} WHERE id < 0) TO STDOUT (FORMAT csv, HEADER true)")
        )
        .await,
        "id\n"
    );
    server.shutdown().await;
}
