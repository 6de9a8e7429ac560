//! `gpesctl collection ...`: make, list and run collections.

use crate::{TIMEOUT, all_pages};
use anyhow::{Context, bail};
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{Collection, CreateCollectionRequest, DataClass, Purpose, QueryRef, Run};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum CollectionCommand {
    /// Create a collection.
    Create {
        #[arg(long)]
        name: String,
        /// The query document (its code lists folded in; it enters the
        /// library as a new version, or is found there).
        #[arg(
            long,
            required_unless_present = "query_ref",
            conflicts_with = "query_ref"
        )]
        query: Option<PathBuf>,
        /// A version of the library instead: ID:VERSION (`gpesctl query
        /// list`).
        #[arg(long)]
        query_ref: Option<String>,
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
        /// Make it as a draft: it does not run until activated.
        #[arg(long)]
        draft: bool,
    },
    /// List collections.
    List,
    /// Run a collection now (it must be active).
    Run { id: String },
    /// Activate a draft or paused collection: its schedule fires.
    Activate { id: String },
    /// Pause an active collection: nothing fires until it is activated.
    Pause { id: String },
    /// Retire a collection for good.
    Retire { id: String },
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
            query_ref,
            params,
            schedule,
            practices,
            purpose,
            data_class,
            deadline_hours,
            draft,
        } => {
            let mut parameters = BTreeMap::new();
            for p in params {
                let Some((k, v)) = p.split_once('=') else {
                    bail!("--param takes NAME=VALUE, not '{p}'");
                };
                parameters.insert(k.to_owned(), v.to_owned());
            }
            let (query_text, query_ref) = match (query, query_ref) {
                (Some(file), _) => (crate::query::read_folded(file)?, None),
                (None, Some(r)) => {
                    let (id, version) = r
                        .rsplit_once(':')
                        .and_then(|(id, v)| Some((id.to_owned(), v.parse::<u32>().ok()?)))
                        .with_context(|| format!("--query-ref takes ID:VERSION, not '{r}'"))?;
                    (String::new(), Some(QueryRef { id, version }))
                }
                (None, None) => bail!("give --query FILE or --query-ref ID:VERSION"),
            };
            let c: Collection = up
                .post(
                    "/v1/collections",
                    &CreateCollectionRequest {
                        name: name.clone(),
                        query: query_text,
                        query_ref,
                        parameters,
                        schedule: schedule.clone(),
                        practices: practices.clone(),
                        targeting: Default::default(),
                        purpose: *purpose,
                        data_class: *data_class,
                        deadline_seconds: deadline_hours.map(|h| h.saturating_mul(3600)),
                        draft: *draft,
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
                        "{}\t{}\t{}\t{}:{}\t{}\t{}",
                        c.id,
                        c.state.as_str(),
                        c.name,
                        c.query_ref.id,
                        c.query_ref.version,
                        c.schedule,
                        c.practices.join(",")
                    );
                }
            }
        }
        CollectionCommand::Activate { id }
        | CollectionCommand::Pause { id }
        | CollectionCommand::Retire { id } => {
            let verb = match command {
                CollectionCommand::Activate { .. } => "activate",
                CollectionCommand::Pause { .. } => "pause",
                _ => "retire",
            };
            let c: Collection = up
                .post(
                    &format!("/v1/collections/{}/{verb}", crate::encode(id)),
                    &(),
                    TIMEOUT,
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                println!("{} is {}", c.id, c.state.as_str());
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

/// `gpesctl timetable`: every active collection's runs due in the coming
/// weeks, soonest first (London time).
pub async fn timetable(up: &Uplink, json: bool, weeks: u32) -> anyhow::Result<()> {
    let entries: Vec<gpes_protocol::TimetableEntry> = up
        .get(&format!("/v1/timetable?weeks={weeks}"), TIMEOUT)
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    println!(
        "{:<26} {:<36} {:<30} practices",
        "due (London)", "collection", "name"
    );
    for e in entries {
        let practices = if e.practices.is_empty() {
            e.practice_count.to_string()
        } else {
            e.practices.join(",")
        };
        println!(
            "{:<26} {:<36} {:<30} {practices}",
            e.due_local, e.collection_id, e.collection_name
        );
    }
    Ok(())
}
