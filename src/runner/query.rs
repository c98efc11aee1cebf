//! One-shot queries: SQL plus `alias=BigQuery SQL` pairs become an in-memory plan, so
//! validation, limits, errors and exit codes are exactly those of `plan run`. Shared by
//! `da query` and `POST /api/query/hybrid`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::error::{Error, ErrorType, RunError};
use crate::plan;
use crate::settings::Settings;
use crate::validate::{CheckedPlan, validate};

/// A one-shot query (also the job a `da serve` worker runs for it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuerySpec {
    pub sql: String,
    pub register_bq: BTreeMap<String, String>,
    /// Values from stdin JSON; their JSON type declares the parameter's type.
    pub params: Map<String, Value>,
}

/// The in-memory plan for a query spec.
fn plan_document(spec: &QuerySpec, limit: Option<u64>) -> Value {
    let params: Map<String, Value> = spec
        .params
        .iter()
        .map(|(name, value)| {
            let kind = match value {
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                _ => "string",
            };
            let default = match value {
                Value::String(_) | Value::Bool(_) | Value::Number(_) => value.clone(),
                other => Value::String(other.to_string()),
            };
            (
                name.clone(),
                serde_json::json!({"type": kind, "default": default}),
            )
        })
        .collect();
    let mut doc = serde_json::json!({
        "version": 1,
        "name": "query",
        "params": params,
        "register_bq": spec.register_bq,
        "sql": spec.sql,
    });
    if let Some(n) = limit {
        doc["limits"] = serde_json::json!({"max_result_rows": n});
    }
    doc
}

/// Validate a query spec as the in-memory plan it stands for.
pub fn check(
    spec: &QuerySpec,
    limit: Option<u64>,
    given_params: &[(String, String)],
    settings: &Settings,
) -> Result<CheckedPlan, Error> {
    let text = serde_json::to_string_pretty(&plan_document(spec, limit))
        .map_err(|e| Error::Internal(e.to_string()))?;
    let origin = Path::new("<query>");
    let loaded = plan::parse(origin, &text).map_err(|r| invalid(r.diagnostics))?;
    let ctx = settings.context(given_params, true);
    validate(&loaded, &ctx).map_err(invalid)
}

/// A query that fails validation is a `query_error`, as in the reference; every
/// diagnostic travels in `details.diagnostics` (without positions: there is no file).
fn invalid(diagnostics: Vec<Diagnostic>) -> Error {
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    let message = errors
        .iter()
        .map(|d| format!("{} ({})", d.message, d.code))
        .collect::<Vec<_>>()
        .join("; ");
    let mut e = RunError::new(ErrorType::QueryError, message);
    if let Some(hint) = errors.first().and_then(|d| d.hint.clone()) {
        e = e.hint(hint);
    }
    let listed: Vec<Value> = diagnostics
        .iter()
        .map(|d| serde_json::json!({"code": d.code, "severity": d.severity, "message": d.message, "pointer": d.pointer, "hint": d.hint}))
        .collect();
    Error::Run(e.detail("diagnostics", listed))
}
