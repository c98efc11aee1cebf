//! The inputs and outputs of the MCP tools, typed for JSON: their schemas (schemars) are
//! what `tools/list` shows an agent, so fields carry a doc comment wherever the name alone
//! would leave an agent guessing.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::diagnostic::FileReport;
use crate::error::{Error, RunError};

/// The syntax of plan text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanSyntax {
    #[default]
    Yaml,
    Toml,
}

/// A plan, as text or as a file, with parameter values.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// The plan text (YAML or TOML, see `syntax`). Give either this or `path`.
    #[serde(default)]
    pub plan: Option<String>,
    /// A plan file to read instead (its extension decides the syntax).
    #[serde(default)]
    pub path: Option<String>,
    /// The syntax of `plan`: `yaml` (default) or `toml`.
    #[serde(default)]
    pub syntax: Option<PlanSyntax>,
    /// Parameter values by name: strings, numbers or booleans, parsed by each parameter's
    /// declared type. When any is given, required parameters without a value are errors.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
}

/// A plan to run, and how many result rows to send back.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    /// The plan text (YAML or TOML, see `syntax`). Give either this or `path`.
    #[serde(default)]
    pub plan: Option<String>,
    /// A plan file to read instead (its extension decides the syntax).
    #[serde(default)]
    pub path: Option<String>,
    /// The syntax of `plan`: `yaml` (default) or `toml`.
    #[serde(default)]
    pub syntax: Option<PlanSyntax>,
    /// Parameter values by name: strings, numbers or booleans. Every required parameter
    /// needs one.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Send back at most this many of the (at most `max_result_rows`) rows; output files always
    /// hold the whole result.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_rows: Option<u64>,
}

/// The diagnostics of one plan, exactly as `da plan check --format json` reports them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CheckOutput {
    /// True when the plan has no errors (warnings allowed).
    #[serde(default)]
    pub ok: bool,
    /// One entry: `{path, ok, diagnostics: [{code, severity, message, line, column,
    /// pointer, hint}]}`. `pointer` is a JSON pointer into the plan.
    pub files: Vec<Value>,
    /// `{files, ok, invalid, errors, warnings}`.
    pub summary: Value,
}

/// What a plan would bill, from dry runs only (no billed job, no download).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EstimateOutput {
    /// Whether every alias has a byte (and so dollar) estimate. False on the local backend
    /// (nothing is billed) or when dry runs are off; `reason` says which.
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Exactly `da plan estimate --format json`: `{plan, backend, price_per_tib, aliases:
    /// [{alias, bytes, count_bytes, usd, columns: [[name, type]]}], total_bytes, total_usd,
    /// budget, within_budget}`. Unknown numbers are `null`, never guessed.
    pub estimate: Value,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunOutput {
    /// `local` or `bigquery`: where alias data came from.
    pub backend: String,
    pub columns: Vec<ColumnOut>,
    /// The first `returned_rows` result rows, one object per row (JSON as `--format json`
    /// writes it: decimals keep their digits, dates are `YYYY-MM-DD`).
    pub rows: Vec<Map<String, Value>>,
    /// Rows of the result that are shown (at most `max_result_rows`).
    pub row_count: u64,
    /// Rows in `rows` (fewer than `row_count` when `max_rows` cut them).
    pub returned_rows: u64,
    /// More rows existed than `max_result_rows` allowed.
    pub truncated: bool,
    /// Per-alias numbers: rows, columns, bytes, memory_mb, bytes_processed, timings.
    pub aliases: Vec<Value>,
    /// Files written, all under `mcp.output_dir`.
    pub outputs: Vec<OutputFile>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ColumnOut {
    pub name: String,
    /// The Arrow type of the column (`Int64`, `Utf8`, `Date32`, `Decimal128(12, 2)`).
    pub data_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OutputFile {
    pub path: String,
    pub format: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// What `catalog` may add to the analytics catalog.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogInput {
    /// Plan files (.yaml, .yml, .toml) whose lock files' alias schemas to include (a plan
    /// without a lock file adds nothing).
    #[serde(default)]
    pub plans: Vec<String>,
}

/// The catalog, and the locked result columns of the aliases of the plans asked for.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CatalogOutput {
    #[serde(flatten)]
    pub catalog: crate::catalog::Catalog,
    /// Plan file → alias → its locked columns with BigQuery types (`da plan lock`).
    pub locked_aliases: BTreeMap<String, BTreeMap<String, Vec<crate::lock::LockedColumn>>>,
}

/// The JSON schema of plan files.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlanSchemaOutput {
    /// JSON Schema 2020-12, as `da schema plan` prints it.
    pub schema: Value,
}

/// A failed tool call, typed like `da plan run`'s errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolError {
    /// `plan_invalid`, `row_limit`, `memory_limit`, `cost_limit`, `bq_error`, `query_error`, `timeout`,
    /// `interrupted`, `io_error`, `usage`, `run_disabled`, `output_not_allowed`, ...
    pub error_type: String,
    pub message: String,
    /// Structured facts (`diagnostics` for an invalid plan; `alias`, `count`, `max`, ...).
    pub details: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl ToolError {
    pub fn new(error_type: &str, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.to_owned(),
            message: message.into(),
            details: Map::new(),
            hint: None,
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<&Error> for ToolError {
    fn from(e: &Error) -> Self {
        let mut out = Self::new(e.error_type(), e.to_string());
        match e {
            Error::Run(run) => {
                out.message.clone_from(&run.message);
                out.details.clone_from(&run.details);
                out.hint.clone_from(&run.hint);
            }
            Error::InvalidPlan(report) | Error::InvalidConfig(report) => {
                out.details
                    .insert("diagnostics".to_owned(), diagnostics_json(report));
            }
            _ => {}
        }
        out
    }
}

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        Self::from(&e)
    }
}

impl From<RunError> for ToolError {
    fn from(e: RunError) -> Self {
        Self::from(Error::Run(e))
    }
}

fn diagnostics_json(report: &FileReport) -> Value {
    serde_json::to_value(&report.diagnostics).unwrap_or(Value::Null)
}

/// A tool that failed in an unexpected way (a panic on the blocking pool).
pub fn internal(message: impl std::fmt::Display) -> ToolError {
    ToolError::new(
        "internal_error",
        format!("the tool failed unexpectedly: {message}"),
    )
}
