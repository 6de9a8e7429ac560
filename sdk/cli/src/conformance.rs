//! `gpes-plugin conformance`: proves a plugin gives the same answers as
//! every other. It writes synthetic practices in the plugin's format, then
//! for each practice (1) extracts everything and compares the records with
//! the generator's own, record for record, and (2) runs every example
//! query through the plugin (one extraction a pass, as an agent does) and
//! through the engine over the generator's records directly, and compares
//! the answers. Any difference is reported and fails the run.

use crate::queries::{self, EXAMPLES};
use anyhow::{Context, anyhow, bail};
use gpes_host::Limits;
use gpes_model::{Record, Request, Table};
use gpes_query::{Answer, OutValue, ResultOutput};
use gpes_synth::{Practice, PracticeConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin (a WebAssembly component).
    pub plugin: PathBuf,
    /// The plugin's input format, when the project writes it: the
    /// synthetic practices are written in it.
    #[arg(
        long,
        value_enum,
        required_unless_present = "writer",
        conflicts_with = "writer"
    )]
    pub format: Option<crate::synth::Format>,
    /// For any other format: a command that writes it. It is run as
    /// `CMD IN.jsonl OUTDIR` (through `sh -c`), where IN.jsonl is the
    /// practice as JSON lines of model records (sdk/MODEL.md, "The
    /// conformance kit's JSON lines") and OUTDIR an empty folder the
    /// plugin then reads.
    #[arg(long, value_name = "CMD")]
    pub writer: Option<String>,
    /// Patients in each practice (at least 1,000).
    #[arg(long, default_value_t = 10_000)]
    pub patients: usize,
    /// How many practices (seeds SEED, SEED+1, ...).
    #[arg(long, default_value_t = 1)]
    pub practices: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the practices written here (default: a temporary folder,
    /// removed afterwards).
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Memory cap for one extraction, MiB.
    #[arg(long, default_value_t = 512)]
    pub memory_mib: usize,
    /// Deadline for one extraction, seconds.
    #[arg(long, default_value_t = 1800)]
    pub deadline_seconds: u64,
    #[command(flatten)]
    pub cache: crate::load::CacheArgs,
}

/// ODS codes given to the synthetic practices, in turn.
const CODES: [&str; 3] = ["A81001", "B82002", "C83003"];

pub fn run(args: Args) -> anyhow::Result<()> {
    let (_host, plugin, limits) = queries::load(
        &args.plugin,
        &args.cache,
        args.memory_mib,
        args.deadline_seconds,
    )?;
    let info = crate::block_on(plugin.describe(&limits))?
        .map_err(|e| anyhow!("the plugin's describe failed: {e}"))?;
    println!(
        "plugin {} {} ({}), format {}, {} practice(s) of {} patients",
        info.name,
        info.version,
        info.supplier,
        match (&args.format, &args.writer) {
            (Some(f), _) => f.name().to_owned(),
            (None, Some(cmd)) => format!("written by `{cmd}`"),
            (None, None) => "?".to_owned(),
        },
        args.practices,
        args.patients
    );

    let temp;
    let root = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("could not make a temporary folder")?;
            temp.path().to_path_buf()
        }
    };
    let mut differences = 0;
    for i in 0..args.practices {
        let code = CODES[(i % CODES.len() as u64) as usize];
        let config = PracticeConfig::new(args.seed + i, code, args.patients);
        config.check().map_err(|e| anyhow!("{e}"))?;
        let practice = gpes_synth::generate(&config);
        let folder = root.join(format!("{code}-seed{}", config.seed));
        match (&args.format, &args.writer) {
            (Some(format), _) => crate::synth::write(*format, &practice, &folder)?,
            (None, Some(cmd)) => {
                let input = root.join(format!("{code}-seed{}.jsonl", config.seed));
                write_jsonl(&practice, &input)?;
                run_writer(cmd, &input, &folder)?;
            }
            (None, None) => bail!("give --format or --writer"),
        }
        println!(
            "\npractice {code} (seed {}): {} records, written to {}",
            config.seed,
            practice.records().count(),
            folder.display()
        );
        differences += crate::block_on(check_practice(&plugin, &limits, &practice, &folder))??;
    }
    if differences > 0 {
        bail!("{differences} difference(s): the plugin does not conform");
    }
    println!("\nconformant: every record and every answer equals the reference");
    Ok(())
}

/// The practice as JSON lines, one model record a line (serde's form of
/// `gpes_model::Record`), patients first, then registrations, events and
/// medications, each in the generator's order.
pub fn write_jsonl(practice: &Practice, path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let file = std::fs::File::create(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for r in practice.records() {
        serde_json::to_writer(&mut out, &r)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("could not write {}", path.display()))
}

/// Runs the writer command `cmd IN OUTDIR`; fails, with the command and
/// its standard error, when it exits other than 0 or leaves OUTDIR empty.
pub fn run_writer(cmd: &str, input: &Path, outdir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(outdir)
        .with_context(|| format!("could not create {}", outdir.display()))?;
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} \"$1\" \"$2\""))
        .arg("sh")
        .arg(input)
        .arg(outdir)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("could not run the writer `{cmd}`"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "the writer `{cmd} {} {}` failed ({}); its standard error:\n{}",
            input.display(),
            outdir.display(),
            out.status,
            stderr.trim_end()
        );
    }
    let wrote = outdir
        .read_dir()
        .with_context(|| format!("could not read {}", outdir.display()))?
        .next()
        .is_some();
    if !wrote {
        bail!(
            "the writer `{cmd} {} {}` exited 0 but wrote nothing into {}; its standard error:\n{}",
            input.display(),
            outdir.display(),
            outdir.display(),
            stderr.trim_end()
        );
    }
    Ok(())
}

/// Checks one practice; returns the number of differences found.
async fn check_practice(
    plugin: &gpes_host::Plugin,
    limits: &Limits,
    practice: &Practice,
    folder: &Path,
) -> anyhow::Result<usize> {
    let mut differences = 0;

    // 1. Everything, record for record.
    let started = Instant::now();
    let request = Request {
        practice: practice.practice.clone(),
        tables: Table::ALL.to_vec(),
        code_sets: Vec::new(),
    };
    let mut got: BTreeMap<Table, Vec<String>> = BTreeMap::new();
    let extraction = plugin
        .extract(folder, &request, limits, |r| {
            got.entry(table_of(&r)).or_default().push(key(&r));
        })
        .await
        .map_err(|e| anyhow!("the full extraction failed: {e}"))?;
    let mut expected: BTreeMap<Table, Vec<String>> = BTreeMap::new();
    for r in practice.records() {
        expected.entry(table_of(&r)).or_default().push(key(&r));
    }
    for table in Table::ALL {
        let mut g = got.remove(&table).unwrap_or_default();
        let mut e = expected.remove(&table).unwrap_or_default();
        g.sort_unstable();
        e.sort_unstable();
        if g == e {
            println!("  all {table:<14} same       {:>9} records", g.len());
        } else {
            differences += 1;
            println!(
                "  all {table:<14} DIFFERENT  plugin {} records, generator {}",
                g.len(),
                e.len()
            );
            report_first_difference(&g, &e);
        }
    }
    let warned: u64 = extraction.summary.warnings.iter().map(|w| w.count).sum();
    println!(
        "  (full extraction: {} read, {} mapped, {warned} warnings, {:.2}s)",
        extraction.summary.records_read,
        extraction.summary.records_mapped,
        started.elapsed().as_secs_f64()
    );
    for w in &extraction.summary.warnings {
        println!(
            "    warning {:?} ×{} in {} (first at line {}): {}",
            w.kind, w.count, w.file, w.line, w.message
        );
    }

    // 2. Every example query, through the plugin and through the engine.
    let all_records: Vec<Record> = practice.records().collect();
    let no_params = BTreeMap::new();
    for (file, text) in EXAMPLES {
        let spec = queries::parse_example(file, text)?;
        let bound = queries::bind(
            &spec,
            &practice.practice,
            Some(practice.reference_date),
            &no_params,
        )?;
        let started = Instant::now();
        let through =
            queries::through_plugin(plugin, folder, &practice.practice, &bound, limits, false)
                .await
                .with_context(|| file.to_string())?;
        let took = started.elapsed().as_secs_f64();
        let direct = bound.evaluate(&all_records);
        if through.answer == direct {
            println!(
                "  {:<22} same       {:>9} records  {took:>6.2}s  {}",
                file,
                through.run.records,
                summary_line(&direct)
            );
        } else {
            differences += 1;
            println!("  {file:<22} DIFFERENT");
            report_answer_difference(&through.answer, &direct);
        }
    }
    Ok(differences)
}

fn table_of(r: &Record) -> Table {
    match r {
        Record::Patient(_) => Table::Patients,
        Record::Registration(_) => Table::Registrations,
        Record::Event(_) => Table::Events,
        Record::Medication(_) => Table::Medications,
    }
}

/// A record as comparable text.
fn key(r: &Record) -> String {
    serde_json::to_string(r).unwrap_or_else(|e| format!("<unserialisable: {e}>"))
}

/// The first few records one side has and the other lacks.
fn report_first_difference(got: &[String], expected: &[String]) {
    let (mut i, mut j, mut shown) = (0, 0, 0);
    while (i < got.len() || j < expected.len()) && shown < 5 {
        match (got.get(i), expected.get(j)) {
            (Some(g), Some(e)) if g == e => {
                i += 1;
                j += 1;
            }
            (Some(g), Some(e)) if g < e => {
                println!("    only from the plugin:    {g}");
                i += 1;
                shown += 1;
            }
            (Some(g), None) => {
                println!("    only from the plugin:    {g}");
                i += 1;
                shown += 1;
            }
            (_, Some(e)) => {
                println!("    only from the generator: {e}");
                j += 1;
                shown += 1;
            }
            (None, None) => break,
        }
    }
}

/// Where two answers differ: population counts and cells, or rows.
fn report_answer_difference(plugin: &Answer, engine: &Answer) {
    match (&plugin.output, &engine.output) {
        (ResultOutput::Aggregate(p), ResultOutput::Aggregate(e)) => {
            for (pp, ep) in p.populations.iter().zip(&e.populations) {
                if pp != ep {
                    println!(
                        "    {}: plugin {}, engine {}",
                        ep.population,
                        pp.shown(),
                        ep.shown()
                    );
                    for cell in ep.cells.iter().filter(|c| !pp.cells.contains(c)) {
                        println!("      engine's cell not matched: {cell:?}");
                    }
                }
            }
        }
        (ResultOutput::RecordLevel(p), ResultOutput::RecordLevel(e)) => {
            println!("    rows: plugin {}, engine {}", p.rows.len(), e.rows.len());
            let show = |rows: &[Vec<OutValue>], others: &[Vec<OutValue>], side: &str| {
                for row in rows.iter().filter(|r| !others.contains(r)).take(3) {
                    println!(
                        "      only the {side}'s: {}",
                        serde_json::to_string(row).unwrap_or_default()
                    );
                }
            };
            show(&p.rows, &e.rows, "plugin");
            show(&e.rows, &p.rows, "engine");
        }
        _ => println!("    the answers are of different kinds"),
    }
    for (what, a, b) in [
        (
            "patients evaluated",
            plugin.patients_evaluated,
            engine.patients_evaluated,
        ),
        (
            "records without a patient",
            plugin.records_without_patient,
            engine.records_without_patient,
        ),
    ] {
        if a != b {
            println!("    {what}: plugin {a}, engine {b}");
        }
    }
}

/// The answer in one line: population counts, or rows.
fn summary_line(a: &Answer) -> String {
    match &a.output {
        ResultOutput::Aggregate(agg) => agg
            .populations
            .iter()
            .map(|p| format!("{}={}", p.population, p.shown()))
            .collect::<Vec<_>>()
            .join(" "),
        ResultOutput::RecordLevel(rl) => format!("{} rows", rl.rows.len()),
    }
}
