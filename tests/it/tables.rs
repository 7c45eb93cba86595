//! Table definitions and key access: ALTER TABLE (type override, TTL of
//! every row), key lookups that never scan, INSERT ... ON CONFLICT DO UPDATE.

use crate::common::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test]
async fn alter_table_overrides_a_type_and_sets_every_rows_ttl() {
    let url = redis_url();
    let t = unique("alter");
    // Discovered: zip looks like a number, but it is a code.
    seed(
        &url,
        &t,
        &[
            ("1", &[("zip", "10115"), ("n", "1")]),
            ("2", &[("zip", "20095"), ("n", "2")]),
            ("3", &[("zip", "80331"), ("n", "3")]),
        ],
    )
    .await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let ty =
        |col: &str| format!("SELECT data_type FROM redsql.columns WHERE table_name = '{t}' AND column_name = '{col}'");
    assert_eq!(texts(&c.client, &ty("zip")).await, vec![vec![s("bigint")]]);
    c.client
        .batch_execute(&format!("ALTER TABLE {t} ALTER COLUMN zip TYPE text"))
        .await
        .unwrap();
    assert_eq!(texts(&c.client, &ty("zip")).await, vec![vec![s("text")]]);
    assert_eq!(
        texts(&c.client, &ty("n")).await,
        vec![vec![s("bigint")]],
        "other columns stay inferred"
    );
    // The override is kept in Redis: a new server sees it.
    let server2 = start_server(&url).await;
    let c2 = connect(&server2).await;
    assert_eq!(texts(&c2.client, &ty("zip")).await, vec![vec![s("text")]]);
    server2.shutdown().await;

    // TTL on every existing row, and on rows written later.
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t} WHERE _ttl IS NULL")).await,
        vec![vec![s("3")]]
    );
    c.client
        .batch_execute(&format!("ALTER TABLE {t} SET (ttl = 600)"))
        .await
        .unwrap();
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT count(*) FROM {t} WHERE _ttl BETWEEN 590 AND 600")
        )
        .await,
        vec![vec![s("3")]]
    );
    c.client
        .batch_execute(&format!("INSERT INTO {t} (_key, zip) VALUES ('4', '01067')"))
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, &format!("SELECT zip, _ttl > 590 FROM {t} WHERE _key = '4'")).await,
        vec![vec![s("01067"), s("t")]]
    );
    c.client
        .batch_execute(&format!("ALTER TABLE {t} SET (ttl = 0)"))
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t} WHERE _ttl IS NULL")).await,
        vec![vec![s("4")]]
    );
    assert_eq!(
        sqlstate(&c.client, &format!("ALTER TABLE {t} ALTER COLUMN nope TYPE text")).await,
        "42703"
    );
    assert_eq!(
        sqlstate(&c.client, &format!("ALTER TABLE {t} ADD COLUMN x text")).await,
        "0A000"
    );
    assert_eq!(
        sqlstate(&c.client, "ALTER TABLE no_such_table SET (ttl = 5)").await,
        "42P01"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn key_lookups_never_scan() {
    use crate::common::calls;
    // A private Redis, so no other test's SCANs are counted; no background refresh.
    let server = crate::common::private_server(100).await;
    let url = server.redis_url().to_string();
    let c = connect(&server).await;
    c.client
        .batch_execute("CREATE TABLE item (id bigint PRIMARY KEY, name text, price double precision)")
        .await
        .unwrap();
    let mut con = redis(&url).await;
    let mut pipe = redis::pipe();
    for i in 0..3000 {
        pipe.cmd("HSET")
            .arg(format!("item:{i}"))
            .arg("name")
            .arg(format!("n{i}"))
            .arg("price")
            .arg(i)
            .ignore();
    }
    pipe.cmd("SET").arg("item:9999").arg("not a hash").ignore();
    let () = pipe.query_async(&mut con).await.unwrap();
    assert_eq!(
        texts(&c.client, "SELECT count(*) FROM item").await,
        vec![vec![s("3000")]]
    );

    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, "SELECT name, price FROM item WHERE id = 17").await,
        vec![vec![s("n17"), s("17")]]
    );
    let stmt = c
        .client
        .prepare("SELECT id, name FROM item WHERE id = $1 AND price >= 0")
        .await
        .unwrap();
    for id in [5i64, 2999, 3000, 9999, -1] {
        let rows = c.client.query(&stmt, &[&id]).await.unwrap();
        let expected = if (0..3000).contains(&id) { 1 } else { 0 };
        assert_eq!(rows.len(), expected, "id {id}");
    }
    assert_eq!(
        texts(
            &c.client,
            "SELECT count(*), sum(price) FROM item WHERE id IN (1, 2, 3, 1, 4000)"
        )
        .await,
        vec![vec![s("3"), s("6")]]
    );
    c.client
        .execute("UPDATE item SET price = 0.5 WHERE id = 10", &[])
        .await
        .unwrap();
    c.client.execute("DELETE FROM item WHERE id = 11", &[]).await.unwrap();
    // EXPLAIN says which path a query takes (and runs nothing).
    let plan = texts(
        &c.client,
        "EXPLAIN SELECT name FROM item WHERE id IN (3, 4) AND price > 1",
    )
    .await;
    assert_eq!(plan.len(), 2, "{plan:?}");
    let first = plan[0][0].clone().unwrap();
    assert!(first.starts_with("item: key lookup, no scan"), "{first}");
    assert!(
        first.contains("item:3, item:4") && first.contains("(name, price)"),
        "{first}"
    );
    assert!(plan[1][0].as_deref().unwrap().starts_with("Polars SQL"), "{plan:?}");
    let stmt = c
        .client
        .prepare("EXPLAIN SELECT * FROM item WHERE id = $1")
        .await
        .unwrap();
    let rows = c.client.query(&stmt, &[&8i64]).await.unwrap();
    assert!(rows[0].get::<_, String>(0).contains("1 key: item:8"), "{:?}", rows[0]);
    let plan = texts(&c.client, "EXPLAIN SELECT count(*) FROM item WHERE price > 5").await;
    let first = plan[0][0].clone().unwrap();
    assert!(first.starts_with("item: SCAN MATCH item:* TYPE hash"), "{first}");
    assert_eq!(calls(&mut con, "scan").await, 0, "no query above may scan");
    assert!(calls(&mut con, "hmget").await > 0);

    // The same answers with a scan, which does SCAN (so the check above can fail).
    assert_eq!(
        texts(&c.client, "SELECT name, price FROM item WHERE id + 0 = 10 OR id = 11").await,
        vec![vec![s("n10"), s("0.5")]]
    );
    assert!(calls(&mut con, "scan").await > 0);

    // A prepared plain lookup (decided once at Parse, ids from the
    // parameters, no Polars SQL) returns what the general path returns,
    // in every value and type, for rows present, deleted, missing and of
    // another Redis type.
    let direct = c.client.prepare("SELECT * FROM item WHERE id = $1").await.unwrap();
    let general = c
        .client
        .prepare("SELECT * FROM item WHERE id = $1 OR false")
        .await
        .unwrap();
    assert_eq!(direct.columns().len(), 3);
    for id in [5i64, 10, 11, 2999, 3000, 9999, -1] {
        let a = c.client.query(&direct, &[&id]).await.unwrap();
        let b = c.client.query(&general, &[&id]).await.unwrap();
        let row = |r: &tokio_postgres::Row| -> (i64, Option<String>, Option<f64>) { (r.get(0), r.get(1), r.get(2)) };
        assert_eq!(
            a.iter().map(row).collect::<Vec<_>>(),
            b.iter().map(row).collect::<Vec<_>>(),
            "id {id}"
        );
        assert_eq!(a.len(), usize::from((0..3000).contains(&id) && id != 11), "id {id}");
    }
    let analyze = c
        .client
        .prepare("EXPLAIN ANALYZE SELECT name AS n, id FROM item WHERE id IN ($1, $2)")
        .await
        .unwrap();
    let lines: Vec<String> = c
        .client
        .query(&analyze, &[&7i64, &8i64])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("key lookup of 2 keys: 2 rows")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("no Polars SQL")), "{lines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn on_conflict_do_update_follows_postgres() {
    let url = redis_url();
    let t = unique("upsert");
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, visits bigint, note text);
             INSERT INTO {t} VALUES (1, 'a', 1, 'keep'), (2, 'b', 5, NULL)"
        ))
        .await
        .unwrap();
    // New keys insert, existing ones update from EXCLUDED and the old row; count = both.
    let n = c
        .client
        .execute(
            &format!(
                "INSERT INTO {t} AS v (id, name, visits) VALUES (1, 'A', 1), (3, 'c', 1)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, visits = v.visits + excluded.visits"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT id, name, visits, note FROM {t} ORDER BY id")
        )
        .await,
        vec![
            vec![s("1"), s("A"), s("2"), s("keep")],
            vec![s("2"), s("b"), s("5"), None],
            vec![s("3"), s("c"), s("1"), None],
        ]
    );
    // WHERE limits the update; parameters work; only updated rows count.
    let stmt = format!(
        "INSERT INTO {t} (id, visits) VALUES ($1, $2), (2, 100)
         ON CONFLICT (id) DO UPDATE SET visits = excluded.visits WHERE {t}.visits < 3"
    );
    let n = c.client.execute(&stmt, &[&3i64, &50i64]).await.unwrap();
    assert_eq!(n, 1, "only row 3 (visits 1 < 3) is updated");
    assert_eq!(
        texts(&c.client, &format!("SELECT id, visits FROM {t} ORDER BY id")).await,
        vec![vec![s("1"), s("2")], vec![s("2"), s("5")], vec![s("3"), s("50")]]
    );
    // INSERT ... SELECT with DO UPDATE; a key twice is 21000 and writes nothing.
    c.client
        .execute(
            &format!(
                "INSERT INTO {t} (id, note) SELECT id, 'seen' FROM {t} WHERE id < 3
                 ON CONFLICT (id) DO UPDATE SET note = excluded.note"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, &format!("SELECT id, note FROM {t} ORDER BY id")).await,
        vec![vec![s("1"), s("seen")], vec![s("2"), s("seen")], vec![s("3"), None]]
    );
    assert_eq!(
        sqlstate(
            &c.client,
            &format!("INSERT INTO {t} (id, visits) VALUES (9, 1), (9, 2) ON CONFLICT (id) DO UPDATE SET visits = 0")
        )
        .await,
        "21000"
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t} WHERE id = 9")).await,
        vec![vec![s("0")]]
    );
    assert_eq!(
        sqlstate(
            &c.client,
            &format!("INSERT INTO {t} (id) VALUES (1) ON CONFLICT (name) DO UPDATE SET visits = 0")
        )
        .await,
        "42P10"
    );
    server.shutdown().await;
}
