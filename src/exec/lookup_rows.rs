//! Plain key lookups read row by row: the prepared point lookup's path
//! (`SELECT * FROM sale WHERE id = $1`). The HMGET reply is read into cells
//! by the scan path's own rule ([`scan::read_cell`]) and goes to the wire
//! from them (`encode::cell_rows`), with no Polars frame built, projected or
//! cast for one row. Every other query, and EXPLAIN ANALYZE, cursors and
//! COPY of the same query, take [`Engine::execute_with`]; a test compares
//! the two.

use polars::prelude::DataType;

use super::scan::{self, Cell, Messy};
use super::{Engine, Planned};
use crate::catalog::ColType;
use crate::error::Result;
use crate::sql::params::Param;

/// A plain lookup's result as cells.
pub struct LookupRows {
    /// The output columns as the client sees them: name and type.
    pub columns: Vec<(String, DataType)>,
    pub rows: Vec<Vec<Cell<'static>>>,
    pub notices: Vec<String>,
}

/// Where an output column comes from: the key id, or the n-th field read.
#[derive(Clone, Copy)]
enum Slot {
    Key,
    Field(usize),
}

impl Engine {
    /// The rows of a plain lookup of hash rows, read straight into cells;
    /// None when the query is no plain lookup with these parameters, reads
    /// JSON documents or no field (those check each key's type first, see
    /// `scan::lookup_needs_type`), or when `announced` (the columns described
    /// before) differ in type from the table's columns now: the caller then
    /// runs the query the general way.
    pub async fn lookup_rows(
        &self,
        planned: &Planned,
        params: &[Param],
        announced: Option<&[(String, DataType)]>,
    ) -> Result<Option<LookupRows>> {
        let Some((lookup, t, ids)) = Self::direct_ids(planned, params) else {
            return Ok(None);
        };
        // The fields read are those the general path reads (and reports on).
        let needed = planned
            .analyzed
            .needed_columns(t.columns.iter().map(|c| c.name.as_str()));
        if scan::lookup_needs_type(t, &needed) {
            return Ok(None);
        }
        let types: Vec<ColType> = needed
            .iter()
            .map(|n| t.column(n).map_or(ColType::Text, |c| c.ty))
            .collect();
        let mut slots = Vec::with_capacity(lookup.columns.len());
        let mut columns = Vec::with_capacity(lookup.columns.len());
        for (read, shown) in &lookup.columns {
            let (slot, ty) = if *read == t.key_column {
                (Slot::Key, t.key_type)
            } else {
                let Some(i) = needed.iter().position(|n| n == read) else {
                    return Ok(None);
                };
                (Slot::Field(i), types[i])
            };
            slots.push(slot);
            columns.push((shown.clone(), ty.polars_type()));
        }
        if let Some(announced) = announced {
            let same = announced.len() == columns.len() && announced.iter().zip(&columns).all(|(a, c)| a.1 == c.1);
            if !same {
                return Ok(None);
            }
        }

        let keys: Vec<Vec<u8>> = ids.iter().map(|id| t.key_of(id).into_bytes()).collect();
        let values = self.catalog.store().hmget_batch(&keys, &needed).await?;
        let mut key_messy = Messy::none(&t.name, &t.key_column, t.key_type);
        let mut messy: Vec<Messy> = needed
            .iter()
            .zip(&types)
            .map(|(n, ty)| Messy::none(&t.name, n, *ty))
            .collect();
        let mut rows = Vec::with_capacity(values.len());
        for (key, row) in keys.iter().zip(values) {
            let Some(row) = row else { continue };
            let key_cell = read(t.key_type, true, Some(&key[t.prefix.len()..]), key, &mut key_messy);
            let cells: Vec<Cell<'static>> = row
                .iter()
                .zip(&types)
                .zip(messy.iter_mut())
                .map(|((v, ty), m)| read(*ty, false, scan::bulk_bytes(v), key, m))
                .collect();
            rows.push(
                slots
                    .iter()
                    .map(|s| match s {
                        Slot::Key => key_cell.clone(),
                        Slot::Field(i) => cells[*i].clone(),
                    })
                    .collect(),
            );
        }
        // Notices as the general path raises them: foreign keys, then
        // unreadable values of the key and of each field read.
        let notices = t
            .foreign_notice()
            .into_iter()
            .chain(
                std::iter::once(key_messy)
                    .chain(messy)
                    .filter(|m| m.count > 0)
                    .map(|m| m.notice()),
            )
            .collect();
        Ok(Some(LookupRows { columns, rows, notices }))
    }
}

/// One stored value as a cell, counting it in `messy` when it does not read.
fn read(ty: ColType, strict: bool, value: Option<&[u8]>, key: &[u8], messy: &mut Messy) -> Cell<'static> {
    match scan::read_cell(ty, strict, value) {
        Ok(cell) => cell.into_owned(),
        Err(bad) => {
            messy.record(key, bad);
            Cell::Null
        }
    }
}
