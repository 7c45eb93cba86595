//! Functions in FROM: the set-returning `generate_series(start, stop[, step])`,
//! `unnest(array)`, `generate_subscripts(array, dim)` (optionally `WITH
//! ORDINALITY`) and `pg_get_keywords()`; any other function is a scalar
//! one, which gives one row (`FROM string_to_array('a,b', ',') s`).
//!
//! Polars' own table functions (`read_csv`, `read_parquet`, ...) would read
//! server files and are refused when the query is analyzed ([`file_reader`]).
//! Each call is computed before the query runs, from arguments
//! that do not depend on other tables, into a frame registered under an
//! internal name; the FROM item then reads that frame under the alias the
//! query gave (`generate_series(1, 3) AS g(n)`, `AS s`, or the function's
//! name, as PostgreSQL names the column).

use polars::prelude::*;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, ObjectName, Query, Statement, TableAlias, TableFactor,
};

use crate::error::{Error, Result};

/// More rows than this from one call is an error rather than a full memory.
const MAX_ROWS: i64 = 10_000_000;

const FUNCTIONS: &[&str] = &["generate_series", "unnest", "generate_subscripts", "pg_get_keywords"];

/// A function name's bare form (`f` or `pg_catalog.f`), lower case.
fn bare_name(name: &ObjectName) -> Option<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
        .collect();
    match parts.as_slice() {
        [f] => Some(f.clone()),
        [schema, f] if schema == "pg_catalog" => Some(f.clone()),
        _ => None,
    }
}

/// The set-returning function a table function name calls, if it is one
/// (`generate_series` or `pg_catalog.generate_series`).
pub fn srf_name(name: &ObjectName) -> Option<&'static str> {
    let bare = bare_name(name)?;
    FUNCTIONS.iter().find(|f| **f == bare).copied()
}

/// Whether a function in FROM is one of Polars' file readers (refused).
pub fn file_reader(name: &ObjectName) -> bool {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .is_some_and(|i| i.value.to_lowercase().starts_with("read_"))
}

/// The name a function in FROM is computed under: a set-returning one, or
/// any other (scalar) function by its bare name; None for a file reader or a
/// name in another schema.
pub fn from_function(name: &ObjectName) -> Option<String> {
    if file_reader(name) {
        return None;
    }
    srf_name(name).map(str::to_string).or_else(|| bare_name(name))
}

/// Whether the FROM item is a function call (computed before the query runs).
pub fn is_srf(tf: &TableFactor) -> bool {
    matches!(tf, TableFactor::Table { name, args: Some(_), .. } if from_function(name).is_some())
}

/// Computes the call in `tf` (its arguments evaluated by `run`, which runs a
/// query in the query's context) and points `tf` at `internal`, under which
/// the caller registers the returned rows.
pub fn materialize(
    tf: &mut TableFactor,
    internal: &str,
    run: impl FnOnce(&Query) -> Result<DataFrame>,
) -> Result<DataFrame> {
    let TableFactor::Table {
        name,
        alias,
        args: Some(args),
        with_ordinality,
        ..
    } = tf
    else {
        return Err(Error::Internal("not a set-returning function call".into()));
    };
    let func = from_function(name).ok_or_else(|| Error::Internal(format!("{name} is not a function in FROM")))?;
    let exprs: Vec<String> = args
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e.to_string()),
            other => Err(Error::Unsupported(format!("{func} argument {other}"))),
        })
        .collect::<Result<_>>()?;
    if func == "pg_get_keywords" {
        let alias_name = alias.as_ref().map_or(func.clone(), |a| a.name.value.clone());
        point_at(tf, internal, alias_name);
        return keywords();
    }
    let scalar = !FUNCTIONS.contains(&func.as_str());
    let select: Vec<String> = if scalar {
        // The call itself, evaluated once: its value is the one row.
        let own = crate::sql::pg_values::pg_function(&func).unwrap_or(&func);
        vec![format!("{own}({}) AS __v", exprs.join(", "))]
    } else {
        exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS __a{i}"))
            .collect()
    };
    let names_columns = args.args.iter().any(|a| {
        let mut found = false;
        let _ = sqlparser::ast::visit_expressions(a, |e| {
            found |= matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
            std::ops::ControlFlow::<()>::Continue(())
        });
        found
    });
    let query = match crate::sql::parse(&format!("SELECT {}", select.join(", ")))?.pop() {
        Some(Statement::Query(q)) => *q,
        _ => return Err(Error::Internal("SRF arguments are not a query".into())),
    };
    let values = run(&query).map_err(|e| {
        if names_columns {
            Error::Unsupported(format!("{func}(...) over columns of other FROM items (LATERAL)"))
        } else {
            e
        }
    })?;
    let values: Vec<Column> = values.columns().to_vec();
    let alias_name = alias.as_ref().map_or(func.clone(), |a| a.name.value.clone());
    let series = match func.as_str() {
        "generate_series" => generate_series(&values)?,
        "unnest" => unnest(&values)?,
        "generate_subscripts" => subscripts(&values)?,
        _ => values
            .first()
            .map(|c| c.as_materialized_series().clone())
            .ok_or_else(|| Error::Internal(format!("{func}(...) gave no value")))?,
    };
    // PostgreSQL names a single-column function's column after the alias
    // when no column names are given, else after the function.
    let col_names: Vec<String> = alias
        .as_ref()
        .map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect())
        .unwrap_or_default();
    let value_name = col_names.first().cloned().unwrap_or_else(|| alias_name.clone());
    let mut cols = vec![series.with_name(value_name.as_str().into()).into_column()];
    if *with_ordinality {
        let n = cols[0].len() as i64;
        let ord_name = col_names.get(1).cloned().unwrap_or_else(|| "ordinality".into());
        cols.push(Column::new(ord_name.as_str().into(), (1..=n).collect::<Vec<i64>>()));
    }
    let frame = DataFrame::new_infer_height(cols)?;
    point_at(tf, internal, alias_name);
    Ok(frame)
}

/// Point the FROM item at the frame registered as `internal`, under `alias`.
fn point_at(tf: &mut TableFactor, internal: &str, alias_name: String) {
    let alias = TableAlias {
        explicit: true,
        name: Ident::with_quote('"', alias_name),
        columns: vec![],
        at: None,
    };
    *tf = crate::sql::table_factor(Ident::with_quote('"', internal), Some(alias), None);
}

/// `pg_get_keywords()`: PostgreSQL 15's keywords and their categories.
fn keywords() -> Result<DataFrame> {
    let rows: Vec<(&str, &str, bool)> = include_str!("../catalog/pg/keywords.txt")
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            Some((f.next()?, f.next()?, f.next()? == "1"))
        })
        .collect();
    let catdesc = |c: &str| match c {
        "U" => "unreserved",
        "C" => "unreserved (cannot be function or type name)",
        "T" => "reserved (can be function or type name)",
        _ => "reserved",
    };
    Ok(df!(
        "word" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "catcode" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "barelabel" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "catdesc" => rows.iter().map(|r| catdesc(r.1)).collect::<Vec<_>>(),
        "baredesc" => rows.iter().map(|r| if r.2 { "can be bare label" } else { "requires AS" }).collect::<Vec<_>>(),
    )?)
}

fn int_arg(c: &Column) -> Result<Option<i64>> {
    if !c.dtype().is_integer() {
        return Err(Error::Unsupported(format!(
            "generate_series over {} (only integers)",
            crate::encode::pg_type(c.dtype()).name()
        )));
    }
    let c = c.cast(&DataType::Int64)?;
    Ok(c.i64()?.get(0))
}

/// A timestamp or interval argument in microseconds.
fn micros(c: &Column, ty: DataType) -> Result<Option<i64>> {
    Ok(c.cast(&ty)?.cast(&DataType::Int64)?.i64()?.get(0))
}

/// `generate_series(start, stop, step interval)` over dates or timestamps:
/// timestamps, as in PostgreSQL.
fn timestamp_series(args: &[Column]) -> Result<Series> {
    let us = DataType::Datetime(TimeUnit::Microseconds, None);
    let [a, b, step] = args else {
        return Err(Error::UndefinedFunction(
            "generate_series over timestamps takes a start, a stop and an interval".into(),
        ));
    };
    if !matches!(step.dtype(), DataType::Duration(_)) {
        return Err(Error::UndefinedFunction(format!(
            "generate_series step must be an interval, not {}",
            crate::encode::pg_type(step.dtype()).name()
        )));
    }
    let step_us = micros(step, DataType::Duration(TimeUnit::Microseconds))?;
    let (Some(start), Some(stop), Some(step)) = (micros(a, us.clone())?, micros(b, us.clone())?, step_us) else {
        return Ok(Series::new_empty("".into(), &us));
    };
    let values = int_series(start, stop, step)?;
    Ok(Series::new("".into(), values).cast(&us)?)
}

/// `generate_series(start, stop[, step])` over integers (or timestamps with
/// an interval step); no rows when an argument is NULL, as in PostgreSQL.
fn generate_series(args: &[Column]) -> Result<Series> {
    if args
        .first()
        .is_some_and(|a| matches!(a.dtype(), DataType::Date | DataType::Datetime(..)))
    {
        return timestamp_series(args);
    }
    let (start, stop, step) = match args {
        [a, b] => (int_arg(a)?, int_arg(b)?, Some(1)),
        [a, b, s] => (int_arg(a)?, int_arg(b)?, int_arg(s)?),
        _ => {
            return Err(Error::UndefinedFunction(
                "generate_series takes 2 or 3 arguments".into(),
            ))
        }
    };
    let (Some(start), Some(stop), Some(step)) = (start, stop, step) else {
        return Ok(Series::new_empty("".into(), &DataType::Int64));
    };
    Ok(Series::new("".into(), int_series(start, stop, step)?))
}

fn int_series(start: i64, stop: i64, step: i64) -> Result<Vec<i64>> {
    if step == 0 {
        return Err(Error::Data("22023", "step size cannot equal zero".into()));
    }
    let count = if (step > 0 && stop < start) || (step < 0 && stop > start) {
        0
    } else {
        (stop as i128 - start as i128) / step as i128 + 1
    };
    if count > MAX_ROWS as i128 {
        return Err(Error::Data(
            "54000",
            format!("generate_series would return {count} rows, more than the {MAX_ROWS} allowed"),
        ));
    }
    Ok((0..count as i64).map(|i| start + i * step).collect())
}

fn one_list(args: &[Column], func: &str) -> Result<Series> {
    let [a, ..] = args else {
        return Err(Error::UndefinedFunction(format!("{func} needs an array argument")));
    };
    match a.dtype() {
        DataType::List(_) => Ok(a.as_materialized_series().clone()),
        DataType::Null => Ok(Series::new_null("".into(), 0)),
        other => Err(Error::DatatypeMismatch(format!(
            "function {func}({}) does not exist",
            crate::encode::pg_type(other).name()
        ))),
    }
}

/// `unnest(array)`: one row per element (none for NULL).
fn unnest(args: &[Column]) -> Result<Series> {
    let list = one_list(args, "unnest")?;
    if list.is_empty() || list.null_count() == list.len() {
        return Ok(Series::new_null("".into(), 0));
    }
    Ok(list
        .list()?
        .get_as_series(0)
        .unwrap_or_else(|| Series::new_null("".into(), 0)))
}

/// `generate_subscripts(array, 1)`: 1..=length (none for NULL).
fn subscripts(args: &[Column]) -> Result<Series> {
    let list = one_list(args, "generate_subscripts")?;
    let n = if list.is_empty() || list.null_count() == list.len() {
        0
    } else {
        list.list()?.get_as_series(0).map_or(0, |s| s.len() as i64)
    };
    Ok(Series::new("".into(), (1..=n).collect::<Vec<i64>>()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::ObjectNamePart;

    fn series(args: &[i64]) -> Result<Vec<i64>> {
        let cols: Vec<Column> = args
            .iter()
            .enumerate()
            .map(|(i, v)| Column::new(format!("a{i}").into(), [*v]))
            .collect();
        let s = generate_series(&cols)?;
        Ok(s.i64().unwrap().into_no_null_iter().collect())
    }

    #[test]
    fn generate_series_as_postgresql() {
        assert_eq!(series(&[1, 3]).unwrap(), vec![1, 2, 3]);
        assert_eq!(series(&[0, 10, 4]).unwrap(), vec![0, 4, 8]);
        assert_eq!(series(&[3, 1, -1]).unwrap(), vec![3, 2, 1]);
        assert_eq!(series(&[3, 1]).unwrap(), Vec::<i64>::new());
        assert!(matches!(series(&[1, 3, 0]), Err(Error::Data("22023", _))));
        assert!(matches!(series(&[0, i64::MAX]), Err(Error::Data("54000", _))));
    }

    #[test]
    fn only_the_known_functions_are_srfs() {
        let name = |s: &str| {
            ObjectName(
                s.split('.')
                    .map(|p| ObjectNamePart::Identifier(Ident::new(p)))
                    .collect(),
            )
        };
        assert_eq!(srf_name(&name("pg_catalog.generate_series")), Some("generate_series"));
        assert_eq!(srf_name(&name("unnest")), Some("unnest"));
        assert_eq!(srf_name(&name("read_csv")), None);
        assert_eq!(srf_name(&name("public.unnest")), None);
        // Any other function is scalar; Polars' file readers never are.
        assert_eq!(
            from_function(&name("pg_catalog.string_to_array")).as_deref(),
            Some("string_to_array")
        );
        assert_eq!(from_function(&name("read_csv")), None);
        assert_eq!(from_function(&name("pg_catalog.READ_PARQUET")), None);
        assert_eq!(from_function(&name("other.f")), None);
    }

    #[test]
    fn keywords_as_postgresql_15() {
        let k = keywords().unwrap();
        assert_eq!(k.height(), 460);
        let select = k
            .column("word")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .position(|w| w == Some("select"));
        assert_eq!(
            k.column("catcode").unwrap().str().unwrap().get(select.unwrap()),
            Some("R")
        );
    }
}
