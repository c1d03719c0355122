//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};
use tracing_subscriber::fmt::MakeWriter;

/// A `MakeWriter` that keeps everything written, for asserting on log lines.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Every captured line parsed as a JSON object (panics on anything else).
    pub fn lines(&self) -> Vec<Map<String, Value>> {
        let raw = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        raw.lines().map(parse_object).collect()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

pub fn parse_object(line: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => map,
        other => panic!("log line is not a JSON object: {line:?} ({other:?})"),
    }
}

/// Value of the sample `name` whose labels include all of `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            let pairs = rest.strip_suffix('}')?;
            let matches = metric == name
                && labels
                    .iter()
                    .all(|(k, v)| pairs.split(',').any(|p| p == format!("{k}=\"{v}\"")));
            matches.then(|| value.parse().ok()).flatten()
        })
}

/// The log capture of this test binary, installed as the *global* subscriber on
/// first use. Every test calls this before doing anything: `tracing` caches
/// per-callsite interest, and a callsite first hit by a parallel test before a
/// thread-local (`set_default`) subscriber is registered can stay disabled,
/// which made a thread-local capture flaky. Tests share the capture, so they
/// pick their own lines by request id.
pub fn logs() -> &'static Capture {
    static LOGS: OnceLock<Capture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = worker_server::telemetry::logging::subscriber(
            tracing::level_filters::LevelFilter::INFO,
            capture.clone(),
        );
        tracing::subscriber::set_global_default(subscriber)
            .expect("first and only global subscriber");
        capture
    })
}
