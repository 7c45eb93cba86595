//! Statement parameters: their types (the client's at Parse, else the
//! server's inference, else text) and the decoding of a portal's bound values.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use pgwire::api::portal::Portal;
use pgwire::api::stmt::StoredStatement;
use pgwire::api::Type;
use pgwire::error::PgWireError;
use rust_decimal::prelude::ToPrimitive;

use super::cursors::CursorStmt;
use super::handlers::Prepared;
use crate::error::{Error, Result};
use crate::sql::params::Param;

/// Parameter types of a statement: those the client gave at Parse win, the
/// server's inference fills the rest, text where neither knows.
pub fn param_types(stmt: &StoredStatement<Prepared>) -> Vec<Type> {
    let server = server_param_types(&stmt.statement);
    (0..server.len().max(stmt.parameter_types.len()))
        .map(|i| {
            stmt.parameter_types
                .get(i)
                .cloned()
                .flatten()
                .or_else(|| server.get(i).cloned())
                .unwrap_or(Type::TEXT)
        })
        .collect()
}

/// The parameter types the server inferred for a statement.
pub fn server_param_types(stmt: &Prepared) -> Vec<Type> {
    match stmt {
        Prepared::Query { planned, .. } | Prepared::Explain(planned, _) => planned.param_types.clone(),
        Prepared::Write(plan) => plan.param_types(),
        Prepared::Cursor(c) => match c.as_ref() {
            CursorStmt::Declare { planned, .. } => planned.param_types.clone(),
            _ => vec![],
        },
        Prepared::Command(_) | Prepared::Copy(_) => vec![],
    }
}

/// Decode the bound parameters of a portal into typed values.
pub fn portal_params(portal: &Portal<Prepared>) -> Result<Vec<Param>> {
    let types = param_types(&portal.statement);
    let bad = |e: PgWireError| Error::Data("22P02", format!("invalid parameter value: {e}"));
    (0..portal.parameter_len())
        .map(|i| {
            let ty = types.get(i).cloned().unwrap_or(Type::TEXT);
            let p = match ty {
                Type::INT2 => portal
                    .parameter::<i16>(i, &ty)
                    .map_err(bad)?
                    .map(|v| Param::Int(v.into())),
                Type::INT4 => portal
                    .parameter::<i32>(i, &ty)
                    .map_err(bad)?
                    .map(|v| Param::Int(v.into())),
                Type::INT8 => portal.parameter::<i64>(i, &ty).map_err(bad)?.map(Param::Int),
                Type::FLOAT4 => portal
                    .parameter::<f32>(i, &ty)
                    .map_err(bad)?
                    .map(|v| Param::Float(v.into())),
                Type::FLOAT8 => portal.parameter::<f64>(i, &ty).map_err(bad)?.map(Param::Float),
                Type::NUMERIC => portal
                    .parameter::<rust_decimal::Decimal>(i, &ty)
                    .map_err(bad)?
                    .map(|d| Param::Float(d.to_f64().unwrap_or(f64::NAN))),
                Type::BOOL => portal.parameter::<bool>(i, &ty).map_err(bad)?.map(Param::Bool),
                Type::DATE => portal.parameter::<NaiveDate>(i, &ty).map_err(bad)?.map(Param::Date),
                Type::TIMESTAMP => portal
                    .parameter::<NaiveDateTime>(i, &ty)
                    .map_err(bad)?
                    .map(Param::Timestamp),
                Type::TIMESTAMPTZ => portal
                    .parameter::<DateTime<FixedOffset>>(i, &ty)
                    .map_err(bad)?
                    .map(|t| Param::Timestamp(t.naive_utc())),
                _ => portal
                    .parameter::<String>(i, &Type::TEXT)
                    .map_err(bad)?
                    .map(Param::Text),
            };
            Ok(p.unwrap_or(Param::Null(ty)))
        })
        .collect()
}
