//! People: users, their role grants and their API tokens (admins manage
//! them), and what any signed-in person may ask of their own: who am I,
//! and revoke a token of mine.

use super::App;
use super::auth::{Operator, USER_TOKEN_PREFIX};
use super::body::{JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use super::operator::{PageQuery, page_query};
use crate::db;
use crate::domain::grants::Grant;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use gpes_protocol::{
    CreateUserRequest, CreateUserTokenRequest, CreateUserTokenResponse, GrantSpec, Me, Page, User,
    UserToken,
};
use http::StatusCode;
use std::sync::Arc;

/// Longest a user's token may live.
pub const MAX_USER_TOKEN_DAYS: u32 = 365;
/// Bytes of randomness in a user's token.
const USER_TOKEN_BYTES: usize = 32;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/me/tokens/{id}/revoke", post(revoke_my_token))
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/{id}", get(show_user))
        .route("/v1/users/{id}/grants", post(add_grant))
        .route("/v1/users/{id}/grants/remove", post(remove_grant))
        .route("/v1/users/{id}/tokens", post(create_user_token))
        .route("/v1/users/{id}/disable", post(disable_user))
        .route("/v1/user-tokens/{id}/revoke", post(revoke_user_token))
}

async fn me(operator: Operator) -> Json<Me> {
    Json(Me {
        grants: operator.grants.iter().map(Grant::spec).collect(),
        actor: operator.actor,
    })
}

async fn revoke_my_token(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<UserToken>, ApiError> {
    let who = operator.did("user.token.revoke", &id, serde_json::Value::Null);
    Ok(Json(
        db::users::revoke_token(&app.db, &id, Some(&operator.actor), app.now_ms(), &who).await?,
    ))
}

async fn list_users(
    State(app): State<Arc<App>>,
    _operator: Operator,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<User>>, ApiError> {
    let q = page_query(q)?;
    let (items, next) = db::users::page(&app.db, q.cursor.as_deref(), q.limit()?).await?;
    Ok(Json(Page { items, next }))
}

async fn create_user(
    State(app): State<Arc<App>>,
    operator: Operator,
    JsonBody(request): JsonBody<CreateUserRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    db::users::check_user_id(&request.id)?;
    let name = request.name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "a user's name must be 1 to 200 printable characters",
        ));
    }
    if request.id == "admin" {
        return Err(ApiError::unprocessable(
            "'admin' names the bootstrap token in the audit trail; choose another user name",
        ));
    }
    let who = operator.did(
        "user.create",
        &request.id,
        serde_json::json!({ "name": name }),
    );
    let user = db::users::create(&app.db, &request.id, name, app.now_ms(), &who).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn show_user(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(db::users::get(&app.db, &id).await?))
}

async fn add_grant(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<GrantSpec, OPERATOR_LIMIT>,
) -> Result<Json<User>, ApiError> {
    change_grant(&app, &operator, &id, &spec, true).await
}

async fn remove_grant(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<GrantSpec, OPERATOR_LIMIT>,
) -> Result<Json<User>, ApiError> {
    change_grant(&app, &operator, &id, &spec, false).await
}

/// Grants (`add`) or takes away a role, with its audit entry.
async fn change_grant(
    app: &App,
    operator: &Operator,
    id: &str,
    spec: &GrantSpec,
    add: bool,
) -> Result<Json<User>, ApiError> {
    let grant = Grant::from_spec(spec)?;
    let action = if add { "user.grant" } else { "user.ungrant" };
    let who = operator.did(action, id, serde_json::json!({ "grant": grant.label() }));
    let now = app.now_ms();
    let user = if add {
        db::users::grant(&app.db, id, &grant, now, &who).await?
    } else {
        db::users::ungrant(&app.db, id, &grant, now, &who).await?
    };
    Ok(Json(user))
}

/// A new token's secret: 256 random bits, base64url, after a prefix
/// that says what it is.
fn new_secret() -> Result<String, ApiError> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; USER_TOKEN_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("the system's random source failed"))?;
    Ok(format!(
        "{USER_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

async fn create_user_token(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<CreateUserTokenRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<CreateUserTokenResponse>), ApiError> {
    if request.ttl_days == 0 || request.ttl_days > MAX_USER_TOKEN_DAYS {
        return Err(ApiError::unprocessable(format!(
            "ttl_days must be between 1 and {MAX_USER_TOKEN_DAYS}, not {}",
            request.ttl_days
        )));
    }
    let label = request.label.as_deref().unwrap_or("").trim().to_owned();
    if label.len() > 100 || label.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "a token's label must be at most 100 printable characters",
        ));
    }
    let secret = new_secret()?;
    let secret_hash = gpes_pki::hash_secret(&secret);
    let now = app.now_ms();
    let expires_ms = now + u64::from(request.ttl_days) * 86_400_000;
    let token_id = crate::domain::random_id("token");
    let who = operator.did(
        "user.token.create",
        &id,
        serde_json::json!({ "token": token_id, "label": label, "expires_ms": expires_ms }),
    );
    db::users::create_token(
        &app.db,
        &db::users::NewToken {
            id: &token_id,
            user_id: &id,
            secret_hash: &secret_hash,
            label: &label,
            expires_ms,
        },
        now,
        &who,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateUserTokenResponse {
            token_id,
            user_id: id,
            secret,
            expires_ms,
        }),
    ))
}

async fn disable_user(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let who = operator.did("user.disable", &id, serde_json::Value::Null);
    Ok(Json(
        db::users::disable(&app.db, &id, app.now_ms(), &who).await?,
    ))
}

async fn revoke_user_token(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<UserToken>, ApiError> {
    let who = operator.did("user.token.revoke", &id, serde_json::Value::Null);
    Ok(Json(
        db::users::revoke_token(&app.db, &id, None, app.now_ms(), &who).await?,
    ))
}
