//! The runner: what `da plan run`, `da query`, `da serve` (and `da mcp`) share.
//!
//! Settings → a checked plan → the alias source it needs → the pipeline. Commands and the
//! server call these functions and only decide how to show the outcome; none of them
//! builds a backend or an engine on its own.

pub mod query;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::bigquery::{BigQueryOptions, BigQuerySource, Credentials, sanitize_label};
use crate::config::Backend;
use crate::config::PrecheckMode;
use crate::deadline::Deadline;
use crate::engine::{EngineOptions, RemoteAttachPolicy};
use crate::error::{BqErrorKind, Error, RunError};
use crate::pipeline::{self, Event, RunOptions, RunOutcome};
use crate::plan::{self, LoadFailure, LoadedPlan};
use crate::report::Progress;
use crate::settings::Settings;
use crate::source::cache::{CachePolicy, CachedSource};
use crate::source::local::LocalWarehouse;
use crate::source::{AliasSource, Estimate, Fetched, Precheck};
use crate::validate::{CheckedAlias, CheckedPlan, validate};

/// How a checked plan is run.
#[derive(Debug, Clone)]
pub struct RunSpec<'a> {
    /// Replaces the plan's folder as the base of output paths.
    pub output_dir: Option<&'a Path>,
    /// Write the plan's outputs (false for queries and plans sent over HTTP).
    pub write_outputs: bool,
    /// Draw progress bars on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Set by Ctrl-C or a server that gave up on the request.
    pub cancel: Arc<AtomicBool>,
    /// How long past the deadline a final query that ignores DuckDB's interrupt is waited
    /// for (`STUCK_GRACE` where the process ends with the run); `None` waits it out.
    pub stuck_grace: Option<std::time::Duration>,
}

/// How long a final query may run on after its deadline before a command that ends with
/// the run gives up on it (DuckDB looks for an interrupt only between chunks).
pub const STUCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Read and check a plan file. `params` are the `--param` values; every required one
/// must be given.
pub fn load_checked(
    path: &Path,
    params: &[(String, String)],
    settings: &Settings,
) -> Result<(LoadedPlan, CheckedPlan), Error> {
    let loaded = match plan::load(path) {
        Ok(loaded) => loaded,
        Err(LoadFailure::Unreadable(source)) => return Err(Error::io("read", path, source)),
        Err(LoadFailure::Invalid(report)) => return Err(Error::InvalidPlan(Box::new(report))),
    };
    let checked = check_loaded(&loaded, params, settings)?;
    Ok((loaded, checked))
}

/// Check plan text that did not come from a file (HTTP, MCP); `name` decides the syntax.
pub fn check_text(
    name: &str,
    text: &str,
    params: &[(String, String)],
    settings: &Settings,
) -> Result<CheckedPlan, Error> {
    let loaded = plan::parse(Path::new(name), text).map_err(|r| Error::InvalidPlan(Box::new(r)))?;
    check_loaded(&loaded, params, settings)
}

fn check_loaded(
    loaded: &LoadedPlan,
    params: &[(String, String)],
    settings: &Settings,
) -> Result<CheckedPlan, Error> {
    let ctx = settings.context(params, true);
    validate(loaded, &ctx).map_err(|diags| {
        Error::InvalidPlan(Box::new(plan::report(loaded.path(), loaded.text(), diags)))
    })
}

/// Run a checked plan: the one execution path of every command and the server.
pub fn run_checked(
    checked: &CheckedPlan,
    settings: &Settings,
    spec: &RunSpec<'_>,
) -> Result<RunOutcome, RunError> {
    // One budget for the whole run, from before the first backend call to the last write.
    let deadline = Deadline::start(checked.limits().timeout_seconds, spec.cancel.clone());
    let source = plan_source(checked, settings, &deadline)?;
    let progress = spec.progress.then(Progress::new);
    let on_event = |e: Event| {
        if let Some(p) = &progress {
            p.on(&e);
        }
    };
    let a = &settings.config.analytics;
    let opts = RunOptions {
        engine: engine_options(settings),
        tokens: a
            .remote_attach_token_envs
            .iter()
            .filter_map(|name| settings.env(name).map(|v| (name.clone(), v)))
            .collect(),
        concurrency: settings.config.bigquery.max_concurrency.unwrap_or(8) as usize,
        output_dir: spec.output_dir,
        write_outputs: spec.write_outputs,
        protected: settings.protected_paths(),
        deadline,
        price_per_tib: settings.price_per_tib(),
        stuck_grace: spec.stuck_grace,
    };
    let result = pipeline::run(checked, source.as_ref(), &opts, &on_event);
    if let Some(p) = &progress {
        p.clear();
    }
    result
}

/// Where a plan's aliases come from: nothing for a plan without any (no credentials, no
/// warehouse needed), else the configured backend, behind the result cache when the plan
/// or `--cache` asks for it.
fn plan_source(
    checked: &CheckedPlan,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Box<dyn AliasSource>, RunError> {
    let backend: Box<dyn AliasSource> = if checked.aliases().is_empty() {
        Box::new(NoAliases)
    } else {
        alias_source(settings, checked.name(), deadline)?
    };
    Ok(match cache_policy(checked, settings) {
        Some(policy) => Box::new(CachedSource::new(backend, policy)),
        None => backend,
    })
}

/// `--cache` caches every alias for this long unless the plan says otherwise.
const DEFAULT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The cache for this run, when any alias uses it and `--no-cache` was not given.
fn cache_policy(checked: &CheckedPlan, settings: &Settings) -> Option<CachePolicy> {
    let flags = settings.cache_use;
    let default_ttl = (flags.force == Some(true)).then_some(DEFAULT_CACHE_TTL);
    let wanted = default_ttl.is_some() || checked.aliases().iter().any(|a| a.cache_ttl().is_some());
    if flags.force == Some(false) || !wanted {
        return None;
    }
    let bq = &settings.config.bigquery;
    Some(CachePolicy {
        dir: settings.cache_dir()?,
        default_ttl,
        refresh: flags.refresh,
        project: bq.project.clone().unwrap_or_default(),
        location: bq.location.clone(),
    })
}

/// What a plan would cost, from dry runs only.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanEstimate {
    pub plan: String,
    pub backend: &'static str,
    /// US dollars per TiB the estimate uses.
    pub price_per_tib: f64,
    pub aliases: Vec<AliasEstimate>,
    /// Sum over the aliases, each in its precheck mode (`None` when any alias has no
    /// estimate).
    pub total_bytes: Option<u64>,
    /// What the plan would bill with every alias in `count` mode, and in `job` mode.
    pub total_count_mode_bytes: Option<u64>,
    pub total_job_mode_bytes: Option<u64>,
    pub total_usd: Option<f64>,
    pub budget: crate::config::Budget,
    /// `false` when the total is over the budget (or the budget cannot be checked).
    pub within_budget: bool,
}

/// One alias's share.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AliasEstimate {
    pub alias: String,
    /// Bytes the alias query scans (bills).
    pub bytes: Option<u64>,
    /// Bytes the COUNT precheck scans (bills).
    pub count_bytes: Option<u64>,
    /// The alias's precheck mode, and what it would bill in it.
    pub precheck: PrecheckMode,
    pub billed_bytes: Option<u64>,
    pub usd: Option<f64>,
    /// What `precheck: count` bills (the COUNT, then the query) and `precheck: job` (the
    /// query once) when the alias is within its limits.
    pub count_mode_bytes: Option<u64>,
    pub job_mode_bytes: Option<u64>,
    /// The mode that bills less when the alias is within its limits (`job` whenever the
    /// COUNT scans anything); over its limits, `count` mode bills only the COUNT.
    pub cheaper: Option<PrecheckMode>,
    /// The result's columns and their types.
    pub columns: Vec<(String, String)>,
    /// A fresh result is in the cache: a run takes it from there and bills nothing.
    pub cached: bool,
    /// The result's schema (BigQuery types in each field's metadata), for `da plan lock`.
    #[serde(skip)]
    pub schema: Option<arrow::datatypes::SchemaRef>,
}

/// One alias's estimate in both precheck modes.
fn alias_estimate(checked: &CheckedPlan, alias: String, e: &Estimate, price: f64) -> AliasEstimate {
    let mode = checked
        .aliases()
        .iter()
        .find(|a| a.name() == alias)
        .map_or_else(PrecheckMode::default, CheckedAlias::precheck);
    let billed_bytes = e.billed_bytes(mode);
    let count_mode_bytes = e.billed_bytes(PrecheckMode::Count);
    let job_mode_bytes = e.billed_bytes(PrecheckMode::Job);
    let cheaper = match (count_mode_bytes, job_mode_bytes) {
        (Some(c), Some(j)) if j < c => Some(PrecheckMode::Job),
        (Some(_), Some(_)) => Some(PrecheckMode::Count),
        _ => None,
    };
    AliasEstimate {
        usd: billed_bytes.map(|b| crate::source::usd(b, price)),
        columns: e
            .schema
            .iter()
            .flat_map(|s| s.fields().iter())
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect(),
        alias,
        bytes: e.bytes_processed,
        count_bytes: e.count_bytes,
        precheck: mode,
        billed_bytes,
        count_mode_bytes,
        job_mode_bytes,
        cheaper,
        cached: e.cached,
        schema: e.schema.clone(),
    }
}

/// Dry-run every alias of a checked plan: bytes, dollars and result columns, with no
/// billed job and no download.
pub fn estimate(checked: &CheckedPlan, settings: &Settings) -> Result<PlanEstimate, RunError> {
    let deadline = Deadline::start(
        checked.limits().timeout_seconds,
        Arc::new(AtomicBool::new(false)),
    );
    let backend = backend_label(checked, settings);
    // As a run would: cached aliases come from the cache, and cost nothing.
    let source = plan_source(checked, settings, &deadline)?;
    let concurrency = settings.config.bigquery.max_concurrency.unwrap_or(8) as usize;
    let price = settings.price_per_tib();
    let aliases: Vec<AliasEstimate> =
        pipeline::estimate_only(checked, source.as_ref(), concurrency)?
            .into_iter()
            .map(|(alias, e)| alias_estimate(checked, alias, &e, price))
            .collect();
    let total_bytes = aliases.iter().map(|a| a.billed_bytes).sum::<Option<u64>>();
    let total_count_mode = aliases
        .iter()
        .map(|a| a.count_mode_bytes)
        .sum::<Option<u64>>();
    let total_job_mode = aliases
        .iter()
        .map(|a| a.job_mode_bytes)
        .sum::<Option<u64>>();
    let total_usd = total_bytes.map(|b| crate::source::usd(b, price));
    let budget = checked.budget();
    let within_budget = match (backend, total_bytes, total_usd) {
        ("bigquery", Some(bytes), Some(usd)) => {
            budget.max_bytes.is_none_or(|max| bytes <= max)
                && budget.max_usd.is_none_or(|max| usd <= max)
        }
        ("bigquery", _, _) => !budget.is_set(),
        _ => true,
    };
    Ok(PlanEstimate {
        plan: checked.name().to_owned(),
        backend,
        price_per_tib: price,
        aliases,
        total_bytes,
        total_count_mode_bytes: total_count_mode,
        total_job_mode_bytes: total_job_mode,
        total_usd,
        budget,
        within_budget,
    })
}

/// Which backend a plan runs on: `none` without aliases, else the configured one.
pub fn backend_label(checked: &CheckedPlan, settings: &Settings) -> &'static str {
    if checked.aliases().is_empty() {
        return "none";
    }
    match settings.backend() {
        Backend::Local => "local",
        Backend::Bigquery => "bigquery",
    }
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
fn alias_source(
    settings: &Settings,
    plan_name: &str,
    deadline: &Deadline,
) -> Result<Box<dyn AliasSource>, RunError> {
    match settings.backend() {
        Backend::Local => {
            let Some(root) = settings.config.bigquery.local_warehouse.clone() else {
                return Err(RunError::bq(BqErrorKind::NotConfigured, "the local backend has no warehouse folder")
                    .hint("set bigquery.local_warehouse in the config (or DA_LOCAL_WAREHOUSE), or configure bigquery.project"));
            };
            Ok(Box::new(
                LocalWarehouse::new(root).with_deadline(deadline.clone()),
            ))
        }
        Backend::Bigquery => Ok(Box::new(BigQuerySource::new(bigquery_options(
            settings, plan_name, deadline,
        )?)?)),
    }
}

fn bigquery_options(
    settings: &Settings,
    plan_name: &str,
    deadline: &Deadline,
) -> Result<BigQueryOptions, RunError> {
    let bq = &settings.config.bigquery;
    let access = settings.bigquery_access()?;
    let credentials =
        Credentials::discover(access.token, bq.credentials.clone(), &|n| settings.env(n))?;
    let Some(project) = bq.project.clone() else {
        return Err(RunError::bq(
            BqErrorKind::NotConfigured,
            "no BigQuery project is configured",
        )
        .hint("set bigquery.project in the config or DA_BIGQUERY_PROJECT"));
    };
    let labels = [
        ("tool".to_owned(), "da".to_owned()),
        ("plan".to_owned(), sanitize_label(plan_name)),
    ]
    .into_iter()
    .collect();
    Ok(BigQueryOptions {
        project,
        location: bq.location.clone(),
        endpoint: access.endpoint,
        credentials,
        dry_run: bq.dry_run.unwrap_or(true),
        policy: settings.bigquery_policy(),
        labels,
        page_size: 10_000,
        deadline: deadline.clone(),
        read_api: bq.read_api.unwrap_or_default(),
        read_api_min_rows: bq
            .read_api_min_rows
            .unwrap_or(crate::config::DEFAULT_READ_API_MIN_ROWS),
        storage_endpoint: access.storage_endpoint,
    })
}

/// The source of a plan without aliases: never asked for anything.
struct NoAliases;

impl AliasSource for NoAliases {
    fn label(&self) -> &'static str {
        "none"
    }
    fn estimate(&self, alias: &CheckedAlias) -> Result<Estimate, RunError> {
        Err(no_backend(alias))
    }
    fn precheck(&self, alias: &CheckedAlias, _: &Estimate) -> Result<Precheck, RunError> {
        Err(no_backend(alias))
    }
    fn fetch(&self, alias: &CheckedAlias) -> Result<Fetched, RunError> {
        Err(no_backend(alias))
    }
}

fn no_backend(alias: &CheckedAlias) -> RunError {
    RunError::bq(
        BqErrorKind::NotConfigured,
        format!("no backend for alias `{}`", alias.name()),
    )
}
