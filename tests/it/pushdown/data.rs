//! The tables of the pushdown differential test: awkward stored values,
//! written straight into hashes, and the SQL literals to compare them with.

use redsql::catalog::types::ColType;
use redsql::exec::index_ddl::field_args;

use super::gen::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Double,
    BigInt,
}

/// One column: stored values (raw hash strings), how often it is missing,
/// and SQL literals to compare it with.
pub struct Col {
    pub name: &'static str,
    pub kind: Kind,
    pub pool: Vec<&'static str>,
    pub missing: f64,
    pub lits: Vec<String>,
}

/// A table of the test: its name, columns (`id` is the key, `u` a unique
/// double present in every row) and whether its index may be used.
pub struct Table {
    pub name: String,
    pub cols: Vec<Col>,
    pub rows: usize,
    pub usable: bool,
}

impl Table {
    /// The FT.CREATE schema redsql's CREATE INDEX would declare.
    pub fn schema_args(&self) -> Vec<String> {
        let mut a = vec!["SCHEMA".to_string()];
        for c in &self.cols {
            a.push(c.name.to_string());
            let ty = match c.kind {
                Kind::Text => ColType::Text,
                Kind::Double => ColType::Double,
                Kind::BigInt => ColType::BigInt,
            };
            a.extend(field_args(ty).iter().map(|s| s.to_string()));
        }
        a
    }

    pub fn create_sql(&self) -> String {
        let cols: Vec<String> = self
            .cols
            .iter()
            .map(|c| {
                let ty = match c.kind {
                    Kind::Text => "text",
                    Kind::Double => "double precision",
                    Kind::BigInt => "bigint",
                };
                format!("{} {ty}", c.name)
            })
            .collect();
        format!(
            "CREATE TABLE {} (id bigint PRIMARY KEY, {})",
            self.name,
            cols.join(", ")
        )
    }

    /// Each row's field/value pairs (`u` unique and always present).
    pub fn rows(&self, rng: &mut Rng) -> Vec<Vec<(String, String)>> {
        let n = self.rows;
        (0..n)
            .map(|i| {
                let mut row = Vec::new();
                for c in &self.cols {
                    if c.name == "u" {
                        // A permutation of 0..n (37 is prime to n), as halves.
                        let u = ((i * 37) % n) as f64 * 0.5 - 20.25;
                        row.push(("u".to_string(), format!("{u}")));
                    } else if !rng.chance(c.missing) {
                        row.push((c.name.to_string(), rng.pick(&c.pool).to_string()));
                    }
                }
                row
            })
            .collect()
    }

    pub fn col(&self, name: &str) -> &Col {
        self.cols.iter().find(|c| c.name == name).expect("column")
    }
}

/// A double as a SQL literal with a decimal point: Polars SQL reads a
/// number without one as an i64 and rejects `1e300` (scan-path limitation).
pub fn float_lit(v: f64) -> String {
    let s = format!("{v:?}");
    match s.split_once('e') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
        _ => s,
    }
}

/// A SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

const TEXT_POOL: &[&str] = &[
    "Foo",
    "foo",
    "FOO",
    "  Foo  ",
    "Foo ",
    " foo",
    "a,b",
    "a",
    "b",
    "a b",
    "x|y",
    "it's",
    "back\\slash",
    "Élan",
    "élan",
    "",
    "user@example.com",
    "a-b",
    "{braces}",
    "$p0",
    "*",
    "foo*",
    "x\u{1f}y",
    "(paren)",
    "tab\tin",
];

fn text_lits(pool: &[&str]) -> Vec<String> {
    let mut l: Vec<String> = pool.iter().map(|s| quote(s)).collect();
    l.extend(
        ["zzz", "fOO", "Foo  ", "  foo", "a,", "x", "y", "Élan ", "élan", "A"]
            .iter()
            .map(|s| quote(s)),
    );
    l
}

fn lits(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The table whose index answers queries: every awkward value it can hold
/// without failing to index.
pub fn clean(name: String) -> Table {
    let d_pool = vec![
        "-1.5",
        "0",
        "-0",
        "0.1",
        "1234567.891234",
        "1e300",
        "+5",
        "05",
        "5.",
        "5",
        ".5",
        "1E2",
        "0x1A",
        "26",
        "inf",
        "100",
        "-3",
        "7",
        "2.75",
        "-0.25",
    ];
    let e_pool = vec!["1", "2", "2.5", "-2", "10", "0.5", "-1e300", "-inf", "-7.125", "3"];
    let b_pool = vec![
        "-3", "0", "1", "2", "5", "7", "10", "-100", "42", "+5", "05", "1E2", "-0",
    ];
    let big_pool = vec![
        "9007199254740993",
        "-123456789012345678",
        "9007199254740992",
        "9007199254740991",
        "1",
        "0",
        "-9007199254740993",
        "123456789012345678",
        "-5",
    ];
    let t_pool = vec!["x", "y", "Y", "", " y", "x,y"];
    Table {
        name,
        rows: 240,
        usable: true,
        cols: vec![
            Col {
                name: "s",
                kind: Kind::Text,
                lits: text_lits(TEXT_POOL),
                pool: TEXT_POOL.to_vec(),
                missing: 0.12,
            },
            Col {
                name: "t",
                kind: Kind::Text,
                lits: text_lits(&t_pool),
                pool: t_pool,
                missing: 0.2,
            },
            Col {
                name: "d",
                kind: Kind::Double,
                lits: lits(&[
                    "-1.5",
                    "0",
                    "-0",
                    "0.1",
                    "1234567.891234",
                    "1.0e300",
                    "5",
                    "0.5",
                    "100",
                    "26",
                    "-3",
                    "7",
                    "2.75",
                    "-0.25",
                    "1.0e308",
                ]),
                pool: d_pool,
                missing: 0.15,
            },
            Col {
                name: "e",
                kind: Kind::Double,
                lits: lits(&["1", "2", "2.5", "-2", "10", "0.5", "-1.0e300", "-7.125", "3", "0"]),
                pool: e_pool,
                missing: 0.3,
            },
            Col {
                name: "b",
                kind: Kind::BigInt,
                lits: lits(&["-3", "0", "1", "2", "5", "7", "10", "-100", "42", "100", "2.5"]),
                pool: b_pool,
                missing: 0.15,
            },
            Col {
                name: "big",
                kind: Kind::BigInt,
                lits: lits(&[
                    "9007199254740993",
                    "-123456789012345678",
                    "9007199254740992",
                    "9007199254740991",
                    "9007199254740994",
                    "1",
                    "0",
                    "-9007199254740993",
                    "123456789012345678",
                    "123456789012345677",
                    "-5",
                ]),
                pool: big_pool,
                missing: 0.2,
            },
            u_col(),
        ],
    }
}

/// A bigint column with fractional and huge values: RediSearch reads them,
/// redsql reads NULL, so guards must send aggregates to the scan path.
pub fn dirty(name: String) -> Table {
    let b_pool = vec!["1", "2", "5.5", "-0.5", "7", "1e300", "3", "-4", "0x10"];
    let s_pool = vec!["Foo", "foo", "a,b", "", " x "];
    Table {
        name,
        rows: 120,
        usable: true,
        cols: vec![
            Col {
                name: "s",
                kind: Kind::Text,
                lits: text_lits(&s_pool),
                pool: s_pool,
                missing: 0.15,
            },
            Col {
                name: "b",
                kind: Kind::BigInt,
                lits: lits(&["1", "2", "5", "6", "7", "3", "-4", "16", "0", "-1"]),
                pool: b_pool,
                missing: 0.15,
            },
            Col {
                name: "d",
                kind: Kind::Double,
                lits: lits(&["1.5", "-2", "0", "8"]),
                pool: vec!["1.5", "-2", "0", "8", "0.125"],
                missing: 0.2,
            },
            u_col(),
        ],
    }
}

/// Unparsable numbers: the index fails on those documents and must never
/// be used.
pub fn broken(name: String) -> Table {
    let s_pool = vec!["Foo", "foo", "bar"];
    Table {
        name,
        rows: 60,
        usable: false,
        cols: vec![
            Col {
                name: "s",
                kind: Kind::Text,
                lits: text_lits(&s_pool),
                pool: s_pool,
                missing: 0.1,
            },
            Col {
                name: "n",
                kind: Kind::Double,
                lits: lits(&["1", "2", "0", "3.5"]),
                pool: vec!["1", "2", "abc", "", "3.5", "12abc", " 7 "],
                missing: 0.1,
            },
            u_col(),
        ],
    }
}

fn u_col() -> Col {
    Col {
        name: "u",
        kind: Kind::Double,
        pool: Vec::new(),
        missing: 0.0,
        lits: lits(&["0", "-20.25", "10.5", "40", "-5", "59.75"]),
    }
}
