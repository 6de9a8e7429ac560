//! Benchmark: each Rust adapter over a seeded synthetic practice, from the
//! supplier's files to common-model records, natively (the adapter's code
//! called directly over the folder) and in WASM (the same code as a
//! component in the host's sandbox), in the same invocation; the ratio is
//! the price of the sandbox. Both paths check every record against the model
//! (the host always does), neither evaluates a query. The time to write the
//! practice in each format (gpes-synth) is shown beside.
//!
//! cargo build --release -p gpes-tests --bin bench-adapters
//! target/release/bench-adapters [PATIENTS] [SEED] [ROUNDS] [ADAPTER]

use gpes_host::{Host, Limits};
use gpes_model::{Request, Table};
use gpes_plugin_sdk::Adapter;
use std::path::{Path, PathBuf};
use std::time::Instant;

const PRACTICE: &str = "A81001";

/// Writes the practice in `format` into a folder of `dir`.
fn synth(dir: &Path, format: &str, practice: &gpes_synth::Practice) -> anyhow::Result<PathBuf> {
    let folder = dir.join(format);
    std::fs::create_dir_all(&folder)?;
    match format {
        "csv-export" => gpes_synth::write_csv_export(practice, &folder)?,
        _ => {
            gpes_synth::write_fhir_ndjson(practice, &folder)?;
        }
    }
    Ok(folder)
}

fn megabytes(folder: &Path) -> f64 {
    std::fs::read_dir(folder)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1e6
}

fn native<A: Adapter>(folder: &Path, request: &Request) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let mut bad = 0u64;
    let run = gpes_plugin_sdk::run_native::<A>(folder, request, |r| {
        if r.validate().is_err() {
            bad += 1;
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(bad == 0, "{bad} records broke the model natively");
    Ok((run.records, started.elapsed().as_secs_f64()))
}

fn wasm(
    rt: &tokio::runtime::Runtime,
    plugin: &gpes_host::Plugin,
    folder: &Path,
    request: &Request,
) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let e = rt.block_on(plugin.extract(folder, request, &Limits::default(), |_| {}))?;
    Ok((e.records, started.elapsed().as_secs_f64()))
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let patients: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(42);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let only: Option<String> = args.next();
    let dir = tempfile::tempdir()?;
    let practice = gpes_synth::generate(&gpes_synth::PracticeConfig::new(seed, PRACTICE, patients));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let host = Host::new()?;
    let request = Request {
        practice: PRACTICE.into(),
        tables: Table::ALL.to_vec(),
        code_sets: Vec::new(),
    };

    type NativeFn = fn(&Path, &Request) -> anyhow::Result<(u64, f64)>;
    let adapters: [(&str, &str, NativeFn); 2] = [
        (
            "csv-export",
            gpes_plugin_artifacts::CSV_EXPORT,
            native::<gpes_plugin_csv_export::CsvExport>,
        ),
        (
            "fhir-ndjson",
            gpes_plugin_artifacts::FHIR_NDJSON,
            native::<gpes_plugin_fhir_ndjson::FhirNdjson>,
        ),
    ];
    println!(
        "{patients} patients (seed {seed}), full request, best of {rounds} rounds (native and WASM alternate)"
    );
    println!(
        "{:<12} {:>8} {:>8} {:>10} {:>10} {:>10} {:>8} {:>9}",
        "adapter", "MB", "write", "records", "native", "wasm", "ratio", "compile"
    );
    for (name, wasm_path, run_native) in adapters {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let started = Instant::now();
        let folder = synth(dir.path(), name, &practice)?;
        let write = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let plugin = host.load(&std::fs::read(wasm_path)?)?;
        let compile = started.elapsed().as_secs_f64();
        let (mut n, mut w) = (Vec::new(), Vec::new());
        let mut counts = None;
        for _ in 0..rounds {
            let (rn, tn) = run_native(&folder, &request)?;
            let (rw, tw) = wasm(&rt, &plugin, &folder, &request)?;
            anyhow::ensure!(rn == rw, "{name}: {rn} records natively, {rw} in WASM");
            counts = Some(rn);
            n.push(tn);
            w.push(tw);
        }
        let (tn, tw) = (min(&n), min(&w));
        println!(
            "{name:<12} {:>8.1} {:>7.2}s {:>10} {:>9.3}s {:>9.3}s {:>7.2}x {:>8.2}s",
            megabytes(&folder),
            write,
            counts.unwrap_or(0),
            tn,
            tw,
            tw / tn,
            compile
        );
    }
    Ok(())
}
