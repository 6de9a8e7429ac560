//! `gpesctl collection ...`: make, list and run collections.

use crate::{TIMEOUT, all_pages};
use anyhow::{Context, bail};
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{
    Collection, CollectionMethod, CollectionTerms, CollectionVersion, CreateCollectionRequest,
    DataClass, ParticipationMode, Purpose, QueryRef, Run, Targeting,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A collection's definition, as `create` makes it and `edit` replaces
/// it.
#[derive(clap::Args, Debug)]
pub struct Definition {
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
    /// A practice by its ODS code (repeat for each).
    #[arg(long = "practice")]
    practices: Vec<String>,
    /// Every active practice of a region (commissioner code; repeat).
    #[arg(long = "region")]
    regions: Vec<String>,
    /// Every active practice of a supplier (repeat).
    #[arg(long = "supplier")]
    suppliers: Vec<String>,
    /// Every active practice of the registry.
    #[arg(long)]
    all_practices: bool,
    /// A practice left out of the regions, suppliers or all (repeat).
    #[arg(long = "exclude")]
    exclude: Vec<String>,
    #[arg(long, value_parser = parse_purpose)]
    purpose: Purpose,
    #[arg(long, value_parser = parse_data_class)]
    data_class: DataClass,
    /// Hours after a run fires until its waiting jobs expire (default:
    /// the coordinator's run_deadline_hours).
    #[arg(long)]
    deadline_hours: Option<u64>,
    /// The requesting organisation's code (`gpesctl org list`).
    #[arg(long)]
    requested_by: Option<String>,
    /// Offered: practices take part only when they accept (or their
    /// standing preference does); mandatory when absent.
    #[arg(long)]
    offered: bool,
    /// Values are entered by hand by each practice's declarer, not
    /// extracted.
    #[arg(long)]
    manual: bool,
    /// The legal basis (required for patient-identifiable data).
    #[arg(long)]
    legal_basis: Option<String>,
    /// The approval's reference (required for patient-identifiable data).
    #[arg(long)]
    approval_reference: Option<String>,
    /// A practice's declarer must declare its result.
    #[arg(long)]
    needs_declaration: bool,
    /// The practice's commissioner must approve its declared result.
    #[arg(long)]
    needs_approval: bool,
    /// A payment rule (JSON: pence_per_point, national_list_size,
    /// list_size_population, indicators).
    #[arg(long)]
    payment_rule: Option<PathBuf>,
}

impl Definition {
    fn request(&self, draft: bool) -> anyhow::Result<CreateCollectionRequest> {
        let mut parameters = BTreeMap::new();
        for p in &self.params {
            let Some((k, v)) = p.split_once('=') else {
                bail!("--param takes NAME=VALUE, not '{p}'");
            };
            parameters.insert(k.to_owned(), v.to_owned());
        }
        let (query_text, query_ref) = match (&self.query, &self.query_ref) {
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
        Ok(CreateCollectionRequest {
            name: self.name.clone(),
            query: query_text,
            query_ref,
            parameters,
            schedule: self.schedule.clone(),
            practices: self.practices.clone(),
            targeting: Targeting {
                all: self.all_practices,
                regions: self.regions.clone(),
                suppliers: self.suppliers.clone(),
                exclude: self.exclude.clone(),
            },
            purpose: self.purpose,
            data_class: self.data_class,
            deadline_seconds: self.deadline_hours.map(|h| h.saturating_mul(3600)),
            draft,
            terms: CollectionTerms {
                requested_by: self.requested_by.clone(),
                participation: if self.offered {
                    ParticipationMode::Offered
                } else {
                    ParticipationMode::Mandatory
                },
                method: if self.manual {
                    CollectionMethod::Manual
                } else {
                    CollectionMethod::Automatic
                },
                legal_basis: self.legal_basis.clone(),
                approval_reference: self.approval_reference.clone(),
                needs_declaration: self.needs_declaration,
                needs_approval: self.needs_approval,
                payment: match &self.payment_rule {
                    Some(file) => Some(
                        serde_json::from_str(
                            &std::fs::read_to_string(file)
                                .with_context(|| format!("cannot read {}", file.display()))?,
                        )
                        .with_context(|| format!("{} is not a payment rule", file.display()))?,
                    ),
                    None => None,
                },
            },
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum CollectionCommand {
    /// Create a collection.
    Create {
        #[command(flatten)]
        definition: Box<Definition>,
        /// Make it as a draft: it does not run until activated.
        #[arg(long)]
        draft: bool,
    },
    /// Replace a draft or paused collection's definition whole, as its
    /// next version (runs made keep the version they ran).
    Edit {
        id: String,
        #[command(flatten)]
        definition: Box<Definition>,
    },
    /// A collection's definition and terms.
    Show { id: String },
    /// Every version of a collection's definition.
    Versions { id: String },
    /// List collections.
    List,
    /// Run a collection now (it must be active).
    Run { id: String },
    /// Try a collection (any state but retired) on the registry's test
    /// practices: the run is kept apart, never delivered, and deletable.
    DryRun {
        id: String,
        /// Only these test practices (all active test practices when
        /// absent).
        #[arg(long = "practice")]
        practices: Vec<String>,
    },
    /// Run a collection now for your own practice (B1842): the result is
    /// the practice's alone.
    Adhoc {
        id: String,
        #[arg(long)]
        practice: String,
    },
    /// Activate a draft or paused collection: its schedule fires.
    Activate { id: String },
    /// Pause an active collection: nothing fires until it is activated.
    Pause { id: String },
    /// Retire a collection for good.
    Retire { id: String },
}

pub fn parse_purpose(s: &str) -> Result<Purpose, String> {
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
        CollectionCommand::Create { definition, draft } => {
            let c: Collection = up
                .post("/v1/collections", &definition.request(*draft)?, TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                println!("{}", c.id);
            }
        }
        CollectionCommand::Edit { id, definition } => {
            let c: Collection = up
                .put(
                    &format!("/v1/collections/{}", crate::encode(id)),
                    &definition.request(false)?,
                    TIMEOUT,
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                println!("{} is now version {}", c.id, c.version);
            }
        }
        CollectionCommand::Show { id } => {
            let c: Collection = up
                .get(&format!("/v1/collections/{}", crate::encode(id)), TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                print_collection(&c);
            }
        }
        CollectionCommand::Versions { id } => {
            let vs: Vec<CollectionVersion> = up
                .get(
                    &format!("/v1/collections/{}/versions", crate::encode(id)),
                    TIMEOUT,
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&vs)?);
            } else {
                println!("{:<8} {:<25} {:<20} query", "version", "made (UTC)", "by");
                for v in vs {
                    println!(
                        "{:<8} {:<25} {:<20} {}:{}",
                        v.version,
                        crate::when(Some(v.made_ms)),
                        v.made_by,
                        v.collection.query_ref.id,
                        v.collection.query_ref.version
                    );
                }
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
        CollectionCommand::DryRun { id, practices } => {
            let r: Run = up
                .post(
                    &format!("/v1/collections/{}/dry-run", crate::encode(id)),
                    &gpes_protocol::DryRunRequest {
                        practices: practices.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("{}", r.id);
            }
        }
        CollectionCommand::Adhoc { id, practice } => {
            let r: Run = up
                .post(
                    &format!("/v1/collections/{}/adhoc", crate::encode(id)),
                    &gpes_protocol::AdhocRequest {
                        practice: practice.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("{}", r.id);
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

/// A collection as a person reads it.
fn print_collection(c: &Collection) {
    let t = &c.terms;
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("id:            {}", c.id);
    println!("name:          {}", c.name);
    println!(
        "state:         {} (version {})",
        c.state.as_str(),
        c.version
    );
    println!(
        "query:         {}:{} ({})",
        c.query_ref.id, c.query_ref.version, c.query.hash
    );
    println!(
        "purpose:       {:?}, data class {:?}",
        c.purpose, c.data_class
    );
    println!(
        "schedule:      {}",
        if c.schedule.is_empty() {
            "by hand only"
        } else {
            &c.schedule
        }
    );
    println!(
        "deadline:      {} hours after a run fires",
        c.deadline_seconds / 3600
    );
    println!("requested by:  {}", or_none(&t.requested_by));
    println!(
        "participation: {:?}, method {:?}",
        t.participation, t.method
    );
    println!(
        "declaration:   {}",
        if t.needs_declaration {
            "needed"
        } else {
            "not needed"
        }
    );
    println!(
        "approval:      {}",
        if t.needs_approval {
            "needed"
        } else {
            "not needed"
        }
    );
    println!("legal basis:   {}", or_none(&t.legal_basis));
    println!("approval ref:  {}", or_none(&t.approval_reference));
    let g = &c.targeting;
    let mut targets: Vec<String> = c.practices.clone();
    if g.all {
        targets.push("all practices".into());
    }
    targets.extend(g.regions.iter().map(|r| format!("region {r}")));
    targets.extend(g.suppliers.iter().map(|s| format!("supplier {s}")));
    println!("targets:       {}", targets.join(", "));
    if !g.exclude.is_empty() {
        println!("excluding:     {}", g.exclude.join(", "));
    }
    for (k, v) in &c.parameters {
        println!("parameter:     {k} = {v}");
    }
}

/// `gpesctl timetable`: every active collection's runs due in the coming
/// weeks, soonest first (London time).
pub async fn timetable(
    up: &Uplink,
    json: bool,
    weeks: u32,
    from: Option<&str>,
) -> anyhow::Result<()> {
    let mut path = format!("/v1/timetable?weeks={weeks}");
    if let Some(from) = from {
        path.push_str(&format!("&from={}", crate::encode(from)));
    }
    let entries: Vec<gpes_protocol::TimetableEntry> = up.get(&path, TIMEOUT).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    println!(
        "{:<26} {:<36} {:<30} practices",
        "due (London)", "collection", "name"
    );
    for e in entries {
        let practices = if e.participation.is_empty() {
            format!("{} of {} take part", e.participating, e.practice_count)
        } else {
            e.participation
                .iter()
                .map(|p| format!("{} {}", p.practice, p.participation.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{:<26} {:<36} {:<30} {practices}",
            e.due_local, e.collection_id, e.collection_name
        );
    }
    Ok(())
}
