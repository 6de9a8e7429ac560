//! `gpes-plugin run`: a plugin over a data folder, in the same sandbox an
//! agent uses. With a query, the query's answer (one extraction a pass,
//! exactly as the agent runs it); without, every record the plugin gives
//! for a request of all tables. Either way the plugin's warnings, so an
//! author sees what their adapter could not map.

use crate::queries;
use anyhow::anyhow;
use gpes_model::{Record, Request, Summary, Table, Warning};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin (a WebAssembly component).
    pub plugin: PathBuf,
    /// The practice's data folder.
    #[arg(long)]
    pub data: PathBuf,
    /// A query (YAML); without one, every record is extracted.
    #[arg(long)]
    pub query: Option<PathBuf>,
    /// ODS code of the practice.
    #[arg(long, default_value = "A81001")]
    pub practice: String,
    /// A query parameter, NAME=VALUE (dates YYYY-MM-DD); repeatable.
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Without a query: print every record as a JSON line on stdout.
    #[arg(long)]
    pub records: bool,
    /// Memory cap for one extraction, MiB.
    #[arg(long, default_value_t = 256)]
    pub memory_mib: usize,
    /// Deadline for one extraction, seconds.
    #[arg(long, default_value_t = 600)]
    pub deadline_seconds: u64,
    #[command(flatten)]
    pub cache: crate::load::CacheArgs,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (_host, plugin, limits) = queries::load(
        &args.plugin,
        &args.cache,
        args.memory_mib,
        args.deadline_seconds,
    )?;
    match &args.query {
        Some(path) => {
            let spec = queries::parse_file(path)?;
            let params: BTreeMap<String, String> = args.params.iter().cloned().collect();
            let bound = queries::bind(&spec, &args.practice, None, &params)?;
            let run = crate::block_on(queries::through_plugin(
                &plugin,
                &args.data,
                &args.practice,
                &bound,
                &limits,
                true,
            ))??;
            println!("{}", serde_json::to_string_pretty(&run.answer)?);
            let r = &run.run;
            eprintln!(
                "{} records over {} pass(es); read {}",
                r.records, r.passes, r.records_read
            );
            print_warnings(&r.warnings);
        }
        None => {
            let request = Request {
                practice: args.practice.clone(),
                tables: Table::ALL.to_vec(),
                code_sets: Vec::new(),
            };
            let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let mut write_error = None;
            let extraction = crate::block_on(plugin.extract(&args.data, &request, &limits, |r| {
                *counts.entry(table_name(&r)).or_default() += 1;
                if args.records && write_error.is_none() {
                    let line = serde_json::to_string(&r).map_err(std::io::Error::other);
                    if let Err(e) = line.and_then(|l| writeln!(out, "{l}")) {
                        write_error = Some(e);
                    }
                }
            }))?
            .map_err(|e| anyhow!("the extraction failed: {e}"))?;
            out.flush()?;
            if let Some(e) = write_error {
                return Err(anyhow!("could not write the records: {e}"));
            }
            for (table, n) in &counts {
                eprintln!("{table:<14} {n:>10}");
            }
            print_summary(&extraction.summary);
        }
    }
    Ok(())
}

fn table_name(r: &Record) -> &'static str {
    match r {
        Record::Patient(_) => "patients",
        Record::Registration(_) => "registrations",
        Record::Event(_) => "events",
        Record::Medication(_) => "medications",
    }
}

fn print_summary(s: &Summary) {
    eprintln!("read {}, mapped {}", s.records_read, s.records_mapped);
    print_warnings(&s.warnings);
}

fn print_warnings(warnings: &[Warning]) {
    eprintln!(
        "{} warning(s)",
        warnings.iter().map(|w| w.count).sum::<u64>()
    );
    for w in warnings {
        eprintln!(
            "  {:?} ×{} in {} (first at line {}): {}",
            w.kind, w.count, w.file, w.line, w.message
        );
    }
}
