//! The practices registry: imported from the ODS files idempotently,
//! supplier and clinical system set by hand, and the check every
//! collection and token passes (only practices of the registry; jobs only
//! for active ones).

use super::audit::{self, Entry};
use super::{Db, to_i64};
use crate::domain::Refusal;
use crate::domain::grants::Reach;
use gpes_protocol::{
    Practice, PracticeImportRequest, PracticeImportResponse, PracticeRecord, PracticeSetRequest,
    PracticeStatus,
};
use sqlx::{Any, Transaction};

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    code: String,
    name: String,
    region: String,
    status: String,
    open_date: Option<String>,
    close_date: Option<String>,
    successor: Option<String>,
    supplier: Option<String>,
    clinical_system: Option<String>,
    test: i64,
}

const COLUMNS: &str = "code, name, region, status, open_date, close_date, successor, supplier, \
                       clinical_system, test";

fn status(text: &str) -> Result<PracticeStatus, Refusal> {
    Ok(match text {
        "active" => PracticeStatus::Active,
        "closed" => PracticeStatus::Closed,
        "dormant" => PracticeStatus::Dormant,
        "proposed" => PracticeStatus::Proposed,
        other => return Err(Refusal::Store(format!("unknown practice status '{other}'"))),
    })
}

impl Row {
    fn into_practice(self) -> Result<Practice, Refusal> {
        Ok(Practice {
            status: status(&self.status)?,
            code: self.code,
            name: self.name,
            region: self.region,
            open_date: self.open_date,
            close_date: self.close_date,
            successor: self.successor,
            supplier: self.supplier,
            clinical_system: self.clinical_system,
            test: self.test == 1,
        })
    }
}

async fn find(tx: &mut Transaction<'static, Any>, code: &str) -> Result<Option<Practice>, Refusal> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM practices WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(Row::into_practice).transpose()
}

/// A record's differences from what is stored, as `field: old -> new`.
fn differences(old: &Practice, new: &PracticeRecord) -> Vec<String> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = Vec::new();
    if old.name != new.name {
        out.push(format!("name: {} -> {}", old.name, new.name));
    }
    if old.region != new.region {
        out.push(format!("region: {} -> {}", old.region, new.region));
    }
    if old.status != new.status {
        out.push(format!(
            "status: {} -> {}",
            old.status.as_str(),
            new.status.as_str()
        ));
    }
    if old.open_date != new.open_date {
        out.push(format!(
            "open date: {} -> {}",
            show(&old.open_date),
            show(&new.open_date)
        ));
    }
    if old.close_date != new.close_date {
        out.push(format!(
            "close date: {} -> {}",
            show(&old.close_date),
            show(&new.close_date)
        ));
    }
    out
}

/// Applies a batch of the registry files' lines in one transaction, with
/// its audit entry; lines that change nothing are counted, not written.
pub async fn import(
    db: &Db,
    batch: &PracticeImportRequest,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<PracticeImportResponse, Refusal> {
    let mut tx = db.write().await?;
    let mut out = PracticeImportResponse::default();
    for r in &batch.practices {
        match find(&mut tx, &r.code).await? {
            None => {
                sqlx::query(
                    "INSERT INTO practices (code, name, region, status, open_date, close_date, \
                     test, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
                )
                .bind(&r.code)
                .bind(&r.name)
                .bind(&r.region)
                .bind(r.status.as_str())
                .bind(r.open_date.clone())
                .bind(r.close_date.clone())
                .bind(to_i64(now_ms))
                .execute(&mut *tx)
                .await?;
                out.added.push(r.code.clone());
            }
            Some(old) => {
                let changed = differences(&old, r);
                if changed.is_empty() {
                    out.unchanged += 1;
                    continue;
                }
                sqlx::query(
                    "UPDATE practices SET name = $2, region = $3, status = $4, open_date = $5, \
                     close_date = $6, updated_ms = $7 WHERE code = $1",
                )
                .bind(&r.code)
                .bind(&r.name)
                .bind(&r.region)
                .bind(r.status.as_str())
                .bind(r.open_date.clone())
                .bind(r.close_date.clone())
                .bind(to_i64(now_ms))
                .execute(&mut *tx)
                .await?;
                out.changed.push((r.code.clone(), changed));
            }
        }
    }
    for s in &batch.successors {
        let Some(old) = find(&mut tx, &s.code).await? else {
            return Err(Refusal::Invalid(format!(
                "the successor line for '{}' names a practice the registry does not hold; \
                 import the practices file first",
                s.code
            )));
        };
        if find(&mut tx, &s.successor).await?.is_none() {
            return Err(Refusal::Invalid(format!(
                "'{}' is named as the successor of '{}' but the registry does not hold it",
                s.successor, s.code
            )));
        }
        if old.successor.as_deref() == Some(s.successor.as_str()) {
            out.unchanged += 1;
            continue;
        }
        sqlx::query("UPDATE practices SET successor = $2, updated_ms = $3 WHERE code = $1")
            .bind(&s.code)
            .bind(&s.successor)
            .bind(to_i64(now_ms))
            .execute(&mut *tx)
            .await?;
        out.changed.push((
            s.code.clone(),
            vec![format!(
                "successor: {} -> {}",
                old.successor.as_deref().unwrap_or("-"),
                s.successor
            )],
        ));
    }
    if !out.added.is_empty() || !out.changed.is_empty() {
        let detail = serde_json::json!({
            "added": out.added.len(),
            "changed": out.changed.len(),
            "unchanged": out.unchanged,
        });
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
    }
    tx.commit().await?;
    Ok(out)
}

pub async fn get(db: &Db, code: &str) -> Result<Practice, Refusal> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM practices WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Refusal::UnknownPractice(code.to_owned()))?;
    row.into_practice()
}

/// The SQL condition over the practices table (as `alias`) that selects
/// what a reach covers, and the values it binds from `$first` on.
pub fn within(reach: &Reach, alias: &str, first: usize) -> (String, Vec<String>) {
    if reach.everything {
        return ("1 = 1".into(), Vec::new());
    }
    let mut parts = Vec::new();
    let mut binds = Vec::new();
    for (column, values) in [
        ("code", &reach.practices),
        ("region", &reach.regions),
        ("supplier", &reach.suppliers),
    ] {
        if values.is_empty() {
            continue;
        }
        let marks: Vec<String> = values
            .iter()
            .map(|v| {
                binds.push(v.clone());
                format!("${}", first + binds.len() - 1)
            })
            .collect();
        parts.push(format!("{alias}.{column} IN ({})", marks.join(", ")));
    }
    if parts.is_empty() {
        ("1 = 0".into(), binds)
    } else {
        (format!("({})", parts.join(" OR ")), binds)
    }
}

/// A page of the practices within reach, in code order after `after`.
pub async fn page(
    db: &Db,
    after: Option<&str>,
    limit: u32,
    reach: &Reach,
) -> Result<(Vec<Practice>, Option<String>), Refusal> {
    let (condition, binds) = within(reach, "p", 3);
    let sql = format!(
        "SELECT {COLUMNS} FROM practices p WHERE code > $1 AND {condition} ORDER BY code LIMIT $2"
    );
    let mut query = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1);
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(db.pool()).await?;
    let fetched = rows.len();
    let out = rows
        .into_iter()
        .take(limit as usize)
        .map(Row::into_practice)
        .collect::<Result<Vec<_>, _>>()?;
    let next = super::next_cursor(fetched, limit, &out, |p| p.code.clone());
    Ok((out, next))
}

/// Sets what the ODS file does not carry.
pub async fn set(
    db: &Db,
    code: &str,
    request: &PracticeSetRequest,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<Practice, Refusal> {
    let mut tx = db.write().await?;
    let Some(old) = find(&mut tx, code).await? else {
        return Err(Refusal::UnknownPractice(code.to_owned()));
    };
    let supplier = request.supplier.clone().or(old.supplier);
    let clinical_system = request.clinical_system.clone().or(old.clinical_system);
    let test = request.test.unwrap_or(old.test);
    sqlx::query(
        "UPDATE practices SET supplier = $2, clinical_system = $3, test = $4, updated_ms = $5 \
         WHERE code = $1",
    )
    .bind(code)
    .bind(supplier)
    .bind(clinical_system)
    .bind(i64::from(test))
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::to_value(request).map_err(|e| Refusal::Store(e.to_string()))?;
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
    let practice = find(&mut tx, code)
        .await?
        .ok_or_else(|| Refusal::UnknownPractice(code.to_owned()))?;
    tx.commit().await?;
    Ok(practice)
}

/// A collection's targeting must name what the registry holds: regions
/// and suppliers of some practice, excluded practices of the registry.
pub async fn check_targeting(db: &Db, t: &gpes_protocol::Targeting) -> Result<(), Refusal> {
    let mut problems = Vec::new();
    for (values, sql, what) in [
        (
            &t.regions,
            "SELECT code FROM practices WHERE region = $1 LIMIT 1",
            "region: no practice of the registry has that commissioner",
        ),
        (
            &t.suppliers,
            "SELECT code FROM practices WHERE supplier = $1 LIMIT 1",
            "supplier: no practice of the registry has it (gpesctl practice set)",
        ),
        (
            &t.exclude,
            "SELECT code FROM practices WHERE code = $1",
            "practice of the registry, so it cannot be excluded",
        ),
    ] {
        for v in values {
            let found: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(v)
                .fetch_optional(db.pool())
                .await?;
            if found.is_none() {
                problems.push(format!("'{v}' is not a {what}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Invalid(problems.join("; ")))
    }
}

/// The practices a run of a collection makes jobs for, from the registry
/// as it is now: each explicit practice that is active, or its active
/// successor when it merged; every active practice (not a test one) of the
/// targeted regions and suppliers, or all; less the exclusions. With the
/// reasons practices were left out or replaced, for the log.
pub async fn resolve_targets(
    tx: &mut Transaction<'static, Any>,
    explicit: &[String],
    t: &gpes_protocol::Targeting,
) -> Result<(std::collections::BTreeSet<String>, Vec<String>), Refusal> {
    let mut out = std::collections::BTreeSet::new();
    let mut notes = Vec::new();
    for code in explicit {
        let Some(p) = find(tx, code).await? else {
            notes.push(format!("{code}: no longer in the registry"));
            continue;
        };
        if p.status == PracticeStatus::Active {
            out.insert(p.code);
            continue;
        }
        match p.successor {
            Some(s) => match find(tx, &s).await? {
                Some(n) if n.status == PracticeStatus::Active => {
                    notes.push(format!(
                        "{code}: {}, its successor {s} takes its place",
                        p.status.as_str()
                    ));
                    out.insert(s);
                }
                _ => notes.push(format!(
                    "{code}: {}, and its successor {s} is not active",
                    p.status.as_str()
                )),
            },
            None => notes.push(format!("{code}: {}", p.status.as_str())),
        }
    }
    if t.reaches_beyond_list() {
        let reach = Reach {
            everything: t.all,
            practices: Default::default(),
            regions: t.regions.iter().cloned().collect(),
            suppliers: t.suppliers.iter().cloned().collect(),
        };
        let (condition, binds) = within(&reach, "p", 1);
        let mut query = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(format!(
            "SELECT code FROM practices p WHERE status = 'active' AND test = 0 AND {condition}"
        )));
        for b in binds {
            query = query.bind(b);
        }
        for (code,) in query.fetch_all(&mut **tx).await? {
            out.insert(code);
        }
    }
    for code in &t.exclude {
        out.remove(code);
    }
    Ok((out, notes))
}

/// The registry's active test practices: what a dry run reaches.
pub async fn test_practices(db: &Db) -> Result<std::collections::BTreeSet<String>, Refusal> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT code FROM practices WHERE test = 1 AND status = 'active'")
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

/// Every practice named must be in the registry and active: what a
/// collection or an enrollment token may name.
pub async fn check_active(db: &Db, codes: &[String]) -> Result<(), Refusal> {
    let mut problems = Vec::new();
    for code in codes {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM practices WHERE code = $1"
        )))
        .bind(code)
        .fetch_optional(db.pool())
        .await?;
        match row.map(Row::into_practice).transpose()? {
            None => problems.push(format!("'{code}' is not in the practices registry")),
            Some(p) if p.status != PracticeStatus::Active => problems.push(format!(
                "'{code}' is {}{}{}",
                p.status.as_str(),
                p.close_date
                    .map(|d| format!(" since {d}"))
                    .unwrap_or_default(),
                p.successor
                    .map(|s| format!("; its successor is '{s}'"))
                    .unwrap_or_default()
            )),
            Some(_) => {}
        }
        if problems.len() >= 20 {
            problems.push("...".into());
            break;
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "only active practices of the registry may be named (`gpesctl practice import` \
             loads it): {}",
            problems.join("; ")
        )))
    }
}
