//! pg_catalog and information_schema as clients browse them: psql's
//! `\l`, `\dn`, `\dt`, `\d`, `\d+` with the real psql, and the catalog queries of
//! SQLAlchemy, DBeaver and Grafana-style pickers over the wire, on a
//! private Redis so the table list is exactly the test's.

use crate::common::*;

fn psql(addr: std::net::SocketAddr, meta: &str) -> String {
    psql_with(addr, &["-t"], meta)
}

fn psql_with(addr: std::net::SocketAddr, options: &[&str], meta: &str) -> String {
    let out = psql_command(addr)
        .args(["-A", "-F", "|"])
        .args(options)
        .args(["-c", meta])
        .output()
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "psql {meta}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_meta_commands_and_client_catalog_queries() {
    let server = private_server(100).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE sale (id bigint PRIMARY KEY, region text, amount double precision, day date);
             INSERT INTO sale VALUES (1, 'north', 2.5, '2024-01-02'), (2, 'south', 4, NULL);
             CREATE TABLE person (name text PRIMARY KEY, age bigint);
             INSERT INTO person VALUES ('ann', 41);",
        )
        .await
        .unwrap();
    let addr = server.local_addr();
    let run = |meta: &'static str| tokio::task::spawn_blocking(move || psql(addr, meta));

    assert_eq!(run("\\dn").await.unwrap(), "public|redsql\nredsql|redsql\n");
    assert_eq!(
        run("\\dt").await.unwrap(),
        "public|person|table|redsql\npublic|sale|table|redsql\n"
    );
    // \d lists views too, but redsql's own views are outside the search path.
    assert_eq!(
        run("\\d").await.unwrap(),
        "public|person|table|redsql\npublic|sale|table|redsql\n"
    );
    // \d+ as PostgreSQL 15 prints it for the same table (its table-options
    // query concatenates arrays, one built by ARRAY(SELECT .. FROM unnest(outer.col))).
    let verbose = tokio::task::spawn_blocking(move || psql_with(addr, &[], "\\d+ sale"))
        .await
        .unwrap();
    assert_eq!(
        verbose,
        "Table \"public.sale\"\n\
         Column|Type|Collation|Nullable|Default|Storage|Compression|Stats target|Description\n\
         id|bigint||not null||plain|||\n\
         region|text||||extended|||\n\
         amount|double precision||||plain|||\n\
         day|date||||plain|||\n\
         Indexes:\n    \"sale_pkey\" PRIMARY KEY, btree (id)\n\
         Access method: heap\n"
    );
    let l = run("\\l").await.unwrap();
    assert!(l.starts_with("redsql|redsql|UTF8|"), "{l}");

    // information_schema, as Grafana's and Metabase's column pickers read it.
    let cols = texts(
        &c.client,
        "SELECT table_name, column_name, data_type, is_nullable, ordinal_position::text \
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .await;
    let cols: Vec<String> = cols
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        cols,
        [
            "person name text NO 1",
            "person age bigint YES 2",
            "sale id bigint NO 1",
            "sale region text YES 2",
            "sale amount double precision YES 3",
            "sale day date YES 4",
        ]
    );
    let keys = texts(
        &c.client,
        "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name \
         WHERE tc.constraint_type = 'PRIMARY KEY' ORDER BY 1",
    )
    .await;
    assert_eq!(
        keys,
        [
            [Some("person".to_string()), Some("name".to_string())],
            [Some("sale".to_string()), Some("id".to_string())]
        ]
    );

    // RowDescription names the table OID and column number of columns read
    // as they are (pgjdbc's nullability and base-table lookups); computed
    // columns name none. The numbers are pg_attribute's.
    let sale_oid: u32 = texts(&c.client, "SELECT 'sale'::regclass::oid::text").await[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    let described = c
        .client
        .prepare("SELECT s.region, amount * 2, p.*, id AS k FROM sale s JOIN person p ON p.age = s.id")
        .await
        .unwrap();
    let origins: Vec<(Option<u32>, Option<i16>)> = described
        .columns()
        .iter()
        .map(|c| (c.table_oid(), c.column_id()))
        .collect();
    let person_oid: u32 = texts(&c.client, "SELECT 'person'::regclass::oid::text").await[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        origins,
        [
            (Some(sale_oid), Some(2)),
            (None, None),
            (Some(person_oid), Some(1)),
            (Some(person_oid), Some(2)),
            (Some(sale_oid), Some(1))
        ]
    );
    let attnums = texts(
        &c.client,
        &format!("SELECT attname, attnum::text FROM pg_attribute WHERE attrelid = {sale_oid} AND attnum <= 2 ORDER BY attnum"),
    )
    .await;
    assert_eq!(
        attnums,
        [
            [Some("id".to_string()), Some("1".to_string())],
            [Some("region".to_string()), Some("2".to_string())]
        ]
    );

    // SQLAlchemy's get_table_names, with its pg_catalog-qualified columns.
    let names = texts(
        &c.client,
        "SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace \
         ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \
         WHERE pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p']) AND pg_catalog.pg_class.relpersistence != 't' \
         AND pg_catalog.pg_namespace.nspname = 'public' ORDER BY 1",
    )
    .await;
    assert_eq!(names, [[Some("person".to_string())], [Some("sale".to_string())]]);

    // Attributes by a relation OID given as text, and format_type (psql's \d).
    let oid = texts(&c.client, "SELECT oid::text FROM pg_class WHERE relname = 'sale'").await[0][0]
        .clone()
        .unwrap();
    let by_regclass = texts(&c.client, "SELECT 'sale'::regclass::text").await[0][0]
        .clone()
        .unwrap();
    assert_eq!(oid, by_regclass, "'sale'::regclass is the table's pg_class OID");
    let attrs = texts(
        &c.client,
        &format!(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull::text \
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum"
        ),
    )
    .await;
    let expected = [
        ("id", "bigint", "true"),
        ("region", "text", "false"),
        ("amount", "double precision", "false"),
        ("day", "date", "false"),
    ];
    let got: Vec<(String, String, String)> = attrs
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone().unwrap()))
        .collect();
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, expected);

    // Session functions, with PostgreSQL's output names.
    let row = c
        .client
        .query_one(
            "SELECT version(), current_database(), current_schema(), current_user, \
             pg_catalog.pg_table_is_visible('sale'::regclass) AS visible",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "version",
            "current_database",
            "current_schema",
            "current_user",
            "visible"
        ]
    );
    assert!(row.get::<_, String>(0).starts_with("PostgreSQL 16.6"));
    assert_eq!(row.get::<_, String>(1), "redsql");
    assert_eq!(row.get::<_, String>(2), "public");
    assert!(row.get::<_, bool>(4));

    // Settings and types as drivers probe them.
    assert_eq!(
        texts(
            &c.client,
            "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'standard_conforming_strings'"
        )
        .await,
        [[Some("on".to_string())]]
    );
    assert_eq!(
        texts(&c.client, "SELECT typname FROM pg_type WHERE oid = '701'").await,
        [[Some("float8".to_string())]]
    );
    // The catalog is read-only like any system view.
    assert_eq!(
        sqlstate(&c.client, "SELECT * FROM pg_catalog.no_such_table").await,
        "42P01"
    );
    server.shutdown().await;
}
