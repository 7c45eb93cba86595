//! CREATE INDEX and DROP INDEX: RediSearch indexes over a table's prefix.
//!
//! The field definitions are the ones that let a query be answered exactly
//! from the index (see the measured RediSearch semantics, §0 and §1):
//!
//! * text: `TAG SEPARATOR "\x1f" CASESENSITIVE INDEXMISSING INDEXEMPTY SORTABLE UNF`,
//!   one tag per value (the separator is a control character), compared
//!   byte for byte, with NULL and `''` findable and raw-order sorting;
//! * bigint and double: `NUMERIC INDEXMISSING SORTABLE` (INDEXEMPTY is not
//!   allowed on NUMERIC; INDEXMISSING must come before SORTABLE).
//!
//! RediSearch leaves a whole row out when one NUMERIC value does not parse,
//! so every value is checked first ([`crate::catalog::indexable`]). The index
//! builds in the background; until it is complete the catalog's live check
//! keeps queries on the scan path. DROP INDEX never deletes documents.

use sqlparser::ast::{CreateIndex, Expr, ObjectName};

use crate::catalog::index::{self, IndexInfo, EXACT_SEPARATOR};
use crate::catalog::shards::{self, Shard};
use crate::catalog::{indexable, ColType, TableInfo, STORAGE_JSON};
use crate::error::{Error, Result};
use crate::exec::write::{table_name, WritePlan};
use crate::exec::Engine;
use crate::store::Store;

/// A planned CREATE INDEX (resolved against the catalog when it runs).
#[derive(Clone, Debug)]
pub struct CreateIndexPlan {
    /// None: `<table>_idx`.
    pub name: Option<String>,
    pub table: String,
    pub columns: Vec<String>,
    pub if_not_exists: bool,
}

/// Attribute flags RediSearch reads after a field: a hash field of that name
/// would be taken for a flag of the field before it.
const SCHEMA_FLAGS: [&str; 11] = [
    "SORTABLE",
    "UNF",
    "NOINDEX",
    "NOSTEM",
    "PHONETIC",
    "WEIGHT",
    "SEPARATOR",
    "CASESENSITIVE",
    "WITHSUFFIXTRIE",
    "INDEXEMPTY",
    "INDEXMISSING",
];

fn not_plain(column: &str) -> Error {
    Error::Unsupported(format!(
        "CREATE INDEX takes plain column names, not {column} (no expressions, ASC/DESC, NULLS or operator classes)"
    ))
}

fn unsupported(what: &str) -> Error {
    Error::Unsupported(format!("CREATE INDEX ... {what} is not supported"))
}

/// Plan `CREATE INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON t (col, ...)`.
/// Indexes always build in the background, so CONCURRENTLY changes nothing.
pub fn plan_create_index(ci: &CreateIndex) -> Result<WritePlan> {
    if ci.unique {
        return Err(Error::Unsupported(
            "CREATE UNIQUE INDEX is not supported: a redsql table is unique on its key column already".into(),
        ));
    }
    if ci.using.is_some() {
        return Err(unsupported("USING"));
    }
    if !ci.include.is_empty() {
        return Err(unsupported("INCLUDE"));
    }
    if ci.nulls_distinct.is_some() {
        return Err(unsupported("NULLS DISTINCT"));
    }
    if !ci.with.is_empty() || !ci.index_options.is_empty() || !ci.alter_options.is_empty() {
        return Err(unsupported("WITH (...)"));
    }
    if ci.predicate.is_some() {
        return Err(unsupported("WHERE (a partial index)"));
    }
    let mut columns = Vec::new();
    for c in &ci.columns {
        let plain = c.operator_class.is_none()
            && c.column.with_fill.is_none()
            && c.column.options.asc.is_none()
            && c.column.options.nulls_first.is_none();
        match &c.column.expr {
            Expr::Identifier(id) if plain => columns.push(crate::sql::fold_ident(id)),
            _ => return Err(not_plain(&c.column.to_string())),
        }
    }
    Ok(WritePlan::CreateIndex(CreateIndexPlan {
        name: ci.name.as_ref().map(table_name).transpose()?,
        table: table_name(&ci.table_name)?,
        columns,
        if_not_exists: ci.if_not_exists,
    }))
}

/// Plan `DROP INDEX [IF EXISTS] name, ...`.
pub fn plan_drop_index(names: &[ObjectName], if_exists: bool) -> Result<WritePlan> {
    Ok(WritePlan::DropIndex {
        names: names.iter().map(table_name).collect::<Result<_>>()?,
        if_exists,
    })
}

async fn require_search(store: &Store, what: &str) -> Result<()> {
    if store.has_search().await {
        return Ok(());
    }
    Err(Error::Unsupported(format!(
        "RediSearch is not loaded in this Redis server{}; {what} needs it",
        if store.is_cluster() {
            " (in every master of the cluster)"
        } else {
            ""
        }
    )))
}

/// Every RediSearch index name (on a cluster, of the indexes whose parts
/// the masters hold, see `catalog::shards`).
async fn index_names(store: &Store) -> Vec<String> {
    index::list(store).await.into_iter().map(|i| i.name).collect()
}

/// Create the index: on one node as named; on a cluster one part per
/// master, each under a name whose hash slot that master serves. A part
/// that fails takes the parts made before it away again.
async fn create_parts(store: &Store, name: &str, table: &TableInfo, columns: &[(String, ColType)]) -> Result<()> {
    if !store.is_cluster() {
        store.query::<redis::Value>(&ft_create(name, table, columns)).await?;
        return Ok(());
    }
    let mut made: Vec<Shard> = Vec::new();
    let mut out = Ok(());
    for node in store.masters() {
        let Some(part) = shards::part_name(store, name, &node.addr) else {
            out = Err(Error::RedisUnavailable(format!(
                "master {} serves no hash slot",
                node.addr
            )));
            break;
        };
        match node.query::<redis::Value>(&ft_create(&part, table, columns)).await {
            Ok(_) => made.push(Shard {
                name: part,
                node: node.addr.clone(),
                num_docs: 0,
            }),
            Err(e) => {
                out = Err(e);
                break;
            }
        }
    }
    if out.is_err() && !made.is_empty() {
        let partial = IndexInfo {
            shards: made,
            ..IndexInfo::named(name)
        };
        let _ = index::drop(store, &partial).await;
    }
    out
}

/// The indexed columns with their types, or why one cannot be indexed.
fn resolve(table: &TableInfo, names: &[String]) -> Result<Vec<(String, ColType)>> {
    let mut out: Vec<(String, ColType)> = Vec::new();
    for n in names {
        if *n == table.key_column {
            return Err(Error::Unsupported(format!(
                "column \"{n}\" is the key of table \"{}\": key lookups read the key directly and never scan, \
                 so it needs no index; leave it out",
                table.name
            )));
        }
        let col = table.column(n).ok_or_else(|| {
            Error::UndefinedColumn(format!("column \"{n}\" of relation \"{}\" does not exist", table.name))
        })?;
        if !matches!(col.ty, ColType::Text | ColType::BigInt | ColType::Double) {
            return Err(Error::Unsupported(format!(
                "column \"{n}\" is {}: CREATE INDEX supports text, bigint and double columns",
                col.ty.sql_name()
            )));
        }
        if out.iter().any(|(c, _)| c == n) {
            return Err(Error::Data(
                "42701",
                format!("column \"{n}\" appears twice in the index"),
            ));
        }
        if table.storage == STORAGE_JSON {
            let plain = n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain {
                return Err(Error::Unsupported(format!(
                    "column \"{n}\" of JSON table \"{}\" is not a plain top-level field name \
                     (letters, digits and _): CREATE INDEX cannot index it",
                    table.name
                )));
            }
        } else if SCHEMA_FLAGS.iter().any(|f| f.eq_ignore_ascii_case(n)) {
            return Err(Error::Unsupported(format!(
                "column \"{n}\" is named like a RediSearch schema keyword, which FT.CREATE would misread: \
                 CREATE INDEX cannot index it"
            )));
        }
        out.push((n.clone(), col.ty));
    }
    if out.is_empty() {
        return Err(Error::Syntax("CREATE INDEX needs at least one column".into()));
    }
    Ok(out)
}

/// The field arguments CREATE INDEX declares for a column of this type
/// (after its name): exact, null-aware and sortable.
pub fn field_args(ty: ColType) -> &'static [&'static str] {
    const TEXT: [&str; 8] = [
        "TAG",
        "SEPARATOR",
        EXACT_SEPARATOR,
        "CASESENSITIVE",
        "INDEXMISSING",
        "INDEXEMPTY",
        "SORTABLE",
        "UNF",
    ];
    const NUMBER: [&str; 3] = ["NUMERIC", "INDEXMISSING", "SORTABLE"];
    if ty == ColType::Text {
        &TEXT
    } else {
        &NUMBER
    }
}

/// The FT.CREATE command for `columns` of `table`.
pub fn ft_create(name: &str, table: &TableInfo, columns: &[(String, ColType)]) -> redis::Cmd {
    let json = table.storage == STORAGE_JSON;
    let mut cmd = redis::cmd("FT.CREATE");
    cmd.arg(name)
        .arg("ON")
        .arg(if json { "JSON" } else { "HASH" })
        .arg("PREFIX")
        .arg(1)
        .arg(&table.prefix)
        .arg("SCHEMA");
    for (col, ty) in columns {
        if json {
            cmd.arg(format!("$.{col}")).arg("AS").arg(col);
        } else {
            cmd.arg(col);
        }
        cmd.arg(field_args(*ty));
    }
    cmd
}

impl Engine {
    /// Run CREATE INDEX; false when the name exists and IF NOT EXISTS was given.
    pub(super) async fn create_index(&self, plan: &CreateIndexPlan) -> Result<bool> {
        let store = self.catalog().store();
        require_search(store, "CREATE INDEX").await?;
        // Rescan first: an index made since the last refresh must be seen.
        self.catalog().refresh().await?;
        let table = self.catalog().get(&plan.table).await?;
        let columns = resolve(&table, &plan.columns)?;
        let name = plan.name.clone().unwrap_or_else(|| format!("{}_idx", table.name));
        if store.is_cluster() && name.contains(['{', '}']) {
            return Err(Error::Unsupported(format!(
                "index name \"{name}\" has {{ or }}: on a Redis Cluster redsql adds a hash tag per master to it"
            )));
        }
        if index_names(store).await.contains(&name) {
            if plan.if_not_exists {
                return Ok(false);
            }
            return Err(Error::Data(
                "42P07",
                format!("relation \"{name}\" already exists (a RediSearch index of that name)"),
            ));
        }
        if let Some(other) = &table.index_name {
            return Err(Error::Data(
                "42P07",
                format!(
                    "table \"{}\" already has index \"{other}\" over its prefix {:?}; \
                     redsql uses one index per table (DROP INDEX {other} first)",
                    table.name, table.prefix
                ),
            ));
        }
        let snapshot = self.catalog().snapshot();
        if let Some(nested) = snapshot
            .values()
            .find(|t| t.storage == table.storage && t.prefix != table.prefix && t.prefix.starts_with(&table.prefix))
        {
            return Err(Error::Unsupported(format!(
                "an index over prefix {:?} would also hold the keys of table \"{}\" (prefix {:?}), \
                 so it could never answer queries over table \"{}\"",
                table.prefix, nested.name, nested.prefix, table.name
            )));
        }
        indexable::check_values(store, &table, &columns).await?;
        create_parts(store, &name, &table, &columns).await?;
        self.catalog().refresh().await?;
        Ok(true)
    }

    /// Run DROP INDEX: the indexes go, their documents stay. All names are
    /// checked before any index is dropped.
    pub(super) async fn drop_indexes(&self, names: &[String], if_exists: bool) -> Result<()> {
        let store = self.catalog().store();
        if if_exists && !store.has_search().await {
            return Ok(()); // no RediSearch, so no index
        }
        require_search(store, "DROP INDEX").await?;
        let existing = index::list(store).await;
        let mut drop = Vec::new();
        for name in names {
            if let Some(info) = existing.iter().find(|i| &i.name == name) {
                drop.push(info);
            } else if !if_exists {
                return Err(Error::UndefinedObject(format!("index \"{name}\" does not exist")));
            }
        }
        for info in drop {
            // Without DD: FT.DROPINDEX never deletes the documents.
            index::drop(store, info).await?;
        }
        self.catalog().refresh().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_create_and_drop_index() {
        let plan = |sql: &str| {
            let stmt = crate::sql::parse(sql).unwrap().pop().unwrap();
            match stmt {
                sqlparser::ast::Statement::CreateIndex(ci) => plan_create_index(&ci),
                other => panic!("{other}"),
            }
        };
        let Ok(WritePlan::CreateIndex(p)) = plan("CREATE INDEX IF NOT EXISTS Ix ON Sale (Region, \"Amount\")") else {
            panic!()
        };
        assert_eq!(p.name.as_deref(), Some("ix"));
        assert_eq!(p.table, "sale");
        assert_eq!(p.columns, ["region", "Amount"]);
        assert!(p.if_not_exists);
        let Ok(WritePlan::CreateIndex(p)) = plan("CREATE INDEX ON sale (region)") else {
            panic!()
        };
        assert_eq!(p.name, None);
        for bad in [
            "CREATE UNIQUE INDEX i ON sale (region)",
            "CREATE INDEX i ON sale USING btree (region)",
            "CREATE INDEX i ON sale (lower(region))",
            "CREATE INDEX i ON sale (region DESC)",
            "CREATE INDEX i ON sale (region) WHERE amount > 0",
        ] {
            assert_eq!(plan(bad).err().map(|e| e.sqlstate()), Some("0A000"), "{bad}");
        }
    }
}
