//! Requesting organisations and their delivery targets.

use super::{Db, audit, to_i64, to_u64};
use crate::domain::Refusal;
use gpes_protocol::{DeliveryTarget, Organisation, OrganisationSetRequest};

type Row = (String, String, String, i64);

fn read(row: Row) -> Result<Organisation, Refusal> {
    let (code, name, delivery, updated_ms) = row;
    let delivery: DeliveryTarget = serde_json::from_str(&delivery).map_err(|e| {
        Refusal::Store(format!("organisation {code}'s delivery does not read: {e}"))
    })?;
    Ok(Organisation {
        code,
        name,
        delivery,
        updated_ms: to_u64(updated_ms),
    })
}

/// Adds or changes an organisation (checked by
/// `domain::organisations::check`), with its audit entry.
pub async fn set(
    db: &Db,
    code: &str,
    request: &OrganisationSetRequest,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<Organisation, Refusal> {
    let delivery =
        serde_json::to_string(&request.delivery).map_err(|e| Refusal::Store(e.to_string()))?;
    let mut tx = db.write().await?;
    sqlx::query(
        "INSERT INTO organisations (code, name, delivery, updated_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (code) DO UPDATE SET name = $2, delivery = $3, updated_ms = $4",
    )
    .bind(code)
    .bind(&request.name)
    .bind(&delivery)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    get(db, code).await
}

pub async fn get(db: &Db, code: &str) -> Result<Organisation, Refusal> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT code, name, delivery, updated_ms FROM organisations WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(db.pool())
    .await?;
    read(row.ok_or_else(|| Refusal::UnknownOrganisation(code.to_owned()))?)
}

/// Every organisation, by code (there are tens, not thousands).
pub async fn list(db: &Db) -> Result<Vec<Organisation>, Refusal> {
    let rows: Vec<Row> =
        sqlx::query_as("SELECT code, name, delivery, updated_ms FROM organisations ORDER BY code")
            .fetch_all(db.pool())
            .await?;
    rows.into_iter().map(read).collect()
}

/// A collection's requesting organisation must be one the service knows.
pub async fn check_exists(db: &Db, code: Option<&str>) -> Result<(), Refusal> {
    let Some(code) = code else {
        return Ok(());
    };
    match get(db, code).await {
        Ok(_) => Ok(()),
        Err(Refusal::UnknownOrganisation(_)) => Err(Refusal::Invalid(format!(
            "organisation '{code}' is not known: an admin adds it first (gpesctl org set {code} ...)"
        ))),
        Err(e) => Err(e),
    }
}
