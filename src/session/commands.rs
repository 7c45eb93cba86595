//! Statements that are not queries: SET, SHOW, transaction control.
//!
//! redsql has no multi-statement transactions yet: BEGIN/COMMIT/ROLLBACK
//! (and SAVEPOINT/RELEASE/ROLLBACK TO) only track the block so clients that
//! wrap work in them keep working, and each statement takes effect at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::Type;
use sqlparser::ast::{Expr, Set, Statement, Value};

use crate::error::{Error, Result};
use crate::exec::budget;

/// Per-connection settings changed with SET.
#[derive(Default)]
pub struct Settings(Mutex<HashMap<String, String>>);

impl Settings {
    pub fn get(&self, name: &str) -> Option<String> {
        let name = name.to_lowercase();
        if let Some(v) = self.0.lock().expect("settings").get(&name) {
            return Some(v.clone());
        }
        if name == budget::SETTING {
            return Some(budget::default_limit().to_string());
        }
        default_setting(&name).map(str::to_string)
    }

    fn set(&self, name: &str, value: String) {
        self.0.lock().expect("settings").insert(name.to_lowercase(), value);
    }
}

/// The setting that turns RediSearch pushdown on or off for a session.
pub const PUSHDOWN: &str = "redsql.pushdown";

/// Whether the session lets RediSearch answer parts of queries.
pub fn pushdown_on(settings: &Settings) -> bool {
    settings.get(PUSHDOWN).is_none_or(|v| v == "on")
}

/// The setting that ends a statement running longer than it (0: never).
pub const STATEMENT_TIMEOUT: &str = "statement_timeout";

/// How long a statement may run in this session, if limited.
pub fn statement_timeout(settings: &Settings) -> Option<std::time::Duration> {
    let ms = settings.get(STATEMENT_TIMEOUT).and_then(|v| parse_ms(&v))?;
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

/// How many rows a statement of this session may read into memory (None: no limit).
pub fn max_query_rows(settings: &Settings) -> Option<u64> {
    settings
        .get(budget::SETTING)
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
}

/// A row count setting: a whole number, 0 for none.
fn count_setting(name: &str, value: &str) -> Result<String> {
    let v = value.trim().replace('_', "");
    v.parse::<u64>()
        .map(|n| n.to_string())
        .map_err(|_| Error::Data("22023", format!("invalid value for parameter \"{name}\": \"{value}\"")))
}

/// Milliseconds of a duration setting as PostgreSQL reads them: a number
/// (milliseconds) or a number and a unit (`us`, `ms`, `s`, `min`, `h`, `d`).
fn parse_ms(value: &str) -> Option<u64> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len());
    let (number, unit) = (v[..split].parse::<f64>().ok()?, v[split..].trim());
    let per = match unit {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = (number * per).round();
    (ms.is_finite() && ms >= 0.0 && ms <= i32::MAX as f64).then_some(ms as u64)
}

/// A duration setting in canonical form, as SHOW prints it (the largest unit
/// that divides it: `1500ms`, `5s`, `2min`, `0`).
fn duration_setting(name: &str, value: &str) -> Result<String> {
    let ms = parse_ms(value)
        .ok_or_else(|| Error::Data("22023", format!("invalid value for parameter \"{name}\": \"{value}\"")))?;
    let units = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "min"), (1_000, "s")];
    Ok(match units.iter().find(|(n, _)| ms > 0 && ms % n == 0) {
        Some((n, unit)) => format!("{}{unit}", ms / n),
        None if ms == 0 => "0".to_string(),
        None => format!("{ms}ms"),
    })
}

/// A boolean setting's value in canonical form (`on`/`off`).
fn boolean_setting(name: &str, value: &str) -> Result<String> {
    match value.to_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok("on".into()),
        "off" | "false" | "no" | "0" => Ok("off".into()),
        _ => Err(Error::Data(
            "22023",
            format!("parameter \"{name}\" requires a Boolean value"),
        )),
    }
}

/// Server defaults for the settings clients commonly read (also the rows of
/// `pg_settings`).
pub const DEFAULT_SETTINGS: &[(&str, &str)] = &[
    ("server_version", "16.6"),
    ("server_version_num", "160006"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("standard_conforming_strings", "on"),
    ("integer_datetimes", "on"),
    ("search_path", "\"$user\", public"),
    ("transaction_isolation", "read committed"),
    ("default_transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
    ("default_transaction_read_only", "off"),
    ("is_superuser", "off"),
    ("application_name", ""),
    ("extra_float_digits", "1"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    (STATEMENT_TIMEOUT, "0"),
    (PUSHDOWN, "on"),
];

fn default_setting(name: &str) -> Option<&'static str> {
    DEFAULT_SETTINGS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Whether the statement is handled here rather than by the query engine.
pub fn is_command(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::Set(_)
            | Statement::ShowVariable { .. }
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
    )
}

/// Result columns of a command, for Describe.
pub fn command_columns(stmt: &Statement) -> Vec<String> {
    match stmt {
        Statement::ShowVariable { variable } => vec![show_name(variable)],
        _ => vec![],
    }
}

fn show_name(variable: &[sqlparser::ast::Ident]) -> String {
    let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
    if words.len() == 2 && words[0] == "redsql" {
        return format!("redsql.{}", words[1]);
    }
    let name = words.join(" ");
    match name.as_str() {
        "transaction isolation level" => "transaction_isolation".to_string(),
        _ => name,
    }
}

fn literal_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

/// Settings PostgreSQL reports to the client (ParameterStatus) when they
/// change, by the names it reports them under.
const REPORTED: &[&str] = &[
    "DateStyle",
    "TimeZone",
    "IntervalStyle",
    "application_name",
    "client_encoding",
    "search_path",
    "extra_float_digits",
    "standard_conforming_strings",
];

/// The reported settings a SET changed, with their new values.
pub fn reported_changes(set: &Set, settings: &Settings) -> Vec<(String, String)> {
    let Some(name) = set_name(set) else { return vec![] };
    REPORTED
        .iter()
        .filter(|r| r.to_lowercase() == name)
        .filter_map(|r| Some((r.to_string(), settings.get(&name)?)))
        .collect()
}

/// `current_setting('name')` → the session's value of that setting (what
/// `SET` gave it, or the server default), as a string literal. Runs when a
/// statement is prepared, so a statement prepared before a SET keeps the
/// value it saw. An unknown setting is left to the catalog rewrite (NULL).
pub fn bind_settings(stmt: &mut Statement, settings: &Settings) {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, VisitMut, VisitorMut};
    use std::ops::ControlFlow;
    fn value(e: &Expr, settings: &Settings) -> Option<Expr> {
        let Expr::Function(f) = e else { return None };
        let name = f.name.0.last()?.as_ident()?.value.to_lowercase();
        let qualified_ok = f.name.0.len() == 1
            || f.name.0[0]
                .as_ident()
                .is_some_and(|i| i.value.eq_ignore_ascii_case("pg_catalog"));
        if name != "current_setting" || !qualified_ok {
            return None;
        }
        let FunctionArguments::List(list) = &f.args else {
            return None;
        };
        let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))] = list.args.as_slice() else {
            return None;
        };
        let Value::SingleQuotedString(setting) = &v.value else {
            return None;
        };
        let current = settings.get(setting)?;
        Some(Expr::Value(Value::SingleQuotedString(current).with_empty_span()))
    }
    struct Bind<'a>(&'a Settings);
    impl VisitorMut for Bind<'_> {
        type Break = ();
        fn pre_visit_select(&mut self, s: &mut sqlparser::ast::Select) -> ControlFlow<()> {
            // `SELECT current_setting('x')` keeps its output name.
            for item in &mut s.projection {
                if let SelectItem::UnnamedExpr(e) = item {
                    if let Some(lit) = value(e, self.0) {
                        *item = SelectItem::ExprWithAlias {
                            expr: lit,
                            alias: sqlparser::ast::Ident::with_quote('"', "current_setting"),
                        };
                    }
                }
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Some(lit) = value(e, self.0) {
                *e = lit;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(stmt, &mut Bind(settings));
}

/// The setting a SET changes (lower case), if it changes one.
fn set_name(set: &Set) -> Option<String> {
    match set {
        Set::SingleAssignment { variable, .. } => Some(variable.to_string().to_lowercase()),
        Set::SetTimeZone { .. } => Some("timezone".into()),
        Set::SetNames { .. } => Some("client_encoding".into()),
        _ => None,
    }
}

/// Run a command statement.
pub fn run(stmt: &Statement, settings: &Arc<Settings>, format: FieldFormat) -> Result<Response> {
    match stmt {
        Statement::Set(set) => {
            match set {
                Set::SingleAssignment { values, .. } => {
                    let name = set_name(set).expect("an assignment names its setting");
                    let mut value = values.iter().map(literal_text).collect::<Vec<_>>().join(", ");
                    if name == PUSHDOWN {
                        value = boolean_setting(&name, &value)?;
                    }
                    if name == STATEMENT_TIMEOUT {
                        value = duration_setting(&name, &value)?;
                    }
                    if name == budget::SETTING {
                        value = count_setting(&name, &value)?;
                    }
                    settings.set(&name, value);
                }
                Set::SetTimeZone { value, .. } => settings.set("timezone", literal_text(value)),
                Set::SetNames { charset_name, .. } => settings.set("client_encoding", charset_name.to_string()),
                _ => {} // SET SESSION CHARACTERISTICS and friends: accepted, nothing to change
            }
            Ok(Response::Execution(Tag::new("SET")))
        }
        Statement::ShowVariable { variable } => {
            let name = show_name(variable);
            let value = settings
                .get(&name)
                .ok_or_else(|| Error::UndefinedObject(format!("unrecognized configuration parameter \"{name}\"")))?;
            let field = FieldInfo::new(name, None, None, Type::TEXT, format);
            let schema = Arc::new(vec![field]);
            let mut enc = DataRowEncoder::new(schema.clone());
            enc.encode_field(&value)?;
            let row = enc.take_row();
            let mut resp = QueryResponse::new(schema, futures::stream::iter(vec![Ok(row)]));
            resp.set_command_tag("SHOW");
            Ok(Response::Query(resp))
        }
        Statement::StartTransaction { .. } => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
        Statement::Commit { .. } => Ok(Response::TransactionEnd(Tag::new("COMMIT"))),
        // ROLLBACK TO SAVEPOINT stays in the block; SAVEPOINT and RELEASE
        // are accepted like BEGIN (SQLAlchemy over psycopg 3 sends them on
        // connect). Nothing is undone: each statement took effect at once.
        Statement::Rollback { savepoint: Some(_), .. } => Ok(Response::Execution(Tag::new("ROLLBACK"))),
        Statement::Rollback { .. } => Ok(Response::TransactionEnd(Tag::new("ROLLBACK"))),
        Statement::Savepoint { .. } => Ok(Response::Execution(Tag::new("SAVEPOINT"))),
        Statement::ReleaseSavepoint { .. } => Ok(Response::Execution(Tag::new("RELEASE"))),
        other => Err(unsupported(other)),
    }
}

/// The error for statements redsql does not run.
pub fn unsupported(stmt: &Statement) -> Error {
    let text = stmt.to_string();
    let kind: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    Error::Unsupported(format!("{kind} is not supported"))
}

#[cfg(test)]
mod tests {
    use super::duration_setting;

    #[test]
    fn durations_read_and_print_as_postgresql_does() {
        for (given, shown) in [
            ("0", "0"),
            ("1500", "1500ms"),
            ("5s", "5s"),
            ("5000", "5s"),
            ("90s", "90s"),
            ("120 s", "2min"),
            ("1.5min", "90s"),
            ("2h", "2h"),
            ("1d", "1d"),
            ("250ms", "250ms"),
            ("1500us", "2ms"),
        ] {
            assert_eq!(duration_setting("t", given).unwrap(), shown, "{given}");
        }
        for bad in ["abc", "5 parsecs", "-1", "", "99999999999"] {
            assert!(duration_setting("t", bad).is_err(), "{bad}");
        }
    }
}
