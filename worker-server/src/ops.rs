//! The ops port (8081): health and metrics for compose and Prometheus, and the
//! chaos contract (docs/contracts/chaos.md). Not routed by nginx.
//! No access log here: scrapes and health probes every few seconds would drown
//! the app's lines.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes, Data, Path, ServiceConfig};
use serde_json::json;

use crate::SERVICE_NAME;
use crate::chaos::{Chaos, Kind, Spec};
use crate::error::ApiError;
use crate::health::Health;
use crate::jobs::Jobs;
use crate::port::Port;
use crate::telemetry::metrics::Metrics;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(web::resource("/health").get(health))
        .service(web::resource("/metrics").get(metrics))
        .service(
            web::resource("/internal/chaos")
                .get(chaos_list)
                .delete(chaos_revert_all),
        )
        .service(
            web::resource("/internal/chaos/{kind}")
                .post(chaos_inject)
                .delete(chaos_revert),
        );
}

async fn health(health: Data<Health>) -> HttpResponse {
    health.response()
}

async fn metrics(metrics: Data<Metrics>, jobs: Data<Jobs>) -> Result<HttpResponse, ApiError> {
    jobs.ext_api().refresh_circuit_metric();
    let body = metrics.render()?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(body))
}

fn kind(name: &str) -> Result<Kind, ApiError> {
    Kind::parse(name).ok_or_else(|| {
        ApiError::NotFoundMsg(format!(
            "unknown chaos kind {name:?} (known: cpu, memory, latency, errors, disk)"
        ))
    })
}

async fn chaos_list(chaos: Data<Chaos>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"service": SERVICE_NAME, "faults": chaos.list()}))
}

async fn chaos_inject(
    chaos: Data<Chaos>,
    name: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let kind = kind(&name)?;
    let spec = Spec::parse(kind, &body).map_err(ApiError::BadRequest)?;
    let fault = chaos.into_inner().inject(spec)?;
    Ok(HttpResponse::Created().json(json!({"fault": fault})))
}

async fn chaos_revert_all(chaos: Data<Chaos>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"reverted": chaos.revert_all()}))
}

async fn chaos_revert(chaos: Data<Chaos>, name: Path<String>) -> Result<HttpResponse, ApiError> {
    let kind = kind(&name)?;
    if chaos.revert(kind) {
        Ok(HttpResponse::Ok().json(json!({"reverted": [kind.as_str()]})))
    } else {
        Err(ApiError::NotFoundMsg(format!(
            "no active {} fault",
            kind.as_str()
        )))
    }
}

/// The ops port, not observed (see the module docs); chaos does not act here.
pub const PORT: Port = Port {
    routes,
    observe: false,
    chaos: false,
};
