//! `da serve`: the HTTP face of the same engine. Handlers are thin: authenticate, parse
//! JSON, hand queries and plan runs to a worker process (`run.rs`), checks to the blocking
//! pool, render JSON.
//!
//! The server keeps no state between requests (each run opens its own read-only analytics
//! connection in its worker), so replicas can sit behind a load balancer.

mod auth;
mod errors;
mod redact;
mod run;

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Role;
use crate::error::Error;
use crate::plan;
use crate::runner::query::QuerySpec;
use crate::settings::Settings;
use crate::worker::Workers;
pub use errors::ApiError;
pub use run::{HttpAnswer, Job};

/// Shared, read-only state of a server.
pub struct AppState {
    pub settings: Settings,
    /// Bounds concurrent queries and plan runs (they hold memory and cost money).
    heavy: Arc<Semaphore>,
    /// Where queries and plan runs run.
    workers: Workers,
}

/// The router, ready to serve or to be called in process by tests.
pub fn router(settings: Settings, workers: Workers) -> Router {
    let server = &settings.config.server;
    let limit = usize::try_from(server.max_body_bytes).unwrap_or(usize::MAX);
    let heavy = Arc::new(Semaphore::new(server.max_concurrent_queries as usize));
    let state = Arc::new(AppState {
        settings,
        heavy,
        workers,
    });
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .route("/api/query/hybrid", post(hybrid))
        .route("/api/plan/check", post(plan_check))
        .route("/api/plan/run", post(plan_run))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serve until Ctrl-C.
pub async fn serve(settings: Settings, workers: Workers, listen: &str) -> Result<(), Error> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Io {
            context: format!("cannot listen on {listen}"),
            source,
        })?;
    serve_on(listener, settings, workers, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}

/// Serve HTTP/1 connections from `listener` until `shutdown` completes, then let open
/// connections finish their requests.
///
/// A client has `server.read_timeout_seconds` to send its headers (hyper's header read
/// timeout; a slower one is disconnected) and as long again for its body (see
/// [`read_body`]), so slow clients cannot hold connections open.
pub async fn serve_on(
    listener: TcpListener,
    settings: Settings,
    workers: Workers,
    shutdown: impl Future<Output = ()>,
) {
    let read_timeout = Duration::from_secs(settings.config.server.read_timeout_seconds);
    let app = router(settings, workers);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(read_timeout);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut conn = pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(stopped);
    let _ = stop.send(true);
    // Every connection holds a receiver; wait until the last one has finished.
    stop.closed().await;
}

/// The body of `POST /api/query/hybrid`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HybridRequest {
    sql: String,
    #[serde(default)]
    register_bq: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    params: Map<String, Value>,
    #[serde(default)]
    format: Option<String>,
}

/// The body of `POST /api/plan/run`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanRunRequest {
    /// The plan text.
    plan: String,
    /// `yaml` (default) or `toml`.
    #[serde(default)]
    syntax: Option<String>,
    /// Parameter values, as text or JSON scalars.
    #[serde(default)]
    params: Map<String, Value>,
}

/// Read the request body within `server.read_timeout_seconds`; call it only after the
/// caller is authenticated, so nobody unknown can make the server wait for a body.
async fn read_body(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
    let limit = Duration::from_secs(state.settings.config.server.read_timeout_seconds);
    match tokio::time::timeout(limit, Bytes::from_request(request, &())).await {
        Ok(raw) => body(raw),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive within server.read_timeout_seconds",
        )),
    }
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than server.max_body_bytes",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("cannot read the request body: {r}"),
            )
        }
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("invalid JSON body: {e}"),
        )
    })
}

async fn hybrid(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let result = async {
        auth::authorize(&state.settings.config.server.tokens, &headers, Role::Admin)?;
        let req: HybridRequest = parse_json(&read_body(&state, request).await?)?;
        if req.format.as_deref().is_some_and(|f| f != "json") {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "only \"format\": \"json\" is supported",
            ));
        }
        let spec = QuerySpec {
            sql: req.sql,
            register_bq: req.register_bq,
            params: req.params,
        };
        run::in_worker(&state, Job::Hybrid { spec }).await
    };
    respond(result.await)
}

async fn plan_check(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let result = async {
        auth::authorize(
            &state.settings.config.server.tokens,
            &headers,
            Role::Analyst,
        )?;
        let bytes = read_body(&state, request).await?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the plan must be UTF-8 text",
            )
        })?;
        let toml = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("toml"));
        let name = if toml {
            "<request>.toml"
        } else {
            "<request>.yaml"
        };
        // Rendering templates is CPU work bounded by fuel: run it on the blocking pool,
        // behind the concurrency limit and the request timeout like any query.
        let diagnostics = checking(&state, move |settings| {
            let ctx = settings.context(&[], false);
            let mut diagnostics = match plan::parse(Path::new(name), &text) {
                Ok(loaded) => crate::validate::diagnostics(&loaded, &ctx),
                Err(report) => report.diagnostics,
            };
            // Any valid token may check plans: show no server paths.
            redact::redact_diagnostics(&mut diagnostics, &redact::server_paths(settings));
            diagnostics
        })
        .await?;
        let ok = !diagnostics
            .iter()
            .any(crate::diagnostic::Diagnostic::is_error);
        Ok(Json(json!({"ok": ok, "diagnostics": diagnostics})).into_response())
    };
    respond(result.await.map_err(|mut err: ApiError| {
        err.message = redact::redact(&err.message, &redact::server_paths(&state.settings));
        err
    }))
}

async fn plan_run(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let result = async {
        auth::authorize(&state.settings.config.server.tokens, &headers, Role::Admin)?;
        let req: PlanRunRequest = parse_json(&read_body(&state, request).await?)?;
        let name = match req.syntax.as_deref() {
            None | Some("yaml") => "<request>.yaml",
            Some("toml") => "<request>.toml",
            Some(other) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("unknown syntax `{other}`: use yaml or toml"),
                ));
            }
        };
        let params: Vec<(String, String)> = req
            .params
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect();
        let job = Job::PlanRun {
            name: name.to_owned(),
            plan: req.plan,
            params,
        };
        run::in_worker(&state, job).await
    };
    respond(result.await)
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Run a check on the blocking pool, behind the concurrency limit and the request timeout.
/// Checks only parse and render (templates run on fuel), so they run in process; queries
/// and plan runs go to workers (`run.rs`).
async fn checking<T, F>(state: &Arc<AppState>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Settings) -> T + Send + 'static,
{
    let Ok(permit) = state.heavy.clone().try_acquire_owned() else {
        return Err(ApiError::busy());
    };
    let settings = state.settings.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&settings)
    });
    let limit = Duration::from_secs(state.settings.config.server.request_timeout_seconds);
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(join)) => Err(ApiError::internal(&format!(
            "the check failed unexpectedly: {join}"
        ))),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request ran past server.request_timeout_seconds",
        )),
    }
}

/// The OpenAPI 3.1 description of these endpoints.
pub fn openapi() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let errors = |codes: &[&str]| -> Value {
        codes
            .iter()
            .map(|c| {
                (
                    (*c).to_owned(),
                    json!({"description": c, "content": {"application/json": {"schema": error}}}),
                )
            })
            .collect::<Map<_, _>>()
            .into()
    };
    let mut hybrid_responses = errors(&[
        "400", "401", "403", "408", "413", "429", "500", "502", "503", "504",
    ]);
    hybrid_responses["200"] = json!({"description": "the result", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}});
    let mut check_responses = errors(&["400", "401", "408", "413", "429", "500", "504"]);
    check_responses["200"] = json!({"description": "diagnostics, as `da plan check --format json`", "content": {"application/json": {"schema": {"type": "object", "properties": {"ok": {"type": "boolean"}, "diagnostics": {"type": "array", "items": {"type": "object"}}}}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "da", "version": env!("CARGO_PKG_VERSION"), "description": "Hybrid BigQuery + DuckDB queries and plans. Stateless: run several replicas behind a load balancer."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error_type", "message", "details"], "properties": {"error_type": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}, "warnings": {"type": "array", "items": {"type": "string"}}}},
                "Result": {"type": "object", "required": ["columns", "rows", "row_count", "truncated", "bq_stats"], "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "rows": {"type": "array", "items": {"type": "array"}},
                    "row_count": {"type": "integer"},
                    "truncated": {"type": "boolean"},
                    "backend": {"type": "string"},
                    "warnings": {"type": "array", "items": {"type": "string"}},
                    "bq_stats": {"type": "object", "additionalProperties": {"type": "object", "properties": {"rows": {"type": "integer"}, "columns": {"type": "integer"}, "memory_mb": {"type": "number"}, "bytes_processed": {"type": ["integer", "null"]}}}}
                }}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/query/hybrid": {"post": {"summary": "Register BigQuery aliases and run one DuckDB query (admin)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["sql"], "additionalProperties": false, "properties": {"sql": {"type": "string"}, "register_bq": {"type": "object", "additionalProperties": {"type": "string"}}, "params": {"type": "object"}, "format": {"const": "json"}}}}}}, "responses": hybrid_responses}},
            "/api/plan/check": {"post": {"summary": "Validate a plan (any valid token)", "requestBody": {"required": true, "content": {"application/yaml": {"schema": {"type": "string"}}, "application/toml": {"schema": {"type": "string"}}}}, "responses": check_responses}},
            "/api/plan/run": {"post": {"summary": "Run a plan; writes no files (admin)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["plan"], "additionalProperties": false, "properties": {"plan": {"type": "string"}, "syntax": {"enum": ["yaml", "toml"]}, "params": {"type": "object"}}}}}}, "responses": hybrid_responses}},
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        }
    })
}
