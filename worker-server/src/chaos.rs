//! The chaos contract (docs/contracts/chaos.md): faults injected on purpose,
//! each expiring by itself. Served on the ops port; `latency` and `errors`
//! act on app-port requests through `middleware`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, rt};
use serde_json::{Map, Value, json};
use tracing::{info, warn};

use crate::error::ApiError;
use crate::telemetry::logging::timestamp;
use crate::telemetry::metrics::Metrics;

pub const MAX_DURATION_SECONDS: i64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Cpu,
    Memory,
    Latency,
    Errors,
    Disk,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Cpu,
        Kind::Memory,
        Kind::Latency,
        Kind::Errors,
        Kind::Disk,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cpu => "cpu",
            Kind::Memory => "memory",
            Kind::Latency => "latency",
            Kind::Errors => "errors",
            Kind::Disk => "disk",
        }
    }

    /// (name, min, max, default) of each parameter.
    fn params(self) -> &'static [(&'static str, i64, i64, i64)] {
        match self {
            Kind::Cpu => &[("workers", 1, 4, 1), ("load_percent", 1, 100, 100)],
            Kind::Memory => &[("rate_mib_per_second", 1, 64, 8), ("max_mib", 1, 2048, 256)],
            Kind::Latency => &[
                ("delay_ms", 1, 30_000, 500),
                ("jitter_ms", 0, 10_000, 0),
                ("percent", 1, 100, 100),
            ],
            Kind::Errors => &[("percent", 1, 100, 100), ("status", 500, 599, 500)],
            Kind::Disk => &[("size_mib", 1, 10_240, 100)],
        }
    }
}

/// A validated request: duration and every parameter (defaults filled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    pub duration: Duration,
    pub params: BTreeMap<&'static str, i64>,
}

impl Spec {
    /// Validates a POST body. Errors read `<field>: <why>`.
    pub fn parse(kind: Kind, body: &[u8]) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("body: not valid JSON ({e})"))?;
        let Value::Object(obj) = value else {
            return Err("body: must be a JSON object".into());
        };
        let allowed = kind.params();
        for key in obj.keys() {
            if key != "duration_seconds" && !allowed.iter().any(|(n, ..)| n == key) {
                let known: Vec<&str> = std::iter::once("duration_seconds")
                    .chain(allowed.iter().map(|(n, ..)| *n))
                    .collect();
                return Err(format!(
                    "{key}: unknown field for {} (known: {})",
                    kind.as_str(),
                    known.join(", ")
                ));
            }
        }
        let int = |name: &str, min: i64, max: i64, default: Option<i64>| match obj.get(name) {
            None if default.is_some() => Ok(default.unwrap_or_default()),
            None => Err(format!("{name}: required")),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                Some(n) => Err(format!("{name}: {n} is out of range {min}..{max}")),
                None => Err(format!("{name}: must be an integer in {min}..{max}")),
            },
        };
        let duration = int("duration_seconds", 1, MAX_DURATION_SECONDS, None)?;
        let mut params = BTreeMap::new();
        for &(name, min, max, default) in allowed {
            params.insert(name, int(name, min, max, Some(default))?);
        }
        Ok(Self {
            kind,
            duration: Duration::from_secs(duration as u64),
            params,
        })
    }

    fn get(&self, name: &str) -> i64 {
        self.params.get(name).copied().unwrap_or_default()
    }
}

struct Active {
    spec: Spec,
    generation: u64,
    started_at: SystemTime,
    expires_at: SystemTime,
    expires: Instant,
    stop: Arc<AtomicBool>,
    written_mib: Option<Arc<AtomicU64>>,
    ballast: Option<PathBuf>,
}

impl Active {
    fn to_json(&self) -> Value {
        let remaining = self.expires.saturating_duration_since(Instant::now());
        let mut fault = json!({
            "kind": self.spec.kind.as_str(),
            "params": params_json(&self.spec),
            "started_at": timestamp(self.started_at),
            "expires_at": timestamp(self.expires_at),
            "remaining_seconds": remaining.as_secs_f64().ceil() as u64,
        });
        if let Some(w) = &self.written_mib {
            fault["written_mib"] = json!(w.load(Ordering::Relaxed));
        }
        fault
    }
}

fn params_json(spec: &Spec) -> Value {
    Value::Object(
        spec.params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Active faults of this process.
pub struct Chaos {
    active: Mutex<BTreeMap<Kind, Active>>,
    generation: AtomicU64,
    disk_dir: PathBuf,
    metrics: Data<Metrics>,
}

impl Chaos {
    pub fn new(disk_dir: PathBuf, metrics: Data<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            active: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            disk_dir,
            metrics,
        })
    }

    /// Active faults as contract JSON (expired ones are reverted first).
    pub fn list(&self) -> Vec<Value> {
        self.reap();
        self.lock().values().map(Active::to_json).collect()
    }

    /// Starts a fault; `Err(Conflict)` if one of that kind is active.
    pub fn inject(self: &Arc<Self>, spec: Spec) -> Result<Value, ApiError> {
        self.reap();
        let kind = spec.kind;
        let mut active = self.lock();
        if active.contains_key(&kind) {
            return Err(ApiError::Conflict(format!(
                "a {} fault is already active; DELETE /internal/chaos/{} first",
                kind.as_str(),
                kind.as_str()
            )));
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let now = SystemTime::now();
        let expires = Instant::now() + spec.duration;
        let stop = Arc::new(AtomicBool::new(false));
        let mut fault = Active {
            spec: spec.clone(),
            generation,
            started_at: now,
            expires_at: now + spec.duration,
            expires,
            stop: stop.clone(),
            written_mib: None,
            ballast: None,
        };
        match kind {
            Kind::Cpu => start_cpu(&spec, expires, &stop),
            Kind::Memory => start_memory(&spec, expires, &stop),
            Kind::Disk => {
                let path = self.disk_dir.join(format!(
                    "worker-server-chaos-{}.ballast",
                    std::process::id()
                ));
                let written = Arc::new(AtomicU64::new(0));
                start_disk(&spec, path.clone(), expires, &stop, &written);
                fault.written_mib = Some(written);
                fault.ballast = Some(path);
            }
            Kind::Latency | Kind::Errors => {}
        }
        let body = fault.to_json();
        active.insert(kind, fault);
        drop(active);
        self.metrics
            .chaos_active
            .with_label_values(&[kind.as_str()])
            .set(1);
        self.metrics
            .chaos_injections
            .with_label_values(&[kind.as_str()])
            .inc();
        info!(
            kind = kind.as_str(),
            params = %params_json(&spec),
            duration_seconds = spec.duration.as_secs(),
            "chaos fault injected"
        );
        // Expiry timer; effects also stop by themselves at `expires`.
        let chaos = self.clone();
        rt::spawn(async move {
            tokio::time::sleep_until(expires.into()).await;
            chaos.end(kind, Some(generation), "chaos fault expired");
        });
        Ok(body)
    }

    /// Reverts one kind; `false` when it was not active.
    pub fn revert(&self, kind: Kind) -> bool {
        self.reap();
        self.end(kind, None, "chaos fault reverted")
    }

    /// Reverts everything (DELETE /internal/chaos and shutdown).
    pub fn revert_all(&self) -> Vec<&'static str> {
        self.reap();
        Kind::ALL
            .into_iter()
            .filter(|k| self.end(*k, None, "chaos fault reverted"))
            .map(Kind::as_str)
            .collect()
    }

    /// Effect on one app-port request: delay first, then maybe a failure status.
    pub fn request_effect(&self) -> (Option<Duration>, Option<StatusCode>) {
        let active = self.lock();
        let now = Instant::now();
        let live = |k| active.get(&k).filter(|a: &&Active| a.expires > now);
        let delay = live(Kind::Latency).and_then(|a| {
            let spec = &a.spec;
            hit(spec.get("percent")).then(|| {
                let jitter = spec.get("jitter_ms").max(0) as u64;
                let extra = if jitter > 0 {
                    fastrand::u64(0..=jitter)
                } else {
                    0
                };
                Duration::from_millis(spec.get("delay_ms") as u64 + extra)
            })
        });
        let status = live(Kind::Errors).and_then(|a| {
            hit(a.spec.get("percent"))
                .then(|| StatusCode::from_u16(a.spec.get("status") as u16).ok())
                .flatten()
        });
        (delay, status)
    }

    /// Ends faults whose time is up (in case a timer could not run).
    fn reap(&self) {
        let now = Instant::now();
        let expired: Vec<(Kind, u64)> = self
            .lock()
            .iter()
            .filter(|(_, a)| a.expires <= now)
            .map(|(k, a)| (*k, a.generation))
            .collect();
        for (kind, generation) in expired {
            self.end(kind, Some(generation), "chaos fault expired");
        }
    }

    fn end(&self, kind: Kind, generation: Option<u64>, msg: &'static str) -> bool {
        let mut active = self.lock();
        let matches = active
            .get(&kind)
            .is_some_and(|a| generation.is_none_or(|g| g == a.generation));
        if !matches {
            return false;
        }
        let Some(fault) = active.remove(&kind) else {
            return false;
        };
        drop(active);
        fault.stop.store(true, Ordering::Release);
        if let Some(path) = &fault.ballast
            && let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!(path = %path.display(), error = %e, "cannot remove chaos ballast file");
        }
        self.metrics
            .chaos_active
            .with_label_values(&[kind.as_str()])
            .set(0);
        info!(kind = kind.as_str(), params = %params_json(&fault.spec), "{msg}");
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Kind, Active>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn hit(percent: i64) -> bool {
    percent >= 100 || (fastrand::i64(0..100) < percent)
}

fn running(stop: &AtomicBool, expires: Instant) -> bool {
    !stop.load(Ordering::Acquire) && Instant::now() < expires
}

/// `workers` threads, each busy `load_percent` of every 100 ms slice.
fn start_cpu(spec: &Spec, expires: Instant, stop: &Arc<AtomicBool>) {
    let load = spec.get("load_percent") as u64;
    for n in 0..spec.get("workers") {
        let stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("chaos-cpu-{n}"))
            .spawn(move || {
                let slice = Duration::from_millis(100);
                let busy = slice * load as u32 / 100;
                let mut x = 0u64;
                while running(&stop, expires) {
                    let start = Instant::now();
                    while start.elapsed() < busy {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                    if busy < slice {
                        std::thread::sleep(slice - busy);
                    }
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "cannot start chaos cpu thread");
        }
    }
}

/// Allocates and retains `rate_mib_per_second` MiB/s up to `max_mib`, touching
/// every page; freed when the fault ends.
fn start_memory(spec: &Spec, expires: Instant, stop: &Arc<AtomicBool>) {
    let rate = spec.get("rate_mib_per_second") as u64;
    let max = spec.get("max_mib") as u64;
    let stop = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("chaos-memory".into())
        .spawn(move || {
            const MIB: usize = 1 << 20;
            let mut leak: Vec<Vec<u8>> = Vec::new();
            let tick = Duration::from_millis(100);
            let mut owed = 0.0f64;
            while running(&stop, expires) {
                owed += rate as f64 / 10.0;
                while owed >= 1.0 && (leak.len() as u64) < max {
                    let mut chunk = vec![0u8; MIB];
                    for i in (0..MIB).step_by(4096) {
                        chunk[i] = 1;
                    }
                    leak.push(std::hint::black_box(chunk));
                    owed -= 1.0;
                }
                std::thread::sleep(tick);
            }
            drop(leak);
        });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start chaos memory thread");
    }
}

/// Writes the ballast file in 1 MiB chunks; stops at `size_mib` or ENOSPC.
fn start_disk(
    spec: &Spec,
    path: PathBuf,
    expires: Instant,
    stop: &Arc<AtomicBool>,
    written: &Arc<AtomicU64>,
) {
    let size = spec.get("size_mib") as u64;
    let (stop, written) = (stop.clone(), written.clone());
    let spawned = std::thread::Builder::new()
        .name("chaos-disk".into())
        .spawn(move || write_ballast(&path, size, expires, &stop, &written));
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start chaos disk thread");
    }
}

fn write_ballast(path: &Path, size: u64, expires: Instant, stop: &AtomicBool, written: &AtomicU64) {
    let mut file = match File::create(path) {
        Ok(f) => f,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot create chaos ballast file");
            return;
        }
    };
    let chunk = vec![0xA5u8; 1 << 20];
    for _ in 0..size {
        if !running(stop, expires) {
            break;
        }
        if let Err(e) = file.write_all(&chunk).and_then(|_| file.sync_data()) {
            warn!(path = %path.display(), error = %e, written_mib = written.load(Ordering::Relaxed),
                "chaos ballast stopped (disk full?)");
            break;
        }
        written.fetch_add(1, Ordering::Relaxed);
    }
    drop(file);
    // Reverted while writing: make sure the file does not outlive the fault.
    if stop.load(Ordering::Acquire) {
        let _ = std::fs::remove_file(path);
    }
}

/// App-port middleware: the `latency` and `errors` faults.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let chaos = req.app_data::<Data<Chaos>>().cloned();
    if let Some(chaos) = chaos {
        let (delay, status) = chaos.request_effect();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(status) = status {
            let err = ApiError::ChaosInjected(status);
            return Err(err.into());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: Kind, body: &str) -> Result<Spec, String> {
        Spec::parse(kind, body.as_bytes())
    }

    #[test]
    fn defaults_are_filled_and_ranges_checked() {
        let s = parse(Kind::Latency, r#"{"duration_seconds": 5}"#).unwrap();
        assert_eq!(s.duration, Duration::from_secs(5));
        assert_eq!(s.get("delay_ms"), 500);
        assert_eq!(s.get("jitter_ms"), 0);
        assert_eq!(s.get("percent"), 100);
        let e = |k, b| parse(k, b).unwrap_err();
        assert_eq!(e(Kind::Cpu, "{}"), "duration_seconds: required");
        assert!(
            e(Kind::Cpu, r#"{"duration_seconds": 601}"#)
                .starts_with("duration_seconds: 601 is out of range")
        );
        assert!(
            e(Kind::Cpu, r#"{"duration_seconds": "5"}"#)
                .starts_with("duration_seconds: must be an integer")
        );
        assert!(
            e(Kind::Cpu, r#"{"duration_seconds": 1.5}"#)
                .starts_with("duration_seconds: must be an integer")
        );
        assert!(e(Kind::Cpu, r#"{"duration_seconds": 5, "workers": 5}"#).starts_with("workers:"));
        assert!(
            e(Kind::Errors, r#"{"duration_seconds": 5, "status": 404}"#).starts_with("status:")
        );
        assert!(
            e(Kind::Disk, r#"{"duration_seconds": 5, "delay_ms": 1}"#)
                .starts_with("delay_ms: unknown field")
        );
        assert!(e(Kind::Disk, "nope").starts_with("body:"));
        assert!(e(Kind::Disk, "[]").starts_with("body:"));
    }

    #[test]
    fn disk_fault_writes_and_reverting_removes_the_ballast() {
        let dir = std::env::temp_dir().join(format!("ws-chaos-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let written = AtomicU64::new(0);
        let path = dir.join("ballast");
        write_ballast(
            &path,
            2,
            Instant::now() + Duration::from_secs(30),
            &stop,
            &written,
        );
        assert_eq!(written.load(Ordering::Relaxed), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 << 20);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
