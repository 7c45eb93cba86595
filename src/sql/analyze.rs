//! Query analysis and rewrite, on the parsed tree (never on text):
//!
//! 1. unquoted identifiers fold to lower case, as in PostgreSQL;
//! 2. table functions (`read_csv(...)` and the like) are refused;
//! 3. each relation resolves to a Redis table, a system view (`redsql.tables`)
//!    or a CTE, and is renamed to the name it is registered under;
//! 4. unaliased output columns get PostgreSQL's names (`count(*)` → `count`);
//! 5. the words of the query give the columns to fetch (projection pushdown);
//! 6. `$n` parameters get types from the columns they are compared with;
//! 7. `sum(x)` over no non-null values is NULL, as in PostgreSQL (Polars says 0).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::ControlFlow;

use pgwire::api::Type;
use sqlparser::ast::{
    BinaryOperator, Expr, Ident, ObjectName, ObjectNamePart, Query, Select, SelectItem, TableAlias, TableFactor, Visit,
    VisitMut, Visitor, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::params::placeholder_index;
use crate::catalog::pg;
use crate::catalog::system::SYSTEM_VIEWS;
use crate::error::{Error, Result};

/// What a relation in the query refers to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A Redis-backed table, by catalog name.
    Table(String),
    /// A system view such as `redsql.tables`.
    View(String),
}

impl Source {
    /// The name the relation is registered under in the Polars context.
    pub fn registered_name(&self) -> &str {
        match self {
            Source::Table(n) | Source::View(n) => n,
        }
    }
}

/// A query ready to plan: the rewritten tree plus what it needs.
#[derive(Clone, Debug)]
pub struct Analyzed {
    pub query: Query,
    pub sources: BTreeSet<Source>,
    /// Some `*` asks for every column.
    pub wildcard: bool,
    /// Every word of the query (folded like identifiers): a superset of the
    /// columns it references.
    pub words: HashSet<String>,
    /// Internal output name → name the client sees (for duplicate names).
    pub renames: HashMap<String, String>,
    /// 1-based parameter numbers found, with the column each is compared to, if any.
    pub param_columns: Vec<(usize, Option<String>, Option<Type>)>,
}

impl Analyzed {
    /// Columns of a table to fetch, given its column names.
    pub fn needed_columns<'a>(&self, columns: impl Iterator<Item = &'a str>) -> Vec<String> {
        columns
            .filter(|c| self.wildcard || self.words.contains(*c))
            .map(str::to_string)
            .collect()
    }

    /// Number of parameters (`$n` with the highest n).
    pub fn param_count(&self) -> usize {
        self.param_columns.iter().map(|(i, _, _)| *i).max().unwrap_or(0)
    }
}

/// Analyze a query. `original` is the statement's text, used only to collect
/// its words for projection pushdown.
pub fn analyze(mut query: Query, original: &str) -> Result<Analyzed> {
    let _ = VisitMut::visit(&mut query, &mut FoldIdentifiers);
    super::pg_compat::rewrite(&mut query);
    super::arrays::rewrite(&mut query);
    super::joins::rewrite(&mut query);

    let mut ctes = HashSet::new();
    let _ = query.visit(&mut CollectCtes(&mut ctes));

    let mut resolver = ResolveRelations {
        ctes: &ctes,
        sources: BTreeSet::new(),
        err: None,
    };
    let _ = VisitMut::visit(&mut query, &mut resolver);
    if let Some(e) = resolver.err {
        return Err(e);
    }

    let mut wild = FindWildcards(false);
    let _ = query.visit(&mut wild);

    let renames = super::output_names::name_outputs(&mut query);
    super::dialect::rewrite(&mut query)?;
    let _ = VisitMut::visit(&mut query, &mut SumOfNothingIsNull);

    let mut params = FindParams(Vec::new());
    let _ = query.visit(&mut params);

    Ok(Analyzed {
        query,
        sources: resolver.sources,
        wildcard: wild.0,
        words: words(original),
        renames,
        param_columns: params.0,
    })
}

fn fold(ident: &mut Ident) {
    if ident.quote_style.is_none() {
        ident.value = ident.value.to_lowercase();
    }
}

fn fold_name(name: &mut ObjectName) {
    for part in &mut name.0 {
        if let ObjectNamePart::Identifier(i) = part {
            fold(i);
        }
    }
}

struct FoldIdentifiers;

impl VisitorMut for FoldIdentifiers {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(i) => fold(i),
            Expr::CompoundIdentifier(parts) => parts.iter_mut().for_each(fold),
            Expr::Function(f) => fold_name(&mut f.name),
            _ => {}
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_relation(&mut self, name: &mut ObjectName) -> ControlFlow<()> {
        fold_name(name);
        ControlFlow::Continue(())
    }
    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        let alias = match tf {
            TableFactor::Table { alias, .. } | TableFactor::Derived { alias, .. } => alias,
            _ => return ControlFlow::Continue(()),
        };
        if let Some(a) = alias {
            fold(&mut a.name);
            a.columns.iter_mut().for_each(|c| fold(&mut c.name));
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &mut q.with {
            for cte in &mut with.cte_tables {
                fold(&mut cte.alias.name);
            }
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
        for item in &mut s.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                fold(alias);
            }
        }
        ControlFlow::Continue(())
    }
}

struct CollectCtes<'a>(&'a mut HashSet<String>);

impl Visitor for CollectCtes<'_> {
    type Break = ();
    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.0.insert(cte.alias.name.value.clone());
            }
        }
        ControlFlow::Continue(())
    }
}

struct ResolveRelations<'a> {
    ctes: &'a HashSet<String>,
    sources: BTreeSet<Source>,
    err: Option<Error>,
}

impl ResolveRelations<'_> {
    fn fail(&mut self, e: Error) -> ControlFlow<()> {
        self.err = Some(e);
        ControlFlow::Break(())
    }
}

impl VisitorMut for ResolveRelations<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        match tf {
            TableFactor::Table { name, alias, args, .. } => {
                if let (Some(_), Some(f)) = (&args, crate::exec::srf::from_function(name)) {
                    // generate_series, unnest, scalar functions: computed before the query runs.
                    *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(f))]);
                    return ControlFlow::Continue(());
                }
                if args.is_some() {
                    return self.fail(Error::Forbidden(format!(
                        "table function {name}(...) is not allowed: queries may not read server files"
                    )));
                }
                let parts: Vec<String> = name
                    .0
                    .iter()
                    .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
                    .collect();
                if parts.len() != name.0.len() {
                    return self.fail(Error::Unsupported(format!("relation name {name} is not supported")));
                }
                let source = match parts.as_slice() {
                    [one] if self.ctes.contains(one) => return ControlFlow::Continue(()),
                    // pg_catalog is searched first, as in PostgreSQL.
                    [one] if pg::is_relation("pg_catalog", one) => Source::View(format!("pg_catalog.{one}")),
                    [one] => Source::Table(one.clone()),
                    [schema, table] if pg::is_relation(schema, table) => Source::View(format!("{schema}.{table}")),
                    [schema, table] if schema == "public" => Source::Table(table.clone()),
                    [schema, table] if SYSTEM_VIEWS.contains(&format!("{schema}.{table}").as_str()) => {
                        Source::View(format!("{schema}.{table}"))
                    }
                    _ => return self.fail(Error::UndefinedTable(parts.join("."))),
                };
                if alias.is_none() && parts.len() > 1 {
                    *alias = Some(TableAlias {
                        explicit: true,
                        name: Ident::with_quote('"', parts[parts.len() - 1].clone()),
                        columns: vec![],
                        at: None,
                    });
                }
                *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::with_quote(
                    '"',
                    source.registered_name(),
                ))]);
                self.sources.insert(source);
            }
            TableFactor::Function { name, .. } => {
                return self.fail(Error::Forbidden(format!("table function {name}(...) is not allowed")));
            }
            TableFactor::TableFunction { .. } => {
                return self.fail(Error::Forbidden("table functions are not allowed".into()));
            }
            // `unnest(a)` parses as its own FROM item; it becomes the call
            // the other set-returning functions are (exec::srf).
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality,
                ..
            } if array_exprs.len() == 1 => {
                let args = sqlparser::ast::TableFunctionArgs {
                    args: vec![sqlparser::ast::FunctionArg::Unnamed(
                        sqlparser::ast::FunctionArgExpr::Expr(array_exprs.remove(0)),
                    )],
                    settings: None,
                };
                let ordinality = *with_ordinality;
                *tf = crate::sql::table_factor(Ident::new("unnest"), alias.take(), Some(args));
                if let TableFactor::Table { with_ordinality, .. } = tf {
                    *with_ordinality = ordinality;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

struct FindWildcards(bool);

impl Visitor for FindWildcards {
    type Break = ();
    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        if s.projection
            .iter()
            .any(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)))
        {
            self.0 = true;
        }
        ControlFlow::Continue(())
    }
}

/// Polars sums no values (or only NULLs) to 0; PostgreSQL gives NULL. Every
/// `sum(args)` becomes `CASE WHEN count(args) = 0 THEN NULL ELSE sum(args) END`,
/// with the same DISTINCT, FILTER and OVER. Runs after output naming, so
/// `SELECT sum(x)` is still named `sum`.
struct SumOfNothingIsNull;

impl VisitorMut for SumOfNothingIsNull {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = expr else {
            return ControlFlow::Continue(());
        };
        let is_sum = f.name.0.len() == 1 && f.name.0[0].as_ident().is_some_and(|i| i.value == "sum");
        if !is_sum {
            return ControlFlow::Continue(());
        }
        let mut count = f.clone();
        count.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("count"))]);
        let zero = Expr::Value(sqlparser::ast::Value::Number("0".into(), false).with_empty_span());
        let null = Expr::Value(sqlparser::ast::Value::Null.with_empty_span());
        let sum = std::mem::replace(expr, null.clone());
        *expr = Expr::Case {
            case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
            end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
            operand: None,
            conditions: vec![sqlparser::ast::CaseWhen {
                condition: Expr::BinaryOp {
                    left: Box::new(Expr::Function(count)),
                    op: BinaryOperator::Eq,
                    right: Box::new(zero),
                },
                result: null,
            }],
            else_result: Some(Box::new(sum)),
        };
        ControlFlow::Continue(())
    }
}

struct FindParams(Vec<(usize, Option<String>, Option<Type>)>);

fn column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
        Expr::Nested(inner) => column_name(inner),
        _ => None,
    }
}

fn cast_type(dt: &sqlparser::ast::DataType) -> Option<Type> {
    let s = dt.to_string().to_lowercase();
    Some(match s.as_str() {
        "int" | "integer" | "int4" | "bigint" | "int8" | "smallint" | "int2" => Type::INT8,
        "double precision" | "float8" | "float" | "real" | "float4" | "numeric" | "decimal" => Type::FLOAT8,
        "bool" | "boolean" => Type::BOOL,
        "date" => Type::DATE,
        "timestamp" => Type::TIMESTAMP,
        "text" | "varchar" => Type::TEXT,
        _ => return None,
    })
}

impl Visitor for FindParams {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let mut note = |p: &Expr, col: Option<String>, ty: Option<Type>| {
            if let Some(i) = placeholder_index(p) {
                self.0.push((i, col, ty));
            }
        };
        match expr {
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                note(right, column_name(left), None);
                note(left, column_name(right), None);
            }
            Expr::InList { expr, list, .. } => list.iter().for_each(|p| note(p, column_name(expr), None)),
            Expr::Between { expr, low, high, .. } => {
                note(low, column_name(expr), None);
                note(high, column_name(expr), None);
            }
            Expr::Cast { expr, data_type, .. } => note(expr, None, cast_type(data_type)),
            other => note(other, None, None),
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(sqlparser::ast::LimitClause::LimitOffset { limit, offset, .. }) = &q.limit_clause {
            if let Some(l) = limit {
                if let Some(i) = placeholder_index(l) {
                    self.0.push((i, None, Some(Type::INT8)));
                }
            }
            if let Some(o) = offset {
                if let Some(i) = placeholder_index(&o.value) {
                    self.0.push((i, None, Some(Type::INT8)));
                }
            }
        }
        ControlFlow::Continue(())
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    use BinaryOperator::*;
    matches!(
        op,
        Eq | NotEq | Lt | LtEq | Gt | GtEq | Plus | Minus | Multiply | Divide
    )
}

/// Every word token of the query, folded like identifiers.
fn words(sql: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    if let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() {
        for t in tokens {
            if let Token::Word(w) = t {
                out.insert(if w.quote_style.is_none() {
                    w.value.to_lowercase()
                } else {
                    w.value
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;

    fn run(sql: &str) -> Result<Analyzed> {
        let mut stmts = crate::sql::parse(sql).unwrap();
        let Statement::Query(q) = stmts.remove(0) else {
            panic!("not a query")
        };
        analyze(*q, sql)
    }

    #[test]
    fn resolves_tables_and_views() {
        let a = run("SELECT s.amount FROM Sale s JOIN redsql.tables ON true").unwrap();
        assert_eq!(
            a.sources.iter().cloned().collect::<Vec<_>>(),
            vec![Source::Table("sale".into()), Source::View("redsql.tables".into())]
        );
        assert_eq!(
            a.query.to_string(),
            "SELECT s.amount FROM \"sale\" s JOIN \"redsql.tables\" AS \"tables\" ON true"
        );
        assert!(!a.wildcard);
        assert!(a.words.contains("amount"));
    }

    #[test]
    fn ctes_are_not_tables() {
        let a = run("WITH x AS (SELECT * FROM sale) SELECT * FROM x").unwrap();
        assert_eq!(a.sources.len(), 1);
        assert!(a.wildcard);
    }

    #[test]
    fn table_functions_are_refused() {
        let e = run("SELECT * FROM read_csv('/etc/passwd')").unwrap_err();
        assert_eq!(e.sqlstate(), "42501");
        let e = run("SELECT * FROM other.thing").unwrap_err();
        assert_eq!(e.sqlstate(), "42P01");
    }

    #[test]
    fn outputs_get_postgres_names() {
        let a = run("SELECT count(*), max(amount), 1, region, region FROM sale").unwrap();
        assert_eq!(
            a.query.to_string(),
            "SELECT count(*) AS \"count\", max(amount) AS \"max\", 1 AS \"?column?\", region, region AS \"region\u{1}4\" FROM \"sale\""
        );
        assert_eq!(a.renames.get("region\u{1}4").map(String::as_str), Some("region"));
    }

    #[test]
    fn sum_of_nothing_is_null() {
        let a = run("SELECT sum(DISTINCT x) FILTER (WHERE y > 0) FROM t").unwrap();
        assert_eq!(
            a.query.to_string(),
            "SELECT CASE WHEN count(DISTINCT x) FILTER (WHERE y > 0) = 0 THEN NULL ELSE sum(DISTINCT x) FILTER (WHERE y > 0) END AS \"sum\" \
             FROM \"t\""
        );
        let a = run("SELECT x, sum(x) OVER (PARTITION BY y) AS w FROM t").unwrap();
        assert_eq!(
            a.query.to_string(),
            "SELECT x, CASE WHEN count(x) OVER (PARTITION BY y) = 0 THEN NULL ELSE sum(x) OVER (PARTITION BY y) END AS w FROM \"t\""
        );
    }

    #[test]
    fn parameters_take_column_types() {
        let a = run("SELECT * FROM sale WHERE id = $1 AND $2 < amount LIMIT $3").unwrap();
        assert_eq!(a.param_count(), 3);
        assert!(a.param_columns.contains(&(1, Some("id".into()), None)));
        assert!(a.param_columns.contains(&(2, Some("amount".into()), None)));
        assert!(a.param_columns.contains(&(3, None, Some(Type::INT8))));
    }
}
