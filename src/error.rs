//! The one place where failures become SQLSTATEs.
//!
//! Every layer returns [`Error`]; the session layer turns it into a pgwire
//! `ErrorResponse` through [`Error::into_pg`]. Polars reports everything as
//! strings, so [`Error::from_polars`] classifies its messages here and nowhere else.

use pgwire::error::{ErrorInfo, PgWireError, SEVERITY_ERROR, SEVERITY_FATAL};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 42601: the statement does not parse.
    #[error("{0}")]
    Syntax(String),
    /// 42P01: a table that does not exist.
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    /// 42703: a column that does not exist.
    #[error("{0}")]
    UndefinedColumn(String),
    /// 42704: an unknown object such as a setting.
    #[error("{0}")]
    UndefinedObject(String),
    /// 42883: an unknown function.
    #[error("{0}")]
    UndefinedFunction(String),
    /// 42804 / 42846: types that do not fit together.
    #[error("{0}")]
    DatatypeMismatch(String),
    /// 0A000: valid SQL that redsql does not do (yet).
    #[error("{0}")]
    Unsupported(String),
    /// 42803: aggregates or windows where they cannot be.
    #[error("{0}")]
    Grouping(String),
    /// 53200: the statement would take more memory than redsql may use.
    #[error("{0}")]
    OutOfMemory(String),
    /// 53400: a statement past a configured limit (redsql.max_query_rows).
    #[error("{0}")]
    LimitExceeded(String),
    /// 42501: something a query may never do (read server files, ...).
    #[error("{0}")]
    Forbidden(String),
    /// 42809: a write that would touch a Redis key of another type than the
    /// table's storage (a hash where JSON documents live, or the reverse).
    #[error("{0}")]
    WrongKeyType(String),
    /// 22xxx: bad data; the code is carried along.
    #[error("{1}")]
    Data(&'static str, String),
    /// 57014: the statement was canceled (a cancel request, statement_timeout).
    #[error("{0}")]
    QueryCanceled(String),
    /// 25006: a change asked of a read-only server or user.
    #[error("{0}")]
    ReadOnly(String),
    /// 28P01 (FATAL): a wrong password or an unknown user.
    #[error("{0}")]
    PasswordFailed(String),
    /// 28000 (FATAL): a connection the server does not accept (no TLS where required).
    #[error("{0}")]
    NotAuthorized(String),
    /// 53300 (FATAL): the server has as many connections as it allows.
    #[error("{0}")]
    TooManyConnections(String),
    /// 08006: Redis is unreachable or the connection broke.
    #[error("Redis is unavailable: {0}")]
    RedisUnavailable(String),
    /// XX000-class: Redis answered with an error we did not expect.
    #[error("Redis error: {0}")]
    Redis(String),
    /// XX000: a bug or an unexpected engine failure.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Error replies by which Redis says it cannot answer now but will later
/// (a script or module command past the busy threshold, a dataset still
/// loading, a replica without its master, a cluster slot moving).
const REDIS_NOT_NOW: [&str; 4] = ["BUSY", "LOADING", "MASTERDOWN", "TRYAGAIN"];

/// Whether a Redis error (as any layer worded it: the reply itself, the
/// redis crate's `BUSY: ...`, redsql's `unexpected SCAN reply Error("BUSY ...")`)
/// carries one of [`REDIS_NOT_NOW`]: 57P03 (cannot_connect_now), a statement
/// worth retrying, not a bug.
fn redis_busy(msg: &str) -> bool {
    msg.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| REDIS_NOT_NOW.contains(&word))
}

impl Error {
    /// The SQLSTATE a client sees for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::Syntax(_) => "42601",
            Error::UndefinedTable(_) => "42P01",
            Error::UndefinedColumn(_) => "42703",
            Error::UndefinedObject(_) => "42704",
            Error::UndefinedFunction(_) => "42883",
            Error::DatatypeMismatch(_) => "42804",
            Error::Grouping(_) => "42803",
            Error::OutOfMemory(_) => "53200",
            Error::LimitExceeded(_) => "53400",
            Error::Unsupported(_) => "0A000",
            Error::Forbidden(_) => "42501",
            Error::WrongKeyType(_) => "42809",
            Error::Data(code, _) => code,
            Error::ReadOnly(_) => "25006",
            Error::QueryCanceled(_) => "57014",
            Error::TooManyConnections(_) => "53300",
            Error::PasswordFailed(_) => "28P01",
            Error::NotAuthorized(_) => "28000",
            Error::RedisUnavailable(_) => "08006",
            Error::Redis(msg) if redis_busy(msg) => "57P03",
            Error::Redis(_) => "XX000",
            Error::Internal(_) => "XX000",
        }
    }

    /// Classify a Polars error by its message. Polars puts whole plans and AST
    /// dumps into some messages; only the first meaningful line is kept.
    pub fn from_polars(err: polars::error::PolarsError) -> Error {
        let full = err.to_string();
        let msg = clean_polars_message(&full);
        // Classified by the whole first line: the shown message is cut short.
        let lower = first_line(&full).to_ascii_lowercase();
        if lower.starts_with("array element ") && lower.ends_with(" is not supported") {
            // "array element <AST dump> is not supported"
            return Error::Unsupported("this kind of expression is not supported as an array element".into());
        }
        if let Some(rest) = lower.strip_prefix("cannot parse literal") {
            // Numbers beyond what Polars holds (PostgreSQL would use numeric).
            let literal = rest.trim_start_matches(':').trim().trim_matches('"');
            let number = !literal.is_empty() && literal.chars().all(|c| c.is_ascii_digit() || "+-.e".contains(c));
            let code = if number { "22003" } else { "22P02" };
            return Error::Data(
                code,
                msg.replacen("cannot parse literal", "value out of range:", usize::from(number)),
            );
        }
        if lower.contains("limit/fetch conversion error") {
            return Error::Data("22003", "LIMIT or OFFSET value out of range".into());
        }
        // Found by the SQL fuzzer (tests/it/hostile/sql.rs), in PostgreSQL's classes.
        if lower.contains("should participate in the group by clause or an aggregate function") {
            return Error::Grouping(msg);
        }
        if lower.starts_with("ambiguous reference to column") {
            return Error::Data("42702", msg);
        }
        if let Some(rest) = msg.strip_prefix("no table or struct column named '") {
            let name = rest.split('\'').next().unwrap_or_default();
            return Error::Data("42P01", format!("missing FROM-clause entry for table \"{name}\""));
        }
        if lower.contains("is not a supported literal type")
            || lower.starts_with("like/ilike pattern must be a string literal")
            || lower == "unexpected subquery"
        {
            return Error::Unsupported(msg);
        }
        if let Some(rest) = lower.strip_prefix("relation '") {
            let name = rest.split('\'').next().unwrap_or_default();
            return Error::UndefinedTable(name.to_string());
        }
        // Raised by redsql's own functions (exec::functions), in PostgreSQL's words.
        for (needle, code) in [
            ("division by zero", "22012"),
            ("bigint out of range", "22003"),
            ("timestamp out of range", "22008"),
            ("invalid input syntax for type", "22007"),
            ("invalid regular expression", "2201B"),
            ("not recognized for type timestamp", "22023"),
            ("null values cannot be formatted as an sql identifier", "22004"),
            ("invalid argument for format or json_build_object: ", "22023"),
        ] {
            if let Some(at) = lower.find(needle) {
                // A needle ending in ": " only tags the message that follows.
                let from = if needle.ends_with(": ") { at + needle.len() } else { at };
                return Error::Data(code, msg[from..].to_string());
            }
        }
        if lower.contains("unable to find column")
            || lower.contains("not found: ")
            || lower.contains("column not found")
            || lower.contains("no column named")
            || (lower.contains("column") && lower.contains("not found"))
        {
            return Error::UndefinedColumn(rename_column_message(&msg));
        }
        if lower.contains("sql parser error") || lower.contains("expected:") {
            return Error::Syntax(msg);
        }
        if lower.starts_with("unsupported function") || lower.contains("unknown function") {
            return Error::UndefinedFunction(msg);
        }
        if lower.contains("not supported")
            || lower.contains("unsupported")
            || lower.contains("not (yet) supported")
            || lower.contains("not yet implemented")
        {
            return Error::Unsupported(msg);
        }
        if lower.contains("cannot compare")
            || lower.contains("cannot cast")
            || lower.contains("invalid comparison")
            || lower.contains("arithmetic on")
            || lower.contains("dtype")
            || lower.contains("datatype")
            || lower.contains("must be of type")
            || lower.contains("while building series of type")
        {
            return Error::DatatypeMismatch(msg);
        }
        if lower.contains("conversion from") || lower.contains("strict conversion") {
            return Error::Data("22P02", msg);
        }
        if lower.contains("duplicate") {
            return Error::Syntax(msg);
        }
        Error::Internal(msg)
    }

    /// The pgwire form, ready to be sent.
    pub fn to_error_info(&self) -> ErrorInfo {
        // A refused connection ends, as in PostgreSQL; everything else ends the statement.
        let severity = match self {
            Error::TooManyConnections(_) | Error::PasswordFailed(_) | Error::NotAuthorized(_) => SEVERITY_FATAL,
            _ => SEVERITY_ERROR,
        };
        ErrorInfo::new(severity.to_owned(), self.sqlstate().to_owned(), self.to_string())
    }

    pub fn into_pg(self) -> PgWireError {
        if self.sqlstate() == "XX000" {
            tracing::error!(error = %self, "query failed");
        } else {
            tracing::debug!(error = %self, sqlstate = self.sqlstate(), "query failed");
        }
        PgWireError::UserError(Box::new(self.to_error_info()))
    }
}

impl From<Error> for PgWireError {
    fn from(e: Error) -> Self {
        e.into_pg()
    }
}

impl From<PgWireError> for Error {
    fn from(e: PgWireError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::from_polars(e)
    }
}

/// Whether a Redis error says the connection failed (Redis is down,
/// unreachable or too slow) rather than Redis refusing one command.
pub fn connection_failed(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        if connection_failed(&e) {
            Error::RedisUnavailable(e.to_string())
        } else {
            Error::Redis(e.to_string())
        }
    }
}

/// The first line of a Polars message, without the error kind Polars puts
/// in front ("SQLInterface: ") and its "Resolved plan until failure"
/// appendix, which are noise for a SQL user.
fn first_line(full: &str) -> &str {
    let first = full.trim().lines().next().unwrap_or_default().trim();
    [
        "SQLInterface: ",
        "SQLSyntax: ",
        "ColumnNotFound: ",
        "InvalidOperation: ",
        "ComputeError: ",
        "SchemaMismatch: ",
    ]
    .iter()
    .find_map(|kind| first.strip_prefix(kind))
    .unwrap_or(first)
}

/// [`first_line`], cut at 400 characters (some messages hold AST dumps).
fn clean_polars_message(full: &str) -> String {
    let mut out: String = first_line(full).chars().take(400).collect();
    if out.ends_with(':') {
        out.pop();
    }
    out
}

/// `unable to find column "x"; valid columns: [...]` → `column "x" does not exist`.
fn rename_column_message(msg: &str) -> String {
    if let Some(start) = msg.find('"') {
        if let Some(len) = msg[start + 1..].find('"') {
            let name = &msg[start + 1..start + 1 + len];
            return format!("column \"{name}\" does not exist");
        }
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polars_errors_found_by_the_sql_fuzzer_get_their_sqlstate() {
        use polars::prelude::polars_err;
        let code = |e: polars::error::PolarsError| Error::from_polars(e).sqlstate();
        let ast = format!("Case {{ {} }}", "x".repeat(600));
        assert_eq!(
            code(polars_err!(SQLInterface: "array element {} is not supported", ast)),
            "0A000"
        );
        assert_eq!(
            code(polars_err!(SQLInterface: "cannot parse literal {:?}", "1e308")),
            "22003"
        );
        assert_eq!(
            code(polars_err!(SQLInterface: "cannot parse literal {:?}", "9223372036854775808")),
            "22003"
        );
        let limit = "LIMIT/FETCH conversion error: number too large to fit in target type";
        assert_eq!(code(polars_err!(SQLInterface: "{}", limit)), "22003");
        let filter = "filter predicate must be of type `Boolean`, got `String`";
        assert_eq!(code(polars_err!(InvalidOperation: "{}", filter)), "42804");
        let build = "unexpected value while building Series of type Float64; found value of type Boolean: true";
        assert_eq!(code(polars_err!(ComputeError: "{}", build)), "42804");
        assert_eq!(
            code(polars_err!(SQLInterface: "cannot parse literal: {:?}", "1e-400")),
            "22003"
        );
        let group = "'qty' should participate in the GROUP BY clause or an aggregate function";
        assert_eq!(code(polars_err!(SQLInterface: "{}", group)), "42803");
        let ambiguous = "ambiguous reference to column \"_key\" (use one of: r._key, s._key)";
        assert_eq!(code(polars_err!(SQLInterface: "{}", ambiguous)), "42702");
        let missing = Error::from_polars(polars_err!(SQLInterface: "no table or struct column named 's' found"));
        assert_eq!(
            (missing.sqlstate(), missing.to_string().as_str()),
            ("42P01", "missing FROM-clause entry for table \"s\"")
        );
        for unsupported in [
            "value UnicodeStringLiteral(\"\\0\") is not a supported literal type",
            "LIKE/ILIKE pattern must be a string literal; found (amount >= 1)",
            "unexpected subquery",
        ] {
            assert_eq!(
                code(polars_err!(SQLInterface: "{}", unsupported)),
                "0A000",
                "{unsupported}"
            );
        }
    }

    #[test]
    fn redis_saying_not_now_is_57p03() {
        for msg in [
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "unexpected SCAN reply Error(\"BUSY Redis is busy running a script.\")",
            "BUSY: Redis is busy running a script",
            "LOADING Redis is loading the dataset in memory",
        ] {
            assert_eq!(Error::Redis(msg.into()).sqlstate(), "57P03", "{msg}");
        }
        for msg in [
            "unexpected HMGET reply Nil",
            "insert of t:busy failed: WRONGTYPE",
            "Busy day",
        ] {
            assert_eq!(Error::Redis(msg.into()).sqlstate(), "XX000", "{msg}");
        }
    }

    #[test]
    fn polars_messages_map_to_sqlstates() {
        use polars::error::{ErrString, PolarsError};
        let e = Error::from_polars(PolarsError::SQLInterface(ErrString::from(
            "relation 'nope' was not found".to_string(),
        )));
        assert_eq!(e.sqlstate(), "42P01");
        assert_eq!(e.to_string(), "relation \"nope\" does not exist");
        let e = Error::from_polars(PolarsError::ColumnNotFound(ErrString::from(
            "unable to find column \"zz\"; valid columns: [\"a\"]\n\nResolved plan until failure: ...".to_string(),
        )));
        assert_eq!(e.sqlstate(), "42703");
        assert_eq!(e.to_string(), "column \"zz\" does not exist");
        let e = Error::from_polars(PolarsError::SQLInterface(ErrString::from(
            "unsupported function 'nope'".to_string(),
        )));
        assert_eq!(e.sqlstate(), "42883");
    }
}
