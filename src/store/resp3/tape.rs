//! The RESP3 reply reader: a reply is read into one buffer while a flat
//! "tape" of its frames is built in the same pass (resumable as bytes
//! arrive); each aggregate's tape entry knows where its subtree ends, so
//! walking to a map key or past a subtree costs nothing, and values are
//! handed out as slices of the buffer ([`Frame`]).

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};

/// What a tape entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Simple, blob and verbatim strings, doubles and big numbers, as sent.
    Str,
    Int,
    Bool,
    Null,
    /// A simple or blob error.
    Error,
    /// Arrays and sets.
    Array,
    /// Maps: keys and values alternate among the children.
    Map,
    /// An out-of-band push (not a reply).
    Push,
    /// An attribute map, describing the frame after it; skipped.
    Attribute,
}

/// One frame on the tape: a byte range (strings, errors) or a value (ints,
/// booleans), or for aggregates the child count and the tape index just
/// past the subtree.
#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    a: u32,
    b: u32,
    next: u32,
}

/// A reply that cannot be read leaves the connection unusable.
fn bad(what: &str) -> Error {
    Error::RedisUnavailable(format!("malformed RESP3 reply from Redis: {what}"))
}

/// Builds the tape of one top-level frame as its bytes arrive.
#[derive(Debug, Default)]
struct Tape {
    toks: Vec<Tok>,
    /// Unfinished aggregates: tape index and children still to come.
    open: Vec<(usize, usize)>,
    /// Bytes consumed so far.
    pos: usize,
}

/// The decimal integer in `text` (lengths, counts, `:` replies).
fn number(text: &[u8]) -> Result<i64> {
    let (neg, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 {
        return match std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()) {
            Some(n) => Ok(n),
            None => Err(bad("a length or integer is not a number")),
        };
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(bad("a length or integer is not a number"));
        }
        n = n * 10 + (d - b'0') as i64;
    }
    Ok(if neg { -n } else { n })
}

fn offset(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| bad("reply larger than 4 GiB"))
}

impl Tape {
    /// Consume the complete frames at the front of `buf[self.pos..]`; true
    /// once the top-level frame is complete (it ends at `self.pos`).
    fn advance(&mut self, buf: &[u8]) -> Result<bool> {
        loop {
            // The header line: type byte, text, CRLF.
            let start = self.pos;
            let Some(line_end) = crlf(buf, start + 1) else {
                return Ok(false);
            };
            let kind = buf[start];
            let text = &buf[start + 1..line_end];
            let after = line_end + 2;
            let here = self.toks.len();
            let mut tok = Tok {
                kind: Kind::Null,
                a: 0,
                b: 0,
                next: offset(here + 1)?,
            };
            let mut children = 0usize;
            let mut end = after;
            match kind {
                b'$' | b'!' | b'=' => {
                    let n = number(text)?;
                    if n >= 0 {
                        let n = n as usize;
                        if after + n + 2 > buf.len() {
                            return Ok(false);
                        }
                        // Verbatim strings start with a 3-letter format and ':'.
                        let skip = if kind == b'=' && n >= 4 { 4 } else { 0 };
                        tok.kind = if kind == b'!' { Kind::Error } else { Kind::Str };
                        tok.a = offset(after + skip)?;
                        tok.b = offset(n - skip)?;
                        end = after + n + 2;
                    }
                }
                b'+' | b',' | b'(' | b'-' => {
                    tok.kind = if kind == b'-' { Kind::Error } else { Kind::Str };
                    tok.a = offset(start + 1)?;
                    tok.b = offset(text.len())?;
                }
                b':' => {
                    let n = number(text)? as u64;
                    tok.kind = Kind::Int;
                    tok.a = (n >> 32) as u32;
                    tok.b = n as u32;
                }
                b'#' => {
                    tok.kind = Kind::Bool;
                    tok.a = (text == b"t") as u32;
                }
                b'_' => {}
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    let n = number(text)?;
                    if n >= 0 || kind != b'*' {
                        let n = n.max(0) as usize;
                        (tok.kind, children) = match kind {
                            b'%' => (Kind::Map, 2 * n),
                            b'|' => (Kind::Attribute, 2 * n),
                            b'>' => (Kind::Push, n),
                            _ => (Kind::Array, n),
                        };
                        tok.b = offset(n)?;
                    }
                }
                other => return Err(bad(&format!("unknown type byte {:?}", other as char))),
            }
            self.toks.push(tok);
            self.pos = end;
            if children > 0 {
                self.open.push((here, children));
                continue;
            }
            // A frame is complete; so may be the aggregates it ends.
            let mut done = here;
            loop {
                if self.toks[done].kind == Kind::Attribute {
                    // Describes the next frame; it is no element itself.
                    break;
                }
                match self.open.last_mut() {
                    None => return Ok(true),
                    Some((i, left)) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        let i = *i;
                        self.toks[i].next = offset(self.toks.len())?;
                        self.open.pop();
                        done = i;
                    }
                }
            }
        }
    }
}

/// The position of the first CRLF at or after `from`.
fn crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        if buf[i] == b'\r' && buf[i + 1] == b'\n' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// One or more complete replies (a pipeline's, in order): their bytes and
/// one tape of them all.
pub struct Reply {
    bytes: Bytes,
    toks: Vec<Tok>,
    /// The tape index of each reply's top-level frame.
    roots: Vec<u32>,
}

/// The replies of `n` commands, read as their bytes arrive.
pub(super) struct Replies {
    tape: Tape,
    roots: Vec<u32>,
    /// The tape index where the reply being read starts.
    root: usize,
    n: usize,
}

impl Replies {
    pub(super) fn new(n: usize) -> Replies {
        Replies {
            tape: Tape::default(),
            roots: Vec::with_capacity(n),
            root: 0,
            n,
        }
    }

    /// Consume what `buf` holds; true once all `n` replies are complete.
    pub(super) fn advance(&mut self, buf: &[u8]) -> Result<bool> {
        while self.roots.len() < self.n {
            if !self.tape.advance(buf)? {
                return Ok(false);
            }
            // Out-of-band pushes are not replies (none are expected here).
            if self.tape.toks[self.root].kind != Kind::Push {
                self.roots.push(offset(self.root)?);
            }
            self.root = self.tape.toks.len();
        }
        Ok(true)
    }

    /// The complete replies, their bytes taken off the front of `buf`.
    pub(super) fn finish(self, buf: &mut BytesMut) -> Reply {
        Reply {
            bytes: buf.split_to(self.tape.pos).freeze(),
            toks: self.tape.toks,
            roots: self.roots,
        }
    }
}

impl Reply {
    /// Read a reply from complete bytes.
    #[cfg(test)]
    fn parse(bytes: &[u8]) -> Result<(Reply, usize)> {
        let mut tape = Tape::default();
        if !tape.advance(bytes)? {
            return Err(bad("truncated"));
        }
        let used = tape.pos;
        Ok((
            Reply {
                bytes: Bytes::copy_from_slice(&bytes[..used]),
                toks: tape.toks,
                roots: vec![0],
            },
            used,
        ))
    }

    /// One reply of frames taken from several (a cluster's nodes'): the
    /// i-th frame is frame `order[i].1` of `parts[order[i].0]`.
    pub fn merge(parts: Vec<Reply>, order: &[(usize, usize)]) -> Result<Reply> {
        let mut bytes = BytesMut::with_capacity(parts.iter().map(|p| p.bytes.len()).sum());
        let mut toks = Vec::with_capacity(parts.iter().map(|p| p.toks.len()).sum());
        let mut bases = Vec::with_capacity(parts.len());
        for p in &parts {
            let (byte_base, tok_base) = (offset(bytes.len())?, offset(toks.len())?);
            bases.push(tok_base);
            offset(bytes.len() + p.bytes.len())?;
            bytes.extend_from_slice(&p.bytes);
            toks.extend(p.toks.iter().map(|t| {
                let mut t = *t;
                t.next += tok_base;
                if matches!(t.kind, Kind::Str | Kind::Error) {
                    t.a += byte_base;
                }
                t
            }));
        }
        let roots = order
            .iter()
            .map(|&(p, f)| parts.get(p).and_then(|r| r.roots.get(f)).map(|&i| i + bases[p]))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| Error::Internal("merging replies: no such frame".into()))?;
        Ok(Reply {
            bytes: bytes.freeze(),
            toks,
            roots,
        })
    }

    /// The top-level frame (the first reply's, of a pipeline).
    pub fn frame(&self) -> Frame<'_> {
        let i = self.roots.first().map_or(0, |&i| i as usize);
        Frame { r: self, i }.skip_attributes()
    }

    /// Each reply's top-level frame, in the order the commands were sent.
    pub fn frames(&self) -> impl ExactSizeIterator<Item = Frame<'_>> + '_ {
        self.roots
            .iter()
            .map(|&i| Frame { r: self, i: i as usize }.skip_attributes())
    }
}

/// One frame of a [`Reply`].
#[derive(Clone, Copy)]
pub struct Frame<'a> {
    r: &'a Reply,
    i: usize,
}

impl std::fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.tok();
        match t.kind {
            Kind::Str | Kind::Error => write!(f, "{:?}({:?})", t.kind, String::from_utf8_lossy(self.raw())),
            Kind::Int => write!(f, "Int({})", self.int().unwrap_or(0)),
            Kind::Array | Kind::Map | Kind::Push => {
                write!(f, "{:?}[", t.kind)?;
                let items: Vec<Frame<'_>> = self.children().collect();
                for (n, c) in items.iter().enumerate() {
                    if n == 8 {
                        write!(f, ", …")?;
                        break;
                    }
                    write!(f, "{}{c:?}", if n > 0 { ", " } else { "" })?;
                }
                write!(f, "]")
            }
            k => write!(f, "{k:?}"),
        }
    }
}

impl<'a> Frame<'a> {
    fn tok(&self) -> Tok {
        self.r.toks[self.i]
    }

    fn raw(&self) -> &'a [u8] {
        let t = self.tok();
        &self.r.bytes[t.a as usize..t.a as usize + t.b as usize]
    }

    fn skip_attributes(mut self) -> Frame<'a> {
        while self.tok().kind == Kind::Attribute {
            self.i = self.tok().next as usize;
        }
        self
    }

    /// The bytes of a string-like frame.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        if self.tok().kind == Kind::Str {
            Some(self.raw())
        } else {
            None
        }
    }

    /// The message of an error reply.
    pub fn error(&self) -> Option<&'a [u8]> {
        if self.tok().kind == Kind::Error {
            Some(self.raw())
        } else {
            None
        }
    }

    pub fn int(&self) -> Option<i64> {
        let t = self.tok();
        (t.kind == Kind::Int).then_some((((t.a as u64) << 32) | t.b as u64) as i64)
    }

    pub fn is_map(&self) -> bool {
        self.tok().kind == Kind::Map
    }

    pub fn is_array(&self) -> bool {
        self.tok().kind == Kind::Array
    }

    pub fn is_null(&self) -> bool {
        self.tok().kind == Kind::Null
    }

    /// An aggregate's children (for a map: keys and values alternating).
    fn children(&self) -> impl Iterator<Item = Frame<'a>> {
        let t = self.tok();
        let aggregate = matches!(t.kind, Kind::Array | Kind::Map | Kind::Push);
        let mut left = if aggregate {
            t.b as usize * if t.kind == Kind::Map { 2 } else { 1 }
        } else {
            0
        };
        let mut i = self.i + 1;
        let r = self.r;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let f = Frame { r, i }.skip_attributes();
            i = f.tok().next as usize;
            Some(f)
        })
    }

    /// An array's elements (nothing for other frames).
    pub fn elements(&self) -> impl Iterator<Item = Frame<'a>> {
        let array = matches!(self.tok().kind, Kind::Array | Kind::Push);
        self.children().filter(move |_| array)
    }

    /// A map's key/value pairs (nothing for other frames).
    pub fn pairs(&self) -> impl Iterator<Item = (Frame<'a>, Frame<'a>)> {
        let map = self.is_map();
        let mut it = self.children();
        std::iter::from_fn(move || if map { Some((it.next()?, it.next()?)) } else { None })
    }

    /// A map's value for a string key.
    pub fn get(&self, key: &str) -> Option<Frame<'a>> {
        self.pairs()
            .find(|(k, _)| k.bytes() == Some(key.as_bytes()))
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_replies_keep_their_frames_in_the_asked_order() {
        let (a, _) = Reply::parse(b"*2\r\n$3\r\nabc\r\n_\r\n").unwrap();
        let (b, _) = Reply::parse(b"-MOVED 1 h:1\r\n").unwrap();
        let (c, _) = Reply::parse(b"*1\r\n:7\r\n").unwrap();
        let m = Reply::merge(vec![a, b, c], &[(2, 0), (0, 0), (1, 0)]).unwrap();
        let f: Vec<Frame> = m.frames().collect();
        assert_eq!(f[0].elements().next().unwrap().int(), Some(7));
        let first: Vec<Frame> = f[1].elements().collect();
        assert_eq!(first[0].bytes(), Some(b"abc".as_slice()));
        assert!(first[1].is_null());
        assert_eq!(f[2].error(), Some(b"MOVED 1 h:1".as_slice()));
        assert!(Reply::merge(Vec::new(), &[(0, 0)]).is_err());
    }

    const PAGE: &[u8] =
        b"*2\r\n%2\r\n+results\r\n*1\r\n%1\r\n$5\r\nextra\r\n=8\r\ntxt:ab\r\n\r\n$7\r\nwarning\r\n~0\r\n:42\r\n";

    #[test]
    fn builds_the_tape_in_pieces() {
        for cut in 0..PAGE.len() {
            let mut t = Tape::default();
            assert!(!t.advance(&PAGE[..cut]).unwrap(), "complete at {cut}");
            assert!(t.advance(PAGE).unwrap());
            assert_eq!(t.pos, PAGE.len());
            // Byte by byte, resuming each time.
            let mut t = Tape::default();
            let done = (1..=PAGE.len())
                .map(|n| t.advance(&PAGE[..n]).unwrap())
                .collect::<Vec<_>>();
            assert_eq!(done.iter().filter(|d| **d).count(), 1);
            assert!(done[PAGE.len() - 1]);
        }
        let (reply, used) = Reply::parse(PAGE).unwrap();
        assert_eq!(used, PAGE.len());
        let mut top = reply.frame().elements();
        let page = top.next().unwrap();
        assert_eq!(top.next().and_then(|f| f.int()), Some(42));
        assert!(top.next().is_none());
        let results: Vec<_> = page.get("results").unwrap().elements().collect();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].get("extra").unwrap().bytes(), Some(&b"ab\r\n"[..]));
        assert_eq!(page.get("warning").unwrap().elements().count(), 0);
        assert!(page.get("missing").is_none());
        assert!(page.elements().next().is_none(), "a map has no array elements");
    }

    #[test]
    fn nulls_errors_numbers_and_attributes() {
        let one = |b: &[u8]| Reply::parse(b).unwrap().0;
        let r = one(b"$-1\r\n");
        assert!(r.frame().bytes().is_none() && r.frame().int().is_none());
        assert_eq!(one(b"!5\r\noops!\r\n").frame().error(), Some(&b"oops!"[..]));
        assert_eq!(one(b"-ERR bad\r\n").frame().error(), Some(&b"ERR bad"[..]));
        assert_eq!(one(b":-9223372036854775808\r\n").frame().int(), Some(i64::MIN));
        assert_eq!(one(b":123\r\n").frame().int(), Some(123));
        let (r, n) = Reply::parse(b"|1\r\n+k\r\n+v\r\n:7\r\n").unwrap();
        assert_eq!((r.frame().int(), n), (Some(7), 16));
        let r = one(b"*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n:2\r\n");
        assert_eq!(r.frame().elements().filter_map(|f| f.int()).collect::<Vec<_>>(), [1, 2]);
        let r = one(b"%0\r\n");
        assert!(r.frame().is_map() && r.frame().pairs().next().is_none());
        assert!(Reply::parse(b"?x\r\n").is_err());
        assert!(Reply::parse(b"$abc\r\n").is_err());
        assert!(Reply::parse(b":12x\r\n").is_err());
        assert!(Reply::parse(b"*1\r\n").is_err(), "truncated");
    }
}
