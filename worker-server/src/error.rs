//! Typed errors and the guarantee that every 4xx/5xx body is JSON.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use thiserror::Error;

/// Errors a handler of this service can return.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("metrics could not be encoded: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFoundMsg(String),
    #[error("{0}")]
    Conflict(String),
    #[error("job queue is full, retry in {0} s")]
    QueueFull(u64),
    #[error("shutting down, retry in {0} s")]
    ShuttingDown(u64),
    #[error("chaos fault: injected error {0}")]
    ChaosInjected(StatusCode),
}

impl ApiError {
    /// Stable machine-readable code, so clients need not parse `message`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "not_found",
            ApiError::Metrics(_) => "internal",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFoundMsg(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::QueueFull(_) => "queue_full",
            ApiError::ShuttingDown(_) => "shutting_down",
            ApiError::ChaosInjected(_) => "chaos_injected",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Metrics(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFoundMsg(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::QueueFull(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ShuttingDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ChaosInjected(status) => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // "shutting down" is an expected, safe-to-show state, not an internal detail.
        let message = match self {
            ApiError::ShuttingDown(_) => self.to_string(),
            _ => client_message(status, self),
        };
        let mut res = error_body(status, self.code(), &message);
        if let ApiError::QueueFull(secs) | ApiError::ShuttingDown(secs) = self {
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(*secs),
            );
        }
        res
    }
}

/// 5xx details stay in the logs (the access line carries the error); clients only
/// get the generic reason, never internals.
fn client_message(status: StatusCode, err: &dyn std::fmt::Display) -> String {
    if status.is_server_error() {
        status
            .canonical_reason()
            .unwrap_or("server error")
            .to_ascii_lowercase()
    } else {
        err.to_string()
    }
}

fn error_body(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({"error": code, "message": message, "status": status.as_u16()}))
}

/// Default service for both ports: unknown paths get a JSON 404.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}

/// Safety net for error responses produced outside our handlers (405 from a
/// resource, 400 from an extractor, 413 from the payload limit, ...): they come
/// with a plain-text or empty body, which would break the JSON error contract.
pub fn json_error_bodies<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(ensure_json_body)
}

fn ensure_json_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }

    let status = res.status();
    let (req, original) = res.into_parts();
    let message = match original.error() {
        Some(err) => client_message(status, err),
        None => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    };
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "_");
    let mut replaced = error_body(status, &code, &message);
    // Keep headers such as `Allow` on a 405; body headers come from the new body.
    for (name, value) in original.headers() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            replaced.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, replaced).map_into_right_body(),
    ))
}
