//! `gpesctl runs` and `gpesctl run ...`: runs and their results, waiting
//! for one to finish (with a progress bar on a terminal), cancel, retry,
//! export.

use crate::{TIMEOUT, all_pages, encode};
use anyhow::{Context, bail};
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{
    Answer, JobCounts, JobStatus, OutValue, Page, RecordsDownload, ResultOutput, ResultRow,
    RunResults, RunSummary, WarningCount,
};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum RunCommand {
    /// A run's counts and every practice's result.
    Show { id: String },
    /// One practice's record-level answer (an audited download): CSV, or
    /// JSON with --json.
    Records {
        id: String,
        #[arg(long)]
        practice: String,
    },
    /// Stop handing out the run's waiting jobs; results already stored stay.
    Cancel { id: String },
    /// Hand the run's failed and expired jobs out again.
    Retry { id: String },
    /// Delete a dry run, with its jobs and results (no other run is ever
    /// deleted).
    Delete { id: String },
    /// The run's payment lines, with the working shown.
    Payments { id: String },
    /// A practice's own result: each population's count beside what it
    /// counts, and where the numbers came from.
    View {
        id: String,
        #[arg(long)]
        practice: String,
    },
    /// Every result of the run as CSV or JSON, a row per practice and
    /// population (and breakdown cell), streamed to standard output or a
    /// file.
    Export {
        id: String,
        #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
        format: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(up: &Uplink, json: bool, command: &RunCommand) -> anyhow::Result<()> {
    match command {
        RunCommand::Show { id } => {
            let results = run_results(up, id).await?;
            print_results(json, &results)?;
        }
        RunCommand::Export { id, format, out } => {
            let path = format!("/v1/runs/{}/export?format={format}", encode(id));
            match out {
                Some(file) => {
                    // Written beside the target, renamed when whole.
                    let tmp = file.with_extension("part");
                    let mut f = std::fs::File::create(&tmp)
                        .with_context(|| format!("creating {}", tmp.display()))?;
                    let n = up.download(&path, &mut f).await?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, file)?;
                    eprintln!("{n} bytes written to {}", file.display());
                }
                None => {
                    let mut stdout = std::io::stdout();
                    up.download(&path, &mut stdout).await?;
                }
            }
        }
        RunCommand::Records { id, practice } => {
            let r: RecordsDownload = up
                .get(
                    &format!(
                        "/v1/runs/{}/records?practice={}",
                        encode(id),
                        encode(practice)
                    ),
                    TIMEOUT,
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", records_csv(&r));
            }
        }
        RunCommand::View { id, practice } => {
            let v: gpes_protocol::PracticeView = up
                .get(
                    &format!("/v1/runs/{}/view?practice={}", encode(id), encode(practice)),
                    TIMEOUT,
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{} for {}: {} ({})",
                    v.collection_name,
                    v.practice,
                    status_name(v.status),
                    v.participation.as_deref().unwrap_or("-")
                );
                for p in &v.populations {
                    let count = match (p.count, p.suppressed) {
                        (_, true) => "suppressed".to_owned(),
                        (Some(n), _) => n.to_string(),
                        (None, _) => "-".to_owned(),
                    };
                    println!("\n{} = {count}", p.population);
                    for line in p.explanation.lines() {
                        println!("    {line}");
                    }
                }
                match &v.provenance {
                    None => println!("\nno result yet"),
                    Some(pr) => {
                        println!(
                            "\nextract {} stored {} by {}",
                            pr.extract_hash,
                            crate::when(Some(pr.stored_ms)),
                            pr.stored_by
                        );
                        println!(
                            "plugin {} {}, engine {}",
                            pr.plugin_name, pr.plugin_version, pr.engine_version
                        );
                        for (k, val) in &pr.parameters {
                            println!("parameter {k} = {val}");
                        }
                        for f in &pr.inputs {
                            println!("read {} ({} bytes, sha256 {})", f.name, f.bytes, f.sha256);
                        }
                    }
                }
            }
        }
        RunCommand::Payments { id } => {
            let p: gpes_protocol::Payments = up
                .get(&format!("/v1/runs/{}/payments", encode(id)), TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                println!(
                    "{:<10} {:<10} {:>8} {:>14}  working",
                    "practice", "indicator", "points", "payment"
                );
                for l in &p.lines {
                    println!(
                        "{:<10} {:<10} {:>8} {:>14}  {}",
                        l.practice,
                        l.indicator,
                        l.points_achieved,
                        pounds(l.pence),
                        l.working
                    );
                }
                println!("total {} ({})", pounds(p.total_pence), p.rounding);
                if !p.waiting.is_empty() {
                    println!("waiting for an approved result: {}", p.waiting.join(", "));
                }
            }
        }
        RunCommand::Delete { id } => {
            let answer: serde_json::Value = up
                .post(&format!("/v1/runs/{}/delete", encode(id)), &(), TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                println!("deleted {id} ({} jobs)", answer["jobs_deleted"]);
            }
        }
        RunCommand::Cancel { id } | RunCommand::Retry { id } => {
            let verb = if matches!(command, RunCommand::Cancel { .. }) {
                "cancel"
            } else {
                "retry"
            };
            let summary: RunSummary = up
                .post(&format!("/v1/runs/{}/{verb}", encode(id)), &(), TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print_summaries(std::slice::from_ref(&summary));
            }
        }
    }
    Ok(())
}

/// An extract's answer in a few words: each population's count, or the
/// number of rows of a record-level answer.
fn summarise(answer: &Answer) -> String {
    match &answer.output {
        ResultOutput::Aggregate(a) => a
            .populations
            .iter()
            .map(|p| format!("{}={}", p.population, p.shown()))
            .collect::<Vec<_>>()
            .join(" "),
        ResultOutput::RecordLevel(r) => format!("{} rows", r.rows.len()),
    }
}

/// The data-quality warnings beside a result, if any: "warnings: 3
/// bad-date, 1 malformed-line".
fn warnings_note(warnings: &[WarningCount]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = warnings
        .iter()
        .map(|w| format!("{} {}", w.count, w.kind))
        .collect();
    format!(" (warnings: {})", parts.join(", "))
}

/// A run's summary and every practice's result, page by page.
async fn run_results(up: &Uplink, id: &str) -> anyhow::Result<RunResults> {
    let base = format!("/v1/runs/{}/results", encode(id));
    let mut first: RunResults = up.get(&base, TIMEOUT).await?;
    let mut next = first.next.take();
    while let Some(cursor) = next {
        let page: RunResults = up
            .get(&format!("{base}?cursor={}", encode(&cursor)), TIMEOUT)
            .await?;
        first.results.extend(page.results);
        next = page.next.filter(|n| *n != cursor);
    }
    Ok(first)
}

/// Waits until the newest run of `collection` has nothing pending or
/// running, and returns its results.
async fn wait_for_run(up: &Uplink, collection: &str, timeout: u64) -> anyhow::Result<RunResults> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let path = format!("/v1/runs?collection={}&limit=1", encode(collection));
    let mut bar = Progress::on_terminal();
    loop {
        let page: Page<RunSummary> = up.get(&path, TIMEOUT).await?;
        if let Some(newest) = page.items.first() {
            bar.show(&newest.jobs);
            if newest.jobs.finished() {
                bar.done();
                return run_results(up, &newest.run.id).await;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bar.done();
            match page.items.first() {
                Some(r) => bail!(
                    "run {} of {collection} did not finish within {timeout} s ({} pending, {} running)",
                    r.run.id,
                    r.jobs.pending,
                    r.jobs.leased
                ),
                None => bail!("{collection} has no run yet after {timeout} s"),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A record-level answer as CSV: a header of column names, a line per
/// patient (RFC 4180 quoting).
pub fn records_csv(r: &RecordsDownload) -> String {
    fn field(text: &str) -> String {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    }
    let mut out = String::new();
    let heads: Vec<String> = r.records.columns.iter().map(|c| field(&c.name)).collect();
    out.push_str(&heads.join(","));
    out.push('\n');
    for row in &r.records.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| match v {
                OutValue::Null => String::new(),
                OutValue::Bool(b) => b.to_string(),
                OutValue::Number(n) => n.to_string(),
                OutValue::Text(t) => field(t),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A one-line progress bar on standard error, drawn only when it is a
/// terminal (so scripts and logs get the results alone).
#[derive(Debug)]
pub struct Progress {
    drawn: bool,
    on: bool,
}

impl Progress {
    pub fn on_terminal() -> Progress {
        use std::io::IsTerminal;
        Progress {
            drawn: false,
            on: std::io::stderr().is_terminal(),
        }
    }

    /// The bar for a run's job counts: `[#######.....] 14/20 finished (3
    /// running, 3 waiting, 1 failed)`.
    pub fn line(jobs: &JobCounts) -> String {
        const WIDTH: u64 = 30;
        let total = jobs.total();
        let finished = total - jobs.pending - jobs.leased;
        let filled = (finished * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let mut line = format!(
            "[{}{}] {finished}/{total} finished ({} running, {} waiting",
            "#".repeat(filled as usize),
            ".".repeat((WIDTH - filled) as usize),
            jobs.leased,
            jobs.pending
        );
        for (n, what) in [
            (jobs.failed, "failed"),
            (jobs.expired, "expired"),
            (jobs.cancelled, "cancelled"),
            (jobs.not_participating, "not participating"),
            (jobs.manual, "entered by hand"),
        ] {
            if n > 0 {
                line.push_str(&format!(", {n} {what}"));
            }
        }
        line.push(')');
        line
    }

    pub fn show(&mut self, jobs: &JobCounts) {
        if self.on {
            eprint!("\r\x1b[2K{}", Progress::line(jobs));
            self.drawn = true;
        }
    }

    pub fn done(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

/// Whole pence as pounds: 123456 -> "£1,234.56".
fn pounds(pence: u64) -> String {
    let whole = (pence / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("£{grouped}.{:02}", pence % 100)
}

fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Pending => "pending",
        JobStatus::Leased => "running",
        JobStatus::Done => "done",
        JobStatus::Failed => "failed",
        JobStatus::Expired => "expired",
        JobStatus::Cancelled => "cancelled",
        JobStatus::NotParticipating => "not participating",
        JobStatus::Manual => "manual",
    }
}

fn print_summaries(runs: &[RunSummary]) {
    println!(
        "{:<26} {:<24} {:<10} {:>5} {:>5} {:>7} {:>6} {:>7} {:>4}",
        "run", "collection", "parameters", "done", "late", "running", "failed", "expired", "all"
    );
    for r in runs {
        let params: Vec<String> = r.run.parameters.values().cloned().collect();
        let mut name = r.collection_name.clone();
        if r.run.cancelled_ms.is_some() {
            name.push_str(" (cancelled)");
        }
        println!(
            "{:<26} {:<24} {:<10} {:>5} {:>5} {:>7} {:>6} {:>7} {:>4}",
            r.run.id,
            name,
            params.join(","),
            r.jobs.done,
            r.jobs.late,
            r.jobs.pending + r.jobs.leased,
            r.jobs.failed,
            r.jobs.expired,
            r.jobs.total()
        );
    }
}

fn print_results(json: bool, results: &RunResults) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(results)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<8} {:<9} {:<50} extract hash",
        "collection", "practice", "status", "result"
    );
    for r in &results.results {
        println!(
            "{:<24} {:<8} {:<9} {:<50} {}",
            results.summary.collection_name,
            r.practice,
            status_name(r.status),
            result_text(r),
            r.extract_hash
                .map(|h| h.to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

/// The result column: the answer in a few words, or why there is none.
fn result_text(r: &ResultRow) -> String {
    let mut text = match (&r.result, &r.last_error) {
        (Some(a), _) => summarise(a) + &warnings_note(&r.data_quality_warnings),
        (None, Some(e)) => format!("{} attempt(s): {e}", r.attempts),
        (None, None) => "-".into(),
    };
    if r.late {
        text.push_str(" (late)");
    }
    text
}

/// `gpesctl runs`: the newest runs, or, with `--wait-for`, one
/// collection's newest run once it has finished.
pub async fn list_or_wait(
    up: &Uplink,
    json: bool,
    collection: Option<&str>,
    limit: u32,
    wait_for: Option<&str>,
    timeout: u64,
) -> anyhow::Result<()> {
    match wait_for {
        Some(collection) => {
            let results = wait_for_run(up, collection, timeout).await?;
            print_results(json, &results)?;
        }
        None => {
            let path = match collection {
                Some(c) => format!("/v1/runs?collection={}", encode(c)),
                None => "/v1/runs".to_owned(),
            };
            let runs: Vec<RunSummary> = all_pages(up, &path, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else {
                print_summaries(&runs);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Progress;
    use gpes_protocol::JobCounts;

    #[test]
    fn the_bar_counts_finished_jobs_and_names_what_went_wrong() {
        let jobs = JobCounts {
            pending: 3,
            leased: 3,
            done: 13,
            failed: 1,
            ..Default::default()
        };
        assert_eq!(
            Progress::line(&jobs),
            "[#####################.........] 14/20 finished (3 running, 3 waiting, 1 failed)"
        );
        assert!(Progress::line(&JobCounts::default()).starts_with("[######"));
    }
}
