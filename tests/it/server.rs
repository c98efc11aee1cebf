//! `da serve` in process (no sockets): every endpoint, status code and auth edge case.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::common::Workspace;

pub(crate) const ADMIN: &str = "admin-secret-token";
pub(crate) const ANALYST: &str = "analyst-secret-token";

fn sha(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A server over the demo warehouse; `extra` adds keys under `server:`.
fn app(ws: &Workspace, extra: &str) -> axum::Router {
    app_with(ws, extra, "")
}

fn app_with(ws: &Workspace, extra: &str, top: &str) -> axum::Router {
    da::server::router(
        server_settings(ws, DEMO_ANALYTICS, extra, top),
        crate::common::workers(),
    )
}

/// The demo's analytics database, as the `analytics:` mapping of a server config.
pub(crate) const DEMO_ANALYTICS: &str = "{database: analytics.duckdb}";

/// Settings of a server over the demo warehouse with an admin and an analyst token:
/// `analytics` is the `analytics:` mapping, `extra` adds keys under `server:`, `top` adds
/// top-level keys.
pub(crate) fn server_settings(
    ws: &Workspace,
    analytics: &str,
    extra: &str,
    top: &str,
) -> da::settings::Settings {
    let config = format!(
        "{top}bigquery: {{backend: local, local_warehouse: warehouse}}\nanalytics: {analytics}\nserver:\n  tokens:\n    - {{name: ops, sha256: {}, role: admin}}\n    - {{name: ana, sha256: {}, role: analyst}}\n{extra}",
        sha(ADMIN),
        sha(ANALYST)
    );
    std::fs::write(ws.path("server.yaml"), config).unwrap();
    let overrides = da::settings::Overrides {
        config: Some(ws.path("server.yaml")),
        ..Default::default()
    };
    da::settings::Settings::resolve(&overrides, &|_| None).unwrap()
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let response = app
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn hybrid_answers_admins_with_rows_and_per_alias_stats() {
    let ws = Workspace::new();
    let app = app(&ws, "");
    let body = json!({
        "register_bq": {"traffic": "SELECT date, views FROM `acme-prod.analytics.web` WHERE page = '/'"},
        "sql": "SELECT count(*) AS days, sum(views) AS views FROM traffic JOIN (SELECT DISTINCT date FROM orders) USING (date)",
        "format": "json"
    });
    let (status, v) = call(
        &app,
        "POST",
        "/api/query/hybrid",
        Some(&bearer(ADMIN)),
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["columns"], json!(["days", "views"]));
    assert_eq!(v["rows"][0][0], 120);
    assert_eq!(v["row_count"], 1);
    assert_eq!(v["truncated"], false);
    assert_eq!(v["bq_stats"]["traffic"]["rows"], 120);
    assert_eq!(v["bq_stats"]["traffic"]["columns"], 2);
    assert!(v["bq_stats"]["traffic"]["memory_mb"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn auth_edge_cases_are_401_and_the_wrong_role_is_403() {
    let ws = Workspace::new();
    let app = app(&ws, "");
    let body = json!({"sql": "SELECT 1 AS val"}).to_string();
    for auth in [
        None,
        Some("Bearer "),
        Some("Bearer"),
        Some("Basic YWRtaW46YWRtaW4="),
        Some("Bearer nope"),
        Some(ADMIN),
    ] {
        let (status, v) = call(&app, "POST", "/api/query/hybrid", auth, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {v}");
        assert_eq!(v["error_type"], "unauthorized");
    }
    let (status, v) = call(
        &app,
        "POST",
        "/api/query/hybrid",
        Some(&bearer(ANALYST)),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = call(
        &app,
        "POST",
        "/api/query/hybrid",
        Some(&format!("bearer {ADMIN}")),
        body,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the scheme is case-insensitive: {v}"
    );
    assert_eq!(v["rows"], json!([[1]]));
}

#[tokio::test]
async fn errors_are_json_with_fitting_status_codes() {
    let ws = Workspace::new();
    let app = app(&ws, "  max_body_bytes: 2000\n");
    let admin = bearer(ADMIN);
    let cases = [
        (json!({"sql": "DROP TABLE users"}).to_string(), StatusCode::BAD_REQUEST, "query_error"),
        (json!({"sql": "SELECT 1", "register_bq": {"bad_alias": "DROP TABLE sensitive"}}).to_string(), StatusCode::BAD_REQUEST, "query_error"),
        (json!({"sql": "SELECT * FROM t", "register_bq": {"t": "SELECT * FROM `analytics.web`"}, "params": {}, "format": "json"}).to_string().replace("SELECT * FROM `analytics.web`", "SELECT * FROM `analytics.missing`"), StatusCode::BAD_REQUEST, "bq_error"),
        ("{not json".to_owned(), StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"sql": "SELECT 1", "format": "csv"}).to_string(), StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"sql": "SELECT 1", "unknown": 1}).to_string(), StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"sql": format!("SELECT '{}'", "x".repeat(5000))}).to_string(), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    for (body, status, error_type) in cases {
        let (got, v) = call(
            &app,
            "POST",
            "/api/query/hybrid",
            Some(&admin),
            body.clone(),
        )
        .await;
        assert_eq!(got, status, "{body}: {v}");
        assert_eq!(v["error_type"], error_type, "{body}: {v}");
        assert!(v["message"].is_string() && v["details"].is_object(), "{v}");
    }
}

#[tokio::test]
async fn row_limits_are_400_with_the_numbers() {
    let ws = Workspace::new();
    let app = app_with(&ws, "", "remote_query: {max_bq_registration_rows: 10}\n");
    let body = json!({"sql": "SELECT count(*) FROM w", "register_bq": {"w": "SELECT * FROM `analytics.web`"}}).to_string();
    let (status, v) = call(
        &app,
        "POST",
        "/api/query/hybrid",
        Some(&bearer(ADMIN)),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error_type"], "row_limit");
    assert_eq!(v["details"]["count"], 360);
    assert_eq!(v["details"]["alias"], "w");
}

#[tokio::test]
async fn a_busy_server_says_429_and_a_slow_request_times_out_with_504() {
    let ws = Workspace::new();
    let app = app(
        &ws,
        "  max_concurrent_queries: 1\n  request_timeout_seconds: 2\n",
    );
    let slow = json!({"sql": "SELECT count(*) FROM orders a, orders b, orders c WHERE a.amount + b.amount > c.amount"}).to_string();
    let first = tokio::spawn({
        let app = app.clone();
        async move {
            call(
                &app,
                "POST",
                "/api/query/hybrid",
                Some(&bearer(ADMIN)),
                slow,
            )
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/query/hybrid")
        .header("authorization", bearer(ADMIN));
    req = req.header("content-type", "application/json");
    let response = app
        .clone()
        .oneshot(
            req.body(Body::from(json!({"sql": "SELECT 1"}).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, v) = first.await.unwrap();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
    assert_eq!(v["error_type"], "timeout");
}

#[tokio::test]
async fn plan_check_takes_any_valid_token_and_returns_diagnostics() {
    let ws = Workspace::new();
    let app = app(&ws, "");
    let good = std::fs::read_to_string(crate::common::root().join("plans/traffic.yaml")).unwrap();
    let (status, v) = call(
        &app,
        "POST",
        "/api/plan/check",
        Some(&bearer(ANALYST)),
        good,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true);

    let bad = "version: 1\nname: x\nsql: SELECT * FROM read_text('/etc/passwd')\n";
    let (status, v) = call(&app, "POST", "/api/plan/check", Some(&bearer(ANALYST)), bad).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["code"], "sql_table_function");
    assert_eq!(v["diagnostics"][0]["line"], 3);

    let (status, _) = call(&app, "POST", "/api/plan/check", None, bad).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn plan_run_needs_admin_and_writes_no_files() {
    let ws = Workspace::new();
    let app = app(&ws, "");
    let plan = "version: 1\nname: r\nparams:\n  n: {type: integer}\nsql: SELECT * FROM customers ORDER BY customer_id LIMIT $n\noutputs: [{path: out/x.csv}]\n";
    let body = json!({"plan": plan, "params": {"n": 2}}).to_string();
    let (status, _) = call(
        &app,
        "POST",
        "/api/plan/run",
        Some(&bearer(ANALYST)),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = call(&app, "POST", "/api/plan/run", Some(&bearer(ADMIN)), body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["row_count"], 2);
    assert_eq!(v["columns"], json!(["customer_id", "name", "region"]));
    assert!(!ws.path("out").exists() && !std::path::Path::new("out/x.csv").exists());

    let (status, v) = call(
        &app,
        "POST",
        "/api/plan/run",
        Some(&bearer(ADMIN)),
        json!({"plan": "version: 1\nname: r\nsql: DROP TABLE orders\n"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error_type"], "plan_invalid");
    assert_eq!(v["details"]["diagnostics"][0]["code"], "sql_not_query");
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let ws = Workspace::new();
    let app = app(&ws, "");
    let (status, v) = call(&app, "GET", "/healthz", None, Body::empty()).await;
    assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, v) = call(&app, "GET", "/openapi.json", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["openapi"], "3.1.0");
    for path in [
        "/api/query/hybrid",
        "/api/plan/check",
        "/api/plan/run",
        "/healthz",
    ] {
        assert!(v["paths"][path].is_object(), "{path} is described");
    }
}

/// Extract and re-attach warnings reach the HTTP client, with the rows and with an error.
#[tokio::test]
async fn warnings_reach_the_http_response_on_success_and_failure() {
    let ws = Workspace::new();
    let bad = ws.path("extracts/not-an-identifier");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("extract.duckdb"), b"").unwrap();
    let app = da::server::router(
        server_settings(
            &ws,
            "{database: analytics.duckdb, extracts: extracts}",
            "",
            "",
        ),
        crate::common::workers(),
    );
    let warned = |v: &Value| {
        v["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().unwrap().contains("not-an-identifier"))
        })
    };
    let ok = json!({"sql": "SELECT count(*) AS n FROM orders"});
    let (status, v) = call(
        &app,
        "POST",
        "/api/query/hybrid",
        Some(&bearer(ADMIN)),
        ok.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(warned(&v), "{v}");
    let failing = json!({"sql": "SELECT no_such_column FROM orders"});
    let (status, v) = call(
        &app,
        "POST",
        "/api/query/hybrid",
        Some(&bearer(ADMIN)),
        failing.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error_type"], "query_error");
    assert!(warned(&v), "{v}");
}
