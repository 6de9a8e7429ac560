//! The query library: versions of each query, immutable once pushed. A
//! push whose canonical form the library already holds for that id gives
//! back that version; any other makes the next one.

use super::audit::{self, Entry};
use super::{Db, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::queries::CheckedQuery;
use gpes_protocol::{QueryRef, QuerySpec, QueryVersion};
use sqlx::{Any, Transaction};

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: String,
    version: i64,
    title: String,
    hash: String,
    canonical: String,
    source: String,
    pushed_ms: i64,
    pushed_by: String,
}

const COLUMNS: &str = "id, version, title, hash, canonical, source, pushed_ms, pushed_by";

impl Row {
    fn version(&self, with_source: bool) -> Result<QueryVersion, Refusal> {
        Ok(QueryVersion {
            id: self.id.clone(),
            version: u32::try_from(self.version)
                .map_err(|_| Refusal::Store(format!("query version {} stored", self.version)))?,
            title: self.title.clone(),
            hash: self
                .hash
                .parse()
                .map_err(|e| Refusal::Store(format!("a stored query hash does not read: {e}")))?,
            pushed_ms: to_u64(self.pushed_ms),
            pushed_by: self.pushed_by.clone(),
            source: with_source.then(|| self.source.clone()),
        })
    }

    fn spec(&self) -> Result<QuerySpec, Refusal> {
        Ok(QuerySpec {
            canonical: self.canonical.clone(),
            hash: self
                .hash
                .parse()
                .map_err(|e| Refusal::Store(format!("a stored query hash does not read: {e}")))?,
            source: self.source.clone(),
        })
    }
}

/// Stores a checked query in `tx` (the transaction of the action that
/// pushes it): its version, and whether this push made it. The audit
/// entry, when one is given, is appended only for a new version.
pub async fn push_in(
    tx: &mut Transaction<'static, Any>,
    db: &Db,
    q: &CheckedQuery,
    now_ms: u64,
    who: &Entry<'_>,
    audit_new: bool,
) -> Result<(QueryVersion, bool), Refusal> {
    let found: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM queries WHERE id = $1 AND hash = $2"
    )))
    .bind(&q.id)
    .bind(q.spec.hash.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = found {
        return Ok((row.version(true)?, false));
    }
    let (latest,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(version) FROM queries WHERE id = $1")
            .bind(&q.id)
            .fetch_one(&mut **tx)
            .await?;
    let version = latest.unwrap_or(0) + 1;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO queries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )))
    .bind(&q.id)
    .bind(version)
    .bind(&q.title)
    .bind(q.spec.hash.to_string())
    .bind(&q.spec.canonical)
    .bind(&q.spec.source)
    .bind(to_i64(now_ms))
    .bind(who.actor)
    .execute(&mut **tx)
    .await?;
    if audit_new {
        let entry = Entry {
            action: "query.push",
            target: &q.id,
            detail: serde_json::json!({ "version": version, "hash": q.spec.hash.to_string() }),
            ..who.clone()
        };
        audit::append(tx, db, &entry, now_ms).await?;
    }
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM queries WHERE id = $1 AND version = $2"
    )))
    .bind(&q.id)
    .bind(version)
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.version(true)?, true))
}

/// Pushes a query in a transaction of its own.
pub async fn push(
    db: &Db,
    q: &CheckedQuery,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<(QueryVersion, bool), Refusal> {
    let mut tx = db.write().await?;
    let out = push_in(&mut tx, db, q, now_ms, who, true).await?;
    tx.commit().await?;
    Ok(out)
}

async fn row(db: &Db, r: &QueryRef) -> Result<Row, Refusal> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM queries WHERE id = $1 AND version = $2"
    )))
    .bind(&r.id)
    .bind(i64::from(r.version))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Refusal::NoSuchQuery(format!("{} version {}", r.id, r.version)))
}

/// One version, with its text.
pub async fn get(db: &Db, r: &QueryRef) -> Result<QueryVersion, Refusal> {
    row(db, r).await?.version(true)
}

/// One version as a collection runs it.
pub async fn spec(db: &Db, r: &QueryRef) -> Result<QuerySpec, Refusal> {
    row(db, r).await?.spec()
}

/// Every version of one query, oldest first, without their texts.
pub async fn versions(db: &Db, id: &str) -> Result<Vec<QueryVersion>, Refusal> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM queries WHERE id = $1 ORDER BY version"
    )))
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    if rows.is_empty() {
        return Err(Refusal::NoSuchQuery(id.to_owned()));
    }
    rows.iter().map(|r| r.version(false)).collect()
}

/// The newest version of each query, a page at a time in id order.
pub async fn page(
    db: &Db,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<QueryVersion>, Option<String>), Refusal> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM queries q WHERE id > $1 \
         AND version = (SELECT MAX(version) FROM queries WHERE id = q.id) \
         ORDER BY id LIMIT $2"
    )))
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let fetched = rows.len();
    let out = rows
        .iter()
        .take(limit as usize)
        .map(|r| r.version(false))
        .collect::<Result<Vec<_>, _>>()?;
    let next = super::next_cursor(fetched, limit, &out, |q| q.id.clone());
    Ok((out, next))
}
