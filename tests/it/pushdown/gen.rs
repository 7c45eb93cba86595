//! Seeded random queries for the pushdown differential test.

use super::data::{float_lit, quote, Col, Kind, Table};

/// splitmix64: small, seedable, good enough for test generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }

    /// One of some words.
    pub fn word(&mut self, v: &[&'static str]) -> &'static str {
        v[self.below(v.len())]
    }
}

/// A generated query and how to compare its two results.
pub struct Query {
    pub sql: String,
    /// The ORDER BY fixes the order of the rows.
    pub ordered: bool,
    /// LIMIT without a total order: only the row count is comparable.
    pub count_only: bool,
}

pub struct Gen<'a> {
    pub rng: &'a mut Rng,
    pub t: &'a Table,
}

impl<'a> Gen<'a> {
    fn cols_of(&self, kinds: &[Kind]) -> Vec<&'a Col> {
        let t: &'a Table = self.t;
        t.cols.iter().filter(|c| kinds.contains(&c.kind)).collect()
    }

    fn any_col(&mut self) -> &'a Col {
        // u rarely: it is in every row and unique.
        let t: &'a Table = self.t;
        let cols: Vec<&Col> = t.cols.iter().filter(|c| c.name != "u").collect();
        if self.rng.chance(0.08) {
            return t.col("u");
        }
        let i = self.rng.below(cols.len());
        cols[i]
    }

    /// A literal for `c`: from its list, or near one for numbers.
    fn lit(&mut self, c: &Col) -> String {
        let base = self.rng.pick(&c.lits).clone();
        if c.kind == Kind::Text || !self.rng.chance(0.25) {
            return base;
        }
        match c.kind {
            Kind::BigInt => match base.parse::<i128>() {
                Ok(v) => (v + [-1i128, 1, 2][self.rng.below(3)]).to_string(),
                Err(_) => base,
            },
            _ => {
                let v: f64 = base.parse().unwrap_or(0.0);
                let near = match self.rng.below(3) {
                    0 => v + 0.5,
                    1 => v - 0.001,
                    _ => v * 1.000001,
                };
                float_lit(near)
            }
        }
    }

    /// Literals for an IN list over `c`. Polars builds the list as one
    /// Series typed by its first item, and fails on `(2, 1.5)` (a scan-path
    /// limitation, not pushdown's): doubles are all written as floats,
    /// bigints get integers only.
    fn in_list(&mut self, c: &Col) -> Vec<String> {
        let n = 1 + self.rng.below(4);
        (0..n)
            .map(|_| loop {
                let l = self.lit(c);
                match c.kind {
                    Kind::Text => break l,
                    Kind::Double => break float_lit(l.parse().unwrap_or(0.0)),
                    Kind::BigInt if l.parse::<i128>().is_ok() => break l,
                    Kind::BigInt => continue,
                }
            })
            .collect()
    }

    fn op(&mut self, kind: Kind) -> &'static str {
        if kind == Kind::Text && self.rng.chance(0.8) {
            return self.rng.word(&["=", "<>", "="]);
        }
        self.rng.word(&["=", "<>", "<", "<=", ">", ">="])
    }

    fn atom(&mut self) -> String {
        let c = self.any_col();
        let (name, kind) = (c.name, c.kind);
        match self.rng.below(14) {
            0..=5 => {
                let op = self.op(kind);
                let lit = self.lit(c);
                if self.rng.chance(0.15) {
                    let flipped = match op {
                        "<" => ">",
                        "<=" => ">=",
                        ">" => "<",
                        ">=" => "<=",
                        o => o,
                    };
                    format!("{lit} {flipped} {name}")
                } else {
                    format!("{name} {op} {lit}")
                }
            }
            6 => {
                let (lo, hi) = (self.lit(c), self.lit(c));
                let not = if self.rng.chance(0.3) { "NOT " } else { "" };
                format!("{name} {not}BETWEEN {lo} AND {hi}")
            }
            7 | 8 => {
                let items = self.in_list(c);
                let not = if self.rng.chance(0.3) { "NOT " } else { "" };
                format!("{name} {not}IN ({})", items.join(", "))
            }
            9 | 10 => {
                let not = if self.rng.chance(0.5) { "NOT " } else { "" };
                format!("{name} IS {not}NULL")
            }
            _ => self.unpushable(),
        }
    }

    /// A predicate RediSearch cannot evaluate.
    fn unpushable(&mut self) -> String {
        let texts: Vec<&'static str> = self.cols_of(&[Kind::Text]).iter().map(|c| c.name).collect();
        let nums: Vec<&'static str> = self
            .cols_of(&[Kind::Double, Kind::BigInt])
            .iter()
            .map(|c| c.name)
            .collect();
        let s = *self.rng.pick(&texts);
        let n = *self.rng.pick(&nums);
        match self.rng.below(8) {
            0 => format!("lower({s}) = 'foo'"),
            1 => format!("{s} LIKE {}", quote(self.rng.word(&["a%", "F%", "%o%", "_"]))),
            2 => format!("upper({s}) <> 'FOO'"),
            3 => format!("{n} + 1 > {}", self.rng.pick(&["0", "5", "-2.5"])),
            4 => format!("id % 3 = {}", self.rng.below(3)),
            5 => format!("id < {}", self.rng.below(self.t.rows)),
            6 => format!("abs({n}) < {}", self.rng.pick(&["1", "10", "1000"])),
            _ => format!("coalesce({n}, 0) = 0"),
        }
    }

    /// A WHERE tree of depth at most `depth`.
    fn pred(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.chance(0.4) {
            return self.atom();
        }
        match self.rng.below(5) {
            0 | 1 => format!("({} AND {})", self.pred(depth - 1), self.pred(depth - 1)),
            2 | 3 => format!("({} OR {})", self.pred(depth - 1), self.pred(depth - 1)),
            _ => format!("NOT ({})", self.pred(depth - 1)),
        }
    }

    fn where_clause(&mut self) -> String {
        match self.rng.below(10) {
            0 => String::new(),
            // Matches nothing.
            1 => format!(
                " WHERE {}",
                self.rng
                    .pick(&["u > 1.0e308", "s = 'no such value'", "u < -1000 AND u > 1000"])
            ),
            _ => format!(" WHERE {}", self.pred(3)),
        }
    }

    /// `ORDER BY` keys ending in the unique `u`.
    fn order_by(&mut self, keys: &[&str]) -> String {
        let mut parts = Vec::new();
        for _ in 0..self.rng.below(3) {
            let k = *self.rng.pick(keys);
            parts.push(format!("{k}{}", self.direction()));
        }
        parts.push(format!("u{}", self.direction()));
        format!(" ORDER BY {}", parts.join(", "))
    }

    fn direction(&mut self) -> String {
        let dir = *self.rng.pick(&["", " ASC", " DESC"]);
        let nulls = *self.rng.pick(&["", "", " NULLS FIRST", " NULLS LAST"]);
        format!("{dir}{nulls}")
    }

    fn limit(&mut self) -> String {
        let n = *self.rng.pick(&[0usize, 1, 3, 10, 50, 500]);
        match self.rng.below(4) {
            0 => format!(" LIMIT {n} OFFSET {}", self.rng.pick(&[0usize, 1, 5, 100])),
            _ => format!(" LIMIT {n}"),
        }
    }

    pub fn query(&mut self) -> Query {
        match self.rng.below(10) {
            0..=3 => self.row_query(),
            4..=7 => self.group_query(),
            _ => self.global_query(),
        }
    }

    fn row_query(&mut self) -> Query {
        let t = &self.t.name;
        let proj = if self.rng.chance(0.4) {
            "*".to_string()
        } else {
            let tbl = self.t;
            let mut cols: Vec<&str> = vec!["id"];
            cols.extend(tbl.cols.iter().filter(|_| self.rng.chance(0.6)).map(|c| c.name));
            cols.join(", ")
        };
        let w = self.where_clause();
        let keys: Vec<&str> = self.t.cols.iter().map(|c| c.name).collect();
        match self.rng.below(5) {
            0 => Query {
                sql: format!("SELECT {proj} FROM {t}{w}"),
                ordered: false,
                count_only: false,
            },
            1 => Query {
                sql: format!("SELECT {proj} FROM {t}{w}{}", self.limit()),
                ordered: false,
                count_only: true,
            },
            2 => Query {
                sql: format!("SELECT {proj} FROM {t}{w}{}", self.order_by(&keys)),
                ordered: true,
                count_only: false,
            },
            _ => Query {
                sql: format!("SELECT {proj} FROM {t}{w}{}{}", self.order_by(&keys), self.limit()),
                ordered: true,
                count_only: false,
            },
        }
    }

    /// One aggregate call.
    fn aggregate(&mut self) -> String {
        let texts: Vec<&'static str> = self.cols_of(&[Kind::Text]).iter().map(|c| c.name).collect();
        let nums: Vec<&'static str> = self
            .cols_of(&[Kind::Double, Kind::BigInt])
            .iter()
            .map(|c| c.name)
            .collect();
        let all: Vec<&'static str> = self.t.cols.iter().map(|c| c.name).collect();
        let n = *self.rng.pick(&nums);
        match self.rng.below(12) {
            0 | 1 => "count(*)".into(),
            2 => format!("count({})", self.rng.pick(&all)),
            3 | 4 => format!("sum({n})"),
            5 => format!("min({n})"),
            6 => format!("max({n})"),
            // Polars averages a bigint in f64: beyond 2^53 the result
            // depends on row order, which differs between the index and
            // SCAN whether or not anything is pushed down.
            7 | 8 if n == "big" => "avg(b)".into(),
            7 | 8 => format!("avg({n})"),
            9 => format!("count(DISTINCT {})", self.rng.pick(&texts)),
            // Not pushed down: the scan path answers.
            10 => format!("{}({})", self.rng.pick(&["min", "max"]), self.rng.pick(&texts)),
            _ => format!("count(DISTINCT {n})"),
        }
    }

    /// Distinct aggregate calls: Polars fails on the scan path on the same
    /// call twice in a global aggregate (`SELECT sum(u), count(u), sum(u)`:
    /// "height of column ... does not match"), pushdown or not.
    fn aggregates(&mut self) -> Vec<String> {
        let n = 1 + self.rng.below(4);
        let mut out: Vec<String> = Vec::new();
        for _ in 0..n {
            let a = self.aggregate();
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    fn group_query(&mut self) -> Query {
        let t = &self.t.name;
        let texts: Vec<&'static str> = self.cols_of(&[Kind::Text]).iter().map(|c| c.name).collect();
        let mut groups = vec![*self.rng.pick(&texts)];
        if texts.len() > 1 && self.rng.chance(0.3) {
            let other = texts.iter().find(|g| **g != groups[0]).copied().unwrap();
            groups.push(other);
        }
        let aggs = if self.rng.chance(0.08) {
            Vec::new()
        } else {
            self.aggregates()
        };
        let mut items: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        items.extend(aggs.iter().enumerate().map(|(i, a)| format!("{a} AS a{i}")));
        if self.rng.chance(0.3) {
            items.rotate_left(groups.len());
        }
        let w = self.where_clause();
        let gb = groups.join(", ");
        let having = if self.rng.chance(0.25) {
            let agg = self.aggregate();
            let cond = *self
                .rng
                .pick(&["> 1", ">= 0", "< 3", "IS NOT NULL", "IS NULL", "> 5.5"]);
            format!(" HAVING {agg} {cond}")
        } else {
            String::new()
        };
        let mut sql = format!("SELECT {} FROM {t}{w} GROUP BY {gb}{having}", items.join(", "));
        let ordered = self.rng.chance(0.5);
        if ordered {
            // Group keys are unique per group: a total order.
            let mut keys: Vec<String> = Vec::new();
            if !aggs.is_empty() && self.rng.chance(0.5) {
                keys.push(format!("a0{}", self.direction()));
            }
            keys.extend(groups.iter().map(|g| format!("{g}{}", self.direction())));
            sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
            if self.rng.chance(0.6) {
                sql.push_str(&self.limit());
            }
        }
        Query {
            sql,
            ordered,
            count_only: false,
        }
    }

    fn global_query(&mut self) -> Query {
        let aggs = self.aggregates();
        let w = self.where_clause();
        Query {
            sql: format!("SELECT {} FROM {}{w}", aggs.join(", "), self.t.name),
            ordered: false,
            count_only: false,
        }
    }
}
