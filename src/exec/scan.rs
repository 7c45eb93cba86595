//! The scan path: SCAN the table's keys and pipeline HMGET of only the needed
//! fields (or one JSON.MGET per batch for JSON documents), several batches in
//! flight, parsing each reply straight into typed column builders (no per-row
//! maps, no intermediate strings for hashes).

use futures::StreamExt;
use polars::prelude::*;
use redis::Value;
use tokio_stream_shim::ReceiverStream;

use crate::catalog::types::{
    parse_bigint, parse_bool, parse_date, parse_double, parse_timestamp, read_bigint, read_double,
};
use crate::catalog::{ColType, TableInfo, STORAGE_JSON};
use crate::error::Result;
use crate::store::{Store, FETCH_BATCH};

/// The pseudo-column holding a row's remaining time to live in seconds
/// (NULL when the key has no expiry). Read only when a query names it.
pub const TTL_COLUMN: &str = "_ttl";

/// Pipelined batches in flight at once per table read.
const IN_FLIGHT: usize = 4;

/// Values of one column that did not parse as its type and were read as NULL.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Messy {
    pub table: String,
    pub column: String,
    pub ty: Option<ColType>,
    pub count: u64,
    pub example_key: String,
    pub example_value: String,
}

impl Messy {
    /// The values of `column` that will not read as `ty`, none yet.
    pub fn none(table: &str, column: &str, ty: ColType) -> Messy {
        Messy {
            table: table.to_string(),
            column: column.to_string(),
            ty: Some(ty),
            ..Default::default()
        }
    }

    /// Count one more value `bad` (of key `key`) read as NULL.
    pub fn record(&mut self, key: &[u8], bad: &str) {
        self.count += 1;
        if self.count == 1 {
            self.example_key = String::from_utf8_lossy(key).into_owned();
            self.example_value = bad.to_string();
        }
    }

    /// The NOTICE text a client sees.
    pub fn notice(&self) -> String {
        format!(
            "{} value{} of column \"{}\" in table \"{}\" {} not valid {} and read as NULL (e.g. key {}: {:?})",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.column,
            self.table,
            if self.count == 1 { "is" } else { "are" },
            self.ty.map(ColType::sql_name).unwrap_or("text"),
            self.example_key,
            self.example_value,
        )
    }
}

enum Builder {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
    Ts(Vec<Option<i64>>),
    Text(StringChunkedBuilder),
}

/// Rows per finished chunk of a column being read: a whole-table read grows
/// by chunks instead of reallocating (and copying, and faulting in) one
/// ever larger buffer per column.
const COLUMN_CHUNK: usize = 1 << 16;

struct ColumnReader {
    name: String,
    ty: ColType,
    builder: Builder,
    /// Rows in `builder`.
    pending: usize,
    /// Finished chunks, in order.
    chunks: Vec<Series>,
    messy: Messy,
    /// Key ids parse strictly (canonical forms only, as key lookups build
    /// them); stored numbers read as RediSearch reads them.
    strict: bool,
}

impl ColumnReader {
    fn new(table: &str, name: &str, ty: ColType) -> Self {
        ColumnReader {
            name: name.to_string(),
            ty,
            builder: Builder::new(name, ty),
            pending: 0,
            chunks: Vec::new(),
            messy: Messy::none(table, name, ty),
            strict: false,
        }
    }

    fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Append one stored value (None when the field is absent).
    fn push(&mut self, value: Option<&[u8]>, key: &[u8]) {
        match read_cell(self.ty, self.strict, value) {
            Ok(cell) => self.builder.push(cell),
            Err(bad) => {
                self.builder.push(Cell::Null);
                self.messy.record(key, bad);
            }
        }
        self.pending += 1;
        if self.pending == COLUMN_CHUNK {
            let full = std::mem::replace(&mut self.builder, Builder::new(&self.name, self.ty));
            self.chunks.push(full.finish(&self.name, self.ty));
            self.pending = 0;
        }
    }

    /// The column: its chunks appended (not copied) in order.
    fn finish(self) -> (Column, Messy) {
        let last = self.builder.finish(&self.name, self.ty);
        let mut chunks = self.chunks.into_iter();
        let series = match chunks.next() {
            None => last,
            Some(mut series) => {
                for chunk in chunks.chain([last]) {
                    series.append_owned(chunk).expect("chunks of one type");
                }
                series
            }
        };
        (series.into_column(), self.messy)
    }
}

/// One stored value as its column reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01 00:00.
    Ts(i64),
    Text(std::borrow::Cow<'a, str>),
}

impl Cell<'_> {
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Null => Cell::Null,
            Cell::Int(v) => Cell::Int(v),
            Cell::Float(v) => Cell::Float(v),
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Date(v) => Cell::Date(v),
            Cell::Ts(v) => Cell::Ts(v),
            Cell::Text(s) => Cell::Text(std::borrow::Cow::Owned(s.into_owned())),
        }
    }
}

/// How a stored value (None: the field is absent) reads as a column of
/// type `ty`: the one rule of the scan path and of key lookups. Text is
/// read as it is (invalid UTF-8 replaced); for other types an absent or
/// empty value is NULL and anything else must parse, else Err with the text
/// (read as NULL and reported). `strict`: key ids parse in canonical forms
/// only (as key lookups build them); stored numbers read as RediSearch
/// reads them.
pub fn read_cell(ty: ColType, strict: bool, value: Option<&[u8]>) -> std::result::Result<Cell<'_>, &str> {
    if ty == ColType::Text {
        return Ok(value.map_or(Cell::Null, |v| Cell::Text(String::from_utf8_lossy(v))));
    }
    let s = match value {
        None | Some(b"") => return Ok(Cell::Null),
        Some(v) => std::str::from_utf8(v).unwrap_or("\u{fffd}"),
    };
    let cell = match (ty, strict) {
        (ColType::BigInt, true) => parse_bigint(s).map(Cell::Int),
        (ColType::BigInt, false) => read_bigint(s).map(Cell::Int),
        (ColType::Double, true) => parse_double(s).map(Cell::Float),
        (ColType::Double, false) => read_double(s).map(Cell::Float),
        (ColType::Boolean, _) => parse_bool(s).map(Cell::Bool),
        (ColType::Date, _) => parse_date(s).map(Cell::Date),
        (ColType::Timestamp, _) => parse_timestamp(s).map(Cell::Ts),
        (ColType::Text, _) => unreachable!("read above"),
    };
    cell.ok_or(s)
}

impl Builder {
    fn new(name: &str, ty: ColType) -> Builder {
        match ty {
            ColType::BigInt => Builder::Int(Vec::new()),
            ColType::Double => Builder::Float(Vec::new()),
            ColType::Boolean => Builder::Bool(Vec::new()),
            ColType::Date => Builder::Date(Vec::new()),
            ColType::Timestamp => Builder::Ts(Vec::new()),
            ColType::Text => Builder::Text(StringChunkedBuilder::new(name.into(), 1024)),
        }
    }

    /// The values as a series of the column's type.
    fn finish(self, name: &str, ty: ColType) -> Series {
        let name: PlSmallStr = name.into();
        match self {
            Builder::Int(v) => Series::new(name, v),
            Builder::Float(v) => Series::new(name, v),
            Builder::Bool(v) => Series::new(name, v),
            Builder::Date(v) => Series::new(name, v).cast(&DataType::Date).expect("i32 → date"),
            Builder::Ts(v) => Series::new(name, v).cast(&ty.polars_type()).expect("i64 → datetime"),
            Builder::Text(b) => b.finish().into_series(),
        }
    }

    /// Append a cell of this builder's type (any other cell appends NULL).
    fn push(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Builder::Text(b), Cell::Text(s)) => b.append_value(s.as_ref()),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::Int(v), Cell::Int(x)) => v.push(Some(x)),
            (Builder::Int(v), _) => v.push(None),
            (Builder::Float(v), Cell::Float(x)) => v.push(Some(x)),
            (Builder::Float(v), _) => v.push(None),
            (Builder::Bool(v), Cell::Bool(x)) => v.push(Some(x)),
            (Builder::Bool(v), _) => v.push(None),
            (Builder::Date(v), Cell::Date(x)) => v.push(Some(x)),
            (Builder::Date(v), _) => v.push(None),
            (Builder::Ts(v), Cell::Ts(x)) => v.push(Some(x)),
            (Builder::Ts(v), _) => v.push(None),
        }
    }
}

/// One batch of rows as read: hash fields as the frames of one pipelined
/// RESP3 reply (values borrowed from it, whether each key is a row), or as
/// values (JSON documents' fields, key lookups' hash fields; None: not a
/// row), or no fields at all.
enum Fetched {
    KeysOnly,
    Hash(crate::store::resp3::Reply, Vec<bool>),
    Values(Vec<Option<Vec<Value>>>),
}

/// A stored value's bytes from a `redis::Value` reply (None: absent).
pub fn bulk_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b.as_slice()),
        _ => None,
    }
}

/// Which keys a table read visits.
pub enum Keys {
    /// Every key under the table's prefix (SCAN).
    All,
    /// Only these ids (a key lookup); ids whose key is missing or holds
    /// another Redis type are no rows.
    Ids(Vec<String>),
    /// These keys, found by a SCAN of the table's type (a chunk of a streamed read).
    Exact(Vec<Vec<u8>>),
}

/// Whether a key lookup reading `fields` checks each key's type first: HMGET
/// of at least one field already tells a missing key or one of another type
/// (see Store::hmget_rows), so hash lookups need no TYPE round trip.
pub fn lookup_needs_type(table: &TableInfo, fields: &[String]) -> bool {
    table.storage == STORAGE_JSON || fields.is_empty()
}

/// Read `columns` (names of the table's columns, in any order) of every row of
/// `table` into a DataFrame whose first column is the key column, typed as
/// the table's key type (a key id that does not parse reads as NULL, reported).
pub async fn read_table(
    store: &Store,
    table: &TableInfo,
    columns: &[String],
    with_ttl: bool,
    keys_to_read: Keys,
) -> Result<(DataFrame, Vec<Messy>)> {
    let fields: Vec<String> = columns.to_vec();
    let mut readers: Vec<ColumnReader> = fields
        .iter()
        .map(|c| {
            let ty = table.column(c).map(|ci| ci.ty).unwrap_or(ColType::Text);
            ColumnReader::new(&table.name, c, ty)
        })
        .collect();
    let mut keys = ColumnReader::new(&table.name, &table.key_column, table.key_type).strict();
    let mut ttls: Vec<Option<i64>> = Vec::new();
    let plen = table.prefix.len();

    let json = table.storage == STORAGE_JSON;
    // Key lookups read on the shared connection, where concurrent sessions'
    // small reads share round trips; scans on connections of their own.
    let lookup = matches!(keys_to_read, Keys::Ids(_));
    // Keys given exactly were counted where they were found (a fetch's
    // cursor) or are a streamed chunk, held only while it is sent.
    let counted = !matches!(keys_to_read, Keys::Exact(_));
    let known = match keys_to_read {
        Keys::All => None,
        Keys::Ids(ids) => {
            let keys: Vec<Vec<u8>> = ids.iter().map(|id| table.key_of(id).into_bytes()).collect();
            if lookup_needs_type(table, &fields) {
                Some(store.keys_of_type(keys, table.redis_type()).await?)
            } else {
                Some(keys)
            }
        }
        Keys::Exact(keys) => Some(keys),
    };
    let batches: futures::stream::BoxStream<'static, Result<Vec<Vec<u8>>>> = match known {
        None => ReceiverStream(store.scan_table_keys(&table.prefix, table.redis_type())).boxed(),
        Some(keys) => {
            let chunks: Vec<Result<Vec<Vec<u8>>>> = keys.chunks(FETCH_BATCH).map(|c| Ok(c.to_vec())).collect();
            futures::stream::iter(chunks).boxed()
        }
    };
    let mut fetched = batches
        .map(|batch| {
            let store = store.clone();
            let fields = fields.clone();
            async move {
                let batch = batch?;
                let rows = if fields.is_empty() {
                    Fetched::KeysOnly
                } else if json {
                    Fetched::Values(store.json_fields_batch(&batch, &fields).await?)
                } else if lookup {
                    Fetched::Values(store.hmget_batch(&batch, &fields).await?)
                } else {
                    let (reply, present) = store.hmget_rows(&batch, &fields).await?;
                    Fetched::Hash(reply, present)
                };
                let ttls = if with_ttl {
                    store.ttl_batch(&batch).await?
                } else {
                    Vec::new()
                };
                Ok::<_, crate::error::Error>((batch, rows, ttls))
            }
        })
        .buffer_unordered(IN_FLIGHT);

    while let Some(res) = fetched.next().await {
        let (batch, rows, batch_ttls) = res?;
        if counted {
            super::budget::charge(batch.len())?;
        }
        let mut push = |i: usize, values: &mut dyn Iterator<Item = Option<&[u8]>>| {
            let key = &batch[i];
            if with_ttl {
                ttls.push(batch_ttls.get(i).copied().flatten());
            }
            keys.push(Some(&key[plen..]), key);
            for reader in readers.iter_mut() {
                reader.push(values.next().flatten(), key);
            }
        };
        match rows {
            Fetched::KeysOnly => (0..batch.len()).for_each(|i| push(i, &mut std::iter::empty())),
            Fetched::Hash(reply, present) => {
                for (i, (frame, row)) in reply.frames().zip(present).enumerate() {
                    if row {
                        push(i, &mut frame.elements().map(|v| v.bytes()));
                    }
                }
            }
            Fetched::Values(rows) => {
                for (i, row) in rows.iter().enumerate() {
                    if let Some(values) = row {
                        push(i, &mut values.iter().map(bulk_bytes));
                    }
                }
            }
        }
    }

    let (key_col, key_messy) = keys.finish();
    let mut cols = vec![key_col];
    let mut messy: Vec<Messy> = Some(key_messy).filter(|m| m.count > 0).into_iter().collect();
    for r in readers {
        let (col, m) = r.finish();
        cols.push(col);
        if m.count > 0 {
            messy.push(m);
        }
    }
    if with_ttl {
        cols.push(Series::new(TTL_COLUMN.into(), ttls).into_column());
    }
    Ok((DataFrame::new_infer_height(cols)?, messy))
}

/// Builds a table's frame from rows that arrive as (key, field/value pairs),
/// as FT.AGGREGATE ... LOAD * returns them; values parse exactly as on the
/// scan path.
pub struct RowsBuilder {
    keys: ColumnReader,
    readers: Vec<ColumnReader>,
    slots: std::collections::HashMap<Vec<u8>, usize>,
    /// The previous row's field names in reply order and their slots: rows
    /// usually list fields alike, so a name compare replaces a hash lookup.
    order: Vec<(Vec<u8>, Option<usize>)>,
    plen: usize,
    pub rows: usize,
}

impl RowsBuilder {
    pub fn new(table: &TableInfo, columns: &[String]) -> RowsBuilder {
        let readers: Vec<ColumnReader> = columns
            .iter()
            .map(|c| {
                let ty = table.column(c).map(|ci| ci.ty).unwrap_or(ColType::Text);
                ColumnReader::new(&table.name, c, ty)
            })
            .collect();
        RowsBuilder {
            keys: ColumnReader::new(&table.name, &table.key_column, table.key_type).strict(),
            slots: columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_bytes().to_vec(), i))
                .collect(),
            readers,
            order: Vec::new(),
            plen: table.prefix.len(),
            rows: 0,
        }
    }

    /// Add one row from its field/value pairs (borrowed: nothing is copied
    /// before the typed builders). Keys of nested prefixes (`<prefix><x>:<id>`)
    /// are not rows of the table and are skipped, as on the scan path.
    pub fn push<'a>(&mut self, key: &[u8], fields: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
        if key.len() < self.plen || key[self.plen..].contains(&b':') {
            return;
        }
        let mut values: Vec<Option<&'a [u8]>> = vec![None; self.readers.len()];
        for (k, (f, v)) in fields.enumerate() {
            let slot = match self.order.get(k) {
                Some((name, slot)) if name.as_slice() == f => *slot,
                _ => {
                    let slot = self.slots.get(f).copied();
                    self.order.truncate(k);
                    self.order.push((f.to_vec(), slot));
                    slot
                }
            };
            if let Some(i) = slot {
                values[i] = Some(v);
            }
        }
        self.keys.push(Some(&key[self.plen..]), key);
        for (r, v) in self.readers.iter_mut().zip(values) {
            r.push(v, key);
        }
        self.rows += 1;
    }

    pub fn finish(self) -> Result<(DataFrame, Vec<Messy>)> {
        let (key_col, key_messy) = self.keys.finish();
        let mut cols = vec![key_col];
        let mut messy: Vec<Messy> = Some(key_messy).filter(|m| m.count > 0).into_iter().collect();
        for r in self.readers {
            let (col, m) = r.finish();
            cols.push(col);
            if m.count > 0 {
                messy.push(m);
            }
        }
        Ok((DataFrame::new_infer_height(cols)?, messy))
    }
}

/// A typed column from values in stored form (as redsql writes them).
pub fn typed_column(table: &str, name: &str, ty: ColType, values: &[Option<String>]) -> Column {
    let mut reader = ColumnReader::new(table, name, ty);
    for v in values {
        reader.push(v.as_deref().map(str::as_bytes), b"");
    }
    reader.finish().0
}

/// An empty frame with the table's full schema (for describing queries).
pub fn empty_frame(table: &TableInfo, with_ttl: bool) -> PolarsResult<DataFrame> {
    let mut cols = vec![Column::new_empty(
        table.key_column.as_str().into(),
        &table.key_type.polars_type(),
    )];
    for c in &table.columns {
        cols.push(Column::new_empty(c.name.as_str().into(), &c.ty.polars_type()));
    }
    if with_ttl {
        cols.push(Column::new_empty(TTL_COLUMN.into(), &DataType::Int64));
    }
    DataFrame::new_infer_height(cols)
}

/// A tiny adapter from a tokio receiver to a `Stream` (avoids a dependency).
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct ReceiverStream<T>(pub tokio::sync::mpsc::Receiver<T>);

    impl<T> futures::Stream for ReceiverStream<T> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column read in chunks is the column read whole, in order.
    #[test]
    fn columns_grow_by_chunks_in_order() {
        let n = 2 * COLUMN_CHUNK + 123;
        for ty in [ColType::BigInt, ColType::Text, ColType::Timestamp] {
            let mut r = ColumnReader::new("t", "c", ty);
            for i in 0..n {
                let v = match (i % 1000, ty) {
                    (7, _) => None,
                    (8, ColType::BigInt | ColType::Timestamp) => Some("x".to_string()),
                    (_, ColType::Timestamp) => Some(format!("2024-01-01T00:00:{:02}", i % 60)),
                    _ => Some(i.to_string()),
                };
                r.push(v.as_deref().map(str::as_bytes), format!("t:{i}").as_bytes());
            }
            let (col, messy) = r.finish();
            assert_eq!(col.len(), n);
            assert!(col.as_materialized_series().n_chunks() > 1, "{ty:?}");
            let bad = if ty == ColType::Text { 0 } else { n / 1000 + 1 };
            assert_eq!(messy.count as usize, bad, "{ty:?}");
            assert_eq!(col.null_count(), n / 1000 + 1 + bad, "{ty:?}");
            let s = col.as_materialized_series().cast(&DataType::String).unwrap();
            for i in [0, 1, COLUMN_CHUNK - 1, COLUMN_CHUNK, COLUMN_CHUNK + 1, n - 1] {
                let got = s.str().unwrap().get(i).map(str::to_string);
                let want = match ty {
                    ColType::Timestamp => format!("2024-01-01 00:00:{:02}.000000", i % 60),
                    _ => i.to_string(),
                };
                assert_eq!(got, Some(want), "{ty:?} row {i}");
            }
        }
    }
}
