//! Enrollment tokens and agents: the practices each serves, its heartbeat,
//! its revocation.

use super::audit::{self, Entry};
use super::{Db, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::grants::Reach;
use gpes_protocol::{AgentInfo, AgentPractice, Heartbeat};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub agent_id: String,
    pub practices: String,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
}

impl TokenRow {
    pub fn practices(&self) -> Vec<String> {
        serde_json::from_str(&self.practices).unwrap_or_default()
    }
}

/// Records a one-time token for a new agent, by the hash of its secret.
pub async fn create_token(
    db: &Db,
    secret_hash: &str,
    agent_id: &str,
    practices: &[String],
    now_ms: u64,
    expires_ms: u64,
    who: &Entry<'_>,
) -> Result<(), Refusal> {
    if practices.is_empty() {
        return Err(Refusal::Invalid(
            "an enrollment token must name at least one practice".into(),
        ));
    }
    let practices = serde_json::to_string(practices).map_err(|e| Refusal::Store(e.to_string()))?;
    let mut tx = db.write().await?;
    sqlx::query(
        "INSERT INTO enrollment_tokens (secret_hash, agent_id, practices, created_ms, expires_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(secret_hash)
    .bind(agent_id)
    .bind(practices)
    .bind(to_i64(now_ms))
    .bind(to_i64(expires_ms))
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks a token without using it up.
pub async fn check_token(db: &Db, secret_hash: &str, now_ms: u64) -> Result<TokenRow, Refusal> {
    let row: TokenRow = sqlx::query_as(
        "SELECT agent_id, practices, expires_ms, used_ms FROM enrollment_tokens WHERE secret_hash = $1",
    )
    .bind(secret_hash)
    .fetch_optional(db.pool())
    .await?
    .ok_or(Refusal::UnknownToken)?;
    if row.used_ms.is_some() {
        return Err(Refusal::TokenUsed);
    }
    if to_i64(now_ms) >= row.expires_ms {
        return Err(Refusal::TokenExpired);
    }
    Ok(row)
}

/// Uses a token up and records its agent, in one transaction. Call only
/// once the agent's certificate has been issued.
pub async fn redeem_token(
    db: &Db,
    secret_hash: &str,
    now_ms: u64,
) -> Result<(String, Vec<String>), Refusal> {
    let mut tx = db.write().await?;
    let now = to_i64(now_ms);
    let row: TokenRow = sqlx::query_as(
        "SELECT agent_id, practices, expires_ms, used_ms FROM enrollment_tokens WHERE secret_hash = $1",
    )
    .bind(secret_hash)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Refusal::UnknownToken)?;
    if row.used_ms.is_some() {
        return Err(Refusal::TokenUsed);
    }
    if now >= row.expires_ms {
        return Err(Refusal::TokenExpired);
    }
    let used = sqlx::query(
        "UPDATE enrollment_tokens SET used_ms = $2 WHERE secret_hash = $1 AND used_ms IS NULL",
    )
    .bind(secret_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if used.rows_affected() != 1 {
        return Err(Refusal::TokenUsed);
    }
    sqlx::query("INSERT INTO agents (id, enrolled_ms) VALUES ($1, $2)")
        .bind(&row.agent_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let practices = row.practices();
    for p in &practices {
        sqlx::query("INSERT INTO agent_practices (agent_id, practice) VALUES ($1, $2)")
            .bind(&row.agent_id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
    }
    audit::append(
        &mut tx,
        db,
        &Entry {
            actor: &format!("token:{}", row.agent_id),
            grant: "enrollment-token",
            action: "agent.enroll",
            target: &row.agent_id,
            detail: serde_json::json!({ "practices": practices }),
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((row.agent_id, practices))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentRow {
    pub id: String,
    pub enrolled_ms: i64,
    pub revoked_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    pub agent_version: Option<String>,
}

/// An enrolled agent that is not revoked, and the practices it serves.
pub async fn active_agent(db: &Db, id: &str) -> Result<Vec<String>, Refusal> {
    let row: AgentRow = sqlx::query_as(
        "SELECT id, enrolled_ms, revoked_ms, last_seen_ms, agent_version FROM agents WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Refusal::UnknownAgent(id.to_owned()))?;
    if row.revoked_ms.is_some() {
        return Err(Refusal::Revoked(id.to_owned()));
    }
    let practices: Vec<(String,)> = sqlx::query_as(
        "SELECT practice FROM agent_practices WHERE agent_id = $1 ORDER BY practice",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    Ok(practices.into_iter().map(|(p,)| p).collect())
}

/// Records a heartbeat: operational state, not audited. The caller limits
/// how often (see `http::agent`).
pub async fn record_heartbeat(
    db: &Db,
    agent_id: &str,
    heartbeat: Option<&Heartbeat>,
    protocol_version: u32,
    now_ms: u64,
) -> Result<(), Refusal> {
    let mut tx = db.write().await?;
    sqlx::query(
        "UPDATE agents SET last_seen_ms = $2, protocol_version = $3, \
         agent_version = COALESCE($4, agent_version) WHERE id = $1",
    )
    .bind(agent_id)
    .bind(to_i64(now_ms))
    .bind(i64::from(protocol_version))
    .bind(heartbeat.map(|h| h.agent_version.clone()))
    .execute(&mut *tx)
    .await?;
    for p in heartbeat.map(|h| h.practices.as_slice()).unwrap_or(&[]) {
        sqlx::query(
            "UPDATE agent_practices SET plugin_name = $3, plugin_version = $4, buffer_depth = $5, \
             last_error = $6 WHERE agent_id = $1 AND practice = $2",
        )
        .bind(agent_id)
        .bind(&p.practice)
        .bind(&p.plugin_name)
        .bind(&p.plugin_version)
        .bind(to_i64(p.buffer_depth))
        .bind(p.last_error.clone())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct InfoRow {
    id: String,
    enrolled_ms: i64,
    revoked_ms: Option<i64>,
    last_seen_ms: Option<i64>,
    agent_version: Option<String>,
    protocol_version: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PracticeRow {
    practice: String,
    plugin_name: Option<String>,
    plugin_version: Option<String>,
    buffer_depth: Option<i64>,
    last_error: Option<String>,
}

const INFO: &str =
    "SELECT id, enrolled_ms, revoked_ms, last_seen_ms, agent_version, protocol_version FROM agents";

async fn info_of<'e, E>(executor: E, row: InfoRow) -> Result<AgentInfo, Refusal>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let practices: Vec<PracticeRow> = sqlx::query_as(
        "SELECT practice, plugin_name, plugin_version, buffer_depth, last_error \
         FROM agent_practices WHERE agent_id = $1 ORDER BY practice",
    )
    .bind(&row.id)
    .fetch_all(executor)
    .await?;
    Ok(AgentInfo {
        agent_id: row.id,
        enrolled_ms: to_u64(row.enrolled_ms),
        revoked_ms: row.revoked_ms.map(to_u64),
        last_seen_ms: row.last_seen_ms.map(to_u64),
        agent_version: row.agent_version,
        protocol_version: row.protocol_version.and_then(|v| u32::try_from(v).ok()),
        practices: practices
            .into_iter()
            .map(|p| AgentPractice {
                practice: p.practice,
                plugin_name: p.plugin_name,
                plugin_version: p.plugin_version,
                buffer_depth: p.buffer_depth.map(to_u64),
                last_error: p.last_error,
            })
            .collect(),
    })
}

/// One agent, revoked or not.
pub async fn get(db: &Db, id: &str) -> Result<AgentInfo, Refusal> {
    let row: InfoRow = sqlx::query_as(sqlx::AssertSqlSafe(format!("{INFO} WHERE id = $1")))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Refusal::NoSuchAgent(id.to_owned()))?;
    info_of(db.pool(), row).await
}

/// The condition selecting the agents that serve a practice within
/// reach, and its binds from `$first` on.
fn serving(reach: &Reach, first: usize) -> (String, Vec<String>) {
    if reach.everything {
        return ("1 = 1".into(), Vec::new());
    }
    let (condition, binds) = super::practices::within(reach, "p", first);
    (
        format!(
            "id IN (SELECT ap.agent_id FROM agent_practices ap \
             JOIN practices p ON p.code = ap.practice WHERE {condition})"
        ),
        binds,
    )
}

/// Whether an agent serves a practice within reach (so a supplier sees
/// its own agents only).
pub async fn within(db: &Db, id: &str, reach: &Reach) -> Result<bool, Refusal> {
    let (condition, binds) = serving(reach, 2);
    let mut query = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM agents WHERE id = $1 AND {condition}"
    )))
    .bind(id);
    for b in binds {
        query = query.bind(b);
    }
    Ok(query.fetch_optional(db.pool()).await?.is_some())
}

/// A page of the agents within reach, in id order after `after`.
pub async fn page(
    db: &Db,
    after: Option<&str>,
    limit: u32,
    reach: &Reach,
) -> Result<(Vec<AgentInfo>, Option<String>), Refusal> {
    let (condition, binds) = serving(reach, 3);
    let mut query = sqlx::query_as::<_, InfoRow>(sqlx::AssertSqlSafe(format!(
        "{INFO} WHERE id > $1 AND {condition} ORDER BY id LIMIT $2"
    )))
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1);
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(db.pool()).await?;
    let fetched = rows.len();
    let mut out = Vec::new();
    for row in rows.into_iter().take(limit as usize) {
        out.push(info_of(db.pool(), row).await?);
    }
    let next = super::next_cursor(fetched, limit, &out, |a| a.agent_id.clone());
    Ok((out, next))
}

/// Revokes an agent: from now on its certificate is refused and its
/// requests too, and the jobs it holds go back to pending so another
/// agent of the practice may take them. Revoking a revoked agent is
/// refused (nothing changes).
pub async fn revoke(
    db: &Db,
    id: &str,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<(AgentInfo, u64), Refusal> {
    let mut tx = db.write().await?;
    let row: InfoRow = sqlx::query_as(sqlx::AssertSqlSafe(format!("{INFO} WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Refusal::NoSuchAgent(id.to_owned()))?;
    if row.revoked_ms.is_some() {
        return Err(Refusal::AlreadyRevoked(id.to_owned()));
    }
    sqlx::query("UPDATE agents SET revoked_ms = $2 WHERE id = $1")
        .bind(id)
        .bind(to_i64(now_ms))
        .execute(&mut *tx)
        .await?;
    let released = sqlx::query(
        "UPDATE jobs SET state = 'pending', lease_until_ms = NULL, updated_ms = $2 \
         WHERE agent_id = $1 AND state = 'leased'",
    )
    .bind(id)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if released > 0 {
        super::wakeups::jobs_made(&mut tx, db).await?;
    }
    let row = InfoRow {
        revoked_ms: Some(to_i64(now_ms)),
        ..row
    };
    let info = info_of(&mut *tx, row).await?;
    let detail = serde_json::json!({ "jobs_released": released });
    audit::append(
        &mut tx,
        db,
        &Entry {
            detail,
            ..who.clone()
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((info, released))
}

/// Every revoked agent's id: what the agent listener refuses.
pub async fn revoked_ids(db: &Db) -> Result<Vec<String>, Refusal> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM agents WHERE revoked_ms IS NOT NULL ORDER BY id")
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
