//! The `gpes-synth` command line:
//!
//! ```text
//! gpes-synth --seed 1 --patients 10000 --practice A81001 --out DIR [--date 2025-03-31]
//! ```
//!
//! Generates the practice, writes its csv-export files into DIR and prints
//! its [`Stats`](crate::Stats) and the time taken.

use crate::{PracticeConfig, generate, write_csv_export};
use gpes_model::Date;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str =
    "usage: gpes-synth --seed N --patients N --practice ODS --out DIR [--date YYYY-MM-DD]

Writes a synthetic practice (patients.csv, registrations.csv, events.csv,
medications.csv in the csv-export format) into DIR. The same arguments give
the same files, byte for byte. --patients is 1000 to 100000; --date is the
extraction reference date (default 2025-03-31).";

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub config: PracticeConfig,
    pub out: PathBuf,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut config = PracticeConfig::default();
    let mut out = None;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => {
                config.seed = value
                    .parse()
                    .map_err(|_| format!("--seed '{value}' is not a whole number"))?;
            }
            "--patients" => {
                config.patients = value
                    .parse()
                    .map_err(|_| format!("--patients '{value}' is not a whole number"))?;
            }
            "--practice" => config.practice = value,
            "--date" => {
                config.reference_date =
                    Date::parse_iso(&value).map_err(|e| format!("--date: {e}"))?;
            }
            "--out" => out = Some(PathBuf::from(value)),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    config.check().map_err(|e| e.to_string())?;
    let out = out.ok_or("--out DIR is required")?;
    Ok(Args { config, out })
}

/// Runs the command line; the binary's `main` calls this.
pub fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gpes-synth: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let practice = generate(&args.config);
    let generated = started.elapsed();
    if let Err(e) = write_csv_export(&practice, &args.out) {
        eprintln!("gpes-synth: writing {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    let written = started.elapsed();
    println!(
        "practice {} (seed {}, reference date {}) written to {}",
        practice.practice,
        args.config.seed,
        practice.reference_date,
        args.out.display()
    );
    println!("{}", practice.stats());
    println!(
        "generated in {:.2} s, written in {:.2} s",
        generated.as_secs_f64(),
        (written - generated).as_secs_f64()
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_the_documented_command() {
        let a = parse(strings(&[
            "--seed",
            "1",
            "--patients",
            "10000",
            "--practice",
            "A81001",
            "--out",
            "x",
        ]))
        .expect("parses");
        assert_eq!(a.config, PracticeConfig::new(1, "A81001", 10_000));
        assert_eq!(a.out, PathBuf::from("x"));
        assert!(parse(strings(&["--patients", "10", "--out", "x"])).is_err());
        assert!(parse(strings(&["--seed", "one", "--out", "x"])).is_err());
        assert!(parse(strings(&["--seed", "1"])).is_err());
        assert!(parse(strings(&["--bogus", "1"])).is_err());
    }
}
