//! The command line: the whole program behind the binary, kept in the
//! library so test suites can build the same program under their own name.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// The GPES agent.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Configuration file (TOML).
    #[arg(long, short, env = "GPES_AGENT_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Enroll with the coordinator using a one-time token from an operator.
    Enroll {
        /// The token (`gpes-enroll-v1.…`).
        #[arg(long, env = "GPES_ENROLL_TOKEN")]
        token: String,
    },
    /// Run: take jobs, extract, return results, until stopped.
    Run,
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
    let Some(path) = args.config else {
        eprintln!("gpes-agent: give a configuration file with --config (or GPES_AGENT_CONFIG)");
        return ExitCode::from(2);
    };
    let config = match crate::Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gpes-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let result =
        match args.command {
            Command::Enroll { token } => crate::identity::enroll(&config.data_dir, &token)
                .await
                .map(|e| {
                    println!(
                        "enrolled as {} serving {}",
                        e.agent_id,
                        e.practices.join(", ")
                    );
                }),
            Command::Run => {
                // Plugins are checked first: an unsigned, badly signed or
                // untrusted plugin is a configuration error, and nothing
                // is opened or created.
                let runner = match crate::runner::Runner::new(&config).await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("gpes-agent: {e:#}");
                        let refused = e.downcast_ref::<crate::runner::PluginRefused>().is_some();
                        return ExitCode::from(if refused { 2 } else { 1 });
                    }
                };
                run(config, runner).await
            }
        };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gpes-agent: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: crate::Config, runner: crate::runner::Runner) -> anyhow::Result<()> {
    let identity = crate::identity::load(&config.data_dir)?;
    let daemon = crate::daemon::Daemon::new(config, identity, runner)?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        } else {
            let _ = tokio::signal::ctrl_c().await;
        }
        stop.cancel();
    });
    daemon.run(shutdown).await;
    Ok(())
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
