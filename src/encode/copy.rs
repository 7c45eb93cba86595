//! COPY TO output: rows in PostgreSQL's text format or CSV, as `psql \copy`
//! and PostgreSQL's own COPY write them (`t`/`f` booleans, `\N` or the empty
//! string for NULL, CSV fields quoted only when they must be).

use bytes::Bytes;
use polars::prelude::DataFrame;

use super::TextColumns;
use crate::error::Result;
use crate::exec::copy_format::CopyFormat;

/// One CopyData message of COPY TO STDOUT: a row, or the header or binary
/// trailer around the rows (not counted in the COPY tag).
pub enum CopyOut {
    Row(Bytes),
    Framing(Bytes),
}

/// Writes rows of a frame as COPY lines.
pub struct CopyWriter {
    format: CopyFormat,
}

impl CopyWriter {
    pub fn new(format: CopyFormat) -> CopyWriter {
        CopyWriter { format }
    }

    /// The header line (CSV with HEADER only), column names as given.
    pub fn header(&self, names: &[String]) -> Option<String> {
        if !self.format.header {
            return None;
        }
        let mut line = String::new();
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                line.push(self.format.delimiter);
            }
            if self.format.csv {
                self.csv_field(&mut line, Some(n));
            } else {
                text_field(&mut line, Some(n), &self.format.null);
            }
        }
        line.push('\n');
        Some(line)
    }

    /// Rows `start..end` of a frame, one line each.
    pub fn lines(&self, frame: &DataFrame, start: usize, end: usize) -> Result<Vec<String>> {
        let cols = TextColumns::new(frame)?;
        Ok((start..end.min(frame.height())).map(|r| self.line(&cols, r)).collect())
    }

    /// One row as a line; `cols` converts the frame once for all its rows.
    pub fn line(&self, cols: &TextColumns, row: usize) -> String {
        let mut line = String::new();
        for (i, v) in cols.row(row).enumerate() {
            if i > 0 {
                line.push(self.format.delimiter);
            }
            if self.format.csv {
                self.csv_field(&mut line, v.as_deref());
            } else {
                text_field(&mut line, v.as_deref(), &self.format.null);
            }
        }
        line.push('\n');
        line
    }

    fn csv_field(&self, out: &mut String, v: Option<&str>) {
        let Some(v) = v else {
            out.push_str(&self.format.null);
            return;
        };
        let q = self.format.quote;
        let must_quote = v == self.format.null || v.contains([self.format.delimiter, q, '\n', '\r']) || v == "\\.";
        if must_quote {
            out.push(q);
            for c in v.chars() {
                if c == q {
                    out.push(q);
                }
                out.push(c);
            }
            out.push(q);
        } else {
            out.push_str(v);
        }
    }
}

fn text_field(out: &mut String, v: Option<&str>, null: &str) {
    let Some(v) = v else {
        out.push_str(null);
        return;
    };
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::copy_format::RecordReader;
    use polars::prelude::*;

    fn frame() -> DataFrame {
        df!(
            "id" => [1i64, 2, 3],
            "name" => [Some("a, \"b\""), None, Some("")],
            "note" => [Some("tab\there\nnl\\"), Some("é"), None],
            "ok" => [Some(true), Some(false), None],
            "v" => [Some(0.1f64), Some(1e20), None],
        )
        .unwrap()
    }

    /// What the writer produces, the COPY reader reads back.
    #[test]
    fn lines_read_back_through_the_copy_reader() {
        for format in [CopyFormat::text(), CopyFormat::csv()] {
            let w = CopyWriter::new(format.clone());
            let text: String = w.lines(&frame(), 0, 3).unwrap().concat();
            let mut r = RecordReader::new(format.clone());
            let mut rows = r.feed(text.as_bytes()).unwrap();
            rows.extend(r.finish().unwrap());
            let s = |v: &str| Some(v.to_string());
            let got: Vec<_> = rows.into_iter().map(|(_, f)| f).collect();
            assert_eq!(
                got,
                vec![
                    vec![s("1"), s("a, \"b\""), s("tab\there\nnl\\"), s("t"), s("0.1")],
                    vec![s("2"), None, s("é"), s("f"), s("1e+20")],
                    vec![s("3"), s(""), None, None, None],
                ],
                "{format:?}: {text}"
            );
        }
    }

    #[test]
    fn csv_header_and_quoting() {
        let w = CopyWriter::new(CopyFormat {
            header: true,
            ..CopyFormat::csv()
        });
        assert_eq!(w.header(&["id".into(), "a,b".into()]).unwrap(), "id,\"a,b\"\n");
        assert_eq!(w.lines(&frame(), 2, 3).unwrap(), vec!["3,\"\",,,\n"]);
    }
}
