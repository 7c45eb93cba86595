//! Is the shared Redis connection still good, and is it still the same
//! Redis?
//!
//! The shared multiplexed connection (the `redis` crate's
//! `ConnectionManager`) learns that Redis went away only when a command on
//! it fails, and it reconnects after that failure, not before: the first
//! statement after a Redis restart would fail with "broken pipe" although
//! Redis is back. And a Redis that came back empty (no persistence) still
//! looks, from the catalog's cache, like the Redis that held the tables.
//!
//! So the store checks the connection with `INFO server` before using it
//! when it may be stale: after any connection error on any of its
//! connections, or after a second without a successful command (a restart
//! while idle). INFO is safe to send again, so a check that fails on the
//! dead connection is retried once on the new one; the user's own commands
//! are never resent (a write may have been applied). INFO's `run_id`
//! changes with each Redis process: a new one moves the epoch on, which
//! the catalog compares with the epoch of its last rescan.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// After this long without a successful command, check before the next.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The health of one store's connections, shared by its clones.
pub struct Health {
    start: Instant,
    /// A connection error was seen since the last good check.
    suspect: AtomicBool,
    /// When the shared connection last answered, in ms since `start`.
    last_ok_ms: AtomicU64,
    /// The run_id of the Redis process last seen (None: not known, or
    /// INFO is not allowed for this Redis user).
    run_id: Mutex<Option<String>>,
    /// How many times a different Redis process was found.
    epoch: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            start: Instant::now(),
            // Checked before the first command, which learns the run_id.
            suspect: AtomicBool::new(true),
            last_ok_ms: AtomicU64::new(0),
            run_id: Mutex::new(None),
            epoch: AtomicU64::new(0),
        }
    }
}

impl Health {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Whether the shared connection should be checked before its next command.
    pub fn needs_check(&self) -> bool {
        self.suspect.load(Ordering::Relaxed)
            || self.now_ms().saturating_sub(self.last_ok_ms.load(Ordering::Relaxed)) > IDLE_CHECK.as_millis() as u64
    }

    /// A command on the shared connection was answered.
    pub fn answered(&self) {
        self.last_ok_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Some connection to Redis failed: check before trusting the shared one.
    pub fn suspect(&self) {
        self.suspect.store(true, Ordering::Relaxed);
    }

    /// A check passed, with the server's run_id when INFO told it. A run_id
    /// other than the last one seen starts a new epoch (true).
    pub fn checked(&self, run_id: Option<String>) -> bool {
        self.suspect.store(false, Ordering::Relaxed);
        self.answered();
        let Some(run_id) = run_id else {
            return false;
        };
        let mut known = self.run_id.lock().unwrap_or_else(|e| e.into_inner());
        let restarted = known.as_ref().is_some_and(|k| *k != run_id);
        if restarted {
            self.epoch.fetch_add(1, Ordering::Relaxed);
        }
        *known = Some(run_id);
        restarted
    }

    /// How many different Redis processes were found after the first.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }
}

/// The `run_id` line of an `INFO server` reply.
pub fn run_id(info: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .map(|v| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_run_id_is_a_new_epoch_and_errors_or_idleness_ask_for_a_check() {
        let h = Health::default();
        assert!(h.needs_check(), "checked before first use");
        assert!(!h.checked(run_id("# Server\r\nredis_version:8.2.3\r\nrun_id:aaa\r\n")));
        assert!(!h.needs_check());
        assert_eq!(h.epoch(), 0);
        h.suspect();
        assert!(h.needs_check());
        assert!(!h.checked(Some("aaa".into())), "same process");
        assert!(h.checked(Some("bbb".into())), "a restarted Redis");
        assert_eq!(h.epoch(), 1);
        assert!(!h.checked(None), "INFO not allowed: no epoch change");
        h.last_ok_ms.store(0, Ordering::Relaxed);
        let later = Health {
            start: Instant::now() - Duration::from_secs(5),
            ..Health::default()
        };
        later.checked(None);
        later.last_ok_ms.store(0, Ordering::Relaxed);
        assert!(later.needs_check(), "idle for over a second");
    }
}
