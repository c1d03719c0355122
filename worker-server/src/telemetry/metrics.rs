//! Prometheus metrics of the service, exposed on the ops port.
//!
//! A registry per `Metrics` value (not the crate's global one) keeps tests
//! independent; `service` is attached to every family, process metrics included,
//! as a registry-wide label.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::Method;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Route label for requests that matched no route, so that scanners hitting
/// random paths cannot create unbounded label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl Metrics {
    pub fn new(service: &str) -> Result<Self, prometheus::Error> {
        let common = HashMap::from([("service".to_owned(), service.to_owned())]);
        let registry = Registry::new_custom(None, Some(common))?;

        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "http_server_requests_total",
                "HTTP requests served on the app port.",
            ),
            &labels,
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_server_request_duration_seconds",
                "Time from receiving an app-port request to producing its response.",
            ),
            &labels,
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;

        // process_cpu_seconds_total, process_resident_memory_bytes, open fds, ...
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        Ok(Self {
            registry,
            requests,
            duration,
        })
    }

    /// Records one finished request. `route` is the matched route pattern
    /// (e.g. `/jobs/{id}`), never the raw path.
    pub fn observe_request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let values = [method_label(method), route, status.as_str()];
        self.requests.with_label_values(&values).inc();
        self.duration
            .with_label_values(&values)
            .observe(elapsed.as_secs_f64());
    }

    /// Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Standard methods keep their name; anything else collapses into one value
/// to bound label cardinality.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sample;

    #[test]
    fn exposition_has_service_label_counter_histogram_and_process_metrics() {
        let m = Metrics::new("worker-server").unwrap();
        m.observe_request(&Method::GET, "/health", 200, Duration::from_millis(3));
        m.observe_request(&Method::GET, "/health", 200, Duration::from_millis(30));
        let text = m.render().unwrap();
        let labels = [
            ("method", "GET"),
            ("route", "/health"),
            ("status", "200"),
            ("service", "worker-server"),
        ];
        assert_eq!(
            sample(&text, "http_server_requests_total", &labels),
            Some(2.0),
            "{text}"
        );
        let bucket = |le| {
            let mut l = labels.to_vec();
            l.push(("le", le));
            sample(&text, "http_server_request_duration_seconds_bucket", &l)
        };
        assert_eq!(bucket("0.005"), Some(1.0), "{text}");
        assert_eq!(bucket("0.05"), Some(2.0), "{text}");
        assert_eq!(
            sample(&text, "http_server_request_duration_seconds_count", &labels),
            Some(2.0)
        );
        if cfg!(target_os = "linux") {
            let service = [("service", "worker-server")];
            let rss = sample(&text, "process_resident_memory_bytes", &service);
            assert!(rss.is_some_and(|v| v > 0.0), "{text}");
            assert!(sample(&text, "process_cpu_seconds_total", &service).is_some());
        }
        // Every sample carries the service label, process metrics included.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains(r#"service="worker-server""#), "{line}");
        }
    }

    #[test]
    fn unusual_methods_share_one_label() {
        let m = Metrics::new("worker-server").unwrap();
        let custom = Method::from_bytes(b"PURGE").unwrap();
        m.observe_request(&custom, UNMATCHED_ROUTE, 404, Duration::ZERO);
        let text = m.render().unwrap();
        let labels = [
            ("method", "OTHER"),
            ("route", "unmatched"),
            ("status", "404"),
        ];
        assert_eq!(
            sample(&text, "http_server_requests_total", &labels),
            Some(1.0),
            "{text}"
        );
    }
}
