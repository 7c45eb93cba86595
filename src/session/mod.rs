//! The connection layer: pgwire handlers (simple and extended protocol),
//! startup parameters and non-query commands. It stays thin: statements go
//! to [`crate::exec::Engine`] and results to [`crate::encode`].

pub mod auth;
pub mod cancel;
pub mod commands;
pub mod copy;
pub mod cursors;
pub mod deferred;
pub mod handlers;
pub mod limits;
pub mod params;
pub mod streamed;
pub mod tls;

pub use handlers::Handlers;
