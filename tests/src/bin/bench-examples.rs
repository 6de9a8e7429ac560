//! Benchmark: every example indicator over a seeded synthetic practice,
//! from the supplier's files to the answer (csv-export plugin in WASM, the
//! engine in the host), beside the engine alone over records in memory and
//! DuckDB computing the same indicators from the same files in the same
//! invocation (the baseline the ratios are against).
//!
//! cargo run --release -p gpes-tests --bin bench-examples -- [PATIENTS] [SEED]

use gpes_host::{Host, Limits};
use gpes_model::Record;
use std::collections::BTreeMap;
use std::time::Instant;

const PRACTICE: &str = "A81001";
const EXAMPLES: [&str; 8] = [
    "registered.yaml",
    "dm_reg.yaml",
    "dm020.yaml",
    "hyp_reg.yaml",
    "hyp008.yaml",
    "ast_reg.yaml",
    "flu65.yaml",
    "dm_reg_patients.yaml",
];

/// Peak resident memory of this process so far, in MiB (Linux VmHWM).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The benchmark's parameters that the query declares (the rest take
/// their defaults).
fn fitting(
    spec: &gpes_query::QuerySpec,
    params: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    params
        .iter()
        .filter(|(k, _)| spec.parameter(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let patients: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(42);
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join(PRACTICE);
    // Generated in a child process so its memory is not counted here.
    let status = std::process::Command::new(
        std::env::current_exe()?
            .parent()
            .map(|p| p.join("gpes-synth"))
            .filter(|p| p.exists())
            .ok_or_else(|| {
                anyhow::anyhow!("build gpes-synth first: cargo build --release -p gpes-synth")
            })?,
    )
    .args([
        "--seed",
        &seed.to_string(),
        "--patients",
        &patients.to_string(),
    ])
    .args(["--practice", PRACTICE, "--out"])
    .arg(&folder)
    .stdout(std::process::Stdio::null())
    .status()?;
    anyhow::ensure!(status.success(), "gpes-synth failed");
    let bytes: u64 = std::fs::read_dir(&folder)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let host = Host::new()?;
    let plugin = host.load(&std::fs::read(gpes_plugin_artifacts::CSV_EXPORT)?)?;
    let params: BTreeMap<String, String> = [("PPED".to_string(), "2025-03-31".to_string())].into();
    println!(
        "practice: {patients} patients (seed {seed}), {:.1} MB of csv-export files",
        bytes as f64 / 1e6
    );
    println!(
        "{:<22} {:>10} {:>12} {:>10}",
        "query", "records", "files→answer", "engine"
    );

    let mut full_total = 0.0;
    let mut memory_records: Vec<(String, Vec<Record>)> = Vec::new();
    for file in EXAMPLES {
        let text = gpes_tests::example_query(file);
        let spec = gpes_query::parse(file, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let bound = spec.bind(PRACTICE, &fitting(&spec, &params))?;
        let started = Instant::now();
        let run = rt.block_on(gpes_host::run_queries(
            &plugin,
            &folder,
            PRACTICE,
            std::slice::from_ref(&bound),
            &Limits::default(),
            |_, _| {},
        ))?;
        let records = run.records;
        std::hint::black_box(run.answers);
        let full = started.elapsed().as_secs_f64();
        full_total += full;
        memory_records.push((file.to_string(), Vec::new()));
        println!("{file:<22} {records:>10} {full:>11.3}s {:>10}", "");
    }
    let peak_full = peak_mib();

    // All of them at once, as a practice's collections could share one
    // extraction per pass.
    let all: Vec<gpes_query::BoundQuery> = EXAMPLES
        .iter()
        .map(|file| {
            let spec = gpes_query::parse(file, &gpes_tests::example_query(file))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(spec.bind(PRACTICE, &fitting(&spec, &params))?)
        })
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let shared = rt.block_on(gpes_host::run_queries(
        &plugin,
        &folder,
        PRACTICE,
        &all,
        &Limits::default(),
        |_, _| {},
    ))?;
    let shared_seconds = started.elapsed().as_secs_f64();
    println!(
        "{:<22} {:>10} {shared_seconds:>11.3}s {:>10}",
        "(all, one run)", shared.records, ""
    );

    // The engine alone, over the records of each query held in memory.
    let mut engine_total = 0.0;
    for (file, held) in &mut memory_records {
        let text = gpes_tests::example_query(file);
        let spec = gpes_query::parse(file, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let bound = spec.bind(PRACTICE, &fitting(&spec, &params))?;
        if bound.passes() > 1 {
            continue;
        }
        rt.block_on(plugin.extract(
            &folder,
            &bound.needs().request(PRACTICE),
            &Limits::default(),
            |r| held.push(r),
        ))?;
        let started = Instant::now();
        let answer = bound.evaluate(held.iter());
        let t = started.elapsed().as_secs_f64();
        engine_total += t;
        std::hint::black_box(answer);
        println!("{file:<22} {:>10} {:>12} {t:>9.3}s", held.len(), "");
        held.clear();
        held.shrink_to_fit();
    }

    let duck = std::process::Command::new("python3")
        .arg(gpes_tests::workspace().join("scripts/independent_counts.py"))
        .arg(&folder)
        .args([PRACTICE, "2025-03-31"])
        .output();
    let duck_seconds = duck
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v["seconds"].as_f64());

    // The four queries DuckDB also computes (registered, DM_REG, HYP_REG,
    // AST_REG, DM020), files to answer, against DuckDB from the same files.
    println!();
    println!(
        "all {} examples, files→answer: {full_total:.3}s; engine alone: {engine_total:.3}s",
        EXAMPLES.len()
    );
    println!("peak memory (files→answer, all examples): {peak_full:.0} MiB");
    if let Some(d) = duck_seconds {
        println!("DuckDB, the same five indicators from the same files (one SQL pass): {d:.3}s");
        println!(
            "ratio, all eight examples files→answer / DuckDB's five: {:.2}",
            full_total / d
        );
        println!(
            "ratio, all eight examples in one run / DuckDB's five: {:.2}",
            shared_seconds / d
        );
    } else {
        println!("DuckDB baseline not run (python3 with duckdb missing: run scripts/setup.sh)");
    }
    Ok(())
}
