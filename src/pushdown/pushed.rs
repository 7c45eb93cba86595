//! What a WHERE clause becomes for RediSearch ([`super::filter::translate`]),
//! and the start of every command built from it.

use std::collections::BTreeSet;

use super::filter::Exactness;

/// A translated predicate.
#[derive(Clone, Debug, PartialEq)]
pub struct Pushed {
    /// The query (None: no restriction, every row).
    pub query: Option<String>,
    pub exactness: Exactness,
    /// An exact FILTER expression, when every part has one.
    pub filter: Option<String>,
    pub filter_exactness: Exactness,
    /// `$name value` pairs for the query.
    pub params: Vec<(String, String)>,
    /// Columns the query or filter reads.
    pub columns: BTreeSet<String>,
    /// Keep only the matches whose key is still there: RediSearch keeps a
    /// key whose TTL has passed in its results until Redis deletes it, but
    /// loading `@__key` opens the key, and comes back missing for such a
    /// key (measured on RediSearch 2.10 with Redis 8.2, hashes and JSON; in
    /// cluster mode no load works, so this is for one node only).
    pub live_only: bool,
}

impl Pushed {
    /// The query text to send (`*` for every row).
    pub fn query_text(&self) -> &str {
        self.query.as_deref().unwrap_or("*")
    }

    /// The query ANDed with `extra` (a further restriction such as `ismissing(@x)`).
    pub fn query_and(&self, extra: &str) -> String {
        match &self.query {
            Some(q) => format!("({q} {extra})"),
            None => extra.to_string(),
        }
    }

    /// A command's first arguments: the query, then `FILTER <expr>` when
    /// `use_filter` (the query alone is only a superset).
    pub fn command_start(&self, query: String, use_filter: bool) -> Vec<String> {
        let mut a = vec![query];
        if self.live_only {
            a.extend(["LOAD", "1", "@__key", "FILTER", "exists(@__key)"].map(String::from));
        }
        if let Some(f) = self.filter.as_ref().filter(|_| use_filter) {
            a.extend(["FILTER".into(), f.clone()]);
        }
        a
    }
}
