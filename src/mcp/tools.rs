//! What each MCP tool does, as plain synchronous functions over `Settings`: the same
//! loading, validation, catalog and run code as the CLI.
//!
//! Nothing here knows about rmcp; `server.rs` calls these on the blocking pool.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use super::types::{
    CatalogInput, CatalogOutput, CheckOutput, ColumnOut, EstimateOutput, OutputFile, PlanInput,
    PlanSchemaOutput, PlanSyntax, RunInput, RunOutput, ToolError, internal,
};
use crate::diagnostic::render::{OutputFormat, RenderOptions, render};
use crate::error::Error;
use crate::output::{self, Format};
use crate::pipeline::RunOutcome;
use crate::plan::{self, LoadFailure};
use crate::runner::{self, RunSpec};
use crate::settings::Settings;
use crate::validate::{self, CheckedPlan};

/// Where a plan comes from.
enum Source {
    /// In-memory text; the name's extension tells the parser the syntax.
    Text {
        name: &'static str,
        text: String,
    },
    File(PathBuf),
}

impl Source {
    fn of(
        plan: Option<&str>,
        path: Option<&str>,
        syntax: Option<PlanSyntax>,
    ) -> Result<Self, ToolError> {
        match (plan, path) {
            (Some(text), None) => Ok(Self::Text {
                name: match syntax.unwrap_or_default() {
                    PlanSyntax::Yaml => "<plan>.yaml",
                    PlanSyntax::Toml => "<plan>.toml",
                },
                text: text.to_owned(),
            }),
            (None, Some(path)) => {
                // Only plan files: diagnostics quote bits of what they read, and a tool
                // should not become a way to peek into arbitrary files.
                let path = PathBuf::from(path);
                let is_plan = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    ["yaml", "yml", "toml"].contains(&e.to_ascii_lowercase().as_str())
                });
                if !is_plan {
                    return Err(ToolError::new(
                        "usage",
                        format!(
                            "`{}` is not a plan file (.yaml, .yml or .toml)",
                            path.display()
                        ),
                    ));
                }
                Ok(Self::File(path))
            }
            (Some(_), Some(_)) => Err(ToolError::new(
                "usage",
                "give either `plan` or `path`, not both",
            )),
            (None, None) => Err(ToolError::new(
                "usage",
                "give the plan text in `plan`, or a plan file in `path`",
            )),
        }
    }
}

/// Parameter values as the CLI's `NAME=VALUE` pairs; only scalars make sense there.
fn param_pairs(params: &BTreeMap<String, Value>) -> Result<Vec<(String, String)>, ToolError> {
    params
        .iter()
        .map(|(name, value)| match value {
            Value::String(s) => Ok((name.clone(), s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok((name.clone(), value.to_string())),
            _ => Err(ToolError::new(
                "usage",
                format!("parameter `{name}` must be a string, number or boolean"),
            )),
        })
        .collect()
}

/// `plan_check`: every diagnostic of a plan, as `da plan check --format json`.
pub fn check(settings: &Settings, input: &PlanInput) -> Result<CheckOutput, ToolError> {
    let source = Source::of(input.plan.as_deref(), input.path.as_deref(), input.syntax)?;
    let params = param_pairs(&input.params)?;
    let ctx = settings.context(&params, !params.is_empty());
    let report = match &source {
        // An unreadable file is a failed call (`io_error`), not a diagnostic.
        Source::File(path) => match plan::load(path) {
            Ok(loaded) => {
                let diagnostics = validate::diagnostics(&loaded, &ctx);
                plan::report(path, loaded.text(), diagnostics)
            }
            Err(LoadFailure::Invalid(report)) => report,
            Err(LoadFailure::Unreadable(source)) => {
                return Err(Error::io("read", path, source).into());
            }
        },
        Source::Text { name, text } => match plan::parse(Path::new(name), text) {
            Ok(loaded) => {
                let diagnostics = validate::diagnostics(&loaded, &ctx);
                plan::report(Path::new(name), text, diagnostics)
            }
            Err(report) => report,
        },
    };
    // Through the JSON renderer itself, so the tool can never drift from the CLI.
    let mut buf = Vec::new();
    render(
        std::slice::from_ref(&report),
        OutputFormat::Json,
        &RenderOptions::default(),
        env!("CARGO_PKG_VERSION"),
        &mut buf,
    )
    .map_err(|e| ToolError::new("internal_error", e.to_string()))?;
    let mut out: CheckOutput = serde_json::from_slice(&buf)
        .map_err(|e| ToolError::new("internal_error", e.to_string()))?;
    out.ok = report.ok();
    Ok(out)
}

/// `plan_estimate`: dry-run every alias, as `da plan estimate --format json`.
pub fn estimate(settings: &Settings, input: &PlanInput) -> Result<EstimateOutput, ToolError> {
    let source = Source::of(input.plan.as_deref(), input.path.as_deref(), input.syntax)?;
    let params = param_pairs(&input.params)?;
    let checked = checked_plan(settings, &source, &params)?;
    let estimate = runner::estimate(&checked, settings)?;
    let available = estimate.total_bytes.is_some();
    let reason = (!available).then(|| {
        if estimate.backend == "local" {
            "the local backend reads Parquet files and bills nothing: there are no byte or \
             dollar estimates (the columns are shown)"
        } else {
            "some aliases have no dry-run estimate (bigquery.dry_run is off, or the endpoint \
             cannot dry-run)"
        }
        .to_owned()
    });
    Ok(EstimateOutput {
        available,
        reason,
        estimate: serde_json::to_value(&estimate).map_err(internal)?,
    })
}

/// Load and check a plan the way `da plan run` does: every required parameter needs a value.
fn checked_plan(
    settings: &Settings,
    source: &Source,
    params: &[(String, String)],
) -> Result<CheckedPlan, ToolError> {
    let checked = match source {
        Source::File(path) => runner::load_checked(path, params, settings).map(|(_, c)| c),
        Source::Text { name, text } => runner::check_text(name, text, params, settings),
    };
    Ok(checked?)
}

/// `plan_run`: run a plan as `da plan run` does, writing outputs only under
/// `mcp.output_dir`, and send the result rows back.
pub fn run(
    settings: &Settings,
    input: &RunInput,
    cancel: Arc<AtomicBool>,
) -> Result<RunOutput, ToolError> {
    if !settings.config.mcp.allow_run {
        return Err(
            ToolError::new("run_disabled", "plan_run is disabled on this instance").hint(
                "set `mcp.allow_run: true` in the instance configuration to let agents run plans",
            ),
        );
    }
    let source = Source::of(input.plan.as_deref(), input.path.as_deref(), input.syntax)?;
    let params = param_pairs(&input.params)?;
    let checked = checked_plan(settings, &source, &params)?;
    let output_dir = if checked.outputs().is_empty() {
        None
    } else {
        Some(output_root(settings, &checked)?)
    };
    let outcome = execute(&checked, settings, output_dir.as_deref(), cancel)?;
    run_output(&outcome, input.max_rows)
}

/// The one call into the run path: with a folder the plan's outputs are written under it,
/// without one nothing is written.
fn execute(
    checked: &CheckedPlan,
    settings: &Settings,
    output_dir: Option<&Path>,
    cancel: Arc<AtomicBool>,
) -> Result<RunOutcome, Error> {
    let spec = RunSpec {
        output_dir,
        write_outputs: output_dir.is_some(),
        progress: false,
        cancel,
        stuck_grace: Some(runner::STUCK_GRACE),
    };
    Ok(runner::run_checked(checked, settings, &spec)?)
}

/// The configured output folder (relative to the config file), created and resolved, once
/// every output of the plan is known to land inside it.
fn output_root(settings: &Settings, checked: &CheckedPlan) -> Result<PathBuf, ToolError> {
    let refuse = |message: String| {
        ToolError::new("output_not_allowed", message)
            .hint("set `mcp.output_dir` in the instance configuration, or remove the plan's `outputs` to get the rows back only")
    };
    let Some(configured) = &settings.config.mcp.output_dir else {
        return Err(refuse(
            "this plan writes files, and no mcp.output_dir is configured".to_owned(),
        ));
    };
    let configured = match (&settings.config_path, configured.is_relative()) {
        (Some(file), true) => file.parent().unwrap_or(Path::new("")).join(configured),
        _ => configured.clone(),
    };
    std::fs::create_dir_all(&configured)
        .and_then(|()| configured.canonicalize())
        .map_err(|e| refuse(format!("cannot use {}: {e}", configured.display())))
        .and_then(|root| {
            for out in checked.outputs() {
                if !stays_inside(&root, out.relative()) {
                    return Err(refuse(format!(
                        "output `{}` would be written outside {}",
                        out.relative().display(),
                        root.display()
                    )));
                }
            }
            Ok(root)
        })
}

/// Whether `root/relative` is inside `root`: no `..`, no absolute part, and no symbolic
/// link on the way that leads elsewhere (the deepest existing folder is resolved).
fn stays_inside(root: &Path, relative: &Path) -> bool {
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return false;
    }
    let mut existing = root.join(relative);
    loop {
        if let Ok(real) = existing.canonicalize() {
            return real.starts_with(root);
        }
        if !existing.pop() {
            return false;
        }
    }
}

fn run_output(outcome: &RunOutcome, max_rows: Option<u64>) -> Result<RunOutput, ToolError> {
    let result = &outcome.result;
    let keep = max_rows.unwrap_or(u64::MAX).min(result.rows);
    let batches = first_rows(&result.batches, keep);
    let mut buf = Vec::new();
    output::write(Format::Json, &result.schema, &batches, &mut buf)
        .map_err(|e| ToolError::new("output_error", e.to_string()))?;
    let rows: Vec<Map<String, Value>> = serde_json::from_slice(&buf)
        .map_err(|e| ToolError::new("internal_error", e.to_string()))?;
    Ok(RunOutput {
        backend: outcome.backend.to_owned(),
        columns: result
            .schema
            .fields()
            .iter()
            .map(|f| ColumnOut {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
            })
            .collect(),
        returned_rows: rows.len() as u64,
        rows,
        row_count: result.rows,
        truncated: result.truncated,
        aliases: outcome
            .aliases
            .iter()
            .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
            .collect(),
        outputs: outcome
            .outputs
            .iter()
            .map(|w| OutputFile {
                path: w.path.display().to_string(),
                format: w.format.name().to_owned(),
                rows: w.rows,
                bytes: w.bytes,
                sha256: w.sha256.clone(),
            })
            .collect(),
        warnings: outcome.warnings.clone(),
    })
}

/// The first `n` rows of a result, as batches.
fn first_rows(batches: &[RecordBatch], n: u64) -> Vec<RecordBatch> {
    let mut left = usize::try_from(n).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for batch in batches {
        if left == 0 {
            break;
        }
        let take = batch.num_rows().min(left);
        out.push(batch.slice(0, take));
        left -= take;
    }
    out
}

/// `catalog`: what a plan's final SQL can read, and the aliases' locked schemas of the
/// plans asked for.
pub fn catalog(settings: &Settings, input: &CatalogInput) -> Result<CatalogOutput, ToolError> {
    let catalog = crate::catalog::load(settings)?;
    let mut locked_aliases = BTreeMap::new();
    for plan in &input.plans {
        let path = PathBuf::from(plan);
        if crate::document::Syntax::from_path(&path).is_none() {
            return Err(ToolError::new(
                "usage",
                format!("`{plan}` is not a plan file (.yaml, .yml or .toml)"),
            ));
        }
        let lock = crate::lock::Lock::read(&crate::lock::Lock::path_for(&path))
            .map_err(|e| ToolError::new("usage", e))?;
        if let Some(lock) = lock {
            let aliases = lock
                .aliases
                .into_iter()
                .map(|(name, alias)| (name, alias.columns))
                .collect();
            locked_aliases.insert(plan.clone(), aliases);
        }
    }
    Ok(CatalogOutput {
        catalog,
        locked_aliases,
    })
}

/// `plan_schema`: the JSON schema of plan files.
pub fn plan_schema() -> PlanSchemaOutput {
    PlanSchemaOutput {
        schema: crate::plan::json_schema().value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_comes_from_exactly_one_of_text_and_path() {
        let err = |plan, path| Source::of(plan, path, None).err().unwrap().message;
        assert!(err(None, None).contains("give the plan text"));
        assert!(err(None, Some("/etc/passwd")).contains("not a plan file"));
        assert!(Source::of(None, Some("plans/P.YML"), None).is_ok());
        assert!(err(Some("x"), Some("p.yaml")).contains("not both"));
        assert!(matches!(
            Source::of(Some("x"), None, Some(PlanSyntax::Toml)),
            Ok(Source::Text {
                name: "<plan>.toml",
                ..
            })
        ));
    }

    #[test]
    fn parameters_are_scalars() {
        let mut params = BTreeMap::new();
        params.insert("n".to_owned(), Value::from(3));
        params.insert("s".to_owned(), Value::from("2026-01-01"));
        params.insert("b".to_owned(), Value::from(true));
        assert_eq!(
            param_pairs(&params).unwrap(),
            [
                ("b".to_owned(), "true".to_owned()),
                ("n".to_owned(), "3".to_owned()),
                ("s".to_owned(), "2026-01-01".to_owned())
            ]
        );
        params.insert("l".to_owned(), serde_json::json!([1]));
        assert_eq!(param_pairs(&params).unwrap_err().error_type, "usage");
    }

    #[test]
    fn outputs_may_not_leave_the_folder_even_through_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir_all(&root).unwrap();
        let root = root.canonicalize().unwrap();
        assert!(stays_inside(&root, Path::new("a/b.csv")));
        assert!(!stays_inside(&root, Path::new("../b.csv")));
        assert!(!stays_inside(&root, Path::new("/etc/passwd")));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
            assert!(!stays_inside(&root, Path::new("up/b.csv")));
        }
    }
}
