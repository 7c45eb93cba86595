//! How many rows one statement may read from Redis into memory
//! (`redsql.max_query_rows`; the server's default from `--max-query-rows`).
//!
//! The session runs each statement inside a [`scope`]; the places that
//! gather a table's rows into a frame (the scan and key reads of
//! `scan::read_table`, the cursor pages of a pushed-down fetch) [`charge`]
//! each batch as it arrives, so a statement past its budget stops with 53400
//! before the rest is read, not after. Rows streamed to the client as they
//! are read (a plain SELECT, COPY TO) are not held, and not counted. What
//! Polars builds from the rows read (a join's output) is bounded by the
//! process-wide memory limit instead (`memory`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The setting, and its server default (0: no limit).
pub const SETTING: &str = "redsql.max_query_rows";
static DEFAULT: AtomicU64 = AtomicU64::new(0);

/// Set the server default (`--max-query-rows`; 0: none).
pub fn set_default(rows: u64) {
    DEFAULT.store(rows, Ordering::Relaxed);
}

pub fn default_limit() -> u64 {
    DEFAULT.load(Ordering::Relaxed)
}

struct Budget {
    limit: u64,
    used: AtomicU64,
}

tokio::task_local! {
    static BUDGET: Budget;
}

/// Run a statement with at most `limit` rows read (None or 0: no limit).
pub async fn scope<F: Future>(limit: Option<u64>, work: F) -> F::Output {
    match limit.filter(|&l| l > 0) {
        None => work.await,
        Some(limit) => {
            let budget = Budget {
                limit,
                used: AtomicU64::new(0),
            };
            BUDGET.scope(budget, work).await
        }
    }
}

/// Count `rows` more read by the statement running here; past its limit,
/// 53400. Outside a statement (catalog sampling, tests): nothing.
pub fn charge(rows: usize) -> Result<()> {
    BUDGET
        .try_with(|b| {
            let used = b.used.fetch_add(rows as u64, Ordering::Relaxed) + rows as u64;
            if used <= b.limit {
                return Ok(());
            }
            Err(Error::LimitExceeded(format!(
                "statement stopped: it read more than {limit} rows from Redis into memory \
                 (redsql.max_query_rows = {limit}); narrow it with a WHERE clause, or raise the \
                 limit with SET redsql.max_query_rows",
                limit = b.limit
            )))
        })
        .unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_statement_is_stopped_past_its_budget_and_only_inside_it() {
        assert!(charge(1_000_000).is_ok(), "no budget outside a statement");
        let within = scope(Some(100), async {
            charge(60)?;
            charge(40)?;
            charge(1)
        })
        .await;
        let e = within.unwrap_err();
        assert_eq!(e.sqlstate(), "53400");
        assert!(e.to_string().contains("100 rows"), "{e}");
        assert!(
            scope(Some(0), async { charge(usize::MAX) }).await.is_ok(),
            "0: no limit"
        );
        assert!(scope(None, async { charge(10) }).await.is_ok());
    }
}
