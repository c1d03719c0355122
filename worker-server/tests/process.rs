//! The real binary: startup over real sockets, JSON stdout, SIGTERM -> exit 0,
//! configuration errors. Uses only std (no HTTP client dependency).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

fn wait_exit(child: &mut Child, limit: Duration) -> Option<(ExitStatus, Duration)> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn stdout_lines(child: &mut Child) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out.lines().map(parse_object).collect()
}

#[test]
fn serves_both_ports_and_exits_zero_on_sigterm() {
    let (app_port, ops_port) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .env("APP_PORT", app_port.to_string())
        .env("OPS_PORT", ops_port.to_string())
        .env("LOG_LEVEL", "info")
        .env("HTTP_WORKERS", "1")
        // Empty: error tracking off (the caller's environment may hold a DSN).
        .env("SENTRY_DSN", "")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(ops_port, "/health", "probe") {
            Ok((200, _)) => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => {
                let _ = child.kill();
                panic!("ops port never became healthy: {other:?}");
            }
        }
    }
    let (status, raw) = get(app_port, "/health", "proc-test-1").unwrap();
    assert_eq!(status, 200, "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("x-request-id: proc-test-1"),
        "{raw}"
    );
    let (status, raw) = get(ops_port, "/metrics", "scrape").unwrap();
    assert_eq!(status, 200);
    assert!(raw.contains(r#"route="/health""#), "{raw}");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let Some((exit, took)) = wait_exit(&mut child, Duration::from_secs(12)) else {
        let _ = child.kill();
        panic!("did not exit within 12 s of SIGTERM");
    };
    assert!(exit.success(), "exit status {exit:?}");
    assert!(took < Duration::from_secs(11), "shutdown took {took:?}");
    assert!(TcpStream::connect(("127.0.0.1", app_port)).is_err());

    let lines = stdout_lines(&mut child);
    for line in &lines {
        for key in ["ts", "level", "service", "msg"] {
            assert!(line.contains_key(key), "{key} missing in {line:?}");
        }
        assert_eq!(line["service"], "worker-server");
    }
    let msgs: Vec<&str> = lines.iter().filter_map(|l| l["msg"].as_str()).collect();
    assert!(msgs.contains(&"worker-server started"), "{msgs:?}");
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

#[test]
fn invalid_configuration_exits_2_with_a_json_error_line() {
    let mut child = Command::new(BIN)
        .env("OPS_PORT", "not-a-port")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (exit, _) = wait_exit(&mut child, Duration::from_secs(5)).expect("exits");
    assert_eq!(exit.code(), Some(2));
    let lines = stdout_lines(&mut child);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "error");
    assert_eq!(lines[0]["msg"], "invalid configuration");
    assert!(lines[0]["error"].as_str().unwrap().contains("OPS_PORT"));
}

/// SIGTERM with jobs queued and running: within the grace period every accepted
/// job either has its result at core or is logged as handed back. None is lost.
#[actix_web::test]
async fn sigterm_loses_no_job() {
    use worker_server::testing::{CoreStub, ExtApiStub, job_id};

    let (ext, core) = (ExtApiStub::start(), CoreStub::start());
    ext.delay_ms.store(200, std::sync::atomic::Ordering::SeqCst);
    let (app_port, ops_port) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .env("APP_PORT", app_port.to_string())
        .env("OPS_PORT", ops_port.to_string())
        .env("HTTP_WORKERS", "1")
        .env("EXT_API_URL", ext.url())
        .env("JOB_WORKERS", "2")
        .env("SHUTDOWN_GRACE_SECONDS", "1")
        .env("SENTRY_DSN", "")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while get(ops_port, "/health", "probe").map(|r| r.0).unwrap_or(0) != 200 {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("worker did not become healthy");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let http = reqwest::Client::new();
    let mut accepted = Vec::new();
    for _ in 0..30 {
        let id = job_id();
        let body = serde_json::json!({"job_id": id, "type": "quote", "payload": {"n": 1},
            "callback_url": core.callback_url(&id)});
        let res = http
            .post(format!("http://127.0.0.1:{app_port}/internal/jobs"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        accepted.push(id);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let begin = Instant::now();
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if begin.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("not stopped within 5 s of SIGTERM (grace 1 s)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");
    let lines = stdout_lines(&mut child);
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
    for id in &accepted {
        let is_done = core.count(id) == 1;
        let is_back = handed_back.contains(&id.as_str());
        // Both is possible (a result PUT in flight when the grace ran out) and
        // harmless: core keeps the first terminal result. Neither would be a loss.
        assert!(is_done || is_back, "job {id} lost");
        assert!(core.count(id) <= 1, "job {id} reported twice");
    }
    let stopped = lines
        .iter()
        .find(|l| l["msg"] == "job pool stopped")
        .expect("pool stopped line");
    assert_eq!(stopped["handed_back"], handed_back.len());
}

/// The real binary with `SENTRY_DSN`: a 5xx (chaos `errors`) right before
/// SIGTERM still reaches the receiver (flushed on shutdown), with the tags,
/// the default environment, the release and log lines as breadcrumbs.
#[actix_web::test]
async fn sentry_event_from_the_binary_is_flushed_on_sigterm() {
    use worker_server::testing::SentryReceiver;

    let sink = SentryReceiver::start();
    let (app_port, ops_port) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .env("APP_PORT", app_port.to_string())
        .env("OPS_PORT", ops_port.to_string())
        .env("HTTP_WORKERS", "1")
        .env("SENTRY_DSN", sink.dsn(2))
        .env_remove("SENTRY_ENVIRONMENT")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while get(ops_port, "/health", "probe").map(|r| r.0).unwrap_or(0) != 200 {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("worker did not become healthy");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let http = reqwest::Client::new();
    let res = http
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

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let begin = Instant::now();
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if begin.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("not stopped within 10 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");
    let lines = stdout_lines(&mut child);
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "error tracking enabled (Sentry)" && l["environment"] == "lab"),
        "{lines:?}"
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
    assert_eq!(
        event["release"],
        concat!("worker-server@", env!("CARGO_PKG_VERSION"))
    );
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
