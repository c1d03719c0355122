//! Request ids: taken from `X-Request-ID` (set by nginx) or generated, echoed
//! back, and attached to every log line of the request through a span.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use tracing::Instrument;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a client; longer ones are replaced, so a caller
/// cannot bloat every log line.
const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// 32 lowercase hex characters, the same shape as nginx's `$request_id`.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string().into())
    }

    /// The incoming id if it is safe to log and echo, otherwise a fresh one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| is_acceptable(v))
            .map(|v| Self(v.into()))
            .unwrap_or_else(Self::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For propagating the id on outgoing calls.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.0).expect("request ids are validated visible ASCII")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b))
}

/// Handlers take `RequestId` as an argument to propagate it on outgoing calls.
impl FromRequest for RequestId {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Without the middleware (e.g. a bare test app) a fresh id is still valid.
        let id = req.extensions().get::<RequestId>().cloned();
        ready(Ok(id.unwrap_or_else(RequestId::generate)))
    }
}

/// Middleware (for `actix_web::middleware::from_fn`): runs the rest of the
/// request inside a span carrying `request_id`, and echoes the id.
///
/// Must be the outermost layer, and echoes the id on errors too: an `Err` from
/// an inner middleware (e.g. the chaos `errors` fault) carries the id with it.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = RequestId::from_headers(req.headers());
    req.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("http_request", request_id = id.as_str());
    let mut res = next
        .call(req)
        .instrument(span)
        .await
        .map_err(|inner| WithRequestId {
            inner,
            id: id.header_value(),
        })?;
    // `insert`, not `append`: exactly one id, whatever an inner layer set.
    res.headers_mut()
        .insert(REQUEST_ID_HEADER, id.header_value());
    Ok(res)
}

/// An `Err` that left the app's middleware chain, with the id to echo. actix
/// builds its response (`ResponseError::error_response`) only after every
/// middleware has run, when the request is gone (and holding a clone of the
/// request across the inner call would break routing), so the id travels with
/// the error. Status, body, `Display` and the other headers stay the inner
/// error's.
#[derive(Debug)]
struct WithRequestId {
    inner: Error,
    id: HeaderValue,
}

impl std::fmt::Display for WithRequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.inner, f)
    }
}

impl ResponseError for WithRequestId {
    fn status_code(&self) -> StatusCode {
        self.inner.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.inner.error_response();
        res.headers_mut().insert(REQUEST_ID_HEADER, self.id.clone());
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn keeps_a_sane_incoming_id() {
        let id = RequestId::from_headers(&headers("3f2a9c0d1e4b5a6978877665544332211"));
        assert_eq!(id.as_str(), "3f2a9c0d1e4b5a6978877665544332211");
    }

    #[test]
    fn replaces_missing_or_unsafe_ids() {
        for bad in ["", "has space", "quote\"", &"a".repeat(129)] {
            let id = RequestId::from_headers(&headers(bad));
            assert_ne!(id.as_str(), bad);
            assert_eq!(id.as_str().len(), 32);
        }
        let generated = RequestId::from_headers(&HeaderMap::new());
        assert!(generated.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(generated, RequestId::generate());
    }
}
