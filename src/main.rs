use std::process::ExitCode;

use clap::Parser;
use salonbot::cli::{Cli, Command};
use salonbot::config::Config;
use salonbot::telemetry::LogOutput;
use salonbot::worker::pipeline::SetupError;

/// Many small allocations freed on other threads (JSON, HTTP, SQL rows): mimalloc serves them with
/// less CPU than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is normal; a present one fills only variables the environment does not set.
    let _ = dotenvy::dotenv();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let serve = matches!(cli.command, Command::Serve);
    let output = if serve {
        LogOutput::Stdout
    } else {
        LogOutput::Stderr
    };
    salonbot::telemetry::init_tracing(&config, output);
    match cli.run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A server's failure belongs in its logs as well; a command's is the line below.
            if serve {
                tracing::error!("{err:#}");
            }
            eprintln!("error: {err:#}");
            // 2: something to fix in the configuration (as for an invalid environment); 1: a failure.
            if err.downcast_ref::<SetupError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
