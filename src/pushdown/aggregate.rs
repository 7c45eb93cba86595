//! GROUP BY and aggregates → one `FT.AGGREGATE`, whose groups then feed the
//! rest of the query (HAVING, ORDER BY, LIMIT, expressions) in Polars.
//!
//! The query is rewritten to run over the groups frame, which replaces the
//! table under the same name: the WHERE goes (RediSearch applied it exactly),
//! each aggregate call becomes `min("__aN")` of its pre-computed value (one
//! row per group, so min is that value), and everything else is unchanged.
//!
//! Pushed only when every part is exact (`shared/docs/redisearch-semantics.md` §3, §6):
//! * the WHERE translates exactly, by the query alone or with a FILTER;
//! * GROUP BY names one text column indexed `SORTABLE UNF` (raw values; a
//!   normalised sortable value would merge `B` and `b`); never numbers, and
//!   never several columns (RediSearch hashes their concatenation, merging
//!   `('ab', 'c')` with `('a', 'bc')`);
//! * aggregates are `count(*)`, `count(col)` (a SUM of `exists(@col)`),
//!   `sum`, `min`, `max` of numeric columns, `avg` (as sum / count, never
//!   REDUCE AVG, which divides by the row count) and `count(DISTINCT text)`;
//!   a group without values gives NULL, not RediSearch's 0;
//! * every field it reads is SORTABLE (read exactly without loading the hash);
//! * bigint columns it reads are checked in the same command: a guard
//!   counts values that are not integers within ±2⁵³ (where RediSearch's
//!   doubles and redsql's integers differ), and sums must stay within ±2⁵³;
//!   if a guard trips, the query runs on the scan path instead;
//! * likewise double columns under MIN/MAX are checked for infinities:
//!   RediSearch's MIN and MAX skip them (MAX of 5 and inf is 5, of inf
//!   alone 0).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Query, SelectItem, SetExpr,
    Visit, VisitMut, Visitor, VisitorMut,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::filter::{translate, Exactness, Field, Kind, Pushed, Schema, EXACT_INT};

/// What a reducer computes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reduce {
    CountAll,
    /// Non-NULL values of a field (SUM of an `exists()` APPLY).
    Count(String),
    Sum(String),
    Min(String),
    Max(String),
    CountDistinct(String),
}

/// One output column of the FT.AGGREGATE.
#[derive(Clone, Debug)]
pub struct Reducer {
    pub name: String,
    pub reduce: Reduce,
    /// The field it reads (None for COUNT(*)).
    pub field: Option<Field>,
    /// A `Count` computed as COUNT(*) minus the rows where the field is
    /// missing (a second, cheap command, see [`AggPlan::missing_counts`])
    /// rather than an `exists()` APPLY over every row, which doubles
    /// RediSearch's work (measured 161 → 309 ms on 1M documents).
    pub via_missing: bool,
}

/// A query answered by one FT.AGGREGATE plus Polars over its groups.
#[derive(Clone, Debug)]
pub struct AggPlan {
    pub pushed: Pushed,
    /// Send the exact FILTER (the query alone is only a superset).
    pub use_filter: bool,
    pub group_by: Vec<Field>,
    pub reducers: Vec<Reducer>,
    /// Bigint fields whose values must be integral within ±2⁵³ (`__g_<alias>` outputs).
    pub guards: Vec<Field>,
    /// Double fields under MIN/MAX, which must hold no infinity among the
    /// rows aggregated (checked by [`AggPlan::infinity_checks`]).
    pub finite: Vec<Field>,
    /// The query to run in Polars over the groups frame.
    pub query: Query,
}

impl AggPlan {
    /// Arguments after `FT.AGGREGATE <index>`.
    pub fn args(&self) -> Vec<String> {
        let mut a = self
            .pushed
            .command_start(self.pushed.query_text().to_string(), self.use_filter);
        for r in self.reducers.iter().filter(|r| !r.via_missing) {
            if let (Reduce::Count(_), Some(f)) = (&r.reduce, &r.field) {
                a.extend([
                    "APPLY".into(),
                    format!("exists(@{})", f.alias),
                    "AS".into(),
                    format!("{}_e", r.name),
                ]);
            }
        }
        for g in &self.guards {
            let x = format!("@{}", g.alias);
            let dirty = format!("({x} != floor({x}) || abs({x}) >= {EXACT_INT:.0})");
            a.extend([
                "APPLY".into(),
                format!("(exists({x}) && {dirty})"),
                "AS".into(),
                guard_name(g),
            ]);
        }
        a.push("GROUPBY".into());
        a.push(self.group_by.len().to_string());
        a.extend(self.group_by.iter().map(|g| format!("@{}", g.alias)));
        for r in self.reducers.iter().filter(|r| !r.via_missing) {
            let (func, arg) = match (&r.reduce, &r.field) {
                (Reduce::CountAll, _) => ("COUNT", None),
                (Reduce::Count(_), _) => ("SUM", Some(format!("@{}_e", r.name))),
                (Reduce::Sum(_), Some(f)) => ("SUM", Some(format!("@{}", f.alias))),
                (Reduce::Min(_), Some(f)) => ("MIN", Some(format!("@{}", f.alias))),
                (Reduce::Max(_), Some(f)) => ("MAX", Some(format!("@{}", f.alias))),
                (Reduce::CountDistinct(_), Some(f)) => ("COUNT_DISTINCT", Some(format!("@{}", f.alias))),
                _ => unreachable!("reducers over a field have one"),
            };
            a.extend(["REDUCE".into(), func.into()]);
            match arg {
                Some(x) => a.extend(["1".into(), x]),
                None => a.push("0".into()),
            }
            a.extend(["AS".into(), r.name.clone()]);
        }
        for g in &self.guards {
            a.extend([
                "REDUCE".into(),
                "MAX".into(),
                "1".into(),
                format!("@{}", guard_name(g)),
                "AS".into(),
                guard_name(g),
            ]);
        }
        a
    }

    /// One command per double under MIN/MAX counting the aggregated rows
    /// where it is infinite: a numeric range lookup, far cheaper than an
    /// APPLY over every row. Any such row sends the query to the scan path.
    pub fn infinity_checks(&self) -> Vec<Vec<String>> {
        self.finite
            .iter()
            .map(|f| {
                let inf = format!("(@{0}:[-inf -inf] | @{0}:[+inf +inf])", f.alias);
                let mut a = self.pushed.command_start(self.pushed.query_and(&inf), self.use_filter);
                a.extend(["GROUPBY", "0", "REDUCE", "COUNT", "0", "AS", "__infinite"].map(String::from));
                a
            })
            .collect()
    }

    /// For each reducer counted via missing values: its name and the command
    /// counting, per group, the rows where its field is missing.
    pub fn missing_counts(&self) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for r in self.reducers.iter().filter(|r| r.via_missing) {
            let Some(f) = &r.field else { continue };
            let missing = format!("ismissing(@{})", f.alias);
            let mut a = self
                .pushed
                .command_start(self.pushed.query_and(&missing), self.use_filter);
            a.push("GROUPBY".into());
            a.push(self.group_by.len().to_string());
            a.extend(self.group_by.iter().map(|g| format!("@{}", g.alias)));
            a.extend(["REDUCE", "COUNT", "0", "AS", "__missing"].map(String::from));
            out.push((r.name.clone(), a));
        }
        out
    }

    /// The reducer computing `r`, if planned.
    pub fn reducer(&self, r: &Reduce) -> Option<&Reducer> {
        self.reducers.iter().find(|x| &x.reduce == r)
    }
}

/// The output name of a bigint field's guard.
pub fn guard_name(f: &Field) -> String {
    format!("__g_{}", f.alias)
}

/// Plan a pushed aggregate, or say why not. `query` is the bound query whose
/// only relation is the table.
pub fn plan(query: &Query, schema: &Schema) -> Result<AggPlan, String> {
    if schema.json {
        return Err("aggregates over JSON documents are not pushed down".into());
    }
    if query.with.is_some() {
        return Err("WITH".into());
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err("not a plain SELECT".into());
    };
    if select.from.len() != 1 || !select.from[0].joins.is_empty() || select.qualify.is_some() {
        return Err("not a single-table SELECT".into());
    }
    let mut shape = Shape::default();
    let _ = query.visit(&mut shape);
    if let Some(why) = shape.refused {
        return Err(why);
    }
    let GroupByExpr::Expressions(group_exprs, modifiers) = &select.group_by else {
        return Err("GROUP BY ALL".into());
    };
    if !modifiers.is_empty() {
        return Err("GROUP BY modifiers".into());
    }
    let mut group_by = Vec::new();
    for g in group_exprs {
        let f = schema
            .field_of(g)
            .filter(|f| f.kind == Kind::Text && f.exact_value())
            .ok_or_else(|| format!("GROUP BY {g} is not a text column indexed SORTABLE UNF"))?;
        group_by.push(f.clone());
    }
    // RediSearch keys a group by one hash chained over the GROUPBY values,
    // with nothing between them: ('ab', 'c') and ('a', 'bc') land in one
    // group, and so do ('', NULL) and (NULL, ''). One column only.
    if group_by.len() > 1 {
        return Err("GROUP BY over several columns (RediSearch merges groups whose values concatenate alike)".into());
    }

    let pushed = translate(select.selection.as_ref(), schema);
    let use_filter = pushed.exactness == Exactness::Superset;
    let exactness = if use_filter {
        pushed.filter_exactness
    } else {
        pushed.exactness
    };
    if exactness == Exactness::Superset {
        return Err("the WHERE clause has no exact RediSearch translation".into());
    }

    let mut rewrite = Rewrite {
        schema,
        reducers: BTreeMap::new(),
        err: None,
        calls: 0,
    };
    let mut rewritten = query.clone();
    if let SetExpr::Select(s) = rewritten.body.as_mut() {
        s.selection = None;
    }
    let _ = VisitMut::visit(&mut rewritten, &mut rewrite);
    if let Some(e) = rewrite.err {
        return Err(e);
    }
    if rewrite.calls == 0 && group_by.is_empty() {
        return Err("no aggregates".into());
    }
    // Whatever still names a column must be a group column or an output name.
    let mut outputs: Vec<String> = group_by.iter().map(|f| f.column.clone()).collect();
    if let SetExpr::Select(s) = rewritten.body.as_ref() {
        outputs.extend(s.projection.iter().filter_map(|i| match i {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        }));
    }
    let mut names = Names(Vec::new());
    let _ = rewritten.visit(&mut names);
    if let Some(n) = names.0.iter().find(|n| !n.starts_with("__") && !outputs.contains(n)) {
        return Err(format!("column {n} is used outside a pushed aggregate"));
    }

    if rewrite.reducers.values().any(|r| r.via_missing) {
        rewrite.col(Reduce::CountAll, None);
    }
    let reducers: Vec<Reducer> = rewrite.reducers.into_values().collect();
    let mut guards: Vec<Field> = Vec::new();
    let mut guard = |f: &Field| {
        if f.kind == Kind::BigInt && !guards.iter().any(|g| g.column == f.column) {
            guards.push(f.clone());
        }
    };
    if exactness == Exactness::IfClean {
        pushed
            .columns
            .iter()
            .filter_map(|c| schema.fields.get(c))
            .for_each(&mut guard);
    }
    reducers.iter().filter_map(|r| r.field.as_ref()).for_each(&mut guard);
    // RediSearch's MIN and MAX skip infinities: check the doubles they read.
    let mut finite: Vec<Field> = Vec::new();
    for r in &reducers {
        if let (Reduce::Min(_) | Reduce::Max(_), Some(f)) = (&r.reduce, &r.field) {
            if f.kind == Kind::Double && !finite.iter().any(|g| g.column == f.column) {
                finite.push(f.clone());
            }
        }
    }
    Ok(AggPlan {
        pushed,
        use_filter,
        group_by,
        reducers,
        guards,
        finite,
        query: rewritten,
    })
}

/// Refuses subqueries, window functions and FILTER/ORDER BY inside aggregates.
#[derive(Default)]
struct Shape {
    refused: Option<String>,
}

impl Visitor for Shape {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        let why = match e {
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => "a subquery",
            Expr::Function(f) if f.over.is_some() => "a window function",
            Expr::Function(f) if f.filter.is_some() || !f.within_group.is_empty() => "an aggregate FILTER",
            _ => return ControlFlow::Continue(()),
        };
        self.refused = Some(format!("the query has {why}"));
        ControlFlow::Break(())
    }
}

/// Column names still referenced (identifiers, and the last part of compound ones).
struct Names(Vec<String>);

impl Visitor for Names {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Identifier(i) => self.0.push(i.value.clone()),
            Expr::CompoundIdentifier(p) => self.0.extend(p.last().map(|i| i.value.clone())),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

struct Rewrite<'a> {
    schema: &'a Schema,
    reducers: BTreeMap<Reduce, Reducer>,
    err: Option<String>,
    calls: usize,
}

impl Rewrite<'_> {
    /// The output column of a reducer (added once).
    fn col(&mut self, reduce: Reduce, field: Option<&Field>) -> String {
        let n = self.reducers.len();
        self.reducers
            .entry(reduce.clone())
            .or_insert_with(|| Reducer {
                name: format!("__a{n}"),
                via_missing: matches!(reduce, Reduce::Count(_))
                    && field.is_some_and(|f| f.attr.index_missing && !self.schema.json),
                reduce,
                field: field.cloned(),
            })
            .name
            .clone()
    }

    /// A bigint sum is exact while every partial sum stays within ±2⁵³: the
    /// count, min and max it needs to check that.
    fn bound_sum(&mut self, field: &Field) {
        if field.kind == Kind::BigInt {
            let c = &field.column;
            self.col(Reduce::Count(c.clone()), Some(field));
            self.col(Reduce::Min(c.clone()), Some(field));
            self.col(Reduce::Max(c.clone()), Some(field));
        }
    }

    fn replace(&mut self, f: &sqlparser::ast::Function) -> Result<Option<String>, String> {
        let name = match f.name.0.as_slice() {
            [p] => p.as_ident().map(|i| i.value.to_lowercase()).unwrap_or_default(),
            _ => return Ok(None),
        };
        if !matches!(name.as_str(), "count" | "sum" | "min" | "max" | "avg") {
            return Ok(None);
        }
        let FunctionArguments::List(list) = &f.args else {
            return Err(format!("{name} without arguments"));
        };
        if !list.clauses.is_empty() || f.null_treatment.is_some() {
            return Err(format!("{name} with clauses"));
        }
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        let arg = match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if name == "count" && !distinct => {
                return Ok(Some(format!("min(\"{}\")", self.col(Reduce::CountAll, None))));
            }
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => e,
            _ => return Err(format!("{name} of that argument")),
        };
        let field = self
            .schema
            .field_of(arg)
            .filter(|f| f.exact_value())
            .cloned()
            .ok_or_else(|| format!("{name}({arg}): not a column indexed SORTABLE"))?;
        let c = &field.column;
        let numeric = field.kind != Kind::Text;
        let count = |me: &mut Self| me.col(Reduce::Count(c.clone()), Some(&field));
        let sql = match (name.as_str(), distinct) {
            ("count", false) => format!("min(\"{}\")", count(self)),
            ("count", true) if self.schema.cluster => {
                return Err(format!(
                    "count(DISTINCT {c}) is not pushed down on a Redis Cluster: \
                     a value on two masters would be counted twice"
                ))
            }
            ("count", true) if field.kind == Kind::Text => {
                format!("min(\"{}\")", self.col(Reduce::CountDistinct(c.clone()), Some(&field)))
            }
            ("sum", false) if numeric => {
                self.bound_sum(&field);
                format!("min(\"{}\")", self.col(Reduce::Sum(c.clone()), Some(&field)))
            }
            ("min" | "max", false) if numeric => {
                let n = count(self);
                let r = if name == "min" {
                    Reduce::Min(c.clone())
                } else {
                    Reduce::Max(c.clone())
                };
                let v = self.col(r, Some(&field));
                format!("CASE WHEN min(\"{n}\") = 0 THEN NULL ELSE min(\"{v}\") END")
            }
            ("avg", false) if numeric => {
                self.bound_sum(&field);
                let n = count(self);
                let s = self.col(Reduce::Sum(c.clone()), Some(&field));
                format!("CASE WHEN min(\"{n}\") = 0 THEN NULL ELSE CAST(min(\"{s}\") AS DOUBLE PRECISION) / min(\"{n}\") END")
            }
            _ => {
                return Err(format!(
                    "{}{name}({c}) is not pushed down",
                    if distinct { "DISTINCT " } else { "" }
                ))
            }
        };
        Ok(Some(sql))
    }
}

impl VisitorMut for Rewrite<'_> {
    type Break = ();
    // Post-order: a replacement is never visited again.
    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        match self.replace(f) {
            Ok(None) => ControlFlow::Continue(()),
            Ok(Some(sql)) => {
                self.calls += 1;
                match Parser::new(&GenericDialect {})
                    .try_with_sql(&sql)
                    .and_then(|mut p| p.parse_expr())
                {
                    Ok(new) => {
                        *e = new;
                        ControlFlow::Continue(())
                    }
                    Err(err) => {
                        self.err = Some(format!("internal rewrite {sql}: {err}"));
                        ControlFlow::Break(())
                    }
                }
            }
            Err(why) => {
                self.err = Some(why);
                ControlFlow::Break(())
            }
        }
    }
}
