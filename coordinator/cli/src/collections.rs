//! `gpesctl collection ...`: make, list and run collections.

use crate::{TIMEOUT, all_pages};
use anyhow::{Context, bail};
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{Collection, CreateCollectionRequest, DataClass, Purpose, Run};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum CollectionCommand {
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

pub async fn run(up: &Uplink, json: bool, command: &CollectionCommand) -> anyhow::Result<()> {
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
            let lists =
                move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
            let query_text = gpes_query::fold(&query.display().to_string(), &query_text, &lists)
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
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                println!("{}", c.id);
            }
        }
        CollectionCommand::List => {
            let cs: Vec<Collection> = all_pages(up, "/v1/collections", u32::MAX).await?;
            if json {
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
    Ok(())
}
