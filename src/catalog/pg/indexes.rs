//! `pg_index` and `pg_constraint` rows: each table's primary key (its key
//! column) and its RediSearch index. Both carry their definition in an extra
//! column (`indexdef`, `condef`) that `pg_get_indexdef()` and
//! `pg_get_constraintdef()` read (see `sql::pg_compat`); `indexcols` holds
//! an index's column names as `pg_get_indexdef(oid, k, ..)` prints them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::tables::{hashed_oid, relation_oid};
use super::{pkey_name, table_columns, Row, PUBLIC_NS, V};
use crate::catalog::TableInfo;

use crate::sql::quote_ident_if_needed as ident;

fn column_list(names: &[String]) -> String {
    names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ")
}

pub fn index_rows(tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Row> {
    let mut out = Vec::new();
    for t in tables.values() {
        let relid = relation_oid(&t.name);
        let columns = table_columns(t);
        let index = |oid: u32, keys: Vec<i64>, names: &[String], primary: bool, def: String| -> Row {
            let n = keys.len() as i64;
            vec![
                ("indexrelid", oid.into()),
                ("indrelid", relid.into()),
                ("indnatts", V::Int(n)),
                ("indnkeyatts", V::Int(n)),
                ("indisunique", primary.into()),
                ("indisprimary", primary.into()),
                ("indimmediate", true.into()),
                ("indisvalid", true.into()),
                ("indisready", true.into()),
                ("indislive", true.into()),
                ("indkey", V::Ints(keys.clone())),
                ("indcollation", V::Ints(vec![0; keys.len()])),
                ("indclass", V::Ints(vec![0; keys.len()])),
                ("indoption", V::Ints(vec![0; keys.len()])),
                ("indexdef", def.into()),
                ("indexcols", V::Texts(names.iter().map(|n| ident(n)).collect())),
            ]
        };
        let table = format!("public.{}", ident(&t.name));
        let pkey_def = format!(
            "CREATE UNIQUE INDEX {} ON {table} USING btree ({})",
            ident(&pkey_name(t)),
            ident(&t.key_column)
        );
        out.push(index(
            hashed_oid("pkey", &t.name),
            vec![1],
            std::slice::from_ref(&t.key_column),
            true,
            pkey_def,
        ));
        if let (Some(name), Some(ix)) = (&t.index_name, &t.index) {
            let keys: Vec<usize> = ix
                .attributes
                .iter()
                .filter_map(|a| columns.iter().position(|c| c.0 == a.identifier || c.0 == a.alias))
                .collect();
            let names: Vec<String> = keys.iter().map(|i| columns[*i].0.clone()).collect();
            let def = format!(
                "CREATE INDEX {} ON {table} USING redisearch ({})",
                ident(name),
                column_list(&names)
            );
            let keys = keys.iter().map(|i| *i as i64 + 1).collect();
            out.push(index(hashed_oid("index", name), keys, &names, false, def));
        }
    }
    out
}

pub fn constraint_rows(tables: &BTreeMap<String, Arc<TableInfo>>) -> Vec<Row> {
    tables
        .values()
        .map(|t| {
            vec![
                ("oid", hashed_oid("pkey_constraint", &t.name).into()),
                ("conname", pkey_name(t).into()),
                ("connamespace", PUBLIC_NS.into()),
                ("contype", "p".into()),
                ("convalidated", true.into()),
                ("conrelid", relation_oid(&t.name).into()),
                ("conindid", hashed_oid("pkey", &t.name).into()),
                ("conislocal", true.into()),
                ("coninhcount", V::Int(0)),
                ("connoinherit", true.into()),
                ("conkey", V::Ints(vec![1])),
                ("confupdtype", " ".into()),
                ("confdeltype", " ".into()),
                ("confmatchtype", " ".into()),
                ("condef", format!("PRIMARY KEY ({})", ident(&t.key_column)).into()),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::ident;

    #[test]
    fn identifiers_quoted_as_postgresql_prints_them() {
        assert_eq!(ident("sale_pkey"), "sale_pkey");
        assert_eq!(ident("Sale"), "\"Sale\"");
        assert_eq!(ident("my-idx"), "\"my-idx\"");
        assert_eq!(ident("1x"), "\"1x\"");
    }
}
