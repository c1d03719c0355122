//! The app port (8080): what nginx routes to, plus core-server's internal job
//! dispatch (`/internal/jobs`, never routed by nginx).

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes, Data, ServiceConfig};
use serde_json::json;
use tracing::{info, warn};

use crate::error::ApiError;
use crate::health::Health;
use crate::jobs::{Admission, Job, Jobs};
use crate::port::Port;
use crate::telemetry::request_id::RequestId;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(web::resource("/health").get(health))
        .service(web::resource("/internal/jobs").post(dispatch));
}

async fn health(health: Data<Health>) -> HttpResponse {
    health.response()
}

/// `POST /internal/jobs` (docs/contracts/core-worker.md).
async fn dispatch(
    jobs: Data<Jobs>,
    request_id: RequestId,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let job = match Job::from_dispatch(&body, request_id.as_str()) {
        Ok(job) => job,
        Err(message) => {
            jobs.note_invalid();
            warn!(error = %message, "job refused: invalid dispatch");
            return Err(ApiError::BadRequest(message));
        }
    };
    let (job_id, job_type) = (job.id.clone(), job.job_type.as_str());
    match jobs.submit(job) {
        Admission::Accepted => {
            info!(job_id, job_type, "job accepted");
            Ok(HttpResponse::Accepted().json(json!({"job_id": job_id, "status": "queued"})))
        }
        Admission::Duplicate(state) => {
            info!(
                job_id,
                state = state.as_str(),
                "duplicate job dispatch ignored"
            );
            Ok(HttpResponse::Ok()
                .json(json!({"job_id": job_id, "status": "duplicate", "state": state.as_str()})))
        }
        Admission::QueueFull { retry_after_secs } => {
            warn!(job_id, "job refused: queue full");
            Err(ApiError::QueueFull(retry_after_secs))
        }
        Admission::ShuttingDown { retry_after_secs } => {
            info!(job_id, "job refused: shutting down");
            Err(ApiError::ShuttingDown(retry_after_secs))
        }
    }
}

/// The app port, observed: every request gets an access log line and RED metrics.
pub const PORT: Port = Port {
    routes,
    observe: true,
    chaos: true,
};
