//! The `gpes-synth` command line:
//!
//! ```text
//! gpes-synth --seed 1 --patients 10000 --practice A81001 --out DIR [--date 2025-03-31]
//!            [--format csv-export|fhir-ndjson] [--bp-panels]
//! ```
//!
//! Generates the practice, writes its files into DIR in the chosen format
//! (csv-export by default) and prints its [`Stats`](crate::Stats) and the
//! time taken.

use crate::{FhirOptions, PracticeConfig, generate, write_csv_export, write_fhir_ndjson_with};
use gpes_model::Date;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str =
    "usage: gpes-synth --seed N --patients N --practice ODS --out DIR [--date YYYY-MM-DD]
                  [--format csv-export|fhir-ndjson] [--bp-panels]

Writes a synthetic practice into DIR: with --format csv-export (the
default), Patient.csv, Registration.csv, Observation.csv and Medication.csv
in the csv-export format; with --format fhir-ndjson, the same patients as a
FHIR R4 bulk-data export (Patient.000.ndjson, EpisodeOfCare.000.ndjson,
Observation.000.ndjson, ...). The same arguments give the same files, byte
for byte. --patients is 1000 to 100000; --date is the extraction reference
date (default 2025-03-31). --bp-panels (fhir-ndjson only) writes each
patient's same-day systolic and diastolic readings as one blood pressure
panel Observation with two components, not two Observations.";

/// The file format written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `plugins/csv-export/FORMAT.md`, read by the csv-export plugin.
    #[default]
    CsvExport,
    /// A FHIR R4 bulk-data export, read by the fhir-ndjson plugin.
    FhirNdjson,
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub config: PracticeConfig,
    pub out: PathBuf,
    pub format: Format,
    /// `--bp-panels`: blood pressure as panels (FHIR only).
    pub bp_panels: bool,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut config = PracticeConfig::default();
    let mut out = None;
    let mut format = Format::default();
    let mut bp_panels = false;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--bp-panels" {
            bp_panels = true;
            continue;
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
            "--format" => {
                format = match value.as_str() {
                    "csv-export" => Format::CsvExport,
                    "fhir-ndjson" => Format::FhirNdjson,
                    _ => {
                        return Err(format!(
                            "--format '{value}' is not one of csv-export, fhir-ndjson"
                        ));
                    }
                };
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    config.check().map_err(|e| e.to_string())?;
    let out = out.ok_or("--out DIR is required")?;
    if bp_panels && format != Format::FhirNdjson {
        return Err("--bp-panels needs --format fhir-ndjson".into());
    }
    Ok(Args {
        config,
        out,
        format,
        bp_panels,
    })
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
    let (written, format) = match args.format {
        Format::CsvExport => (write_csv_export(&practice, &args.out), "csv-export"),
        Format::FhirNdjson => {
            let options = FhirOptions {
                bp_panels: args.bp_panels,
                ..FhirOptions::default()
            };
            (
                write_fhir_ndjson_with(&practice, &args.out, &options).map(|_| ()),
                "fhir-ndjson",
            )
        }
    };
    if let Err(e) = written {
        eprintln!("gpes-synth: writing {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    let written = started.elapsed();
    println!(
        "practice {} (seed {}, reference date {}) written to {} ({format})",
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
        assert_eq!(a.format, Format::CsvExport);
        let f = parse(strings(&["--format", "fhir-ndjson", "--out", "x"])).expect("parses");
        assert_eq!(f.format, Format::FhirNdjson);
        assert!(!f.bp_panels);
        let p = parse(strings(&[
            "--format",
            "fhir-ndjson",
            "--bp-panels",
            "--out",
            "x",
        ]))
        .expect("parses");
        assert!(p.bp_panels);
        assert!(parse(strings(&["--bp-panels", "--out", "x"])).is_err());
        assert!(parse(strings(&["--format", "fhir", "--out", "x"])).is_err());
        assert!(parse(strings(&["--patients", "10", "--out", "x"])).is_err());
        assert!(parse(strings(&["--seed", "one", "--out", "x"])).is_err());
        assert!(parse(strings(&["--seed", "1"])).is_err());
        assert!(parse(strings(&["--bogus", "1"])).is_err());
    }
}
