//! WHERE → RediSearch: a query string (with PARAMS) that returns at least
//! every row the SQL predicate accepts, and, where it can be written, an
//! exact `FILTER` expression.
//!
//! The predicate is first put in negation normal form (NOT pushed down to the
//! comparisons, which is sound in SQL's three-valued logic), then each
//! comparison is translated with the null-safe forms measured in
//! `shared/docs/redisearch-semantics.md` §6:
//!
//! | SQL                     | query                               | exact?             |
//! |-------------------------|-------------------------------------|--------------------|
//! | `n = c` (double)        | `@n:[$p $p]`                        | yes                |
//! | `n < c`, `<=`, `>`, `>=`| `@n:[-inf ($p]`, … (bracket in text)| yes                |
//! | `n <> c`                | `(@n:[-inf ($p] \| @n:[($p +inf])`  | yes                |
//! | `n = c` (bigint)        | same, `c` within ±2⁵³               | if values are clean|
//! | `s = 'v'` (TAG)         | `@s:{$p}`                           | superset (trimming)|
//! | `s <> 'v'`              | `-ismissing(@s)`                    | superset           |
//! | `x IS NULL`             | `ismissing(@x)` (INDEXMISSING)      | yes (not bigint)   |
//! | `x IS NOT NULL`         | `-ismissing(@s)` / `@n:[-inf +inf]` | yes                |
//!
//! Text is never exact in the query (RediSearch trims tag values and splits
//! them on the separator), so text comparisons also get a `FILTER`
//! expression on the raw sortable value (`SORTABLE UNF` only), guarded with
//! `exists()` because a missing value in FILTER truncates the output. A
//! predicate that cannot be translated is left out of an AND (the query is
//! then a superset) and makes an OR untranslatable. Rows fetched with a
//! superset query are re-checked by the full WHERE in Polars.
//!
//! No negation (`-x`) inside an OR: RediSearch 2.10 drops matching rows
//! from `(a (b | (c -d)))` (a NOT under a union under an intersection; found
//! by the differential test, tests/it/pushdown.rs). Numbers need no NOT
//! (`<>` is two open ranges); an OR with a `-ismissing()` branch has no
//! query part (its FILTER stays exact).
//!
//! "If values are clean": a bigint column is read by redsql as an integer,
//! by RediSearch as a double; they agree when every value is integral and
//! within ±2⁵³, which an aggregate checks in the same command (see
//! [`super::aggregate`]).

use std::collections::{BTreeSet, HashMap};

use sqlparser::ast::{BinaryOperator, DataType, Expr, UnaryOperator, Value};

pub use super::pushed::Pushed;
use crate::catalog::index::{AttrType, Attribute, IndexInfo};
use crate::catalog::{ColType, TableInfo, STORAGE_JSON};

/// Integers beyond this are not exact as doubles.
pub const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// How faithfully a pushed query (or filter) matches the SQL predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exactness {
    /// Returns every row the predicate accepts, perhaps more.
    Superset,
    /// Exact if the bigint columns it reads hold only integers within ±2⁵³.
    IfClean,
    Exact,
}

/// The kind of column an attribute can search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    BigInt,
    Double,
}

/// A column the index can search.
#[derive(Clone, Debug)]
pub struct Field {
    pub column: String,
    pub alias: String,
    pub kind: Kind,
    pub attr: Attribute,
}

impl Field {
    /// Whether FILTER/APPLY expressions can read this field's exact value
    /// without loading the hash (a sortable value, not normalised).
    pub fn exact_value(&self) -> bool {
        self.attr.sortable && (self.kind != Kind::Text || self.attr.unf)
    }
}

/// The searchable columns of one table under one index.
#[derive(Clone, Debug)]
pub struct Schema {
    pub fields: HashMap<String, Field>,
    pub json: bool,
    /// The index is on a Redis Cluster, in parts (one per master) whose
    /// answers are merged: only what merges exactly is pushed, and row
    /// fetches ask for keys with FT.SEARCH (no FILTER, one sort key; see
    /// [`IndexInfo::on_cluster`]).
    pub cluster: bool,
    /// Some key of the database has a TTL: every command opens the keys it
    /// matches and keeps only those still there (see [`Pushed::live_only`]).
    pub live_only: bool,
}

impl Schema {
    pub fn new(table: &TableInfo, index: &IndexInfo) -> Schema {
        let mut fields = HashMap::new();
        for c in &table.columns {
            let Some(attr) = index.attribute(&c.name) else { continue };
            let kind = match (c.ty, &attr.ty) {
                (ColType::Text, AttrType::Tag) => Kind::Text,
                (ColType::BigInt, AttrType::Numeric) => Kind::BigInt,
                (ColType::Double, AttrType::Numeric) => Kind::Double,
                _ => continue,
            };
            if !is_plain_name(&attr.alias) {
                continue;
            }
            fields.insert(
                c.name.clone(),
                Field {
                    column: c.name.clone(),
                    alias: attr.alias.clone(),
                    kind,
                    attr: attr.clone(),
                },
            );
        }
        Schema {
            fields,
            json: table.storage == STORAGE_JSON,
            cluster: index.on_cluster,
            live_only: false,
        }
    }

    /// The field a column expression names (`x` or `t.x`).
    pub fn field_of(&self, e: &Expr) -> Option<&Field> {
        match e {
            Expr::Identifier(i) => self.fields.get(&i.value),
            Expr::CompoundIdentifier(p) if p.len() == 2 => self.fields.get(&p[1].value),
            Expr::Nested(inner) => self.field_of(inner),
            _ => None,
        }
    }
}

/// Names usable as `@name` in queries and expressions without escaping.
fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A literal compared with a column.
#[derive(Clone, Debug)]
enum Lit {
    /// A number; `int` when written as an integer.
    Num {
        f: f64,
        int: Option<i64>,
    },
    Str(String),
}

fn literal(e: &Expr) -> Option<Lit> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(s, _) => {
                let f: f64 = s.parse().ok().filter(|f: &f64| f.is_finite())?;
                Some(Lit::Num { f, int: s.parse().ok() })
            }
            Value::SingleQuotedString(s) => Some(Lit::Str(s.clone())),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            Lit::Num { f, int } => Some(Lit::Num {
                f: -f,
                int: int.and_then(i64::checked_neg),
            }),
            Lit::Str(_) => None,
        },
        Expr::Nested(inner) => literal(inner),
        // How parameters bind doubles: CAST(1.5 AS DOUBLE PRECISION).
        Expr::Cast {
            expr,
            data_type: DataType::DoublePrecision | DataType::Float8 | DataType::Double(_),
            ..
        } => match literal(expr)? {
            Lit::Num { f, .. } => Some(Lit::Num { f, int: None }),
            Lit::Str(_) => None,
        },
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn of(op: &BinaryOperator) -> Option<Op> {
        Some(match op {
            BinaryOperator::Eq => Op::Eq,
            BinaryOperator::NotEq => Op::Ne,
            BinaryOperator::Lt => Op::Lt,
            BinaryOperator::LtEq => Op::Le,
            BinaryOperator::Gt => Op::Gt,
            BinaryOperator::GtEq => Op::Ge,
            _ => return None,
        })
    }
    /// `c op x` as `x op' c`.
    fn flip(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            o => o,
        }
    }
    /// NOT (x op c), for non-NULL x.
    fn negate(self) -> Op {
        match self {
            Op::Eq => Op::Ne,
            Op::Ne => Op::Eq,
            Op::Lt => Op::Ge,
            Op::Le => Op::Gt,
            Op::Gt => Op::Le,
            Op::Ge => Op::Lt,
        }
    }
    fn expr(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// Translate a WHERE clause (None: no WHERE).
pub fn translate(selection: Option<&Expr>, schema: &Schema) -> Pushed {
    let mut t = Translator {
        schema,
        params: Vec::new(),
    };
    let node = match selection {
        Some(e) => t.node(e, false),
        None => Node::all(),
    };
    Pushed {
        query: node.query,
        exactness: node.exact,
        filter: node.filter,
        filter_exactness: node.filter_exact,
        params: t.params,
        columns: node.columns,
        live_only: schema.live_only,
    }
}

#[derive(Clone, Debug)]
struct Node {
    query: Option<String>,
    exact: Exactness,
    filter: Option<String>,
    filter_exact: Exactness,
    columns: BTreeSet<String>,
}

impl Node {
    fn all() -> Node {
        Node {
            query: None,
            exact: Exactness::Exact,
            filter: None,
            filter_exact: Exactness::Exact,
            columns: BTreeSet::new(),
        }
    }
    fn unknown() -> Node {
        Node {
            query: None,
            exact: Exactness::Superset,
            filter: None,
            filter_exact: Exactness::Superset,
            columns: BTreeSet::new(),
        }
    }
    fn atom(field: &Field, query: Option<String>, exact: Exactness, filter: Option<String>) -> Node {
        let clean = if field.kind == Kind::BigInt {
            Exactness::IfClean
        } else {
            Exactness::Exact
        };
        let filter = filter.filter(|_| field.exact_value());
        Node {
            exact: if query.is_some() {
                exact.min(clean)
            } else {
                Exactness::Superset
            },
            filter_exact: if filter.is_some() { clean } else { Exactness::Superset },
            query,
            filter,
            columns: [field.column.clone()].into(),
        }
    }
}

struct Translator<'a> {
    schema: &'a Schema,
    params: Vec<(String, String)>,
}

impl Translator<'_> {
    fn param(&mut self, value: String) -> String {
        let name = format!("p{}", self.params.len());
        self.params.push((name.clone(), value));
        format!("${name}")
    }

    fn node(&mut self, e: &Expr, neg: bool) -> Node {
        match e {
            Expr::Nested(inner) => self.node(inner, neg),
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr,
            } => self.node(expr, !neg),
            Expr::BinaryOp { left, op, right } if matches!(op, BinaryOperator::And | BinaryOperator::Or) => {
                if matches!(op, BinaryOperator::And) != neg {
                    let mut parts = Vec::new();
                    conjuncts(e, neg, &mut parts);
                    self.conjunction(&parts)
                } else {
                    or(vec![self.node(left, neg), self.node(right, neg)])
                }
            }
            Expr::BinaryOp { left, op, right } => {
                let Some(op) = Op::of(op) else { return Node::unknown() };
                let op = if neg { op.negate() } else { op };
                if let (Some(f), Some(lit)) = (self.schema.field_of(left), literal(right)) {
                    return self.compare(&f.clone(), op, &lit);
                }
                if let (Some(lit), Some(f)) = (literal(left), self.schema.field_of(right)) {
                    return self.compare(&f.clone(), op.flip(), &lit);
                }
                Node::unknown()
            }
            Expr::IsNull(x) | Expr::IsNotNull(x) => {
                let Some(f) = self.schema.field_of(x).cloned() else {
                    return Node::unknown();
                };
                self.null_test(&f, matches!(e, Expr::IsNull(_)) != neg)
            }
            Expr::InList { expr, list, negated } => {
                let Some(f) = self.schema.field_of(expr).cloned() else {
                    return Node::unknown();
                };
                let Some(lits) = list.iter().map(literal).collect::<Option<Vec<_>>>() else {
                    return Node::unknown();
                };
                if lits.is_empty() {
                    return Node::unknown();
                }
                if *negated != neg {
                    and(lits.iter().map(|l| self.compare(&f, Op::Ne, l)).collect())
                } else {
                    or(lits.iter().map(|l| self.compare(&f, Op::Eq, l)).collect())
                }
            }
            Expr::Between { negated, .. } if *negated == neg => match self.range_atom(e, neg) {
                Some((f, lo, hi)) => self.range(&f, lo, hi),
                None => Node::unknown(),
            },
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (Some(f), Some(lo), Some(hi)) = (self.schema.field_of(expr).cloned(), literal(low), literal(high))
                else {
                    return Node::unknown();
                };
                if *negated != neg {
                    or(vec![self.compare(&f, Op::Lt, &lo), self.compare(&f, Op::Gt, &hi)])
                } else {
                    and(vec![self.compare(&f, Op::Ge, &lo), self.compare(&f, Op::Le, &hi)])
                }
            }
            _ => Node::unknown(),
        }
    }

    fn compare(&mut self, f: &Field, op: Op, lit: &Lit) -> Node {
        match (f.kind, lit) {
            (Kind::Text, Lit::Str(s)) => self.compare_text(f, op, s),
            (Kind::Double, Lit::Num { f: c, .. }) => self.compare_number(f, op, *c, Exactness::Exact),
            (Kind::BigInt, Lit::Num { f: c, int: Some(_) }) => {
                let exact = if c.abs() < EXACT_INT {
                    Exactness::Exact
                } else {
                    Exactness::Superset
                };
                self.compare_number(f, op, *c, exact)
            }
            _ => Node::unknown(),
        }
    }

    fn compare_number(&mut self, f: &Field, op: Op, c: f64, exact: Exactness) -> Node {
        let a = &f.alias;
        let p = self.param(fmt_num(c));
        let query = if exact == Exactness::Exact {
            match op {
                Op::Eq => format!("@{a}:[{p} {p}]"),
                Op::Ne => format!("(@{a}:[-inf ({p}] | @{a}:[({p} +inf])"),
                Op::Lt => format!("@{a}:[-inf ({p}]"),
                Op::Le => format!("@{a}:[-inf {p}]"),
                Op::Gt => format!("@{a}:[({p} +inf]"),
                Op::Ge => format!("@{a}:[{p} +inf]"),
            }
        } else {
            // Beyond ±2⁵³ the double of an integer is shared by its
            // neighbours: widen to inclusive bounds (a superset).
            match op {
                Op::Eq => format!("@{a}:[{p} {p}]"),
                Op::Ne => format!("@{a}:[-inf +inf]"),
                Op::Lt | Op::Le => format!("@{a}:[-inf {p}]"),
                Op::Gt | Op::Ge => format!("@{a}:[{p} +inf]"),
            }
        };
        let filter =
            (exact == Exactness::Exact).then(|| format!("(exists(@{a}) && @{a} {} {})", op.expr(), fmt_num(c)));
        if self.schema.json {
            return Node::atom(f, Some(query), Exactness::Superset, None);
        }
        Node::atom(f, Some(query), exact, filter)
    }

    fn compare_text(&mut self, f: &Field, op: Op, s: &str) -> Node {
        let a = &f.alias;
        let filter = format!("(exists(@{a}) && @{a} {} '{}')", op.expr(), escape_expr_string(s));
        let (query, filter) = match op {
            Op::Eq if tag_literal_ok(s, &f.attr, self.schema.json) => {
                let p = self.param(s.to_string());
                (Some(format!("@{a}:{{{p}}}")), Some(filter))
            }
            Op::Eq => (None, Some(filter)),
            Op::Ne if f.attr.index_missing => (Some(format!("-ismissing(@{a})")), Some(filter)),
            Op::Ne => (None, Some(filter)),
            _ => return Node::unknown(),
        };
        let filter = if self.schema.json { None } else { filter };
        Node::atom(f, query, Exactness::Superset, filter)
    }

    fn null_test(&mut self, f: &Field, is_null: bool) -> Node {
        let a = &f.alias;
        if self.schema.json {
            // JSON null is neither missing nor a value: only IS NOT NULL has
            // a superset (every document with the path).
            return if is_null || !f.attr.index_missing {
                Node::unknown()
            } else {
                Node::atom(f, Some(format!("-ismissing(@{a})")), Exactness::Superset, None)
            };
        }
        if is_null {
            // A bigint value redsql cannot read is NULL to SQL but present to
            // RediSearch, which would leave that row out: not translatable.
            if f.kind == Kind::BigInt || !f.attr.index_missing {
                return Node::unknown();
            }
            return Node::atom(
                f,
                Some(format!("ismissing(@{a})")),
                Exactness::Exact,
                Some(format!("!exists(@{a})")),
            );
        }
        let query = match f.kind {
            Kind::Text if f.attr.index_missing => Some(format!("-ismissing(@{a})")),
            Kind::Text => None,
            Kind::BigInt | Kind::Double => Some(format!("@{a}:[-inf +inf]")),
        };
        Node::atom(f, query, Exactness::Exact, Some(format!("exists(@{a})")))
    }
}

/// The conjuncts of an AND (or of a negated OR), with their negation.
fn conjuncts<'e>(e: &'e Expr, neg: bool, out: &mut Vec<(&'e Expr, bool)>) {
    match e {
        Expr::Nested(inner) => conjuncts(inner, neg, out),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => conjuncts(expr, !neg, out),
        Expr::BinaryOp { left, op, right }
            if (matches!(op, BinaryOperator::And) && !neg) || (matches!(op, BinaryOperator::Or) && neg) =>
        {
            conjuncts(left, neg, out);
            conjuncts(right, neg, out);
        }
        _ => out.push((e, neg)),
    }
}

fn and(children: Vec<Node>) -> Node {
    let mut out = Node::all();
    let mut parts = Vec::new();
    let mut filters = Vec::new();
    let mut filter_ok = true;
    for c in children {
        match c.query {
            Some(q) => parts.push(q),
            None => out.exact = Exactness::Superset,
        }
        out.exact = out.exact.min(c.exact);
        match c.filter {
            Some(f) => filters.push(f),
            None => filter_ok = false,
        }
        out.filter_exact = out.filter_exact.min(c.filter_exact);
        out.columns.extend(c.columns);
    }
    out.query = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(format!("({})", parts.join(" "))),
    };
    out.filter = match filters.len() {
        _ if !filter_ok => None,
        0 => None,
        1 => filters.pop(),
        _ => Some(format!("({})", filters.join(" && "))),
    };
    if out.filter.is_none() {
        out.filter_exact = Exactness::Superset;
    }
    out
}

fn or(children: Vec<Node>) -> Node {
    let mut out = Node::all();
    let mut parts = Vec::new();
    let mut filters = Vec::new();
    let (mut query_ok, mut filter_ok) = (true, true);
    for c in children {
        match c.query {
            // A NOT under a union loses rows in RediSearch (see the module docs).
            Some(q) if !q.contains(NEGATION) => parts.push(q),
            _ => query_ok = false,
        }
        out.exact = out.exact.min(c.exact);
        match c.filter {
            Some(f) => filters.push(f),
            None => filter_ok = false,
        }
        out.filter_exact = out.filter_exact.min(c.filter_exact);
        out.columns.extend(c.columns);
    }
    out.query = query_ok.then(|| format!("({})", parts.join(" | ")));
    if !query_ok {
        out.exact = Exactness::Superset;
    }
    out.filter = filter_ok.then(|| format!("({})", filters.join(" || ")));
    if !filter_ok {
        out.filter_exact = Exactness::Superset;
    }
    out
}

/// The only negation queries contain (numbers are written without NOT).
const NEGATION: &str = "-ismissing(";

/// A tag literal RediSearch can look up: not empty, no outer whitespace
/// (trimmed when indexed), no separator character (values are split on it).
fn tag_literal_ok(s: &str, attr: &Attribute, json: bool) -> bool {
    let sep = attr.separator.as_deref().unwrap_or(",");
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_whitespace())
        && !s.ends_with(|c: char| c.is_ascii_whitespace())
        && (json || sep.is_empty() || !s.contains(sep))
}

/// A number as RediSearch parses it back to the same double.
pub fn fmt_num(f: f64) -> String {
    format!("{f:?}")
}

/// A string literal inside a FILTER/APPLY expression ('...' with backslash escapes).
pub fn escape_expr_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// Numeric bounds ANDed on one field, merged into one range.
#[path = "range.rs"]
mod range;

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
