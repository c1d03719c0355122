//! What both HTTP ports share: their state, request ids and the JSON error
//! contract. Each port module (`app`, `ops`) declares only what differs.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, from_fn};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, Error};

use crate::error::{json_error_bodies, not_found};
use crate::health::Health;
use crate::telemetry::http_observe::observe;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::request_id::request_id;

/// One HTTP port: its routes and whether its requests are observed.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub routes: fn(&mut ServiceConfig),
    /// Access log line and RED metrics for every request.
    pub observe: bool,
}

impl Port {
    /// The complete application of this port; used by the server and by tests.
    pub fn build(
        self,
        health: Health,
        metrics: Data<Metrics>,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = Error,
            InitError = (),
        >,
    > {
        // `wrap` order: the last one is outermost. The request-id span must enclose
        // the access log, which must see the final (JSON-ified) status.
        App::new()
            .app_data(Data::new(health))
            .app_data(metrics)
            .configure(self.routes)
            .default_service(web::to(not_found))
            .wrap(json_error_bodies())
            .wrap(Condition::new(self.observe, from_fn(observe)))
            .wrap(from_fn(request_id))
    }
}
