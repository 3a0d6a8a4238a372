//! The `salonbot` command line: `serve`, `migrate` and `flows check` (the chat simulator and the
//! free-text probe join as their issues land).

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::engine::check::{TemplateDir, check_dir};
use crate::engine::{Flow, FlowError, lock, mermaid};
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
    /// Work with the conversation flows (`flows/*.toml`).
    Flows {
        #[command(subcommand)]
        command: FlowsCommand,
    },
}

/// `salonbot flows …`
#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Check every flow file (with `file:line` errors); exit non-zero if any is invalid.
    Check {
        /// The flows directory (default: FLOWS_DIR). Templates are read from `<DIR>/../templates`.
        dir: Option<PathBuf>,
        /// Print each flow as a Mermaid state diagram on stdout (the `ok:` lines go to stderr).
        #[arg(long)]
        graph: bool,
        /// After a successful check, record each flow's states as accepted (`<DIR>/<name>.lock`).
        #[arg(long)]
        accept: bool,
    },
}

impl Cli {
    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        match self.command {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Flows {
                command: FlowsCommand::Check { dir, graph, accept },
            } => flows_check(&dir.unwrap_or(config.flows_dir), graph, accept),
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for signals before anything else, so one that arrives while starting up still stops
    // the server cleanly once it runs, instead of killing it half-started.
    let shutdown = shutdown_signal();
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
    app.serve(listener, shutdown).await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url, &StoreOptions::default()).await?;
    store.migrate().await?;
    tracing::info!(storage = %config.database_url.describe(), "migrations applied");
    Ok(())
}

/// `flows check`: every problem one per line on stderr (and an error), or one `ok:` line per flow.
fn flows_check(dir: &Path, graph: bool, accept: bool) -> anyhow::Result<()> {
    let templates = TemplateDir::next_to(dir);
    let flows = check_dir(dir, &templates).map_err(|errors| report(dir, &errors))?;
    for flow in &flows {
        let line = format!(
            "ok: {} ({} v{}, {} states)",
            flow.file,
            flow.name,
            flow.version,
            flow.states.len()
        );
        if graph {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    if accept {
        accept_all(dir, &flows)?;
    }
    if graph {
        let diagrams: Vec<_> = flows.iter().map(mermaid).collect();
        print!("{}", diagrams.join("\n"));
    }
    Ok(())
}

fn report(dir: &Path, errors: &[FlowError]) -> anyhow::Error {
    for error in errors {
        eprintln!("{error}");
    }
    anyhow::anyhow!(
        "{} problem(s) in the flows of {}",
        errors.len(),
        dir.display()
    )
}

fn accept_all(dir: &Path, flows: &[Flow]) -> anyhow::Result<()> {
    for flow in flows {
        let path = lock::accept(dir, flow)
            .map_err(|e| anyhow::anyhow!("cannot write the lock of flow {}: {e}", flow.name))?;
        eprintln!(
            "accepted: {} ({} v{})",
            path.display(),
            flow.name,
            flow.version
        );
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what container platforms send). The handlers are installed
/// when this is called, not when the future is first polled.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {}
                _ = wait(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
