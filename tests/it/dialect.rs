//! PostgreSQL features clients rely on that Polars SQL lacks: SQL cursors,
//! set-returning functions in FROM, correlated subqueries per row, ISO-8601
//! timestamps compared with timestamp columns, index definitions for psql's
//! `\d`, and ParameterStatus after SET. Each over the wire, on a private Redis.

use crate::common::*;
use redsql::Server;

async fn seeded() -> (Server, Conn) {
    let server = private_server(100).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE sale (id bigint PRIMARY KEY, region text, amount double precision, ts timestamp);
             INSERT INTO sale VALUES
               (1, 'north', 10, '2024-01-01 10:00:00'), (2, 'south', 20, '2024-01-02 00:00:00'),
               (3, 'north', 30, '2024-02-01 12:30:00'), (4, 'east', 40, NULL),
               (5, 'north', NULL, '2024-03-01 00:00:00');",
        )
        .await
        .unwrap();
    (server, c)
}

fn rows(v: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    v.iter()
        .map(|r| r.iter().map(|s| (*s != "NULL").then(|| s.to_string())).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_fetch_forward_and_close_with_the_transaction() {
    let (server, c) = seeded().await;
    let cl = &c.client;
    texts(cl, "BEGIN").await;
    texts(cl, "DECLARE cur CURSOR FOR SELECT id, region FROM sale ORDER BY id").await;
    assert_eq!(
        texts(cl, "FETCH 2 FROM cur").await,
        rows(&[&["1", "north"], &["2", "south"]])
    );
    assert_eq!(texts(cl, "FETCH NEXT FROM cur").await, rows(&[&["3", "north"]]));
    assert_eq!(
        texts(cl, "FETCH ALL FROM cur").await,
        rows(&[&["4", "east"], &["5", "north"]])
    );
    assert_eq!(texts(cl, "FETCH FORWARD 10 FROM cur").await, rows(&[]));
    assert_eq!(
        sqlstate(cl, "DECLARE cur CURSOR FOR SELECT 1").await,
        "42P03",
        "a name in use"
    );
    texts(
        cl,
        "DECLARE kept CURSOR WITH HOLD FOR SELECT id FROM sale WHERE id > 3 ORDER BY id",
    )
    .await;
    texts(cl, "COMMIT").await;
    // WITHOUT HOLD (the default) closes at COMMIT; WITH HOLD stays open.
    assert_eq!(sqlstate(cl, "FETCH 1 FROM cur").await, "34000");
    assert_eq!(texts(cl, "FETCH 1 FROM kept").await, rows(&[&["4"]]));
    texts(cl, "CLOSE kept").await;
    assert_eq!(sqlstate(cl, "CLOSE kept").await, "34000");
    assert_eq!(sqlstate(cl, "FETCH BACKWARD 1 FROM kept").await, "0A000");
    // Parameters of the extended protocol bind into the cursor's query.
    cl.execute(
        "DECLARE p CURSOR WITH HOLD FOR SELECT id FROM sale WHERE id >= $1 ORDER BY id",
        &[&4i64],
    )
    .await
    .unwrap();
    let fetched = cl.query("FETCH 5 FROM p", &[]).await.unwrap();
    let ids: Vec<i64> = fetched.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, [4, 5]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_returning_functions_in_from() {
    let (server, c) = seeded().await;
    let cl = &c.client;
    assert_eq!(
        texts(cl, "SELECT n FROM generate_series(1, 7, 3) AS g(n)").await,
        rows(&[&["1"], &["4"], &["7"]])
    );
    // The column takes the alias's name; joins see it like a table.
    assert_eq!(
        texts(
            cl,
            "SELECT s, count(sale.id) FROM pg_catalog.generate_series(1, 5) s \
             LEFT JOIN sale ON sale.id = s * 2 GROUP BY s ORDER BY s"
        )
        .await,
        rows(&[&["1", "1"], &["2", "1"], &["3", "0"], &["4", "0"], &["5", "0"]])
    );
    assert_eq!(
        texts(
            cl,
            "SELECT d::date, count(sale.id) FROM generate_series(DATE '2024-01-01', DATE '2024-01-03', \
             INTERVAL '1 day') AS d LEFT JOIN sale ON sale.ts::date = d::date GROUP BY 1 ORDER BY 1"
        )
        .await,
        rows(&[&["2024-01-01", "1"], &["2024-01-02", "1"], &["2024-01-03", "0"]])
    );
    assert_eq!(
        texts(cl, "SELECT * FROM unnest(ARRAY['a', 'b']) WITH ORDINALITY").await,
        rows(&[&["a", "1"], &["b", "2"]])
    );
    assert_eq!(sqlstate(cl, "SELECT * FROM generate_series(1, 3, 0)").await, "22023");
    assert_eq!(
        sqlstate(cl, "SELECT * FROM generate_series(1, 100000000000)").await,
        "54000"
    );
    // Other table functions stay refused: they could read server files.
    assert_eq!(sqlstate(cl, "SELECT * FROM read_csv('/etc/passwd')").await, "42501");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlated_subqueries_and_iso_timestamps() {
    let (server, c) = seeded().await;
    let cl = &c.client;
    // One value per outer row (not one for the whole result).
    assert_eq!(
        texts(
            cl,
            "SELECT s.id, (SELECT count(*) FROM sale t WHERE t.region = s.region) AS n FROM sale s ORDER BY s.id"
        )
        .await,
        rows(&[&["1", "3"], &["2", "1"], &["3", "3"], &["4", "1"], &["5", "3"]])
    );
    // Grafana's $__timeFilter: the zone is dropped, as for PostgreSQL's
    // timestamp without time zone.
    assert_eq!(
        texts(
            cl,
            "SELECT id FROM sale WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-02-01T12:30:00+02:00' ORDER BY id"
        )
        .await,
        rows(&[&["1"], &["2"], &["3"]])
    );
    assert_eq!(
        texts(cl, "SELECT count(*) FROM sale WHERE ts >= '2024-02-01T00:00:00.000Z'").await,
        rows(&[&["2"]])
    );
    // UNION branches with the same unnamed literals (psql's \d footers).
    assert_eq!(
        texts(
            cl,
            "SELECT region, NULL, NULL FROM sale WHERE id = 1 UNION SELECT 'x', NULL, NULL ORDER BY 1"
        )
        .await,
        rows(&[&["north", "NULL", "NULL"], &["x", "NULL", "NULL"]])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describes_a_table_with_its_indexes() {
    let (server, c) = seeded().await;
    c.client
        .batch_execute("CREATE INDEX sale_region ON sale (region, amount)")
        .await
        .unwrap();
    let addr = server.local_addr();
    let out = tokio::task::spawn_blocking(move || psql_command(addr).args(["-c", "\\d sale"]).output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Table \"public.sale\""), "{text}");
    assert!(text.contains("\"sale_pkey\" PRIMARY KEY, btree (id)"), "{text}");
    assert!(text.contains("\"sale_region\" redisearch (region, amount)"), "{text}");
    assert_eq!(
        texts(
            &c.client,
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'sale_pkey'"
        )
        .await,
        rows(&[&["PRIMARY KEY (id)"]])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_copy_out_decodes_with_the_described_types() {
    use futures::{pin_mut, TryStreamExt};
    use tokio_postgres::binary_copy::BinaryCopyOutStream;
    use tokio_postgres::types::Type;
    let (server, c) = seeded().await;
    let cl = &c.client;
    let stream = cl
        .copy_out("COPY (SELECT id, region, amount, ts FROM sale ORDER BY id) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let rows = BinaryCopyOutStream::new(stream, &[Type::INT8, Type::TEXT, Type::FLOAT8, Type::TIMESTAMP]);
    pin_mut!(rows);
    let mut got = Vec::new();
    while let Some(r) = rows.try_next().await.unwrap() {
        got.push((
            r.get::<i64>(0),
            r.get::<Option<String>>(1),
            r.get::<Option<f64>>(2),
            r.get::<Option<chrono::NaiveDateTime>>(3).map(|t| t.to_string()),
        ));
    }
    assert_eq!(got.len(), 5);
    assert_eq!(
        got[0],
        (1, Some("north".into()), Some(10.0), Some("2024-01-01 10:00:00".into()))
    );
    assert_eq!(got[3], (4, Some("east".into()), Some(40.0), None));
    assert_eq!(got[4].2, None, "NULL amount");
    // The legacy spelling, and no rows at all.
    let empty = cl
        .copy_out("COPY (SELECT id FROM sale WHERE id > 99) TO STDOUT WITH BINARY")
        .await
        .unwrap();
    let rows = BinaryCopyOutStream::new(empty, &[Type::INT8]);
    pin_mut!(rows);
    assert!(rows.try_next().await.unwrap().is_none());
    assert_eq!(sqlstate(cl, "COPY sale FROM STDIN (FORMAT binary)").await, "0A000");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_setting_reads_the_sessions_set_values() {
    let (server, c) = seeded().await;
    let cl = &c.client;
    assert_eq!(
        texts(cl, "SELECT current_setting('application_name')").await,
        rows(&[&[""]])
    );
    texts(cl, "SET application_name = 'report-42'").await;
    let row = cl
        .query_one("SELECT pg_catalog.current_setting('application_name')", &[])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].name(), "current_setting");
    assert_eq!(row.get::<_, String>(0), "report-42");
    // Another connection keeps its own value.
    let other = connect(&server).await;
    assert_eq!(
        texts(
            &other.client,
            "SELECT current_setting('application_name') = 'report-42'"
        )
        .await,
        rows(&[&["f"]])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_functions_inside_ctes_unions_and_derived_tables() {
    // Polars SQL ran these parts without redsql's functions ("unsupported
    // function 'pg_div'"); the vendored polars-sql fix keeps them.
    let (server, c) = seeded().await;
    let cl = &c.client;
    assert_eq!(
        texts(
            cl,
            "WITH t AS (SELECT id / 2 AS h FROM sale WHERE id <= 3) SELECT h FROM t ORDER BY h"
        )
        .await,
        rows(&[&["0"], &["1"], &["1"]])
    );
    assert_eq!(
        texts(cl, "SELECT 7 / 2 AS x UNION ALL SELECT 1 ORDER BY x").await,
        rows(&[&["1"], &["3"]])
    );
    assert_eq!(
        texts(
            cl,
            "SELECT m, n FROM (SELECT date_trunc('month', ts) AS m, count(*) AS n FROM sale \
             WHERE ts IS NOT NULL GROUP BY 1) AS t ORDER BY m"
        )
        .await,
        rows(&[
            &["2024-01-01 00:00:00", "2"],
            &["2024-02-01 00:00:00", "1"],
            &["2024-03-01 00:00:00", "1"]
        ])
    );
    assert_eq!(sqlstate(cl, "SELECT * FROM (SELECT 1 / 0 AS x) AS t").await, "22012");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn format_json_build_object_and_boolean_aggregates() {
    let (server, c) = seeded().await;
    let cl = &c.client;
    assert_eq!(
        texts(
            cl,
            "SELECT format('%s.%I = %L', 'public', 'Sale', 'it''s'), json_build_object('id', id, 'region', region, 'amount', amount) \
             FROM sale WHERE id = 5"
        )
        .await,
        rows(&[&[
            "public.\"Sale\" = 'it''s'",
            r#"{"id" : 5, "region" : "north", "amount" : null}"#
        ]])
    );
    assert_eq!(sqlstate(cl, "SELECT format('%I', NULL)").await, "22004");
    assert_eq!(sqlstate(cl, "SELECT json_build_object('a')").await, "22023");
    assert_eq!(
        texts(
            cl,
            "SELECT region, bool_and(amount > 15), bool_or(amount > 25) FROM sale GROUP BY region ORDER BY region"
        )
        .await,
        rows(&[&["east", "t", "t"], &["north", "f", "t"], &["south", "t", "f"]])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_columns_through_select_list_set_returning_functions() {
    // pgjdbc's getPrimaryKeys / getIndexInfo and SQLAlchemy's reflection
    // expand pg_index.indkey in the select list.
    let (server, c) = seeded().await;
    let cl = &c.client;
    texts(cl, "CREATE INDEX sale_idx ON sale (region, amount)").await;
    // pg_get_indexdef(oid, k, pretty): column k's name (k from a derived table, as Metabase sends it).
    let keys = "SELECT t.relname, t.pos, trim(both '\"' from pg_catalog.pg_get_indexdef(t.oid, t.pos, false)) \
                FROM (SELECT ci.relname, ci.oid, (information_schema._pg_expandarray(i.indkey)).n AS pos \
                FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid \
                JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid WHERE ct.relname = 'sale') AS t ORDER BY 1, 2";
    assert_eq!(
        texts(cl, keys).await,
        rows(&[
            &["sale_idx", "1", "region"],
            &["sale_idx", "2", "amount"],
            &["sale_pkey", "1", "id"]
        ])
    );
    // The composite as a whole, its field read outside; int2vector subscripts from 0.
    assert_eq!(
        texts(
            cl,
            "SELECT r.first, (r.keys).x, r.pos FROM (SELECT i.indkey[0] AS first, _pg_expandarray(i.indkey) AS keys, \
             generate_subscripts(i.indkey, 1) AS pos, i.indisprimary AS p FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = 'sale') AS r WHERE NOT r.p ORDER BY r.pos"
        )
        .await,
        rows(&[&["2", "2", "0"], &["2", "3", "1"]])
    );
    assert_eq!(
        texts(
            cl,
            "SELECT (current_schemas(true))[1], (current_schemas(true))[3], array_upper(current_schemas(false), 1)"
        )
        .await,
        rows(&[&["pg_catalog", "NULL", "1"]])
    );
    server.shutdown().await;
}
