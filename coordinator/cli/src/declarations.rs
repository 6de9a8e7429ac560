//! `gpesctl declaration ...`: a practice's declarer declares a run's
//! result; the commissioner of its region approves or rejects it.

use crate::{TIMEOUT, encode, when};
use anyhow::Context;
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{Declaration, DeclareRequest, RejectRequest};

#[derive(Subcommand, Debug)]
pub enum DeclarationCommand {
    /// Declare the practice's result of a run (its extract hash, as
    /// `gpesctl run show` prints it; it must be the latest).
    Declare {
        run: String,
        #[arg(long)]
        practice: String,
        #[arg(long)]
        extract_hash: String,
    },
    /// Declarations within your grants, newest first.
    List {
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        practice: Option<String>,
        /// declared, approved, rejected or reopened.
        #[arg(long)]
        state: Option<String>,
    },
    /// Approve a declared result (the practice's commissioner).
    Approve { id: String },
    /// Reject a declared result, saying why (the practice's commissioner).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ManualCommand {
    /// Enter a practice's values by hand (its declarer), for a collection
    /// entered by hand or a practice with no agent; again to correct them.
    Enter {
        run: String,
        #[arg(long)]
        practice: String,
        /// POPULATION=COUNT, one for every population of the query.
        #[arg(long = "count", required = true)]
        counts: Vec<String>,
    },
    /// Every version of a practice's values entered for a run.
    History {
        run: String,
        #[arg(long)]
        practice: String,
    },
}

pub async fn manual(up: &Uplink, json: bool, command: &ManualCommand) -> anyhow::Result<()> {
    let entries: Vec<gpes_protocol::ManualEntry> = match command {
        ManualCommand::Enter {
            run,
            practice,
            counts,
        } => {
            let mut populations = Vec::new();
            for c in counts {
                let (name, n) = c
                    .split_once('=')
                    .and_then(|(name, n)| Some((name, n.trim().parse::<u64>().ok()?)))
                    .with_context(|| {
                        format!("--count takes POPULATION=COUNT (a whole number), not '{c}'")
                    })?;
                populations.push(gpes_protocol::PopulationCount {
                    population: name.trim().to_owned(),
                    count: Some(n),
                    suppressed: false,
                    cells: Vec::new(),
                });
            }
            vec![
                up.post(
                    &format!("/v1/runs/{}/manual", encode(run)),
                    &gpes_protocol::ManualEntryRequest {
                        practice: practice.clone(),
                        populations,
                    },
                    TIMEOUT,
                )
                .await?,
            ]
        }
        ManualCommand::History { run, practice } => {
            up.get(
                &format!(
                    "/v1/runs/{}/manual?practice={}",
                    encode(run),
                    encode(practice)
                ),
                TIMEOUT,
            )
            .await?
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    for e in entries {
        let values: Vec<String> = e
            .populations
            .iter()
            .map(|p| format!("{}={}", p.population, p.shown()))
            .collect();
        println!(
            "version {} by {} at {}: {} ({})",
            e.version,
            e.entered_by,
            when(Some(e.entered_ms)),
            values.join(" "),
            e.extract_hash
        );
    }
    Ok(())
}

fn print(json: bool, ds: &[Declaration]) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(ds)?);
        return Ok(());
    }
    println!(
        "{:<30} {:<10} {:<9} {:<25} {:<20} reason",
        "declaration", "practice", "state", "declared (UTC)", "decided by"
    );
    for d in ds {
        println!(
            "{:<30} {:<10} {:<9} {:<25} {:<20} {}",
            d.id,
            d.practice,
            crate::declarations::state_name(d),
            when(Some(d.declared_ms)),
            d.decided_by.clone().unwrap_or_else(|| "-".into()),
            d.reason.clone().unwrap_or_default()
        );
    }
    Ok(())
}

fn state_name(d: &Declaration) -> String {
    serde_json::to_value(d.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub async fn run(up: &Uplink, json: bool, command: &DeclarationCommand) -> anyhow::Result<()> {
    let one = match command {
        DeclarationCommand::Declare {
            run,
            practice,
            extract_hash,
        } => {
            up.post::<_, Declaration>(
                &format!("/v1/runs/{}/declarations", encode(run)),
                &DeclareRequest {
                    practice: practice.clone(),
                    extract_hash: extract_hash.parse().ok().with_context(|| {
                        format!("'{extract_hash}' is not an extract hash (sha256:...)")
                    })?,
                },
                TIMEOUT,
            )
            .await?
        }
        DeclarationCommand::List {
            run,
            practice,
            state,
        } => {
            let mut query = Vec::new();
            for (k, v) in [("run", run), ("practice", practice), ("state", state)] {
                if let Some(v) = v {
                    query.push(format!("{k}={}", encode(v)));
                }
            }
            let path = if query.is_empty() {
                "/v1/declarations".to_owned()
            } else {
                format!("/v1/declarations?{}", query.join("&"))
            };
            let ds: Vec<Declaration> = up.get(&path, TIMEOUT).await?;
            return print(json, &ds);
        }
        DeclarationCommand::Approve { id } => {
            up.post(
                &format!("/v1/declarations/{}/approve", encode(id)),
                &(),
                TIMEOUT,
            )
            .await?
        }
        DeclarationCommand::Reject { id, reason } => {
            up.post(
                &format!("/v1/declarations/{}/reject", encode(id)),
                &RejectRequest {
                    reason: reason.clone(),
                },
                TIMEOUT,
            )
            .await?
        }
    };
    print(json, std::slice::from_ref(&one))
}
