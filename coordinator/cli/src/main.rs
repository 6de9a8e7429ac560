//! gpesctl: the operator's command line. It talks to the coordinator's
//! operator listener over TLS (trusting the coordinator's CA) with a bearer
//! token, read from flags, the environment, or a config file. The `query`
//! commands work offline: they check and explain query files without the
//! coordinator.

mod users;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gpes_client::Uplink;
use gpes_protocol::{
    AgentInfo, Answer, AuditEntry, AuditVerification, Collection, CreateCollectionRequest,
    CreateTokenRequest, CreateTokenResponse, DataClass, JobStatus, Page, Practice,
    PracticeImportRequest, PracticeImportResponse, PracticeRecord, PracticeSetRequest,
    PracticeStatus, Purpose, ResultOutput, ResultRow, RevokeResponse, Run, RunResults, RunSummary,
    SuccessorRecord, WarningCount,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "The GPES operator's command line",
    after_help = "Exit codes: 0 done; 1 refused or failed (the message says why); 2 wrong usage; \
                  3 `audit verify` found the trail tampered with. `query check` exits 1 when a file \
                  does not validate."
)]
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
    /// Enrolled agents: what each last reported, and revocation.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// The practices registry: import the ODS files, list, show, set what
    /// the files do not carry.
    Practice {
        #[command(subcommand)]
        command: PracticeCommand,
    },
    /// The audit trail: who did what, and whether it is intact.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// People: users, their role grants and their API tokens.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Who the token belongs to, and their grants.
    Whoami,
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

#[derive(Subcommand, Debug)]
enum PracticeCommand {
    /// Load the public ODS GP practice file (epraccur.csv: no header; the
    /// columns used are 1 code, 2 name, 11 open date, 12 close date (both
    /// YYYYMMDD), 13 status (A active, C closed, D dormant, P proposed), 15
    /// commissioner) and, with --successors, the ODS successor file
    /// (succ.csv: 1 practice, 2 its successor). Idempotent: prints what
    /// changed.
    Import {
        file: PathBuf,
        #[arg(long)]
        successors: Option<PathBuf>,
    },
    /// Every practice of the registry.
    List,
    Show {
        code: String,
    },
    /// Set what the ODS file does not carry.
    Set {
        code: String,
        #[arg(long)]
        supplier: Option<String>,
        #[arg(long)]
        clinical_system: Option<String>,
        /// A test practice (true or false).
        #[arg(long)]
        test: Option<bool>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// The newest entries, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Check every entry's seal, the sequence and the signed checkpoint.
    /// Exits 3 when the trail was tampered with.
    Verify,
}

#[derive(Subcommand, Debug)]
enum AgentCommand {
    /// Every enrolled agent: when it was last seen, its version, its
    /// practices.
    List,
    /// One agent, and per practice its plugin, buffer depth and last error.
    Show { id: String },
    /// Refuse the agent from now on (at the TLS handshake) and hand the
    /// jobs it holds to others. Cannot be undone: enroll it again.
    Revoke { id: String },
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
        Err(e) if e.is::<Tampered>() => {
            eprintln!("gpesctl: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("gpesctl: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `audit verify` found the trail tampered with (exit code 3).
#[derive(Debug)]
struct Tampered;

impl std::fmt::Display for Tampered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the audit trail does not verify")
    }
}

impl std::error::Error for Tampered {}

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
        Command::Practice { command } => {
            let up = uplink(&args)?;
            match command {
                PracticeCommand::Import { file, successors } => {
                    let practices = read_epraccur(file)?;
                    let successors = match successors {
                        Some(f) => read_successors(f)?,
                        None => Vec::new(),
                    };
                    let mut total = PracticeImportResponse::default();
                    for chunk in practices.chunks(1000) {
                        let r: PracticeImportResponse = up
                            .post(
                                "/v1/practices/import",
                                &PracticeImportRequest {
                                    practices: chunk.to_vec(),
                                    successors: vec![],
                                },
                                TIMEOUT,
                            )
                            .await?;
                        merge_import(&mut total, r);
                    }
                    for chunk in successors.chunks(1000) {
                        let r: PracticeImportResponse = up
                            .post(
                                "/v1/practices/import",
                                &PracticeImportRequest {
                                    practices: vec![],
                                    successors: chunk.to_vec(),
                                },
                                TIMEOUT,
                            )
                            .await?;
                        merge_import(&mut total, r);
                    }
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&total)?);
                    } else {
                        for code in &total.added {
                            println!("added    {code}");
                        }
                        for (code, fields) in &total.changed {
                            println!("changed  {code}: {}", fields.join("; "));
                        }
                        println!(
                            "{} added, {} changed, {} unchanged",
                            total.added.len(),
                            total.changed.len(),
                            total.unchanged
                        );
                    }
                }
                PracticeCommand::List => {
                    let all: Vec<Practice> = all_pages(&up, "/v1/practices", u32::MAX).await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&all)?);
                    } else {
                        println!(
                            "{:<8} {:<36} {:<8} {:<9} {:<12} {:<16} supplier",
                            "code", "name", "region", "status", "closed", "successor"
                        );
                        for p in all {
                            println!(
                                "{:<8} {:<36} {:<8} {:<9} {:<12} {:<16} {}{}",
                                p.code,
                                p.name,
                                p.region,
                                p.status.as_str(),
                                p.close_date.as_deref().unwrap_or("-"),
                                p.successor.as_deref().unwrap_or("-"),
                                p.supplier.as_deref().unwrap_or("-"),
                                if p.test { " (test)" } else { "" }
                            );
                        }
                    }
                }
                PracticeCommand::Show { code } => {
                    let p: Practice = up
                        .get(&format!("/v1/practices/{}", encode(code)), TIMEOUT)
                        .await?;
                    println!("{}", serde_json::to_string_pretty(&p)?);
                }
                PracticeCommand::Set {
                    code,
                    supplier,
                    clinical_system,
                    test,
                } => {
                    let p: Practice = up
                        .post(
                            &format!("/v1/practices/{}", encode(code)),
                            &PracticeSetRequest {
                                supplier: supplier.clone(),
                                clinical_system: clinical_system.clone(),
                                test: *test,
                            },
                            TIMEOUT,
                        )
                        .await?;
                    println!("{}", serde_json::to_string_pretty(&p)?);
                }
            }
        }
        Command::Audit { command } => {
            let up = uplink(&args)?;
            match command {
                AuditCommand::List { limit } => {
                    let entries: Vec<AuditEntry> = all_pages(&up, "/v1/audit", *limit).await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&entries)?);
                    } else {
                        println!(
                            "{:>6} {:<23} {:<28} {:<17} {:<16} {:<36} detail",
                            "seq", "when", "who", "grant", "action", "target"
                        );
                        for e in entries {
                            println!(
                                "{:>6} {:<23} {:<28} {:<17} {:<16} {:<36} {}",
                                e.seq,
                                when(Some(e.at_ms)),
                                e.actor,
                                e.grant,
                                e.action,
                                e.target,
                                e.detail
                            );
                        }
                    }
                }
                AuditCommand::Verify => {
                    let v: AuditVerification =
                        up.get("/v1/audit/verify", Duration::from_secs(600)).await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&v)?);
                    } else {
                        println!(
                            "{} entries, the newest {}; checkpoint: {}",
                            v.entries,
                            v.last_seq,
                            v.checkpoint_seq
                                .map_or("none yet".to_owned(), |s| format!("entry {s}"))
                        );
                        for p in &v.problems {
                            println!("PROBLEM: {p}");
                        }
                        if v.ok {
                            println!("the trail is intact");
                        }
                    }
                    if !v.ok {
                        return Err(Tampered.into());
                    }
                }
            }
        }
        Command::User { command } => users::run(&uplink(&args)?, args.json, command).await?,
        Command::Whoami => users::whoami(&uplink(&args)?, args.json).await?,
        Command::Agent { command } => {
            let up = uplink(&args)?;
            match command {
                AgentCommand::List => {
                    let agents: Vec<AgentInfo> = all_pages(&up, "/v1/agents", u32::MAX).await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&agents)?);
                    } else {
                        print_agents(&agents);
                    }
                }
                AgentCommand::Show { id } => {
                    let agent: AgentInfo = up
                        .get(&format!("/v1/agents/{}", encode(id)), TIMEOUT)
                        .await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&agent)?);
                    } else {
                        print_agent(&agent);
                    }
                }
                AgentCommand::Revoke { id } => {
                    let r: RevokeResponse = up
                        .post(&format!("/v1/agents/{}/revoke", encode(id)), &(), TIMEOUT)
                        .await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&r)?);
                    } else {
                        println!(
                            "revoked {} at {}; {} held job(s) handed back",
                            r.agent.agent_id,
                            when(r.agent.revoked_ms),
                            r.jobs_released
                        );
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

fn merge_import(total: &mut PracticeImportResponse, r: PracticeImportResponse) {
    total.added.extend(r.added);
    total.changed.extend(r.changed);
    total.unchanged += r.unchanged;
}

/// YYYYMMDD as YYYY-MM-DD; empty as none.
fn ods_date(text: &str, file: &Path, line: u64, column: usize) -> anyhow::Result<Option<String>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "{}:{line}: column {column} is '{t}', not a date YYYYMMDD",
            file.display()
        );
    }
    Ok(Some(format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..])))
}

fn csv_rows(file: &Path) -> anyhow::Result<Vec<(u64, csv::StringRecord)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("reading {}", file.display()))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", file.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, record));
    }
    Ok(rows)
}

/// The ODS GP practice file (epraccur layout), the columns documented at
/// `practice import`.
fn read_epraccur(file: &Path) -> anyhow::Result<Vec<PracticeRecord>> {
    let mut out = Vec::new();
    for (line, r) in csv_rows(file)? {
        if r.len() < 15 {
            bail!(
                "{}:{line}: {} columns; the ODS practice file (epraccur) has at least 15",
                file.display(),
                r.len()
            );
        }
        let status = match r[12].trim() {
            "A" => PracticeStatus::Active,
            "C" => PracticeStatus::Closed,
            "D" => PracticeStatus::Dormant,
            "P" => PracticeStatus::Proposed,
            other => bail!(
                "{}:{line}: column 13 is '{other}', not a status (A, C, D or P)",
                file.display()
            ),
        };
        out.push(PracticeRecord {
            code: r[0].trim().to_ascii_uppercase(),
            name: r[1].trim().to_owned(),
            region: r[14].trim().to_ascii_uppercase(),
            status,
            open_date: ods_date(&r[10], file, line, 11)?,
            close_date: ods_date(&r[11], file, line, 12)?,
        });
    }
    Ok(out)
}

/// The ODS successor file: practice, successor.
fn read_successors(file: &Path) -> anyhow::Result<Vec<SuccessorRecord>> {
    let mut out = Vec::new();
    for (line, r) in csv_rows(file)? {
        if r.len() < 2 {
            bail!(
                "{}:{line}: the successor file needs at least 2 columns",
                file.display()
            );
        }
        out.push(SuccessorRecord {
            code: r[0].trim().to_ascii_uppercase(),
            successor: r[1].trim().to_ascii_uppercase(),
        });
    }
    Ok(out)
}

/// A time as UTC, or "never".
fn when(ms: Option<u64>) -> String {
    ms.and_then(|ms| chrono::DateTime::from_timestamp_millis(i64::try_from(ms).ok()?))
        .map_or_else(
            || "never".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

fn print_agents(agents: &[AgentInfo]) {
    println!(
        "{:<40} {:<9} {:<23} {:<9} practices",
        "agent", "status", "last seen", "version"
    );
    for a in agents {
        let practices: Vec<&str> = a.practices.iter().map(|p| p.practice.as_str()).collect();
        println!(
            "{:<40} {:<9} {:<23} {:<9} {}",
            a.agent_id,
            if a.revoked_ms.is_some() {
                "revoked"
            } else {
                "active"
            },
            when(a.last_seen_ms),
            a.agent_version.as_deref().unwrap_or("-"),
            practices.join(",")
        );
    }
}

fn print_agent(a: &AgentInfo) {
    println!("agent      {}", a.agent_id);
    println!("enrolled   {}", when(Some(a.enrolled_ms)));
    if a.revoked_ms.is_some() {
        println!("revoked    {}", when(a.revoked_ms));
    }
    println!("last seen  {}", when(a.last_seen_ms));
    println!("version    {}", a.agent_version.as_deref().unwrap_or("-"));
    println!(
        "protocol   {}",
        a.protocol_version.map_or("-".to_owned(), |v| v.to_string())
    );
    println!(
        "{:<10} {:<28} {:>7}  last error",
        "practice", "plugin", "buffer"
    );
    for p in &a.practices {
        let plugin = match (&p.plugin_name, &p.plugin_version) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            _ => "-".to_owned(),
        };
        println!(
            "{:<10} {:<28} {:>7}  {}",
            p.practice,
            plugin,
            p.buffer_depth.map_or("-".to_owned(), |d| d.to_string()),
            p.last_error.as_deref().unwrap_or("")
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/registry")
            .join(name)
    }

    #[test]
    fn the_example_registry_files_read_as_the_ods_layouts_say() {
        let practices = read_epraccur(&example("epraccur.csv")).expect("epraccur");
        assert_eq!(practices.len(), 4);
        assert_eq!(practices[0].code, "A81001");
        assert_eq!(practices[0].name, "EXAMPLE SURGERY ONE");
        assert_eq!(practices[0].region, "16C");
        assert_eq!(practices[0].status, PracticeStatus::Active);
        assert_eq!(practices[0].open_date.as_deref(), Some("1974-04-01"));
        assert_eq!(practices[0].close_date, None);
        assert_eq!(practices[3].status, PracticeStatus::Closed);
        assert_eq!(practices[3].close_date.as_deref(), Some("2024-03-31"));
        let successors = read_successors(&example("succ.csv")).expect("succ");
        assert_eq!(
            successors,
            [SuccessorRecord {
                code: "C83099".into(),
                successor: "C83003".into()
            }]
        );
    }

    #[test]
    fn a_bad_registry_line_names_its_file_line_and_column() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("epraccur.csv");
        let good = std::fs::read_to_string(example("epraccur.csv")).expect("read");
        let first = good.lines().next().expect("line");
        std::fs::write(
            &file,
            format!("{first}\n{}\n", first.replace("19740401", "1974-04")),
        )
        .expect("write");
        let err = read_epraccur(&file).expect_err("bad date").to_string();
        assert!(
            err.contains("epraccur.csv:2: column 11 is '1974-04'"),
            "{err}"
        );
        std::fs::write(&file, first.replace("\"A\",\"B\"", "\"X\",\"B\"")).expect("write");
        let err = read_epraccur(&file).expect_err("bad status").to_string();
        assert!(err.contains("column 13 is 'X'"), "{err}");
        std::fs::write(&file, "\"A81001\",\"SHORT\"\n").expect("write");
        let err = read_epraccur(&file).expect_err("short").to_string();
        assert!(err.contains("2 columns"), "{err}");
    }
}
