//! Logs, request ids and metrics: everything an operator sees of this service.

pub mod http_observe;
pub mod logging;
pub mod metrics;
pub mod request_id;
