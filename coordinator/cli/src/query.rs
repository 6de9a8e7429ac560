//! `gpesctl query ...`: query files, offline (no coordinator): check
//! them, explain them in plain English.

use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// Parse and validate query files; print each one's id and hash.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a query's rules in plain English.
    Explain { file: PathBuf },
}

/// Reads and parses a query file; on failure prints every diagnostic
/// (`FILE:LINE:COL: message`) to stderr.
fn load_query(path: &Path) -> Option<gpes_query::QuerySpec> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: cannot read: {e}");
            return None;
        }
    };
    // Code lists the query names are read beside it.
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let lists = move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    match gpes_query::parse_with(&name, &text, &lists) {
        Ok(spec) => Some(spec),
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{d}");
            }
            None
        }
    }
}

/// The offline `query` commands; the exit code says whether every file
/// was valid.
pub fn run(command: &QueryCommand) -> ExitCode {
    match command {
        QueryCommand::Check { files } => {
            let mut ok = true;
            for f in files {
                let Some(spec) = load_query(f) else {
                    ok = false;
                    continue;
                };
                match spec.content_hash() {
                    Ok(hash) => println!("{}: ok (id {}, hash {hash})", f.display(), spec.id),
                    Err(e) => {
                        eprintln!("{}: cannot hash the query: {e}", f.display());
                        ok = false;
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        QueryCommand::Explain { file } => match load_query(file) {
            Some(spec) => {
                print!("{}", spec.explain());
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
    }
}
