//! Helpers shared by the unit tests and the integration tests (`tests/`).
//!
//! Compiled only for tests: `cfg(test)` for the unit tests, and the
//! `test-util` feature, which the package's self dev-dependency turns on for
//! every test target (never for `cargo build`).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tracing_subscriber::fmt::MakeWriter;

/// A `MakeWriter` that keeps everything written, for asserting on log lines.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything captured so far, as text.
    pub fn raw(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Every captured line parsed as a JSON object (panics on anything else).
    pub fn lines(&self) -> Vec<Map<String, Value>> {
        self.raw().lines().map(parse_object).collect()
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

/// `line` parsed as a JSON object (panics on anything else).
pub fn parse_object(line: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => map,
        other => panic!("log line is not a JSON object: {line:?} ({other:?})"),
    }
}

/// Value of the sample `name` in Prometheus text exposition `text` whose labels
/// include all of `labels` (label order is not part of the contract).
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
