//! `gpesctl participation ...`: what is offered to a practice, its
//! decisions (B1845) and standing preferences (B1844); and `gpesctl feed
//! ...`, a user's calendar feed addresses.

use crate::TIMEOUT;
use anyhow::bail;
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{
    CalendarFeed, CreateFeedRequest, CreateFeedResponse, Decision, DecisionRecord, DecisionRequest,
    Offer, ParticipationState, Preference, PreferenceRequest, Purpose,
};

#[derive(Subcommand, Debug)]
pub enum ParticipationCommand {
    /// The collections targeting a practice, and where it stands for each.
    Offers {
        #[arg(long)]
        practice: String,
    },
    /// Accept or decline an offered collection for a practice, from its
    /// next run.
    Decide {
        collection: String,
        #[arg(long)]
        practice: String,
        #[arg(long, conflicts_with = "decline", required_unless_present = "decline")]
        accept: bool,
        #[arg(long)]
        decline: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// A collection's decisions, oldest first.
    History {
        collection: String,
        /// Only this practice's (needed unless you see every practice).
        #[arg(long)]
        practice: Option<String>,
    },
    /// Add a standing preference for collections the practice has not
    /// decided on.
    Prefer {
        #[arg(long)]
        practice: String,
        #[arg(long, conflicts_with = "decline", required_unless_present = "decline")]
        accept: bool,
        #[arg(long)]
        decline: bool,
        /// Only collections of this purpose.
        #[arg(long, value_parser = crate::collections::parse_purpose)]
        purpose: Option<Purpose>,
        /// Only collections asked for by this organisation.
        #[arg(long)]
        requested_by: Option<String>,
    },
    /// A practice's standing preferences.
    Preferences {
        #[arg(long)]
        practice: String,
    },
    /// Remove a standing preference.
    Unprefer {
        id: String,
        #[arg(long)]
        practice: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum FeedCommand {
    /// Make a calendar feed address of your timetable (shown once).
    Create {
        #[arg(long)]
        label: Option<String>,
    },
    /// Your feeds.
    List,
    /// Revoke one of your feeds: its address answers nothing from now.
    Revoke { id: String },
}

/// How a person reads where a practice stands.
pub fn describe(state: &ParticipationState) -> String {
    match state {
        ParticipationState::Mandatory => "mandatory".into(),
        ParticipationState::Accepted => "accepted".into(),
        ParticipationState::Declined { reason: Some(r) } => format!("declined ({r})"),
        ParticipationState::Declined { reason: None } => "declined".into(),
        ParticipationState::AcceptedByPreference { preference } => {
            format!("accepted by preference {preference}")
        }
        ParticipationState::DeclinedByPreference { preference } => {
            format!("declined by preference {preference}")
        }
        ParticipationState::NoAnswer => "no answer: not extracted".into(),
    }
}

fn decision(accept: bool, decline: bool) -> anyhow::Result<Decision> {
    match (accept, decline) {
        (true, false) => Ok(Decision::Accept),
        (false, true) => Ok(Decision::Decline),
        _ => bail!("give --accept or --decline"),
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn run(up: &Uplink, json: bool, command: &ParticipationCommand) -> anyhow::Result<()> {
    let enc = crate::encode;
    match command {
        ParticipationCommand::Offers { practice } => {
            let offers: Vec<Offer> = up
                .get(&format!("/v1/offers?practice={}", enc(practice)), TIMEOUT)
                .await?;
            if json {
                return print_json(&offers);
            }
            println!(
                "{:<28} {:<30} {:<10} {:<25} standing",
                "collection", "name", "mode", "next run (UTC)"
            );
            for o in offers {
                println!(
                    "{:<28} {:<30} {:<10} {:<25} {}",
                    o.collection_id,
                    o.collection_name,
                    format!("{:?}", o.terms.participation).to_lowercase(),
                    crate::when(o.next_run_ms),
                    describe(&o.participation)
                );
            }
        }
        ParticipationCommand::Decide {
            collection,
            practice,
            accept,
            decline,
            reason,
        } => {
            let record: DecisionRecord = up
                .post(
                    &format!("/v1/collections/{}/decisions", enc(collection)),
                    &DecisionRequest {
                        practice: practice.clone(),
                        decision: decision(*accept, *decline)?,
                        reason: reason.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            if json {
                return print_json(&record);
            }
            println!(
                "{} {} {} from its next run",
                record.practice,
                match record.decision {
                    Decision::Accept => "accepts",
                    Decision::Decline => "declines",
                },
                record.collection_id
            );
        }
        ParticipationCommand::History {
            collection,
            practice,
        } => {
            let mut path = format!("/v1/collections/{}/decisions", enc(collection));
            if let Some(p) = practice {
                path.push_str(&format!("?practice={}", enc(p)));
            }
            let records: Vec<DecisionRecord> = up.get(&path, TIMEOUT).await?;
            if json {
                return print_json(&records);
            }
            println!(
                "{:<25} {:<10} {:<8} {:<20} reason",
                "when (UTC)", "practice", "decision", "by"
            );
            for r in records {
                println!(
                    "{:<25} {:<10} {:<8} {:<20} {}",
                    crate::when(Some(r.made_ms)),
                    r.practice,
                    format!("{:?}", r.decision).to_lowercase(),
                    r.made_by,
                    r.reason.unwrap_or_default()
                );
            }
        }
        ParticipationCommand::Prefer {
            practice,
            accept,
            decline,
            purpose,
            requested_by,
        } => {
            let made: Preference = up
                .post(
                    &format!("/v1/practices/{}/preferences", enc(practice)),
                    &PreferenceRequest {
                        decision: decision(*accept, *decline)?,
                        purpose: *purpose,
                        requested_by: requested_by.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            if json {
                return print_json(&made);
            }
            println!("{}", made.id);
        }
        ParticipationCommand::Preferences { practice } => {
            let prefs: Vec<Preference> = up
                .get(
                    &format!("/v1/practices/{}/preferences", enc(practice)),
                    TIMEOUT,
                )
                .await?;
            if json {
                return print_json(&prefs);
            }
            println!(
                "{:<28} {:<8} {:<12} {:<12} by",
                "preference", "decision", "purpose", "requested by"
            );
            for p in prefs {
                println!(
                    "{:<28} {:<8} {:<12} {:<12} {}",
                    p.id,
                    format!("{:?}", p.decision).to_lowercase(),
                    p.purpose
                        .map(|x| format!("{x:?}").to_lowercase())
                        .unwrap_or_else(|| "any".into()),
                    p.requested_by.unwrap_or_else(|| "any".into()),
                    p.made_by
                );
            }
        }
        ParticipationCommand::Unprefer { id, practice } => {
            let left: Vec<Preference> = up
                .post(
                    &format!(
                        "/v1/practices/{}/preferences/{}/remove",
                        enc(practice),
                        enc(id)
                    ),
                    &(),
                    TIMEOUT,
                )
                .await?;
            if json {
                return print_json(&left);
            }
            if !json {
                println!("removed {id}");
            }
        }
    }
    Ok(())
}

/// `gpesctl attention`: what needs someone to act, within your grants.
pub async fn attention(up: &Uplink, json: bool, days: u32) -> anyhow::Result<()> {
    let items: Vec<gpes_protocol::AttentionItem> = up
        .get(&format!("/v1/attention?days={days}"), TIMEOUT)
        .await?;
    if json {
        return print_json(&items);
    }
    if items.is_empty() {
        println!("nothing needs attention");
        return Ok(());
    }
    println!(
        "{:<13} {:<10} {:<25} {:<30} detail",
        "kind", "practice", "since (UTC)", "collection / agent"
    );
    for i in items {
        let kind = serde_json::to_value(i.kind)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        println!(
            "{:<13} {:<10} {:<25} {:<30} {}",
            kind,
            i.practice.unwrap_or_else(|| "-".into()),
            crate::when(i.since_ms),
            i.collection_id.or(i.agent_id).unwrap_or_else(|| "-".into()),
            i.detail
        );
    }
    Ok(())
}

pub async fn feed(up: &Uplink, json: bool, command: &FeedCommand) -> anyhow::Result<()> {
    match command {
        FeedCommand::Create { label } => {
            let made: CreateFeedResponse = up
                .post(
                    "/v1/me/feeds",
                    &CreateFeedRequest {
                        label: label.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            if json {
                return print_json(&made);
            }
            println!("https://{}{}", up.address(), made.path);
            eprintln!(
                "(shown once: subscribe to it in your calendar; `gpesctl feed revoke {}` stops it)",
                made.feed.id
            );
        }
        FeedCommand::List => {
            let feeds: Vec<CalendarFeed> = up.get("/v1/me/feeds", TIMEOUT).await?;
            if json {
                return print_json(&feeds);
            }
            println!(
                "{:<24} {:<25} {:<25} label",
                "feed", "made (UTC)", "revoked (UTC)"
            );
            for f in feeds {
                println!(
                    "{:<24} {:<25} {:<25} {}",
                    f.id,
                    crate::when(Some(f.created_ms)),
                    f.revoked_ms.map_or("-".into(), |t| crate::when(Some(t))),
                    f.label.unwrap_or_default()
                );
            }
        }
        FeedCommand::Revoke { id } => {
            let feeds: Vec<CalendarFeed> = up
                .post(
                    &format!("/v1/me/feeds/{}/revoke", crate::encode(id)),
                    &(),
                    TIMEOUT,
                )
                .await?;
            if json {
                return print_json(&feeds);
            }
            if !json {
                println!("revoked {id}");
            }
        }
    }
    Ok(())
}
