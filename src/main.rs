//! `redsql` command line.

use std::time::Duration;

use clap::{Parser, Subcommand};
use redsql::catalog::CatalogOptions;
use redsql::server::AuthConfig;
use redsql::session::auth::{scram_verifier, Method, Secret, User, Users};
use redsql::{Config, Server};

/// mimalloc instead of glibc malloc: many small allocations from many
/// threads (per-query plans, RESP replies, row encoding) contend on glibc's
/// arena locks; see docs/performance.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "redsql", version, about = "PostgreSQL-wire SQL over data staged in Redis")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve SQL over the PostgreSQL wire protocol.
    Serve(ServeArgs),
    /// Load a CSV, text, Parquet, JSON or NDJSON file into a new table.
    Load(LoadArgs),
    /// Print a SCRAM-SHA-256 verifier for a password read from standard
    /// input, for a users file (`name verifier [read-only]`).
    HashPassword,
}

#[derive(clap::Args)]
struct LoadArgs {
    /// The file (format from --format or the extension: .csv .tsv .txt .parquet .json .ndjson .jsonl).
    file: std::path::PathBuf,
    /// The table to create (or append to, or replace).
    #[arg(long)]
    table: String,
    /// The column whose value is each row's key id (`<prefix><id>`).
    #[arg(long)]
    key: String,
    /// Redis to load into (redis://, rediss:// for TLS, redis+unix://).
    #[arg(long, env = "REDSQL_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    #[command(flatten)]
    redis_tls: RedisTlsArgs,
    /// csv, text, parquet, json or ndjson.
    #[arg(long)]
    format: Option<String>,
    /// Key prefix (default `<table>:`).
    #[arg(long)]
    prefix: Option<String>,
    /// Seconds each loaded row lives.
    #[arg(long)]
    ttl: Option<u64>,
    /// hash or json (RedisJSON documents).
    #[arg(long, default_value = "hash")]
    storage: String,
    /// When the table exists: fail, replace (drop it first) or append.
    #[arg(long, default_value = "fail", value_parser = ["fail", "replace", "append"])]
    if_exists: String,
    /// When a key repeats (in the file, or against existing rows when appending): fail or replace.
    #[arg(long, default_value = "fail", value_parser = ["fail", "replace"])]
    on_duplicate: String,
    /// Field delimiter of CSV and text files.
    #[arg(long)]
    delimiter: Option<char>,
    /// Do not draw the progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// TLS towards Redis, for rediss:// URLs.
#[derive(clap::Args)]
struct RedisTlsArgs {
    /// CA certificate(s) (PEM) that Redis' certificate is checked against;
    /// without it, the system's trusted roots.
    #[arg(long, env = "REDSQL_REDIS_CA")]
    redis_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for a Redis that asks for one
    /// (tls-auth-clients); needs --redis-key.
    #[arg(long, env = "REDSQL_REDIS_CERT", requires = "redis_key")]
    redis_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "REDSQL_REDIS_KEY", requires = "redis_cert")]
    redis_key: Option<std::path::PathBuf>,
}

impl RedisTlsArgs {
    fn settings(self) -> redsql::store::RedisTls {
        redsql::store::RedisTls {
            ca: self.redis_ca,
            client: self.redis_cert.zip(self.redis_key),
        }
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REDSQL_LISTEN", default_value = "127.0.0.1:5433")]
    listen: String,
    /// Redis to serve (redis://[user:password@]host:port[/db], rediss://
    /// for TLS, redis+unix:///path). Without it, redsql starts a private
    /// redis-server and stops it on exit.
    #[arg(long, env = "REDSQL_REDIS_URL")]
    redis: Option<String>,
    #[command(flatten)]
    redis_tls: RedisTlsArgs,
    /// Keys sampled per table to infer its schema.
    #[arg(long, env = "REDSQL_SAMPLE_SIZE", default_value_t = 1000)]
    sample_size: usize,
    /// Seconds between background rescans of the keyspace for tables.
    #[arg(long, env = "REDSQL_REFRESH_SECONDS", default_value_t = 10)]
    refresh_seconds: u64,
    /// Load the demo dataset (sale:<id> hashes) unless sale:* keys exist.
    #[arg(long)]
    demo: bool,
    /// The only directory server-side `COPY ... FROM/TO 'file'` may read and
    /// write. Without it, server files are refused.
    #[arg(long, env = "REDSQL_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// How clients authenticate: scram-sha-256, md5, password (cleartext) or
    /// trust. Default: scram-sha-256 when there are users, else trust (only
    /// allowed on a loopback address unless given explicitly).
    #[arg(long, env = "REDSQL_AUTH_METHOD")]
    auth_method: Option<String>,
    /// Users who may connect: one a line, `name secret [read-only]`; the
    /// secret is a SCRAM-SHA-256 verifier (`redsql hash-password`), an md5
    /// hash or the password. REDSQL_USER (default redsql) and
    /// REDSQL_PASSWORD add one user.
    #[arg(long, env = "REDSQL_USERS_FILE")]
    users_file: Option<std::path::PathBuf>,
    /// Refuse every change: writes, DDL, COPY FROM, COPY to server files.
    #[arg(long, env = "REDSQL_READ_ONLY")]
    read_only: bool,
    /// Client connections allowed at once; one more is refused (53300).
    #[arg(long, env = "REDSQL_MAX_CONNECTIONS", default_value_t = 100)]
    max_connections: usize,
    /// Memory redsql may use (resident): past it, running statements are
    /// stopped with 53200 (out_of_memory). `auto`: half the machine's (or
    /// cgroup's) memory; `off`; or a size such as 4GB or 512MB.
    #[arg(long, env = "REDSQL_MAX_MEMORY", default_value = "auto")]
    max_memory: String,
    /// Rows one statement may read from Redis into memory (a scan or fetch
    /// it holds whole); past it, 53400. 0: no limit. Sessions can change
    /// theirs: SET redsql.max_query_rows.
    #[arg(long, env = "REDSQL_MAX_QUERY_ROWS", default_value_t = 0)]
    max_query_rows: u64,
    /// TLS certificate chain (PEM) offered to clients that ask for TLS
    /// (sslmode=require); needs --tls-key.
    #[arg(long, env = "REDSQL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "REDSQL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Refuse clients that do not use TLS (28000).
    #[arg(long, env = "REDSQL_TLS_REQUIRED")]
    tls_required: bool,
}

/// The users of the users file and of REDSQL_USER/REDSQL_PASSWORD.
fn users(file: Option<&std::path::Path>) -> anyhow::Result<Users> {
    let mut users = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read users file {}: {e}", path.display()))?;
            Users::parse(&text)?
        }
        None => Users::default(),
    };
    if let Ok(password) = std::env::var("REDSQL_PASSWORD") {
        let name = std::env::var("REDSQL_USER").unwrap_or_else(|_| "redsql".into());
        let user = User {
            secret: Secret::parse(&password)?,
            read_only: false,
        };
        users.add(&name, user);
    }
    Ok(users)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REDSQL_LOG").unwrap_or_else(|_| "redsql=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Parsing, rewriting and planning recurse over the statement's tree: a
    // long chain (`a || b || ...`, `UNION ALL` of hundreds of SELECTs, casts)
    // took more than the default 2 MB of stack and aborted the server (the
    // SQL fuzzer: 500 casts). Stacks are reserved, not used, until needed.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(redsql::sql::THREAD_STACK)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Load(args) => load(args).await,
            Command::HashPassword => {
                let mut password = String::new();
                std::io::stdin().read_line(&mut password)?;
                let password = password.trim_end_matches(['\n', '\r']);
                anyhow::ensure!(!password.is_empty(), "no password on standard input");
                println!("{}", scram_verifier(password));
                Ok(())
            }
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        listen: args.listen,
        redis_url: args.redis,
        redis_tls: args.redis_tls.settings(),
        catalog: CatalogOptions {
            sample_size: args.sample_size.max(1),
            refresh_interval: Duration::from_secs(args.refresh_seconds.max(1)),
        },
        demo: args.demo,
        data_dir: args.data_dir,
        auth: AuthConfig {
            method: args.auth_method.as_deref().map(Method::parse).transpose()?,
            users: users(args.users_file.as_deref())?,
            read_only: args.read_only,
            max_connections: args.max_connections.max(1),
            tls: args.tls_cert.zip(args.tls_key),
            require_tls: args.tls_required,
        },
    };
    match redsql::exec::memory::parse_limit(&args.max_memory)? {
        Some(limit) => {
            redsql::exec::memory::guard(limit);
            tracing::info!(limit_mb = limit >> 20, "memory limit (--max-memory)");
        }
        None => tracing::info!("no memory limit (--max-memory off)"),
    }
    redsql::exec::budget::set_default(args.max_query_rows);
    let server = Server::start(config).await?;
    let addr = server.local_addr();
    eprintln!(
        "redsql is ready: psql -h {} -p {} (Redis: {})",
        addr.ip(),
        addr.port(),
        redsql::store::redacted(server.redis_url())
    );
    shutdown_signal().await;
    eprintln!("redsql: shutting down");
    server.shutdown().await;
    Ok(())
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let args = redsql::load_cli::LoadArgs {
        file: args.file,
        redis_url: args.redis,
        redis_tls: args.redis_tls.settings(),
        table: args.table,
        key: args.key,
        format: args.format,
        prefix: args.prefix,
        ttl: args.ttl,
        storage: args.storage,
        if_exists: args.if_exists,
        on_duplicate: args.on_duplicate,
        delimiter: args.delimiter,
        progress: !args.no_progress,
    };
    match redsql::load_cli::run(&args).await {
        Ok(summary) => {
            eprintln!(
                "loaded {} rows into {} in {:.2} s ({:.0} rows/s)",
                summary.rows,
                args.table,
                summary.elapsed.as_secs_f64(),
                summary.rows_per_second()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("redsql load: ERROR {}: {e}", e.sqlstate());
            std::process::exit(1);
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
