//! Who is asking. On the agent listener, the agent named by the client
//! certificate the TLS handshake verified (put on each request by the
//! listener) and still enrolled and not revoked. On the operator
//! listener, a person with a bearer token, behind the one `Authenticator`
//! interface so that another way in (an OpenID Connect provider) can be
//! added beside tokens.

use super::App;
use super::error::ApiError;
use crate::db;
use axum::extract::FromRequestParts;
use http::request::Parts;
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

/// A person, authenticated.
#[derive(Debug, Clone)]
pub struct Operator {
    /// Who, as the audit trail and the refusal log name them.
    pub actor: String,
    /// The grant their actions are allowed under (the bootstrap token's
    /// is `admin`).
    pub grant: String,
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
}

/// A way of telling who presents a credential.
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// `None` when the credential is not one this authenticator knows.
    fn authenticate(&self, bearer: &str) -> Option<Operator>;
}

/// The bootstrap admin token, compared by its hash.
#[derive(Debug)]
pub struct AdminToken {
    pub hash: String,
}

impl Authenticator for AdminToken {
    fn authenticate(&self, bearer: &str) -> Option<Operator> {
        gpes_pki::secret_matches(bearer, &self.hash).then(|| Operator {
            actor: "admin".into(),
            grant: "admin".into(),
        })
    }
}

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

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Operator, ApiError> {
        let token = bearer(parts)?;
        for authenticator in &app.authenticators {
            if let Some(operator) = authenticator.authenticate(&token) {
                parts.extensions.insert(operator.clone());
                return Ok(operator);
            }
        }
        Err(ApiError::unauthorized(
            "the bearer token is not valid (unknown, expired or revoked)",
        ))
    }
}
