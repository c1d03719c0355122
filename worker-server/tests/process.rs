//! The real binary: startup over real sockets, JSON stdout, SIGTERM -> exit 0,
//! configuration errors, no job lost on SIGTERM, Sentry flushed on SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use worker_server::testing::parse_object;

const BIN: &str = env!("CARGO_BIN_EXE_worker-server");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal HTTP/1.1 GET; returns (status, raw response).
fn get(port: u16, path: &str, request_id: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Request-ID: {request_id}\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, raw))
}

/// The binary, started on two free ports with stdout captured. Killed when
/// dropped, so a failing test leaves no process behind.
struct Proc {
    child: Child,
    app_port: u16,
    ops_port: u16,
}

impl Proc {
    /// Starts the binary with one HTTP worker, error tracking off, the
    /// default Sentry environment and a developer build (no APP_VERSION,
    /// APP_COMMIT), whatever the caller's environment holds, then `env` on top.
    fn spawn(env: &[(&str, &str)]) -> Self {
        let (app_port, ops_port) = (free_port(), free_port());
        let child = Command::new(BIN)
            .env("APP_PORT", app_port.to_string())
            .env("OPS_PORT", ops_port.to_string())
            .env("HTTP_WORKERS", "1")
            .env("SENTRY_DSN", "")
            .env_remove("SENTRY_ENVIRONMENT")
            .env_remove("APP_VERSION")
            .env_remove("APP_COMMIT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Self {
            child,
            app_port,
            ops_port,
        }
    }

    /// Waits (up to 10 s) until the ops port reports UP.
    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match get(self.ops_port, "/health", "probe") {
                Ok((200, _)) => return,
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                other => panic!("ops port never became healthy: {other:?}"),
            }
        }
    }

    fn sigterm(&self) {
        let kill = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
    }

    /// Waits for the exit; returns the status and how long it took.
    fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("did not exit within {limit:?}");
    }

    /// Every stdout line, parsed as a JSON object (after the exit).
    fn stdout_lines(&mut self) -> Vec<Map<String, Value>> {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out.lines().map(parse_object).collect()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Already exited in a passing test; then both are harmless no-ops.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const COMMIT: &str = "6492e4b1c0de8f3a9d2b7c4e5f60718293a4b5c6";

/// The JSON body of a raw HTTP/1.1 response (`Connection: close`, not chunked).
fn json_body(raw: &str) -> Value {
    let (_, body) = raw.split_once("\r\n\r\n").expect("headers end");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

#[test]
fn serves_both_ports_and_exits_zero_on_sigterm() {
    let mut proc = Proc::spawn(&[
        ("LOG_LEVEL", "info"),
        ("APP_VERSION", "6492e4b1c0de-dirty"),
        ("APP_COMMIT", COMMIT),
    ]);
    proc.wait_healthy();
    let (app_port, ops_port) = (proc.app_port, proc.ops_port);
    let (status, raw) = get(app_port, "/health", "proc-test-1").unwrap();
    assert_eq!(status, 200, "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("x-request-id: proc-test-1"),
        "{raw}"
    );
    let build = serde_json::json!({"status": "UP", "service": "worker-server",
        "version": "6492e4b1c0de-dirty", "commit": COMMIT});
    assert_eq!(json_body(&raw), build);
    let (_, raw) = get(ops_port, "/health", "probe").unwrap();
    assert_eq!(json_body(&raw), build);
    let (status, raw) = get(ops_port, "/metrics", "scrape").unwrap();
    assert_eq!(status, 200);
    assert!(raw.contains(r#"route="/health""#), "{raw}");
    let info = format!(
        r#"build_info{{commit="{COMMIT}",version="6492e4b1c0de-dirty",service="worker-server"}} 1"#
    );
    assert!(raw.lines().any(|l| l == info), "{raw}");

    proc.sigterm();
    let (exit, took) = proc.wait_exit(Duration::from_secs(12));
    assert!(exit.success(), "exit status {exit:?}");
    assert!(took < Duration::from_secs(11), "shutdown took {took:?}");
    assert!(TcpStream::connect(("127.0.0.1", app_port)).is_err());

    let lines = proc.stdout_lines();
    for line in &lines {
        for key in ["ts", "level", "service", "msg"] {
            assert!(line.contains_key(key), "{key} missing in {line:?}");
        }
        assert_eq!(line["service"], "worker-server");
        assert_eq!(line["version"], "6492e4b1c0de-dirty", "{line:?}");
    }
    let msgs: Vec<&str> = lines.iter().filter_map(|l| l["msg"].as_str()).collect();
    let started = lines
        .iter()
        .find(|l| l["msg"] == "worker-server started")
        .unwrap_or_else(|| panic!("no started line in {msgs:?}"));
    assert_eq!(started["level"], "info");
    assert_eq!(started["commit"], COMMIT);
    let access = lines
        .iter()
        .find(|l| l["msg"] == "request completed")
        .expect("access line");
    assert_eq!(access["request_id"], "proc-test-1");
    assert_eq!(access["path"], "/health");
    let signal = lines
        .iter()
        .find(|l| l["msg"] == "shutdown signal received, draining in-flight requests")
        .expect("signal line");
    assert_eq!(signal["signal"], "SIGTERM");
    assert_eq!(msgs.last(), Some(&"shutdown complete"));
}

/// Even the configuration error names the build (APP_VERSION cannot be invalid).
#[test]
fn invalid_configuration_exits_2_with_a_json_error_line() {
    for (build, version) in [(None, "dev"), (Some("6492e4b1c0de"), "6492e4b1c0de")] {
        let mut env = vec![("OPS_PORT", "not-a-port")];
        env.extend(build.map(|v| ("APP_VERSION", v)));
        let mut proc = Proc::spawn(&env);
        let (exit, _) = proc.wait_exit(Duration::from_secs(5));
        assert_eq!(exit.code(), Some(2));
        let lines = proc.stdout_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["level"], "error");
        assert_eq!(lines[0]["msg"], "invalid configuration");
        assert_eq!(lines[0]["version"], version);
        assert!(lines[0]["error"].as_str().unwrap().contains("OPS_PORT"));
    }
}

/// SIGTERM with jobs queued and running: intake stops at once (health DOWN, a
/// new dispatch is not accepted), and within the grace period every accepted
/// job either has its result at core or is logged as handed back. None is lost.
#[actix_web::test]
async fn sigterm_loses_no_job() {
    use worker_server::testing::{
        CoreStub, ExtApiStub, assert_none_lost, job_id, post_job, quote_job,
    };

    let (ext, core) = (ExtApiStub::start(), CoreStub::start());
    ext.delay_ms.store(200, std::sync::atomic::Ordering::SeqCst);
    let ext_url = ext.url();
    let mut proc = Proc::spawn(&[
        ("EXT_API_URL", ext_url.as_str()),
        ("JOB_WORKERS", "2"),
        ("SHUTDOWN_GRACE_SECONDS", "1"),
    ]);
    proc.wait_healthy();
    let app = format!("http://127.0.0.1:{}", proc.app_port);
    let mut accepted = Vec::new();
    for _ in 0..30 {
        let id = job_id();
        let (status, _, body) = post_job(&app, &quote_job(&id, &core.callback_url(&id))).await;
        assert_eq!(status, 202, "{body}");
        accepted.push(id);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    proc.sigterm();

    // Draining (the grace is 1 s): the ops port reports DOWN, and a new
    // dispatch is refused (503) or finds the app port closed; never accepted.
    let deadline = Instant::now() + Duration::from_millis(800);
    let down = loop {
        let (status, raw) = get(proc.ops_port, "/health", "drain-probe").unwrap();
        if status == 503 || Instant::now() > deadline {
            break raw;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(down.contains(r#""reason":"shutting down""#), "{down}");
    let late = job_id();
    let refused = reqwest::Client::new()
        .post(format!("{app}/internal/jobs"))
        .body(quote_job(&late, &core.callback_url(&late)))
        .send()
        .await;
    if let Ok(res) = refused {
        assert_eq!(res.status(), 503, "a dispatch after SIGTERM");
        assert!(res.headers().contains_key("retry-after"));
    }

    let (exit, took) = proc.wait_exit(Duration::from_secs(5));
    assert!(exit.success(), "{exit:?}");
    assert!(
        took < Duration::from_secs(3),
        "grace 1 s, stopped after {took:?}"
    );
    let lines = proc.stdout_lines();
    let handed_back: Vec<&str> = lines
        .iter()
        .filter(|l| l["msg"] == "job handed back to core (not finished before shutdown)")
        .filter_map(|l| l["job_id"].as_str())
        .collect();
    let done = accepted.iter().filter(|id| core.count(id) == 1).count();
    assert!(
        done >= 2 && !handed_back.is_empty(),
        "done {done}, handed back {}",
        handed_back.len()
    );
    assert_none_lost(&accepted, &core, &handed_back);
    assert!(!handed_back.contains(&late.as_str()) && core.count(&late) == 0);
    let stopped = lines
        .iter()
        .find(|l| l["msg"] == "job pool stopped")
        .expect("pool stopped line");
    assert_eq!(stopped["handed_back"], handed_back.len());
}

/// The real binary with `SENTRY_DSN`: a 5xx (chaos `errors`) right before
/// SIGTERM still reaches the receiver (flushed on shutdown), with the tags,
/// the default environment, a developer build's release and log lines as
/// breadcrumbs.
#[actix_web::test]
async fn sentry_event_from_the_binary_is_flushed_on_sigterm() {
    use worker_server::testing::SentryReceiver;

    let sink = SentryReceiver::start();
    let dsn = sink.dsn(2);
    let mut proc = Proc::spawn(&[("SENTRY_DSN", dsn.as_str())]);
    proc.wait_healthy();
    let (app_port, ops_port) = (proc.app_port, proc.ops_port);
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{ops_port}/internal/chaos/errors"))
        .body(r#"{"duration_seconds": 30, "status": 503}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (status, raw) = get(app_port, "/health", "proc-sentry-1").unwrap();
    assert_eq!(status, 503, "{raw}");
    let (status, _) = get(app_port, "/nope", "proc-sentry-404").unwrap();
    assert_eq!(status, 503, "the fault covers every app-port request");

    proc.sigterm();
    let (exit, _) = proc.wait_exit(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
    let lines = proc.stdout_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "error tracking enabled (Sentry)"
                && l["environment"] == "lab"
                && l["release"] == "worker-server@dev"),
        "{lines:?}"
    );
    // No APP_VERSION/APP_COMMIT: a developer build.
    let started = lines
        .iter()
        .find(|l| l["msg"] == "worker-server started")
        .expect("started line");
    assert_eq!(
        (&started["version"], &started["commit"]),
        (&Value::from("dev"), &Value::from("unknown"))
    );

    let events = sink.events();
    let event = events
        .iter()
        .map(|(_, e)| e)
        .find(|e| e["tags"]["request_id"] == "proc-sentry-1")
        .unwrap_or_else(|| panic!("no event for the 503 in {events:?}"));
    assert_eq!(event["exception"]["values"][0]["type"], "ChaosInjected");
    assert_eq!(
        event["exception"]["values"][0]["value"],
        "chaos fault: injected error 503 Service Unavailable"
    );
    assert_eq!(event["tags"]["service"], "worker-server");
    assert_eq!(event["environment"], "lab");
    assert_eq!(event["release"], "worker-server@dev");
    let crumbs = event["breadcrumbs"]["values"]
        .as_array()
        .expect("breadcrumbs");
    assert!(
        crumbs
            .iter()
            .any(|b| b["message"] == "worker-server started"),
        "{crumbs:?}"
    );
    assert_eq!(events.len(), 2, "one per 5xx request: {events:?}");
}

/// The defaults finish within the lab's `stop_grace_period` for this service:
/// request drain and job grace both count from the signal, then the Sentry
/// flush; docker kills the container only after all of that.
#[test]
fn default_grace_fits_in_the_compose_stop_grace_period() {
    use worker_server::config::Config;
    use worker_server::server::SHUTDOWN_TIMEOUT_SECS;
    use worker_server::telemetry::error_tracking::FLUSH_TIMEOUT;

    let compose = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let text = std::fs::read_to_string(compose).unwrap();
    let service = text
        .split_once("\n  worker-server:\n")
        .map(|(_, rest)| rest)
        .expect("worker-server service");
    // Its own keys are indented deeper than the next service's name.
    let block: Vec<&str> = service
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .collect();
    let value = |key: &str| {
        block
            .iter()
            .find_map(|l| l.trim().strip_prefix(key).map(str::trim))
    };
    let stop_grace = value("stop_grace_period:")
        .map(|v| humantime::parse_duration(v).unwrap())
        .expect("stop_grace_period of worker-server");
    // The lab's grace: the default unless compose sets one.
    let grace = Config::from_lookup(|name| {
        (name == "SHUTDOWN_GRACE_SECONDS")
            .then(|| value("SHUTDOWN_GRACE_SECONDS:").map(str::to_owned))
            .flatten()
    })
    .unwrap()
    .shutdown_grace;
    assert!(Duration::from_secs(SHUTDOWN_TIMEOUT_SECS) <= grace);
    assert!(
        grace + FLUSH_TIMEOUT < stop_grace,
        "grace {grace:?} + Sentry flush {FLUSH_TIMEOUT:?} must end before docker's {stop_grace:?}"
    );
}
