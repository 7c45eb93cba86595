//! COPY FROM STDIN formats: PostgreSQL's text format and CSV, parsed as the
//! data streams in (records may span CopyData messages).

use crate::error::{Error, Result};

/// How incoming COPY data is laid out.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyFormat {
    pub csv: bool,
    pub delimiter: char,
    pub header: bool,
    /// The spelling of NULL: `\N` in text, the unquoted empty string in CSV.
    pub null: String,
    pub quote: char,
    /// PostgreSQL's binary COPY format (only `TO STDOUT`).
    pub binary: bool,
}

impl CopyFormat {
    pub fn text() -> CopyFormat {
        CopyFormat {
            csv: false,
            delimiter: '\t',
            header: false,
            null: "\\N".into(),
            quote: '"',
            binary: false,
        }
    }

    /// The defaults of a format: CSV's for CSV, the text format's otherwise.
    pub fn for_kind(kind: Option<super::files::FileKind>) -> CopyFormat {
        if kind == Some(super::files::FileKind::Csv) {
            CopyFormat::csv()
        } else {
            CopyFormat::text()
        }
    }

    pub fn csv() -> CopyFormat {
        CopyFormat {
            csv: true,
            delimiter: ',',
            header: false,
            null: String::new(),
            quote: '"',
            binary: false,
        }
    }
}

/// Splits a byte stream into records of fields (None = NULL).
pub struct RecordReader {
    format: CopyFormat,
    buf: String,
    /// Bytes of an incomplete UTF-8 character at the end of the last chunk.
    pending: Vec<u8>,
    /// Records read so far (the line number of the last one, counting the header).
    pub line: usize,
    /// The end-of-data line `\.` was read: what follows is ignored.
    ended: bool,
}

impl RecordReader {
    pub fn new(format: CopyFormat) -> RecordReader {
        RecordReader {
            format,
            buf: String::new(),
            pending: Vec::new(),
            line: 0,
            ended: false,
        }
    }

    /// Feed a chunk; returns the complete records it finished (header skipped).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<(usize, Vec<Option<String>>)>> {
        self.pending.extend_from_slice(chunk);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => {
                return Err(Error::Data(
                    "22021",
                    format!("invalid UTF-8 in COPY data (line {})", self.line + 1),
                ));
            }
        };
        let rest = self.pending.split_off(valid);
        self.buf
            .push_str(std::str::from_utf8(&self.pending).expect("validated"));
        self.pending = rest;
        self.take_records(false)
    }

    /// The end of the data: the last record may lack its newline.
    pub fn finish(&mut self) -> Result<Vec<(usize, Vec<Option<String>>)>> {
        if !self.pending.is_empty() {
            return Err(Error::Data(
                "22021",
                format!("invalid UTF-8 in COPY data (line {})", self.line + 1),
            ));
        }
        self.take_records(true)
    }

    fn take_records(&mut self, at_end: bool) -> Result<Vec<(usize, Vec<Option<String>>)>> {
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(end) = self.record_end(start, at_end)? {
            if self.ended {
                start = self.buf.len();
                break;
            }
            let raw = self.buf[start..end].trim_end_matches(['\n', '\r']);
            start = end;
            if raw == "\\." {
                // The end-of-data line, in text and CSV format (psql sends it
                // after inline data).
                self.ended = true;
                start = self.buf.len();
                break;
            }
            self.line += 1;
            if self.format.header && self.line == 1 {
                continue;
            }
            if raw.is_empty() && at_end && start >= self.buf.len() {
                break;
            }
            let fields = if self.format.csv {
                self.csv_fields(raw)?
            } else {
                self.text_fields(raw)?
            };
            out.push((self.line, fields));
        }
        self.buf.drain(..start);
        Ok(out)
    }

    /// The end (exclusive, after its newline) of the record starting at `start`.
    fn record_end(&self, start: usize, at_end: bool) -> Result<Option<usize>> {
        let rest = &self.buf[start..];
        if rest.is_empty() {
            return Ok(None);
        }
        if !self.format.csv {
            return Ok(rest
                .find('\n')
                .map(|i| start + i + 1)
                .or(if at_end { Some(self.buf.len()) } else { None }));
        }
        // Most records have no quote: the first newline ends them.
        if let Some(i) = rest.find('\n') {
            if !rest[..i].contains(self.format.quote) {
                return Ok(Some(start + i + 1));
            }
        }
        let mut quoted = false;
        for (i, c) in rest.char_indices() {
            if c == self.format.quote {
                quoted = !quoted;
            } else if c == '\n' && !quoted {
                return Ok(Some(start + i + 1));
            }
        }
        if at_end {
            if quoted {
                return Err(Error::Data(
                    "22P04",
                    format!("unterminated CSV quoted field (line {})", self.line + 1),
                ));
            }
            return Ok(Some(self.buf.len()));
        }
        Ok(None)
    }

    fn csv_fields(&self, raw: &str) -> Result<Vec<Option<String>>> {
        let (q, d) = (self.format.quote, self.format.delimiter);
        if !raw.contains(q) {
            return Ok(raw
                .split(d)
                .map(|f| (f != self.format.null).then(|| f.to_string()))
                .collect());
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let (mut quoted, mut was_quoted) = (false, false);
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if quoted {
                if c == q {
                    if chars.peek() == Some(&q) {
                        cur.push(q);
                        chars.next();
                    } else {
                        quoted = false;
                    }
                } else {
                    cur.push(c);
                }
            } else if c == q {
                quoted = true;
                was_quoted = true;
            } else if c == d {
                fields.push(self.csv_value(std::mem::take(&mut cur), was_quoted));
                was_quoted = false;
            } else {
                cur.push(c);
            }
        }
        fields.push(self.csv_value(cur, was_quoted));
        Ok(fields)
    }

    fn csv_value(&self, v: String, quoted: bool) -> Option<String> {
        (quoted || v != self.format.null).then_some(v)
    }

    fn text_fields(&self, raw: &str) -> Result<Vec<Option<String>>> {
        raw.split(self.format.delimiter)
            .map(|f| {
                if f == self.format.null {
                    return Ok(None);
                }
                let mut out = String::with_capacity(f.len());
                let mut chars = f.chars();
                while let Some(c) = chars.next() {
                    if c != '\\' {
                        out.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('t') => out.push('\t'),
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('b') => out.push('\u{8}'),
                        Some('f') => out.push('\u{c}'),
                        Some('v') => out.push('\u{b}'),
                        Some(other) => out.push(other),
                        None => {
                            return Err(Error::Data(
                                "22P04",
                                format!("trailing backslash in COPY data (line {})", self.line),
                            ))
                        }
                    }
                }
                Ok(Some(out))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(format: CopyFormat, chunks: &[&str]) -> Vec<Vec<Option<String>>> {
        let mut r = RecordReader::new(format);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(r.feed(c.as_bytes()).unwrap().into_iter().map(|(_, f)| f));
        }
        out.extend(r.finish().unwrap().into_iter().map(|(_, f)| f));
        out
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn csv_with_quotes_nulls_and_split_chunks() {
        let f = CopyFormat {
            header: true,
            ..CopyFormat::csv()
        };
        let rows = all(f, &["id,name\n1,\"a, \"\"b\"\"\"\n2,", ",\"\"\n3,\"multi\nline\"\n4,é"]);
        assert_eq!(
            rows,
            vec![
                vec![s("1"), s("a, \"b\"")],
                vec![s("2"), None, s("")],
                vec![s("3"), s("multi\nline")],
                vec![s("4"), s("é")],
            ]
        );
    }

    #[test]
    fn text_format_escapes_and_null() {
        let rows = all(CopyFormat::text(), &["1\ta\\tb\t\\N\n2\t\\\\x\t\n\\.\n"]);
        assert_eq!(rows, vec![vec![s("1"), s("a\tb"), None], vec![s("2"), s("\\x"), s("")]]);
    }

    #[test]
    fn csv_ends_at_the_end_of_data_line() {
        let rows = all(CopyFormat::csv(), &["1,a\n\\.\n", "2,b\n"]);
        assert_eq!(rows, vec![vec![s("1"), s("a")]]);
        let quoted = all(CopyFormat::csv(), &["1,\"x\n\\.\n\"\n"]);
        assert_eq!(quoted, vec![vec![s("1"), s("x\n\\.\n")]]);
    }

    #[test]
    fn unterminated_quote_names_the_line() {
        let mut r = RecordReader::new(CopyFormat::csv());
        r.feed(b"1,ok\n2,\"open\n").unwrap();
        let e = r.finish().unwrap_err();
        assert_eq!(e.sqlstate(), "22P04");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn utf8_split_across_chunks() {
        let bytes = "1,é\n".as_bytes();
        let mut r = RecordReader::new(CopyFormat::csv());
        let mut rows = r.feed(&bytes[..3]).unwrap();
        rows.extend(r.feed(&bytes[3..]).unwrap());
        assert_eq!(rows, vec![(1, vec![s("1"), s("é")])]);
    }
}
