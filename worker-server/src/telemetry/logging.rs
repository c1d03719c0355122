//! JSON log lines in the exact shape of the infra-lab log contract.
//!
//! `tracing-subscriber`'s JSON formatter (and crates like `json-subscriber`) name
//! things `timestamp`/`message`, use upper-case levels or nest span fields, so a
//! small layer writes the contract directly:
//! `{"ts","level","service","version","msg","target", <span fields>, <event fields>}`
//! with span fields (e.g. `request_id` from the request span) and event fields
//! flattened at the top level.

use std::fmt;
use std::io::Write;
use std::time::SystemTime;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Keys the layer writes itself; fields with these names are renamed with a
/// `field_` prefix instead of silently overwriting the envelope.
const RESERVED: [&str; 6] = ["ts", "level", "service", "version", "msg", "target"];

/// Fields recorded so far, in the order they were recorded.
#[derive(Debug, Default, Clone)]
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn set(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

/// Collects field values as JSON; `message` is kept apart because it becomes `msg`.
#[derive(Default)]
struct JsonVisitor {
    message: Option<String>,
    fields: Fields,
}

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else if name.starts_with("log.") {
            // tracing-log adds the original record's location; only the target is kept,
            // and it replaces the generic `log` target below.
            if name == "log.target" {
                self.fields.set(name, value);
            }
        } else if RESERVED.contains(&name) {
            self.fields.set(&format!("field_{name}"), value);
        } else {
            self.fields.set(name, value);
        }
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN/inf are not JSON numbers; fall back to their text.
        let v = serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.to_string()));
        self.put(field, v);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` and `format_args!` both arrive here; their Debug is the display text.
        self.put(field, Value::String(format!("{value:?}")));
    }
}

/// A `tracing` layer writing one contract-shaped JSON object per line.
pub struct JsonLogLayer<W> {
    service: &'static str,
    /// `APP_VERSION` (see `config::BuildInfo`), on every line.
    version: String,
    make_writer: W,
}

impl<W> JsonLogLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    pub fn new(service: &'static str, version: &str, make_writer: W) -> Self {
        Self {
            service,
            version: version.to_owned(),
            make_writer,
        }
    }
}

/// The contract's lowercase level names; tracing's TRACE (not selectable via
/// LOG_LEVEL, but possible in dependencies' code) is folded into `debug`.
pub fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        _ => "debug",
    }
}

/// RFC 3339, UTC, millisecond precision, e.g. `2026-11-26T05:40:01.123Z`.
pub fn timestamp(now: SystemTime) -> String {
    humantime::format_rfc3339_millis(now).to_string()
}

impl<S, W> Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = JsonVisitor::default();
        attrs.record(&mut visitor);
        span.extensions_mut().insert(visitor.fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = JsonVisitor::default();
        values.record(&mut visitor);
        let mut ext = span.extensions_mut();
        match ext.get_mut::<Fields>() {
            Some(fields) => {
                for (k, v) in visitor.fields.0 {
                    fields.set(&k, v);
                }
            }
            None => ext.insert(visitor.fields),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);

        // Span fields first (outermost first), event fields override them.
        let mut fields = Fields::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<Fields>() {
                    for (k, v) in &span_fields.0 {
                        fields.set(k, v.clone());
                    }
                }
            }
        }
        let mut target = meta.target().to_owned();
        for (k, v) in visitor.fields.0 {
            if k == "log.target" {
                if let Value::String(t) = v {
                    target = t;
                }
            } else {
                fields.set(&k, v);
            }
        }

        // Written by hand rather than through a map so the envelope keys come
        // first, in contract order, which keeps raw `docker logs` readable.
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(b"{\"ts\":");
        write_json(&mut buf, &timestamp(SystemTime::now()));
        buf.extend_from_slice(b",\"level\":");
        write_json(&mut buf, level_name(meta.level()));
        buf.extend_from_slice(b",\"service\":");
        write_json(&mut buf, self.service);
        buf.extend_from_slice(b",\"version\":");
        write_json(&mut buf, &self.version);
        buf.extend_from_slice(b",\"msg\":");
        write_json(&mut buf, visitor.message.as_deref().unwrap_or(""));
        buf.extend_from_slice(b",\"target\":");
        write_json(&mut buf, &target);
        for (key, value) in &fields.0 {
            buf.push(b',');
            write_json(&mut buf, key);
            buf.push(b':');
            write_json(&mut buf, value);
        }
        buf.extend_from_slice(b"}\n");
        // One write per line keeps lines whole when several threads log at once.
        // A failed stdout write has nowhere better to be reported.
        let _ = self.make_writer.make_writer_for(meta).write_all(&buf);
    }
}

fn write_json<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    // Serializing strings and `Value`s into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, value);
}

/// Events at or above `level`. Spans pass down to `info` whatever the level, so
/// that an event from a request (even a `warn` when LOG_LEVEL=warn) still finds
/// its request span and carries `request_id`.
pub fn level_filter(level: LevelFilter) -> FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    let span_level = std::cmp::max(level, LevelFilter::INFO);
    FilterFn::new(move |meta| {
        let max = if meta.is_span() { span_level } else { level };
        max >= *meta.level()
    })
    .with_max_level_hint(span_level)
}

/// Builds the subscriber used by the binary (and by tests with their own writer);
/// `version` is the build's (`BuildInfo::version`).
pub fn subscriber<W>(
    level: LevelFilter,
    version: &str,
    make_writer: W,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(
        JsonLogLayer::new(crate::SERVICE_NAME, version, make_writer)
            .with_filter(level_filter(level)),
    )
}

/// Installs the JSON subscriber on stdout as the global default and routes the
/// `log` crate (used by parts of actix-web) into it. With `error_tracking`, log
/// lines also become Sentry breadcrumbs.
pub fn init(level: LevelFilter, version: &str, error_tracking: bool) {
    let _ = tracing_log::LogTracer::init_with_filter(match level {
        LevelFilter::ERROR => tracing_log::log::LevelFilter::Error,
        LevelFilter::WARN => tracing_log::log::LevelFilter::Warn,
        LevelFilter::INFO => tracing_log::log::LevelFilter::Info,
        _ => tracing_log::log::LevelFilter::Debug,
    });
    let breadcrumbs = error_tracking.then(super::error_tracking::tracing_layer);
    let _ = tracing::subscriber::set_global_default(
        subscriber(level, version, std::io::stdout).with(breadcrumbs),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Capture;
    use serde_json::{Map, Value};

    const VERSION: &str = "6492e4b1c0de-dirty";

    /// Runs `f` with the contract subscriber and returns the raw output and the
    /// parsed lines (each must be one JSON object).
    fn capture(level: LevelFilter, f: impl FnOnce()) -> (String, Vec<Map<String, Value>>) {
        let out = Capture::default();
        tracing::subscriber::with_default(subscriber(level, VERSION, out.clone()), f);
        (out.raw(), out.lines())
    }

    fn keys(line: &Map<String, Value>) -> Vec<&str> {
        line.keys().map(String::as_str).collect()
    }

    #[test]
    fn line_has_exact_contract_fields_flattened() {
        let (raw, lines) = capture(LevelFilter::INFO, || {
            let span = tracing::info_span!("http_request", request_id = "rid-42");
            let _entered = span.enter();
            tracing::warn!(
                job_id = 7u64,
                ok = true,
                ratio = 0.5,
                path = "/x",
                "job {} slow",
                "a"
            );
        });
        assert_eq!(lines.len(), 1, "{raw}");
        let line = &lines[0];
        // serde_json keeps maps sorted, so check order on the raw text.
        assert!(raw.starts_with(r#"{"ts":""#), "{raw}");
        assert!(raw.contains(
            r#"","level":"warn","service":"worker-server","version":"6492e4b1c0de-dirty","msg":"job a slow","target":"#
        ));
        let mut got = keys(line);
        got.sort_unstable();
        assert_eq!(
            got,
            [
                "job_id",
                "level",
                "msg",
                "ok",
                "path",
                "ratio",
                "request_id",
                "service",
                "target",
                "ts",
                "version"
            ]
        );
        assert_eq!(line["level"], "warn");
        assert_eq!(line["service"], "worker-server");
        assert_eq!(line["version"], VERSION);
        assert_eq!(line["msg"], "job a slow");
        assert_eq!(line["request_id"], "rid-42");
        assert_eq!(line["job_id"], 7);
        assert_eq!(line["ok"], true);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["path"], "/x");
        assert!(line.get("fields").is_none() && line.get("span").is_none());

        let ts = line["ts"].as_str().unwrap();
        assert_eq!(ts.len(), "2026-11-26T05:40:01.123Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
        humantime::parse_rfc3339(ts).expect("RFC 3339");
    }

    #[test]
    fn no_request_id_outside_a_request_and_reserved_names_are_kept_apart() {
        let (_, lines) = capture(LevelFilter::INFO, || {
            tracing::info!(
                msg = "shadow",
                level = 3,
                version = "1.0",
                "real \"quoted\"\nmessage"
            );
        });
        let line = &lines[0];
        assert!(!line.contains_key("request_id"));
        assert_eq!(line["msg"], "real \"quoted\"\nmessage");
        assert_eq!(line["level"], "info");
        assert_eq!(line["field_msg"], "shadow");
        assert_eq!(line["field_level"], 3);
        assert_eq!(line["version"], VERSION);
        assert_eq!(line["field_version"], "1.0");
    }

    /// The build's version is free text: whatever it holds, every line stays
    /// one JSON object carrying it unchanged.
    #[test]
    fn every_line_carries_the_version_whatever_its_text() {
        for version in ["dev", VERSION, "v\"1\",\"msg\":\"x\"}\n{", "a\\b\u{0}ü"] {
            let out = Capture::default();
            let sub = subscriber(LevelFilter::INFO, version, out.clone());
            tracing::subscriber::with_default(sub, || {
                tracing::info!("one");
                tracing::error!(error = "boom", "two");
            });
            let lines = out.lines();
            assert_eq!(lines.len(), 2, "{}", out.raw());
            for line in &lines {
                assert_eq!(line["version"], version, "{line:?}");
                assert_eq!(line["service"], "worker-server");
            }
            assert_eq!(lines[0]["msg"], "one");
        }
    }

    #[test]
    fn level_filter_applies_to_events_but_request_span_survives() {
        let (_, lines) = capture(LevelFilter::WARN, || {
            let span = tracing::info_span!("http_request", request_id = "rid-1");
            let _entered = span.enter();
            tracing::debug!("hidden debug");
            tracing::info!("hidden info");
            tracing::error!("shown");
        });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["level"], "error");
        assert_eq!(lines[0]["request_id"], "rid-1");

        let (_, lines) = capture(LevelFilter::DEBUG, || tracing::debug!("shown"));
        assert_eq!(lines[0]["level"], "debug");
    }

    #[test]
    fn late_recorded_span_fields_and_inner_spans_override_outer() {
        let (_, lines) = capture(LevelFilter::INFO, || {
            let outer =
                tracing::info_span!("outer", request_id = "outer", job = tracing::field::Empty);
            let _o = outer.enter();
            outer.record("job", "j1");
            let inner = tracing::info_span!("inner", request_id = "inner");
            let _i = inner.enter();
            tracing::info!("x");
        });
        assert_eq!(lines[0]["request_id"], "inner");
        assert_eq!(lines[0]["job"], "j1");
    }
}
