//! `redsql` command line.

use std::time::Duration;

use clap::{Parser, Subcommand};
use redsql::catalog::CatalogOptions;
use redsql::{Config, Server};

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
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REDSQL_LISTEN", default_value = "127.0.0.1:5433")]
    listen: String,
    /// Redis to serve (redis://[user:password@]host:port[/db]). Without it,
    /// redsql starts a private redis-server and stops it on exit.
    #[arg(long, env = "REDSQL_REDIS_URL")]
    redis: Option<String>,
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
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REDSQL_LOG").unwrap_or_else(|_| "redsql=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        listen: args.listen,
        redis_url: args.redis,
        catalog: CatalogOptions {
            sample_size: args.sample_size.max(1),
            refresh_interval: Duration::from_secs(args.refresh_seconds.max(1)),
        },
        demo: args.demo,
        data_dir: args.data_dir,
    };
    let server = Server::start(config).await?;
    let addr = server.local_addr();
    eprintln!(
        "redsql is ready: psql -h {} -p {} (Redis: {})",
        addr.ip(),
        addr.port(),
        server.redis_url()
    );
    shutdown_signal().await;
    eprintln!("redsql: shutting down");
    server.shutdown().await;
    Ok(())
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
