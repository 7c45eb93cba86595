//! Cancel requests (psql's Ctrl-C) and statement_timeout for the one
//! statement pgwire does not bound: COPY FROM STDIN's data phase.
//!
//! pgwire's connection manager races each Query and Execute against a
//! cancel request, and `limits::within_timeout` bounds them in time. But
//! once COPY FROM STDIN has asked for data, the statement goes on one
//! CopyData message at a time, outside any Query or Execute. So while it
//! lasts, a COPY registers its own [`CopyLimits`] here, under the session's
//! pid and secret key: a cancel request sets it, and each CopyData and the
//! CopyDone are handled within it. As in PostgreSQL, the COPY ends when its
//! next message arrives (or at once, if that message is waiting on Redis),
//! with 57014 and the number of rows written before it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::messages::cancel::CancelRequest;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::{Error, Result};

/// A session, as a cancel request names it: pid and secret key.
type Key = (i32, Vec<u8>);

/// The COPY FROM STDIN data phases in progress, by session.
static COPIES: Mutex<Option<HashMap<Key, Weak<Canceled>>>> = Mutex::new(None);

/// redsql's cancel handler: the running Query or Execute (pgwire), and the
/// session's COPY FROM STDIN, if any.
pub struct Cancel {
    pub connections: Arc<ConnectionManager>,
}

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.connections.cancel(request.pid, &request.secret_key).await;
        let key = (request.pid, request.secret_key.to_bytes().to_vec());
        let copy = copies(|c| c.get(&key).and_then(Weak::upgrade));
        if let Some(copy) = copy {
            copy.flag.store(true, Ordering::SeqCst);
            copy.notify.notify_one();
        }
    }
}

fn copies<T>(f: impl FnOnce(&mut HashMap<Key, Weak<Canceled>>) -> T) -> T {
    let mut copies = COPIES.lock().unwrap_or_else(|e| e.into_inner());
    f(copies.get_or_insert_with(HashMap::new))
}

#[derive(Default)]
struct Canceled {
    flag: AtomicBool,
    notify: Notify,
}

/// The limits of one COPY FROM STDIN: its deadline (statement_timeout, from
/// when the COPY started) and cancel requests. Registered until dropped.
pub struct CopyLimits {
    deadline: Option<Instant>,
    canceled: Arc<Canceled>,
    key: Key,
}

impl CopyLimits {
    pub fn start<C: ClientInfo>(client: &C, timeout: Option<Duration>) -> CopyLimits {
        let (pid, secret) = client.pid_and_secret_key();
        let limits = CopyLimits {
            deadline: timeout.map(|t| Instant::now() + t),
            canceled: Arc::default(),
            key: (pid, secret.to_bytes().to_vec()),
        };
        copies(|c| c.insert(limits.key.clone(), Arc::downgrade(&limits.canceled)));
        limits
    }

    /// Run `work` unless the COPY is over its time or canceled, and stop it
    /// (drop it) when that happens while it runs.
    pub async fn within<T>(&self, work: impl Future<Output = T>) -> Result<T> {
        if self.canceled.flag.load(Ordering::SeqCst) {
            return Err(canceled());
        }
        let deadline = async {
            match self.deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = self.canceled.notify.notified() => Err(canceled()),
            () = deadline => Err(Error::QueryCanceled("canceling statement due to statement timeout".into())),
            out = work => Ok(out),
        }
    }
}

fn canceled() -> Error {
    Error::QueryCanceled("canceling statement due to user request".into())
}

impl Drop for CopyLimits {
    fn drop(&mut self) {
        copies(|c| {
            // A later COPY of the same session may have taken the entry.
            if c.get(&self.key)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.canceled)))
            {
                c.remove(&self.key);
            }
        });
    }
}
