//! Array functions Polars SQL lacks, with PostgreSQL's NULL rules.
//!
//! * `array_cat(a, b)` (also `a || b` over arrays, see `sql::arrays`): a NULL
//!   array on one side is ignored, so the result is NULL only when both are;
//!   a non-array side is an element, appended or prepended.
//!   `array_append(a, e)` and `array_prepend(e, a)` name the element side.
//! * `pg_array_map(a, query, proto, outer...)` computes `ARRAY(SELECT f(x)
//!   FROM unnest(a) x ...)` for every row (written by `exec::array_subquery`):
//!   the elements of all rows go into one frame `__elems(__row, __x, __o0,
//!   ...)` (the outer values repeated per element), `query` runs over it once
//!   and each row gets the values of its own `__row`, in the query's order.
//!   A NULL or empty array gives an empty one, as in PostgreSQL. `proto` is a
//!   NULL of the result's element type. `query` may read `__elems` only.

use std::ops::ControlFlow;

use polars::prelude::*;
use sqlparser::ast::{TableFactor, Visit, Visitor};

use super::{at, out_name, rows};

/// Which side of `array_cat` is an element rather than an array.
#[derive(Clone, Copy, PartialEq)]
enum Element {
    Neither,
    Left,
    Right,
}

/// The element type of an array operand, or of an element operand.
fn element_type(dt: &DataType) -> Option<DataType> {
    match dt {
        DataType::List(inner) if **inner != DataType::Null => Some((**inner).clone()),
        DataType::List(_) | DataType::Null => None,
        other => Some(other.clone()),
    }
}

/// The result type of `array_cat` and friends over these operands.
pub fn cat_type(fields: &[Field]) -> PolarsResult<DataType> {
    let inner = fields
        .iter()
        .find_map(|f| element_type(f.dtype()))
        .unwrap_or(DataType::Null);
    Ok(DataType::List(Box::new(inner)))
}

pub fn array_cat(cols: &mut [Column]) -> PolarsResult<Column> {
    concat(cols, Element::Neither)
}

pub fn array_append(cols: &mut [Column]) -> PolarsResult<Column> {
    concat(cols, Element::Right)
}

pub fn array_prepend(cols: &mut [Column]) -> PolarsResult<Column> {
    concat(cols, Element::Left)
}

fn concat(cols: &mut [Column], element: Element) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 2, ComputeError: "array concatenation takes two arguments");
    let n = rows(cols);
    let name = out_name(cols);
    let DataType::List(inner) = cat_type(&[cols[0].field().into_owned(), cols[1].field().into_owned()])? else {
        unreachable!("cat_type gives a list")
    };
    let sides: Vec<(Series, bool)> = cols
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let s = c.as_materialized_series().clone();
            let is_element = match element {
                Element::Left => k == 0,
                Element::Right => k == 1,
                Element::Neither => !matches!(s.dtype(), DataType::List(_) | DataType::Null),
            };
            (s, is_element)
        })
        .collect();
    // One side's value at row `i`: its elements, or None for a NULL array.
    let part = |(s, is_element): &(Series, bool), i: usize| -> PolarsResult<Option<Series>> {
        let i = at(i, s.len());
        if *is_element {
            return Ok(Some(s.slice(i as i64, 1).cast(&inner)?));
        }
        match s.dtype() {
            DataType::List(_) => s.list()?.get_as_series(i).map(|l| l.cast(&inner)).transpose(),
            _ => Ok(None),
        }
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match (part(&sides[0], i)?, part(&sides[1], i)?) {
            (None, None) => None,
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b),
            (Some(mut a), Some(b)) => {
                a.append(&b)?;
                Some(a)
            }
        });
    }
    let list: ListChunked = out.into_iter().collect();
    Ok(list
        .into_series()
        .cast(&DataType::List(inner))?
        .with_name(name)
        .into_column())
}

/// The result type of `pg_array_map`: an array of `proto`'s type.
pub fn map_type(fields: &[Field]) -> PolarsResult<DataType> {
    let proto = fields.get(2).map_or(DataType::Null, |f| f.dtype().clone());
    Ok(DataType::List(Box::new(proto)))
}

/// The only relation `pg_array_map`'s query may read.
pub const ELEMENTS: &str = "__elems";

/// Whether `query` reads nothing but [`ELEMENTS`] (the function is callable
/// by name, so its query text is not trusted: no table, no file reader).
fn reads_elements_only(query: &str) -> bool {
    struct Check(bool);
    impl Visitor for Check {
        type Break = ();
        fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
            let ok = match tf {
                TableFactor::Table { name, args: None, .. } => name.to_string() == ELEMENTS,
                TableFactor::Derived { .. } => true,
                _ => false,
            };
            self.0 &= ok;
            ControlFlow::Continue(())
        }
    }
    let Ok(statements) = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, query) else {
        return false;
    };
    let [sqlparser::ast::Statement::Query(_)] = statements.as_slice() else {
        return false;
    };
    let mut check = Check(true);
    let _ = statements.visit(&mut check);
    check.0
}

pub fn array_map(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len() >= 3, ComputeError: "pg_array_map takes an array, a query and a prototype");
    let n = rows(cols);
    let name = out_name(cols);
    let query = cols[1]
        .str()?
        .get(0)
        .ok_or_else(|| polars_err!(ComputeError: "pg_array_map: the query is NULL"))?
        .to_string();
    polars_ensure!(reads_elements_only(&query), ComputeError: "pg_array_map: the query may read {ELEMENTS} only");
    let proto = cols[2].dtype().clone();
    let arrays = cols[0].as_materialized_series();
    let inner = match arrays.dtype() {
        DataType::List(inner) => (**inner).clone(),
        DataType::Null => DataType::Null,
        other => polars_bail!(ComputeError: "unnest over {other}, not an array"),
    };
    let mut row_of = Vec::new();
    let mut values = Series::new_empty("__x".into(), &inner);
    if let DataType::List(_) = arrays.dtype() {
        let lists = arrays.list()?;
        for i in 0..n {
            if let Some(l) = lists.get_as_series(at(i, lists.len())) {
                row_of.extend(std::iter::repeat_n(i as IdxSize, l.len()));
                values.append(&l)?;
            }
        }
    }
    let picks = IdxCa::from_vec("".into(), row_of.clone());
    let mut frame = vec![
        Series::new("__row".into(), row_of.iter().map(|&r| r as i64).collect::<Vec<_>>()).into_column(),
        values.into_column(),
    ];
    for (k, c) in cols[3..].iter().enumerate() {
        let s = c.as_materialized_series();
        let s = if s.len() == 1 {
            s.new_from_index(0, row_of.len())
        } else {
            s.take(&picks)?
        };
        frame.push(s.with_name(format!("__o{k}").into()).into_column());
    }
    let mut ctx = super::context();
    ctx.register(ELEMENTS, DataFrame::new(row_of.len(), frame)?.lazy());
    let out = ctx.execute(&query)?.collect()?;
    polars_ensure!(out.width() == 2, ComputeError: "pg_array_map: the query must give __row and one value");
    let mut of_row: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
    for (k, r) in out.columns()[0].cast(&DataType::Int64)?.i64()?.iter().enumerate() {
        if let Some(r) = r.and_then(|r| usize::try_from(r).ok()).filter(|&r| r < n) {
            of_row[r].push(k as IdxSize);
        }
    }
    let v = out.columns()[1].as_materialized_series().cast(&proto)?;
    let mut lists = Vec::with_capacity(n);
    for picks in of_row {
        lists.push(Some(v.take(&IdxCa::from_vec("".into(), picks))?));
    }
    let list: ListChunked = lists.into_iter().collect();
    Ok(list
        .into_series()
        .cast(&DataType::List(Box::new(proto)))?
        .with_name(name)
        .into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> PolarsResult<DataFrame> {
        let mut ctx = super::super::context();
        let df = df!("a" => [Some("x"), None, Some("y")])?;
        let lists = Series::new(
            "l".into(),
            [
                Some(Series::new("".into(), ["p", "q"])),
                None,
                Some(Series::new_empty("".into(), &DataType::String)),
            ],
        );
        ctx.register("t", df.hstack(&[lists.into_column()])?.lazy());
        ctx.execute(sql)?.collect()
    }

    fn texts(c: &Column) -> Vec<Option<String>> {
        let l = c.list().unwrap();
        (0..l.len())
            .map(|i| l.get_as_series(i))
            .map(|l| {
                l.map(|l| {
                    let v: Vec<String> = l.str().unwrap().iter().map(|s| s.unwrap_or("∅").to_string()).collect();
                    v.join(",")
                })
            })
            .collect()
    }

    #[test]
    fn cat_ignores_a_null_array_and_appends_elements() {
        let df =
            run("SELECT array_cat(l, l) AS c, array_append(l, a) AS ap, array_prepend(a, l) AS pre FROM t").unwrap();
        let want = |v: [Option<&str>; 3]| v.map(|s| s.map(str::to_string)).to_vec();
        assert_eq!(texts(&df.columns()[0]), want([Some("p,q,p,q"), None, Some("")]));
        assert_eq!(texts(&df.columns()[1]), want([Some("p,q,x"), Some("∅"), Some("y")]));
        assert_eq!(texts(&df.columns()[2]), want([Some("x,p,q"), Some("∅"), Some("y")]));
    }

    #[test]
    fn map_runs_the_query_per_row_and_keeps_empty_arrays() {
        let q = "SELECT __row, 'toast.' || __x || __o0 AS __v FROM __elems WHERE __x <> 'q'";
        let q = q.replace('\'', "''");
        let df = run(&format!(
            "SELECT pg_array_map(l, '{q}', CAST(NULL AS TEXT), a) AS m FROM t"
        ))
        .unwrap();
        let want: Vec<Option<String>> = vec![Some("toast.px".into()), Some("".into()), Some("".into())];
        assert_eq!(texts(&df.columns()[0]), want);
    }

    #[test]
    fn map_reads_its_elements_only() {
        for q in [
            "SELECT __row, x FROM read_csv(''/etc/passwd'')",
            "SELECT __row, __x FROM t",
            "SELECT __row, __x FROM __elems, t",
            "DROP TABLE t",
        ] {
            let err = run(&format!("SELECT pg_array_map(l, '{q}', CAST(NULL AS TEXT)) FROM t")).unwrap_err();
            assert!(err.to_string().contains("may read __elems only"), "{q}: {err}");
        }
    }
}
