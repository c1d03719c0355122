//! Prometheus metrics of the service, exposed on the ops port.
//!
//! A registry per `Metrics` value (not the crate's global one) keeps tests
//! independent; `service` is attached to every family, process metrics included,
//! as a registry-wide label (so `build_info` adds only `version` and `commit`).

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::Method;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::config::BuildInfo;

/// Route label for requests that matched no route, so that scanners hitting
/// random paths cannot create unbounded label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    /// Jobs waiting in the intake queue.
    pub queue_depth: IntGauge,
    pub queue_capacity: IntGauge,
    /// Jobs being processed by the pool (ext-api call or result callback).
    pub jobs_in_flight: IntGauge,
    /// Intake answers by `outcome`: accepted, duplicate, queue_full, shutting_down, invalid.
    pub jobs_received: IntCounterVec,
    /// Finished jobs by `type`, `status` (SUCCEEDED|FAILED) and `error_kind` ("" on success).
    pub jobs_finished: IntCounterVec,
    /// Accept-to-result time by `type` and `status`.
    pub job_duration: HistogramVec,
    /// Jobs given back to core (not finished) on shutdown.
    pub jobs_handed_back: IntCounter,
    /// One ext-api attempt by `outcome`: success, timeout, reset, upstream_5xx,
    /// circuit_open, invalid.
    pub ext_requests: IntCounterVec,
    pub ext_duration: HistogramVec,
    /// 1 for the breaker's current `state` (closed, open, half_open), 0 for the others.
    pub circuit_state: IntGaugeVec,
    /// Result callbacks by `outcome`: delivered, unknown_job, retry, gave_up,
    /// rejected (core refused the body: a contract bug).
    pub callbacks: IntCounterVec,
    /// Chaos contract: `kind` is active (0/1), injections by `kind`.
    pub chaos_active: IntGaugeVec,
    pub chaos_injections: IntCounterVec,
}

/// Buckets for job and ext-api durations: 5 ms .. 30 s.
const JOB_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];

impl Metrics {
    pub fn new(service: &str, build: &BuildInfo) -> Result<Self, prometheus::Error> {
        let common = HashMap::from([("service".to_owned(), service.to_owned())]);
        let registry = Registry::new_custom(None, Some(common))?;

        // The usual `*_info` idiom: constant 1, the build as labels, for joins
        // (`* on(service) group_left(version)`) and "which version runs" panels.
        // Values go through the encoder's escaping, whatever text they hold.
        let build_info = IntGauge::with_opts(
            Opts::new("build_info", "Build of the running process; always 1.")
                .const_label("version", &build.version)
                .const_label("commit", &build.commit),
        )?;
        build_info.set(1);
        registry.register(Box::new(build_info))?;

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

        let queue_depth = IntGauge::new("worker_queue_depth", "Jobs waiting in the intake queue.")?;
        let queue_capacity =
            IntGauge::new("worker_queue_capacity", "Capacity of the intake queue.")?;
        let jobs_in_flight = IntGauge::new(
            "worker_jobs_in_flight",
            "Jobs being processed (external call or result callback).",
        )?;
        let jobs_received = IntCounterVec::new(
            Opts::new(
                "worker_jobs_received_total",
                "Job dispatches by intake outcome.",
            ),
            &["outcome"],
        )?;
        let jobs_finished = IntCounterVec::new(
            Opts::new(
                "worker_jobs_finished_total",
                "Jobs that reached a terminal state.",
            ),
            &["type", "status", "error_kind"],
        )?;
        let job_duration = HistogramVec::new(
            HistogramOpts::new(
                "worker_job_duration_seconds",
                "Time from intake to terminal state (before the result callback).",
            )
            .buckets(JOB_BUCKETS.to_vec()),
            &["type", "status"],
        )?;
        let jobs_handed_back = IntCounter::new(
            "worker_jobs_handed_back_total",
            "Queued or running jobs left to core's re-dispatch at shutdown.",
        )?;
        let ext_requests = IntCounterVec::new(
            Opts::new(
                "ext_api_requests_total",
                "External API attempts by outcome.",
            ),
            &["outcome"],
        )?;
        let ext_duration = HistogramVec::new(
            HistogramOpts::new(
                "ext_api_request_duration_seconds",
                "Duration of one external API attempt, by outcome.",
            )
            .buckets(JOB_BUCKETS.to_vec()),
            &["outcome"],
        )?;
        let circuit_state = IntGaugeVec::new(
            Opts::new(
                "ext_api_circuit_state",
                "Circuit breaker state of the external API (1 for the current state).",
            ),
            &["state"],
        )?;
        let callbacks = IntCounterVec::new(
            Opts::new(
                "worker_result_callbacks_total",
                "Result callback attempts to core-server by outcome.",
            ),
            &["outcome"],
        )?;
        let chaos_active = IntGaugeVec::new(
            Opts::new(
                "chaos_fault_active",
                "Whether a chaos fault of this kind is active.",
            ),
            &["kind"],
        )?;
        let chaos_injections = IntCounterVec::new(
            Opts::new("chaos_injections_total", "Chaos faults injected, by kind."),
            &["kind"],
        )?;
        for c in [
            Box::new(queue_depth.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(queue_capacity.clone()),
            Box::new(jobs_in_flight.clone()),
            Box::new(jobs_received.clone()),
            Box::new(jobs_finished.clone()),
            Box::new(job_duration.clone()),
            Box::new(jobs_handed_back.clone()),
            Box::new(ext_requests.clone()),
            Box::new(ext_duration.clone()),
            Box::new(circuit_state.clone()),
            Box::new(callbacks.clone()),
            Box::new(chaos_active.clone()),
            Box::new(chaos_injections.clone()),
        ] {
            registry.register(c)?;
        }
        // Known label values exist from the start, so rate() and alerts see zeros.
        for outcome in [
            "accepted",
            "duplicate",
            "queue_full",
            "shutting_down",
            "invalid",
        ] {
            jobs_received.with_label_values(&[outcome]);
        }
        for outcome in [
            "success",
            "timeout",
            "reset",
            "upstream_5xx",
            "circuit_open",
            "invalid",
        ] {
            ext_requests.with_label_values(&[outcome]);
        }
        for outcome in ["delivered", "unknown_job", "retry", "gave_up", "rejected"] {
            callbacks.with_label_values(&[outcome]);
        }
        circuit_state.with_label_values(&["closed"]).set(1);
        circuit_state.with_label_values(&["open"]).set(0);
        circuit_state.with_label_values(&["half_open"]).set(0);
        for kind in ["cpu", "memory", "latency", "errors", "disk"] {
            chaos_active.with_label_values(&[kind]).set(0);
            chaos_injections.with_label_values(&[kind]);
        }

        // process_cpu_seconds_total, process_resident_memory_bytes, open fds, ...
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        Ok(Self {
            registry,
            requests,
            duration,
            queue_depth,
            queue_capacity,
            jobs_in_flight,
            jobs_received,
            jobs_finished,
            job_duration,
            jobs_handed_back,
            ext_requests,
            ext_duration,
            circuit_state,
            callbacks,
            chaos_active,
            chaos_injections,
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
        let m = Metrics::new("worker-server", &BuildInfo::default()).unwrap();
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
        let m = Metrics::new("worker-server", &BuildInfo::default()).unwrap();
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

    /// Free text from the build is escaped by the encoder (never breaks the
    /// exposition) and `service` comes once, from the registry.
    #[test]
    fn build_info_lines_are_exact_for_any_value() {
        let build = |version: &str, commit: &str| BuildInfo {
            version: version.to_owned(),
            commit: commit.to_owned(),
        };
        let cases = [
            (
                BuildInfo::default(),
                r#"build_info{commit="unknown",version="dev",service="worker-server"} 1"#,
            ),
            (
                build(
                    "6492e4b1c0de-dirty",
                    "6492e4b1c0de8f3a9d2b7c4e5f60718293a4b5c6",
                ),
                r#"build_info{commit="6492e4b1c0de8f3a9d2b7c4e5f60718293a4b5c6",version="6492e4b1c0de-dirty",service="worker-server"} 1"#,
            ),
            (
                build("v\"1\",x=\"y\"}\n", "a\\b ü"),
                r#"build_info{commit="a\\b ü",version="v\"1\",x=\"y\"}\n",service="worker-server"} 1"#,
            ),
        ];
        for (build, expected) in cases {
            let text = Metrics::new("worker-server", &build)
                .unwrap()
                .render()
                .unwrap();
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("build_info"))
                .collect();
            assert_eq!(lines, [expected], "{text}");
            assert!(text.contains("# TYPE build_info gauge\n"), "{text}");
        }
    }
}
