//! One error type for every route, answered as `application/problem+json`
//! (RFC 9457) with the status that fits and a stable `code`.

use crate::domain::Refusal;
use axum::response::{IntoResponse, Response};
use gpes_protocol::{ErrorCode, PROBLEM_JSON, PROTOCOL_VERSION, Problem, VERSION_HEADER};
use http::{HeaderValue, StatusCode};

tokio::task_local! {
    /// The id of the request being served, for error bodies and logs.
    pub static REQUEST_ID: String;
}

/// A refusal or failure, as the client will see it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: String,
}

/// Put on error responses so the refusal log can record the detail.
#[derive(Debug, Clone)]
pub struct LoggedDetail(pub String);

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, detail)
    }
    pub fn unprocessable(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unprocessable,
            detail,
        )
    }
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, detail)
    }
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            detail,
        )
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        let (status, code) = match &r {
            Refusal::UnknownToken | Refusal::TokenUsed | Refusal::TokenExpired => {
                (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
            }
            Refusal::NotYourPractice { .. }
            | Refusal::NotYourJob { .. }
            | Refusal::UnknownAgent(_)
            | Refusal::Revoked(_)
            | Refusal::NotAllowed(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Refusal::UnknownJob(_)
            | Refusal::UnknownCollection(_)
            | Refusal::UnknownOrganisation(_)
            | Refusal::UnknownDeclaration(_)
            | Refusal::UnknownRun(_)
            | Refusal::NoSuchAgent(_)
            | Refusal::UnknownPractice(_)
            | Refusal::NoSuchUser(_)
            | Refusal::NoSuchQuery(_)
            | Refusal::NoSuchUserToken(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Refusal::Conflict { .. }
            | Refusal::WrongState { .. }
            | Refusal::AlreadyRevoked(_)
            | Refusal::CollectionState { .. }
            | Refusal::Exists(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Refusal::HashMismatch { .. }
            | Refusal::BadExtract(_)
            | Refusal::WrongExtract(_)
            | Refusal::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Unprocessable),
            Refusal::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
        };
        if matches!(r, Refusal::Store(_)) {
            tracing::error!(error = %r, "store failure");
        }
        ApiError::new(status, code, r.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        let problem = Problem {
            kind: "about:blank".into(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            request_id,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_JSON),
        );
        headers.insert(VERSION_HEADER, HeaderValue::from(PROTOCOL_VERSION));
        response.extensions_mut().insert(LoggedDetail(self.detail));
        response
    }
}
