//! The rmcp side of `da mcp`: one `#[tool]` per tool. Input schemas come from the input
//! types in `tools.rs`, output schemas from their `Json<T>` results; a failed call is a
//! tool result with `isError: true` and a typed `ToolError` as its structured content.
//!
//! Blocking work (validation, DuckDB, BigQuery) runs on tokio's blocking pool so the
//! protocol keeps answering while a plan runs; `plan_run` runs in a worker process
//! (`worker`), so a runaway plan is stopped and capped without ending the session.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::Log;
use super::tools;
use super::types::{
    CatalogInput, CatalogOutput, CheckOutput, EstimateOutput, PlanInput, PlanSchemaOutput,
    RunInput, RunOutput, ToolError, internal,
};
use crate::runner;
use crate::settings::Settings;
use crate::worker::{Failure, Workers};

/// The MCP server: settings fixed at start, tools routed by rmcp.
#[derive(Clone)]
pub struct DaServer {
    settings: Arc<Settings>,
    log: Log,
    /// One plan run at a time: runs hold memory and may cost money.
    runs: Arc<Semaphore>,
    workers: Workers,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl DaServer {
    pub fn new(settings: Settings, workers: Workers, log: Log) -> Self {
        Self {
            settings: Arc::new(settings),
            log,
            runs: Arc::new(Semaphore::new(1)),
            workers,
            tool_router: Self::tool_router(),
        }
    }

    /// Run `work` on the blocking pool and log how it ended.
    async fn blocking<T: Send + 'static>(
        &self,
        tool: &str,
        work: impl FnOnce(&Settings) -> Result<T, ToolError> + Send + 'static,
    ) -> Result<Json<T>, Json<ToolError>> {
        let settings = self.settings.clone();
        let result = tokio::task::spawn_blocking(move || work(&settings))
            .await
            .unwrap_or_else(|join| Err(internal(join)));
        self.log_end(tool, &result);
        result.map(Json).map_err(Json)
    }

    fn log_end<T>(&self, tool: &str, result: &Result<T, ToolError>) {
        match result {
            Ok(_) => self.log.line(format!("{tool}: ok")),
            Err(e) => self
                .log
                .line(format!("{tool}: {}: {}", e.error_type, e.message)),
        }
    }

    #[tool(
        description = "Validate a da plan offline (schema, SQL rules, aliases, parameters, templates) and return every diagnostic with line, column, JSON pointer and hint, exactly as `da plan check --format json`. `ok` is false when there is any error. Give the plan text in `plan` (with `syntax`) or a file in `path`.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn plan_check(
        &self,
        Parameters(input): Parameters<PlanInput>,
    ) -> Result<Json<CheckOutput>, Json<ToolError>> {
        self.blocking("plan_check", move |s| tools::check(s, &input))
            .await
    }

    #[tool(
        description = "Estimate what running a plan would bill, from BigQuery dry runs only (no billed job, no download): per alias the bytes scanned, the COUNT precheck's bytes, US dollars and the result columns, with totals and the budget verdict, exactly as `da plan estimate --format json`. Validates the plan first (an invalid plan is a `plan_invalid` error). `available` is false, with a reason, when bytes are unknown (local backend, dry runs off); unknown numbers are null, never guessed.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn plan_estimate(
        &self,
        Parameters(input): Parameters<PlanInput>,
    ) -> Result<Json<EstimateOutput>, Json<ToolError>> {
        self.blocking("plan_estimate", move |s| tools::estimate(s, &input))
            .await
    }

    #[tool(
        description = "Run a plan like `da plan run`: every alias prechecked against the row and memory limits, fetched from BigQuery (or the local warehouse), then the final DuckDB query, sandboxed. Returns columns and rows (at most `max_rows`, and never more than `max_result_rows`, with `truncated`). Output files are written only under the configured mcp.output_dir. Disabled unless the instance sets mcp.allow_run. Errors are typed: plan_invalid, row_limit, memory_limit, cost_limit, bq_error, query_error, timeout, interrupted, run_disabled, output_not_allowed.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = true
        )
    )]
    async fn plan_run(
        &self,
        Parameters(input): Parameters<RunInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<RunOutput>, Json<ToolError>> {
        let Ok(_permit) = self.runs.clone().acquire_owned().await else {
            return Err(Json(internal("the run queue is closed")));
        };
        // A `notifications/cancelled` from the client stops the worker as Ctrl-C would a
        // run; so does the instance's time limit, which no plan can raise, should the
        // worker not end by itself.
        let ct = context.ct.clone();
        let limit = Duration::from_secs(self.settings.config.remote_query.timeout_seconds)
            + runner::STUCK_GRACE
            + START_ALLOWANCE;
        let stop = async {
            tokio::select! {
                () = ct.cancelled() => {}
                () = tokio::time::sleep(limit) => {}
            }
        };
        let job = Job::PlanRun { input };
        let answer = self
            .workers
            .run::<Job, Result<RunOutput, ToolError>>(&self.settings, &job, stop)
            .await;
        let result = match answer {
            Ok(answer) => answer,
            Err(failure) => Err(failed(&failure, context.ct.is_cancelled())),
        };
        self.log_end("plan_run", &result);
        result.map(Json).map_err(Json)
    }

    #[tool(
        description = "List the databases, tables, views and columns (with DuckDB types) that a plan's final SQL can read: the analytics database and its extracts, opened read-only exactly as a run opens them. `qualified_name` is how to write each table in SQL. With `plans`, also each plan's aliases and their locked result columns (BigQuery types) from its lock file.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn catalog(
        &self,
        Parameters(input): Parameters<CatalogInput>,
    ) -> Result<Json<CatalogOutput>, Json<ToolError>> {
        self.blocking("catalog", move |s| tools::catalog(s, &input))
            .await
    }

    #[tool(
        description = "The JSON schema (2020-12) of da plan files: every field, its type and what it means. Read it before writing a plan.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn plan_schema(&self) -> Result<Json<PlanSchemaOutput>, Json<ToolError>> {
        self.blocking("plan_schema", |_| Ok(tools::plan_schema()))
            .await
    }
}

/// The work a worker does for `da mcp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// `plan_run`.
    PlanRun { input: RunInput },
}

impl Job {
    /// Run the job (in the worker).
    pub fn run(self, settings: &Settings, cancel: Arc<AtomicBool>) -> Result<RunOutput, ToolError> {
        match self {
            Self::PlanRun { input } => tools::run(settings, &input, cancel),
        }
    }
}

/// What a worker needs beyond the run's own time limit: starting, checking the plan.
const START_ALLOWANCE: Duration = Duration::from_secs(10);

/// A worker that gave no answer, as the agent sees it.
fn failed(failure: &Failure, cancelled: bool) -> ToolError {
    match failure {
        Failure::OutOfMemory { .. } => {
            let mut error = ToolError::new("memory_limit", failure.to_string());
            error.hint = failure.hint().map(str::to_owned);
            error
        }
        Failure::Stopped if cancelled => ToolError::new("interrupted", "the run was cancelled"),
        Failure::Stopped => ToolError::new(
            "timeout",
            "the run did not end within the instance's time limit and was stopped",
        ),
        Failure::Start { .. } | Failure::Crashed { .. } => internal(failure),
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "da",
    instructions = "da runs declarative query plans: BigQuery subqueries (aliases) pulled into DuckDB, joined with local tables by one final DuckDB query. Work in a loop: read plan_schema and catalog, write a plan, plan_check it and fix every error, plan_estimate, then plan_run (if the instance allows runs). Parameters are values, never SQL text."
)]
impl ServerHandler for DaServer {}
