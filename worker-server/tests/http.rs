//! HTTP behaviour of both ports through `actix_web::test` (no sockets).

mod common;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Data;
use actix_web::{App, test};
use serde_json::{Value, json};

use worker_server::config::BuildInfo;
use worker_server::health::Health;
use worker_server::port::State;
use worker_server::telemetry::metrics::Metrics;
use worker_server::testing::{config, sample};
use worker_server::{SERVICE_NAME, app, ops};

fn up() -> Health {
    let health = Health::new(BuildInfo::default());
    health.set_up();
    health
}

fn metrics() -> Data<Metrics> {
    Data::new(Metrics::new(SERVICE_NAME, &BuildInfo::default()).unwrap())
}

fn header(res: &ServiceResponse<impl MessageBody>, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn content_type(res: &ServiceResponse<impl MessageBody>) -> String {
    header(res, CONTENT_TYPE.as_str())
}

/// The app and ops services (`test::init_service`) of one process: one health
/// state (UP), one metrics registry. A macro: the services' request type
/// (`actix_http::Request`) cannot be named here without another dependency.
macro_rules! both_ports {
    () => {{
        let (health, metrics) = (up(), metrics());
        let app = app::PORT.build(State::basic(health.clone(), metrics.clone()));
        let ops = ops::PORT.build(State::basic(health, metrics));
        (test::init_service(app).await, test::init_service(ops).await)
    }};
}

/// `GET <uri>` on a service from `test::init_service` (awaited).
macro_rules! get {
    ($svc:expr, $uri:expr) => {
        test::call_service($svc, test::TestRequest::get().uri($uri).to_request()).await
    };
}

#[actix_web::test]
async fn health_is_up_on_both_ports() {
    common::logs();
    let (app_svc, ops_svc) = both_ports!();
    assert_up(get!(&app_svc, "/health")).await;
    assert_up(get!(&ops_svc, "/health")).await;
}

async fn assert_up(res: ServiceResponse<impl MessageBody>) {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(content_type(&res), "application/json");
    let body: Value = test::read_body_json(res).await;
    assert_eq!(
        body,
        json!({"status": "UP", "service": "worker-server", "version": "dev", "commit": "unknown"})
    );
}

/// `APP_VERSION`/`APP_COMMIT`, read by the configuration, reach the health body
/// of both ports (UP and DOWN) and `build_info` on the ops port's `/metrics`;
/// unset or blank they are a developer build's `dev`/`unknown`.
#[actix_web::test]
async fn health_and_build_info_report_the_configured_build() {
    common::logs();
    let commit = "6492e4b1c0de8f3a9d2b7c4e5f60718293a4b5c6";
    let cases = [
        (
            vec![("APP_VERSION", "6492e4b1c0de"), ("APP_COMMIT", commit)],
            "6492e4b1c0de",
            commit,
        ),
        (
            vec![
                ("APP_VERSION", "6492e4b1c0de-dirty"),
                ("APP_COMMIT", commit),
            ],
            "6492e4b1c0de-dirty",
            commit,
        ),
        (vec![], "dev", "unknown"),
        (
            vec![("APP_VERSION", ""), ("APP_COMMIT", "  ")],
            "dev",
            "unknown",
        ),
        // Free text is passed through, never spliced into the JSON.
        (
            vec![("APP_VERSION", r#"v"1",}"#), ("APP_COMMIT", "a\\b\nc")],
            r#"v"1",}"#,
            "a\\b\nc",
        ),
    ];
    for (vars, version, commit) in &cases {
        let build = config(vars).build;
        let health = Health::new(build.clone());
        let metrics = Data::new(Metrics::new(SERVICE_NAME, &build).unwrap());
        let app = app::PORT.build(State::basic(health.clone(), metrics.clone()));
        let ops = ops::PORT.build(State::basic(health.clone(), metrics));
        let (app_svc, ops_svc) = (test::init_service(app).await, test::init_service(ops).await);

        health.set_up();
        for svc in [&app_svc, &ops_svc] {
            let res = get!(svc, "/health");
            assert_eq!(res.status(), StatusCode::OK);
            let body: Value = test::read_body_json(res).await;
            assert_eq!(
                body,
                json!({"status": "UP", "service": SERVICE_NAME, "version": version, "commit": commit}),
                "{vars:?}"
            );
        }
        health.set_draining();
        let body: Value = test::read_body_json(get!(&ops_svc, "/health")).await;
        assert_eq!(
            (&body["status"], &body["version"], &body["commit"]),
            (&json!("DOWN"), &json!(version), &json!(commit)),
            "{vars:?}"
        );

        let text =
            String::from_utf8(test::read_body(get!(&ops_svc, "/metrics")).await.to_vec()).unwrap();
        let info: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("build_info"))
            .collect();
        assert_eq!(info.len(), 1, "{text}");
        if !version.contains('"') {
            // Exactly these labels: the build, plus the registry's `service` once.
            let labels = [
                ("commit", *commit),
                ("version", *version),
                ("service", SERVICE_NAME),
            ];
            assert_eq!(sample(&text, "build_info", &labels), Some(1.0), "{text}");
            let label_count = info[0].matches("=\"").count();
            assert_eq!(label_count, 3, "{}", info[0]);
        }
    }
}

#[actix_web::test]
async fn health_reports_down_while_starting_and_draining() {
    common::logs();
    let health = Health::new(BuildInfo::default());
    let svc = test::init_service(ops::PORT.build(State::basic(health.clone(), metrics()))).await;

    let res = get!(&svc, "/health");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["reason"], "starting");

    health.set_up();
    health.set_draining();
    let res = get!(&svc, "/health");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["reason"], "shutting down");
}

async fn assert_json_error(res: ServiceResponse<impl MessageBody>, status: StatusCode, code: &str) {
    assert_eq!(res.status(), status);
    assert_eq!(content_type(&res), "application/json");
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[actix_web::test]
async fn unknown_paths_and_wrong_methods_get_json_errors() {
    common::logs();
    let (app_svc, ops_svc) = both_ports!();

    let res = get!(&app_svc, "/does/not/exist");
    assert_json_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = get!(&ops_svc, "/does/not/exist");
    assert_json_error(res, StatusCode::NOT_FOUND, "not_found").await;

    // The ops-only route is not reachable through the app port.
    let res = get!(&app_svc, "/metrics");
    assert_json_error(res, StatusCode::NOT_FOUND, "not_found").await;

    // 405 is produced by actix itself with an empty body; the fallback makes it JSON
    // and keeps its `Allow` header.
    let res = test::call_service(
        &app_svc,
        test::TestRequest::post().uri("/health").to_request(),
    )
    .await;
    assert_eq!(header(&res, "allow"), "GET");
    assert_json_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[actix_web::test]
async fn request_id_is_echoed_or_generated() {
    common::logs();
    let svc = test::init_service(app::PORT.build(State::basic(up(), metrics()))).await;

    let req = get_with_id("/health", "nginx-7f3a").to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(header(&res, "x-request-id"), "nginx-7f3a");

    // Also on error responses.
    let req = test::TestRequest::get().uri("/missing").to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let generated = header(&res, "x-request-id");
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));

    // An id that is unsafe to log is replaced, not echoed.
    let req = get_with_id("/health", "a b\"c").to_request();
    let res = test::call_service(&svc, req).await;
    let replaced = header(&res, "x-request-id");
    assert_ne!(replaced, "a b\"c");
    assert_eq!(replaced.len(), 32);
}

/// What the server sends for `test::try_call_service`'s result: an `Err` out of the app becomes its
/// `error_response()` after every middleware, as actix's dispatcher does it.
async fn sent(
    result: Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error>,
) -> (StatusCode, Vec<String>, Value) {
    let res = match result {
        Ok(res) => res.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    let status = res.status();
    let ids = res
        .headers()
        .get_all("x-request-id")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .collect();
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    (
        status,
        ids,
        serde_json::from_slice(&body).unwrap_or_default(),
    )
}

/// Asserts that the server sends `status` with the JSON error `code` and the
/// request id `id` exactly once for `result` (of `test::try_call_service`).
async fn assert_error_sent(
    result: Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error>,
    status: StatusCode,
    code: &str,
    id: &str,
) {
    let (sent_status, ids, body) = sent(result).await;
    assert_eq!(sent_status, status, "{body}");
    assert_eq!(ids, [id]);
    assert_eq!(body["error"], code, "{body}");
}

/// `GET <uri>` with `X-Request-ID: <id>`.
fn get_with_id(uri: &str, id: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(("X-Request-ID", id))
}

#[actix_web::test]
async fn chaos_errors_5xx_echoes_the_request_id_once() {
    common::logs();
    use worker_server::chaos::{Kind, Spec};

    let state = State::basic(up(), metrics());
    let chaos = state.chaos.clone().into_inner();
    let spec = Spec::parse(Kind::Errors, br#"{"duration_seconds": 60, "status": 503}"#).unwrap();
    chaos.inject(spec).unwrap();
    let svc = test::init_service(app::PORT.build(state)).await;

    // The fault is an `Err` from a middleware, not a handler's response.
    let req = get_with_id("/health", "chaos-rid-1").to_request();
    let res = test::try_call_service(&svc, req).await;
    assert_error_sent(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        "chaos_injected",
        "chaos-rid-1",
    )
    .await;

    // Without an incoming id, the generated one is echoed.
    let req = test::TestRequest::get().uri("/health").to_request();
    let (status, ids, _) = sent(test::try_call_service(&svc, req).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].len(), 32);
    assert!(ids[0].bytes().all(|b| b.is_ascii_hexdigit()));

    chaos.revert_all();
}

#[actix_web::test]
async fn error_produced_4xx_echoes_the_request_id_once() {
    common::logs();
    use actix_web::dev::ServiceRequest;
    use actix_web::middleware::{Next, from_fn};
    use worker_server::error::ApiError;
    use worker_server::telemetry::request_id::request_id;

    // A middleware that refuses the request with an `Err` (as an auth or
    // rate-limit layer would), below the request-id middleware.
    async fn refuse(
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        if req.path() == "/refused" {
            return Err(ApiError::BadRequest("refused".into()).into());
        }
        next.call(req).await
    }
    let svc = test::init_service(
        App::new()
            .route(
                "/refused",
                actix_web::web::get().to(|| async { "unreachable" }),
            )
            .wrap(from_fn(refuse))
            .wrap(from_fn(request_id)),
    )
    .await;
    let req = get_with_id("/refused", "rid-400").to_request();
    let res = test::try_call_service(&svc, req).await;
    assert_error_sent(res, StatusCode::BAD_REQUEST, "bad_request", "rid-400").await;

    // The full app: a handler's 400 (invalid dispatch) and the JSON 404, once each.
    let svc = test::init_service(app::PORT.build(State::basic(up(), metrics()))).await;
    let req = test::TestRequest::post()
        .uri("/internal/jobs")
        .insert_header(("X-Request-ID", "rid-bad-dispatch"))
        .set_payload("not json")
        .to_request();
    let res = test::try_call_service(&svc, req).await;
    assert_error_sent(
        res,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "rid-bad-dispatch",
    )
    .await;
    let req = get_with_id("/nowhere", "rid-404").to_request();
    let res = test::try_call_service(&svc, req).await;
    assert_error_sent(res, StatusCode::NOT_FOUND, "not_found", "rid-404").await;
}

#[actix_web::test]
async fn metrics_count_app_requests_by_route_and_status() {
    common::logs();
    let (app_svc, ops_svc) = both_ports!();

    for uri in ["/health", "/health", "/nope/1", "/nope/2"] {
        get!(&app_svc, uri);
    }
    let res = get!(&ops_svc, "/metrics");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(content_type(&res).starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();

    let count = |route, status| {
        sample(
            &text,
            "http_server_requests_total",
            &[
                ("service", "worker-server"),
                ("method", "GET"),
                ("route", route),
                ("status", status),
            ],
        )
    };
    assert_eq!(count("/health", "200"), Some(2.0), "{text}");
    // Raw paths never become labels: both misses share one series.
    assert_eq!(count("unmatched", "404"), Some(2.0), "{text}");
    assert!(!text.contains("/nope"), "{text}");
    assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"));
    // Scrapes of the ops port are not counted as app traffic.
    assert!(!text.contains(r#"route="/metrics""#), "{text}");
}

#[actix_web::test]
async fn each_app_request_logs_one_access_line_with_request_id() {
    let logs = common::logs();
    let svc = test::init_service(app::PORT.build(State::basic(up(), metrics()))).await;

    let req = get_with_id("/health?probe=1", "rid-access-1").to_request();
    test::call_service(&svc, req).await;
    let req = test::TestRequest::delete().uri("/gone").to_request();
    let res = test::call_service(&svc, req).await;
    let generated = header(&res, "x-request-id");

    // Other tests log into the same capture; pick this test's lines by id.
    let access_for = |id: &str| -> Vec<_> {
        logs.lines()
            .into_iter()
            .filter(|l| l["msg"] == "request completed" && l["request_id"] == id)
            .collect()
    };
    let first = access_for("rid-access-1");
    assert_eq!(first.len(), 1, "{first:?}");
    let first = &first[0];
    assert_eq!(first["level"], "info");
    assert_eq!(first["service"], "worker-server");
    assert_eq!(first["request_id"], "rid-access-1");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/health");
    assert_eq!(first["status"], 200);
    assert!(first["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
    assert!(first["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')));

    let second = access_for(&generated);
    assert_eq!(second.len(), 1, "{second:?}");
    let second = &second[0];
    assert_eq!(second["method"], "DELETE");
    assert_eq!(second["status"], 404);
}

#[actix_web::test]
async fn request_id_extractor_sees_the_middleware_id() {
    common::logs();
    use actix_web::middleware::from_fn;
    use worker_server::telemetry::request_id::{RequestId, request_id};

    // A handler that would propagate the id on an outgoing call.
    let svc = test::init_service(
        App::new()
            .route(
                "/echo",
                actix_web::web::get().to(|id: RequestId| async move { id.to_string() }),
            )
            .wrap(from_fn(request_id)),
    )
    .await;
    let req = get_with_id("/echo", "prop-1").to_request();
    let body = test::call_and_read_body(&svc, req).await;
    assert_eq!(body, "prop-1");
}
