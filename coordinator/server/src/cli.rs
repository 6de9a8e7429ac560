//! The command line: the whole program behind the binary, kept in the
//! library so test suites can build the same program under their own name.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The GPES coordinator.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Configuration file (TOML).
    #[arg(long, short, env = "GPES_COORDINATOR_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Make the CA and the 256-bit admin token in the data directory, once
    /// (files already there are kept), then exit. Replicas over one
    /// PostgreSQL are given copies of these files.
    Init,
    /// Serve (the default).
    Serve,
}

async fn async_main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let Some(config_path) = args.config else {
        eprintln!("gpes-coordinator: --config FILE (or GPES_COORDINATOR_CONFIG) is needed");
        return ExitCode::from(2);
    };
    let config = match crate::Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gpes-coordinator: {e}");
            return ExitCode::from(2);
        }
    };
    if matches!(args.command, Some(Command::Init)) {
        return match crate::init(&config.data_dir) {
            Ok(()) => {
                println!(
                    "initialised {}: the CA in ca/, the admin token in {}",
                    config.data_dir.display(),
                    crate::ADMIN_TOKEN_FILE
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gpes-coordinator init: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let shutdown = CancellationToken::new();
    let running = match crate::start(
        config,
        Arc::new(gpes_schedule::SystemClock),
        shutdown.clone(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gpes-coordinator: {e:#}");
            return ExitCode::from(1);
        }
    };
    // Print where we listen, for scripts that start us on port 0.
    println!(
        "agent_addr={} operator_addr={}",
        running.agent_addr, running.operator_addr
    );
    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    if tokio::time::timeout(std::time::Duration::from_secs(10), running.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 10 s");
    }
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Runs the program as the binary does.
pub fn main() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async_main()),
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}
