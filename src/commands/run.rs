//! `da plan run`: validate, run the pipeline, show progress and a summary, write outputs
//! and the run report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::config::Backend;
use crate::engine::{EngineOptions, RemoteAttachPolicy};
use crate::error::{Error, ErrorType, RunError};
use crate::output::{self, Format};
use crate::pipeline::{self, Event, RunOptions, RunOutcome};
use crate::plan::{self, LoadFailure};
use crate::report::{FinalInfo, PlanInfo, Progress, RunReport, summary};
use crate::settings::Settings;
use crate::source::AliasSource;
use crate::source::local::LocalWarehouse;
use crate::validate::{CheckedPlan, validate};

/// What `plan run` needs, resolved from flags.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub plan: PathBuf,
    pub params: Vec<(String, String)>,
    pub output_dir: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub quiet: bool,
    /// Draw progress bars (stderr is a terminal and not quiet).
    pub progress: bool,
}

/// Run a plan; the result table goes to `out` when the plan has no outputs.
pub fn run(
    req: &RunRequest,
    settings: &Settings,
    cancel: Arc<AtomicBool>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Error> {
    let loaded = match plan::load(&req.plan) {
        Ok(loaded) => loaded,
        Err(LoadFailure::Unreadable(source)) => {
            return Err(Error::Read {
                path: req.plan.clone(),
                source,
            });
        }
        Err(LoadFailure::Invalid(report)) => return Err(Error::InvalidPlan(Box::new(report))),
    };
    let ctx = settings.context(&req.params, true);
    let checked = validate(&loaded, &ctx).map_err(|diags| {
        Error::InvalidPlan(Box::new(plan::report(&req.plan, &loaded.doc.text, diags)))
    })?;
    if !req.quiet {
        crate::report::warnings(&checked.warnings, err);
    }
    let plan_sha = hex(&Sha256::digest(loaded.doc.text.as_bytes()));
    let source = alias_source(settings, &checked.name, &cancel)?;
    let started = Instant::now();
    let outcome = execute(&checked, settings, source.as_ref(), req, cancel.clone());
    if let Some(path) = &req.report {
        write_report(path, req, &checked, &plan_sha, &outcome, started)?;
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let outcome = outcome?;
    if checked.outputs.is_empty() {
        match output::write(
            Format::Table,
            &outcome.result.schema,
            &outcome.result.batches,
            &mut *out,
        ) {
            // `da plan run x.yaml | head` is a success, not an error.
            Err(e) if e.is_broken_pipe() => return Ok(crate::error::exit::OK),
            other => {
                other?;
            }
        }
    }
    if !req.quiet {
        let _ = summary(&outcome, err);
    }
    Ok(crate::error::exit::OK)
}

fn execute(
    checked: &CheckedPlan,
    settings: &Settings,
    source: &dyn AliasSource,
    req: &RunRequest,
    cancel: Arc<AtomicBool>,
) -> Result<RunOutcome, RunError> {
    run_checked(
        checked,
        settings,
        source,
        req.output_dir.as_deref(),
        req.progress,
        true,
        cancel,
    )
}

/// Run a checked plan with optional progress bars: the one execution path of `plan run`
/// and `query`.
#[allow(clippy::too_many_arguments)]
pub fn run_checked(
    checked: &CheckedPlan,
    settings: &Settings,
    source: &dyn AliasSource,
    output_dir: Option<&std::path::Path>,
    show_progress: bool,
    write_outputs: bool,
    cancel: Arc<AtomicBool>,
) -> Result<RunOutcome, RunError> {
    let progress = show_progress.then(Progress::new);
    let on_event = |e: Event| {
        if let Some(p) = &progress {
            p.on(&e);
        }
    };
    let opts = RunOptions {
        engine: engine_options(settings),
        concurrency: settings.config.bigquery.max_concurrency.unwrap_or(8) as usize,
        output_dir,
        write_outputs,
        cancel,
    };
    let result = pipeline::run(checked, source, &opts, &on_event);
    if let Some(p) = &progress {
        p.clear();
    }
    result
}

/// The analytics connection as configured.
pub fn engine_options(settings: &Settings) -> EngineOptions {
    let a = &settings.config.analytics;
    EngineOptions {
        database: a.database.clone(),
        extracts: a.extracts.clone(),
        memory_limit: a.memory_limit.clone(),
        threads: a.threads,
        remote_attach: RemoteAttachPolicy {
            extensions: a.remote_attach_extensions.clone(),
            token_envs: a.remote_attach_token_envs.clone(),
        },
    }
}

/// The configured backend, or a `bq_error` saying what is missing.
pub fn alias_source(
    settings: &Settings,
    plan_name: &str,
    cancel: &Arc<AtomicBool>,
) -> Result<Box<dyn AliasSource>, RunError> {
    match settings.backend() {
        Backend::Local => {
            let Some(root) = settings.config.bigquery.local_warehouse.clone() else {
                return Err(RunError::new(ErrorType::BqError, "the local backend has no warehouse folder")
                    .detail("kind", "not_configured")
                    .hint("set bigquery.local_warehouse in the config (or DA_LOCAL_WAREHOUSE), or configure bigquery.project"));
            };
            Ok(Box::new(LocalWarehouse::new(root)))
        }
        Backend::Bigquery => {
            let bq = &settings.config.bigquery;
            // An emulator named the way Google's tools expect wins over the config.
            let emulator = std::env::var("BIGQUERY_EMULATOR_HOST")
                .ok()
                .filter(|h| !h.is_empty());
            let endpoint = emulator
                .as_ref()
                .map(|host| format!("http://{host}/bigquery/v2"))
                .or_else(|| bq.endpoint.clone());
            // A token from the environment, or from a file (so it stays out of `ps` and logs).
            let token_file = std::env::var("DA_BIGQUERY_ACCESS_TOKEN_FILE")
                .ok()
                .filter(|f| !f.is_empty());
            let from_file = match token_file {
                Some(file) => Some(std::fs::read_to_string(&file).map(|t| t.trim().to_owned()).map_err(|e| {
                    RunError::new(ErrorType::BqError, format!("cannot read DA_BIGQUERY_ACCESS_TOKEN_FILE {file}: {e}"))
                        .detail("kind", "auth_failed")
                        .hint("point DA_BIGQUERY_ACCESS_TOKEN_FILE at a file holding an access token")
                })?),
                None => None,
            };
            let token = std::env::var("DA_BIGQUERY_ACCESS_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .or(from_file)
                .or_else(|| emulator.map(|_| "emulator".to_owned()));
            let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            let credentials =
                crate::bigquery::Credentials::discover(token, bq.credentials.clone(), &env)?;
            let Some(project) = bq.project.clone() else {
                return Err(
                    RunError::new(ErrorType::BqError, "no BigQuery project is configured")
                        .detail("kind", "not_configured")
                        .hint("set bigquery.project in the config or DA_BIGQUERY_PROJECT"),
                );
            };
            let mut labels = std::collections::HashMap::new();
            labels.insert("tool".to_owned(), "da".to_owned());
            labels.insert(
                "plan".to_owned(),
                crate::bigquery::sanitize_label(plan_name),
            );
            let opts = crate::bigquery::BigQueryOptions {
                project,
                location: bq.location.clone(),
                endpoint,
                credentials,
                dry_run: bq.dry_run.unwrap_or(true),
                labels,
                timeout: std::time::Duration::from_secs(
                    settings.config.remote_query.timeout_seconds,
                ),
                page_size: 10_000,
                cancel: cancel.clone(),
            };
            Ok(Box::new(crate::bigquery::BigQuerySource::new(opts)?))
        }
    }
}

fn write_report(
    path: &std::path::Path,
    req: &RunRequest,
    checked: &CheckedPlan,
    plan_sha: &str,
    outcome: &Result<RunOutcome, RunError>,
    started: Instant,
) -> Result<(), Error> {
    let ok = outcome.as_ref().ok();
    let report = RunReport {
        ok: ok.is_some(),
        plan: PlanInfo {
            path: req.plan.display().to_string(),
            name: &checked.name,
            sha256: plan_sha.to_owned(),
        },
        backend: ok.map(|o| o.backend),
        params: checked
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_text()))
            .collect::<BTreeMap<_, _>>(),
        aliases: ok.map_or(&[], |o| &o.aliases),
        final_step: ok.map(FinalInfo::of),
        outputs: ok.map_or(&[], |o| &o.outputs),
        warnings: ok.map_or(&[], |o| &o.warnings),
        error: outcome.as_ref().err(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let mut text = serde_json::to_vec_pretty(&report).map_err(|e| Error::Usage(e.to_string()))?;
    text.push(b'\n');
    output::write_bytes(path, &text)?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
