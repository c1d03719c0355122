//! What both HTTP ports share: their state, request ids and the JSON error
//! contract. Each port module (`app`, `ops`) declares only what differs.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, from_fn};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, Error};

use std::sync::Arc;

use crate::chaos::Chaos;
use crate::config::Config;
use crate::error::{json_error_bodies, not_found};
use crate::health::Health;
use crate::jobs::Jobs;
use crate::telemetry::error_tracking;
use crate::telemetry::http_observe::observe;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::request_id::request_id;

/// One HTTP port: its routes and whether its requests are observed.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub routes: fn(&mut ServiceConfig),
    /// Access log line and RED metrics for every request.
    pub observe: bool,
    /// The `latency` and `errors` chaos faults act on this port's requests.
    pub chaos: bool,
}

/// Everything the handlers of both ports share.
#[derive(Clone)]
pub struct State {
    pub health: Health,
    pub metrics: Data<Metrics>,
    pub jobs: Data<Jobs>,
    pub chaos: Data<Chaos>,
}

impl State {
    pub fn new(
        config: &Config,
        health: Health,
        metrics: Data<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        let jobs = Jobs::new(config.jobs.clone(), metrics.clone())?;
        let chaos = Chaos::new(config.chaos_disk_path.clone(), metrics.clone());
        Ok(Self {
            health,
            metrics,
            jobs: Data::from(jobs),
            chaos: Data::from(chaos),
        })
    }

    /// Default configuration (tests): the job pool is not started.
    pub fn basic(health: Health, metrics: Data<Metrics>) -> Self {
        let config = Config::from_lookup(|_| None).expect("defaults are valid");
        Self::new(&config, health, metrics).expect("HTTP clients build")
    }

    pub fn jobs_arc(&self) -> Arc<Jobs> {
        self.jobs.clone().into_inner()
    }
}

impl Port {
    /// The complete application of this port; used by the server and by tests.
    pub fn build(
        self,
        state: State,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = Error,
            InitError = (),
        >,
    > {
        let sentry = error_tracking::enabled();
        // `wrap` order: the last one is outermost. The request-id span must enclose
        // the access log, which must see the final (JSON-ified) status.
        App::new()
            .app_data(Data::new(state.health))
            .app_data(state.metrics)
            .app_data(state.jobs)
            .app_data(state.chaos)
            .configure(self.routes)
            .default_service(web::to(not_found))
            .wrap(Condition::new(
                self.chaos,
                from_fn(crate::chaos::middleware),
            ))
            // Sentry (only when a DSN is configured): the request's own hub, and
            // inside it the reporting of 5xx (also those of the chaos fault above).
            // Inside `json_error_bodies`, which may drop the original error.
            .wrap(Condition::new(
                sentry,
                from_fn(error_tracking::report_server_errors),
            ))
            .wrap(Condition::new(
                sentry,
                sentry::integrations::actix::Sentry::builder()
                    .capture_server_errors(false)
                    .finish(),
            ))
            .wrap(json_error_bodies())
            .wrap(Condition::new(self.observe, from_fn(observe)))
            .wrap(from_fn(request_id))
    }
}
