//! People, their API tokens and their role grants. A token is looked up
//! by the SHA-256 of its secret (a 256-bit random secret needs no slow
//! hash); its last use is written at most once a minute, as operational
//! state outside the audit trail. Every change a person makes here is one
//! transaction with its audit entry.

use super::audit::{self, Entry};
use super::{Db, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::grants::{Grant, Role, ScopeKind};
use gpes_protocol::{User, UserToken};
use sqlx::{Any, Transaction};

/// A token's last use is rewritten when it is older than this.
pub const LAST_USE_EVERY_MS: u64 = 60_000;

#[derive(Debug, sqlx::FromRow)]
struct UserRow {
    id: String,
    name: String,
    created_ms: i64,
    created_by: String,
    disabled_ms: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct TokenRow {
    id: String,
    label: String,
    created_ms: i64,
    expires_ms: i64,
    revoked_ms: Option<i64>,
    last_used_ms: Option<i64>,
}

impl From<TokenRow> for UserToken {
    fn from(r: TokenRow) -> UserToken {
        UserToken {
            id: r.id,
            label: r.label,
            created_ms: to_u64(r.created_ms),
            expires_ms: to_u64(r.expires_ms),
            revoked_ms: r.revoked_ms.map(to_u64),
            last_used_ms: r.last_used_ms.map(to_u64),
        }
    }
}

pub async fn grants_of(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
) -> Result<Vec<Grant>, Refusal> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT role, scope FROM grants WHERE user_id = $1 ORDER BY role, scope")
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?;
    rows.into_iter()
        .map(|(role, scope)| {
            Ok(Grant {
                role: Role::parse(&role)
                    .map_err(|_| Refusal::Store(format!("unknown role '{role}' stored")))?,
                scope,
            })
        })
        .collect()
}

async fn load(conn: &mut sqlx::AnyConnection, id: &str) -> Result<User, Refusal> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT id, name, created_ms, created_by, disabled_ms FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(Refusal::NoSuchUser(id.to_owned()));
    };
    let grants = grants_of(conn, id).await?;
    let tokens: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, label, created_ms, expires_ms, revoked_ms, last_used_ms FROM user_tokens \
         WHERE user_id = $1 ORDER BY created_ms, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(User {
        id: row.id,
        name: row.name,
        created_ms: to_u64(row.created_ms),
        created_by: row.created_by,
        disabled_ms: row.disabled_ms.map(to_u64),
        grants: grants.iter().map(Grant::spec).collect(),
        tokens: tokens.into_iter().map(UserToken::from).collect(),
    })
}

/// A user name: lower-case letters, digits, `.`, `-` and `_`, 2 to 64.
pub fn check_user_id(id: &str) -> Result<(), Refusal> {
    let ok = (2..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        && id.starts_with(|c: char| c.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "'{id}' is not a user name: 2 to 64 lower-case letters, digits, '.', '-' or '_', \
             starting with a letter"
        )))
    }
}

pub async fn create(
    db: &Db,
    id: &str,
    name: &str,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<User, Refusal> {
    let mut tx = db.write().await?;
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(Refusal::Exists(format!("user '{id}' already exists")));
    }
    sqlx::query("INSERT INTO users (id, name, created_ms, created_by) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(to_i64(now_ms))
        .bind(who.actor)
        .execute(&mut *tx)
        .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    let user = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn get(db: &Db, id: &str) -> Result<User, Refusal> {
    let mut conn = db.pool().acquire().await?;
    load(&mut conn, id).await
}

pub async fn page(
    db: &Db,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<User>, Option<String>), Refusal> {
    let mut conn = db.pool().acquire().await?;
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *conn)
            .await?;
    let fetched = ids.len();
    let mut out = Vec::new();
    for (id,) in ids.into_iter().take(limit as usize) {
        out.push(load(&mut conn, &id).await?);
    }
    let next = super::next_cursor(fetched, limit, &out, |u| u.id.clone());
    Ok((out, next))
}

async fn require_user(tx: &mut Transaction<'static, Any>, id: &str) -> Result<(), Refusal> {
    let found: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| Refusal::NoSuchUser(id.to_owned()))
}

/// A scope must name something the registry holds, so that a typing
/// mistake does not become a grant that silently reaches nothing.
async fn check_scope(tx: &mut Transaction<'static, Any>, grant: &Grant) -> Result<(), Refusal> {
    let (sql, what) = match grant.role.scope_kind() {
        ScopeKind::None => return Ok(()),
        ScopeKind::Organisation => (
            "SELECT code FROM organisations WHERE code = $1",
            "requesting organisation (an admin adds it with `gpesctl org set` first)",
        ),
        ScopeKind::Practice => (
            "SELECT code FROM practices WHERE code = $1 LIMIT 1",
            "practice",
        ),
        ScopeKind::Region => (
            "SELECT code FROM practices WHERE region = $1 LIMIT 1",
            "region (no practice of the registry has that commissioner)",
        ),
        ScopeKind::Supplier => (
            "SELECT code FROM practices WHERE supplier = $1 LIMIT 1",
            "supplier (no practice of the registry has that supplier: set it with \
             `gpesctl practice set CODE --supplier NAME` first)",
        ),
    };
    let found: Option<(String,)> = sqlx::query_as(sql)
        .bind(&grant.scope)
        .fetch_optional(&mut **tx)
        .await?;
    if found.is_none() {
        return Err(Refusal::Invalid(format!(
            "'{}' is not a {what} of the registry",
            grant.scope
        )));
    }
    Ok(())
}

pub async fn grant(
    db: &Db,
    id: &str,
    grant: &Grant,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<User, Refusal> {
    let mut tx = db.write().await?;
    require_user(&mut tx, id).await?;
    check_scope(&mut tx, grant).await?;
    let held: Option<(String,)> =
        sqlx::query_as("SELECT role FROM grants WHERE user_id = $1 AND role = $2 AND scope = $3")
            .bind(id)
            .bind(grant.role.as_str())
            .bind(&grant.scope)
            .fetch_optional(&mut *tx)
            .await?;
    if held.is_some() {
        return Err(Refusal::Exists(format!(
            "user '{id}' already holds {}",
            grant.label()
        )));
    }
    sqlx::query(
        "INSERT INTO grants (user_id, role, scope, granted_ms, granted_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(grant.role.as_str())
    .bind(&grant.scope)
    .bind(to_i64(now_ms))
    .bind(who.actor)
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    let user = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn ungrant(
    db: &Db,
    id: &str,
    grant: &Grant,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<User, Refusal> {
    let mut tx = db.write().await?;
    require_user(&mut tx, id).await?;
    let gone = sqlx::query("DELETE FROM grants WHERE user_id = $1 AND role = $2 AND scope = $3")
        .bind(id)
        .bind(grant.role.as_str())
        .bind(&grant.scope)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(Refusal::Invalid(format!(
            "user '{id}' does not hold {}",
            grant.label()
        )));
    }
    audit::append(&mut tx, db, who, now_ms).await?;
    let user = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

/// A new token, kept as the hash of its secret.
#[derive(Debug)]
pub struct NewToken<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub secret_hash: &'a str,
    pub label: &'a str,
    pub expires_ms: u64,
}

pub async fn create_token(
    db: &Db,
    token: &NewToken<'_>,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<(), Refusal> {
    let mut tx = db.write().await?;
    let disabled: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT disabled_ms FROM users WHERE id = $1")
            .bind(token.user_id)
            .fetch_optional(&mut *tx)
            .await?;
    match disabled {
        None => return Err(Refusal::NoSuchUser(token.user_id.to_owned())),
        Some((Some(_),)) => {
            return Err(Refusal::WrongState {
                job: token.user_id.to_owned(),
                state: "disabled".into(),
                what: "a disabled user is given no tokens".into(),
            });
        }
        Some((None,)) => {}
    }
    sqlx::query(
        "INSERT INTO user_tokens (id, user_id, secret_hash, label, created_ms, expires_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token.id)
    .bind(token.user_id)
    .bind(token.secret_hash)
    .bind(token.label)
    .bind(to_i64(now_ms))
    .bind(to_i64(token.expires_ms))
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes a token; with `owner`, only when it is that user's.
pub async fn revoke_token(
    db: &Db,
    token_id: &str,
    owner: Option<&str>,
    now_ms: u64,
    who: &Entry<'_>,
) -> Result<UserToken, Refusal> {
    let mut tx = db.write().await?;
    let found: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT user_id, revoked_ms FROM user_tokens WHERE id = $1")
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await?;
    match found {
        None => return Err(Refusal::NoSuchUserToken(token_id.to_owned())),
        Some((user, _)) if owner.is_some_and(|o| o != user) => {
            return Err(Refusal::NoSuchUserToken(token_id.to_owned()));
        }
        Some((_, Some(_))) => {
            return Err(Refusal::Exists(format!(
                "token '{token_id}' is already revoked"
            )));
        }
        Some(_) => {}
    }
    sqlx::query("UPDATE user_tokens SET revoked_ms = $2 WHERE id = $1")
        .bind(token_id)
        .bind(to_i64(now_ms))
        .execute(&mut *tx)
        .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    let row: TokenRow = sqlx::query_as(
        "SELECT id, label, created_ms, expires_ms, revoked_ms, last_used_ms FROM user_tokens \
         WHERE id = $1",
    )
    .bind(token_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Disables a user: none of their tokens is accepted from then on.
pub async fn disable(db: &Db, id: &str, now_ms: u64, who: &Entry<'_>) -> Result<User, Refusal> {
    let mut tx = db.write().await?;
    let found: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT disabled_ms FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    match found {
        None => return Err(Refusal::NoSuchUser(id.to_owned())),
        Some((Some(_),)) => {
            return Err(Refusal::Exists(format!("user '{id}' is already disabled")));
        }
        Some((None,)) => {}
    }
    sqlx::query("UPDATE users SET disabled_ms = $2 WHERE id = $1")
        .bind(id)
        .bind(to_i64(now_ms))
        .execute(&mut *tx)
        .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    let user = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

/// Who a token's secret (by its hash) signs in, with their grants: `None`
/// for an unknown, expired or revoked token or a disabled user.
pub async fn authenticate(
    db: &Db,
    secret_hash: &str,
    now_ms: u64,
) -> Result<Option<(String, Vec<Grant>)>, Refusal> {
    let mut conn = db.pool().acquire().await?;
    let found: Option<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT t.id, t.user_id, t.last_used_ms FROM user_tokens t \
         JOIN users u ON u.id = t.user_id \
         WHERE t.secret_hash = $1 AND t.revoked_ms IS NULL AND t.expires_ms > $2 \
         AND u.disabled_ms IS NULL",
    )
    .bind(secret_hash)
    .bind(to_i64(now_ms))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((token_id, user_id, last_used)) = found else {
        return Ok(None);
    };
    let stale = last_used.is_none_or(|t| to_u64(t) + LAST_USE_EVERY_MS <= now_ms);
    if stale {
        // Operational state: a lost write costs nothing but a minute.
        sqlx::query(
            "UPDATE user_tokens SET last_used_ms = $2 WHERE id = $1 \
             AND (last_used_ms IS NULL OR last_used_ms <= $3)",
        )
        .bind(&token_id)
        .bind(to_i64(now_ms))
        .bind(to_i64(now_ms.saturating_sub(LAST_USE_EVERY_MS)))
        .execute(&mut *conn)
        .await?;
    }
    let grants = grants_of(&mut conn, &user_id).await?;
    Ok(Some((user_id, grants)))
}
