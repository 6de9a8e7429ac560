//! Declarations and approvals of national runs' results, and their
//! re-opening when a recalculation gives a practice a different result
//! for the same period.

use super::{Db, audit, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::declarations as rules;
use gpes_canon::ContentHash;
use gpes_protocol::{Declaration, DeclarationState};
use sqlx::{AnyConnection, AssertSqlSafe};

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    run_id: String,
    collection_id: String,
    practice: String,
    extract_hash: String,
    state: String,
    declared_ms: i64,
    declared_by: String,
    decided_ms: Option<i64>,
    decided_by: Option<String>,
    reason: Option<String>,
}

const COLUMNS: &str = "d.id, d.run_id, d.collection_id, d.practice, d.extract_hash, d.state, \
                       d.declared_ms, d.declared_by, d.decided_ms, d.decided_by, d.reason";

impl Row {
    fn read(self) -> Result<Declaration, Refusal> {
        Ok(Declaration {
            extract_hash: self
                .extract_hash
                .parse::<ContentHash>()
                .map_err(|e| Refusal::Store(format!("stored hash does not read: {e}")))?,
            state: rules::parse(&self.state)?,
            id: self.id,
            run_id: self.run_id,
            collection_id: self.collection_id,
            practice: self.practice,
            declared_ms: to_u64(self.declared_ms),
            declared_by: self.declared_by,
            decided_ms: self.decided_ms.map(to_u64),
            decided_by: self.decided_by,
            reason: self.reason,
        })
    }
}

pub async fn get(db: &Db, id: &str) -> Result<Declaration, Refusal> {
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM declarations d WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.ok_or_else(|| Refusal::UnknownDeclaration(id.to_owned()))?
        .read()
}

/// Declarations, newest first: of one run, one practice, in one state
/// (each filter optional).
pub async fn list(
    db: &Db,
    run: Option<&str>,
    practice: Option<&str>,
    state: Option<DeclarationState>,
) -> Result<Vec<Declaration>, Refusal> {
    let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM declarations d WHERE ($1 = '' OR d.run_id = $1) \
         AND ($2 = '' OR d.practice = $2) AND ($3 = '' OR d.state = $3) \
         ORDER BY d.declared_ms DESC, d.id DESC LIMIT 5000"
    )))
    .bind(run.unwrap_or(""))
    .bind(practice.unwrap_or(""))
    .bind(state.map(rules::name).unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(Row::read).collect()
}

/// The practice's latest result for the collection and period of `run_id`
/// among national runs: (run, extract hash).
async fn latest_result(
    conn: &mut AnyConnection,
    collection_id: &str,
    parameters: &str,
    practice: &str,
) -> Result<Option<(String, String)>, Refusal> {
    Ok(sqlx::query_as(
        "SELECT s.run_id, s.extract_hash FROM results s JOIN jobs j ON j.id = s.job_id \
         JOIN runs r ON r.id = s.run_id \
         WHERE r.collection_id = $1 AND r.parameters = $2 AND j.practice = $3 \
         AND r.kind IN ('scheduled', 'manual') \
         ORDER BY s.stored_ms DESC, r.due_ms DESC LIMIT 1",
    )
    .bind(collection_id)
    .bind(parameters)
    .bind(practice)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Declares a practice's result of a national run: the result named must
/// be the practice's latest for the collection and period, and no
/// declaration of it may be in force. Approved at once (by `automatic`)
/// when the collection needs no approval. With its audit entry.
pub async fn declare(
    db: &Db,
    id: &str,
    run_id: &str,
    practice: &str,
    hash: &ContentHash,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<Declaration, Refusal> {
    let mut tx = db.write().await?;
    let run: Option<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT r.collection_id, r.parameters, r.kind, c.needs_declaration, c.needs_approval \
         FROM runs r JOIN collections c ON c.id = r.collection_id WHERE r.id = $1",
    )
    .bind(run_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((collection_id, parameters, kind, needs_declaration, needs_approval)) = run else {
        return Err(Refusal::UnknownRun(run_id.to_owned()));
    };
    if needs_declaration == 0 {
        return Err(Refusal::Invalid(format!(
            "collection '{collection_id}' needs no declaration: its results count as declared automatically"
        )));
    }
    if !matches!(kind.as_str(), "scheduled" | "manual") {
        return Err(Refusal::Invalid(format!(
            "run '{run_id}' is a {kind} run: only a national run's result is declared"
        )));
    }
    match latest_result(&mut tx, &collection_id, &parameters, practice).await? {
        None => {
            return Err(Refusal::Invalid(format!(
                "practice '{practice}' has no result for this collection and period to declare"
            )));
        }
        Some((latest_run, latest_hash))
            if latest_run != run_id || latest_hash != hash.to_string() =>
        {
            return Err(Refusal::Invalid(format!(
                "{hash} is not the practice's latest result for this period: that is {latest_hash} (run {latest_run}); declare it"
            )));
        }
        Some(_) => {}
    }
    let existing: Option<(String, String)> = sqlx::query_as(
        "SELECT d.id, d.state FROM declarations d JOIN runs r ON r.id = d.run_id \
         WHERE d.collection_id = $1 AND d.practice = $2 AND r.parameters = $3 \
         ORDER BY d.declared_ms DESC, d.id DESC LIMIT 1",
    )
    .bind(&collection_id)
    .bind(practice)
    .bind(&parameters)
    .fetch_optional(&mut *tx)
    .await?;
    let existing = match &existing {
        Some((id, state)) => Some((id.as_str(), rules::parse(state)?)),
        None => None,
    };
    rules::may_declare(existing)?;
    let automatic = needs_approval == 0;
    sqlx::query(
        "INSERT INTO declarations (id, run_id, collection_id, practice, extract_hash, state, \
         declared_ms, declared_by, decided_ms, decided_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(run_id)
    .bind(&collection_id)
    .bind(practice)
    .bind(hash.to_string())
    .bind(if automatic { "approved" } else { "declared" })
    .bind(to_i64(now_ms))
    .bind(who.actor)
    .bind(automatic.then_some(to_i64(now_ms)))
    .bind(automatic.then_some("automatic"))
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    get(db, id).await
}

/// Approves or rejects a declared result (the caller checked the
/// commissioner's region reaches the practice), with its audit entry.
pub async fn decide(
    db: &Db,
    id: &str,
    approve: bool,
    reason: Option<&str>,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<Declaration, Refusal> {
    let mut tx = db.write().await?;
    let found: Option<(String,)> = sqlx::query_as("SELECT state FROM declarations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((state,)) = found else {
        return Err(Refusal::UnknownDeclaration(id.to_owned()));
    };
    rules::decide(id, rules::parse(&state)?)?;
    sqlx::query(
        "UPDATE declarations SET state = $2, decided_ms = $3, decided_by = $4, reason = $5 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(if approve { "approved" } else { "rejected" })
    .bind(to_i64(now_ms))
    .bind(who.actor)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    get(db, id).await
}

/// A result just stored for `practice` in national run `run_id`: each
/// declaration in force of the same collection, practice and period whose
/// result differs is re-opened, saying why, with an audit entry each. In
/// the upload's transaction.
pub async fn reopen_for_new_result(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    db: &Db,
    run_id: &str,
    practice: &str,
    hash: &ContentHash,
    now_ms: u64,
) -> Result<(), Refusal> {
    let open: Vec<(String, String)> = sqlx::query_as(
        "SELECT d.id, d.extract_hash FROM declarations d JOIN runs r ON r.id = d.run_id \
         JOIN runs n ON n.collection_id = r.collection_id AND n.parameters = r.parameters \
         WHERE n.id = $1 AND n.kind IN ('scheduled', 'manual') AND d.practice = $2 \
         AND d.state IN ('declared', 'approved') AND d.extract_hash <> $3",
    )
    .bind(run_id)
    .bind(practice)
    .bind(hash.to_string())
    .fetch_all(&mut **tx)
    .await?;
    for (id, old) in open {
        let reason = format!(
            "a recalculation: run {run_id} gave the practice a different result ({hash}, was {old}) for the same period; declare it"
        );
        sqlx::query(
            "UPDATE declarations SET state = 'reopened', decided_ms = $2, decided_by = 'coordinator', \
             reason = $3 WHERE id = $1",
        )
        .bind(&id)
        .bind(to_i64(now_ms))
        .bind(&reason)
        .execute(&mut **tx)
        .await?;
        audit::append(
            tx,
            db,
            &audit::Entry {
                actor: "coordinator",
                grant: "coordinator",
                action: "declaration.reopen",
                target: &id,
                detail: serde_json::json!({ "run": run_id, "reason": reason }),
            },
            now_ms,
        )
        .await?;
    }
    Ok(())
}

/// For each practice a national run extracts: the stored extract its
/// payment is worked from (the approved declaration's result for the
/// collection and period; the latest result when the collection needs no
/// declaration), or `None` while it waits.
pub async fn payable_extracts(
    db: &Db,
    run_id: &str,
) -> Result<Vec<(String, Option<String>)>, Refusal> {
    let mut conn = db.pool().acquire().await?;
    let run: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT r.collection_id, r.parameters, c.needs_declaration FROM runs r \
         JOIN collections c ON c.id = r.collection_id WHERE r.id = $1",
    )
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((collection_id, parameters, needs_declaration)) = run else {
        return Err(Refusal::UnknownRun(run_id.to_owned()));
    };
    let practices: Vec<(String,)> = sqlx::query_as(
        "SELECT practice FROM jobs WHERE run_id = $1 AND state <> 'not-participating' \
         ORDER BY practice",
    )
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(practices.len());
    for (practice,) in practices {
        let hash = if needs_declaration == 0 {
            latest_result(&mut conn, &collection_id, &parameters, &practice)
                .await?
                .map(|(_, hash)| hash)
        } else {
            let latest: Option<(String, String)> = sqlx::query_as(
                "SELECT d.state, d.extract_hash FROM declarations d JOIN runs r ON r.id = d.run_id \
                 WHERE d.collection_id = $1 AND d.practice = $2 AND r.parameters = $3 \
                 ORDER BY d.declared_ms DESC, d.id DESC LIMIT 1",
            )
            .bind(&collection_id)
            .bind(&practice)
            .bind(&parameters)
            .fetch_optional(&mut *conn)
            .await?;
            latest
                .filter(|(state, _)| state == "approved")
                .map(|(_, hash)| hash)
        };
        let extract = match hash {
            None => None,
            Some(hash) => {
                let found: Option<(String,)> = sqlx::query_as(
                    "SELECT s.extract FROM results s JOIN jobs j ON j.id = s.job_id \
                     JOIN runs r ON r.id = s.run_id WHERE r.collection_id = $1 \
                     AND r.parameters = $2 AND j.practice = $3 AND s.extract_hash = $4 LIMIT 1",
                )
                .bind(&collection_id)
                .bind(&parameters)
                .bind(&practice)
                .bind(&hash)
                .fetch_optional(&mut *conn)
                .await?;
                found.map(|(e,)| e)
            }
        };
        out.push((practice, extract));
    }
    Ok(out)
}
