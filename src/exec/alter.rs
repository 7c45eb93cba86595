//! ALTER TABLE: override a column's type, set or remove every row's TTL.
//!
//! * `ALTER TABLE t ALTER COLUMN c [SET DATA] TYPE ty` — the type is saved in
//!   the table's definition and wins over inference from then on; stored
//!   values are not rewritten (a value that does not parse as the new type
//!   reads as NULL, with a NOTICE, as any messy value).
//! * `ALTER TABLE t SET (ttl = 600)` — every existing row expires in 600 s and
//!   rows written later get the same TTL; `ttl = 0` removes the expiry
//!   (PERSIST) from every row.
//!
//! A discovered table becomes declared (its definition saved in Redis) by
//! its first ALTER, keeping `_key` as its key column.

use sqlparser::ast::{AlterColumnOperation, AlterTable, AlterTableOperation, SqlOption};

use super::write::{table_name, WritePlan};
use super::Engine;
use crate::catalog::meta::{self, TableMeta};
use crate::catalog::ColType;
use crate::error::{Error, Result};

/// One change of an ALTER TABLE.
#[derive(Clone, Debug)]
pub enum AlterOp {
    ColumnType(String, ColType),
    /// None removes the expiry.
    Ttl(Option<u64>),
}

pub fn plan_alter(at: &AlterTable) -> Result<WritePlan> {
    let name = table_name(&at.name)?;
    let mut ops = Vec::new();
    for op in &at.operations {
        match op {
            AlterTableOperation::AlterColumn {
                column_name,
                op: AlterColumnOperation::SetDataType { data_type, using, .. },
            } => {
                if using.is_some() {
                    return Err(Error::Unsupported(
                        "ALTER COLUMN ... TYPE ... USING is not supported: stored values are not rewritten".into(),
                    ));
                }
                let ty = ColType::from_sql(&data_type.to_string()).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "column type {data_type} is not supported (use bigint, double precision, boolean, date, timestamp or text)"
                    ))
                })?;
                ops.push(AlterOp::ColumnType(crate::sql::fold_ident(column_name), ty));
            }
            AlterTableOperation::SetOptionsParens { options } => {
                for o in options {
                    match o {
                        SqlOption::KeyValue { key, value } if key.value.eq_ignore_ascii_case("ttl") => {
                            let v = value.to_string();
                            let secs = v.trim_matches('\'').parse::<u64>().map_err(|_| {
                                Error::Data("22023", format!("ttl must be a number of seconds, not {v}"))
                            })?;
                            ops.push(AlterOp::Ttl((secs > 0).then_some(secs)));
                        }
                        other => {
                            return Err(Error::Unsupported(format!(
                                "ALTER TABLE ... SET ({other}) is not supported (ttl)"
                            )))
                        }
                    }
                }
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "ALTER TABLE ... {other} is not supported (ALTER COLUMN ... TYPE, SET (ttl = ...))"
                )))
            }
        }
    }
    Ok(WritePlan::Alter {
        name,
        ops,
        if_exists: at.if_exists,
    })
}

impl Engine {
    pub(super) async fn alter(&self, name: &str, ops: &[AlterOp], if_exists: bool) -> Result<()> {
        let store = self.catalog().store();
        let table = match self.catalog().get(name).await {
            Ok(t) => t,
            Err(Error::UndefinedTable(_)) if if_exists => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut m = match meta::load(store, &table.name).await? {
            Some(m) => m,
            None => TableMeta {
                name: table.name.clone(),
                prefix: table.prefix.clone(),
                key_column: table.key_column.clone(),
                key_type: table.key_type,
                columns: Vec::new(),
                ttl: table.ttl,
                storage: table.storage,
            },
        };
        let mut new_ttl = None;
        for op in ops {
            match op {
                AlterOp::ColumnType(col, ty) => {
                    if *col == m.key_column {
                        m.key_type = *ty;
                    } else if let Some(c) = m.columns.iter_mut().find(|(n, _)| n == col) {
                        c.1 = *ty;
                    } else if table.column(col).is_some() {
                        m.columns.push((col.clone(), *ty));
                    } else {
                        return Err(Error::UndefinedColumn(format!(
                            "column \"{col}\" of relation \"{}\" does not exist",
                            table.name
                        )));
                    }
                }
                AlterOp::Ttl(ttl) => {
                    m.ttl = *ttl;
                    new_ttl = Some(*ttl);
                }
            }
        }
        meta::save(store, &m).await?;
        if let Some(ttl) = new_ttl {
            let mut batches = store.scan_table_keys(&table.prefix, table.redis_type());
            while let Some(batch) = batches.recv().await {
                let mut pipe = crate::store::Pipe::new();
                for key in batch? {
                    match ttl {
                        Some(secs) => pipe.cmd("EXPIRE").arg(key).arg(secs).ignore(),
                        None => pipe.cmd("PERSIST").arg(key).ignore(),
                    };
                }
                store.pipeline(&pipe).await?;
            }
        }
        self.catalog().refresh().await?;
        Ok(())
    }
}
