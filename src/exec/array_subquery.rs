//! `ARRAY(SELECT ...)`, which Polars SQL lacks, for the subquery resolver
//! (`exec::subquery`):
//!
//! * uncorrelated, the subquery runs once and becomes an array literal
//!   (`ARRAY['a', 'b']`; no row gives an empty array of the column's type);
//! * over the elements of an array of the outer row, `ARRAY(SELECT f(x)
//!   FROM unnest(t.a) x [WHERE p(x)] [ORDER BY ..])` (psql's `\d+` builds
//!   its table options so), it becomes `pg_array_map(t.a, '<that SELECT over
//!   the elements>', <NULL of the result type>, <outer values>...)`, which
//!   runs the SELECT once over the elements of every row (see
//!   `exec::functions`' `array` module). A NULL or empty array gives `{}`.
//!
//! Names other than the element's are the outer row's columns, qualified
//! or not, as PostgreSQL resolves them. Other correlated forms (another
//! table in FROM, aggregates, LIMIT) are refused as unsupported (0A000).

use std::ops::ControlFlow;

use polars::prelude::*;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, GroupByExpr, Ident, Query, SelectItem, SetExpr, TableFactor, TableWithJoins,
    Value, VisitMut, VisitorMut,
};

use super::subquery_sql::{is_aggregate, literal, sql_type, typed_null};
use crate::error::{Error, Result};
use crate::sql::parse_expr;

/// More elements than this in an uncorrelated ARRAY(subquery) is refused
/// (it becomes a literal in the query text).
const MAX_LITERAL: usize = 100_000;

/// The array an uncorrelated subquery's one column makes.
pub fn literal_of(df: &DataFrame) -> Result<Expr> {
    if df.width() != 1 {
        return Err(Error::Syntax("subquery must return only one column".into()));
    }
    if df.height() > MAX_LITERAL {
        return Err(Error::Unsupported(format!(
            "ARRAY(subquery) of more than {MAX_LITERAL} rows; use array_agg"
        )));
    }
    let col = &df.columns()[0];
    if df.height() == 0 {
        return match sql_type(col.dtype()) {
            Some(t) => parse_expr(&format!("CAST(ARRAY[] AS {t}[])")),
            None => parse_expr("ARRAY[]"),
        };
    }
    let elems = (0..df.height())
        .map(|i| literal(col.get(i)?, col.dtype()).map(|e| e.to_string()))
        .collect::<Result<Vec<_>>>()?;
    parse_expr(&format!("ARRAY[{}]", elems.join(", ")))
}

/// The parts of `SELECT f FROM unnest(a) [AS] t[(c)] [WHERE p] [ORDER BY ..]`.
struct Shape {
    array: Expr,
    /// How the element is named: the table alias and the column name.
    table: String,
    column: String,
}

fn shape(q: &Query) -> Result<Shape> {
    let unsupported = |why: &str| Error::Unsupported(format!("correlated ARRAY(subquery): {why}"));
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(unsupported("only a plain SELECT"));
    };
    let plain_group = matches!(&sel.group_by, GroupByExpr::Expressions(v, _) if v.is_empty());
    if q.with.is_some() || q.limit_clause.is_some() || sel.distinct.is_some() || !plain_group || sel.having.is_some() {
        return Err(unsupported("WITH, LIMIT, DISTINCT, GROUP BY or HAVING"));
    }
    let [TableWithJoins { relation, joins }] = sel.from.as_slice() else {
        return Err(unsupported("only FROM unnest(<outer array>)"));
    };
    if !joins.is_empty() {
        return Err(unsupported("only FROM unnest(<outer array>)"));
    }
    let (array, alias) = match relation {
        TableFactor::Table {
            name,
            args: Some(args),
            alias,
            with_ordinality: false,
            ..
        } if super::srf::srf_name(name) == Some("unnest") => match args.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] => (a.clone(), alias),
            _ => return Err(unsupported("unnest of one array")),
        },
        TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset: false,
            with_ordinality: false,
            ..
        } => match array_exprs.as_slice() {
            [a] => (a.clone(), alias),
            _ => return Err(unsupported("unnest of one array")),
        },
        _ => return Err(unsupported("only FROM unnest(<outer array>)")),
    };
    let table = alias.as_ref().map_or("unnest".to_string(), |a| a.name.value.clone());
    let column = match alias.as_ref().map(|a| a.columns.as_slice()) {
        Some([c]) => c.name.value.clone(),
        Some([]) | None => table.clone(),
        Some(_) => return Err(unsupported("unnest gives one column")),
    };
    Ok(Shape { array, table, column })
}

/// Renames the element to `__x` and every other column, which can only be
/// the outer row's (the subquery's FROM has the element alone, as
/// PostgreSQL resolves names), to `__o0`, `__o1`, ... (kept in `outer_values`).
struct Rename<'a> {
    shape: &'a Shape,
    outer_values: Vec<Expr>,
    err: Option<Error>,
}

impl VisitorMut for Rename<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let same = |i: &Ident, name: &str| i.value.eq_ignore_ascii_case(name);
        let new = match e {
            Expr::Identifier(i) if same(i, &self.shape.column) => Some("__x".to_string()),
            Expr::CompoundIdentifier(p) if p.len() == 2 && same(&p[0], &self.shape.table) => {
                if !same(&p[1], &self.shape.column) {
                    self.err = Some(Error::UndefinedColumn(format!(
                        "column {e} does not exist (unnest gives {}.{})",
                        self.shape.table, self.shape.column
                    )));
                    return ControlFlow::Break(());
                }
                Some("__x".to_string())
            }
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                let k = match self.outer_values.iter().position(|v| v == e) {
                    Some(k) => k,
                    None => {
                        self.outer_values.push(e.clone());
                        self.outer_values.len() - 1
                    }
                };
                Some(format!("__o{k}"))
            }
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
                self.err = Some(Error::Unsupported(
                    "ARRAY(SELECT .. FROM unnest(..)) with a subquery inside it".into(),
                ));
                return ControlFlow::Break(());
            }
            _ => None,
        };
        if let Some(name) = new {
            *e = Expr::Identifier(Ident::new(name));
        }
        ControlFlow::Continue(())
    }
}

/// Whether `q` is `SELECT .. FROM unnest(a) ..` over the outer row: `a` or
/// the rest of the subquery names a column other than the element.
pub fn maps_outer_array(q: &Query) -> bool {
    let Ok(shape) = shape(q) else { return false };
    let names_column = |e: &Expr| {
        let mut found = false;
        let _ = sqlparser::ast::visit_expressions(e, |e| {
            found |= matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
            ControlFlow::<()>::Continue(())
        });
        found
    };
    if names_column(&shape.array) {
        return true;
    }
    let mut body = q.body.clone();
    let mut rename = Rename {
        shape: &shape,
        outer_values: Vec::new(),
        err: None,
    };
    let _ = VisitMut::visit(&mut body, &mut rename);
    !rename.outer_values.is_empty()
}

/// `ARRAY(SELECT ...)` over the outer row's array ([`maps_outer_array`]) as a
/// `pg_array_map` call (see the module docs). `from` is the outer SELECT's FROM; `run` runs a query in the
/// outer query's context (to learn the array's type).
pub fn correlated(q: &Query, from: &[TableWithJoins], run: impl FnOnce(&Query) -> Result<DataFrame>) -> Result<Expr> {
    let shape = shape(q)?;
    let SetExpr::Select(sel) = q.body.as_ref() else {
        unreachable!("shape checked a SELECT")
    };
    let [SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }] = sel.projection.as_slice()
    else {
        return Err(Error::Syntax("subquery must return only one column".into()));
    };
    if is_aggregate(value) {
        return Err(Error::Unsupported(
            "correlated ARRAY(subquery) over an aggregate".into(),
        ));
    }
    let value_alias = match &sel.projection[0] {
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        _ => None,
    };
    let mut value = value.clone();
    let mut selection = sel.selection.clone();
    // ORDER BY 1 or the value's alias is the value.
    let mut order: Vec<(Option<Expr>, String)> = Vec::new();
    if let Some(ob) = &q.order_by {
        let sqlparser::ast::OrderByKind::Expressions(exprs) = &ob.kind else {
            return Err(Error::Unsupported("ORDER BY ALL in ARRAY(subquery)".into()));
        };
        for o in exprs {
            let by_value = match &o.expr {
                Expr::Value(v) => v.value == Value::Number("1".into(), false),
                Expr::Identifier(i) => value_alias.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(&i.value)),
                _ => false,
            };
            // None: the value itself (`__v`), not renamed.
            let e = (!by_value).then(|| o.expr.clone());
            let mut spec = o.clone();
            spec.expr = Expr::Identifier(Ident::new("__k"));
            order.push((e, spec.to_string().trim_start_matches("__k").to_string()));
        }
    }
    let mut rename = Rename {
        shape: &shape,
        outer_values: Vec::new(),
        err: None,
    };
    let _ = VisitMut::visit(&mut value, &mut rename);
    let _ = VisitMut::visit(&mut selection, &mut rename);
    let mut order_sql = Vec::new();
    for (e, dir) in order {
        let key = match e {
            Some(mut e) => {
                let _ = VisitMut::visit(&mut e, &mut rename);
                e.to_string()
            }
            None => "__v".to_string(),
        };
        order_sql.push(format!("{key}{dir}"));
    }
    if let Some(err) = rename.err {
        return Err(err);
    }
    let mut query = format!(
        "SELECT __row, {value} AS __v FROM {}",
        crate::exec::functions::ARRAY_MAP_ELEMENTS
    );
    if let Some(p) = &selection {
        query.push_str(&format!(" WHERE {p}"));
    }
    if !order_sql.is_empty() {
        query.push_str(&format!(" ORDER BY __row, {}", order_sql.join(", ")));
    }
    let proto = result_type(&shape.array, &rename.outer_values, from, &query, run)?;
    let mut args = vec![
        shape.array.to_string(),
        Value::SingleQuotedString(query).to_string(),
        typed_null(&proto).to_string(),
    ];
    args.extend(rename.outer_values.iter().map(ToString::to_string));
    parse_expr(&format!("pg_array_map({})", args.join(", ")))
}

/// The element type `query` gives: it runs over no elements of the types
/// the array and the outer values have in the outer FROM.
fn result_type(
    array: &Expr,
    outer_values: &[Expr],
    from: &[TableWithJoins],
    query: &str,
    run: impl FnOnce(&Query) -> Result<DataFrame>,
) -> Result<DataType> {
    let mut items = vec![format!("{array} AS __x")];
    items.extend(outer_values.iter().enumerate().map(|(k, v)| format!("{v} AS __o{k}")));
    let from: Vec<String> = from.iter().map(ToString::to_string).collect();
    let probe = format!("SELECT {} FROM {} LIMIT 0", items.join(", "), from.join(", "));
    let Some(sqlparser::ast::Statement::Query(probe)) = crate::sql::parse(&probe)?.pop() else {
        return Err(Error::Internal(format!("not a query: {probe}")));
    };
    let types = run(&probe)?;
    let mut empty = vec![Column::new_empty("__row".into(), &DataType::Int64)];
    for c in types.columns() {
        let dt = match c.dtype() {
            DataType::List(inner) if c.name() == "__x" => (**inner).clone(),
            other => other.clone(),
        };
        empty.push(Column::new_empty(c.name().clone(), &dt));
    }
    let mut ctx = super::functions::context();
    ctx.register(
        crate::exec::functions::ARRAY_MAP_ELEMENTS,
        DataFrame::new(0, empty)?.lazy(),
    );
    let out = ctx.execute(query)?.collect()?;
    Ok(out.column("__v")?.dtype().clone())
}
