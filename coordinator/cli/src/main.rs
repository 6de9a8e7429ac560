//! gpesctl: the operator's command line. It talks to the coordinator's
//! operator listener over TLS (trusting the coordinator's CA) with a bearer
//! token, read from flags, the environment, or a config file. The `query`
//! commands work offline: they check and explain query files without the
//! coordinator.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gpes_client::Uplink;
use gpes_protocol::{
    Answer, Collection, CreateCollectionRequest, CreateTokenRequest, CreateTokenResponse,
    DataClass, JobStatus, Page, Purpose, ResultOutput, ResultRow, Run, RunResults, RunSummary,
    WarningCount,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(version, about = "The GPES operator's command line")]
struct Args {
    /// Operator listener, host:port.
    #[arg(long, env = "GPESCTL_ADDRESS", global = true)]
    address: Option<String>,
    /// The coordinator's CA certificate (PEM file).
    #[arg(long, env = "GPESCTL_CA", global = true)]
    ca: Option<PathBuf>,
    /// File holding the bearer token.
    #[arg(long, env = "GPESCTL_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    /// A TOML file with `address`, `ca` and `token_file`; flags and the
    /// environment override it.
    #[arg(long, env = "GPESCTL_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One-time enrollment tokens for agents.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Collections: a query, its parameters, schedule and practices.
    Collection {
        #[command(subcommand)]
        command: CollectionCommand,
    },
    /// Runs, newest first, with their jobs counted by state; or, with
    /// --wait-for, one collection's newest run and its results once every
    /// job is finished.
    Runs {
        /// Only runs of this collection.
        #[arg(long)]
        collection: Option<String>,
        /// At most this many runs (newest first).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Wait until the newest run of this collection has no job pending
        /// or running, then print its results.
        #[arg(long)]
        wait_for: Option<String>,
        /// How long to wait, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// One run: its results, or cancel it, or retry its failed jobs.
    Run {
        #[command(subcommand)]
        command: RunCommand,
    },
    /// Query files, offline: check them, explain them in plain English.
    Query {
        #[command(subcommand)]
        command: QueryCommand,
    },
}

#[derive(Subcommand, Debug)]
enum QueryCommand {
    /// Parse and validate query files; print each one's id and hash.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a query's rules in plain English.
    Explain { file: PathBuf },
}

#[derive(Subcommand, Debug)]
enum RunCommand {
    /// A run's counts and every practice's result.
    Show { id: String },
    /// Stop handing out the run's waiting jobs; results already stored stay.
    Cancel { id: String },
    /// Hand the run's failed and expired jobs out again.
    Retry { id: String },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Make a token for a new agent serving the given practices.
    Create {
        #[arg(long = "practice", required = true)]
        practices: Vec<String>,
        /// Validity in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

#[derive(Subcommand, Debug)]
enum CollectionCommand {
    /// Create a collection.
    Create {
        #[arg(long)]
        name: String,
        /// The query document.
        #[arg(long)]
        query: PathBuf,
        /// NAME=VALUE (a date YYYY-MM-DD, or run-date).
        #[arg(long = "param")]
        params: Vec<String>,
        /// Five-field cron expression in Europe/London time; omit to run
        /// only by hand.
        #[arg(long, default_value = "")]
        schedule: String,
        #[arg(long = "practice", required = true)]
        practices: Vec<String>,
        #[arg(long, value_parser = parse_purpose)]
        purpose: Purpose,
        #[arg(long, value_parser = parse_data_class)]
        data_class: DataClass,
        /// Hours after a run fires until its waiting jobs expire (default:
        /// the coordinator's run_deadline_hours).
        #[arg(long)]
        deadline_hours: Option<u64>,
    },
    /// List collections.
    List,
    /// Run a collection now.
    Run { id: String },
}

fn parse_purpose(s: &str) -> Result<Purpose, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| "one of: direct-care, payment, planning, research, publication".to_owned())
}

fn parse_data_class(s: &str) -> Result<DataClass, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
        "one of: aggregate, record-level-deidentified, patient-identifiable".to_owned()
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    address: Option<String>,
    ca: Option<PathBuf>,
    token_file: Option<PathBuf>,
}

fn uplink(args: &Args) -> anyhow::Result<Uplink> {
    let file: FileConfig = match &args.config {
        Some(p) => toml::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("{} is not a valid gpesctl config", p.display()))?,
        None => FileConfig::default(),
    };
    let address = args
        .address
        .clone()
        .or(file.address)
        .context("say where the coordinator is: --address, GPESCTL_ADDRESS or a config file")?;
    let ca = args
        .ca
        .clone()
        .or(file.ca)
        .context("give the coordinator's CA certificate: --ca, GPESCTL_CA or a config file")?;
    let token_file = args
        .token_file
        .clone()
        .or(file.token_file)
        .context("give the token file: --token-file, GPESCTL_TOKEN_FILE or a config file")?;
    let ca_pem =
        std::fs::read_to_string(&ca).with_context(|| format!("reading {}", ca.display()))?;
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("reading {}", token_file.display()))?;
    let tls = gpes_pki::operator_client_config(&ca_pem)?;
    Ok(Uplink::new(&address, tls)
        .map_err(anyhow::Error::msg)?
        .with_bearer(token.trim()))
}

const TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Command::Query { command } = &args.command {
        return run_query(command);
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gpesctl: {e:#}");
            ExitCode::from(1)
        }
    }
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
fn run_query(command: &QueryCommand) -> ExitCode {
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

async fn run(args: Args) -> anyhow::Result<()> {
    match &args.command {
        Command::Query { .. } => {
            bail!("query commands are handled without the coordinator")
        }
        Command::Token {
            command: TokenCommand::Create { practices, ttl },
        } => {
            let up = uplink(&args)?;
            let r: CreateTokenResponse = up
                .post(
                    "/v1/tokens",
                    &CreateTokenRequest {
                        practices: practices.clone(),
                        ttl_seconds: *ttl,
                    },
                    TIMEOUT,
                )
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("{}", r.token);
            }
        }
        Command::Collection { command } => {
            let up = uplink(&args)?;
            match command {
                CollectionCommand::Create {
                    name,
                    query,
                    params,
                    schedule,
                    practices,
                    purpose,
                    data_class,
                    deadline_hours,
                } => {
                    let mut parameters = BTreeMap::new();
                    for p in params {
                        let Some((k, v)) = p.split_once('=') else {
                            bail!("--param takes NAME=VALUE, not '{p}'");
                        };
                        parameters.insert(k.to_owned(), v.to_owned());
                    }
                    let query_text = std::fs::read_to_string(query)
                        .with_context(|| format!("reading {}", query.display()))?;
                    // Code lists named by file are written into the text:
                    // the coordinator and agents see the whole query.
                    let dir = query.parent().unwrap_or(Path::new(".")).to_path_buf();
                    let lists = move |f: &str| {
                        std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string())
                    };
                    let query_text =
                        gpes_query::fold(&query.display().to_string(), &query_text, &lists)
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let c: Collection = up
                        .post(
                            "/v1/collections",
                            &CreateCollectionRequest {
                                name: name.clone(),
                                query: query_text,
                                parameters,
                                schedule: schedule.clone(),
                                practices: practices.clone(),
                                purpose: *purpose,
                                data_class: *data_class,
                                deadline_seconds: deadline_hours.map(|h| h.saturating_mul(3600)),
                            },
                            TIMEOUT,
                        )
                        .await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&c)?);
                    } else {
                        println!("{}", c.id);
                    }
                }
                CollectionCommand::List => {
                    let cs: Vec<Collection> = all_pages(&up, "/v1/collections", u32::MAX).await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&cs)?);
                    } else {
                        for c in cs {
                            println!(
                                "{}\t{}\t{}\t{}",
                                c.id,
                                c.name,
                                c.schedule,
                                c.practices.join(",")
                            );
                        }
                    }
                }
                CollectionCommand::Run { id } => {
                    let r: Run = up
                        .post(&format!("/v1/collections/{id}/run"), &(), TIMEOUT)
                        .await?;
                    println!("{}", r.id);
                }
            }
        }
        Command::Runs {
            collection,
            limit,
            wait_for,
            timeout,
        } => {
            let up = uplink(&args)?;
            match wait_for {
                Some(collection) => {
                    let results = wait_for_run(&up, collection, *timeout).await?;
                    print_results(&args, &results)?;
                }
                None => {
                    let path = match collection {
                        Some(c) => format!("/v1/runs?collection={}", encode(c)),
                        None => "/v1/runs".to_owned(),
                    };
                    let runs: Vec<RunSummary> = all_pages(&up, &path, *limit).await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&runs)?);
                    } else {
                        print_summaries(&runs);
                    }
                }
            }
        }
        Command::Run { command } => {
            let up = uplink(&args)?;
            match command {
                RunCommand::Show { id } => {
                    let results = run_results(&up, id).await?;
                    print_results(&args, &results)?;
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
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&summary)?);
                    } else {
                        print_summaries(std::slice::from_ref(&summary));
                    }
                }
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

/// A path segment or query value, percent-encoded where needed.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Follows a list's cursors until `limit` items or the last page.
async fn all_pages<T: serde::de::DeserializeOwned>(
    up: &Uplink,
    path: &str,
    limit: u32,
) -> anyhow::Result<Vec<T>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}cursor={}", encode(c)),
            None => path.to_owned(),
        };
        let page: Page<T> = up.get(&url, TIMEOUT).await?;
        items.extend(page.items);
        if items.len() >= limit as usize {
            items.truncate(limit as usize);
            return Ok(items);
        }
        match page.next {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            _ => return Ok(items),
        }
    }
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
    loop {
        let page: Page<RunSummary> = up.get(&path, TIMEOUT).await?;
        if let Some(newest) = page.items.first()
            && newest.jobs.finished()
        {
            return run_results(up, &newest.run.id).await;
        }
        if tokio::time::Instant::now() >= deadline {
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

fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Pending => "pending",
        JobStatus::Leased => "running",
        JobStatus::Done => "done",
        JobStatus::Failed => "failed",
        JobStatus::Expired => "expired",
        JobStatus::Cancelled => "cancelled",
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

fn print_results(args: &Args, results: &RunResults) -> anyhow::Result<()> {
    if args.json {
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
