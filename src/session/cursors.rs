//! SQL cursors: `DECLARE name CURSOR FOR query`, `FETCH ... FROM name`,
//! `CLOSE name | ALL` (psycopg's server-side cursors, JDBC-style batch reads).
//!
//! A cursor runs its query at DECLARE and keeps the result on the server; FETCH
//! hands out the next rows. Cursors belong to one connection. Those declared
//! WITHOUT HOLD (the default) close at COMMIT or ROLLBACK, as in PostgreSQL;
//! WITH HOLD ones live until CLOSE or the end of the session. Only forward
//! movement is supported (NEXT, FORWARD n, n, ALL, FORWARD ALL).

use std::collections::HashMap;
use std::sync::Mutex;

use polars::prelude::{DataFrame, DataType};
use sqlparser::ast::{CloseCursor, DeclareType, FetchDirection, Statement, Value};

use crate::error::{Error, Result};
use crate::exec::Planned;

/// A cursor statement, planned.
#[derive(Clone)]
pub enum CursorStmt {
    Declare {
        name: String,
        planned: Box<Planned>,
        hold: bool,
    },
    /// `count`: how many rows at most (`None`: all that are left).
    Fetch { name: String, count: Option<usize> },
    /// `None`: CLOSE ALL.
    Close(Option<String>),
}

/// What [`parse`] makes of a statement (one per statement, so the
/// variants' size difference does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// Not a cursor statement.
    Other(Statement),
    /// DECLARE: plan the query, then build the cursor with [`CursorStmt::Declare`].
    Declare {
        name: String,
        query: Box<sqlparser::ast::Query>,
        hold: bool,
    },
    Ready(CursorStmt),
}

/// Recognises DECLARE, FETCH and CLOSE.
pub fn parse(stmt: Statement) -> Result<Parsed> {
    let unsupported = |what: &str| Error::Unsupported(format!("{what} is not supported (cursors move forward only)"));
    match stmt {
        Statement::Declare { mut stmts } if stmts.len() == 1 => {
            let d = stmts.remove(0);
            let (Some(DeclareType::Cursor), Some(query), [name]) = (&d.declare_type, d.for_query, d.names.as_slice())
            else {
                return Err(Error::Unsupported(
                    "DECLARE of anything but one cursor is not supported".into(),
                ));
            };
            if d.binary == Some(true) {
                return Err(unsupported("DECLARE BINARY"));
            }
            if d.scroll == Some(true) {
                return Err(unsupported("DECLARE SCROLL"));
            }
            Ok(Parsed::Declare {
                name: crate::sql::fold_ident(name),
                query,
                hold: d.hold == Some(true),
            })
        }
        Statement::Fetch {
            name,
            direction,
            into: None,
            ..
        } => {
            let count = match &direction {
                FetchDirection::Next => Some(1),
                FetchDirection::Forward { limit: None } => Some(1),
                FetchDirection::Count { limit } | FetchDirection::Forward { limit: Some(limit) } => {
                    Some(fetch_count(&limit.value)?)
                }
                FetchDirection::All | FetchDirection::ForwardAll => None,
                other => return Err(unsupported(&format!("FETCH {other}"))),
            };
            Ok(Parsed::Ready(CursorStmt::Fetch {
                name: crate::sql::fold_ident(&name),
                count,
            }))
        }
        Statement::Close { cursor } => Ok(Parsed::Ready(CursorStmt::Close(match cursor {
            CloseCursor::All => None,
            CloseCursor::Specific { name } => Some(crate::sql::fold_ident(&name)),
        }))),
        other => Ok(Parsed::Other(other)),
    }
}

fn fetch_count(v: &Value) -> Result<usize> {
    match v {
        Value::Number(n, _) => n
            .parse::<usize>()
            .map_err(|_| Error::Unsupported(format!("FETCH {n} (a negative count moves backward)"))),
        other => Err(Error::Syntax(format!("syntax error: FETCH count {other}"))),
    }
}

/// One open cursor: the query's result and how far FETCH has read.
struct Cursor {
    frame: DataFrame,
    names: Vec<String>,
    pos: usize,
    hold: bool,
}

/// The open cursors of one connection.
#[derive(Default)]
pub struct Cursors(Mutex<HashMap<String, Cursor>>);

impl Cursors {
    /// Opens a cursor over a computed result (42P03 if the name is taken).
    pub fn declare(&self, name: &str, frame: DataFrame, names: Vec<String>, hold: bool) -> Result<()> {
        let mut map = self.0.lock().expect("cursors");
        if map.contains_key(name) {
            return Err(Error::Data("42P03", format!("cursor \"{name}\" already exists")));
        }
        map.insert(
            name.to_string(),
            Cursor {
                frame,
                names,
                pos: 0,
                hold,
            },
        );
        Ok(())
    }

    /// The next `count` rows (all that are left when `None`), with the
    /// column names; 34000 for an unknown cursor.
    pub fn fetch(&self, name: &str, count: Option<usize>) -> Result<(DataFrame, Vec<String>)> {
        let mut map = self.0.lock().expect("cursors");
        let c = map.get_mut(name).ok_or_else(|| missing(name))?;
        let left = c.frame.height() - c.pos;
        let n = count.map_or(left, |n| n.min(left));
        let rows = c.frame.slice(c.pos as i64, n);
        c.pos += n;
        Ok((rows, c.names.clone()))
    }

    /// The result columns FETCH will answer with (for Describe).
    pub fn columns(&self, name: &str) -> Result<Vec<(String, DataType)>> {
        let map = self.0.lock().expect("cursors");
        let c = map.get(name).ok_or_else(|| missing(name))?;
        Ok(c.names.iter().cloned().zip(c.frame.dtypes()).collect())
    }

    pub fn close(&self, name: Option<&str>) -> Result<()> {
        let mut map = self.0.lock().expect("cursors");
        match name {
            None => map.clear(),
            Some(n) => {
                map.remove(n).ok_or_else(|| missing(n))?;
            }
        }
        Ok(())
    }

    /// COMMIT or ROLLBACK: cursors without HOLD close.
    pub fn end_transaction(&self) {
        self.0.lock().expect("cursors").retain(|_, c| c.hold);
    }
}

fn missing(name: &str) -> Error {
    Error::Data("34000", format!("cursor \"{name}\" does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Statement {
        crate::sql::parse(sql).unwrap().remove(0)
    }

    #[test]
    fn psycopg_cursor_statements() {
        match parse(one("DECLARE \"Cur\" CURSOR WITHOUT HOLD FOR SELECT 1")).unwrap() {
            Parsed::Declare { name, hold, .. } => assert_eq!((name.as_str(), hold), ("Cur", false)),
            _ => panic!("a DECLARE"),
        }
        match parse(one("DECLARE c CURSOR WITH HOLD FOR SELECT 1")).unwrap() {
            Parsed::Declare { name, hold, .. } => assert_eq!((name.as_str(), hold), ("c", true)),
            _ => panic!("a DECLARE"),
        }
        let fetch = |sql: &str| match parse(one(sql)).unwrap() {
            Parsed::Ready(CursorStmt::Fetch { name, count }) => (name, count),
            _ => panic!("a FETCH"),
        };
        assert_eq!(fetch("FETCH FORWARD 2000 FROM \"Cur\""), ("Cur".into(), Some(2000)));
        assert_eq!(fetch("FETCH NEXT FROM c"), ("c".into(), Some(1)));
        assert_eq!(fetch("FETCH ALL IN C"), ("c".into(), None));
        assert_eq!(fetch("FETCH 5 FROM c"), ("c".into(), Some(5)));
        assert!(matches!(
            parse(one("FETCH BACKWARD 1 FROM c")),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            parse(one("CLOSE ALL")).unwrap(),
            Parsed::Ready(CursorStmt::Close(None))
        ));
    }

    #[test]
    fn fetch_moves_forward_and_close_forgets() {
        let c = Cursors::default();
        let frame = polars::df!("n" => [1i64, 2, 3]).unwrap();
        c.declare("c", frame.clone(), vec!["n".into()], false).unwrap();
        assert!(matches!(
            c.declare("c", frame, vec![], false),
            Err(Error::Data("42P03", _))
        ));
        assert_eq!(c.fetch("c", Some(2)).unwrap().0.height(), 2);
        assert_eq!(c.fetch("c", None).unwrap().0.height(), 1);
        assert_eq!(c.fetch("c", Some(5)).unwrap().0.height(), 0);
        c.end_transaction();
        assert!(matches!(c.fetch("c", Some(1)), Err(Error::Data("34000", _))));
    }
}
