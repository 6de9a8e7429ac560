//! Practices' decisions on offered collections and their standing
//! preferences, and where each practice stands when a run fires.

use super::{Db, audit, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::participation;
use gpes_protocol::{
    Collection, Decision, DecisionRecord, ParticipationMode, ParticipationState, Preference,
    PreferenceRequest, Purpose,
};
use sqlx::{AnyConnection, AssertSqlSafe};
use std::collections::{BTreeMap, BTreeSet};

fn word<T: serde::Serialize>(v: &T) -> Result<String, Refusal> {
    match serde_json::to_value(v).map_err(|e| Refusal::Store(e.to_string()))? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(Refusal::Store(format!("not a name: {other}"))),
    }
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, Refusal> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| Refusal::Store(format!("stored value '{s}' does not read: {e}")))
}

/// Records a practice's decision on an offered collection that targets
/// it, with its audit entry. A mandatory or retired collection, or one
/// not targeting the practice, is refused and nothing is written.
pub async fn decide(
    db: &Db,
    collection: &Collection,
    practice: &str,
    decision: Decision,
    reason: &str,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<DecisionRecord, Refusal> {
    if collection.terms.participation == ParticipationMode::Mandatory {
        return Err(Refusal::Invalid(format!(
            "collection '{}' is mandatory: every practice it targets takes part, and there is nothing to decide",
            collection.id
        )));
    }
    if collection.state == gpes_protocol::CollectionState::Retired {
        return Err(Refusal::CollectionState {
            id: collection.id.clone(),
            state: "retired",
            what: "it runs no more, so a decision would change nothing".into(),
        });
    }
    let mut tx = db.write().await?;
    let (targets, _) =
        super::practices::resolve_targets(&mut tx, &collection.practices, &collection.targeting)
            .await?;
    if !targets.contains(practice) {
        return Err(Refusal::Invalid(format!(
            "collection '{}' is not offered to practice '{practice}' (its targeting does not reach it)",
            collection.id
        )));
    }
    sqlx::query(
        "INSERT INTO participation_decisions (collection_id, practice, decision, reason, \
         made_ms, made_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&collection.id)
    .bind(practice)
    .bind(word(&decision)?)
    .bind((!reason.is_empty()).then_some(reason))
    .bind(to_i64(now_ms))
    .bind(who.actor)
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(DecisionRecord {
        collection_id: collection.id.clone(),
        practice: practice.to_owned(),
        decision,
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
        made_ms: now_ms,
        made_by: who.actor.to_owned(),
    })
}

/// Every decision on a collection, oldest first; only those of the given
/// practices when a set is given.
pub async fn decisions(
    db: &Db,
    collection_id: &str,
    only: Option<&BTreeSet<String>>,
) -> Result<Vec<DecisionRecord>, Refusal> {
    let rows: Vec<(String, String, Option<String>, i64, String)> = sqlx::query_as(
        "SELECT practice, decision, reason, made_ms, made_by FROM participation_decisions \
         WHERE collection_id = $1 ORDER BY id",
    )
    .bind(collection_id)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for (practice, decision, reason, made_ms, made_by) in rows {
        if only.is_some_and(|set| !set.contains(&practice)) {
            continue;
        }
        out.push(DecisionRecord {
            collection_id: collection_id.to_owned(),
            practice,
            decision: parse(&decision)?,
            reason,
            made_ms: to_u64(made_ms),
            made_by,
        });
    }
    Ok(out)
}

/// The decision in force for each practice that made one: its latest.
async fn latest_decisions(
    conn: &mut AnyConnection,
    collection_id: &str,
) -> Result<BTreeMap<String, (Decision, String)>, Refusal> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT practice, decision, reason FROM participation_decisions \
         WHERE collection_id = $1 ORDER BY id",
    )
    .bind(collection_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = BTreeMap::new();
    for (practice, decision, reason) in rows {
        out.insert(practice, (parse(&decision)?, reason.unwrap_or_default()));
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct PreferenceRow {
    id: String,
    practice: String,
    decision: String,
    purpose: Option<String>,
    requested_by: Option<String>,
    made_ms: i64,
    made_by: String,
}

impl PreferenceRow {
    fn read(self) -> Result<Preference, Refusal> {
        Ok(Preference {
            id: self.id,
            practice: self.practice,
            decision: parse(&self.decision)?,
            purpose: self.purpose.as_deref().map(parse::<Purpose>).transpose()?,
            requested_by: self.requested_by,
            made_ms: to_u64(self.made_ms),
            made_by: self.made_by,
        })
    }
}

const PREFERENCE_COLUMNS: &str = "id, practice, decision, purpose, requested_by, made_ms, made_by";

/// The standing preferences in force, by practice (every practice's when
/// `practice` is `None`).
async fn preferences_in(
    conn: &mut AnyConnection,
    practice: Option<&str>,
) -> Result<BTreeMap<String, Vec<Preference>>, Refusal> {
    let rows: Vec<PreferenceRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PREFERENCE_COLUMNS} FROM participation_preferences \
         WHERE removed_ms IS NULL AND ($1 = '' OR practice = $1) ORDER BY practice, made_ms, id"
    )))
    .bind(practice.unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?;
    let mut out: BTreeMap<String, Vec<Preference>> = BTreeMap::new();
    for row in rows {
        let p = row.read()?;
        out.entry(p.practice.clone()).or_default().push(p);
    }
    Ok(out)
}

/// A practice's standing preferences in force.
pub async fn preferences(db: &Db, practice: &str) -> Result<Vec<Preference>, Refusal> {
    let mut conn = db.pool().acquire().await?;
    Ok(preferences_in(&mut conn, Some(practice))
        .await?
        .remove(practice)
        .unwrap_or_default())
}

/// Adds a standing preference, with its audit entry. Its organisation,
/// when named, must be one the service knows.
pub async fn add_preference(
    db: &Db,
    id: &str,
    practice: &str,
    request: &PreferenceRequest,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<Preference, Refusal> {
    super::organisations::check_exists(db, request.requested_by.as_deref()).await?;
    let mut tx = db.write().await?;
    sqlx::query(
        "INSERT INTO participation_preferences (id, practice, decision, purpose, requested_by, \
         made_ms, made_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(practice)
    .bind(word(&request.decision)?)
    .bind(request.purpose.as_ref().map(word).transpose()?)
    .bind(request.requested_by.as_deref())
    .bind(to_i64(now_ms))
    .bind(who.actor)
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(Preference {
        id: id.to_owned(),
        practice: practice.to_owned(),
        decision: request.decision,
        purpose: request.purpose,
        requested_by: request.requested_by.clone(),
        made_ms: now_ms,
        made_by: who.actor.to_owned(),
    })
}

/// Removes a practice's standing preference (kept, marked removed).
pub async fn remove_preference(
    db: &Db,
    practice: &str,
    id: &str,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<(), Refusal> {
    let mut tx = db.write().await?;
    let done = sqlx::query(
        "UPDATE participation_preferences SET removed_ms = $3 \
         WHERE id = $1 AND practice = $2 AND removed_ms IS NULL",
    )
    .bind(id)
    .bind(practice)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(Refusal::Invalid(format!(
            "practice '{practice}' has no standing preference '{id}' in force"
        )));
    }
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Where each of `practices` stands for `collection` now.
pub async fn states_in(
    conn: &mut AnyConnection,
    collection: &Collection,
    practices: &BTreeSet<String>,
) -> Result<BTreeMap<String, ParticipationState>, Refusal> {
    if collection.terms.participation == ParticipationMode::Mandatory {
        return Ok(practices
            .iter()
            .map(|p| (p.clone(), ParticipationState::Mandatory))
            .collect());
    }
    let decisions = latest_decisions(conn, &collection.id).await?;
    let preferences = preferences_in(conn, None).await?;
    Ok(practices
        .iter()
        .map(|p| {
            let decision = decisions.get(p).map(|(d, r)| (*d, r.as_str()));
            let prefs = preferences.get(p).map(Vec::as_slice).unwrap_or(&[]);
            (
                p.clone(),
                participation::effective(collection, decision, prefs),
            )
        })
        .collect())
}

pub async fn states(
    db: &Db,
    collection: &Collection,
    practices: &BTreeSet<String>,
) -> Result<BTreeMap<String, ParticipationState>, Refusal> {
    let mut conn = db.pool().acquire().await?;
    states_in(&mut conn, collection, practices).await
}
