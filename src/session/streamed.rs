//! Sending a result as it is computed: a streamed SELECT (see
//! `exec::stream`) goes out chunk by chunk, from the handler, because
//! pgwire's row stream cannot carry the NOTICEs about values read as NULL,
//! which are known only once every chunk is read. The client sees what a
//! query run whole sends: RowDescription (simple protocol), the rows,
//! the notices, `SELECT n`.

use std::sync::Arc;

use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::RowDescription;
use pgwire::messages::PgWireBackendMessage;
use polars::prelude::{DataFrame, DataType};

use crate::encode;
use crate::error::Result;
use crate::exec::scan::Messy;
use crate::exec::stream::{merge_messy, Streamed};
use crate::sql::origins::Origin;

/// Feed NOTICEs to the client.
pub async fn send_notices<C>(client: &mut C, notices: &[String]) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in notices {
        let info = ErrorInfo::new("NOTICE".to_string(), "01000".to_string(), n.clone());
        client.feed(PgWireBackendMessage::NoticeResponse(info.into())).await?;
    }
    Ok(())
}

/// `frame`'s columns cast to the announced types, where they differ (the
/// catalog may have changed since the statement was described).
pub fn cast_to(frame: &mut DataFrame, columns: &[(String, DataType)]) -> Result<()> {
    for (i, (_, dt)) in columns.iter().enumerate().take(frame.width()) {
        if frame.columns()[i].dtype() != dt {
            let cast = frame.columns()[i].cast(dt)?;
            frame.replace_column(i, cast)?;
        }
    }
    Ok(())
}

/// Send a streamed result: RowDescription when `describe` (the simple
/// protocol; the extended one described the portal before), each chunk's
/// rows as soon as it is ready, then the notices. An error part way
/// through ends the result after the rows already sent, as in PostgreSQL.
pub async fn send<C>(
    client: &mut C,
    mut streamed: Streamed,
    origins: Option<&[Origin]>,
    format: &Format,
    describe: bool,
) -> Result<Response>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let fields = Arc::new(encode::fields_traced(&streamed.columns, origins, format));
    send_notices(client, &streamed.notices).await?;
    if describe {
        let desc = RowDescription::new(fields.iter().map(Into::into).collect());
        feed(client, PgWireBackendMessage::RowDescription(desc)).await?;
    }
    let mut sent = 0usize;
    let mut messy: Vec<Messy> = Vec::new();
    while let Some(chunk) = streamed.chunks.recv().await {
        let (mut frame, found) = chunk?;
        merge_messy(&mut messy, found);
        cast_to(&mut frame, &streamed.columns)?;
        let mut rows = Box::pin(encode::row_stream(frame, fields.clone())?);
        while let Some(row) = rows.next().await {
            feed(client, PgWireBackendMessage::DataRow(row?)).await?;
            sent += 1;
        }
    }
    let notices: Vec<String> = messy.iter().map(Messy::notice).collect();
    send_notices(client, &notices).await?;
    Ok(Response::Execution(Tag::new("SELECT").with_rows(sent)))
}

/// Queue one message for the client (sent when the buffer fills or at the end).
pub(super) async fn feed<C>(client: &mut C, message: PgWireBackendMessage) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    Ok(client.feed(message).await?)
}
