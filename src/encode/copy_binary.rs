//! `COPY ... TO STDOUT (FORMAT binary)`: PostgreSQL's binary COPY format
//! (used by connectorx). A signature header, then per row a 16-bit field
//! count and each field as a 32-bit length (-1 for NULL) and the value in the
//! type's binary send format; a -1 field count ends the data. Each column's
//! type is the one RowDescription announces for it ([`super::pg_type`]), so a
//! client that described the query first decodes what it expects.

use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use polars::prelude::*;

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

/// Frames → CopyData payloads, one per row: the header travels with the
/// first row and the trailer with the last, so the COPY tag counts rows
/// (without rows, header and trailer go together and count as one).
pub fn lines(frames: BoxStream<'static, Result<DataFrame>>) -> BoxStream<'static, Result<Bytes>> {
    let rows = frames.flat_map(|frame| match frame.and_then(|f| rows(&f)) {
        Ok(rows) => stream::iter(rows.into_iter().map(Ok)).boxed(),
        Err(e) => stream::iter(vec![Err(e)]).boxed(),
    });
    // One row is held back, so the trailer can travel with the last one.
    let state = (rows.boxed(), Some(header()), None::<Bytes>, false);
    stream::unfold(state, |(mut rows, mut head, mut held, done)| async move {
        if done {
            return None;
        }
        loop {
            match rows.next().await {
                Some(Ok(row)) => {
                    let mut b = BytesMut::new();
                    b.put_slice(&head.take().unwrap_or_default());
                    b.put_slice(&row);
                    if let Some(prev) = held.replace(b.freeze()) {
                        return Some((Ok(prev), (rows, head, held, false)));
                    }
                }
                Some(Err(e)) => return Some((Err(e), (rows, None, None, true))),
                None => {
                    let mut b = BytesMut::new();
                    match held.take() {
                        Some(last) => b.put_slice(&last),
                        None => b.put_slice(&head.take().unwrap_or_default()),
                    }
                    b.put_i16(-1);
                    return Some((Ok(b.freeze()), (rows, None, None, true)));
                }
            }
        }
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

    #[tokio::test]
    async fn header_with_the_first_row_and_trailer_with_the_last() {
        let df = df!("n" => [1i64, 2]).unwrap();
        let out: Vec<Bytes> = lines(stream::iter(vec![Ok(df)]).boxed())
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(out.len(), 2);
        assert!(out[0].starts_with(SIGNATURE));
        assert!(out[1].ends_with(&[0xff, 0xff]));
        let empty: Vec<Bytes> = lines(stream::iter(vec![Ok(DataFrame::empty())]).boxed())
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].len(), 19 + 2);
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
