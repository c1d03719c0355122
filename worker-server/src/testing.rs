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

/// Like [`sample`], but panics (showing `text`) when the sample is missing.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} missing:\n{text}"))
}

/// One scrape of the ops port's `/metrics` (its text exposition); [`Scrape::value`]
/// looks a sample up.
pub struct Scrape(pub String);

impl Scrape {
    /// Value of the sample `name` with (at least) `labels`; panics, showing the
    /// whole scrape, when there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric(&self.0, name, labels)
    }
}

impl std::ops::Deref for Scrape {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `error.message` of a job result (panics, showing it, when there is none).
pub fn error_message(result: &Value) -> &str {
    result["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {result}"))
}

// ---------------------------------------------------------------------------
// Real-socket harness: in-process worker on port 0, stub ext-api and core,
// and a real toxiproxy process. All on 127.0.0.1.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Bytes, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, rt};
use serde_json::json;

use crate::config::Config;
use crate::health::Health;
use crate::jobs::{Jobs, Pool, ShutdownReport, Stage};
use crate::port::State;
use crate::telemetry::metrics::Metrics;
use crate::{SERVICE_NAME, app, ops};

/// Configuration from `vars` only (the process environment is ignored).
pub fn config(vars: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned()).expect("test configuration is valid")
}

/// Serves `factory` on 127.0.0.1:0 with one worker thread; returns its address.
macro_rules! serve {
    ($factory:expr) => {{
        let server = HttpServer::new($factory)
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .expect("bind 127.0.0.1:0");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        rt::spawn(server);
        (addr, handle)
    }};
}

/// The worker's two ports and job pool, in this process, on port 0.
pub struct Worker {
    pub app: String,
    pub ops: String,
    pub state: State,
    pool: Option<Pool>,
    handles: Vec<ServerHandle>,
}

impl Worker {
    pub async fn start(config: Config) -> Self {
        let health = Health::new(config.build.clone());
        let metrics = Data::new(Metrics::new(SERVICE_NAME, &config.build).expect("metrics"));
        let state = State::new(&config, health.clone(), metrics).expect("HTTP clients build");
        let (app_addr, app_handle) = serve!({
            let state = state.clone();
            move || app::PORT.build(state.clone())
        });
        let (ops_addr, ops_handle) = serve!({
            let state = state.clone();
            move || ops::PORT.build(state.clone())
        });
        let pool = state.jobs_arc().start();
        health.set_up();
        Self {
            app: format!("http://{app_addr}"),
            ops: format!("http://{ops_addr}"),
            state,
            pool: Some(pool),
            handles: vec![app_handle, ops_handle],
        }
    }

    pub fn jobs(&self) -> &Jobs {
        &self.state.jobs
    }

    /// Waits (bounded) until the worker has forgotten every job of `ids` (a
    /// re-dispatch would run it again rather than be answered "duplicate").
    pub async fn wait_forgotten(&self, ids: &[String], limit: Duration) {
        let start = Instant::now();
        while let Some(id) = ids.iter().find(|id| self.jobs().state_of(id).is_some()) {
            assert!(
                start.elapsed() < limit,
                "job {id} still known: {:?}",
                self.jobs().state_of(id)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Graceful shutdown as the server does it: intake stops, the pool drains
    /// within `grace`, leftovers are handed back.
    pub async fn shutdown(&mut self, grace: Duration) -> ShutdownReport {
        self.state.health.set_draining();
        let pool = self.pool.take().expect("shut down once");
        let report = self.state.jobs.shutdown(pool, grace).await;
        for h in &self.handles {
            h.stop(false).await;
        }
        report
    }

    /// The ops port's `/metrics`.
    pub async fn metrics(&self) -> Scrape {
        let text = reqwest::get(format!("{}/metrics", self.ops))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("metrics text");
        Scrape(text)
    }

    /// `GET <path>` on the app port with `X-Request-ID: <request_id>`.
    pub async fn get(&self, path: &str, request_id: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}{path}", self.app))
            .header("x-request-id", request_id)
            .send()
            .await
            .expect("app port answers")
    }

    /// `POST /internal/chaos/<kind>` on the ops port with `body`.
    pub async fn inject(&self, kind: &str, body: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/internal/chaos/{kind}", self.ops))
            .body(body.to_owned())
            .send()
            .await
            .expect("ops port answers")
    }

    /// `DELETE /internal/chaos<path>` on the ops port (`""`: every fault,
    /// `"/<kind>"`: one kind).
    pub async fn revert(&self, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .delete(format!("{}/internal/chaos{path}", self.ops))
            .send()
            .await
            .expect("ops port answers")
    }

    /// `GET /internal/chaos` on the ops port, as JSON.
    pub async fn faults(&self) -> Value {
        let res = reqwest::get(format!("{}/internal/chaos", self.ops))
            .await
            .expect("ops port answers");
        serde_json::from_slice(&res.bytes().await.expect("body")).expect("JSON")
    }

    /// POSTs a quote job; returns the HTTP status, `Retry-After` and the body.
    pub async fn dispatch(&self, job_id: &str, callback_url: &str) -> (u16, Option<String>, Value) {
        post_job(&self.app, &quote_job(job_id, callback_url)).await
    }

    /// Dispatches a fresh quote job whose result goes to `core`, asserts it is
    /// accepted, and waits (up to `limit`) for the result `core` receives.
    pub async fn run_job(&self, core: &CoreStub, limit: Duration) -> Value {
        let id = job_id();
        let (status, _, body) = self.dispatch(&id, &core.callback_url(&id)).await;
        assert_eq!(status, 202, "{body}");
        core.wait_result(&id, limit).await
    }

    /// POSTs the dispatch `body` as is; returns the HTTP status, `Retry-After`
    /// and the body (`null` if not JSON).
    pub async fn dispatch_raw(&self, body: &str) -> (u16, Option<String>, Value) {
        post_job(&self.app, body).await
    }

    /// Makes the processing of every job whose `payload.sku` is `sku` panic with
    /// "test-induced bug" (a worker bug; see [`Jobs::set_hook`]).
    pub fn panic_on_sku(&self, sku: &str) {
        self.panic_at(Stage::Process, sku);
    }

    /// Makes every job whose `payload.sku` is `sku` panic after its processing,
    /// while its result is being reported (outside the job's own isolation).
    pub fn panic_on_sku_while_reporting(&self, sku: &str) {
        self.panic_at(Stage::Report, sku);
    }

    fn panic_at(&self, at: Stage, sku: &str) {
        let sku = sku.to_owned();
        self.jobs().set_hook(move |stage, job| {
            if stage == at && job.payload["sku"] == sku.as_str() {
                panic!("test-induced bug");
            }
        });
    }
}

/// The dispatch body of a quote job (the stub ext-api echoes its payload).
pub fn quote_job(job_id: &str, callback_url: &str) -> String {
    job_with_payload(job_id, callback_url, json!({"sku": "A-1", "qty": 2}))
}

/// The dispatch body of a quote job (attempt 1) carrying `payload`.
pub fn job_with_payload(job_id: &str, callback_url: &str, payload: Value) -> String {
    json!({"job_id": job_id, "type": "quote", "payload": payload,
        "attempt": 1, "callback_url": callback_url})
    .to_string()
}

/// The value of header `name` of `req`, if present and visible ASCII.
fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// POSTs a dispatch `body` to the app port at `app` (`http://host:port`);
/// returns the HTTP status, `Retry-After` and the body (`null` if not JSON).
pub async fn post_job(app: &str, body: &str) -> (u16, Option<String>, Value) {
    let res = reqwest::Client::new()
        .post(format!("{app}/internal/jobs"))
        .header("content-type", "application/json")
        .header("x-request-id", "test-dispatch")
        .body(body.to_owned())
        .send()
        .await
        .expect("dispatch");
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body =
        serde_json::from_slice(&res.bytes().await.unwrap_or_default()).unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// A tiny ext-api: `POST /v1/quote` answers a JSON quote echoing the payload
/// (and its `Idempotency-Key` and `X-Request-ID` headers), or `status` when
/// that is set to anything but 200, after `delay_ms`.
#[derive(Clone)]
pub struct ExtApiStub {
    pub addr: SocketAddr,
    pub status: Arc<AtomicU16>,
    pub delay_ms: Arc<AtomicU64>,
    pub requests: Arc<AtomicU64>,
    /// Requests being answered now, and the most there ever were at once.
    concurrency: Arc<Concurrency>,
}

#[derive(Default)]
struct Concurrency {
    now: AtomicU64,
    peak: AtomicU64,
}

impl Concurrency {
    /// Counts one request in until the returned guard drops.
    fn enter(self: &Arc<Self>) -> Answering {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Answering(self.clone())
    }
}

struct Answering(Arc<Concurrency>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ExtApiStub {
    pub fn start() -> Self {
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let concurrency = Arc::new(Concurrency::default());
        let (addr, _) = serve!({
            let state = (
                status.clone(),
                delay_ms.clone(),
                requests.clone(),
                concurrency.clone(),
            );
            move || {
                let state = state.clone();
                App::new().route(
                    "/v1/quote",
                    web::post().to(move |req: HttpRequest, body: Bytes| {
                        let (status, delay_ms, requests, concurrency) = state.clone();
                        async move {
                            requests.fetch_add(1, Ordering::SeqCst);
                            let _answering = concurrency.enter();
                            let delay = delay_ms.load(Ordering::SeqCst);
                            if delay > 0 {
                                tokio::time::sleep(Duration::from_millis(delay)).await;
                            }
                            let code = status.load(Ordering::SeqCst);
                            if code != 200 {
                                return HttpResponse::build(
                                    actix_web::http::StatusCode::from_u16(code).unwrap(),
                                )
                                .json(json!({"error": "stub", "status": code}));
                            }
                            let payload: Value =
                                serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let echoed = |name| header(&req, name).unwrap_or_default();
                            HttpResponse::Ok().json(json!({"quote_id": echoed("idempotency-key"),
                                "price": {"amount": "42.00", "currency": "KRW"}, "echo": payload,
                                "request_id": echoed("x-request-id")}))
                        }
                    }),
                )
            }
        });
        Self {
            addr,
            status,
            delay_ms,
            requests,
            concurrency,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The most requests this stub was answering at the same time.
    pub fn peak_concurrency(&self) -> u64 {
        self.concurrency.peak.load(Ordering::SeqCst)
    }
}

/// A tiny core-server: stores every result PUT to `/internal/jobs/{id}/result`.
/// The first `fail_next` callbacks are answered `fail_status` (503 unless set) with
/// a JSON error body, and are not stored.
#[derive(Clone)]
pub struct CoreStub {
    pub addr: SocketAddr,
    pub results: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    pub fail_next: Arc<AtomicU32>,
    pub fail_status: Arc<AtomicU16>,
    /// `X-Request-ID` of the last stored result of each job.
    request_ids: Arc<Mutex<HashMap<String, String>>>,
}

impl CoreStub {
    pub fn start() -> Self {
        let results: Arc<Mutex<HashMap<String, Vec<Value>>>> = Arc::default();
        let fail_next = Arc::new(AtomicU32::new(0));
        let fail_status = Arc::new(AtomicU16::new(503));
        let request_ids: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let (addr, _) = serve!({
            let state = (
                results.clone(),
                fail_next.clone(),
                fail_status.clone(),
                request_ids.clone(),
            );
            move || {
                let state = state.clone();
                App::new().route(
                    "/internal/jobs/{id}/result",
                    web::put().to(
                        move |req: HttpRequest, id: web::Path<String>, body: web::Json<Value>| {
                            let (results, fail_next, fail_status, request_ids) = state.clone();
                            async move {
                                let failing = fail_next
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                        n.checked_sub(1)
                                    })
                                    .is_ok();
                                if failing {
                                    let status = fail_status.load(Ordering::SeqCst);
                                    return HttpResponse::build(
                                        actix_web::http::StatusCode::from_u16(status).unwrap(),
                                    )
                                    .json(json!({"error": "stub_refusal", "status": status}));
                                }
                                let request_id =
                                    header(&req, "x-request-id").unwrap_or_default().to_owned();
                                request_ids.lock().unwrap().insert(id.clone(), request_id);
                                results
                                    .lock()
                                    .unwrap()
                                    .entry(id.into_inner())
                                    .or_default()
                                    .push(body.into_inner());
                                HttpResponse::Ok().json(json!({"stored": true}))
                            }
                        },
                    ),
                )
            }
        });
        Self {
            addr,
            results,
            fail_next,
            fail_status,
            request_ids,
        }
    }

    /// The `X-Request-ID` that came with the last result of `job_id`.
    pub fn request_id(&self, job_id: &str) -> Option<String> {
        self.request_ids.lock().unwrap().get(job_id).cloned()
    }

    pub fn callback_url(&self, job_id: &str) -> String {
        format!("http://{}/internal/jobs/{job_id}/result", self.addr)
    }

    pub fn result(&self, job_id: &str) -> Option<Value> {
        self.results
            .lock()
            .unwrap()
            .get(job_id)
            .and_then(|v| v.first().cloned())
    }

    pub fn count(&self, job_id: &str) -> usize {
        self.results.lock().unwrap().get(job_id).map_or(0, Vec::len)
    }

    /// Waits (bounded) for the first result of `job_id`.
    pub async fn wait_result(&self, job_id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            if let Some(v) = self.result(job_id) {
                return v;
            }
            assert!(
                start.elapsed() < limit,
                "no result for job {job_id} within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A fresh job id.
pub fn job_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// Asserts that shutdown lost none of the `accepted` jobs: each has exactly one
/// result at `core` or is among `handed_back` (core re-dispatches those).
/// Both is possible (a result PUT in flight when the grace ran out) and
/// harmless: core keeps the first terminal result. Neither would be a loss.
pub fn assert_none_lost(accepted: &[String], core: &CoreStub, handed_back: &[&str]) {
    for id in accepted {
        let done = core.count(id) == 1;
        let back = handed_back.contains(&id.as_str());
        assert!(done || back, "job {id} lost");
        assert!(core.count(id) <= 1, "job {id} reported twice");
    }
}

/// A toxiproxy server process for this test binary, built by
/// the repository's `scripts/build-toxiproxy.sh` when missing. It exits with the test process: its
/// wrapper shell kills it when our end of its stdin closes.
pub struct Toxiproxy {
    pub api: String,
    /// The server's output: see [`toxiproxy_log`].
    pub log: PathBuf,
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

impl Toxiproxy {
    pub fn shared() -> &'static Toxiproxy {
        static SHARED: OnceLock<Toxiproxy> = OnceLock::new();
        SHARED.get_or_init(Self::spawn)
    }

    fn spawn() -> Self {
        let bin = build_toxiproxy();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = toxiproxy_log();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" -host 127.0.0.1 -port "$1" >"$2" 2>&1 & pid=$!; read _ignored; kill $pid"#)
            .arg(&bin)
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .spawn()
            .expect("start toxiproxy through sh");
        let stdin = child.stdin.take().expect("piped stdin");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "toxiproxy ({}) did not listen on 127.0.0.1:{port} within 15 s; log ({}): {}",
                bin.display(),
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            api: format!("http://127.0.0.1:{port}"),
            log,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        }
    }

    /// Creates a proxy from a free loopback port to `upstream`; returns its URL.
    pub async fn proxy(&self, name: &str, upstream: SocketAddr) -> String {
        let res = reqwest::Client::new()
            .post(format!("{}/proxies", self.api))
            .body(json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string(), "enabled": true}).to_string())
            .send()
            .await
            .expect("toxiproxy API");
        let status = res.status();
        let body: Value =
            serde_json::from_slice(&res.bytes().await.unwrap_or_default()).unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "create proxy: {status} {body}; toxiproxy log: {}",
            self.log.display()
        );
        let listen = body["listen"].as_str().expect("listen address").to_owned();
        format!("http://{listen}")
    }

    pub async fn toxic(
        &self,
        proxy: &str,
        name: &str,
        kind: &str,
        stream: &str,
        attributes: Value,
    ) {
        let res = reqwest::Client::new()
            .post(format!("{}/proxies/{proxy}/toxics", self.api))
            .body(
                json!({"name": name, "type": kind, "stream": stream, "toxicity": 1.0,
                "attributes": attributes})
                .to_string(),
            )
            .send()
            .await
            .expect("toxiproxy API");
        assert!(
            res.status().is_success(),
            "add toxic: {}; toxiproxy log: {}",
            res.status(),
            self.log.display()
        );
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) {
        let res = reqwest::Client::new()
            .delete(format!("{}/proxies/{proxy}/toxics/{name}", self.api))
            .send()
            .await
            .expect("toxiproxy API");
        assert!(
            res.status().is_success(),
            "remove toxic: {}; toxiproxy log: {}",
            res.status(),
            self.log.display()
        );
    }

    pub async fn set_enabled(&self, proxy: &str, enabled: bool) {
        let res = reqwest::Client::new()
            .post(format!("{}/proxies/{proxy}", self.api))
            .body(json!({"enabled": enabled}).to_string())
            .send()
            .await
            .expect("toxiproxy API");
        assert!(
            res.status().is_success(),
            "enable proxy: {}; toxiproxy log: {}",
            res.status(),
            self.log.display()
        );
    }
}

/// Where the toxiproxy server of this test binary (or example) writes its output:
/// `toxiproxy-logs/<binary>.log` in the build profile's directory, e.g.
/// `target/debug/toxiproxy-logs/toxiproxy.log` for `tests/toxiproxy.rs`. One file
/// per binary, overwritten by its next run: nothing piles up in /tmp, and the
/// log of a failing run stays there to be read (the tests print its path).
pub fn toxiproxy_log() -> PathBuf {
    let exe = std::env::current_exe().ok();
    // target/<profile>/deps/<name>-<hash> (tests), target/<profile>/examples/<name>.
    let dir = exe
        .as_deref()
        .and_then(|e| e.parent()?.parent())
        .map(|profile| profile.join("toxiproxy-logs"))
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/toxiproxy-logs"
            ))
        });
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let stem = exe
        .as_deref()
        .and_then(|e| e.file_stem()?.to_str())
        .unwrap_or("toxiproxy");
    // Without cargo's hash, so that a rebuilt binary overwrites the same file.
    let name = match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => stem,
    };
    dir.join(format!("{name}.log"))
}

/// Path of the toxiproxy server binary, built when missing. Panics with the
/// build output when it cannot be built: these tests never skip silently.
pub fn build_toxiproxy() -> PathBuf {
    if let Some(path) = std::env::var_os("TOXIPROXY_SERVER") {
        return PathBuf::from(path);
    }
    // One build for the whole repository (also the offline image's and admin-server's).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/build-toxiproxy.sh");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        out.status.success(),
        "toxiproxy could not be built by {script} (needs Go and the Go module proxy; \
         or set TOXIPROXY_SERVER=/path/to/toxiproxy-server):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A Sentry stand-in on 127.0.0.1:0, like the lab's `sentry-sink`: accepts
/// `POST /api/<project>/envelope/` (gzip/deflate bodies when `Content-Encoding`
/// says so, 415 for anything else) and keeps every `event` item.
#[derive(Clone)]
pub struct SentryReceiver {
    pub addr: SocketAddr,
    /// `(project, event)` for every event item received.
    events: Arc<Mutex<Vec<(String, Value)>>>,
    /// Envelope requests received, whatever they held.
    requests: Arc<AtomicU64>,
}

impl SentryReceiver {
    pub fn start() -> Self {
        let events: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let requests = Arc::new(AtomicU64::new(0));
        let (addr, _) = serve!({
            let (events, requests) = (events.clone(), requests.clone());
            move || {
                let (events, requests) = (events.clone(), requests.clone());
                App::new().route(
                    "/api/{project}/envelope/",
                    web::post().to(
                        move |req: HttpRequest, project: web::Path<String>, body: Bytes| {
                            let (events, requests) = (events.clone(), requests.clone());
                            async move {
                                requests.fetch_add(1, Ordering::SeqCst);
                                let encoding =
                                    header(&req, "content-encoding").unwrap_or("identity");
                                let Some(raw) = decode_body(encoding, &body) else {
                                    return HttpResponse::UnsupportedMediaType().finish();
                                };
                                let items = envelope_events(&raw);
                                let mut all = events.lock().unwrap();
                                for event in items {
                                    all.push((project.clone(), event));
                                }
                                HttpResponse::Ok().json(json!({}))
                            }
                        },
                    ),
                )
            }
        });
        Self {
            addr,
            events,
            requests,
        }
    }

    /// A DSN pointing at this receiver.
    pub fn dsn(&self, project: u32) -> String {
        format!("http://key@{}/{project}", self.addr)
    }

    pub fn events(&self) -> Vec<(String, Value)> {
        self.events.lock().unwrap().clone()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Waits (up to `limit`) for an event matching `pred`.
    pub async fn wait_event(&self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some((_, e)) = self.events().into_iter().find(|(_, e)| pred(e)) {
                return e;
            }
            assert!(
                start.elapsed() < limit,
                "no matching Sentry event within {limit:?}; received: {:?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn decode_body(encoding: &str, body: &[u8]) -> Option<Vec<u8>> {
    use miniz_oxide::inflate::{decompress_to_vec, decompress_to_vec_zlib};
    match encoding.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Some(body.to_vec()),
        "gzip" | "x-gzip" => decompress_to_vec(gzip_deflate_stream(body)?).ok(),
        // HTTP's "deflate" is zlib; some clients send a raw deflate stream.
        "deflate" => decompress_to_vec_zlib(body)
            .or_else(|_| decompress_to_vec(body))
            .ok(),
        _ => None,
    }
}

/// The deflate stream inside a gzip member (RFC 1952), header and trailer skipped.
fn gzip_deflate_stream(body: &[u8]) -> Option<&[u8]> {
    if body.len() < 18 || body[..3] != [0x1f, 0x8b, 8] {
        return None;
    }
    let flags = body[3];
    let mut pos = 10;
    if flags & 4 != 0 {
        let extra = usize::from(u16::from_le_bytes([*body.get(pos)?, *body.get(pos + 1)?]));
        pos += 2 + extra;
    }
    for bit in [8, 16] {
        if flags & bit != 0 {
            pos += body.get(pos..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    if flags & 2 != 0 {
        pos += 2;
    }
    body.get(pos..body.len() - 8)
}

/// The `event` items of a Sentry envelope: a header line, then items, each an
/// item header line (with an optional `length`) and its payload.
pub fn envelope_events(raw: &[u8]) -> Vec<Value> {
    fn line(rest: &[u8]) -> (&[u8], &[u8]) {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[]),
        }
    }
    let mut events = Vec::new();
    let (_envelope_header, mut rest) = line(raw);
    while !rest.is_empty() {
        let (header, after) = line(rest);
        if header.iter().all(u8::is_ascii_whitespace) {
            rest = after;
            continue;
        }
        let Ok(header) = serde_json::from_slice::<Value>(header) else {
            break;
        };
        let (payload, next) = match header["length"].as_u64() {
            Some(n) if (n as usize) <= after.len() => {
                let (p, r) = after.split_at(n as usize);
                (p, r.strip_prefix(b"\n").unwrap_or(r))
            }
            _ => line(after),
        };
        if header["type"] == "event"
            && let Ok(event) = serde_json::from_slice(payload)
        {
            events.push(event);
        }
        rest = next;
    }
    events
}

#[cfg(test)]
mod receiver_tests {
    use super::*;

    #[test]
    fn envelopes_with_and_without_lengths_and_compressed_bodies() {
        let event = r#"{"event_id":"e1","level":"error"}"#;
        let raw = format!(
            "{{\"event_id\":\"e1\"}}\n{{\"type\":\"attachment\",\"length\":3}}\na\nb\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n{{\"type\":\"event\"}}\n{event}\n",
            event.len()
        );
        let events = envelope_events(raw.as_bytes());
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["event_id"], "e1");

        let deflated = miniz_oxide::deflate::compress_to_vec(raw.as_bytes(), 6);
        let mut gzip = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        gzip.extend_from_slice(&deflated);
        gzip.extend_from_slice(&[0; 8]); // CRC and size are not checked
        assert_eq!(decode_body("gzip", &gzip).unwrap(), raw.as_bytes());
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(raw.as_bytes(), 6);
        assert_eq!(decode_body("deflate", &zlib).unwrap(), raw.as_bytes());
        assert_eq!(decode_body("br", b"x"), None);
    }
}
