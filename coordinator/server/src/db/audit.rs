//! The audit trail: an HMAC chain of who did what, appended in the
//! transaction that does it, and its verification.
//!
//! Each entry's `mac` is HMAC-SHA256, under the audit key (a file beside
//! the CA, never in the database), of the canonical JSON of the entry
//! with the previous entry's mac. Someone who can write the database but
//! not read the key can neither alter, insert nor remove an entry in the
//! middle, nor rewrite the chain from an entry on, without `verify`
//! saying so. Removing the newest entries (and winding `audit_head`
//! back) is caught against the checkpoint: the head, signed with the same
//! key, written outside the database (see `server::checkpoint_loop`).

use super::{Db, to_i64, to_u64};
use crate::domain::Refusal;
use gpes_protocol::{AuditEntry, AuditVerification};
use ring::hmac;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};
use std::path::Path;

/// The audit key's file in the data directory.
pub const AUDIT_KEY_FILE: &str = "audit.key";
/// The signed checkpoint's file in the data directory.
pub const CHECKPOINT_FILE: &str = "audit.checkpoint";

/// The key every mac is made with.
#[derive(Clone)]
pub struct AuditKey(hmac::Key);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    pub fn from_bytes(bytes: &[u8]) -> AuditKey {
        AuditKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// Reads the key file (64 hex digits, mode 0600).
    pub fn load(path: &Path) -> anyhow::Result<AuditKey> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| {
            anyhow::anyhow!(
                "the audit key {} cannot be read ({e}); run `gpes-coordinator init` to make one \
                 (replicas must all have the same file)",
                path.display()
            )
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            anyhow::bail!(
                "the audit key {} can be read by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            );
        }
        let text = std::fs::read_to_string(path)?;
        let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
        match bytes {
            Some(b) => Ok(AuditKey::from_bytes(&b)),
            None => anyhow::bail!(
                "the audit key {} is not 64 hex digits; restore it from the backup beside the CA \
                 (a new key would make the whole trail fail verification)",
                path.display()
            ),
        }
    }

    fn mac(&self, message: &[u8]) -> String {
        hex::encode(hmac::sign(&self.0, message).as_ref())
    }
}

/// Who did what, for one entry.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a str,
    /// The grant the action was allowed under.
    pub grant: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    /// JSON: whatever else says what was done.
    pub detail: serde_json::Value,
}

/// What the mac covers, in canonical JSON.
#[derive(Serialize)]
struct Sealed<'a> {
    seq: u64,
    at_ms: u64,
    actor: &'a str,
    grant: &'a str,
    action: &'a str,
    target: &'a str,
    detail: &'a str,
    prev: &'a str,
}

/// The mac of `e` after an entry whose mac is `prev` (`""` for the first).
pub fn seal(key: &AuditKey, e: &AuditEntry, prev: &str) -> Result<String, Refusal> {
    let sealed = Sealed {
        seq: e.seq,
        at_ms: e.at_ms,
        actor: &e.actor,
        grant: &e.grant,
        action: &e.action,
        target: &e.target,
        detail: &e.detail,
        prev,
    };
    let text = gpes_canon::to_canonical_string(&sealed)
        .map_err(|err| Refusal::Store(format!("sealing an audit entry: {err}")))?;
    Ok(key.mac(text.as_bytes()))
}

/// Appends an entry in `tx`, the transaction of the action it records.
pub async fn append(
    tx: &mut Transaction<'static, Any>,
    db: &Db,
    entry: &Entry<'_>,
    now_ms: u64,
) -> Result<u64, Refusal> {
    let key = db
        .audit_key()
        .ok_or_else(|| Refusal::Store("no audit key is loaded; the action is refused".into()))?;
    // The head row serialises appends: on PostgreSQL by its row lock, on
    // SQLite by the write lock every write transaction holds.
    let lock = match db.backend() {
        super::Backend::Postgres => " FOR UPDATE",
        super::Backend::Sqlite => "",
    };
    let (seq, prev): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT seq, mac FROM audit_head WHERE id = 1{lock}"
    )))
    .fetch_one(&mut **tx)
    .await?;
    let mut e = AuditEntry {
        seq: to_u64(seq) + 1,
        at_ms: now_ms,
        actor: entry.actor.to_owned(),
        grant: entry.grant.to_owned(),
        action: entry.action.to_owned(),
        target: entry.target.to_owned(),
        detail: entry.detail.to_string(),
        mac: String::new(),
    };
    e.mac = seal(key, &e, &prev)?;
    sqlx::query(
        "INSERT INTO audit (seq, at_ms, actor, grant_name, action, target, detail, mac) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(to_i64(e.seq))
    .bind(to_i64(e.at_ms))
    .bind(&e.actor)
    .bind(&e.grant)
    .bind(&e.action)
    .bind(&e.target)
    .bind(&e.detail)
    .bind(&e.mac)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1")
        .bind(to_i64(e.seq))
        .bind(&e.mac)
        .execute(&mut **tx)
        .await?;
    Ok(e.seq)
}

/// Appends an entry in a transaction of its own: for reads, whose data
/// is returned only once the entry is committed.
pub async fn record(db: &Db, entry: &Entry<'_>, now_ms: u64) -> Result<u64, Refusal> {
    let mut tx = db.write().await?;
    let seq = append(&mut tx, db, entry, now_ms).await?;
    tx.commit().await?;
    Ok(seq)
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    seq: i64,
    at_ms: i64,
    actor: String,
    grant_name: String,
    action: String,
    target: String,
    detail: String,
    mac: String,
}

impl From<Row> for AuditEntry {
    fn from(r: Row) -> AuditEntry {
        AuditEntry {
            seq: to_u64(r.seq),
            at_ms: to_u64(r.at_ms),
            actor: r.actor,
            grant: r.grant_name,
            action: r.action,
            target: r.target,
            detail: r.detail,
            mac: r.mac,
        }
    }
}

const COLUMNS: &str = "seq, at_ms, actor, grant_name, action, target, detail, mac";

/// A page of entries, newest first, before `before`.
pub async fn page(
    db: &Db,
    before: Option<u64>,
    limit: u32,
) -> Result<(Vec<AuditEntry>, Option<u64>), Refusal> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
    )))
    .bind(before.map_or(i64::MAX, to_i64))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let fetched = rows.len();
    let out: Vec<AuditEntry> = rows
        .into_iter()
        .take(limit as usize)
        .map(AuditEntry::from)
        .collect();
    let next = super::next_cursor(fetched, limit, &out, |e| e.seq);
    Ok((out, next))
}

/// The head, signed: what is kept outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub mac: String,
    pub at_ms: u64,
    pub signature: String,
}

fn checkpoint_message(seq: u64, mac: &str, at_ms: u64) -> String {
    format!("gpes-audit-checkpoint-v1\n{seq}\n{mac}\n{at_ms}")
}

/// The head as it is now, signed.
pub async fn head_checkpoint(db: &Db, now_ms: u64) -> Result<Checkpoint, Refusal> {
    let key = db
        .audit_key()
        .ok_or_else(|| Refusal::Store("no audit key is loaded".into()))?;
    let (seq, mac): (i64, String) = sqlx::query_as("SELECT seq, mac FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    let seq = to_u64(seq);
    Ok(Checkpoint {
        seq,
        signature: key.mac(checkpoint_message(seq, &mac, now_ms).as_bytes()),
        mac,
        at_ms: now_ms,
    })
}

/// Reads a checkpoint file; `None` when there is none yet.
pub fn read_checkpoint(path: &Path) -> Result<Option<Checkpoint>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("the checkpoint {} is not valid: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "the checkpoint {} cannot be read: {e}",
            path.display()
        )),
    }
}

/// Writes a checkpoint file atomically (temporary file, sync, rename).
pub fn write_checkpoint(path: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("checkpoint.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(checkpoint).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Walks the whole trail: every mac, every number in sequence, the head
/// row, and the checkpoint. Lists every problem found (at most 100).
pub async fn verify(
    db: &Db,
    checkpoint: Option<&Checkpoint>,
) -> Result<AuditVerification, Refusal> {
    const MAX_PROBLEMS: usize = 100;
    let key = db
        .audit_key()
        .ok_or_else(|| Refusal::Store("no audit key is loaded".into()))?;
    let mut problems = Vec::new();
    let mut note = |p: String| {
        if problems.len() < MAX_PROBLEMS {
            problems.push(p);
        }
    };
    let mut prev = String::new();
    let mut expected = 1u64;
    let mut entries = 0u64;
    let mut last_seq = 0u64;
    let mut at_checkpoint: Option<String> = None;
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT 1000"
        )))
        .bind(after)
        .fetch_all(db.pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in rows {
            let e = AuditEntry::from(row);
            entries += 1;
            if e.seq != expected {
                note(format!(
                    "entries {expected} to {} are missing (the next is {})",
                    e.seq.saturating_sub(1),
                    e.seq
                ));
            }
            let mac = seal(key, &e, &prev)?;
            if mac != e.mac {
                note(format!(
                    "entry {} ({} by {} on {}) does not verify: altered, inserted, or the chain \
                     before it was",
                    e.seq, e.action, e.actor, e.target
                ));
            }
            if checkpoint.is_some_and(|c| c.seq == e.seq) {
                at_checkpoint = Some(e.mac.clone());
            }
            prev = e.mac;
            last_seq = e.seq;
            expected = e.seq + 1;
        }
    }
    let (head_seq, head_mac): (i64, String) =
        sqlx::query_as("SELECT seq, mac FROM audit_head WHERE id = 1")
            .fetch_one(db.pool())
            .await?;
    if to_u64(head_seq) != last_seq || head_mac != prev {
        note(format!(
            "the head names entry {head_seq}, but the trail ends at entry {last_seq}"
        ));
    }
    if let Some(c) = checkpoint {
        if key.mac(checkpoint_message(c.seq, &c.mac, c.at_ms).as_bytes()) != c.signature {
            note("the checkpoint's signature does not verify: it was altered".into());
        } else if c.seq > last_seq {
            note(format!(
                "the checkpoint of {} names entry {}, but the trail ends at entry {last_seq}: \
                 the newest entries were removed",
                c.at_ms, c.seq
            ));
        } else if c.seq > 0 && at_checkpoint.as_deref() != Some(c.mac.as_str()) {
            note(format!(
                "entry {} is not the one the checkpoint signed: the trail was rewritten",
                c.seq
            ));
        }
    }
    Ok(AuditVerification {
        entries,
        last_seq,
        checkpoint_seq: checkpoint.map(|c| c.seq),
        ok: problems.is_empty(),
        problems,
    })
}
