//! pgwire handlers: the simple query protocol (multi-statement strings) and
//! the extended protocol (Parse/Bind/Describe/Execute with `$n` parameters).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers, Type, DEFAULT_NAME};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{Describe, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;
use polars::prelude::DataType;
use sqlparser::ast::Statement;

use super::auth::{Access, Admitted, Authenticator, Startup};
use super::commands::{self, Settings};
use super::cursors::{self, CursorStmt, Cursors};
use super::limits;
use super::params::{param_types, portal_params, server_param_types};
use super::streamed::{self, cast_to, send_notices};
use crate::encode;
use crate::error::{Error, Result};
use crate::exec::copy::{self, CopyPlan};
use crate::exec::stream::Started;
use crate::exec::write::{self, WritePlan};
use crate::exec::{Engine, Planned};
use crate::sql::{self, analyze::analyze, params::Param};

/// A parsed statement, planned and described once at Parse time.
#[derive(Clone)]
pub enum Prepared {
    Query {
        planned: Box<Planned>,
        /// Described output columns (client names, Polars types).
        columns: Vec<(String, DataType)>,
    },
    Command(Box<Statement>),
    Write(Box<WritePlan>),
    Copy(Box<CopyPlan>),
    /// `EXPLAIN query`: one text column, `QUERY PLAN`.
    /// EXPLAIN, and whether ANALYZE (run it and report each step).
    Explain(Box<Planned>, bool),
    /// DECLARE / FETCH / CLOSE.
    Cursor(Box<CursorStmt>),
}

/// All of redsql's protocol handlers; cheap to share between connections
/// ([`Handlers::connection`] makes one connection's).
#[derive(Clone)]
pub struct Handlers {
    engine: Arc<Engine>,
    parser: Arc<Parser>,
    access: Arc<Access>,
    authenticator: Arc<Authenticator>,
    /// Open sessions by pid and secret key, for cancel requests.
    connections: Arc<ConnectionManager>,
    /// This connection is over the limit: it is refused at startup.
    refused: bool,
}

impl Handlers {
    pub fn new(engine: Arc<Engine>, access: Arc<Access>) -> Handlers {
        let connections = Arc::new(ConnectionManager::new());
        Handlers {
            parser: Arc::new(Parser { engine: engine.clone() }),
            engine,
            authenticator: Arc::new(Authenticator::new(&access, &connections)),
            connections,
            access,
            refused: false,
        }
    }

    /// The handlers of a new connection, and its place under the connection
    /// limit (None: over it, and the connection is told so at startup).
    pub fn connection(&self) -> (Handlers, Option<Admitted>) {
        let admitted = self.access.admit();
        let refused = admitted.is_none();
        (
            Handlers {
                refused,
                ..self.clone()
            },
            admitted,
        )
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::new(QueryHandler {
            engine: self.engine.clone(),
            parser: self.parser.clone(),
            access: self.access.clone(),
        })
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::new(QueryHandler {
            engine: self.engine.clone(),
            parser: self.parser.clone(),
            access: self.access.clone(),
        })
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::new(Startup {
            refused: self.refused,
            require_tls: self.access.require_tls,
            authenticator: self.authenticator.clone(),
        })
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(super::cancel::Cancel {
            connections: self.connections.clone(),
        })
    }

    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        Arc::new(super::copy::Copy {
            engine: self.engine.clone(),
        })
    }
}

pub struct QueryHandler {
    engine: Arc<Engine>,
    parser: Arc<Parser>,
    access: Arc<Access>,
}

pub struct Parser {
    engine: Arc<Engine>,
}

/// Plan (and, when `describe`, type the result of) one statement.
async fn prepare(
    engine: &Engine,
    mut stmt: Statement,
    text: &str,
    describe: bool,
    settings: &Settings,
) -> Result<Prepared> {
    commands::bind_settings(&mut stmt, settings);
    let stmt = match cursors::parse(stmt)? {
        cursors::Parsed::Other(stmt) => stmt,
        cursors::Parsed::Ready(c) => return Ok(Prepared::Cursor(Box::new(c))),
        cursors::Parsed::Declare { name, query, hold } => {
            let planned = Box::new(engine.plan(analyze(*query, text)?).await?);
            return Ok(Prepared::Cursor(Box::new(CursorStmt::Declare { name, planned, hold })));
        }
    };
    if commands::is_command(&stmt) {
        return Ok(Prepared::Command(Box::new(stmt)));
    }
    if copy::is_copy(&stmt) {
        return Ok(Prepared::Copy(Box::new(engine.plan_copy(&stmt, text).await?)));
    }
    if write::is_write(&stmt) {
        return Ok(Prepared::Write(Box::new(engine.plan_write(&stmt, text).await?)));
    }
    if let Statement::Explain {
        statement,
        analyze: analyze_it,
        ..
    } = &stmt
    {
        if let Statement::Query(query) = statement.as_ref() {
            let planned = engine.plan(analyze(*query.clone(), text)?).await?;
            return Ok(Prepared::Explain(Box::new(planned), *analyze_it));
        }
    }
    let Statement::Query(query) = stmt else {
        return Err(commands::unsupported(&stmt));
    };
    let planned = engine.plan(analyze(*query, text)?).await?;
    let columns = if describe {
        engine.describe(&planned).await?
    } else {
        Vec::new()
    };
    Ok(Prepared::Query {
        planned: Box::new(planned),
        columns,
    })
}

pub(super) fn settings<C: ClientInfo>(client: &C) -> Arc<Settings> {
    client.session_extensions().get_or_insert_with(Settings::default)
}

fn cursors_of<C: ClientInfo>(client: &C) -> Arc<Cursors> {
    client.session_extensions().get_or_insert_with(Cursors::default)
}

/// Run a prepared statement with bound parameters. `described` fixes the
/// output types announced earlier (extended protocol); the simple protocol
/// takes the types of the result. `stream`: a row-wise scan may send its
/// rows itself, chunk by chunk (nothing else is waiting to be sent, and the
/// client wants every row). Callers bound it by the session's
/// `statement_timeout` and row budget ([`limits::within_limits`]); cancel requests are
/// raced against each Query and Execute by pgwire.
async fn execute<C>(
    engine: &Engine,
    client: &mut C,
    prepared: &Prepared,
    params: &[Param],
    format: &Format,
    described: bool,
    stream: bool,
) -> Result<Response>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if let Some(notice) = limits::transaction_notice(client, prepared) {
        send_notices(client, &[notice]).await?;
    }
    // The heavier paths' futures are boxed so that this one, which a point
    // lookup's statement runs in, stays a few KB (see limits::within_limits).
    match prepared {
        Prepared::Command(stmt) => {
            if matches!(
                stmt.as_ref(),
                Statement::Commit { .. } | Statement::Rollback { savepoint: None, .. }
            ) {
                cursors_of(client).end_transaction();
            }
            let response = commands::run(stmt, &settings(client), format.format_for(0))?;
            if let Statement::Set(set) = stmt.as_ref() {
                for (name, value) in commands::reported_changes(set, &settings(client)) {
                    let status = ParameterStatus::new(name, value);
                    let sent = client.feed(PgWireBackendMessage::ParameterStatus(status)).await;
                    sent.map_err(PgWireError::from)?;
                }
            }
            Ok(response)
        }
        Prepared::Cursor(c) => Box::pin(run_cursor(engine, client, c, params, format)).await,
        Prepared::Copy(plan) => Box::pin(super::copy::run(engine, client, plan, params)).await,
        Prepared::Write(plan) => {
            let out = Box::pin(engine.write(plan, params)).await?;
            let tag = match out.tag {
                "INSERT" => Tag::new("INSERT").with_oid(0).with_rows(out.rows),
                "DELETE" | "UPDATE" | "SELECT" | "COPY" => Tag::new(out.tag).with_rows(out.rows),
                other => Tag::new(other),
            };
            Ok(Response::Execution(tag))
        }
        Prepared::Explain(planned, analyze_it) => {
            let pushdown_on = commands::pushdown_on(&settings(client));
            let mut lines = Box::pin(engine.explain(planned, params, pushdown_on)).await?;
            if *analyze_it {
                let (_, trace) = Box::pin(engine.execute_with(planned, params, pushdown_on)).await?;
                lines.push("ANALYZE:".to_string());
                lines.extend(trace.into_iter().map(|l| format!("  {l}")));
            }
            let frame = polars::prelude::DataFrame::new_infer_height(vec![polars::prelude::Column::new(
                "QUERY PLAN".into(),
                lines,
            )])?;
            let cols = vec![("QUERY PLAN".to_string(), DataType::String)];
            let fields = Arc::new(encode::fields(&cols, format));
            let rows = encode::row_stream(frame, fields.clone())?;
            Ok(Response::Query(QueryResponse::new(fields, rows)))
        }
        Prepared::Query { planned, columns } => {
            let announced = described.then_some(columns.as_slice());
            if let Some(found) = engine.lookup_rows(planned, params, announced).await? {
                send_notices(client, &found.notices).await?;
                let fields = Arc::new(encode::fields_traced(
                    &found.columns,
                    planned.origins.as_deref(),
                    format,
                ));
                let rows = encode::cell_rows(found.rows, fields.clone());
                return Ok(Response::Query(QueryResponse::new(fields, rows)));
            }
            let pushdown_on = commands::pushdown_on(&settings(client));
            let known = if stream {
                let announced = described.then_some(columns.as_slice());
                match Box::pin(engine.stream_select(planned, params, pushdown_on, announced)).await? {
                    Started::Streamed(s) => {
                        return Box::pin(streamed::send(
                            client,
                            s,
                            planned.origins.as_deref(),
                            format,
                            !described,
                        ))
                        .await
                    }
                    Started::Whole(decided) => decided,
                }
            } else {
                None
            };
            let (out, _) = Box::pin(engine.execute_known(planned, params, pushdown_on, known)).await?;
            send_notices(client, &out.notices).await?;
            let mut frame = out.frame;
            let cols: Vec<(String, DataType)> = if described && columns.len() == frame.width() {
                // Keep the announced types even if the catalog changed since Parse.
                cast_to(&mut frame, columns)?;
                columns.clone()
            } else {
                out.names.into_iter().zip(frame.dtypes()).collect()
            };
            let fields = Arc::new(encode::fields_traced(&cols, planned.origins.as_deref(), format));
            let rows = encode::row_stream(frame, fields.clone())?;
            Ok(Response::Query(QueryResponse::new(fields, rows)))
        }
    }
}

async fn run_cursor<C>(
    engine: &Engine,
    client: &mut C,
    stmt: &CursorStmt,
    params: &[Param],
    format: &Format,
) -> Result<Response>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let cursors = cursors_of(client);
    match stmt {
        CursorStmt::Declare { name, planned, hold } => {
            let pushdown_on = commands::pushdown_on(&settings(client));
            let (out, _) = engine.execute_with(planned, params, pushdown_on).await?;
            send_notices(client, &out.notices).await?;
            cursors.declare(name, out.frame, out.names, *hold)?;
            Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
        }
        CursorStmt::Fetch { name, count } => {
            let (frame, names) = cursors.fetch(name, *count)?;
            let cols: Vec<(String, DataType)> = names.into_iter().zip(frame.dtypes()).collect();
            let fields = Arc::new(encode::fields(&cols, format));
            let rows = encode::row_stream(frame, fields.clone())?;
            let mut resp = QueryResponse::new(fields, rows);
            resp.set_command_tag("FETCH");
            Ok(Response::Query(resp))
        }
        CursorStmt::Close(name) => {
            cursors.close(name.as_deref())?;
            Ok(Response::Execution(Tag::new("CLOSE CURSOR")))
        }
    }
}

/// The result columns of a statement; FETCH answers with its cursor's.
fn result_fields<C: ClientInfo>(
    parser: &Parser,
    client: &C,
    stmt: &Prepared,
    format: Option<&Format>,
) -> PgWireResult<Vec<FieldInfo>> {
    match stmt {
        Prepared::Cursor(c) => match c.as_ref() {
            CursorStmt::Fetch { name, .. } => {
                let cols = cursors_of(client).columns(name)?;
                Ok(encode::fields(&cols, format.unwrap_or(&Format::UnifiedText)))
            }
            _ => Ok(vec![]),
        },
        other => parser.get_result_schema(other, format),
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryHandler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = sql::parse(query)?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(statements.len());
        // Responses are sent after the last statement ran, so only a lone
        // statement may send its rows as they come.
        let stream = statements.len() == 1;
        for stmt in statements {
            let result = match prepare(&self.engine, stmt, query, false, &settings(client)).await {
                Ok(p) => match limits::writable(&self.access, client, &p) {
                    Ok(()) => {
                        let settings = settings(client);
                        let run = Box::pin(execute(
                            &self.engine,
                            client,
                            &p,
                            &[],
                            &Format::UnifiedText,
                            false,
                            stream,
                        ));
                        limits::within_limits(&settings, run).await
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match result {
                Ok(r) => responses.push(r),
                Err(e) => {
                    // Later statements of the string are skipped, as in PostgreSQL.
                    responses.push(Response::Error(Box::new(e.to_error_info())));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = sql::parse(sql)?;
        match statements.len() {
            0 => Ok(None),
            1 => Ok(Some(
                prepare(&self.engine, statements.remove(0), sql, true, &settings(client)).await?,
            )),
            _ => Err(Error::Syntax("cannot insert multiple commands into a prepared statement".into()).into()),
        }
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(server_param_types(stmt))
    }

    fn get_result_schema(&self, stmt: &Prepared, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        let format = format.unwrap_or(&Format::UnifiedText);
        Ok(match stmt {
            Prepared::Query { columns, planned } => encode::fields_traced(columns, planned.origins.as_deref(), format),
            Prepared::Write(_) | Prepared::Copy(_) | Prepared::Cursor(_) => vec![],
            Prepared::Explain(..) => encode::fields(&[("QUERY PLAN".to_string(), DataType::String)], format),
            Prepared::Command(s) => commands::command_columns(s)
                .into_iter()
                .enumerate()
                .map(|(i, n)| FieldInfo::new(n, None, None, Type::TEXT, format.format_for(i)))
                .collect(),
        })
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryHandler {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    // Parse, Bind, Describe and Execute leave their replies for Sync to send (session::deferred).
    async fn on_parse<C>(&self, client: &mut C, message: pgwire::messages::extendedquery::Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        super::deferred::on_parse(self.parser.clone(), client, message).await
    }

    async fn on_bind<C>(&self, client: &mut C, message: pgwire::messages::extendedquery::Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        super::deferred::on_bind(client, message).await
    }

    async fn on_execute<C>(&self, client: &mut C, message: pgwire::messages::extendedquery::Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self._on_execute(&mut super::deferred::Deferred::new(client), message)
            .await
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let params = portal_params(portal)?;
        let prepared = &portal.statement.statement;
        limits::writable(&self.access, client, prepared)?;
        let settings = settings(client);
        let run = Box::pin(execute(
            &self.engine,
            client,
            prepared,
            &params,
            &portal.result_column_format,
            true,
            // An Execute that asks for some rows is answered from a whole result.
            max_rows == 0,
        ));
        Ok(limits::within_limits(&settings, run).await?)
    }

    /// As pgwire's, except that a statement without result columns answers
    /// NoData after its parameters (as PostgreSQL does: pgjdbc counts the
    /// rows of a batch only then), and a SQL cursor's name can be described
    /// as a portal (psycopg 3 asks for a server-side cursor's columns so).
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        if message.target_type == TARGET_TYPE_BYTE_STATEMENT {
            if let Some(Entry::Value(stmt)) = client.portal_store().get_statement(name) {
                if result_fields(&self.parser, client, &stmt.statement, None)?.is_empty() {
                    let types = param_types(&stmt).iter().map(|t| t.oid()).collect();
                    client
                        .feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(
                            types,
                        )))
                        .await?;
                    client.feed(PgWireBackendMessage::NoData(NoData::new())).await?;
                    return Ok(());
                }
            }
        } else if message.target_type == TARGET_TYPE_BYTE_PORTAL && client.portal_store().get_portal(name).is_none() {
            if let Ok(cols) = cursors_of(client).columns(name) {
                let fields = encode::fields(&cols, &Format::UnifiedText);
                let desc = RowDescription::new(fields.iter().map(Into::into).collect());
                client.feed(PgWireBackendMessage::RowDescription(desc)).await?;
                return Ok(());
            }
        }
        self._on_describe(&mut super::deferred::Deferred::new(client), message)
            .await
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        target: &StoredStatement<Prepared>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let types = param_types(target);
        let fields = result_fields(&self.parser, client, &target.statement, None)?;
        Ok(DescribeStatementResponse::new(types, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        target: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let fields = result_fields(
            &self.parser,
            client,
            &target.statement.statement,
            Some(&target.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(fields))
    }
}
