//! One step from a file to a table: the `redsql load` command line and
//! `CREATE TABLE ... WITH (source = ...)`; and `CREATE TABLE ... AS SELECT`.

use std::process::Command;

use crate::common::*;
use crate::files::temp_dir;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// (column, type) of a table as `redsql.columns` reports them, by name.
async fn column_types(client: &tokio_postgres::Client, table: &str) -> Vec<Vec<Option<String>>> {
    texts(
        client,
        &format!("SELECT column_name, data_type FROM redsql.columns WHERE table_name = '{table}' ORDER BY column_name"),
    )
    .await
}

/// Run `redsql load` against the test Redis; (exit ok, stderr).
fn redsql_load(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_redsql"))
        .arg("load")
        .args(args)
        .args(["--redis", &redis_url()])
        .output()
        .expect("redsql runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_load_infers_the_schema_and_applies_ttl_and_if_exists() {
    let t = unique("cli");
    let dir = temp_dir("cli");
    let file = dir.join("customers.csv");
    std::fs::write(
        &file,
        "id,name,zip,signup,vip\n1,Ann,00123,2024-01-05,true\n2,\"Lee, Bo\",90210,2024-02-29,false\n3,,02134,,\n",
    )
    .unwrap();
    let f = file.to_str().unwrap().to_string();
    let (ok, err) = redsql_load(&[&f, "--table", &t, "--key", "id", "--ttl", "600"]);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("loaded 3 rows into {t}")), "{err}");
    assert!(err.contains("rows/s"), "{err}");

    let server = start_server(&redis_url()).await;
    let c = connect(&server).await;
    assert_eq!(
        column_types(&c.client, &t).await,
        vec![
            vec![s("id"), s("bigint")],
            vec![s("name"), s("text")],
            vec![s("signup"), s("date")],
            vec![s("vip"), s("boolean")],
            vec![s("zip"), s("text")],
        ]
    );
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT id, name, zip, signup, vip, _ttl > 500 FROM {t} ORDER BY id")
        )
        .await,
        vec![
            vec![s("1"), s("Ann"), s("00123"), s("2024-01-05"), s("t"), s("t")],
            vec![s("2"), s("Lee, Bo"), s("90210"), s("2024-02-29"), s("f"), s("t")],
            vec![s("3"), None, s("02134"), None, None, s("t")],
        ]
    );

    // The table exists: fail by default, append refuses duplicates unless asked, replace starts over.
    let (ok, err) = redsql_load(&[&f, "--table", &t, "--key", "id"]);
    assert!(!ok && err.contains("42P07"), "{err}");
    let (ok, err) = redsql_load(&[&f, "--table", &t, "--key", "id", "--if-exists", "append"]);
    assert!(!ok && err.contains("23505"), "{err}");
    std::fs::write(
        &file,
        "id,name,zip,signup,vip\n3,Cy,02134,,\n4,Di,11111,2024-03-01,true\n",
    )
    .unwrap();
    let (ok, err) = redsql_load(&[
        &f,
        "--table",
        &t,
        "--key",
        "id",
        "--if-exists",
        "append",
        "--on-duplicate",
        "replace",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        texts(&c.client, &format!("SELECT id, name FROM {t} ORDER BY id")).await,
        vec![
            vec![s("1"), s("Ann")],
            vec![s("2"), s("Lee, Bo")],
            vec![s("3"), s("Cy")],
            vec![s("4"), s("Di")],
        ]
    );
    let (ok, err) = redsql_load(&[&f, "--table", &t, "--key", "id", "--if-exists", "replace"]);
    assert!(ok, "{err}");
    assert_eq!(
        texts(&c.client, &format!("SELECT id FROM {t} ORDER BY id")).await,
        vec![vec![s("3")], vec![s("4")]]
    );
    // A missing key column names the file's columns.
    let (ok, err) = redsql_load(&[&f, "--table", &format!("{t}_x"), "--key", "nope"]);
    assert!(!ok && err.contains("42703") && err.contains("zip"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn create_table_from_a_file_and_as_select() {
    let url = redis_url();
    let t = unique("ctas");
    let dir = temp_dir("ctas");
    std::fs::write(
        dir.join("orders.ndjson"),
        "{\"order_id\": 10, \"customer\": 1, \"amount\": 9.5, \"day\": \"2024-05-01\"}\n\
         {\"order_id\": 11, \"customer\": 2, \"amount\": 20, \"day\": \"2024-05-02\"}\n\
         {\"order_id\": 12, \"customer\": 1, \"amount\": 0.5, \"day\": \"2024-05-02\"}\n",
    )
    .unwrap();
    let server = start_server_with_data_dir(&url, Some(&dir)).await;
    let c = connect(&server).await;
    let n = c
        .client
        .execute(
            &format!("CREATE TABLE {t} WITH (source = 'orders.ndjson', key = 'order_id', ttl = 900)"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        column_types(&c.client, &t).await,
        vec![
            vec![s("amount"), s("double precision")],
            vec![s("customer"), s("bigint")],
            vec![s("day"), s("date")],
            vec![s("order_id"), s("bigint")],
        ]
    );
    // CREATE TABLE ... AS: the key from WITH, the types from the query, the PG tag.
    let rows = c
        .client
        .simple_query(&format!(
            "CREATE TABLE {t}_by WITH (key = 'customer') AS
             SELECT customer, sum(amount) AS total, count(*) AS orders, max(day) AS last_day FROM {t} GROUP BY customer"
        ))
        .await
        .unwrap();
    let tag = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
        _ => None,
    });
    assert_eq!(tag, Some(2));
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT customer, total, orders, last_day FROM {t}_by ORDER BY customer")
        )
        .await,
        vec![
            vec![s("1"), s("10"), s("2"), s("2024-05-02")],
            vec![s("2"), s("20"), s("1"), s("2024-05-02")],
        ]
    );
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT data_type FROM redsql.columns WHERE table_name = '{t}_by' AND column_name = 'last_day'")
        )
        .await,
        vec![vec![s("date")]]
    );
    // All or nothing: a repeated key fails and leaves no table behind.
    assert_eq!(
        sqlstate(
            &c.client,
            &format!("CREATE TABLE {t}_dup WITH (key = 'customer') AS SELECT customer, amount FROM {t}")
        )
        .await,
        "23505"
    );
    assert_eq!(sqlstate(&c.client, &format!("SELECT * FROM {t}_dup")).await, "42P01");
    assert_eq!(
        sqlstate(
            &c.client,
            &format!("CREATE TABLE {t}_nokey AS SELECT customer FROM {t}")
        )
        .await,
        "42P16"
    );
    assert_eq!(
        sqlstate(
            &c.client,
            &format!("CREATE TABLE {t}_y WITH (source = '/etc/passwd', key = 'x')")
        )
        .await,
        "42501"
    );
    server.shutdown().await;
}
