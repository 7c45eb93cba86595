//! Row fetches on a Redis Cluster. RediSearch there (without its
//! coordinator) loads no document: FT.AGGREGATE's `LOAD` and FT.SEARCH's
//! fields come back empty (measured on 2.10 with Redis 8.2), but
//! `FT.SEARCH ... NOCONTENT` names the matching keys. So every index part is
//! asked for its matching keys, all at once, and the rows are then read by
//! key, routed by hash slot like a scan's reads; the query runs in Polars
//! over them, re-checking the WHERE, ORDER BY and LIMIT.
//!
//! A reply holds at most MAXSEARCHRESULTS keys (a larger `LIMIT` is an
//! error, and a window beyond it is cut silently), so each part reads the
//! setting, asks for at most that many, and checks that the reply holds
//! every key it counts. When a part has more matching keys than that, the
//! fetch gives up (`None`) and the caller scans the table instead.

use crate::catalog::index::IndexInfo;
use crate::error::{Error, Result};
use crate::pushdown::{search_tail, FetchPlan};
use crate::store::node::Node;
use crate::store::resp3::Conn;
use crate::store::Store;

/// Keys asked for first: a selective filter's matches come in one reply;
/// more are asked for again, all at once, as counted.
pub(super) const FIRST_ASK: u64 = 10_000;

/// Times a part is asked again when its matches grew between replies.
const ASKS: usize = 3;

/// The keys of a cluster fetch's rows, from every part at once; None when
/// some part has more matching keys than one reply may hold.
pub async fn keys(store: &Store, index: &IndexInfo, plan: &FetchPlan) -> Result<Option<Vec<Vec<u8>>>> {
    let found = super::search::on_every_part(
        store,
        index,
        |name, node| async move { part_keys(&node, &name, plan).await },
    )
    .await?;
    let mut keys = Vec::new();
    for part in found {
        let Some(part) = part else {
            return Ok(None);
        };
        keys.extend(part);
    }
    super::budget::charge(keys.len())?;
    Ok(Some(keys))
}

/// One part's keys for every command of the plan, on one pooled connection.
async fn part_keys(node: &Node, name: &str, plan: &FetchPlan) -> Result<Option<Vec<Vec<u8>>>> {
    let mut conn = node.search_conn().await?;
    let out = async {
        let max = max_results(&mut conn).await?;
        let mut keys = Vec::new();
        for body in plan.search_commands() {
            let ask = Ask {
                conn: &mut conn,
                name,
                body: &body,
                plan,
            };
            let found = match plan.limit {
                Some(n) if n <= max => ask.first(n).await?,
                Some(_) => None,
                None => ask.all(max).await?,
            };
            match found {
                Some(found) => keys.extend(found),
                None => return Ok(None),
            }
        }
        Ok(Some(keys))
    }
    .await;
    if super::search::reusable(&out) {
        node.search_done(conn);
    }
    out
}

/// One FT.SEARCH command of a plan on one part.
struct Ask<'a> {
    conn: &'a mut Conn,
    name: &'a str,
    body: &'a [String],
    plan: &'a FetchPlan,
}

impl Ask<'_> {
    /// The first `n` matching keys (in the command's SORTBY order), all of
    /// them when fewer match; None if the reply was cut short.
    async fn first(mut self, n: u64) -> Result<Option<Vec<Vec<u8>>>> {
        let (total, keys) = self.search(n).await?;
        Ok(Some(keys).filter(|k| k.len() as u64 == total.min(n)))
    }

    /// Every matching key, when they fit in one reply of at most `max`.
    async fn all(mut self, max: u64) -> Result<Option<Vec<Vec<u8>>>> {
        let mut ask = FIRST_ASK.min(max);
        for _ in 0..ASKS {
            let (total, keys) = self.search(ask).await?;
            let got = keys.len() as u64;
            if got == total {
                return Ok(Some(keys));
            }
            if got < total.min(ask) || total > max {
                return Ok(None);
            }
            ask = total;
        }
        Ok(None)
    }

    /// `FT.SEARCH <part> <body> LIMIT 0 <n> ...`: the total the part counts
    /// and the keys the reply holds. A warning fails the query.
    async fn search(&mut self, n: u64) -> Result<(u64, Vec<Vec<u8>>)> {
        let mut args: Vec<String> = vec!["FT.SEARCH".into(), self.name.to_string()];
        args.extend(self.body.iter().cloned());
        args.extend(["LIMIT".into(), "0".into(), n.to_string()]);
        args.extend(search_tail(&self.plan.pushed));
        let reply = self.conn.call(&args).await?;
        let frame = reply.frame();
        if let Some(e) = frame.error() {
            return Err(Error::Redis(String::from_utf8_lossy(e).into_owned()));
        }
        let warning = frame
            .get("warning")
            .and_then(|w| w.elements().next())
            .and_then(|w| w.bytes());
        if let Some(w) = warning {
            return Err(Error::Redis(format!(
                "RediSearch returned a partial result ({}); the query was not answered",
                String::from_utf8_lossy(w)
            )));
        }
        let (Some(total), Some(results)) = (frame.get("total_results").and_then(|t| t.int()), frame.get("results"))
        else {
            return Err(Error::Redis(format!("unexpected FT.SEARCH reply {frame:?}")));
        };
        let keys = results
            .elements()
            .filter_map(|r| r.get("id").and_then(|id| id.bytes()).map(<[u8]>::to_vec))
            .collect();
        Ok((total.max(0) as u64, keys))
    }
}

/// The part's MAXSEARCHRESULTS (`unlimited` as the largest number).
async fn max_results(conn: &mut Conn) -> Result<u64> {
    let reply = conn.call(&["FT.CONFIG", "GET", "MAXSEARCHRESULTS"]).await?;
    let frame = reply.frame();
    // RESP3 gives a map; older servers an array of [name, value] pairs.
    let value = frame
        .get("MAXSEARCHRESULTS")
        .or_else(|| frame.elements().next().and_then(|pair| pair.elements().nth(1)));
    let parsed = value.and_then(|v| match v.bytes() {
        Some(b"unlimited") => Some(u64::MAX),
        Some(b) => std::str::from_utf8(b)
            .ok()?
            .parse::<i64>()
            .ok()
            .map(|n| n.max(0) as u64),
        None => v.int().map(|n| n.max(0) as u64),
    });
    parsed.ok_or_else(|| Error::Redis(format!("unexpected FT.CONFIG GET MAXSEARCHRESULTS reply {frame:?}")))
}
