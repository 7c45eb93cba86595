//! Pipelines, and how a Redis Cluster runs them: each command goes to the
//! master of its key's hash slot (commands of several nodes are sent to all
//! of them at once), a multi-key command whose keys lie in several slots is
//! split per slot and its replies combined (EXISTS/DEL/UNLINK add up,
//! JSON.MGET's come back in key order), `SCRIPT LOAD` goes to every master,
//! and `MOVED`/`ASK`/`TRYAGAIN` answers are followed (such a command was
//! not run, so sending it again is safe). On one node a [`Pipe`] is a plain
//! `redis::Pipeline`.

use std::time::Duration;

use redis::{Cmd, ToRedisArgs, Value};

use super::cluster::{self, Cluster};
use super::node::Node;
use super::resp3;
use crate::error::{Error, Result};
use std::sync::Arc;

/// Rounds of redirections followed before giving up.
const ROUNDS: usize = 6;

/// A pipeline for [`super::Store::pipeline`], built like a `redis::Pipeline`.
#[derive(Default)]
pub struct Pipe {
    inner: redis::Pipeline,
    ignored: Vec<bool>,
    atomic: bool,
    ignore_errors: bool,
}

impl Pipe {
    pub fn new() -> Pipe {
        Pipe::default()
    }

    pub fn cmd(&mut self, name: &str) -> &mut Pipe {
        self.inner.cmd(name);
        self.ignored.push(false);
        self
    }

    pub fn add_command(&mut self, cmd: Cmd) -> &mut Pipe {
        self.inner.add_command(cmd);
        self.ignored.push(false);
        self
    }

    /// An argument for the last command.
    pub fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Pipe {
        self.inner.arg(arg);
        self
    }

    /// Leave the last command's reply out of the result.
    pub fn ignore(&mut self) -> &mut Pipe {
        self.inner.ignore();
        if let Some(last) = self.ignored.last_mut() {
            *last = true;
        }
        self
    }

    /// MULTI/EXEC. On a cluster only when every key is in one slot; else
    /// the commands run one by one.
    pub fn atomic(&mut self) -> &mut Pipe {
        self.inner.atomic();
        self.atomic = true;
        self
    }

    /// A failing command's reply is an error value instead of failing all.
    pub fn ignore_errors(&mut self) -> &mut Pipe {
        self.inner.ignore_errors();
        self.ignore_errors = true;
        self
    }

    pub(super) fn redis(&self) -> &redis::Pipeline {
        &self.inner
    }
}

/// Where a command goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    Slot(u16),
    /// Every master (SCRIPT LOAD); the first reply stands for all.
    AllMasters,
    /// Any node: commands without keys.
    Any,
}

/// The route of a command given its arguments.
pub fn route(args: &[&[u8]]) -> Route {
    let Some(name) = args.first() else { return Route::Any };
    let name = name.to_ascii_uppercase();
    match name.as_slice() {
        b"SCRIPT" | b"FUNCTION" => Route::AllMasters,
        b"INFO" | b"COMMAND" | b"PING" | b"FT._LIST" | b"CLUSTER" | b"DBSIZE" | b"TIME" | b"ECHO" | b"HELLO"
        | b"SCAN" | b"RANDOMKEY" => Route::Any,
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
            let keys = args
                .get(2)
                .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok());
            match (keys, args.get(3)) {
                (Some(n), Some(key)) if n > 0 => Route::Slot(cluster::slot(key)),
                _ => Route::Any,
            }
        }
        _ => args.get(1).map_or(Route::Any, |k| Route::Slot(cluster::slot(k))),
    }
}

fn args_of(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .filter_map(|a| match a {
            redis::Arg::Simple(b) => Some(b),
            _ => None,
        })
        .collect()
}

/// How the replies of a command's parts make its reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Combine {
    One,
    Sum,
    /// An array, each part's elements at their keys' positions.
    Concat,
}

/// One command as sent to one node.
struct Part {
    cmd: Cmd,
    route: Route,
    /// The command of the pipeline it belongs to.
    of: usize,
    /// For `Concat`: the positions of its keys among the command's.
    keys_at: Vec<usize>,
    /// Sent after ASKING to this node (an `ASK` redirection).
    ask: Option<Arc<Node>>,
}

/// The parts of command `of`: itself, or one per slot of its keys.
fn split(cmd: &Cmd, of: usize) -> (Combine, Vec<Part>) {
    let args = args_of(cmd);
    let name = args.first().map(|n| n.to_ascii_uppercase()).unwrap_or_default();
    let (combine, keys, tail) = match name.as_slice() {
        b"EXISTS" | b"DEL" | b"UNLINK" | b"TOUCH" if args.len() > 2 => (Combine::Sum, &args[1..], &args[..0]),
        b"JSON.MGET" if args.len() > 3 => (Combine::Concat, &args[1..args.len() - 1], &args[args.len() - 1..]),
        _ => {
            let part = |r| Part {
                cmd: cmd.clone(),
                route: r,
                of,
                keys_at: Vec::new(),
                ask: None,
            };
            return (Combine::One, vec![part(route(&args))]);
        }
    };
    let mut by_slot: Vec<(u16, Vec<usize>)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let s = cluster::slot(k);
        match by_slot.iter_mut().find(|(t, _)| *t == s) {
            Some((_, at)) => at.push(i),
            None => by_slot.push((s, vec![i])),
        }
    }
    let parts = by_slot
        .into_iter()
        .map(|(s, at)| {
            let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap_or("?"));
            for &i in &at {
                c.arg(keys[i]);
            }
            for t in tail {
                c.arg(*t);
            }
            Part {
                cmd: c,
                route: Route::Slot(s),
                of,
                keys_at: at,
                ask: None,
            }
        })
        .collect();
    (combine, parts)
}

/// A redirection or transient refusal in a reply.
enum Redirect {
    Moved,
    Ask(String),
    TryAgain,
}

/// The redirection an error reply (`CODE details`) asks for, if any.
fn redirect(code: &str, details: Option<&str>) -> Option<Redirect> {
    match code {
        "MOVED" => Some(Redirect::Moved),
        "ASK" => {
            let addr = details?.split_whitespace().nth(1)?;
            Some(Redirect::Ask(addr.to_string()))
        }
        "TRYAGAIN" | "CLUSTERDOWN" => Some(Redirect::TryAgain),
        _ => None,
    }
}

/// The error of a round past the last.
fn kept_redirecting() -> Error {
    Error::RedisUnavailable(
        "the Redis Cluster kept redirecting commands (slots moving?); the redirected commands did not run".into(),
    )
}

/// After a round: ask for the slot map again if a command was `MOVED`,
/// wait a little if one was told to try again.
async fn after_round(cluster: &Cluster, seen: u64, moved: bool, wait: bool, round: usize) -> Result<()> {
    if moved {
        cluster.refresh(seen).await?;
    }
    if wait {
        tokio::time::sleep(Duration::from_millis(50u64 << round.min(4))).await;
    }
    Ok(())
}

/// Run `pipe` on the cluster; replies as a single node's pipeline gives them.
pub async fn run(cluster: &Cluster, pipe: &Pipe) -> Result<Vec<Value>> {
    let mut combines = Vec::new();
    let mut parts = Vec::new();
    for (of, cmd) in pipe.inner.cmd_iter().enumerate() {
        let (combine, p) = split(cmd, of);
        combines.push(combine);
        parts.extend(p);
    }
    let one_slot = matches!(parts.first(), Some(p) if matches!(p.route, Route::Slot(_)))
        && parts.iter().all(|p| p.route == parts[0].route);
    let replies = if pipe.atomic && one_slot && combines.iter().all(|c| *c == Combine::One) {
        run_atomic(cluster, pipe).await?
    } else {
        run_parts(cluster, parts, &combines).await?
    };
    let mut out = Vec::with_capacity(replies.len());
    for (reply, ignored) in replies.into_iter().zip(&pipe.ignored) {
        if let Value::ServerError(e) = &reply {
            if !pipe.ignore_errors {
                return Err(redis::RedisError::from(e.clone()).into());
            }
        }
        if !ignored {
            out.push(reply);
        }
    }
    Ok(out)
}

/// MULTI/EXEC of commands of one slot, on its master.
async fn run_atomic(cluster: &Cluster, pipe: &Pipe) -> Result<Vec<Value>> {
    let mut all = redis::pipe();
    all.atomic();
    for cmd in pipe.inner.cmd_iter() {
        all.add_command(cmd.clone());
    }
    let args = args_of(pipe.inner.cmd_iter().next().expect("one slot"));
    let Route::Slot(slot) = route(&args) else {
        unreachable!("one slot")
    };
    for _ in 0..ROUNDS {
        let topology = cluster.topology();
        let node = served(&topology, slot)?;
        match node.pipeline(&all).await {
            Err(Error::Redis(msg)) if msg.contains("MOVED") || msg.contains("TRYAGAIN") => {
                cluster.refresh(topology.generation).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
    Err(Error::RedisUnavailable(
        "the Redis Cluster kept moving this transaction's slot".into(),
    ))
}

fn any_master(topology: &cluster::Topology) -> Result<Arc<Node>> {
    topology
        .masters
        .first()
        .cloned()
        .ok_or_else(|| Error::RedisUnavailable("the Redis Cluster has no master".into()))
}

fn served(topology: &cluster::Topology, slot: u16) -> Result<Arc<Node>> {
    topology
        .node_of_slot(slot)
        .cloned()
        .ok_or_else(|| Error::RedisUnavailable(format!("no Redis Cluster master serves hash slot {slot}")))
}

/// Send every part to its node (all nodes at once), follow redirections,
/// and combine the parts' replies per command.
async fn run_parts(cluster: &Cluster, mut pending: Vec<Part>, combines: &[Combine]) -> Result<Vec<Value>> {
    let mut done: Vec<(Part, Value)> = Vec::new();
    for round in 0.. {
        if pending.is_empty() {
            break;
        }
        if round == ROUNDS {
            return Err(kept_redirecting());
        }
        let topology = cluster.topology();
        // Parts per node.
        let mut batches: Vec<(Arc<Node>, Vec<Part>)> = Vec::new();
        for part in pending.drain(..) {
            let targets: Vec<Arc<Node>> = match (&part.ask, part.route) {
                (Some(n), _) => vec![n.clone()],
                (None, Route::Slot(s)) => vec![served(&topology, s)?],
                (None, Route::Any) => vec![any_master(&topology)?],
                (None, Route::AllMasters) => topology.masters.clone(),
            };
            for (i, node) in targets.into_iter().enumerate() {
                // AllMasters: the first master's reply stands; the others' only need to succeed.
                let p = Part {
                    cmd: part.cmd.clone(),
                    route: part.route,
                    of: if i == 0 { part.of } else { usize::MAX },
                    keys_at: part.keys_at.clone(),
                    ask: part.ask.clone(),
                };
                match batches.iter_mut().find(|(n, _)| Arc::ptr_eq(n, &node)) {
                    Some((_, v)) => v.push(p),
                    None => batches.push((node, vec![p])),
                }
            }
        }
        let sent = batches.into_iter().map(|(node, parts)| async move {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            for p in &parts {
                if p.ask.is_some() {
                    pipe.cmd("ASKING").ignore();
                }
                pipe.add_command(p.cmd.clone());
            }
            let replies = node.pipeline(&pipe).await;
            (parts, replies)
        });
        let mut refresh = false;
        let mut wait = false;
        for (parts, replies) in futures::future::join_all(sent).await {
            let replies = replies?;
            for (mut part, reply) in parts.into_iter().zip(replies) {
                let redirected = match &reply {
                    Value::ServerError(e) => redirect(e.code(), e.details()),
                    _ => None,
                };
                match redirected {
                    None if part.of == usize::MAX => {
                        if let Value::ServerError(e) = reply {
                            return Err(redis::RedisError::from(e).into());
                        }
                    }
                    None => done.push((part, reply)),
                    Some(Redirect::Moved) => {
                        refresh = true;
                        part.ask = None;
                        pending.push(part);
                    }
                    Some(Redirect::Ask(addr)) => {
                        part.ask = Some(cluster.node(&addr).await?);
                        pending.push(part);
                    }
                    Some(Redirect::TryAgain) => {
                        wait = true;
                        part.ask = None;
                        pending.push(part);
                    }
                }
            }
        }
        after_round(cluster, topology.generation, refresh, wait, round).await?;
    }
    Ok(combine(done, combines))
}

/// [`super::Store::pipeline_own`] on a cluster: the commands (each its
/// arguments) sent to their nodes' pooled RESP3 connections, all nodes at
/// once, redirections followed; one reply of their frames in order.
pub async fn run_own<A: AsRef<[u8]>>(cluster: &Cluster, commands: &[&[A]]) -> Result<resp3::Reply> {
    let args: Vec<Vec<&[u8]>> = commands.iter().map(|c| c.iter().map(AsRef::as_ref).collect()).collect();
    let mut pending: Vec<(usize, Option<Arc<Node>>)> = (0..args.len()).map(|i| (i, None)).collect();
    let mut parts: Vec<resp3::Reply> = Vec::new();
    let mut order = vec![(usize::MAX, 0); args.len()];
    for round in 0.. {
        if pending.is_empty() {
            break;
        }
        if round == ROUNDS {
            return Err(kept_redirecting());
        }
        let topology = cluster.topology();
        // Per node: the commands sent to it, and whether each goes after ASKING.
        let mut batches: Vec<(Arc<Node>, Asked)> = Vec::new();
        for (i, ask) in pending.drain(..) {
            let node = match (&ask, route(&args[i])) {
                (Some(n), _) => n.clone(),
                (None, Route::Slot(s)) => served(&topology, s)?,
                (None, _) => any_master(&topology)?,
            };
            match batches.iter_mut().find(|(n, _)| Arc::ptr_eq(n, &node)) {
                Some((_, v)) => v.push((i, ask.is_some())),
                None => batches.push((node, vec![(i, ask.is_some())])),
            }
        }
        let args = &args;
        let sent = batches.into_iter().map(|(node, cmds)| async move {
            let asking: &[&[u8]] = &[b"ASKING"];
            let mut list: Vec<&[&[u8]]> = Vec::with_capacity(cmds.len());
            for &(i, ask) in &cmds {
                if ask {
                    list.push(asking);
                }
                list.push(args[i].as_slice());
            }
            let reply = node.pipeline_own(list).await;
            (cmds, reply)
        });
        let (mut refresh, mut wait) = (false, false);
        for (cmds, reply) in futures::future::join_all(sent).await {
            let reply = reply?;
            let part = parts.len();
            let mut frames = reply.frames().enumerate();
            for (i, ask) in cmds {
                if ask {
                    frames.next();
                }
                let Some((at, frame)) = frames.next() else {
                    return Err(Error::Redis(
                        "a Redis Cluster node sent fewer replies than commands".into(),
                    ));
                };
                let error = frame.error().map(String::from_utf8_lossy);
                let redirected = error.as_deref().and_then(|e| {
                    let (code, details) = e.split_once(' ').map_or((e, None), |(c, d)| (c, Some(d)));
                    redirect(code, details)
                });
                match redirected {
                    None => order[i] = (part, at),
                    Some(Redirect::Moved) => {
                        refresh = true;
                        pending.push((i, None));
                    }
                    Some(Redirect::Ask(addr)) => pending.push((i, Some(cluster.node(&addr).await?))),
                    Some(Redirect::TryAgain) => {
                        wait = true;
                        pending.push((i, None));
                    }
                }
            }
            drop(frames);
            parts.push(reply);
        }
        after_round(cluster, topology.generation, refresh, wait, round).await?;
    }
    resp3::Reply::merge(parts, &order)
}

/// Commands by their position, each with whether it follows `ASKING`.
type Asked = Vec<(usize, bool)>;

/// Each command's reply from the replies of its parts.
fn combine(done: Vec<(Part, Value)>, combines: &[Combine]) -> Vec<Value> {
    let mut out: Vec<Option<Value>> = vec![None; combines.len()];
    for (part, reply) in done {
        let slot = &mut out[part.of];
        match combines[part.of] {
            Combine::One => *slot = Some(reply),
            Combine::Sum => {
                *slot = Some(match (slot.take(), reply) {
                    (Some(Value::ServerError(e)), _) | (_, Value::ServerError(e)) => Value::ServerError(e),
                    (None, Value::Int(n)) => Value::Int(n),
                    (Some(Value::Int(a)), Value::Int(b)) => Value::Int(a + b),
                    (_, other) => other,
                })
            }
            Combine::Concat => {
                let n = part.keys_at.iter().max().map_or(0, |m| m + 1);
                let merged = match (slot.take(), reply) {
                    (Some(Value::ServerError(e)), _) | (_, Value::ServerError(e)) => Value::ServerError(e),
                    (prev, Value::Array(items)) => {
                        let mut all = match prev {
                            Some(Value::Array(a)) => a,
                            _ => Vec::new(),
                        };
                        if all.len() < n {
                            all.resize(n, Value::Nil);
                        }
                        for (&at, item) in part.keys_at.iter().zip(items) {
                            all[at] = item;
                        }
                        Value::Array(all)
                    }
                    (_, other) => other,
                };
                *slot = Some(merged);
            }
        }
    }
    out.into_iter().map(|v| v.unwrap_or(Value::Nil)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_routed_by_their_key() {
        assert_eq!(route(&[b"HGETALL", b"sale:1"]), Route::Slot(4774));
        assert_eq!(route(&[b"evalsha", b"abc", b"1", b"sale:1", b"x"]), Route::Slot(4774));
        assert_eq!(route(&[b"EVALSHA", b"abc", b"0", b"x"]), Route::Any);
        assert_eq!(route(&[b"SCRIPT", b"LOAD", b"return 1"]), Route::AllMasters);
        assert_eq!(route(&[b"FT._LIST"]), Route::Any);
        assert_eq!(route(&[b"FT.SEARCH", b"idx", b"*"]), Route::Slot(15755));
    }

    #[test]
    fn multi_key_commands_are_split_per_slot_and_combined() {
        let mut exists = redis::cmd("EXISTS");
        exists.arg("sale:1").arg("a{sale}b").arg("sale").arg("b{sale}");
        let (c, parts) = split(&exists, 0);
        assert!(c == Combine::Sum);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].keys_at, [1, 2, 3]);
        let mut mget = redis::cmd("JSON.MGET");
        mget.arg("sale:1").arg("sale").arg("$");
        let (c, parts) = split(&mget, 0);
        assert!(c == Combine::Concat);
        assert_eq!(args_of(&parts[1].cmd), [b"JSON.MGET".as_slice(), b"sale", b"$"]);
        let done: Vec<(Part, Value)> = parts
            .into_iter()
            .rev()
            .map(|p| {
                let v = Value::Array(vec![Value::Int(p.keys_at[0] as i64)]);
                (p, v)
            })
            .collect();
        assert_eq!(
            combine(done, &[Combine::Concat]),
            [Value::Array(vec![Value::Int(0), Value::Int(1)])]
        );
    }
}
