use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The GPES coordinator.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Configuration file (TOML).
    #[arg(long, short, env = "GPES_COORDINATOR_CONFIG")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match gpes_coordinator::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gpes-coordinator: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    let running = match gpes_coordinator::start(
        config,
        Arc::new(gpes_schedule::SystemClock),
        shutdown.clone(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gpes-coordinator: {e:#}");
            return std::process::ExitCode::from(1);
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
    std::process::ExitCode::SUCCESS
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
