//! PostgreSQL functions and operators Polars SQL lacks or computes
//! differently, registered with every query's Polars context as UDFs.
//!
//! The SQL rewrite (`sql::dialect`) turns `a / b` into `pg_div(a, b)` and
//! `a % b` into `pg_mod(a, b)`; the other names are PostgreSQL's own and are
//! called as written.
//!
//! | function | as in PostgreSQL |
//! |---|---|
//! | `pg_div(a, b)` | integer ÷ integer truncates (`7/2` = 3); ÷ 0 is error 22012 |
//! | `pg_mod(a, b)` | remainder with the dividend's sign; % 0 is error 22012 |
//! | `date_trunc(unit, ts)` | see [`datetime`] |
//! | `to_char(ts, template)` | see [`datetime`] |
//! | `to_timestamp(epoch_seconds)` | seconds since 1970 → timestamp |
//! | `regexp_replace(s, pattern, replacement [, flags])` | first match, or all with `g`; `\1` back-references |
//! | `pg_subscripts(a)` | the list 1..n of an n-element list (`generate_subscripts`, see `sql::arrays`) |
//! | `array_cat(a, b)`, `array_append(a, e)`, `array_prepend(e, a)`, `pg_array_map(...)` | see [`array`] |
//! | `format(fmt, args...)`, `json_build_object(k, v, ...)`, `parse_ident(s [, strict])` | see [`text`] |
//! | `pg_round(x [, n])`, `pg_int_round(x)` | `round` half away from zero, casts to integers rounding (see [`numeric`]) |
//! | `pg_strpos(s, sub)` | `strpos` / `position` in characters, not bytes (see [`text`]) |
//! | `pg_string_to_array(s, d [, null])` | `string_to_array` as PostgreSQL splits (see [`text`]) |

mod array;
mod datetime;
mod numeric;
mod text;

pub use array::ELEMENTS as ARRAY_MAP_ELEMENTS;

use std::sync::Arc;

use polars::prelude::*;
use polars_sql::function_registry::{FunctionOptions, FunctionRegistry};
use polars_sql::SQLContext;

/// Whether `name` is implemented here (all are one row in, one value out:
/// streamed exports may call them).
pub fn is_function(name: &str) -> bool {
    lookup(name).is_some()
}

/// Messages the error mapping recognises (`error.rs`).
pub const DIVISION_BY_ZERO: &str = "division by zero";
pub const BIGINT_OUT_OF_RANGE: &str = "bigint out of range";

/// A Polars SQL context that knows redsql's PostgreSQL functions.
pub fn context() -> SQLContext {
    SQLContext::new().with_function_registry(Arc::new(PgFunctions))
}

struct PgFunctions;

type Body = fn(&mut [Column]) -> PolarsResult<Column>;
type Output = fn(&[Field]) -> PolarsResult<DataType>;

fn lookup(name: &str) -> Option<(Body, Output)> {
    Some(match name {
        "pg_div" => (pg_div as Body, arith_type as Output),
        "pg_mod" => (pg_mod, arith_type),
        "date_trunc" => (datetime::date_trunc, |_| Ok(datetime::TIMESTAMP)),
        "to_char" => (datetime::to_char, |_| Ok(DataType::String)),
        "to_timestamp" => (datetime::to_timestamp, |_| Ok(datetime::TIMESTAMP)),
        "regexp_replace" => (regexp_replace, |_| Ok(DataType::String)),
        "format" => (text::format, |_| Ok(DataType::String)),
        "json_build_object" => (text::json_build_object, |_| Ok(DataType::String)),
        "pg_round" => (numeric::round, numeric::round_type),
        "pg_int_round" => (numeric::int_round, numeric::same_type),
        "pg_strpos" => (text::strpos, |_| Ok(DataType::Int32)),
        "pg_string_to_array" => (text::string_to_array, |_| {
            Ok(DataType::List(Box::new(DataType::String)))
        }),
        "parse_ident" => (text::parse_ident, |_| Ok(DataType::List(Box::new(DataType::String)))),
        "pg_subscripts" => (pg_subscripts, |_| Ok(DataType::List(Box::new(DataType::Int32)))),
        "array_cat" => (array::array_cat, array::cat_type),
        "array_append" => (array::array_append, array::cat_type),
        "array_prepend" => (array::array_prepend, array::cat_type),
        "pg_array_map" => (array::array_map, array::map_type),
        _ => return None,
    })
}

impl FunctionRegistry for PgFunctions {
    fn register(&mut self, _name: &str, _fun: UserDefinedFunction) -> PolarsResult<()> {
        polars_bail!(ComputeError: "functions cannot be registered")
    }

    fn get_udf(&self, name: &str) -> PolarsResult<Option<UserDefinedFunction>> {
        let Some((body, output)) = lookup(name) else {
            return Ok(None);
        };
        let udf = BaseColumnUdf::new(
            move |cols: &mut [Column]| body(cols),
            move |_: &Schema, fields: &[Field]| {
                let name = fields.first().map(|f| f.name().clone()).unwrap_or_default();
                Ok(Field::new(name, output(fields)?))
            },
        );
        let mut f = UserDefinedFunction::new(name.into(), udf);
        f.options = FunctionOptions::elementwise();
        Ok(Some(f))
    }

    fn contains(&self, name: &str) -> bool {
        is_function(name)
    }
}

/// Rows in a call: arguments are columns of one length (which may be 0)
/// or scalars (length 1).
pub(crate) fn rows(cols: &[Column]) -> usize {
    cols.iter().map(Column::len).find(|&n| n != 1).unwrap_or(1)
}

/// Index `i` of a column that may be a broadcast scalar.
pub(crate) fn at(i: usize, len: usize) -> usize {
    if len == 1 {
        0
    } else {
        i
    }
}

pub(crate) fn out_name(cols: &[Column]) -> PlSmallStr {
    cols.first().map(|c| c.name().clone()).unwrap_or_default()
}

fn is_int(dt: &DataType) -> bool {
    dt.is_integer() || matches!(dt, DataType::Null)
}

fn arith_type(fields: &[Field]) -> PolarsResult<DataType> {
    Ok(if fields.iter().all(|f| is_int(f.dtype())) {
        DataType::Int64
    } else {
        DataType::Float64
    })
}

fn ints(c: &Column) -> PolarsResult<Int64Chunked> {
    Ok(c.as_materialized_series().cast(&DataType::Int64)?.i64()?.clone())
}

fn floats(c: &Column) -> PolarsResult<Float64Chunked> {
    Ok(c.as_materialized_series().cast(&DataType::Float64)?.f64()?.clone())
}

/// Applies an integer or a float operation, as the operand types say.
fn arith(
    cols: &mut [Column],
    int_op: fn(i64, i64) -> PolarsResult<i64>,
    float_op: fn(f64, f64) -> f64,
) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 2, ComputeError: "expected two operands");
    let n = rows(cols);
    let name = out_name(cols);
    if cols.iter().all(|c| is_int(c.dtype())) {
        let (a, b) = (ints(&cols[0])?, ints(&cols[1])?);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(match (a.get(at(i, a.len())), b.get(at(i, b.len()))) {
                (Some(x), Some(y)) => Some(int_op(x, y)?),
                _ => None,
            });
        }
        return Ok(Int64Chunked::from_iter_options(name, out.into_iter()).into_column());
    }
    let (a, b) = (floats(&cols[0])?, floats(&cols[1])?);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match (a.get(at(i, a.len())), b.get(at(i, b.len()))) {
            (Some(_), Some(0.0)) => polars_bail!(ComputeError: "{DIVISION_BY_ZERO}"),
            (Some(x), Some(y)) => Some(float_op(x, y)),
            _ => None,
        });
    }
    Ok(Float64Chunked::from_iter_options(name, out.into_iter()).into_column())
}

fn pg_div(cols: &mut [Column]) -> PolarsResult<Column> {
    arith(
        cols,
        |x, y| match (y, x.checked_div(y)) {
            (0, _) => polars_bail!(ComputeError: "{DIVISION_BY_ZERO}"),
            (_, Some(q)) => Ok(q),
            (_, None) => polars_bail!(ComputeError: "{BIGINT_OUT_OF_RANGE}"),
        },
        |x, y| x / y,
    )
}

fn pg_mod(cols: &mut [Column]) -> PolarsResult<Column> {
    arith(
        cols,
        |x, y| match y {
            0 => polars_bail!(ComputeError: "{DIVISION_BY_ZERO}"),
            _ => Ok(x.checked_rem(y).unwrap_or(0)),
        },
        |x, y| x % y,
    )
}

/// The positions 1..n of each list as int4, like PostgreSQL's (NULL for a NULL list).
fn pg_subscripts(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!(cols.len() == 1, ComputeError: "pg_subscripts takes one array");
    let lists = cols[0].as_materialized_series().list()?.clone();
    let out: ListChunked = lists
        .amortized_iter()
        .map(|l| l.map(|l| Series::new("".into(), (1..=l.as_ref().len() as i32).collect::<Vec<_>>())))
        .collect();
    Ok(out.with_name(out_name(cols)).into_column())
}

/// PostgreSQL's replacement syntax (`\1`, `\&`) in Rust regex syntax.
fn replacement(pg: &str) -> String {
    let mut out = String::with_capacity(pg.len());
    let mut chars = pg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(d @ '1'..='9') => out.push_str(&format!("${{{d}}}")),
                Some('&') => out.push_str("${0}"),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

fn regexp_replace(cols: &mut [Column]) -> PolarsResult<Column> {
    polars_ensure!((3..=4).contains(&cols.len()), ComputeError: "regexp_replace takes 3 or 4 arguments");
    let n = rows(cols);
    let name = out_name(cols);
    let text: Vec<StringChunked> = cols
        .iter()
        .map(|c| Ok(c.as_materialized_series().cast(&DataType::String)?.str()?.clone()))
        .collect::<PolarsResult<_>>()?;
    let mut compiled: Option<((String, String), regex::Regex)> = None;
    let mut out: Vec<Option<String>> = Vec::with_capacity(n);
    for i in 0..n {
        let get = |k: usize| text.get(k).and_then(|c| c.get(at(i, c.len())));
        let (Some(s), Some(pat), Some(rep)) = (get(0), get(1), get(2)) else {
            out.push(None);
            continue;
        };
        let flags = if cols.len() == 4 {
            match get(3) {
                Some(f) => f,
                None => {
                    out.push(None);
                    continue;
                }
            }
        } else {
            ""
        };
        if let Some(bad) = flags.chars().find(|c| !matches!(c, 'g' | 'i' | 'c')) {
            polars_bail!(ComputeError: "invalid regular expression option: \"{bad}\"");
        }
        let case_insensitive = flags.rfind(['i', 'c']).is_some_and(|p| flags.as_bytes()[p] == b'i');
        let key = (pat.to_string(), flags.to_string());
        if compiled.as_ref().is_none_or(|(k, _)| *k != key) {
            let re = regex::RegexBuilder::new(pat)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|e| polars_err!(ComputeError: "invalid regular expression: {e}"))?;
            compiled = Some((key, re));
        }
        let re = &compiled.as_ref().expect("compiled above").1;
        let rep = replacement(rep);
        out.push(Some(if flags.contains('g') {
            re.replace_all(s, rep.as_str()).into_owned()
        } else {
            re.replace(s, rep.as_str()).into_owned()
        }));
    }
    Ok(StringChunked::from_iter_options(name, out.into_iter()).into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> PolarsResult<DataFrame> {
        context().execute(sql)?.collect()
    }

    #[test]
    fn division_as_in_postgres() {
        let df = run("SELECT pg_div(7, 2) a, pg_div(-7, 2) b, pg_div(7.0, 2) c, pg_mod(-7, 3) d").unwrap();
        assert_eq!(df.column("a").unwrap().i64().unwrap().get(0), Some(3));
        assert_eq!(df.column("b").unwrap().i64().unwrap().get(0), Some(-3));
        assert_eq!(df.column("c").unwrap().f64().unwrap().get(0), Some(3.5));
        assert_eq!(df.column("d").unwrap().i64().unwrap().get(0), Some(-1));
        for zero in ["pg_div(1, 0)", "pg_div(1.5, 0)", "pg_mod(1, 0)"] {
            let err = run(&format!("SELECT {zero}")).unwrap_err().to_string();
            assert!(err.contains(DIVISION_BY_ZERO), "{zero}: {err}");
        }
        let null = run("SELECT pg_div(NULL, 0) a").unwrap();
        assert_eq!(null.column("a").unwrap().null_count(), 1);
        // Over no rows, a column with a literal gives no rows (not one).
        let mut ctx = context();
        ctx.register("t", df!("x" => Vec::<i64>::new()).unwrap().lazy());
        let empty = ctx
            .execute("SELECT pg_mod(x, 3) m, regexp_replace(CAST(x AS TEXT), 'a', 'b') r FROM t")
            .unwrap();
        assert_eq!(empty.collect().unwrap().height(), 0);
    }

    #[test]
    fn regexp_replace_first_or_all() {
        let df = run(
            "SELECT regexp_replace('banana', 'a', 'o') a, regexp_replace('banana', 'a', 'o', 'g') b, \
             regexp_replace('John Smith', '(\\w+) (\\w+)', '\\2, \\1') c, regexp_replace('ABC', 'b', 'x', 'i') d, \
             regexp_replace('a$b', '\\$', '$') e",
        )
        .unwrap();
        let s = |c: &str| df.column(c).unwrap().str().unwrap().get(0).unwrap().to_string();
        assert_eq!(s("a"), "bonana");
        assert_eq!(s("b"), "bonono");
        assert_eq!(s("c"), "Smith, John");
        assert_eq!(s("d"), "AxC");
        assert_eq!(s("e"), "a$b");
    }
}
