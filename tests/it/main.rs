//! End-to-end tests over real sockets: a real redsql, a real Redis (with and
//! without modules), real clients (tokio-postgres, psql). One test binary, so
//! polars is linked once.

mod common;

mod arrays;
mod auth;
mod cluster;
mod cluster_fetch;
mod cluster_index;
mod copy;
mod dialect;
mod disconnects;
mod expiring;
mod faults;
mod faults_write;
mod files;
mod hostile;
mod index;
mod json;
mod load;
mod lookup;
mod mixed_load;
mod pg_catalog;
mod psql;
mod pushdown;
mod pushdown_paths;
mod query_rows;
mod redis_lifecycle;
mod redis_tls;
mod resp3;
mod roundtrip;
mod sqllogictest;
mod streamed;
mod tables;
mod timeouts;
mod wire;
mod workflows;
mod write;
