//! `gpesctl audit ...`: the trail, listed and verified (exit 3 when it
//! does not verify).

use crate::{all_pages, when};
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{AuditEntry, AuditVerification};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// The newest entries, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Check every entry's seal, the sequence and the signed checkpoint.
    /// Exits 3 when the trail was tampered with.
    Verify,
}

/// `audit verify` found the trail tampered with (exit code 3).
#[derive(Debug)]
pub struct Tampered;

impl std::fmt::Display for Tampered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the audit trail does not verify")
    }
}

impl std::error::Error for Tampered {}

pub async fn run(up: &Uplink, json: bool, command: &AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::List { limit } => {
            let entries: Vec<AuditEntry> = all_pages(up, "/v1/audit", *limit).await?;
            if json {
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
            let v: AuditVerification = up.get("/v1/audit/verify", Duration::from_secs(600)).await?;
            if json {
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
    Ok(())
}
