//! gpes-plugin: the plugin author's tool. One module per command; this file
//! only parses the command line and maps errors to exit codes (0 done,
//! 1 refused or failed, 2 bad usage).

mod conformance;
mod keygen;
mod load;
mod queries;
mod run;
mod sign;
mod synth;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(version, about = "The GPES plugin author's tool")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Make a supplier signing key (private and public key files).
    Keygen(keygen::Args),
    /// Sign a plugin: write its manifest, filled from its own `describe`,
    /// with the supplier's signature.
    Sign(sign::Args),
    /// Check a plugin as an agent would: signature, hash and `describe`.
    Verify(verify::Args),
    /// Run a plugin over a data folder: a query's answer, or every record,
    /// with the plugin's warnings.
    Run(run::Args),
    /// Write a synthetic practice in a supplier format.
    Synth(synth::Args),
    /// Check that a plugin gives the engine's answers on synthetic
    /// practices written in its format.
    Conformance(conformance::Args),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Sign(a) => sign::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Run(a) => run::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Conformance(a) => conformance::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gpes-plugin: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs `future` to completion on a runtime of its own (plugins run under
/// tokio, even for a `describe`).
fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("could not start the async runtime: {e}"))?;
    Ok(runtime.block_on(future))
}
