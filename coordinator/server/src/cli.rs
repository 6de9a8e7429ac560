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
    /// Make the CA, the 256-bit admin token and the audit key in the data
    /// directory, once (files already there are kept), then exit. Replicas
    /// over one PostgreSQL are given copies of these files and refuse to
    /// start without them.
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
                    "initialised {}: {} (copy them to every replica's data_dir when database_url is set)",
                    config.data_dir.display(),
                    crate::server::init_files()
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gpes-coordinator init: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let clock: Arc<dyn gpes_schedule::Clock> = match std::env::var(TEST_CLOCK_ENV) {
        Err(_) => Arc::new(gpes_schedule::SystemClock),
        Ok(text) => match parse_test_clock(&text) {
            Ok(clock) => {
                tracing::warn!(
                    env = TEST_CLOCK_ENV,
                    value = %text,
                    "this coordinator's clock is sped up, for tests only: unset it in production"
                );
                Arc::new(clock)
            }
            Err(e) => {
                eprintln!("gpes-coordinator: {TEST_CLOCK_ENV}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let shutdown = CancellationToken::new();
    let running = match crate::start(config, clock, shutdown.clone()).await {
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

/// Environment variable for tests of real processes only: `SPEED@ORIGIN`
/// (an integer from 1 to 3600, and Unix milliseconds) runs the
/// coordinator's clock `SPEED` times faster from `ORIGIN`
/// ([`gpes_schedule::ScaledClock`]), so a test sees several due times of a
/// minute-granular schedule in seconds; replicas given the same value agree
/// on the time. Everything timed by the coordinator's clock speeds up with
/// it (schedules, job leases, run deadlines); the scheduler's lease among
/// replicas is timed by the store's clock and does not. A warning is
/// logged at start when it is set; a malformed value stops the start.
pub const TEST_CLOCK_ENV: &str = "GPES_COORDINATOR_TEST_CLOCK";

fn parse_test_clock(text: &str) -> Result<gpes_schedule::ScaledClock, String> {
    let usage = "expected SPEED@ORIGIN_MS, e.g. 6@1767225600000 (for tests only)";
    let (speed, origin) = text
        .split_once('@')
        .ok_or_else(|| format!("'{text}': {usage}"))?;
    let speed: u32 = speed
        .trim()
        .parse()
        .ok()
        .filter(|s| (1..=3600).contains(s))
        .ok_or_else(|| format!("speed '{speed}' must be an integer from 1 to 3600; {usage}"))?;
    let origin = origin
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| format!("origin '{origin}' must be Unix milliseconds; {usage}"))?;
    Ok(gpes_schedule::ScaledClock::new(origin, speed))
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_test_clock_is_read_or_refused_with_its_form() {
        assert!(super::parse_test_clock("6@1767225600000").is_ok());
        for bad in ["6", "0@1767225600000", "x@1", "6@soon", "9999@1"] {
            let e = super::parse_test_clock(bad).expect_err(bad);
            assert!(e.contains("SPEED@ORIGIN_MS"), "{e}");
        }
    }
}
