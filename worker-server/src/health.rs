//! Process lifecycle as seen by health checks.
//!
//! Health is not a constant: the process reports DOWN until both servers are
//! running and again as soon as shutdown starts, so nginx and compose stop
//! sending work while in-flight requests drain. Later dependency checks
//! (queue, external API) belong here too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::json;

use crate::SERVICE_NAME;
use crate::config::BuildInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Lifecycle {
    Starting = 0,
    Up = 1,
    Draining = 2,
}

/// Shared, cheaply clonable lifecycle flag, and the build it reports.
#[derive(Debug, Clone)]
pub struct Health {
    state: Arc<AtomicU8>,
    build: Arc<BuildInfo>,
}

impl Health {
    pub fn new(build: BuildInfo) -> Self {
        Self {
            state: Arc::new(AtomicU8::new(Lifecycle::Starting as u8)),
            build: Arc::new(build),
        }
    }

    pub fn lifecycle(&self) -> Lifecycle {
        match self.state.load(Ordering::Acquire) {
            0 => Lifecycle::Starting,
            1 => Lifecycle::Up,
            _ => Lifecycle::Draining,
        }
    }

    pub fn set_up(&self) {
        // Never resurrect a draining process.
        let _ = self.state.compare_exchange(
            Lifecycle::Starting as u8,
            Lifecycle::Up as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    pub fn set_draining(&self) {
        self.state
            .store(Lifecycle::Draining as u8, Ordering::Release);
    }

    /// The health response shared by both ports: 200 UP or 503 DOWN with a
    /// reason. Both name the build, so a rollout can tell which one is draining.
    pub fn response(&self) -> HttpResponse {
        let (version, commit) = (&self.build.version, &self.build.commit);
        let reason = match self.lifecycle() {
            Lifecycle::Up => {
                return HttpResponse::Ok().json(json!({
                    "status": "UP",
                    "service": SERVICE_NAME,
                    "version": version,
                    "commit": commit,
                }));
            }
            Lifecycle::Starting => "starting",
            Lifecycle::Draining => "shutting down",
        };
        HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE).json(json!({
            "status": "DOWN",
            "service": SERVICE_NAME,
            "version": version,
            "commit": commit,
            "reason": reason,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_moves_forward_only() {
        let h = Health::new(BuildInfo::default());
        assert_eq!(h.lifecycle(), Lifecycle::Starting);
        h.set_up();
        assert_eq!(h.lifecycle(), Lifecycle::Up);
        h.set_draining();
        h.set_up();
        assert_eq!(h.lifecycle(), Lifecycle::Draining);
        assert_eq!(h.response().status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
