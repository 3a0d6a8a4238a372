//! The `salonbot` command line: `serve` and `migrate` (the flow checker, the chat simulator and the
//! free-text probe join as their issues land).

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::store::{Store, StoreOptions};

#[derive(Debug, Parser)]
#[command(name = "salonbot", version, about = "WhatsApp booking bot for salons")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve webhooks, workers and operations endpoints.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

impl Cli {
    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        match self.command {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen_addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {} (LISTEN_ADDR): {e}", config.listen_addr)
    })?;
    let storage = config.database_url.describe();
    let integrations = config.integrations();
    let app = App::build(config).await?;
    tracing::info!(
        address = %listener.local_addr()?,
        storage = %storage,
        salon = %app.state().catalog.salon().name,
        version = env!("CARGO_PKG_VERSION"),
        "salonbot listening on http://{}",
        listener.local_addr()?
    );
    for (name, state) in integrations {
        tracing::info!(integration = name, state, "{name}: {state}");
    }
    app.serve(listener, shutdown_signal()).await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url, &StoreOptions::default()).await?;
    store.migrate().await?;
    tracing::info!(storage = %config.database_url.describe(), "migrations applied");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what container platforms send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
