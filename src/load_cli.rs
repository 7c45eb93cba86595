//! `redsql load FILE --table T --key K`: load a local file straight into
//! Redis (no server needed), with a progress bar on stderr and a final
//! rows/s figure. The same code path as `CREATE TABLE ... WITH (source = ...)`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, CatalogOptions};
use crate::error::{Error, Result};
use crate::exec::files::{kind_of, DataDir, FileKind};
use crate::exec::load::{IfExists, LoadSpec};
use crate::exec::write::Conflict;
use crate::exec::Engine;
use crate::store::Store;

/// What `redsql load` was asked to do.
#[derive(Clone, Debug)]
pub struct LoadArgs {
    pub file: PathBuf,
    pub redis_url: String,
    /// TLS settings for a `rediss://` URL.
    pub redis_tls: crate::store::RedisTls,
    pub table: String,
    pub key: String,
    pub format: Option<String>,
    pub prefix: Option<String>,
    pub ttl: Option<u64>,
    pub storage: String,
    pub if_exists: String,
    pub on_duplicate: String,
    pub delimiter: Option<char>,
    pub progress: bool,
}

/// What a load did.
#[derive(Clone, Debug)]
pub struct LoadSummary {
    pub rows: usize,
    pub elapsed: Duration,
}

impl LoadSummary {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Run a load; progress goes to stderr.
pub async fn run(args: &LoadArgs) -> Result<LoadSummary> {
    let path = args
        .file
        .canonicalize()
        .map_err(|e| Error::Data("58P01", format!("{}: {e}", args.file.display())))?;
    let kind = kind_of(&path, args.format.as_deref().map(FileKind::from_name).transpose()?)?;
    let mut spec = LoadSpec::new(&args.table, &args.key, kind);
    spec.prefix = args.prefix.clone();
    spec.ttl = args.ttl;
    spec.storage = match args.storage.as_str() {
        "json" => crate::catalog::STORAGE_JSON,
        "hash" => crate::catalog::STORAGE_HASH,
        other => return Err(Error::Data("22023", format!("--storage is hash or json, not {other}"))),
    };
    spec.if_exists = IfExists::parse(&args.if_exists)?;
    spec.on_duplicate = match args.on_duplicate.as_str() {
        "fail" => Conflict::Fail,
        "replace" => Conflict::Replace,
        other => {
            return Err(Error::Data(
                "22023",
                format!("--on-duplicate is fail or replace, not {other}"),
            ))
        }
    };
    if let Some(d) = args.delimiter {
        spec.format.delimiter = d;
    }

    let store = Store::connect_with(&args.redis_url, &args.redis_tls).await?;
    let catalog = Catalog::new(store, CatalogOptions::default());
    catalog.refresh().await?;
    let engine = Engine::new(catalog, DataDir::default());

    let started = Instant::now();
    let bar = Bar::new(args.progress && std::io::stderr().is_terminal(), started);
    let rows = engine
        .load_file(&spec, &path, Some(&|rows, done| bar.update(rows, done)))
        .await;
    bar.clear();
    let rows = rows?;
    Ok(LoadSummary {
        rows,
        elapsed: started.elapsed(),
    })
}

/// A one-line progress bar, redrawn at most ten times a second.
struct Bar {
    enabled: bool,
    started: Instant,
    last: Mutex<Option<Instant>>,
}

impl Bar {
    fn new(enabled: bool, started: Instant) -> Bar {
        Bar {
            enabled,
            started,
            last: Mutex::new(None),
        }
    }

    fn update(&self, rows: usize, done: f64) {
        if !self.enabled {
            return;
        }
        let mut last = self.last.lock().expect("progress lock");
        if last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        *last = Some(Instant::now());
        let done = done.clamp(0.0, 1.0);
        let width = 30;
        let filled = (done * width as f64) as usize;
        let rate = rows as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r[{}{}] {:>3.0}% {rows} rows, {rate:.0} rows/s ",
            "#".repeat(filled),
            "-".repeat(width - filled),
            done * 100.0
        );
        let _ = std::io::stderr().flush();
    }

    fn clear(&self) {
        if self.enabled && self.last.lock().expect("progress lock").is_some() {
            eprint!("\r{:70}\r", "");
        }
    }
}
