//! Encode rows: Polars columns → PostgreSQL wire types and `DataRow`s,
//! streamed to the client in batches, text or binary per the client's request.

pub mod array;
pub mod copy;
pub mod copy_binary;
pub mod float;

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveTime, Timelike};
use futures::{stream, Stream, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use polars::prelude::*;
use rust_decimal::Decimal;

use crate::catalog::types::days_to_date;
use crate::error::{Error, Result};
use crate::exec::scan::Cell;
use crate::sql::origins::Origin;

use float::float8_str;
pub use float::{float4_text, float8_text};

/// Rows encoded per step of the stream.
pub const ROW_BATCH: usize = 4096;

/// The wire type for a Polars type: one exhaustive mapping.
pub fn pg_type(dt: &DataType) -> Type {
    match dt {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => Type::INT8,
        DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Decimal(_, _) => Type::NUMERIC,
        DataType::Date => Type::DATE,
        DataType::Datetime(_, None) => Type::TIMESTAMP,
        DataType::Datetime(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Time => Type::TIME,
        DataType::Binary => Type::BYTEA,
        DataType::List(inner) => array::list_type(inner),
        _ => Type::TEXT,
    }
}

/// Row description fields for client-visible names and Polars types.
pub fn fields(columns: &[(String, DataType)], format: &Format) -> Vec<FieldInfo> {
    fields_traced(columns, None, format)
}

/// [`fields`] with each column's table OID and column number where it is
/// a table's column as it is (`sql::origins`; ignored unless one per column).
pub fn fields_traced(columns: &[(String, DataType)], origins: Option<&[Origin]>, format: &Format) -> Vec<FieldInfo> {
    let origins = origins.filter(|o| o.len() == columns.len());
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, dt))| {
            let origin = origins.and_then(|o| o[i]);
            FieldInfo::new(
                name.clone(),
                origin.map(|(oid, _)| oid as i32),
                origin.map(|(_, n)| n),
                array::column_type(name, dt),
                format.format_for(i),
            )
        })
        .collect()
}

/// Format options for values written as they are (text of type `text`,
/// bytes of type `bytea` read none), made once rather than per value.
fn as_written() -> &'static FormatOptions {
    static OPTIONS: std::sync::OnceLock<FormatOptions> = std::sync::OnceLock::new();
    OPTIONS.get_or_init(FormatOptions::default)
}

/// One column, converted once into the physical form its wire type encodes from.
enum Col {
    Bool(BooleanChunked),
    I16(Int16Chunked),
    I32(Int32Chunked),
    I64(Int64Chunked),
    /// Floats carry whether they go out as text, where PostgreSQL's form differs from Rust's.
    F32(Float32Chunked, bool),
    F64(Float64Chunked, bool),
    Numeric(StringChunked),
    Date(Int32Chunked),
    /// Microseconds since the epoch (and whether the column goes out as text).
    Ts(Int64Chunked, bool),
    TsTz(Int64Chunked, bool),
    /// Nanoseconds since midnight.
    Time(Int64Chunked),
    Bytes(BinaryChunked),
    Text(StringChunked),
    /// A list column with its elements' wire type and text form (and
    /// whether it goes out as text).
    Array(ListChunked, Type, array::Form, bool),
}

fn cast(c: &Column, dt: &DataType) -> Result<Series> {
    Ok(c.as_materialized_series().cast(dt)?.rechunk())
}

impl Col {
    /// The column `c` ready to go out as wire type `ty` (as text or binary).
    fn new(c: &Column, ty: &Type, text: bool) -> Result<Col> {
        if let Some((elem, form)) = array::element(ty) {
            let list = c.as_materialized_series().rechunk();
            return Ok(Col::Array(list.list()?.clone(), elem, form, text));
        }
        let us = DataType::Datetime(TimeUnit::Microseconds, None);
        Ok(match *ty {
            Type::BOOL => Col::Bool(cast(c, &DataType::Boolean)?.bool()?.clone()),
            Type::INT2 => Col::I16(cast(c, &DataType::Int16)?.i16()?.clone()),
            Type::INT4 => Col::I32(cast(c, &DataType::Int32)?.i32()?.clone()),
            Type::INT8 => Col::I64(cast(c, &DataType::Int64)?.i64()?.clone()),
            Type::FLOAT4 => Col::F32(cast(c, &DataType::Float32)?.f32()?.clone(), text),
            Type::FLOAT8 => Col::F64(cast(c, &DataType::Float64)?.f64()?.clone(), text),
            Type::NUMERIC => Col::Numeric(cast(c, &DataType::String)?.str()?.clone()),
            Type::DATE => Col::Date(cast(c, &DataType::Date)?.cast(&DataType::Int32)?.i32()?.clone()),
            Type::TIMESTAMP => Col::Ts(cast(c, &us)?.cast(&DataType::Int64)?.i64()?.clone(), text),
            Type::TIMESTAMPTZ => {
                let utc = DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC));
                Col::TsTz(cast(c, &utc)?.cast(&DataType::Int64)?.i64()?.clone(), text)
            }
            Type::TIME => Col::Time(cast(c, &DataType::Time)?.cast(&DataType::Int64)?.i64()?.clone()),
            Type::BYTEA => Col::Bytes(cast(c, &DataType::Binary)?.binary()?.clone()),
            _ => Col::Text(text_column(c)?),
        })
    }

    fn encode(&self, i: usize, enc: &mut DataRowEncoder) -> PgWireResult<()> {
        match self {
            Col::Bool(c) => enc.encode_field(&c.get(i)),
            Col::I16(c) => enc.encode_field(&c.get(i)),
            Col::I32(c) => enc.encode_field(&c.get(i)),
            Col::I64(c) => enc.encode_field(&c.get(i)),
            Col::F32(c, true) => enc.encode_field(&c.get(i).map(float4_text)),
            Col::F64(c, true) => {
                let mut buf = ryu::Buffer::new();
                enc.encode_field(&c.get(i).map(|v| float8_str(v, &mut buf)).as_deref())
            }
            Col::F32(c, false) => enc.encode_field(&c.get(i)),
            Col::F64(c, false) => enc.encode_field(&c.get(i)),
            Col::Numeric(c) => enc.encode_field(&c.get(i).and_then(|s| s.parse::<Decimal>().ok())),
            Col::Date(c) => enc.encode_field(&c.get(i).and_then(days_to_date)),
            Col::Ts(c, true) => enc.encode_field(&c.get(i).map(|us| timestamp_text(us, ""))),
            Col::TsTz(c, true) => enc.encode_field(&c.get(i).map(|us| timestamp_text(us, "+00"))),
            Col::Ts(c, false) => enc.encode_field(
                &c.get(i)
                    .and_then(DateTime::from_timestamp_micros)
                    .map(|t| t.naive_utc()),
            ),
            Col::TsTz(c, false) => enc.encode_field(&c.get(i).and_then(DateTime::from_timestamp_micros)),
            Col::Time(c) => enc.encode_field(&c.get(i).and_then(|ns| {
                NaiveTime::from_num_seconds_from_midnight_opt((ns / 1_000_000_000) as u32, (ns % 1_000_000_000) as u32)
            })),
            Col::Bytes(c) => enc.encode_field(&c.get(i)),
            Col::Text(c) => enc.encode_field(&c.get(i)),
            // Encoded here; the encoder is told a type that writes the bytes as they are.
            Col::Array(_, _, _, true) => {
                let text = self.text(i);
                enc.encode_field_with_type_and_format(&text, &Type::TEXT, FieldFormat::Text, as_written())
            }
            Col::Array(c, elem, form, false) => {
                let bytes = match c.get_as_series(i) {
                    Some(s) => Some(
                        copy_binary::array(&s.into_column(), elem, form.lower_bound())
                            .map_err(|e| pgwire::error::PgWireError::ApiError(Box::new(e)))?,
                    ),
                    None => None,
                };
                enc.encode_field_with_type_and_format(&bytes, &Type::BYTEA, FieldFormat::Binary, as_written())
            }
        }
    }

    /// An array cell's text form (None for NULL).
    fn array_text(c: &ListChunked, elem: &Type, form: array::Form, i: usize) -> Option<String> {
        let s = c.get_as_series(i)?;
        let len = s.len();
        let elements = Col::new(&s.into_column(), elem, true).ok()?;
        Some(array::text((0..len).map(|j| elements.text(j)), form))
    }
}

impl Col {
    /// The value's PostgreSQL text form (as COPY and the text protocol send it).
    fn text(&self, i: usize) -> Option<String> {
        match self {
            Col::Bool(c) => c.get(i).map(|b| if b { "t" } else { "f" }.to_string()),
            Col::I16(c) => c.get(i).map(|v| v.to_string()),
            Col::I32(c) => c.get(i).map(|v| v.to_string()),
            Col::I64(c) => c.get(i).map(|v| v.to_string()),
            Col::F32(c, _) => c.get(i).map(float4_text),
            Col::F64(c, _) => c.get(i).map(float8_text),
            Col::Numeric(c) | Col::Text(c) => c.get(i).map(str::to_string),
            Col::Array(c, elem, form, _) => Col::array_text(c, elem, *form, i),
            Col::Date(c) => c.get(i).and_then(days_to_date).map(date_text),
            Col::Ts(c, _) => c.get(i).map(|us| timestamp_text(us, "")),
            Col::TsTz(c, _) => c.get(i).map(|us| timestamp_text(us, "+00")),
            Col::Time(c) => c.get(i).and_then(|ns| {
                NaiveTime::from_num_seconds_from_midnight_opt((ns / 1_000_000_000) as u32, (ns % 1_000_000_000) as u32)
                    .map(|t| t.format("%H:%M:%S%.f").to_string())
            }),
            Col::Bytes(c) => c.get(i).map(|b| {
                let mut s = String::with_capacity(2 + 2 * b.len());
                s.push_str("\\x");
                for byte in b {
                    let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{byte:02x}"));
                }
                s
            }),
        }
    }
}

/// A frame's columns in PostgreSQL text form, one accessor per column.
pub struct TextColumns(Vec<Col>);

impl TextColumns {
    pub fn new(frame: &DataFrame) -> Result<TextColumns> {
        let cols = frame
            .columns()
            .iter()
            .map(|c| Col::new(c, &array::column_type(c.name(), c.dtype()), true))
            .collect::<Result<_>>()?;
        Ok(TextColumns(cols))
    }

    /// Row `row`'s values as text (None for NULL).
    pub fn row(&self, row: usize) -> impl Iterator<Item = Option<String>> + '_ {
        self.0.iter().map(move |c| c.text(row))
    }
}

/// ISO 8601 date text (`2024-03-01`), as `%Y-%m-%d` prints it, without
/// strftime's per-call parsing of the pattern.
pub fn date_text(d: chrono::NaiveDate) -> String {
    let mut out = String::with_capacity(32);
    push_date(&mut out, d);
    out
}

fn push_date(out: &mut String, d: chrono::NaiveDate) {
    if (0..=9999).contains(&d.year()) {
        push_digits(out, d.year() as u32, 4);
        out.push('-');
        push_digits(out, d.month(), 2);
        out.push('-');
        push_digits(out, d.day(), 2);
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{}", d.format("%Y-%m-%d"));
    }
}

/// `v` in decimal, zero-padded to `width` digits (`v` has at most `width`).
fn push_digits(out: &mut String, v: u32, width: u32) {
    let mut p = 10u32.pow(width - 1);
    while p > 0 {
        out.push(char::from(b'0' + (v / p % 10) as u8));
        p /= 10;
    }
}

/// PostgreSQL's text form of a timestamp: fractional seconds only when
/// non-zero, without trailing zeros (`2024-03-01 08:00:00.5`).
pub fn timestamp_text(micros: i64, zone: &str) -> String {
    let Some(t) = DateTime::from_timestamp_micros(micros) else {
        return micros.to_string();
    };
    let mut out = String::with_capacity(32);
    push_date(&mut out, t.date_naive());
    for (sep, v) in [(' ', t.hour()), (':', t.minute()), (':', t.second())] {
        out.push(sep);
        push_digits(&mut out, v, 2);
    }
    let mut frac = micros.rem_euclid(1_000_000) as u32;
    if frac != 0 {
        let mut width = 6;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        push_digits(&mut out, frac, width);
    }
    out.push_str(zone);
    out
}

/// Any other type is sent as its text form.
fn text_column(c: &Column) -> Result<StringChunked> {
    let s = c.as_materialized_series();
    if let Ok(t) = s.cast(&DataType::String) {
        return Ok(t.rechunk().str()?.clone());
    }
    let values: Vec<Option<String>> = (0..s.len())
        .map(|i| match s.get(i) {
            Ok(AnyValue::Null) | Err(_) => None,
            Ok(v) => Some(v.to_string()),
        })
        .collect();
    Ok(StringChunked::from_iter_options(s.name().clone(), values.into_iter()))
}

/// Stream the frame's rows, encoded for `fields` (which fix each column's
/// wire type and format), `ROW_BATCH` rows at a time.
pub fn row_stream(
    frame: DataFrame,
    fields: Arc<Vec<FieldInfo>>,
) -> Result<impl Stream<Item = PgWireResult<DataRow>> + Send + 'static> {
    if frame.width() != fields.len() {
        return Err(Error::Internal(format!(
            "result has {} columns but {} were described",
            frame.width(),
            fields.len()
        )));
    }
    // Each batch's columns are prepared from a slice of the frame: a column
    // read in chunks (exec::scan) is then never copied into one piece.
    let prepare = move |frame: &DataFrame, start: usize, fields: &[FieldInfo]| -> Result<Vec<Col>> {
        let part = frame.slice(start as i64, ROW_BATCH);
        part.columns()
            .iter()
            .zip(fields)
            .map(|(c, f)| Col::new(c, f.datatype(), f.format() == FieldFormat::Text))
            .collect()
    };
    // The first batch's are prepared here, so a column that cannot go out as
    // described fails the query before any row is sent.
    let mut first = Some(prepare(&frame, 0, &fields)?);
    let height = frame.height();
    let batches = (0..height).step_by(ROW_BATCH).map(move |start| {
        let end = (start + ROW_BATCH).min(height);
        let cols = match first.take() {
            Some(cols) => cols,
            None => match prepare(&frame, start, &fields) {
                Ok(cols) => cols,
                Err(e) => return vec![Err(e.into())],
            },
        };
        let mut enc = DataRowEncoder::new(fields.clone());
        let mut rows = Vec::with_capacity(end - start);
        for i in 0..end - start {
            for c in cols.iter() {
                if let Err(e) = c.encode(i, &mut enc) {
                    rows.push(Err(e));
                    return rows;
                }
            }
            rows.push(Ok(enc.take_row()));
        }
        rows
    });
    Ok(stream::iter(batches).flat_map(stream::iter))
}

/// Rows of cells (a key lookup's, `exec::lookup_rows`) encoded for `fields`,
/// each value in the form [`row_stream`] gives the same value of a column
/// of the cell's type (a test compares the two paths).
pub fn cell_rows(
    rows: Vec<Vec<Cell<'static>>>,
    fields: Arc<Vec<FieldInfo>>,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static {
    let mut enc = DataRowEncoder::new(fields.clone());
    let mut encoded = Vec::with_capacity(rows.len());
    for row in &rows {
        let done = row
            .iter()
            .zip(fields.iter())
            .try_for_each(|(cell, field)| encode_cell(cell, field.format() == FieldFormat::Text, &mut enc));
        match done {
            Ok(()) => encoded.push(Ok(enc.take_row())),
            Err(e) => {
                encoded.push(Err(e));
                break;
            }
        }
    }
    stream::iter(encoded)
}

fn encode_cell(cell: &Cell, text: bool, enc: &mut DataRowEncoder) -> PgWireResult<()> {
    match cell {
        Cell::Null => enc.encode_field(&None::<i64>),
        Cell::Int(v) => enc.encode_field(v),
        Cell::Float(v) if text => {
            let mut buf = ryu::Buffer::new();
            enc.encode_field(&float8_str(*v, &mut buf).as_ref())
        }
        Cell::Float(v) => enc.encode_field(v),
        Cell::Bool(v) => enc.encode_field(v),
        Cell::Date(days) => enc.encode_field(&days_to_date(*days)),
        Cell::Ts(us) if text => enc.encode_field(&timestamp_text(*us, "")),
        Cell::Ts(us) => enc.encode_field(&DateTime::from_timestamp_micros(*us).map(|t| t.naive_utc())),
        Cell::Text(s) => enc.encode_field(&s.as_ref()),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn dates_print_like_strftime() {
        for (y, m, d) in [
            (2024, 3, 1),
            (1, 1, 1),
            (9999, 12, 31),
            (0, 2, 29),
            (-44, 3, 15),
            (12345, 1, 2),
        ] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(super::date_text(date), date.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn timestamps_print_like_postgres() {
        use super::timestamp_text;
        assert_eq!(timestamp_text(0, ""), "1970-01-01 00:00:00");
        assert_eq!(timestamp_text(1_500_000, ""), "1970-01-01 00:00:01.5");
        assert_eq!(timestamp_text(123_456, "+00"), "1970-01-01 00:00:00.123456+00");
        assert_eq!(timestamp_text(-1, ""), "1969-12-31 23:59:59.999999");
        assert_eq!(timestamp_text(120_000, ""), "1970-01-01 00:00:00.12");
        assert_eq!(timestamp_text(100_000, ""), "1970-01-01 00:00:00.1");
        assert_eq!(timestamp_text(10, ""), "1970-01-01 00:00:00.00001");
        // Against chrono's formatting over a spread of instants.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let us = (x % 400_000_000_000_000_000) as i64 - 62_000_000_000_000_000;
            let us = if x.is_multiple_of(3) { us - us % 1_000_000 } else { us };
            let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
            let frac = us.rem_euclid(1_000_000);
            let mut want = t.format("%Y-%m-%d %H:%M:%S").to_string();
            if frac != 0 {
                want += format!(".{frac:06}").trim_end_matches('0');
            }
            assert_eq!(timestamp_text(us, ""), want, "{us}");
        }
    }
}
