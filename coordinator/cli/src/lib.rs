//! gpesctl: the operator's command line, as a library with one module per
//! command group (`collections`, `runs`, `practices`, `agents`, `users`,
//! `audit`, `tokens`, `query`, `orgs`) and a thin `main`. It talks to the
//! coordinator's operator listener over TLS (trusting the coordinator's
//! CA) with a bearer token, read from flags, the environment, or a config
//! file (`connect`). The `query` commands work offline: they check and
//! explain query files without the coordinator. It holds no state and no
//! rules of its own: every decision is the coordinator's.

pub mod agents;
pub mod audit;
pub mod collections;
pub mod connect;
pub mod declarations;
pub mod orgs;
pub mod participation;
pub mod practices;
pub mod query;
pub mod runs;
pub mod tokens;
pub mod users;

use clap::{Parser, Subcommand};
use gpes_client::Uplink;
use gpes_protocol::Page;
use std::path::PathBuf;
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
pub struct Args {
    /// Operator listener, host:port.
    #[arg(long, env = "GPESCTL_ADDRESS", global = true)]
    pub address: Option<String>,
    /// The coordinator's CA certificate (PEM file).
    #[arg(long, env = "GPESCTL_CA", global = true)]
    pub ca: Option<PathBuf>,
    /// File holding the bearer token.
    #[arg(long, env = "GPESCTL_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// A TOML file with `address`, `ca` and `token_file`; flags and the
    /// environment override it.
    #[arg(long, env = "GPESCTL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// One-time enrollment tokens for agents.
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Collections: a query, its parameters, schedule and practices.
    Collection {
        #[command(subcommand)]
        command: collections::CollectionCommand,
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
        command: runs::RunCommand,
    },
    /// Enrolled agents: what each last reported, and revocation.
    Agent {
        #[command(subcommand)]
        command: agents::AgentCommand,
    },
    /// The practices registry: import the ODS files, list, show, set what
    /// the files do not carry.
    Practice {
        #[command(subcommand)]
        command: practices::PracticeCommand,
    },
    /// The audit trail: who did what, and whether it is intact.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Every active collection's runs due in the coming weeks (the runs
    /// reaching your practices, for a practice's users).
    Timetable {
        /// How many weeks ahead (1 to 26).
        #[arg(long, default_value_t = 4)]
        weeks: u32,
        /// From this London date (YYYY-MM-DD) instead of now.
        #[arg(long)]
        from: Option<String>,
    },
    /// What is offered to a practice; its decisions and standing
    /// preferences.
    Participation {
        #[command(subcommand)]
        command: participation::ParticipationCommand,
    },
    /// What needs someone to act: practices with no decision before an
    /// offered collection runs, failing jobs, agents not seen for a day.
    Attention {
        /// How near a run makes a missing decision worth a line.
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Declarations of practices' results, and their approval.
    Declaration {
        #[command(subcommand)]
        command: declarations::DeclarationCommand,
    },
    /// Values entered by hand, where nothing extracts them.
    Manual {
        #[command(subcommand)]
        command: declarations::ManualCommand,
    },
    /// Your calendar feed addresses of the timetable.
    Feed {
        #[command(subcommand)]
        command: participation::FeedCommand,
    },
    /// People: users, their role grants and their API tokens.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Who the token belongs to, and their grants.
    Whoami,
    /// Requesting organisations and where their results are delivered.
    Org {
        #[command(subcommand)]
        command: orgs::OrgCommand,
    },
    /// Query files, offline: check them, explain them in plain English.
    Query {
        #[command(subcommand)]
        command: query::QueryCommand,
    },
}

/// The arguments of one command line (the first being the program's
/// name), for callers that run gpesctl in-process (the test suites).
pub fn args_from(line: &[&str]) -> Result<Args, String> {
    Args::try_parse_from(line).map_err(|e| e.to_string())
}

/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The command line's entry point: parses the arguments, runs the
/// command, and says how it ended in the exit code.
pub fn main() -> ExitCode {
    let args = Args::parse();
    if let Command::Query { command } = &args.command
        && !command.online()
    {
        return query::run(command);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gpesctl: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<audit::Tampered>() => {
            eprintln!("gpesctl: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("gpesctl: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs a command that talks to the coordinator.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let json = args.json;
    match &args.command {
        Command::Query { command } => {
            query::run_online(&connect::uplink(args)?, json, command).await
        }
        Command::Token { command } => tokens::run(&connect::uplink(args)?, json, command).await,
        Command::Collection { command } => {
            collections::run(&connect::uplink(args)?, json, command).await
        }
        Command::Runs {
            collection,
            limit,
            wait_for,
            timeout,
        } => {
            runs::list_or_wait(
                &connect::uplink(args)?,
                json,
                collection.as_deref(),
                *limit,
                wait_for.as_deref(),
                *timeout,
            )
            .await
        }
        Command::Run { command } => runs::run(&connect::uplink(args)?, json, command).await,
        Command::Agent { command } => agents::run(&connect::uplink(args)?, json, command).await,
        Command::Practice { command } => {
            practices::run(&connect::uplink(args)?, json, command).await
        }
        Command::Audit { command } => audit::run(&connect::uplink(args)?, json, command).await,
        Command::User { command } => users::run(&connect::uplink(args)?, json, command).await,
        Command::Org { command } => orgs::run(&connect::uplink(args)?, json, command).await,
        Command::Whoami => users::whoami(&connect::uplink(args)?, json).await,
        Command::Timetable { weeks, from } => {
            collections::timetable(&connect::uplink(args)?, json, *weeks, from.as_deref()).await
        }
        Command::Participation { command } => {
            participation::run(&connect::uplink(args)?, json, command).await
        }
        Command::Attention { days } => {
            participation::attention(&connect::uplink(args)?, json, *days).await
        }
        Command::Declaration { command } => {
            declarations::run(&connect::uplink(args)?, json, command).await
        }
        Command::Manual { command } => {
            declarations::manual(&connect::uplink(args)?, json, command).await
        }
        Command::Feed { command } => {
            participation::feed(&connect::uplink(args)?, json, command).await
        }
    }
}

/// A time as UTC, or "never".
pub fn when(ms: Option<u64>) -> String {
    ms.and_then(|ms| chrono::DateTime::from_timestamp_millis(i64::try_from(ms).ok()?))
        .map_or_else(
            || "never".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// A path segment or query value, percent-encoded where needed.
pub fn encode(text: &str) -> String {
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
pub async fn all_pages<T: serde::de::DeserializeOwned>(
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
