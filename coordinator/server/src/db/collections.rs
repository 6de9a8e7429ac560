//! Collections: the query, its parameters, schedule and practices.

use super::{Db, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::collections::NewCollection;
use gpes_canon::ContentHash;
use gpes_protocol::{
    Collection, CollectionState, CollectionTerms, CollectionVersion, DataClass, Purpose, QueryRef,
    QuerySpec, Targeting,
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
    version: i64,
    requested_by: Option<String>,
    participation: String,
    method: String,
    legal_basis: Option<String>,
    approval_reference: Option<String>,
    needs_declaration: i64,
    needs_approval: i64,
    payment_rule: Option<String>,
}

const COLUMNS: &str = "id, name, query_canonical, query_hash, query_source, parameters, schedule, \
                       purpose, data_class, deadline_seconds, created_ms, query_id, query_version, \
                       state, version, requested_by, participation, method, legal_basis, \
                       approval_reference, needs_declaration, needs_approval, payment_rule";

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
            version: u32::try_from(self.version).map_err(|_| {
                Refusal::Store(format!("collection version {} stored", self.version))
            })?,
            terms: CollectionTerms {
                requested_by: self.requested_by,
                participation: text_enum(&self.participation)?,
                method: text_enum(&self.method)?,
                legal_basis: self.legal_basis,
                approval_reference: self.approval_reference,
                needs_declaration: self.needs_declaration != 0,
                needs_approval: self.needs_approval != 0,
                payment: self
                    .payment_rule
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|e| {
                        Refusal::Store(format!("stored payment rule does not read: {e}"))
                    })?,
            },
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
    sqlx::query(
        "INSERT INTO collections (id, name, query_canonical, query_hash, query_source, \
         parameters, schedule, purpose, data_class, deadline_seconds, created_ms, query_id, \
         query_version, state, output_shape, version) \
         VALUES ($1, '', '', '', '', '{}', '', '', '', 0, $2, '', 0, $3, '', 1)",
    )
    .bind(id)
    .bind(to_i64(now_ms))
    .bind(c.state.as_str())
    .execute(&mut *tx)
    .await?;
    write_definition(
        &mut tx,
        id,
        c,
        &QueryRef {
            id: version.id.clone(),
            version: version.version,
        },
    )
    .await?;
    super::audit::append(&mut tx, db, who, now_ms).await?;
    let made = get_in(&mut tx, id).await?;
    keep_version(&mut tx, &made, now_ms, who.actor).await?;
    tx.commit().await?;
    Ok(made)
}

/// Replaces the definition of a draft or paused collection, as its next
/// version; the runs it made keep the version they ran.
pub async fn edit(
    db: &Db,
    id: &str,
    c: &NewCollection,
    now_ms: u64,
    who: &super::audit::Entry<'_>,
) -> Result<Collection, Refusal> {
    let mut tx = db.write().await?;
    let found: Option<(String,)> = sqlx::query_as("SELECT state FROM collections WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((state,)) = found else {
        return Err(Refusal::UnknownCollection(id.to_owned()));
    };
    let state: CollectionState = text_enum(&state)?;
    if !matches!(state, CollectionState::Draft | CollectionState::Paused) {
        return Err(Refusal::CollectionState {
            id: id.to_owned(),
            state: state.as_str(),
            what: "only a draft or paused collection is edited: pause it first".into(),
        });
    }
    let (version, _) = super::queries::push_in(&mut tx, db, &c.query, now_ms, who, false).await?;
    write_definition(
        &mut tx,
        id,
        c,
        &QueryRef {
            id: version.id.clone(),
            version: version.version,
        },
    )
    .await?;
    sqlx::query("UPDATE collections SET version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    super::audit::append(&mut tx, db, who, now_ms).await?;
    let made = get_in(&mut tx, id).await?;
    keep_version(&mut tx, &made, now_ms, who.actor).await?;
    tx.commit().await?;
    Ok(made)
}

/// Writes everything a collection's definition holds over the row made
/// for it (the query, parameters, schedule, practices, targeting, terms).
async fn write_definition(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    c: &NewCollection,
    query: &QueryRef,
) -> Result<(), Refusal> {
    let t = &c.terms;
    sqlx::query(
        "UPDATE collections SET name = $2, query_canonical = $3, query_hash = $4, \
         query_source = $5, parameters = $6, schedule = $7, purpose = $8, data_class = $9, \
         deadline_seconds = $10, query_id = $11, query_version = $12, output_shape = $13, \
         requested_by = $14, participation = $15, method = $16, legal_basis = $17, \
         approval_reference = $18, needs_declaration = $19, needs_approval = $20, \
         payment_rule = $21 WHERE id = $1",
    )
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
    .bind(&query.id)
    .bind(i64::from(query.version))
    .bind(c.output_shape)
    .bind(t.requested_by.as_deref())
    .bind(enum_text(&t.participation)?)
    .bind(enum_text(&t.method)?)
    .bind(t.legal_basis.as_deref())
    .bind(t.approval_reference.as_deref())
    .bind(i64::from(t.needs_declaration))
    .bind(i64::from(t.needs_approval))
    .bind(
        t.payment
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Refusal::Store(e.to_string()))?,
    )
    .execute(&mut **tx)
    .await?;
    for table in ["collection_practices", "collection_targets"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE collection_id = $1"
        )))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    for p in &c.practices {
        sqlx::query("INSERT INTO collection_practices (collection_id, practice) VALUES ($1, $2)")
            .bind(id)
            .bind(p)
            .execute(&mut **tx)
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
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Keeps a collection's definition as it now is, whole, under its version.
async fn keep_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    c: &Collection,
    now_ms: u64,
    actor: &str,
) -> Result<(), Refusal> {
    sqlx::query(
        "INSERT INTO collection_versions (collection_id, version, definition, made_ms, made_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.id)
    .bind(i64::from(c.version))
    .bind(serde_json::to_string(c).map_err(|e| Refusal::Store(e.to_string()))?)
    .bind(to_i64(now_ms))
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every version of a collection's definition, oldest first.
pub async fn versions(db: &Db, id: &str) -> Result<Vec<CollectionVersion>, Refusal> {
    get(db, id).await?;
    let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(
        "SELECT version, definition, made_ms, made_by FROM collection_versions \
         WHERE collection_id = $1 ORDER BY version",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(version, definition, made_ms, made_by)| {
            Ok(CollectionVersion {
                version: u32::try_from(version)
                    .map_err(|_| Refusal::Store(format!("version {version} stored")))?,
                made_ms: to_u64(made_ms),
                made_by,
                collection: serde_json::from_str(&definition).map_err(|e| {
                    Refusal::Store(format!("stored version {version} does not read: {e}"))
                })?,
            })
        })
        .collect()
}

async fn get_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
) -> Result<Collection, Refusal> {
    let row: CollectionRow = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM collections WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| Refusal::UnknownCollection(id.to_owned()))?;
    let targets = targets_in(tx, id).await?;
    row.into_collection(targets)
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
async fn targets_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<(Vec<String>, Targeting), Refusal> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT practice FROM collection_practices WHERE collection_id = $1 ORDER BY practice",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let targets: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, value FROM collection_targets WHERE collection_id = $1 ORDER BY kind, value",
    )
    .bind(id)
    .fetch_all(&mut *conn)
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

async fn practices(db: &Db, id: &str) -> Result<(Vec<String>, Targeting), Refusal> {
    let mut conn = db.pool().acquire().await?;
    targets_in(&mut conn, id).await
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

/// Every collection (a service has hundreds, not millions).
pub async fn all(db: &Db) -> Result<Vec<Collection>, Refusal> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, next) = page(db, after.as_deref(), 1000).await?;
        out.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
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
