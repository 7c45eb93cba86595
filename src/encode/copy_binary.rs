//! `COPY ... TO STDOUT (FORMAT binary)`: PostgreSQL's binary COPY format
//! (used by connectorx). A signature header, then per row a 16-bit field
//! count and each field as a 32-bit length (-1 for NULL) and the value in the
//! type's binary send format; a -1 field count ends the data. Each column's
//! type is the one RowDescription announces for it ([`super::pg_type`]), so a
//! client that described the query first decodes what it expects.

use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use polars::prelude::*;

use super::copy::CopyOut;
use super::Type;
use crate::error::{Error, Result};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Days and microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The header: signature, flags, header extension length.
pub fn header() -> Bytes {
    let mut b = BytesMut::with_capacity(19);
    b.put_slice(SIGNATURE);
    b.put_i32(0);
    b.put_i32(0);
    b.freeze()
}

/// One column ready to encode, in the physical form its wire type needs.
enum Col {
    Bool(BooleanChunked),
    I16(Int16Chunked),
    I32(Int32Chunked),
    I64(Int64Chunked),
    F32(Float32Chunked),
    F64(Float64Chunked),
    /// Date as days since 2000-01-01.
    Date(Int32Chunked),
    /// Timestamp (with or without zone) as microseconds since 2000-01-01.
    Micros(Int64Chunked),
    Bytes(BinaryChunked),
    Text(StringChunked),
    Oid(UInt32Chunked),
    /// A list column, its elements' type and the lower bound of its subscripts.
    Array(ListChunked, Type, i32),
}

/// Column `c` ready to encode as wire type `ty`.
fn prepare(c: &Column, ty: &Type) -> Result<Col> {
    let s = c.as_materialized_series();
    if let Some((elem, form)) = super::array::element(ty) {
        return Ok(Col::Array(s.rechunk().list()?.clone(), elem, form.lower_bound()));
    }
    Ok(match *ty {
        Type::BOOL => Col::Bool(s.cast(&DataType::Boolean)?.bool()?.clone()),
        Type::INT2 => Col::I16(s.cast(&DataType::Int16)?.i16()?.clone()),
        Type::INT4 => Col::I32(s.cast(&DataType::Int32)?.i32()?.clone()),
        Type::INT8 => Col::I64(s.cast(&DataType::Int64)?.i64()?.clone()),
        Type::FLOAT4 => Col::F32(s.cast(&DataType::Float32)?.f32()?.clone()),
        Type::FLOAT8 => Col::F64(s.cast(&DataType::Float64)?.f64()?.clone()),
        Type::DATE => Col::Date(s.cast(&DataType::Int32)?.i32()? - PG_EPOCH_DAYS),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let us = s.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
            Col::Micros(us.cast(&DataType::Int64)?.i64()? - PG_EPOCH_MICROS)
        }
        Type::BYTEA => Col::Bytes(s.binary()?.clone()),
        Type::TEXT => Col::Text(s.cast(&DataType::String)?.str()?.clone()),
        Type::OID => Col::Oid(s.cast(&DataType::UInt32)?.u32()?.clone()),
        _ => {
            return Err(Error::Unsupported(format!(
                "binary COPY of a {} column; cast it to text or double precision",
                ty.name()
            )))
        }
    })
}

fn put<T: Copy>(b: &mut BytesMut, v: Option<T>, len: i32, write: impl Fn(&mut BytesMut, T)) {
    match v {
        None => b.put_i32(-1),
        Some(v) => {
            b.put_i32(len);
            write(b, v);
        }
    }
}

fn put_bytes(b: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        None => b.put_i32(-1),
        Some(v) => {
            b.put_i32(v.len() as i32);
            b.put_slice(v);
        }
    }
}

impl Col {
    /// Row `r` as a field: its length (-1 for NULL), then its bytes.
    fn put(&self, r: usize, b: &mut BytesMut) -> Result<()> {
        match self {
            Col::Bool(a) => put(b, a.get(r), 1, |b, v| b.put_u8(v as u8)),
            Col::I16(a) => put(b, a.get(r), 2, |b, v| b.put_i16(v)),
            Col::I32(a) | Col::Date(a) => put(b, a.get(r), 4, |b, v| b.put_i32(v)),
            Col::I64(a) | Col::Micros(a) => put(b, a.get(r), 8, |b, v| b.put_i64(v)),
            Col::F32(a) => put(b, a.get(r), 4, |b, v| b.put_f32(v)),
            Col::F64(a) => put(b, a.get(r), 8, |b, v| b.put_f64(v)),
            Col::Oid(a) => put(b, a.get(r), 4, |b, v| b.put_u32(v)),
            Col::Bytes(a) => put_bytes(b, a.get(r)),
            Col::Text(a) => put_bytes(b, a.get(r).map(str::as_bytes)),
            Col::Array(a, elem, lower) => match a.get_as_series(r) {
                None => b.put_i32(-1),
                Some(s) => put_bytes(b, Some(&array(&s.into_column(), elem, *lower)?)),
            },
        }
        Ok(())
    }
}

/// One array value in PostgreSQL's array send format: dimensions (1, or 0
/// when empty), a has-NULLs flag, the element type's OID, the length and
/// lower bound of the one dimension, then each element as a field.
pub fn array(elements: &Column, elem: &Type, lower: i32) -> Result<Vec<u8>> {
    let col = prepare(elements, elem)?;
    let n = elements.len();
    let mut b = BytesMut::new();
    b.put_i32(if n == 0 { 0 } else { 1 });
    b.put_i32((elements.null_count() > 0) as i32);
    b.put_u32(elem.oid());
    if n > 0 {
        b.put_i32(n as i32);
        b.put_i32(lower);
    }
    for r in 0..n {
        col.put(r, &mut b)?;
    }
    Ok(b.to_vec())
}

/// The rows of a frame, one buffer each.
pub fn rows(frame: &DataFrame) -> Result<Vec<Bytes>> {
    let cols: Vec<Col> = frame
        .columns()
        .iter()
        .map(|c| prepare(c, &super::array::column_type(c.name(), c.dtype())))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(frame.height());
    for r in 0..frame.height() {
        let mut b = BytesMut::new();
        b.put_i16(cols.len() as i16);
        for c in &cols {
            c.put(r, &mut b)?;
        }
        out.push(b.freeze());
    }
    Ok(out)
}

/// Frames → COPY's binary data: one payload per row, the header in front
/// of the first (clients such as tokio-postgres read it from the first
/// message, as PostgreSQL sends it), then the trailer (with the header when
/// there were no rows). An error ends the data: no trailer after it.
pub fn lines(frames: BoxStream<'static, Result<DataFrame>>) -> BoxStream<'static, Result<CopyOut>> {
    let rows = frames.flat_map(|frame| match frame.and_then(|f| rows(&f)) {
        Ok(rows) => stream::iter(rows.into_iter().map(|r| Ok(Some(r)))).boxed(),
        Err(e) => stream::iter(vec![Err(e)]).boxed(),
    });
    let end = stream::once(futures::future::ready(Ok(None)));
    // State: the header until it is sent; None once the data has ended.
    rows.chain(end)
        .scan(Some(Some(header())), |state, item| {
            let Some(head) = state else {
                return futures::future::ready(None);
            };
            let mut joined = |tail: &[u8]| -> Bytes {
                let mut b = BytesMut::new();
                b.put_slice(&head.take().unwrap_or_default());
                b.put_slice(tail);
                b.freeze()
            };
            let out = match item {
                Ok(Some(row)) => Ok(CopyOut::Row(joined(&row))),
                Ok(None) => Ok(CopyOut::Framing(joined(&(-1i16).to_be_bytes()))),
                Err(e) => Err(e),
            };
            if !matches!(out, Ok(CopyOut::Row(_))) {
                *state = None;
            }
            futures::future::ready(Some(out))
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_in_postgresql_binary_send_formats() {
        let df = df!(
            "i" => [Some(1i64), None],
            "f" => [1.5f64, -0.0],
            "s" => ["ab", ""],
            "b" => [true, false],
        )
        .unwrap();
        let r = rows(&df).unwrap();
        assert_eq!(
            r[0].to_vec(),
            [
                &[0u8, 4][..],
                &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1],
                &[0, 0, 0, 8],
                &1.5f64.to_be_bytes(),
                &[0, 0, 0, 2, b'a', b'b'],
                &[0, 0, 0, 1, 1],
            ]
            .concat()
        );
        // NULL is length -1 with no bytes; the empty string has length 0.
        assert_eq!(&r[1][2..6], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&r[1][18..22], &[0, 0, 0, 0]);
    }

    #[test]
    fn dates_and_timestamps_count_from_2000() {
        let d = Column::new("d".into(), [10_957i32]).cast(&DataType::Date).unwrap();
        let t = Column::new("t".into(), [PG_EPOCH_MICROS + 1])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap();
        let r = rows(&DataFrame::new_infer_height(vec![d, t]).unwrap()).unwrap();
        assert_eq!(&r[0][2..10], &[0, 0, 0, 4, 0, 0, 0, 0]);
        assert_eq!(&r[0][10..], &[&[0u8, 0, 0, 8][..], &1i64.to_be_bytes()].concat()[..]);
    }

    /// Each message as (is it a row, its bytes).
    async fn messages(frames: Vec<Result<DataFrame>>) -> Vec<Result<(bool, Bytes)>> {
        lines(stream::iter(frames).boxed())
            .map(|m| {
                m.map(|m| match m {
                    CopyOut::Row(b) => (true, b),
                    CopyOut::Framing(b) => (false, b),
                })
            })
            .collect()
            .await
    }

    #[tokio::test]
    async fn header_with_the_first_row_trailer_alone_and_none_after_an_error() {
        let out: Vec<(bool, Bytes)> = messages(vec![Ok(df!("n" => [1i64, 2]).unwrap())])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let kinds: Vec<bool> = out.iter().map(|(row, _)| *row).collect();
        assert_eq!(kinds, [true, true, false]);
        assert!(out[0].1.starts_with(SIGNATURE));
        assert_eq!(out[0].1.len(), 19 + out[1].1.len());
        assert_eq!(&out[2].1[..], &[0xff, 0xff]);
        let empty = messages(vec![Ok(DataFrame::empty())]).await;
        assert_eq!(empty.len(), 1, "header and trailer together");
        assert_eq!(empty[0].as_ref().unwrap().1.len(), 19 + 2);
        let one = Ok(df!("n" => [1i64]).unwrap());
        let failed = messages(vec![one, Err(Error::Internal("boom".into()))]).await;
        assert_eq!(failed.len(), 2, "a row, the error, nothing after it");
        assert!(failed[1].is_err());
    }

    #[test]
    fn arrays_in_the_array_send_format() {
        let ints = Column::new("a".into(), [Some(7i64), None]);
        assert_eq!(
            array(&ints, &Type::INT8, 1).unwrap(),
            [
                &[0u8, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 1][..],
                &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7],
                &[0xff, 0xff, 0xff, 0xff],
            ]
            .concat()
        );
        let empty = Column::new("a".into(), Vec::<String>::new());
        assert_eq!(
            array(&empty, &Type::TEXT, 1).unwrap(),
            [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]
        );
        // int2vector: int2 elements, subscripts from 0.
        let keys = Column::new("k".into(), [1i64]);
        assert_eq!(
            array(&keys, &Type::INT2, 0).unwrap(),
            [0u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]
        );
    }
}
