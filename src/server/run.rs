//! Queries and plan runs: each in a worker process of its own (see `worker`), behind the
//! concurrency limit and the request timeout.
//!
//! The handler answers 504 as soon as the request timeout passes; the slot is given back
//! when the worker has ended, at most `worker::STOP_GRACE` later, whatever its final step
//! was doing.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ApiError, AppState};
use crate::error::Error;
use crate::output::{self, Format};
use crate::pipeline::RunOutcome;
use crate::runner::query::{self, QuerySpec};
use crate::runner::{self, RunSpec};
use crate::settings::Settings;
use crate::worker::Failure;

/// The work of one request, as a worker gets it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// `POST /api/query/hybrid`.
    Hybrid { spec: QuerySpec },
    /// `POST /api/plan/run`; `name` decides the plan's syntax.
    PlanRun {
        name: String,
        plan: String,
        params: Vec<(String, String)>,
    },
}

/// A response as the worker decided it: the server sends it on as is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Value,
}

impl Job {
    /// Run the job (in the worker).
    pub fn run(self, settings: &Settings, cancel: Arc<AtomicBool>) -> HttpAnswer {
        match self {
            Self::Hybrid { spec } => run_hybrid(&spec, settings, cancel),
            Self::PlanRun { name, plan, params } => {
                run_plan(&name, &plan, &params, settings, cancel)
            }
        }
    }
}

/// Run `job` in a worker: its answer, 429 when every slot is taken, 504 at the timeout.
pub(super) async fn in_worker(state: &Arc<AppState>, job: Job) -> Result<Response, ApiError> {
    let Ok(permit) = state.heavy.clone().try_acquire_owned() else {
        return Err(ApiError::busy());
    };
    // Sent on at the timeout, or dropped with this future when the client hangs up:
    // either way the worker is stopped.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state_for_task = state.clone();
    let task = tokio::spawn(async move {
        let _permit = permit;
        let state = state_for_task;
        let stopped = async {
            let _ = stopped.await;
        };
        state
            .workers
            .run::<Job, HttpAnswer>(&state.settings, &job, stopped)
            .await
    });
    let limit = Duration::from_secs(state.settings.config.server.request_timeout_seconds);
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(Ok(answer))) => Ok(response(answer)),
        Ok(Ok(Err(failure))) => Err(failed(&failure)),
        Ok(Err(join)) => Err(ApiError::internal(&format!(
            "the run failed unexpectedly: {join}"
        ))),
        Err(_) => {
            let _ = stop.send(());
            Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "the request ran past server.request_timeout_seconds",
            ))
        }
    }
}

fn response(answer: HttpAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(answer.body)).into_response()
}

/// A worker that gave no answer, as the client sees it.
fn failed(failure: &Failure) -> ApiError {
    match failure {
        Failure::OutOfMemory { memory_mb } => {
            let mut e = ApiError::new(StatusCode::BAD_REQUEST, "memory_limit", failure.to_string());
            e.details = json!({"memory_mb": memory_mb, "hint": failure.hint()});
            e
        }
        Failure::Stopped => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "interrupted",
            failure.to_string(),
        ),
        Failure::Start { .. } | Failure::Crashed { .. } => ApiError::internal(&failure.to_string()),
    }
}

/// `POST /api/query/hybrid`, in the worker.
fn run_hybrid(spec: &QuerySpec, settings: &Settings, cancel: Arc<AtomicBool>) -> HttpAnswer {
    let outcome = query::check(spec, None, &[], settings)
        .and_then(|checked| Ok(runner::run_checked(&checked, settings, &no_files(cancel))?));
    answer(outcome)
}

/// `POST /api/plan/run`, in the worker: `name` decides the plan's syntax.
fn run_plan(
    name: &str,
    plan: &str,
    params: &[(String, String)],
    settings: &Settings,
    cancel: Arc<AtomicBool>,
) -> HttpAnswer {
    // Plans sent over HTTP never write files on the server.
    let outcome = runner::check_text(name, plan, params, settings)
        .and_then(|checked| Ok(runner::run_checked(&checked, settings, &no_files(cancel))?));
    answer(outcome)
}

/// A run that writes no files and draws no progress: the server's only kind. The worker
/// ends with the run, so a final query stuck in one expression is given up on.
fn no_files(cancel: Arc<AtomicBool>) -> RunSpec<'static> {
    RunSpec {
        output_dir: None,
        write_outputs: false,
        progress: false,
        cancel,
        stuck_grace: Some(runner::STUCK_GRACE),
    }
}

fn answer(outcome: Result<RunOutcome, Error>) -> HttpAnswer {
    let body = outcome
        .map_err(ApiError::from)
        .and_then(|o| result_json(&o));
    match body {
        Ok(body) => HttpAnswer {
            status: StatusCode::OK.as_u16(),
            body,
        },
        Err(e) => HttpAnswer {
            status: e.status.as_u16(),
            body: e.body(),
        },
    }
}

/// `{columns, rows, row_count, truncated, bq_stats}` for a finished run.
fn result_json(outcome: &RunOutcome) -> Result<Value, ApiError> {
    let r = &outcome.result;
    let columns: Vec<String> = r.schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut buf = Vec::new();
    output::write(Format::Json, &r.schema, &r.batches, &mut buf)
        .map_err(|e| ApiError::internal(&e.to_string()))?;
    let objects: Vec<Map<String, Value>> =
        serde_json::from_slice(&buf).map_err(|e| ApiError::internal(&e.to_string()))?;
    let rows: Vec<Vec<Value>> = objects
        .into_iter()
        .map(|mut o| {
            columns
                .iter()
                .map(|c| o.remove(c).unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    let bq_stats: Map<String, Value> = outcome
        .aliases
        .iter()
        .map(|a| {
            (a.alias.clone(), json!({"rows": a.rows, "columns": a.columns, "memory_mb": a.memory_mb, "bytes_processed": a.bytes_processed, "precheck_bytes_billed": a.precheck_bytes_billed, "jobs": a.jobs, "cached": a.cached}))
        })
        .collect();
    Ok(json!({
        "columns": columns,
        "rows": rows,
        "row_count": r.rows,
        "truncated": r.truncated,
        "backend": outcome.backend,
        "bq_stats": bq_stats,
        "warnings": outcome.warnings,
    }))
}
