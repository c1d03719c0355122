//! Logs, request ids, metrics and error reports: everything an operator sees of
//! this service.

pub mod error_tracking;
pub mod http_observe;
pub mod logging;
pub mod metrics;
pub mod request_id;
