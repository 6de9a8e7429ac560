//! The permission each operator route needs, in one table, and the layer
//! that enforces it before any handler runs: it identifies the caller
//! from the bearer token (401 when no one), finds a grant allowing the
//! route's permission (403 when none) and hands the handler an
//! [`Operator`]. A route missing from the table is refused (fail closed),
//! and a test keeps the table and the router in step. What a scoped grant
//! reaches (one practice's results) the handler checks with
//! [`Operator::reach`], against the same table in `domain::grants`.

use super::App;
use super::auth::{self, Operator};
use super::error::ApiError;
use crate::domain::grants::{self, Permission};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use Permission::*;

/// Every operator route: method, path as the router declares it, and the
/// permission it needs.
pub const ROUTES: &[(&str, &str, Permission)] = &[
    ("POST", "/v1/enroll", Public),
    ("GET", "/v1/openapi.json", Public),
    ("GET", "/v1/me", SignedIn),
    ("POST", "/v1/me/tokens/{id}/revoke", SignedIn),
    ("POST", "/v1/tokens", ManageAgents),
    ("GET", "/v1/agents", ViewAgents),
    ("GET", "/v1/agents/{id}", ViewAgents),
    ("POST", "/v1/agents/{id}/revoke", ManageAgents),
    ("POST", "/v1/queries", ManageCollections),
    ("GET", "/v1/queries", ViewCollections),
    ("GET", "/v1/queries/{id}", ViewCollections),
    ("GET", "/v1/queries/{id}/{version}", ViewCollections),
    ("POST", "/v1/collections", ManageCollections),
    ("GET", "/v1/collections", ViewCollections),
    ("GET", "/v1/collections/{id}", ViewCollections),
    ("PUT", "/v1/collections/{id}", ManageCollections),
    ("GET", "/v1/collections/{id}/versions", ViewCollections),
    ("GET", "/v1/organisations", ViewCollections),
    ("GET", "/v1/organisations/{code}", ViewCollections),
    ("POST", "/v1/organisations/{code}", ManageRegistry),
    ("POST", "/v1/collections/{id}/run", OperateRuns),
    ("POST", "/v1/collections/{id}/dry-run", OperateRuns),
    ("POST", "/v1/collections/{id}/adhoc", RequestAdhoc),
    ("POST", "/v1/runs/{id}/delete", OperateRuns),
    ("POST", "/v1/runs/{id}/declarations", Declare),
    ("GET", "/v1/declarations", ViewDeclarations),
    ("GET", "/v1/runs/{id}/payments", ViewDeclarations),
    ("GET", "/v1/runs/{id}/manual", ViewDeclarations),
    ("POST", "/v1/runs/{id}/manual", Declare),
    ("POST", "/v1/declarations/{id}/approve", ApproveDeclarations),
    ("POST", "/v1/declarations/{id}/reject", ApproveDeclarations),
    ("POST", "/v1/collections/{id}/activate", ManageCollections),
    ("POST", "/v1/collections/{id}/pause", ManageCollections),
    ("POST", "/v1/collections/{id}/retire", ManageCollections),
    ("GET", "/v1/timetable", ViewTimetable),
    ("GET", "/v1/me/feeds", SignedIn),
    ("POST", "/v1/me/feeds", SignedIn),
    ("POST", "/v1/me/feeds/{id}/revoke", SignedIn),
    // The secret in the address is the credential (checked by its hash).
    ("GET", "/feeds/{secret}/timetable.ics", Public),
    ("GET", "/v1/offers", ViewOffers),
    ("GET", "/v1/attention", ViewOffers),
    ("GET", "/v1/collections/{id}/decisions", ViewOffers),
    (
        "POST",
        "/v1/collections/{id}/decisions",
        DecideParticipation,
    ),
    ("GET", "/v1/practices/{code}/preferences", ViewOffers),
    ("POST", "/v1/practices/{code}/preferences", KeepPreferences),
    (
        "POST",
        "/v1/practices/{code}/preferences/{id}/remove",
        KeepPreferences,
    ),
    ("GET", "/v1/runs", ViewRuns),
    ("GET", "/v1/runs/{id}", ViewRuns),
    ("GET", "/v1/runs/{id}/results", ViewResults),
    ("GET", "/v1/runs/{id}/view", ViewResults),
    ("GET", "/v1/runs/{id}/export", ViewResults),
    ("GET", "/v1/runs/{id}/records", DownloadRecords),
    ("POST", "/v1/runs/{id}/cancel", OperateRuns),
    ("POST", "/v1/runs/{id}/retry", OperateRuns),
    ("GET", "/v1/practices", ViewPractices),
    ("POST", "/v1/practices/import", ManageRegistry),
    ("GET", "/v1/practices/{code}", ViewPractices),
    ("POST", "/v1/practices/{code}", ManageRegistry),
    ("GET", "/v1/audit", ViewAudit),
    ("GET", "/v1/audit/verify", ViewAudit),
    ("GET", "/v1/users", ManageUsers),
    ("POST", "/v1/users", ManageUsers),
    ("GET", "/v1/users/{id}", ManageUsers),
    ("POST", "/v1/users/{id}/grants", ManageUsers),
    ("POST", "/v1/users/{id}/grants/remove", ManageUsers),
    ("POST", "/v1/users/{id}/tokens", ManageUsers),
    ("POST", "/v1/users/{id}/disable", ManageUsers),
    ("POST", "/v1/user-tokens/{id}/revoke", ManageUsers),
];

/// The permission a route needs; `None` for a route the table lacks.
pub fn permission(method: &http::Method, path: &str) -> Option<Permission> {
    ROUTES
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && *p == path)
        .map(|(_, _, permission)| *permission)
}

/// The layer on every operator route.
pub async fn authorize(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    match check(&app, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn check(app: &App, req: Request) -> Result<Request, ApiError> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(permission) = permission(req.method(), &path) else {
        tracing::error!(method = %req.method(), %path, "a route with no permission was refused");
        return Err(ApiError::forbidden(format!(
            "{} {path} names no permission; it is refused until it does",
            req.method()
        )));
    };
    if permission == Public {
        return Ok(req);
    }
    let (mut parts, body) = req.into_parts();
    let identity = auth::identify(&parts, app).await?;
    if let Some(slot) = parts.extensions.get::<auth::CallerSlot>() {
        slot.set(&identity.actor);
    }
    // Signing in is all some routes need (who am I), grants or none.
    let grant = match permission {
        SignedIn => "signed-in".to_owned(),
        _ => match grants::allowing(&identity.grants, permission) {
            Some(grant) => grant.label(),
            None => {
                let held: Vec<String> = identity.grants.iter().map(|g| g.label()).collect();
                return Err(ApiError::forbidden(format!(
                    "{} may not {}; their grants: {}",
                    identity.actor,
                    permission.describe(),
                    if held.is_empty() {
                        "none".to_owned()
                    } else {
                        held.join(", ")
                    }
                )));
            }
        },
    };
    let operator = Operator {
        grant,
        actor: identity.actor,
        grants: identity.grants,
        permission,
    };
    parts.extensions.insert(operator);
    Ok(Request::from_parts(parts, body))
}
