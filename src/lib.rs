//! # redsql: SQL over data staged in Redis, on the PostgreSQL wire
//!
//! The modules follow the path of a query:
//!
//! * [`server`]: accept loop, Redis connection (or embedded Redis), shutdown.
//! * [`session`]: pgwire handlers (simple and extended protocol), SET/SHOW.
//! * [`sql`]: parse (PostgreSQL dialect) and rewrite the tree: tables,
//!   identifiers, output names, parameters, blocked table functions.
//! * [`catalog`]: tables from key prefixes (hashes or RedisJSON documents),
//!   inferred schemas with confidence,
//!   system views (`redsql.tables`, `redsql.columns`).
//! * [`exec`]: read tables from Redis (SCAN + pipelined HMGET, or JSON.MGET) and run the
//!   query in a per-query Polars SQL context.
//! * [`encode`]: Polars columns → PostgreSQL types and streamed `DataRow`s.
//! * [`store`]: the one place that talks to Redis.
//! * [`error`]: the one place that maps failures to SQLSTATEs.

pub mod catalog;
pub mod demo;
pub mod encode;
pub mod error;
pub mod exec;
pub mod load_cli;
pub mod pushdown;
pub mod server;
pub mod session;
pub mod sql;
pub mod store;

pub use error::{Error, Result};
pub use server::{Config, Server};
