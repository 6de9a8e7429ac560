//! Small HTTP helpers shared by both listeners: JSON bodies with a size
//! limit, the protocol version header, and error responses.

use bytes::Bytes;
use gpes_protocol::{ErrorBody, ErrorCode, PROTOCOL_VERSION, VERSION_HEADER, check_version};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub type Body = Full<Bytes>;

/// An error answer: status, stable code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
    }
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(VERSION_HEADER, PROTOCOL_VERSION.to_string())
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

pub fn error(e: ApiError) -> Response<Body> {
    json(
        e.status,
        &ErrorBody {
            error: e.code,
            message: e.message,
        },
    )
}

/// Checks the caller's protocol version header.
pub fn check_request_version<B>(req: &http::Request<B>) -> Result<(), ApiError> {
    let theirs = req
        .headers()
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    check_version(theirs).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::VersionMismatch,
            e.to_string(),
        )
    })
}

/// Reads a JSON body of at most `limit` bytes.
pub async fn read_json<T: DeserializeOwned>(body: Incoming, limit: usize) -> Result<T, ApiError> {
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::TooLarge,
                    format!("the request body is over {limit} bytes"),
                )
            } else {
                ApiError::bad_request(format!("could not read the request body: {e}"))
            }
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not what was expected: {e}"))
    })
}
