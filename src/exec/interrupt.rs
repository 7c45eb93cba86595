//! Stopping a Polars step whose statement has ended early (statement_timeout,
//! a cancel request, a client gone away, an error elsewhere in the same
//! statement). Polars work runs on a blocking thread, which dropping the
//! statement's future does not stop by itself. So each step started by
//! [`run_blocking`] carries a [`Stop`]: the collects inside it ([`collect`])
//! run through Polars' cancellable `collect_concurrently`, and dropping the
//! future that waits for the step cancels the query in progress. Polars looks
//! at its cancel flag before each operator (scan, filter, join, sort, group
//! by...), so a long query ends at its next operator instead of running to
//! the end with nobody waiting for it.
//!
//! The memory watchdog ([`super::memory`]) stops every running step the
//! same way, through the registry of steps, when redsql's memory passes
//! `--max-memory`; such a step ends with 53200 rather than 57014.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use polars::prelude::{DataFrame, InProcessQuery, LazyFrame};

use crate::error::{Error, Result};

thread_local! {
    /// The stop of the step running on this (blocking) thread, if any.
    static CURRENT: RefCell<Option<Arc<Stop>>> = const { RefCell::new(None) };
}

/// The steps running now, for the memory watchdog.
static STEPS: Mutex<Vec<Weak<Stop>>> = Mutex::new(Vec::new());

/// Whether a step is still wanted, and the Polars query it is waiting for.
#[derive(Default)]
struct Stop {
    stopped: AtomicBool,
    /// Stopped by the memory watchdog: the limit it passed, in bytes (0: not).
    out_of_memory: AtomicU64,
    running: Mutex<Option<InProcessQuery>>,
}

impl Stop {
    /// Why the step was stopped, as its statement's error.
    fn error(&self) -> Error {
        match self.out_of_memory.load(Ordering::SeqCst) {
            0 => no_longer_wanted(),
            limit => Error::OutOfMemory(format!(
                "out of memory: redsql's memory passed its limit of {} MB (--max-memory) while this \
                 statement ran, and it was stopped",
                limit >> 20
            )),
        }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if let Some(query) = self.running.lock().expect("stop lock").as_ref() {
            query.cancel();
        }
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

/// Stops the step when the future waiting for it is dropped (or done).
struct StopOnDrop(Arc<Stop>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Clears the thread's stop when the step ends, even by a panic (blocking
/// threads are reused).
struct Current;

impl Current {
    fn set(stop: Arc<Stop>) -> Current {
        CURRENT.with(|c| *c.borrow_mut() = Some(stop));
        Current
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// Run Polars work off the async runtime; dropping the returned future
/// cancels the Polars queries `f` runs through [`collect`].
pub(crate) async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let stop = Arc::new(Stop::default());
    {
        let mut steps = STEPS.lock().unwrap_or_else(|e| e.into_inner());
        steps.retain(|s| s.strong_count() > 0);
        steps.push(Arc::downgrade(&stop));
    }
    let _stop_on_drop = StopOnDrop(stop.clone());
    let step = stop.clone();
    let out = tokio::task::spawn_blocking(move || {
        let _current = Current::set(step);
        f()
    })
    .await;
    // Whatever failed in a step the watchdog stopped failed for that reason.
    if matches!(out, Ok(Err(_))) && stop.out_of_memory.load(Ordering::SeqCst) != 0 {
        return Err(stop.error());
    }
    out.map_err(|e| Error::Internal(format!("query worker failed: {e}")))?
}

/// Collect a lazy query; inside [`run_blocking`], cancellably.
pub(crate) fn collect(query: LazyFrame) -> Result<DataFrame> {
    let Some(stop) = CURRENT.with(|c| c.borrow().clone()) else {
        return Ok(query.collect()?);
    };
    if stop.stopped() {
        return Err(stop.error());
    }
    let running = query.collect_concurrently()?;
    *stop.running.lock().expect("stop lock") = Some(running.clone());
    if stop.stopped() {
        running.cancel(); // stopped between the check above and the registration
    }
    let result = running.fetch_blocking();
    *stop.running.lock().expect("stop lock") = None;
    match result {
        Err(_) if stop.stopped() => Err(stop.error()),
        result => Ok(result?),
    }
}

/// Stop every running step because memory passed `limit` bytes; how many.
pub(crate) fn stop_all_for_memory(limit: u64) -> usize {
    let steps: Vec<Arc<Stop>> = STEPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let mut stopped = 0;
    for step in steps {
        if !step.stopped() {
            step.out_of_memory.store(limit.max(1), Ordering::SeqCst);
            step.stop();
            stopped += 1;
        }
    }
    stopped
}

fn no_longer_wanted() -> Error {
    Error::QueryCanceled("canceling statement: its result is no longer wanted".into())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use polars::prelude::*;

    use super::*;

    /// A query of many steps of similar cost (each sort depends on the
    /// order-dependent sum of the one before, so none can be skipped).
    fn slow_query() -> LazyFrame {
        let mut query = df!("x" => (0..1_000_000i64).collect::<Vec<_>>()).unwrap().lazy();
        for i in 0..12 {
            query = query
                .with_column(((col("x") * lit(31) + lit(i)) % lit(1_000_003)).alias("x"))
                .sort(["x"], Default::default())
                .with_column(col("x").cum_sum(false).alias("s"))
                .with_column((col("s") % lit(1_000_003) + col("x")).alias("x"));
        }
        query.select([col("x").max()])
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_a_step_cancels_its_polars_query() {
        // Run whole once, to know how long it takes here.
        let started = Instant::now();
        let whole = run_blocking(|| collect(slow_query())).await.unwrap();
        let whole_time = started.elapsed();
        assert_eq!(whole.height(), 1);

        // The same step, given up after a tenth of that: its worker ends
        // soon after, instead of running to the end.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let step = run_blocking(move || {
            let out = collect(slow_query());
            let _ = done_tx.send((Instant::now(), out.is_err()));
            out
        });
        let given_up = tokio::time::timeout(whole_time / 10, step).await;
        assert!(given_up.is_err(), "the step finished before it was given up");
        let dropped_at = Instant::now();
        let (ended_at, failed) = done_rx.recv_timeout(whole_time * 3).expect("the worker ends");
        assert!(failed, "a canceled query ends with an error, not a result");
        let ran_on = ended_at.saturating_duration_since(dropped_at);
        assert!(
            ran_on < whole_time / 2 + Duration::from_millis(50),
            "the worker ran on for {ran_on:?} after it was dropped (whole query {whole_time:?})"
        );
    }
}
