//! Process wiring: configuration, logging, both HTTP servers, signals and
//! graceful shutdown.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::task::Poll;
use std::time::Instant;

use actix_web::rt::signal::unix::{Signal, SignalKind, signal};
use actix_web::web::Data;
use actix_web::{HttpServer, rt};
use thiserror::Error;
use tracing::level_filters::LevelFilter;
use tracing::{error, info, warn};

use crate::config::{BuildInfo, Config};
use crate::health::Health;
use crate::port::State;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::{error_tracking, logging};
use crate::{SERVICE_NAME, app, ops};

/// Upper bound for draining in-flight requests after SIGTERM (contract: <= 10 s).
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] io::Error),
    #[error("cannot create the HTTP client: {0}")]
    HttpClient(String),
    #[error("cannot create metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("{server} server failed: {reason}")]
    Server {
        server: &'static str,
        reason: String,
    },
}

/// Entry point of the binary. Exit codes: 0 after a clean shutdown, 1 on a
/// runtime failure, 2 on invalid configuration.
pub fn main() -> ExitCode {
    let config = Config::from_env();
    // Logging comes first so that even a configuration error is a JSON line,
    // and one with the build's version (which is never invalid).
    let version = config.as_ref().map_or_else(
        |_| BuildInfo::from_env().version,
        |c| c.build.version.clone(),
    );
    logging::init(
        config.as_ref().map_or(LevelFilter::INFO, |c| c.log_level),
        &version,
        config.as_ref().is_ok_and(|c| c.sentry.dsn.is_some()),
    );
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            error!(error = %err, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    // Before any other thread starts, so that all of them see the client.
    let sentry = error_tracking::init(&config.sentry, &config.build);
    let code = match rt::System::new().block_on(run(config)) {
        Ok(()) => {
            info!("shutdown complete");
            ExitCode::SUCCESS
        }
        Err(err) => {
            error!(error = %err, "worker-server failed");
            sentry::capture_error(&err);
            ExitCode::FAILURE
        }
    };
    // Sends what is still queued, bounded by `error_tracking::FLUSH_TIMEOUT`.
    drop(sentry);
    code
}

/// Runs both servers until a shutdown signal (or a server failure).
pub async fn run(config: Config) -> Result<(), ServerError> {
    // Installed before listening, so a SIGTERM during startup is not lost.
    let mut signals = ShutdownSignals::install().map_err(ServerError::Signals)?;
    let health = Health::new(config.build.clone());
    let metrics = Data::new(Metrics::new(SERVICE_NAME, &config.build)?);
    let state = State::new(&config, health.clone(), metrics.clone())
        .map_err(|e| ServerError::HttpClient(e.to_string()))?;
    let jobs = state.jobs_arc();

    // actix's own signal handling is disabled: one handler stops both servers in
    // order (app drains first, ops stays up meanwhile, reporting DOWN).
    let app_addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.app_port));
    let app_server = HttpServer::new({
        let state = state.clone();
        move || app::PORT.build(state.clone())
    })
    .workers(config.http_workers.get())
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .disable_signals()
    .bind(app_addr)
    .map_err(|source| ServerError::Bind {
        addr: app_addr,
        source,
    })?
    .run();

    let ops_addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.ops_port));
    let ops_server = HttpServer::new({
        let state = state.clone();
        move || ops::PORT.build(state.clone())
    })
    // Health probes and scrapes are light; one thread keeps memory down.
    .workers(1)
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .disable_signals()
    .bind(ops_addr)
    .map_err(|source| ServerError::Bind {
        addr: ops_addr,
        source,
    })?
    .run();

    let (app_handle, ops_handle) = (app_server.handle(), ops_server.handle());
    // A `Server` does nothing until polled: run each as its own task.
    let app_task = rt::spawn(app_server);
    let ops_task = rt::spawn(ops_server);
    // The job pool runs on this (the main) runtime; intake handlers on the HTTP
    // worker threads only put jobs into the queue.
    let pool = jobs.start();
    health.set_up();
    // `version` is on every line already (and a reserved field name there).
    info!(
        commit = %config.build.commit,
        app_port = config.app_port,
        ops_port = config.ops_port,
        http_workers = config.http_workers.get(),
        job_workers = config.jobs.pool_size,
        queue_capacity = config.jobs.queue_capacity,
        ext_api_url = %config.jobs.ext_api_url,
        "worker-server started"
    );

    let signalled_at = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    rt::spawn({
        let (health, jobs, signalled_at) = (health.clone(), jobs.clone(), signalled_at.clone());
        async move {
            let signal = signals.recv().await;
            *signalled_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            info!(
                signal,
                timeout_s = SHUTDOWN_TIMEOUT_SECS,
                "shutdown signal received, draining in-flight requests"
            );
            health.set_draining();
            // New dispatches get 503 from now on (core retries elsewhere/later).
            jobs.stop_intake();
            let graceful = app_handle.stop(true);
            // A second signal means "now": stop without waiting for requests.
            let again = async {
                let signal = signals.recv().await;
                warn!(signal, "second signal received, stopping immediately");
                app_handle.stop(false).await;
            };
            race(graceful, again).await;
        }
    });

    let app_result = app_task.await;
    // The app server is gone (drained, or failed): finish or hand back the jobs
    // within the grace period (counted from the signal), then the ops server.
    health.set_draining();
    let started = signalled_at
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_else(Instant::now);
    let grace = config.shutdown_grace.saturating_sub(started.elapsed());
    jobs.shutdown(pool, grace).await;
    let reverted = state.chaos.revert_all();
    if !reverted.is_empty() {
        info!(reverted = ?reverted, "chaos faults reverted at shutdown");
    }
    ops_handle.stop(true).await;
    let ops_result = ops_task.await;
    server_result("app", app_result)?;
    server_result("ops", ops_result)
}

fn server_result(
    server: &'static str,
    joined: Result<io::Result<()>, rt::task::JoinError>,
) -> Result<(), ServerError> {
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ServerError::Server {
            server,
            reason: e.to_string(),
        }),
        Err(e) => Err(ServerError::Server {
            server,
            reason: e.to_string(),
        }),
    }
}

/// Polls two futures and finishes with whichever completes first (tokio's
/// `select!` is not enabled in actix's runtime, and this avoids a dependency).
async fn race(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    fn install() -> io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        std::future::poll_fn(|cx| {
            if self.term.poll_recv(cx).is_ready() {
                Poll::Ready("SIGTERM")
            } else if self.int.poll_recv(cx).is_ready() {
                Poll::Ready("SIGINT")
            } else {
                Poll::Pending
            }
        })
        .await
    }
}
