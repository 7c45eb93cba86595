//! COPY on the wire: `FROM STDIN` data arriving in CopyData messages (the
//! COPY in progress lives in the connection's session extensions; the
//! handler itself is shared by all connections), `TO STDOUT` rows sent as
//! CopyData, and COPY with server files answered with a COPY tag.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::results::{CopyResponse, Response, Tag};
use pgwire::api::ClientInfo;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyOutResponse};
use pgwire::messages::PgWireBackendMessage;

use super::cancel::CopyLimits;
use super::streamed::feed;
use crate::encode::copy::CopyOut;
use crate::error::{Error, Result};
use crate::exec::copy::{CopyInPlan, CopyPlan};
use crate::exec::copy_in::{with_count, CopyIn};
use crate::exec::Engine;
use crate::sql::params::Param;

/// The COPY in progress on a connection, if any.
#[derive(Default)]
pub struct CopyState(tokio::sync::Mutex<Option<Running>>);

/// Run a planned COPY.
pub async fn run<C>(engine: &Engine, client: &mut C, plan: &CopyPlan, params: &[Param]) -> Result<Response>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    match plan {
        CopyPlan::FromStdin(p) => start(client, p).await,
        CopyPlan::FromFile { plan, path, kind } => {
            let rows = engine.copy_from_file(plan, path, *kind, None).await?;
            Ok(Response::Execution(Tag::new("COPY").with_rows(rows)))
        }
        CopyPlan::To {
            query,
            format,
            file: Some((path, kind)),
        } => {
            let rows = engine.copy_to_file(query, format, path, *kind).await?;
            Ok(Response::Execution(Tag::new("COPY").with_rows(rows)))
        }
        CopyPlan::To {
            query,
            format,
            file: None,
        } => {
            let (columns, lines) = engine.copy_to_stdout(query, params, format).await?;
            send_out(client, columns, format.binary, lines).await
        }
    }
}

/// Send COPY TO STDOUT's data from within the statement, not after it (as
/// a CopyOut response to pgwire would be): so statement_timeout and cancel
/// requests bound the whole export, not just its start, and an error part
/// way ends the data with an ErrorResponse, as PostgreSQL does.
async fn send_out<C>(
    client: &mut C,
    columns: usize,
    binary: bool,
    mut lines: BoxStream<'static, Result<CopyOut>>,
) -> Result<Response>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let format = i8::from(binary);
    let response = CopyOutResponse::new(format, columns as i16, vec![i16::from(format); columns]);
    feed(client, PgWireBackendMessage::CopyOutResponse(response)).await?;
    let mut rows = 0usize;
    while let Some(line) = lines.next().await {
        let data = match line? {
            CopyOut::Row(data) => {
                rows += 1;
                data
            }
            CopyOut::Framing(data) => data,
        };
        feed(client, PgWireBackendMessage::CopyData(CopyData::new(data))).await?;
    }
    feed(client, PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
    Ok(Response::Execution(Tag::new("COPY").with_rows(rows)))
}

/// Start a COPY FROM STDIN: remember it on the connection, with its limits
/// (statement_timeout from now, cancel requests), and ask for data.
async fn start<C: ClientInfo>(client: &C, plan: &CopyInPlan) -> Result<Response> {
    let columns = plan.columns.len();
    let timeout = super::commands::statement_timeout(&super::handlers::settings(client));
    let running = Running {
        copy: CopyIn::new(plan.clone()),
        limits: CopyLimits::start(client, timeout),
    };
    *state(client).0.lock().await = Some(running);
    Ok(Response::CopyIn(CopyResponse::new(
        0,
        columns,
        futures::stream::empty(),
    )))
}

/// A COPY FROM STDIN waiting for data.
struct Running {
    copy: CopyIn,
    limits: CopyLimits,
}

impl Running {
    /// Ended early (timeout, cancel): wait for the batches already handed
    /// to the writer, and say how many rows were written.
    async fn stopped(self, why: Error) -> Error {
        with_count(why, self.copy.abandon().await)
    }
}

pub struct Copy {
    pub engine: Arc<Engine>,
}

fn state<C: ClientInfo>(client: &C) -> Arc<CopyState> {
    client.session_extensions().get_or_insert_with(CopyState::default)
}

#[async_trait]
impl CopyHandler for Copy {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = state(client);
        let mut guard = state.0.lock().await;
        let Some(Running { copy, limits }) = guard.as_mut() else {
            return Ok(());
        };
        let store = self.engine.catalog().store();
        if let Err(why) = limits.within(copy.data(store, &copy_data.data)).await {
            // The error goes out now; pgwire drops the rest of the data.
            let running = guard.take().expect("a COPY in progress");
            let e = running.stopped(why).await;
            self.engine.catalog().invalidate().await;
            return Err(e.into());
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = state(client);
        let running = state.0.lock().await.take();
        let Some(mut running) = running else {
            return Err(Error::Data("08P01", "CopyDone without a COPY in progress".into()).into());
        };
        let store = self.engine.catalog().store();
        let result = match running.limits.within(running.copy.end(store)).await {
            Ok(()) => running.copy.finish().await,
            Err(why) => Err(running.stopped(why).await),
        };
        self.engine.catalog().invalidate().await;
        let rows = result?;
        client
            .send(PgWireBackendMessage::CommandComplete(
                Tag::new("COPY").with_rows(rows).into(),
            ))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = state(client);
        let copy = state.0.lock().await.take();
        let written = match copy {
            Some(running) => running.copy.abandon().await,
            None => 0,
        };
        self.engine.catalog().invalidate().await;
        Error::Data(
            "57014",
            format!(
                "COPY from stdin failed: {}; {written} rows were written before it",
                fail.message
            ),
        )
        .into()
    }
}
