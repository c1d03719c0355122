//! Jobs: intake into a bounded queue, a fixed pool of tasks that call the
//! external API, result callbacks to core-server, and hand-back on shutdown.
//! A panic while processing a job fails that job (`internal`), never its pool task.
//! Contract: docs/contracts/core-worker.md.

pub mod breaker;
pub mod ext_api;

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use actix_web::rt;
use actix_web::web::Data;
use futures_util::FutureExt;
use sentry::SentryFutureExt;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::JobsConfig;
use crate::telemetry::error_tracking;
use crate::telemetry::logging::timestamp;
use crate::telemetry::metrics::Metrics;
use ext_api::{ExtApi, jittered_backoff};

/// Job types this worker knows. Anything else is refused at intake (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobType {
    /// POST the payload to `${EXT_API_URL}/v1/quote`; the JSON answer is the result.
    Quote,
}

impl JobType {
    pub const ALL: [Self; 1] = [Self::Quote];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "quote" => Some(Self::Quote),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quote => "quote",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Self::Quote => "/v1/quote",
        }
    }

    /// Whether re-sending a request that may have reached ext-api is harmless.
    /// A quote is a read (and carries `Idempotency-Key: <job_id>`).
    pub fn idempotent(self) -> bool {
        match self {
            Self::Quote => true,
        }
    }
}

/// Error kinds of the result contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Timeout,
    Reset,
    Upstream5xx,
    CircuitOpen,
    Invalid,
    /// A bug in this worker: processing the job panicked.
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Reset => "reset",
            Self::Upstream5xx => "upstream_5xx",
            Self::CircuitOpen => "circuit_open",
            Self::Invalid => "invalid",
            Self::Internal => "internal",
        }
    }
}

/// Terminal failure of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    pub kind: ErrorKind,
    pub message: String,
}

/// A validated dispatch.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub job_type: JobType,
    pub payload: Value,
    pub attempt: u64,
    pub callback_url: String,
    pub request_id: String,
    pub accepted_at: Instant,
}

impl Job {
    /// Validates a dispatch body. Errors read `<field>: <why>`.
    pub fn from_dispatch(body: &[u8], request_id: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("body: not valid JSON ({e})"))?;
        let Value::Object(obj) = value else {
            return Err("body: must be a JSON object".into());
        };
        let text = |name: &str| -> Result<String, String> {
            match obj.get(name) {
                None | Some(Value::Null) => Err(format!("{name}: required")),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                Some(_) => Err(format!("{name}: must be a non-empty string")),
            }
        };
        // Kept exactly as sent (it is echoed in the result), only checked.
        let id = text("job_id")?;
        uuid::Uuid::parse_str(&id).map_err(|_| "job_id: must be a UUID".to_owned())?;
        let type_name = text("type")?;
        let job_type = JobType::parse(&type_name)
            .ok_or_else(|| format!("type: unknown job type {type_name:?} (known: quote)"))?;
        let payload = match obj.get("payload") {
            Some(Value::Object(map)) => Value::Object(map.clone()),
            None | Some(Value::Null) => return Err("payload: required".into()),
            Some(_) => return Err("payload: must be a JSON object".into()),
        };
        let attempt = match obj.get("attempt") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1)
                .ok_or("attempt: must be an integer >= 1")?,
        };
        let callback_url = text("callback_url")?;
        if !(callback_url.starts_with("http://") || callback_url.starts_with("https://"))
            || reqwest::Url::parse(&callback_url).is_err()
        {
            return Err("callback_url: must be an absolute http:// or https:// URL".into());
        }
        Ok(Self {
            id,
            job_type,
            payload,
            attempt,
            callback_url,
            request_id: request_id.to_owned(),
            accepted_at: Instant::now(),
        })
    }
}

/// Where a known job id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    /// Finished; the result callback is being delivered.
    Reporting,
    Done,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Reporting => "reporting",
            Self::Done => "done",
        }
    }
}

/// Intake's answer to a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Accepted,
    Duplicate(JobState),
    QueueFull { retry_after_secs: u64 },
    ShuttingDown { retry_after_secs: u64 },
}

#[derive(Default)]
struct Known {
    states: HashMap<String, JobState>,
    /// Finished ids, oldest first, to bound the de-duplication memory.
    done_order: VecDeque<String>,
}

/// What shutdown did with the jobs it found.
#[derive(Debug, Default, Clone)]
pub struct ShutdownReport {
    /// Every job still queued or running when the grace period ended.
    pub handed_back: Vec<String>,
}

/// The job system; shared by the intake handler (any HTTP worker thread) and
/// the pool tasks.
pub struct Jobs {
    config: JobsConfig,
    tx: mpsc::Sender<Job>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    known: Mutex<Known>,
    accepting: AtomicBool,
    draining: watch::Sender<bool>,
    ext: ExtApi,
    callback_client: reqwest::Client,
    metrics: Data<Metrics>,
    /// Test seam (see [`Jobs::set_hook`]); absent from normal builds.
    #[cfg(any(test, feature = "test-util"))]
    hook: Mutex<Option<Hook>>,
}

/// Where the test seam runs in a job's life.
#[cfg(any(test, feature = "test-util"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// At the start of processing, inside the job's own panic isolation.
    Process,
    /// After processing, before the result callback: only the pool's outer net.
    Report,
}

#[cfg(any(test, feature = "test-util"))]
type Hook = Arc<dyn Fn(Stage, &Job) + Send + Sync>;

/// The running pool.
pub struct Pool {
    tasks: Vec<rt::task::JoinHandle<()>>,
}

impl Jobs {
    pub fn new(config: JobsConfig, metrics: Data<Metrics>) -> Result<Arc<Self>, reqwest::Error> {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let ext = ExtApi::new(&config, metrics.clone())?;
        let callback_client = reqwest::Client::builder()
            .connect_timeout(config.callback_timeout)
            .timeout(config.callback_timeout)
            .build()?;
        metrics.queue_capacity.set(config.queue_capacity as i64);
        metrics.queue_depth.set(0);
        // Panics are rare: the series exists from the start so that an alert on
        // `increase(...)` sees the first one.
        for job_type in JobType::ALL {
            metrics.jobs_finished.with_label_values(&[
                job_type.as_str(),
                "FAILED",
                ErrorKind::Internal.as_str(),
            ]);
        }
        Ok(Arc::new(Self {
            config,
            tx,
            rx: tokio::sync::Mutex::new(rx),
            known: Mutex::new(Known::default()),
            accepting: AtomicBool::new(true),
            draining: watch::Sender::new(false),
            ext,
            callback_client,
            metrics,
            #[cfg(any(test, feature = "test-util"))]
            hook: Mutex::new(None),
        }))
    }

    /// Test-only seam (`test-util`): `hook` runs at each [`Stage`] of every job,
    /// where a worker bug would be. Tests make it panic for chosen jobs to check
    /// that a panic costs that job only, never a pool task.
    #[cfg(any(test, feature = "test-util"))]
    pub fn set_hook(&self, hook: impl Fn(Stage, &Job) + Send + Sync + 'static) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
    }

    #[cfg(any(test, feature = "test-util"))]
    fn run_hook(&self, stage: Stage, job: &Job) {
        let hook = self.hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(hook) = hook {
            hook(stage, job);
        }
    }

    pub fn config(&self) -> &JobsConfig {
        &self.config
    }

    pub fn ext_api(&self) -> &ExtApi {
        &self.ext
    }

    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn state_of(&self, job_id: &str) -> Option<JobState> {
        self.lock_known().states.get(job_id).copied()
    }

    /// Dispatches are answered 503 from now on; the pool drains the queue.
    pub fn stop_intake(&self) {
        self.accepting.store(false, Ordering::Release);
        self.draining.send_replace(true);
    }

    /// Counts a dispatch refused as invalid (400).
    pub fn note_invalid(&self) {
        self.metrics
            .jobs_received
            .with_label_values(&["invalid"])
            .inc();
    }

    /// Admits a job into the queue (never blocks).
    pub fn submit(&self, job: Job) -> Admission {
        let retry_after_secs = self.config.retry_after_secs;
        let mut known = self.lock_known();
        if let Some(state) = known.states.get(&job.id) {
            self.metrics
                .jobs_received
                .with_label_values(&["duplicate"])
                .inc();
            return Admission::Duplicate(*state);
        }
        if !self.accepting.load(Ordering::Acquire) {
            self.metrics
                .jobs_received
                .with_label_values(&["shutting_down"])
                .inc();
            return Admission::ShuttingDown { retry_after_secs };
        }
        let id = job.id.clone();
        match self.tx.try_send(job) {
            Ok(()) => {
                known.states.insert(id, JobState::Queued);
                drop(known);
                self.metrics
                    .jobs_received
                    .with_label_values(&["accepted"])
                    .inc();
                self.metrics.queue_depth.set(self.queue_depth() as i64);
                Admission::Accepted
            }
            Err(_) => {
                self.metrics
                    .jobs_received
                    .with_label_values(&["queue_full"])
                    .inc();
                Admission::QueueFull { retry_after_secs }
            }
        }
    }

    /// Starts the fixed pool on the current runtime.
    pub fn start(self: &Arc<Self>) -> Pool {
        let tasks = (0..self.config.pool_size)
            .map(|n| {
                let jobs = self.clone();
                rt::spawn(async move { jobs.work(n).await })
            })
            .collect();
        Pool { tasks }
    }

    /// Stops intake (503 from now on); the pool finishes queued and running jobs
    /// until `grace` is spent; what is left is handed back (core re-dispatches
    /// it: nothing is sent for it, every id is logged).
    pub async fn shutdown(&self, pool: Pool, grace: Duration) -> ShutdownReport {
        self.stop_intake();
        let queued = self.queue_depth();
        info!(
            queued,
            grace_ms = grace.as_millis() as u64,
            "job intake stopped, finishing queued jobs"
        );
        let deadline = tokio::time::Instant::now() + grace;
        let mut aborted = false;
        for task in pool.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
                aborted = true;
            }
        }
        let mut report = ShutdownReport::default();
        if aborted || self.queue_depth() > 0 {
            // Aborted tasks are gone; take what is left in the queue.
            let mut rx = self.rx.lock().await;
            while let Ok(job) = rx.try_recv() {
                self.lock_known().states.remove(&job.id);
                report.handed_back.push(job.id);
            }
            self.metrics.queue_depth.set(0);
            let mut known = self.lock_known();
            let running: Vec<String> = known
                .states
                .iter()
                .filter(|(_, s)| matches!(s, JobState::Running | JobState::Reporting))
                .map(|(id, _)| id.clone())
                .collect();
            for id in running {
                known.states.remove(&id);
                report.handed_back.push(id);
            }
        }
        for id in &report.handed_back {
            warn!(job_id = %id, "job handed back to core (not finished before shutdown)");
        }
        self.metrics
            .jobs_handed_back
            .inc_by(report.handed_back.len() as u64);
        // `jobs_in_flight` is not reset here: aborted tasks decrement it as they drop.
        info!(handed_back = report.handed_back.len(), "job pool stopped");
        report
    }

    async fn work(self: Arc<Self>, _n: usize) {
        let mut draining = self.draining.subscribe();
        loop {
            let job = {
                let mut rx = self.rx.lock().await;
                if *draining.borrow() {
                    match rx.try_recv() {
                        Ok(job) => job,
                        Err(_) => break,
                    }
                } else {
                    tokio::select! {
                        job = rx.recv() => match job {
                            Some(job) => job,
                            None => break,
                        },
                        _ = draining.changed() => continue,
                    }
                }
            };
            self.metrics.queue_depth.set(self.queue_depth() as i64);
            let span = info_span!("job", job_id = %job.id, request_id = %job.request_id);
            let (id, request_id) = (job.id.clone(), job.request_id.clone());
            // `run` turns a panic of the job's processing into a FAILED result. This
            // is the net for a panic anywhere else in `run` (reporting the result):
            // this task lives on with the next job (the pool keeps its size), and the
            // job is forgotten so that core's re-dispatch runs it (as when the
            // result callback gives up).
            let run = AssertUnwindSafe(self.run(job)).catch_unwind();
            let outcome = match error_tracking::job_hub(&id, &request_id) {
                Some(hub) => run.instrument(span.clone()).bind_hub(hub).await,
                None => run.instrument(span.clone()).await,
            };
            if let Err(panic) = outcome {
                self.lock_known().states.remove(&id);
                span.in_scope(|| {
                    error!(
                        error = %panic_message(&*panic),
                        "worker panicked while reporting a job, job forgotten (core will re-dispatch)"
                    )
                });
            }
        }
    }

    /// The job's processing: what turns a job into its result.
    async fn process(&self, job: &Job, deadline: Instant) -> Result<Value, JobError> {
        #[cfg(any(test, feature = "test-util"))]
        self.run_hook(Stage::Process, job);
        self.ext
            .call(
                job.job_type,
                &job.id,
                &job.request_id,
                &job.payload,
                deadline,
            )
            .await
    }

    async fn run(&self, job: Job) {
        self.set_state(&job.id, JobState::Running);
        self.metrics.jobs_in_flight.inc();
        let _in_flight = Decrement(&self.metrics.jobs_in_flight);
        let queued_ms = job.accepted_at.elapsed().as_millis() as u64;
        let deadline = Instant::now() + self.config.job_deadline;
        // A panic while processing (a worker bug; the panic hook has reported it to
        // Sentry with the job's tags) ends this job as FAILED `internal`, reported
        // like any other result; the pool task carries on. Unwind safety: what the
        // job shares stays consistent after a panic (locks recover from poisoning,
        // a breaker permit settles on drop, metrics are atomic).
        let result = AssertUnwindSafe(self.process(&job, deadline))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let message = format!("worker panicked: {}", panic_message(&*panic));
                error!(error_kind = "internal", error = %message, "job processing panicked");
                Err(JobError {
                    kind: ErrorKind::Internal,
                    message,
                })
            });
        let elapsed = job.accepted_at.elapsed();
        let status = if result.is_ok() {
            "SUCCEEDED"
        } else {
            "FAILED"
        };
        let kind = result.as_ref().err().map_or("", |e| e.kind.as_str());
        self.metrics
            .jobs_finished
            .with_label_values(&[job.job_type.as_str(), status, kind])
            .inc();
        self.metrics
            .job_duration
            .with_label_values(&[job.job_type.as_str(), status])
            .observe(elapsed.as_secs_f64());
        let duration_ms = elapsed.as_millis() as u64;
        match &result {
            Ok(_) => info!(
                job_type = job.job_type.as_str(),
                status, duration_ms, queued_ms, "job finished"
            ),
            Err(e) => warn!(
                job_type = job.job_type.as_str(),
                status,
                error_kind = kind,
                error = %e.message,
                duration_ms,
                queued_ms,
                "job finished"
            ),
        }
        self.set_state(&job.id, JobState::Reporting);
        #[cfg(any(test, feature = "test-util"))]
        self.run_hook(Stage::Report, &job);
        let body = result_body(&job, &result, SystemTime::now());
        let mut delivery = self.deliver(&job, &body).await;
        if let Delivery::Rejected(why) = &delivery {
            // core read this result as breaking the contract (a bug on one side):
            // the same body can never land, and a re-dispatch would only produce it
            // again until core gives up. Report the job FAILED `internal` with core's
            // reason instead, so it ends now and says why. Once: if core refuses that
            // too, the job is forgotten like an undeliverable one.
            let message = format!("core rejected the result: {why}");
            sentry::capture_message(&message, sentry::Level::Error);
            let failed = Err(JobError {
                kind: ErrorKind::Internal,
                message,
            });
            delivery = self
                .deliver(&job, &result_body(&job, &failed, SystemTime::now()))
                .await;
        }
        if delivery == Delivery::Done {
            self.finish(&job.id);
        } else {
            // Forget the id: core re-dispatches the job after its stale timeout and
            // the new dispatch must run (not be answered "duplicate").
            self.lock_known().states.remove(&job.id);
        }
    }

    /// PUTs the result to core until 2xx, 404 or another 4xx that retrying cannot
    /// change, with capped, jittered backoff. Bounded: `callback_max_attempts` (and
    /// shutdown's grace period).
    async fn deliver(&self, job: &Job, body: &Value) -> Delivery {
        let body = body.to_string();
        let max = self.config.callback_max_attempts.max(1);
        for attempt in 1..=max {
            let sent = self
                .callback_client
                .put(&job.callback_url)
                .header("content-type", "application/json")
                .header("x-request-id", &job.request_id)
                .body(body.clone())
                .send()
                .await;
            let problem = match sent {
                Ok(res) if res.status().is_success() => {
                    self.metrics
                        .callbacks
                        .with_label_values(&["delivered"])
                        .inc();
                    return Delivery::Done;
                }
                Ok(res) if res.status() == reqwest::StatusCode::NOT_FOUND => {
                    self.metrics
                        .callbacks
                        .with_label_values(&["unknown_job"])
                        .inc();
                    warn!(callback_url = %job.callback_url, "core does not know the job (404), result dropped");
                    return Delivery::Done;
                }
                Ok(res) if is_refusal(res.status()) => {
                    self.metrics
                        .callbacks
                        .with_label_values(&["rejected"])
                        .inc();
                    let status = res.status();
                    let answer = res.text().await.unwrap_or_default();
                    let why = format!("{status} {}", answer.chars().take(300).collect::<String>());
                    error!(callback_url = %job.callback_url, error = %why, "core rejected the result");
                    return Delivery::Rejected(why);
                }
                Ok(res) => format!("core answered {}", res.status()),
                Err(e) => format!("{e}"),
            };
            if attempt == max {
                self.metrics.callbacks.with_label_values(&["gave_up"]).inc();
                error!(
                    attempts = attempt,
                    error = %problem,
                    callback_url = %job.callback_url,
                    "result callback failed, giving up (core will re-dispatch)"
                );
                return Delivery::GaveUp;
            }
            self.metrics.callbacks.with_label_values(&["retry"]).inc();
            let backoff = jittered_backoff(
                self.config.callback_backoff_base,
                self.config.callback_backoff_max,
                attempt,
            );
            warn!(
                attempt,
                error = %problem,
                backoff_ms = backoff.as_millis() as u64,
                "result callback failed, retrying"
            );
            tokio::time::sleep(backoff).await;
        }
        Delivery::GaveUp
    }

    fn set_state(&self, id: &str, state: JobState) {
        if let Some(s) = self.lock_known().states.get_mut(id) {
            *s = state;
        }
    }

    fn finish(&self, id: &str) {
        let mut known = self.lock_known();
        if let Some(s) = known.states.get_mut(id) {
            *s = JobState::Done;
            known.done_order.push_back(id.to_owned());
        }
        while known.done_order.len() > self.config.dedup_capacity {
            if let Some(old) = known.done_order.pop_front()
                && known.states.get(&old) == Some(&JobState::Done)
            {
                known.states.remove(&old);
            }
        }
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How a result callback ended.
#[derive(Debug, PartialEq)]
enum Delivery {
    /// core stored the result (2xx) or does not know the job (404): nothing more to send.
    Done,
    /// core refused this body (status and core's answer): sending it again cannot help.
    Rejected(String),
    /// No answer, or only answers worth retrying, until the attempts ran out.
    GaveUp,
}

/// A 4xx that says the request itself is wrong. Not 404 (the job is unknown: handled
/// on its own), 408 or 429 (timing and flow control: a later attempt can succeed).
fn is_refusal(status: reqwest::StatusCode) -> bool {
    use reqwest::StatusCode;
    status.is_client_error()
        && ![
            StatusCode::NOT_FOUND,
            StatusCode::REQUEST_TIMEOUT,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(&status)
}

/// The message of a panic payload (`panic!` gives a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

struct Decrement<'a>(&'a prometheus::IntGauge);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The callback body of the result contract.
pub fn result_body(job: &Job, result: &Result<Value, JobError>, now: SystemTime) -> Value {
    let (status, result, error) = match result {
        Ok(v) => ("SUCCEEDED", v.clone(), Value::Null),
        Err(e) => (
            "FAILED",
            Value::Null,
            json!({"kind": e.kind.as_str(), "message": e.message}),
        ),
    };
    let mut body = Map::new();
    body.insert("job_id".into(), json!(job.id));
    body.insert("status".into(), json!(status));
    body.insert("result".into(), result);
    body.insert("error".into(), error);
    body.insert("attempt".into(), json!(job.attempt));
    body.insert("finished_at".into(), json!(timestamp(now)));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SERVICE_NAME;

    const ID: &str = "3f1b6c2e-8a4d-4e59-9c1a-2b7d5e8f0a11";

    fn dispatch(extra: Value) -> Result<Job, String> {
        let mut body = json!({"job_id": ID, "type": "quote", "payload": {"sku": "A"},
            "attempt": 2, "callback_url": "http://127.0.0.1:1/internal/jobs/x/result"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        Job::from_dispatch(body.to_string().as_bytes(), "rid")
    }

    #[test]
    fn dispatch_validation() {
        let job = dispatch(json!({})).unwrap();
        assert_eq!((job.job_type, job.attempt), (JobType::Quote, 2));
        assert_eq!(dispatch(json!({"attempt": null})).unwrap().attempt, 1);
        let err = |extra| dispatch(extra).unwrap_err();
        assert!(err(json!({"type": "fax"})).starts_with("type: unknown job type"));
        assert!(err(json!({"job_id": "x"})).starts_with("job_id:"));
        assert!(err(json!({"job_id": null})).starts_with("job_id: required"));
        assert!(err(json!({"payload": [1]})).starts_with("payload:"));
        assert!(err(json!({"attempt": 0})).starts_with("attempt:"));
        assert!(err(json!({"callback_url": "ftp://x"})).starts_with("callback_url:"));
        assert!(
            Job::from_dispatch(b"{", "r")
                .unwrap_err()
                .starts_with("body:")
        );
        assert!(
            Job::from_dispatch(b"[]", "r")
                .unwrap_err()
                .starts_with("body:")
        );
    }

    fn jobs(capacity: usize) -> Arc<Jobs> {
        let config = JobsConfig {
            queue_capacity: capacity,
            dedup_capacity: 2,
            ..JobsConfig::default()
        };
        Jobs::new(
            config,
            Data::new(Metrics::new(SERVICE_NAME, &Default::default()).unwrap()),
        )
        .unwrap()
    }

    fn job(n: u128) -> Job {
        let mut job = dispatch(json!({})).unwrap();
        job.id = uuid::Uuid::from_u128(n).hyphenated().to_string();
        job
    }

    #[test]
    fn bounded_queue_dedup_and_draining() {
        let jobs = jobs(2);
        assert_eq!(jobs.submit(job(1)), Admission::Accepted);
        assert_eq!(jobs.submit(job(1)), Admission::Duplicate(JobState::Queued));
        assert_eq!(jobs.submit(job(2)), Admission::Accepted);
        assert_eq!(
            jobs.submit(job(3)),
            Admission::QueueFull {
                retry_after_secs: 2
            }
        );
        assert_eq!(jobs.queue_depth(), 2);
        jobs.accepting.store(false, Ordering::Release);
        assert_eq!(jobs.submit(job(1)), Admission::Duplicate(JobState::Queued));
        assert!(matches!(
            jobs.submit(job(4)),
            Admission::ShuttingDown { .. }
        ));
    }

    #[test]
    fn done_ids_are_remembered_up_to_the_dedup_capacity() {
        let jobs = jobs(10);
        for n in 1..=3 {
            jobs.submit(job(n));
            let id = job(n).id;
            jobs.set_state(&id, JobState::Reporting);
            jobs.finish(&id);
        }
        assert_eq!(jobs.state_of(&job(1).id), None, "evicted");
        assert_eq!(jobs.state_of(&job(3).id), Some(JobState::Done));
    }

    #[test]
    fn panic_messages_of_str_string_and_other_payloads() {
        let of = |payload: Box<dyn Any + Send>| panic_message(&*payload).to_owned();
        assert_eq!(of(Box::new("boom")), "boom");
        assert_eq!(of(Box::new(format!("boom {}", 2))), "boom 2");
        assert_eq!(of(Box::new(7_u8)), "non-string panic payload");
        let caught = std::panic::catch_unwind(|| panic!("index {} out of range", 3)).unwrap_err();
        assert_eq!(panic_message(&*caught), "index 3 out of range");
    }

    #[test]
    fn result_body_matches_the_contract() {
        let job = job(7);
        let failed = result_body(
            &job,
            &Err(JobError {
                kind: ErrorKind::Upstream5xx,
                message: "ext-api answered 503".into(),
            }),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(
            failed,
            json!({"job_id": job.id, "status": "FAILED", "result": null,
                "error": {"kind": "upstream_5xx", "message": "ext-api answered 503"},
                "attempt": 2, "finished_at": "1970-01-01T00:00:00.000Z"})
        );
        let ok = result_body(&job, &Ok(json!({"price": 1})), SystemTime::UNIX_EPOCH);
        assert_eq!(ok["status"], "SUCCEEDED");
        assert_eq!(ok["error"], Value::Null);
        assert_eq!(ok["result"], json!({"price": 1}));
    }
}
