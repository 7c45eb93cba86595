//! What a statement may do and for how long: read-only servers and users
//! refuse changes (25006) before anything is touched; `statement_timeout`
//! ends a statement that runs longer (57014); a change inside BEGIN is told
//! it takes effect at once. Cancel requests are raced
//! against each Query and Execute by pgwire itself, once the session is
//! registered at startup (`auth::Authenticator`); COPY FROM STDIN's data
//! phase, which outlives its Execute, has its own limits (`cancel`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pgwire::messages::response::TransactionStatus;
use sqlparser::ast::Statement;

use pgwire::api::ClientInfo;

use super::auth::Access;
use super::commands::Settings;
use super::handlers::Prepared;
use crate::error::{Error, Result};
use crate::exec::copy::CopyPlan;

/// What a statement changes, if anything.
#[derive(Clone, Copy, PartialEq)]
enum Change {
    /// Rows, tables or indexes in Redis (INSERT, UPDATE, DELETE, DDL).
    Tables,
    /// A table, by COPY FROM (STDIN or a server file).
    CopyIn,
    /// A server file, by COPY TO 'file'.
    ServerFile,
}

fn change(prepared: &Prepared) -> Option<Change> {
    match prepared {
        Prepared::Write(_) => Some(Change::Tables),
        Prepared::Copy(plan) => match plan.as_ref() {
            CopyPlan::To { file: None, .. } => None,
            CopyPlan::To { .. } => Some(Change::ServerFile),
            CopyPlan::FromStdin(_) | CopyPlan::FromFile { .. } => Some(Change::CopyIn),
        },
        _ => None,
    }
}

/// Refuse a statement that changes data, tables or indexes, or writes a
/// server file, when the server or the session's user is read-only.
pub fn writable<C: ClientInfo>(access: &Access, client: &C, prepared: &Prepared) -> Result<()> {
    let Some(change) = change(prepared) else {
        return Ok(());
    };
    let user = client.metadata().get(pgwire::api::METADATA_USER);
    if !access.read_only_for(user.map(String::as_str)) {
        return Ok(());
    }
    let what = match change {
        Change::Tables => "change tables, rows or indexes",
        Change::CopyIn => "COPY into a table",
        Change::ServerFile => "write a server file with COPY",
    };
    let who = match user {
        Some(u) if !access.read_only => format!("user \"{u}\" may only read"),
        _ => "the server runs read-only (--read-only)".to_string(),
    };
    Err(Error::ReadOnly(format!("cannot {what}: {who}")))
}

/// Run a statement within the session's limits: statement_timeout and
/// redsql.max_query_rows (`exec::budget`). The statement comes boxed: the
/// wrappers here and pgwire's each move the future they hold, and moving a
/// statement's future (24 KB unboxed) byte by byte cost a point lookup a
/// fifth of its CPU (perf, pgbench -M prepared).
pub async fn within_limits<T, F>(settings: &Settings, work: Pin<Box<F>>) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let timeout = super::commands::statement_timeout(settings);
    let rows = super::commands::max_query_rows(settings);
    crate::exec::budget::scope(rows, within_timeout(timeout, work)).await
}

/// Run `work` for at most `limit`: past it, 57014. Dropping the work stops
/// its Redis reads and writes and the sending of rows; a Polars step
/// already running finishes in the background, its result dropped.
pub async fn within_timeout<T>(limit: Option<Duration>, work: impl Future<Output = Result<T>>) -> Result<T> {
    match limit {
        None => work.await,
        Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(Error::QueryCanceled(
                "canceling statement due to statement timeout".into(),
            ))
        }),
    }
}

/// The session's transaction block, as far as redsql follows it: open
/// since BEGIN, and whether it was told its changes are not transactional.
/// (Kept here because a string like `BEGIN; INSERT ...; COMMIT` runs all
/// its statements before pgwire records the block's status.)
#[derive(Default)]
struct Block {
    open: AtomicBool,
    told: AtomicBool,
}

/// The NOTICE for the first change inside a transaction block (BEGIN ...):
/// redsql has no transactions, each statement takes effect when it runs and
/// ROLLBACK does not undo it. None for anything else, and for later changes
/// of the same block.
pub fn transaction_notice<C: ClientInfo>(client: &C, prepared: &Prepared) -> Option<String> {
    let what = match (prepared, change(prepared)) {
        (Prepared::Command(stmt), _) => {
            let opens = match stmt.as_ref() {
                Statement::StartTransaction { .. } => true,
                Statement::Commit { .. } | Statement::Rollback { savepoint: None, .. } => false,
                _ => return None,
            };
            let block = client.session_extensions().get_or_insert_with(Block::default);
            block.open.store(opens, Ordering::Relaxed);
            if opens {
                block.told.store(false, Ordering::Relaxed);
            }
            return None;
        }
        (_, Some(Change::Tables)) => "this change",
        (_, Some(Change::CopyIn)) => "this COPY",
        _ => return None,
    };
    let block = client.session_extensions().get_or_insert_with(Block::default);
    let in_block = block.open.load(Ordering::Relaxed)
        || matches!(
            client.transaction_status(),
            TransactionStatus::Transaction | TransactionStatus::Error
        );
    if !in_block || block.told.swap(true, Ordering::Relaxed) {
        return None;
    }
    Some(format!(
        "redsql has no transactions: {what} is written to Redis now, and ROLLBACK will not undo it"
    ))
}
