//! Arrays on the wire and the catalog SQL around them, as clients send it:
//! `text[]` / `int8[]` results in text (`{a,b}`) and binary, `int2vector`
//! catalog columns as `1 2`, array text literals with `<> ALL`,
//! `pg_get_keywords()` and scalar functions in FROM, LIMIT bound as text,
//! `regproc` columns compared with 0. Over the wire, on a private Redis.

use crate::common::*;
use tokio_postgres::types::Type;

fn rows(v: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    v.iter()
        .map(|r| r.iter().map(|s| (*s != "NULL").then(|| s.to_string())).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrays_go_out_as_postgresql_arrays_in_text_and_binary() {
    let server = private_server(100).await;
    let c = connect(&server).await;
    let cl = &c.client;
    cl.batch_execute(
        "CREATE TABLE city (id bigint PRIMARY KEY, name text, country text);
         INSERT INTO city VALUES (1, 'Paris', 'FR'), (2, 'Lyon', 'FR'), (3, 'New York', 'US'), (4, NULL, 'US');",
    )
    .await
    .unwrap();
    let agg = "SELECT country, array_agg(name ORDER BY id) AS names, array_agg(id ORDER BY id) AS ids \
               FROM city GROUP BY country ORDER BY country";
    // Text: PostgreSQL's array form, quoting what needs it.
    assert_eq!(
        texts(cl, agg).await,
        rows(&[
            &["FR", "{Paris,Lyon}", "{1,2}"],
            &["US", "{\"New York\",NULL}", "{3,4}"]
        ])
    );
    // Binary (tokio-postgres asks for it): typed arrays a driver decodes.
    let got = cl.query(agg, &[]).await.unwrap();
    assert_eq!(got[0].columns()[1].type_(), &Type::TEXT_ARRAY);
    assert_eq!(got[0].columns()[2].type_(), &Type::INT8_ARRAY);
    let names: Vec<Option<String>> = got[1].get(1);
    assert_eq!(names, vec![Some("New York".to_string()), None]);
    let ids: Vec<i64> = got[0].get(2);
    assert_eq!(ids, vec![1, 2]);
    // Empty arrays and array literals.
    assert_eq!(
        texts(cl, "SELECT ARRAY['a', 'b c'], '{x,\"y z\"}'::text[]").await,
        rows(&[&["{a,\"b c\"}", "{x,\"y z\"}"]])
    );

    // int2vector catalog columns: space-separated, as SQLAlchemy splits them;
    // conkey (int2[]) is an array.
    cl.batch_execute("CREATE INDEX city_idx ON city (country, name)")
        .await
        .unwrap();
    assert_eq!(
        texts(
            cl,
            "SELECT c.relname, i.indkey, i.indoption FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             JOIN pg_catalog.pg_class t ON t.oid = i.indrelid WHERE t.relname = 'city' ORDER BY 1"
        )
        .await,
        rows(&[&["city_idx", "3 2", "0 0"], &["city_pkey", "1", "0"]])
    );
    let vec = cl
        .query(
            "SELECT i.indkey FROM pg_catalog.pg_index i WHERE i.indrelid = 'city'::regclass AND i.indisprimary",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(vec[0].columns()[0].type_(), &Type::INT2_VECTOR);
    assert_eq!(
        texts(
            cl,
            "SELECT con.conname, con.conkey FROM pg_catalog.pg_constraint con \
             WHERE con.conrelid = 'city'::regclass"
        )
        .await,
        rows(&[&["city_pkey", "{1}"]])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_sql_of_grafana_dbeaver_adbc_and_psycopg() {
    let server = private_server(100).await;
    let c = connect(&server).await;
    let cl = &c.client;
    cl.batch_execute(
        "CREATE TABLE city (id bigint PRIMARY KEY, name text); INSERT INTO city VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    )
    .await
    .unwrap();
    // Grafana's table picker: a scalar function in FROM, subscripts over it.
    let picker = "SELECT quote_ident(table_name) AS \"table\" FROM information_schema.tables \
        WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog') AND quote_ident(table_schema) IN ( \
          SELECT CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END \
          FROM generate_series(array_lower(string_to_array(current_setting('search_path'), ','), 1), \
                               array_upper(string_to_array(current_setting('search_path'), ','), 1)) AS i, \
               string_to_array(current_setting('search_path'), ',') s)";
    let tables: Vec<Option<String>> = texts(cl, picker).await.into_iter().map(|r| r[0].clone()).collect();
    assert!(tables.contains(&Some("city".into())), "{tables:?}");
    assert_eq!(
        texts(cl, "SELECT s, s[2] FROM string_to_array('a,b', ',') s").await,
        rows(&[&["{a,b}", "b"]])
    );
    // Polars' file readers stay refused in FROM.
    assert_eq!(
        sqlstate(cl, "SELECT * FROM pg_catalog.read_parquet('/etc/passwd')").await,
        "42501"
    );

    // DBeaver: keywords not in its own list.
    let kw = texts(
        cl,
        "SELECT string_agg(word, ',' ORDER BY word) FROM pg_catalog.pg_get_keywords() \
         WHERE word <> ALL ('{a,abort,absolute}'::text[]) AND word < 'acd'",
    )
    .await;
    assert_eq!(kw, rows(&[&["access"]]));
    assert_eq!(
        texts(
            cl,
            "SELECT catcode, catdesc FROM pg_get_keywords() WHERE word = 'select'"
        )
        .await,
        rows(&[&["R", "reserved"]])
    );

    // parse_ident: a qualified name's parts, as an array.
    assert_eq!(
        texts(
            cl,
            "SELECT parse_ident('\"SomeSchema\".someTable'), parse_ident('a.b(x)', false)"
        )
        .await,
        rows(&[&["{SomeSchema,sometable}", "{a,b}"]])
    );
    assert_eq!(sqlstate(cl, "SELECT parse_ident('a.')").await, "22023");

    // ADBC's type query at connect: regproc columns against 0 and as text.
    let types = texts(
        cl,
        "SELECT typname FROM pg_catalog.pg_type WHERE (typreceive != 0 OR typsend != 0) AND typtype != 'r' \
         AND typreceive::TEXT != 'array_recv' AND typname IN ('int8', '_int8') ORDER BY 1",
    )
    .await;
    assert_eq!(types, rows(&[&["int8"]]));
    assert_eq!(
        texts(cl, "SELECT typmodin FROM pg_type WHERE typname = 'int8'").await,
        rows(&[&["-"]])
    );

    // psycopg 3 binds LIMIT/OFFSET as text; NULL means no limit.
    let page = cl
        .prepare_typed(
            "SELECT id FROM city ORDER BY id LIMIT $1 OFFSET $2",
            &[Type::TEXT, Type::TEXT],
        )
        .await
        .unwrap();
    let ids: Vec<i64> = cl
        .query(&page, &[&"2", &"1"])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![2, 3]);
    let none: Option<&str> = None;
    assert_eq!(cl.query(&page, &[&none, &"0"]).await.unwrap().len(), 3);
    let bad = cl.query(&page, &[&"ten", &"0"]).await.unwrap_err();
    assert_eq!(bad.code().map(|c| c.code()), Some("22P02"), "{bad}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_subqueries_and_array_concatenation() {
    let server = private_server(100).await;
    let c = connect(&server).await;
    let cl = &c.client;
    cl.batch_execute(
        "CREATE TABLE doc (id bigint PRIMARY KEY, title text, tags text);
         INSERT INTO doc VALUES (1, 'a', 'red,blue'), (2, 'b', NULL), (3, 'c', ''), (4, 'd', 'x,blue,y');",
    )
    .await
    .unwrap();
    // Uncorrelated: the rows in the subquery's order; none is an empty array.
    assert_eq!(
        texts(
            cl,
            "SELECT ARRAY(SELECT title FROM doc WHERE id > 1 ORDER BY id DESC), \
             ARRAY(SELECT id FROM doc WHERE id > 9), array_to_string(ARRAY(SELECT title FROM doc ORDER BY 1), '+')"
        )
        .await,
        rows(&[&["{d,c,b}", "{}", "a+b+c+d"]])
    );
    // Correlated over the outer row's array: each row maps its own elements
    // (filtered, ordered, with outer columns); a NULL array gives {}.
    assert_eq!(
        texts(
            cl,
            "SELECT d.id, ARRAY(SELECT d.title || ':' || upper(t) FROM unnest(string_to_array(d.tags, ',')) t \
             WHERE t <> 'x' ORDER BY 1 DESC) FROM doc d ORDER BY d.id"
        )
        .await,
        rows(&[
            &["1", "{a:RED,a:BLUE}"],
            &["2", "{}"],
            &["3", "{}"],
            &["4", "{d:Y,d:BLUE}"]
        ])
    );
    // psql's \d+ table options: an array || ARRAY(SELECT ...) over a LEFT JOIN.
    assert_eq!(
        texts(
            cl,
            "SELECT d.id, array_to_string(string_to_array(d.tags, ',') || \
             array(select 'toast.' || x from pg_catalog.unnest(string_to_array(e.tags, ',')) x), ', ') \
             FROM doc d LEFT JOIN doc e ON e.id = d.id + 3 ORDER BY d.id"
        )
        .await,
        rows(&[
            &["1", "red, blue, toast.x, toast.blue, toast.y"],
            &["2", ""],
            &["3", ""],
            &["4", "x, blue, y"]
        ])
    );
    // string_to_array splits as PostgreSQL does ('' is an empty array).
    assert_eq!(
        texts(
            cl,
            "SELECT string_to_array('', ','), string_to_array('a,b,,c', ',', ''), string_to_array('abc', NULL), \
             string_to_array('abc', ''), string_to_array(NULL, ','), string_to_array('a<>b', '<>')"
        )
        .await,
        rows(&[&["{}", "{a,b,NULL,c}", "{a,b,c}", "{abc}", "NULL", "{a,b}"]])
    );
    // || over arrays: concatenation, an element appended, NULL arrays ignored;
    // the column keeps PostgreSQL's name.
    let cat = cl
        .query(
            "SELECT ARRAY[1, 2] || 3, ARRAY['a'] || ARRAY['b', 'c'], NULL::text[] || ARRAY['z']",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cat[0].columns()[0].name(), "?column?");
    assert_eq!(
        texts(
            cl,
            "SELECT ARRAY[1, 2] || 3, ARRAY['a'] || ARRAY['b', 'c'], NULL::text[] || ARRAY['z']"
        )
        .await,
        rows(&[&["{1,2,3}", "{a,b,c}", "{z}"]])
    );
    // A correlated form redsql cannot map is a clean error, and the session goes on.
    assert_eq!(
        sqlstate(
            cl,
            "SELECT ARRAY(SELECT e.title FROM doc e WHERE e.id = d.id) FROM doc d"
        )
        .await,
        "0A000"
    );
    // The mapping function runs its query over the elements only: no tables, no files.
    assert_eq!(
        sqlstate(
            cl,
            "SELECT pg_array_map(string_to_array(tags, ','), 'SELECT 1, x FROM read_csv(''/etc/passwd'')', NULL::text) FROM doc"
        )
        .await
        .len(),
        5
    );
    assert_eq!(texts(cl, "SELECT count(*) FROM doc").await, rows(&[&["4"]]));
    server.shutdown().await;
}
