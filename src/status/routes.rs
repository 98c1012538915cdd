//! The endpoints, as one pure function: [`route`] maps a request head and a
//! [`StatusSnapshot`] to a [`Response`]. No endpoint changes any state; the
//! same request and snapshot always give the same bytes. Only `GET` and
//! `HEAD` exist (HEAD is answered like GET, and the server drops the body).

use serde_json::{json, Value};

use super::encoding;
use super::http::{Method, RequestHead, Response};
use super::json::{history_document, status_document};
use super::metrics;
use super::page;
use super::snapshot::StatusSnapshot;

/// `Content-Type` of every JSON answer.
pub const JSON: &str = "application/json";
/// The methods every endpoint allows (the `Allow` header of a 405).
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// Every endpoint with a one-line description (listed in 404 answers).
pub const ENDPOINTS: [(&str, &str); 6] = [
    ("/", "live HTML page"),
    ("/status", "status JSON (schema 1, docs/STATUS.md)"),
    (
        "/status/history",
        "thermal history JSON: 1 s samples over 10 min",
    ),
    ("/metrics", "Prometheus text exposition"),
    (
        "/ready",
        "200 while admitting new connections, else 503 with the reason",
    ),
    (
        "/healthz",
        "200 while starting or the event loop is alive, else 503",
    ),
];

/// True for the probes, `GET`/`HEAD` of `/healthz` and `/ready`: cheap answers
/// the network thread gives itself, so they never wait for (or are refused
/// for want of) a worker.
pub fn is_probe(request: &RequestHead) -> bool {
    matches!(request.method, Method::Get | Method::Head)
        && matches!(request.path.as_str(), "/healthz" | "/ready")
}

/// True when answering `request` needs the thermal history in the snapshot.
pub fn needs_history(request: &RequestHead) -> bool {
    request.path == "/status/history"
}

/// Answers one request from one snapshot.
pub fn route(request: &RequestHead, snapshot: &StatusSnapshot) -> Response {
    if !matches!(request.method, Method::Get | Method::Head) {
        let method = match &request.method {
            Method::Other(name) => name.as_str(),
            _ => "",
        };
        return error_response(
            405,
            &format!(
                "method {method} not allowed: the status endpoints are read-only; use GET or HEAD"
            ),
        )
        .with_header("Allow", ALLOWED_METHODS);
    }
    let response = match request.path.as_str() {
        "/" => page::response(),
        "/status" => json_response(200, &status_document(snapshot), true),
        "/status/history" => json_response(200, &history_document(snapshot), false),
        "/metrics" => Response::new(
            200,
            metrics::CONTENT_TYPE,
            metrics::render(snapshot).into_bytes(),
        ),
        "/ready" => ready(snapshot),
        "/healthz" => healthz(snapshot),
        path => not_found(path),
    };
    encoding::negotiate(response, request.accept_encoding.as_deref())
}

fn ready(s: &StatusSnapshot) -> Response {
    let (reason, message) = s.readiness_reason();
    let ready = s.ready();
    let body = json!({
        "ready": ready,
        "state": s.gate.as_str(),
        "reason": reason,
        "message": message,
    });
    json_response(if ready { 200 } else { 503 }, &body, false)
}

fn healthz(s: &StatusSnapshot) -> Response {
    let alive = s.loop_alive();
    let body = json!({
        "alive": alive,
        "starting": s.loop_starting,
        "heartbeat_age_s": s.heartbeat_age.as_millis() as f64 / 1000.0,
        "stale_after_s": super::snapshot::HEARTBEAT_STALE_AFTER.as_millis() as f64 / 1000.0,
    });
    json_response(if alive { 200 } else { 503 }, &body, false)
}

fn not_found(path: &str) -> Response {
    let endpoints: Vec<Value> = ENDPOINTS
        .iter()
        .map(|(p, what)| json!({ "path": p, "what": what }))
        .collect();
    let body = json!({
        "error": "not found",
        "status": 404,
        "path": path,
        "endpoints": endpoints,
    });
    json_response(404, &body, true)
}

/// A JSON error answer: `{"error": message, "status": code}`.
pub fn error_response(status: u16, message: &str) -> Response {
    json_response(status, &json!({ "error": message, "status": status }), true)
}

fn json_response(status: u16, body: &Value, pretty: bool) -> Response {
    let mut bytes = if pretty {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    }
    .unwrap_or_else(|_| br#"{"error":"cannot encode the answer"}"#.to_vec());
    bytes.push(b'\n');
    Response::new(status, JSON, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::GateState;
    use crate::status::snapshot::fixtures;
    use std::io::Read;
    use std::time::Duration;

    fn get(path: &str, snapshot: &StatusSnapshot) -> Response {
        route(&RequestHead::new(Method::Get, path), snapshot)
    }

    fn body_json(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn status_is_json_with_the_schema_version() {
        let response = get("/status", &fixtures::with_thermal());
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type, JSON);
        let doc = body_json(&response);
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["thermal"]["temp_c"], 55.25);
    }

    #[test]
    fn status_is_gzipped_when_asked() {
        let snapshot = fixtures::with_thermal();
        let request =
            RequestHead::new(Method::Get, "/status").with_accept_encoding("gzip, deflate");
        let response = route(&request, &snapshot);
        assert_eq!(response.header("Content-Encoding"), Some("gzip"));
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&response.body[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, get("/status", &snapshot).body);
    }

    #[test]
    fn history_route() {
        let response = get("/status/history", &fixtures::with_thermal());
        assert_eq!(response.status, 200);
        assert_eq!(body_json(&response)["samples"].as_array().unwrap().len(), 5);
        assert!(needs_history(&RequestHead::new(
            Method::Get,
            "/status/history"
        )));
        assert!(!needs_history(&RequestHead::new(Method::Get, "/status")));
    }

    #[test]
    fn metrics_route_is_prometheus_text() {
        let response = get("/metrics", &fixtures::with_thermal());
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type, metrics::CONTENT_TYPE);
        assert!(String::from_utf8(response.body)
            .unwrap()
            .contains("# TYPE warden_connections_active gauge"));
    }

    #[test]
    fn page_route_is_self_contained_html() {
        let response = get("/", &fixtures::with_thermal());
        assert_eq!(response.status, 200);
        assert!(response.content_type.starts_with("text/html"));
        assert!(response
            .header("Content-Security-Policy")
            .unwrap()
            .contains("default-src 'none'"));
    }

    #[test]
    fn ready_is_200_only_while_admitting() {
        let mut snapshot = fixtures::with_thermal();
        let response = get("/ready", &snapshot);
        assert_eq!(response.status, 200);
        assert_eq!(body_json(&response)["ready"], true);
        for (gate, reason) in [
            (GateState::ShedPause, "cool"),
            (GateState::ShedReject, "cool"),
            (GateState::AtCapacityPause, "max_connections"),
            (GateState::AtCapacityReject, "max_connections"),
            (GateState::FdBackoff, "out_of_descriptors"),
            (GateState::Draining, "shutdown"),
        ] {
            snapshot.gate = gate;
            let response = get("/ready", &snapshot);
            assert_eq!(response.status, 503, "{gate:?}");
            let body = body_json(&response);
            assert_eq!(body["ready"], false);
            assert_eq!(body["state"], gate.as_str());
            assert_eq!(body["reason"], reason, "{gate:?}");
        }
    }

    #[test]
    fn ready_is_503_when_the_loop_is_stalled_even_if_open() {
        let mut snapshot = fixtures::with_thermal();
        snapshot.heartbeat_age = Duration::from_secs(5);
        let response = get("/ready", &snapshot);
        assert_eq!(response.status, 503);
        assert_eq!(body_json(&response)["reason"], "event_loop_stalled");
    }

    #[test]
    fn healthz_follows_the_heartbeat() {
        let mut snapshot = fixtures::without_thermal();
        let response = get("/healthz", &snapshot);
        assert_eq!(response.status, 200);
        assert_eq!(body_json(&response)["alive"], true);
        snapshot.heartbeat_age = Duration::from_millis(1500);
        let response = get("/healthz", &snapshot);
        assert_eq!(response.status, 503);
        assert_eq!(body_json(&response)["alive"], false);
    }

    #[test]
    fn a_starting_warden_is_alive_but_not_ready() {
        let snapshot = fixtures::starting();
        let response = get("/healthz", &snapshot);
        assert_eq!(response.status, 200, "a liveness probe must not kill it");
        let body = body_json(&response);
        assert_eq!(body["alive"], true);
        assert_eq!(body["starting"], true);
        let response = get("/ready", &snapshot);
        assert_eq!(response.status, 503);
        let body = body_json(&response);
        assert_eq!(body["ready"], false);
        assert_eq!(body["reason"], "starting");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("starting") && message.contains("first thermal reading"),
            "{message}"
        );
        let once_running = get("/healthz", &fixtures::with_thermal());
        assert_eq!(body_json(&once_running)["starting"], false);
    }

    #[test]
    fn unknown_paths_are_404_json_listing_the_endpoints() {
        for path in ["/nope", "/status/", "/metrics/x", "/STATUS"] {
            let response = get(path, &fixtures::with_thermal());
            assert_eq!(response.status, 404, "{path}");
            assert_eq!(response.content_type, JSON);
            let body = body_json(&response);
            assert_eq!(body["path"], path);
            assert_eq!(body["endpoints"].as_array().unwrap().len(), ENDPOINTS.len());
        }
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let request = RequestHead::new(Method::Other(method.into()), "/status");
            let response = route(&request, &fixtures::with_thermal());
            assert_eq!(response.status, 405, "{method}");
            assert_eq!(response.header("Allow"), Some(ALLOWED_METHODS));
            assert!(body_json(&response)["error"]
                .as_str()
                .unwrap()
                .contains(method));
        }
    }

    #[test]
    fn head_gets_the_same_headers_as_get() {
        let snapshot = fixtures::with_thermal();
        let get = route(&RequestHead::new(Method::Get, "/status"), &snapshot);
        let head = route(&RequestHead::new(Method::Head, "/status"), &snapshot);
        assert_eq!(
            get, head,
            "the server drops the body of a HEAD answer when it writes it"
        );
    }

    #[test]
    fn answers_depend_only_on_the_request_and_the_snapshot() {
        let snapshot = fixtures::with_thermal();
        for (path, _) in ENDPOINTS {
            let first = get(path, &snapshot);
            std::thread::sleep(Duration::from_millis(2));
            assert_eq!(get(path, &snapshot), first, "{path}");
        }
    }
}
