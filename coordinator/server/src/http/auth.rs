//! Who is asking. On the agent listener, the agent named by the client
//! certificate the TLS handshake verified (put on each request by the
//! listener) and still enrolled and not revoked. On the operator
//! listener, a person with a bearer token, behind the one `Authenticator`
//! interface so that another way in (an OpenID Connect provider) can be
//! added beside tokens.

use super::App;
use super::error::ApiError;
use crate::db;
use crate::domain::grants::{Grant, Permission, Reach, Role};
use axum::extract::FromRequestParts;
use http::request::Parts;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The agent id from the verified client certificate, set by the listener.
#[derive(Debug, Clone)]
pub struct PeerAgent(pub String);

/// An enrolled, unrevoked agent and the practices it serves.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub practices: Vec<String>,
}

impl FromRequestParts<Arc<App>> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Agent, ApiError> {
        let Some(PeerAgent(id)) = parts.extensions.get::<PeerAgent>().cloned() else {
            return Err(ApiError::unauthorized(
                "this route is for agents, with their certificate, on the agent listener",
            ));
        };
        let practices = db::agents::active_agent(&app.db, &id).await?;
        Ok(Agent { id, practices })
    }
}

/// A person, authenticated, with their grants, on a route whose
/// permission one of them allows (put on the request by
/// `permissions::authorize`, which runs before any handler).
#[derive(Debug, Clone)]
pub struct Operator {
    /// Who, as the audit trail and the refusal log name them.
    pub actor: String,
    /// The grant this request is allowed under, as the audit trail names
    /// it (`admin`, `B1843:A81001`).
    pub grant: String,
    /// Everything they hold.
    pub grants: Vec<Grant>,
    /// What the route needs.
    pub permission: Permission,
}

impl Operator {
    /// The audit entry of an action of theirs.
    pub fn did<'a>(
        &'a self,
        action: &'a str,
        target: &'a str,
        detail: serde_json::Value,
    ) -> crate::db::audit::Entry<'a> {
        crate::db::audit::Entry {
            actor: &self.actor,
            grant: &self.grant,
            action,
            target,
            detail,
        }
    }

    /// How far their grants reach for this route's permission.
    pub fn reach(&self) -> Reach {
        Reach::of(&self.grants, self.permission)
    }
}

/// Who a request turned out to be from, for the refusals log: set by the
/// permission layer, read by the layer around every request.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<std::sync::Mutex<Option<String>>>);

impl CallerSlot {
    pub fn set(&self, actor: &str) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(actor.to_owned());
    }
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Who presents a credential, and what they hold.
#[derive(Debug, Clone)]
pub struct Identity {
    pub actor: String,
    pub grants: Vec<Grant>,
}

/// What an authenticator's answer is.
pub type Authenticated<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Identity>, ApiError>> + Send + 'a>>;

/// A way of telling who presents a credential: the bootstrap admin token
/// and users' API tokens today; an OpenID Connect provider would be
/// another.
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// `None` when the credential is not one this authenticator knows.
    fn authenticate<'a>(&'a self, bearer: &'a str, now_ms: u64) -> Authenticated<'a>;
}

/// The bootstrap admin token, compared by its hash.
#[derive(Debug)]
pub struct AdminToken {
    pub hash: String,
}

impl Authenticator for AdminToken {
    fn authenticate<'a>(&'a self, bearer: &'a str, _now_ms: u64) -> Authenticated<'a> {
        let found = gpes_pki::secret_matches(bearer, &self.hash).then(|| Identity {
            actor: "admin".into(),
            grants: vec![Grant::operator(Role::Admin)],
        });
        Box::pin(std::future::ready(Ok(found)))
    }
}

/// Users' API tokens, looked up by the hash of the secret.
#[derive(Debug)]
pub struct UserTokens {
    pub db: db::Db,
}

impl Authenticator for UserTokens {
    fn authenticate<'a>(&'a self, bearer: &'a str, now_ms: u64) -> Authenticated<'a> {
        Box::pin(async move {
            if !bearer.starts_with(USER_TOKEN_PREFIX) {
                return Ok(None);
            }
            let hash = gpes_pki::hash_secret(bearer);
            let found = db::users::authenticate(&self.db, &hash, now_ms).await?;
            Ok(found.map(|(actor, grants)| Identity { actor, grants }))
        })
    }
}

/// Users' tokens start with this, so they are told apart from the admin
/// token and recognised when leaked.
pub const USER_TOKEN_PREFIX: &str = "gpes-user-";

/// The bearer credential of a request: `Authorization: Bearer <token>`,
/// refused when absent, malformed, or empty or blank (before any
/// comparison is made).
pub fn bearer(parts: &Parts) -> Result<String, ApiError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "a bearer token is needed (Authorization: Bearer TOKEN); the admin token is in the coordinator's data directory",
            )
        })?;
    let text = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized(
            "the Authorization header must be 'Bearer TOKEN'",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::unauthorized("the bearer token is empty"));
    }
    Ok(token.to_owned())
}

impl FromRequestParts<Arc<App>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _app: &Arc<App>) -> Result<Operator, ApiError> {
        parts.extensions.get::<Operator>().cloned().ok_or_else(|| {
            ApiError::internal("this route names no permission (http::permissions::ROUTES)")
        })
    }
}

/// Who presents the request's bearer token: 401 when no authenticator
/// knows it.
pub async fn identify(parts: &Parts, app: &App) -> Result<Identity, ApiError> {
    let token = bearer(parts)?;
    let now = app.now_ms();
    for authenticator in &app.authenticators {
        if let Some(identity) = authenticator.authenticate(&token, now).await? {
            return Ok(identity);
        }
    }
    Err(ApiError::unauthorized(
        "the bearer token is not valid (unknown, expired or revoked)",
    ))
}
