//! What a worker is asked to do, and the answer each job gives.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mcp::RunInput;
use crate::runner::query::QuerySpec;
use crate::settings::Settings;

/// The one line a worker reads from stdin.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub(super) settings: Settings,
    pub(super) job: Job,
}

impl Request {
    pub(super) fn new(settings: Settings, job: Job) -> Self {
        Self { settings, job }
    }
}

/// The work of one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// `POST /api/query/hybrid`; answers an [`HttpAnswer`].
    Hybrid { spec: QuerySpec },
    /// `POST /api/plan/run`; answers an [`HttpAnswer`]. `name` decides the syntax.
    PlanRun {
        name: String,
        plan: String,
        params: Vec<(String, String)>,
    },
    /// MCP `plan_run`; answers `Result<RunOutput, ToolError>`.
    McpRun { input: RunInput },
}

/// An HTTP response as the worker decided it: the server sends it on as is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Value,
}

impl Job {
    /// Run the job and give its answer as JSON (the type each variant names).
    pub(super) fn run(
        self,
        settings: &Settings,
        cancel: Arc<AtomicBool>,
    ) -> serde_json::Result<Value> {
        match self {
            Self::Hybrid { spec } => to_json(&crate::server::run_hybrid(&spec, settings, cancel)),
            Self::PlanRun { name, plan, params } => to_json(&crate::server::run_plan(
                &name, &plan, &params, settings, cancel,
            )),
            Self::McpRun { input } => to_json(&crate::mcp::run_plan(settings, &input, cancel)),
        }
    }
}

fn to_json(answer: &impl Serialize) -> serde_json::Result<Value> {
    serde_json::to_value(answer)
}
