//! The JSON body extractor every route uses: `application/json` only
//! (415), a size limit checked against the declared length before
//! anything is read and again while reading (413), a read timeout so a
//! declared but unsent body is released, malformed JSON a 400, and JSON of
//! the wrong shape (unknown or missing fields) a 422.

use super::error::ApiError;
use axum::extract::{FromRequest, Request};
use gpes_protocol::ErrorCode;
use http::StatusCode;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Largest operator request body.
pub const OPERATOR_LIMIT: usize = 2 << 20;
/// Largest agent request body (an uploaded extract).
pub const AGENT_LIMIT: usize = 64 << 20;
/// Largest enrollment body (a CSR), read only once the token checked out.
pub const ENROLL_LIMIT: usize = 16 << 10;
/// Longest a body may take to arrive, unless the listener says otherwise.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The listener's body timeout, carried to the extractor in the request's
/// extensions.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// A JSON body of at most `LIMIT` bytes.
#[derive(Debug)]
pub struct JsonBody<T, const LIMIT: usize = OPERATOR_LIMIT>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S>
    for JsonBody<T, LIMIT>
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        read_json(req, LIMIT).await.map(JsonBody)
    }
}

/// Reads a JSON body of at most `limit` bytes (see the module's rules).
pub async fn read_json<T: DeserializeOwned>(req: Request, limit: usize) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!("the body must be application/json, not '{content_type}'"),
        ));
    }
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("the request body is over {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let timeout = req
        .extensions()
        .get::<BodyTimeout>()
        .map_or(BODY_TIMEOUT, |t| t.0);
    let read = axum::body::to_bytes(req.into_body(), limit);
    let bytes = match tokio::time::timeout(timeout, read).await {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::Timeout,
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs()
                ),
            ));
        }
        Ok(Err(e)) => {
            let length_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if length_limit || e.to_string().contains("length limit") {
                return Err(too_large());
            }
            return Err(ApiError::bad_request(format!(
                "could not read the request body: {e}"
            )));
        }
        Ok(Ok(b)) => b,
    };
    // The path of what did not fit is named (`ttl_days`, `practices[2]`),
    // as serde's own message gives only a line and column.
    let mut reader = serde_json::Deserializer::from_slice(&bytes);
    let value: T = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        use serde_json::error::Category;
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at {path}")
        };
        match inner.classify() {
            Category::Data => ApiError::unprocessable(format!(
                "the request body is not what was expected{at}: {inner}"
            )),
            _ => ApiError::bad_request(format!("the request body is not valid JSON: {inner}")),
        }
    })?;
    reader
        .end()
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}
