//! Collections: the query, its parameters, schedule and practices.

use super::{Db, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::collections::NewCollection;
use gpes_canon::ContentHash;
use gpes_protocol::{
    Collection, CollectionState, DataClass, Purpose, QueryRef, QuerySpec, Targeting,
};
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, sqlx::FromRow)]
struct CollectionRow {
    id: String,
    name: String,
    query_canonical: String,
    query_hash: String,
    query_source: String,
    parameters: String,
    schedule: String,
    purpose: String,
    data_class: String,
    deadline_seconds: i64,
    created_ms: i64,
    query_id: String,
    query_version: i64,
    state: String,
}

const COLUMNS: &str = "id, name, query_canonical, query_hash, query_source, parameters, schedule, \
                       purpose, data_class, deadline_seconds, created_ms, query_id, query_version, \
                       state";

fn enum_text<T: serde::Serialize>(v: &T) -> Result<String, Refusal> {
    match serde_json::to_value(v).map_err(|e| Refusal::Store(e.to_string()))? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(Refusal::Store(format!("not a name: {other}"))),
    }
}

fn text_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, Refusal> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| Refusal::Store(format!("stored value '{s}' does not read: {e}")))
}

impl CollectionRow {
    fn into_collection(
        self,
        (practices, targeting): (Vec<String>, Targeting),
    ) -> Result<Collection, Refusal> {
        let hash: ContentHash = self
            .query_hash
            .parse()
            .map_err(|e| Refusal::Store(format!("stored query hash does not read: {e}")))?;
        Ok(Collection {
            id: self.id,
            name: self.name,
            query: QuerySpec {
                canonical: self.query_canonical,
                hash,
                source: self.query_source,
            },
            query_ref: QueryRef {
                id: self.query_id,
                version: u32::try_from(self.query_version).map_err(|_| {
                    Refusal::Store(format!("query version {} stored", self.query_version))
                })?,
            },
            parameters: serde_json::from_str(&self.parameters)
                .map_err(|e| Refusal::Store(e.to_string()))?,
            schedule: self.schedule,
            practices,
            targeting,
            purpose: text_enum::<Purpose>(&self.purpose)?,
            data_class: text_enum::<DataClass>(&self.data_class)?,
            deadline_seconds: to_u64(self.deadline_seconds),
            created_ms: to_u64(self.created_ms),
            state: text_enum::<CollectionState>(&self.state)?,
        })
    }
}

pub async fn create(
    db: &Db,
    id: &str,
    c: &NewCollection,
    now_ms: u64,
    who: &super::audit::Entry<'_>,
) -> Result<Collection, Refusal> {
    let mut tx = db.write().await?;
    // The query enters the library in the same transaction (or is found
    // there), so every collection names a version; the collection's own
    // audit entry names the query's hash.
    let (version, _) = super::queries::push_in(&mut tx, db, &c.query, now_ms, who, false).await?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO collections ({COLUMNS}, output_shape) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    )))
    .bind(id)
    .bind(&c.name)
    .bind(&c.query.spec.canonical)
    .bind(c.query.spec.hash.to_string())
    .bind(&c.query.spec.source)
    .bind(serde_json::to_string(&c.parameters).map_err(|e| Refusal::Store(e.to_string()))?)
    .bind(&c.schedule)
    .bind(enum_text(&c.purpose)?)
    .bind(enum_text(&c.data_class)?)
    .bind(to_i64(c.deadline_seconds))
    .bind(to_i64(now_ms))
    .bind(&version.id)
    .bind(i64::from(version.version))
    .bind(c.state.as_str())
    .bind(c.output_shape)
    .execute(&mut *tx)
    .await?;
    for p in &c.practices {
        sqlx::query("INSERT INTO collection_practices (collection_id, practice) VALUES ($1, $2)")
            .bind(id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
    }
    let t = &c.targeting;
    let all = t.all.then(|| ("all", String::new()));
    let targets = all
        .into_iter()
        .chain(t.regions.iter().map(|r| ("region", r.clone())))
        .chain(t.suppliers.iter().map(|s| ("supplier", s.clone())))
        .chain(t.exclude.iter().map(|p| ("exclude", p.clone())));
    for (kind, value) in targets {
        sqlx::query(
            "INSERT INTO collection_targets (collection_id, kind, value) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(kind)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    }
    super::audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    get(db, id).await
}

pub async fn get(db: &Db, id: &str) -> Result<Collection, Refusal> {
    let row: CollectionRow = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM collections WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Refusal::UnknownCollection(id.to_owned()))?;
    let practices = practices(db, id).await?;
    row.into_collection(practices)
}

/// A collection's explicit practices and its targeting.
async fn practices(db: &Db, id: &str) -> Result<(Vec<String>, Targeting), Refusal> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT practice FROM collection_practices WHERE collection_id = $1 ORDER BY practice",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let targets: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, value FROM collection_targets WHERE collection_id = $1 ORDER BY kind, value",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let mut t = Targeting::default();
    for (kind, value) in targets {
        match kind.as_str() {
            "all" => t.all = true,
            "region" => t.regions.push(value),
            "supplier" => t.suppliers.push(value),
            "exclude" => t.exclude.push(value),
            other => return Err(Refusal::Store(format!("unknown target kind '{other}'"))),
        }
    }
    Ok((rows.into_iter().map(|(p,)| p).collect(), t))
}

/// One page of collections in id order, after `after`.
pub async fn page(
    db: &Db,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<Collection>, Option<String>), Refusal> {
    let rows: Vec<CollectionRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM collections WHERE id > $1 ORDER BY id LIMIT $2"
    )))
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let fetched = rows.len();
    let mut out = Vec::new();
    for row in rows.into_iter().take(limit as usize) {
        let practices = practices(db, &row.id).await?;
        out.push(row.into_collection(practices)?);
    }
    let next = super::next_cursor(fetched, limit, &out, |c| c.id.clone());
    Ok((out, next))
}

/// Moves a collection to another state, with its audit entry.
pub async fn set_state(
    db: &Db,
    id: &str,
    to: CollectionState,
    now_ms: u64,
    who: &super::audit::Entry<'_>,
) -> Result<Collection, Refusal> {
    let mut tx = db.write().await?;
    let found: Option<(String,)> = sqlx::query_as("SELECT state FROM collections WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((from,)) = found else {
        return Err(Refusal::UnknownCollection(id.to_owned()));
    };
    crate::domain::collections::transition(id, text_enum(&from)?, to)?;
    sqlx::query("UPDATE collections SET state = $2, state_ms = $3 WHERE id = $1")
        .bind(id)
        .bind(to.as_str())
        .bind(to_i64(now_ms))
        .execute(&mut *tx)
        .await?;
    super::audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    get(db, id).await
}

/// Active collections with a schedule, and the last time the scheduler
/// considered each.
pub async fn scheduled(db: &Db) -> Result<Vec<(Collection, Option<u64>)>, Refusal> {
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT id, schedule_mark_ms FROM collections WHERE schedule <> '' AND state = 'active' \
         ORDER BY id",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for (id, mark) in rows {
        out.push((get(db, &id).await?, mark.map(to_u64)));
    }
    Ok(out)
}

pub async fn set_schedule_mark(db: &Db, id: &str, ms: u64) -> Result<(), Refusal> {
    let mut tx = db.write().await?;
    // Only forwards: a scheduler paused mid-tick past its lease and resumed
    // must not move the mark back under the replica that took over.
    sqlx::query(
        "UPDATE collections SET schedule_mark_ms = $2 \
         WHERE id = $1 AND (schedule_mark_ms IS NULL OR schedule_mark_ms < $2)",
    )
    .bind(id)
    .bind(to_i64(ms))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
