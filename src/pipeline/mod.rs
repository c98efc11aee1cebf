//! The run pipeline: precheck every alias in parallel, fetch and register them, seal the
//! engine, run the final step, write the outputs. It sends `Event`s; reporters print them.
//!
//! Each phase is one function whose input is the previous phase's output type, and every
//! phase boundary asks the run's one `Deadline` whether to go on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use rayon::prelude::*;
use serde::Serialize;

use crate::deadline::Deadline;
mod final_step;

use self::final_step::{final_step, on_engine_thread};
use crate::engine::{Engine, EngineOptions, QueryResult, SealedEngine};
use crate::error::{ErrorType, RunError};
use crate::output::{self, WrittenFile};
use crate::source::{AliasSource, Estimate, Fetched, JobStats, Precheck, estimate_bytes, mib, usd};
use crate::validate::{CheckedAlias, CheckedPlan};

/// Progress of a run, for reporters (progress bars, logs). Sent from several threads.
#[derive(Debug, Clone)]
pub enum Event {
    PrecheckStarted {
        alias: String,
    },
    PrecheckDone {
        alias: String,
        rows: u64,
        estimated_mb: f64,
    },
    FetchDone {
        alias: String,
        rows: u64,
        bytes: u64,
    },
    Registered {
        alias: String,
    },
    FinalStarted,
    FinalDone {
        rows: u64,
        truncated: bool,
    },
    Written {
        path: PathBuf,
        rows: u64,
        bytes: u64,
    },
}

/// Per-alias numbers for reports and the HTTP API's `bq_stats`.
#[derive(Debug, Clone, Serialize)]
pub struct AliasStats {
    pub alias: String,
    pub rows: u64,
    pub columns: usize,
    pub bytes: u64,
    pub memory_mb: f64,
    pub estimated_memory_mb: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_processed: Option<u64>,
    pub precheck_ms: u64,
    pub fetch_ms: u64,
    pub register_ms: u64,
    /// Bytes the precheck's own jobs billed (`count`: the COUNT; `job`: the one query job,
    /// whose pages the fetch then reads for nothing more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precheck_bytes_billed: Option<u64>,
    /// Every billed job, precheck first (BigQuery; empty for the local backend).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<JobStats>,
    /// Answered from the result cache: no job ran for it.
    pub cached: bool,
}

/// Everything a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub backend: &'static str,
    pub aliases: Vec<AliasStats>,
    pub result: QueryResult,
    pub final_ms: u64,
    pub outputs: Vec<WrittenFile>,
    pub warnings: Vec<String>,
}

/// Where outputs go and how much may run at once.
pub struct RunOptions<'a> {
    pub engine: EngineOptions,
    /// Values of the remote-attach token variables (from the settings' snapshot).
    pub tokens: BTreeMap<String, String>,
    /// Aliases prechecked and fetched at once.
    pub concurrency: usize,
    /// Replaces the plan's folder as the base of output paths.
    pub output_dir: Option<&'a Path>,
    /// Write the plan's outputs (false for plans sent over HTTP).
    pub write_outputs: bool,
    /// Inputs outputs may never replace or write into (besides the plan itself).
    pub protected: Vec<output::guard::Protected>,
    /// The run's time budget and cancel flag, shared with the alias source.
    pub deadline: Deadline,
    /// US dollars per TiB billed, for the budget's `max_usd`.
    pub price_per_tib: f64,
    /// How long past the deadline a final query that ignores DuckDB's interrupt (one long
    /// expression) is waited for before the run fails without it (`final_step.rs`). `None`
    /// waits for it: the server, which answered 504 already, keeps the request's slot
    /// taken until the work really ends.
    pub stuck_grace: Option<std::time::Duration>,
}

/// Every alias of a plan, prechecked and within its limits. Only `precheck` builds one,
/// so nothing is downloaded before every alias passed.
pub struct Prechecked<'p> {
    aliases: Vec<PrecheckedAlias<'p>>,
}

/// An alias with what its backend could say for free.
struct EstimatedAlias<'p> {
    alias: &'p CheckedAlias,
    estimate: Estimate,
    estimate_ms: u64,
}

struct PrecheckedAlias<'p> {
    alias: &'p CheckedAlias,
    precheck: Precheck,
    /// Its (empty) table already exists with the precheck's schema (made for the bind).
    table_ready: bool,
    precheck_ms: u64,
}

/// An alias's data, downloaded and within its memory limit.
struct FetchedAlias<'p> {
    pre: PrecheckedAlias<'p>,
    data: Fetched,
    fetch_ms: u64,
}

type Events<'e> = &'e (dyn Fn(Event) + Sync);

/// Run a checked plan end to end: precheck, fetch, register, the final step, outputs.
pub fn run(
    plan: &CheckedPlan,
    source: &dyn AliasSource,
    opts: &RunOptions<'_>,
    events: Events<'_>,
) -> Result<RunOutcome, RunError> {
    let deadline = &opts.deadline;
    // Where the outputs go is settled before anything is billed.
    let targets = output_targets(plan, opts)?;
    let pool = alias_pool(opts.concurrency)?;
    let estimated = estimate(plan, source, &pool);
    deadline.check("dry runs")?;
    let estimated = estimated?;
    within_budget(plan, &estimated, source, opts.price_per_tib)?;
    // The engine opens (and is sealed) before anything is billed: a missing analytics
    // database or a final step that does not bind costs nothing.
    let engine = Engine::open(&opts.engine, &|name| opts.tokens.get(name).cloned())?.seal()?;
    // From here on the engine's warnings (extracts, re-attach) travel with any failure.
    let warnings = engine.warnings.clone();
    let on_engine = |engine: SealedEngine| -> Result<RunOutcome, RunError> {
        let engine_warnings = engine.warnings.clone();
        refuse_shadowing(&engine, plan)?;
        let engine = bind(engine, plan, &estimated, opts)?;
        let prechecked = precheck(estimated, source, &pool, events);
        deadline.check("prechecks")?;
        let fetched = fetch(prechecked?, source, &pool, events);
        deadline.check("fetch")?;
        let fetched = fetched?;
        // How the data came (a Read API fallback) reaches the report, even of a failure.
        let fetch_warnings: Vec<String> = fetched
            .iter()
            .flat_map(|f| f.data.warnings.iter().cloned())
            .collect();
        let aliases = register(&engine, fetched, events)?;
        deadline.check("registration")?;
        // The engine goes to the final query's thread (`final_step.rs`).
        let (result, outputs, final_ms) = final_step(engine, plan, &targets, opts, events)
            .map_err(|e| e.with_warnings(&fetch_warnings))?;
        Ok(RunOutcome {
            backend: source.label(),
            aliases,
            result,
            final_ms,
            outputs,
            warnings: [engine_warnings, fetch_warnings].concat(),
        })
    };
    on_engine(engine).map_err(|e| e.with_warnings(&warnings))
}

/// Alias work waits on the network, not the CPU: its own pool, sized by configuration
/// rather than by core count, bounds how many backend calls are in flight.
fn alias_pool(concurrency: usize) -> Result<rayon::ThreadPool, RunError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(concurrency.max(1))
        .thread_name(|i| format!("da-alias-{i}"))
        .build()
        .map_err(|e| {
            RunError::new(
                ErrorType::QueryError,
                format!("cannot start worker threads: {e}"),
            )
        })
}

/// Only the estimates: every alias's dry run side by side, nothing billed or downloaded
/// (`da plan estimate`).
pub fn estimate_only(
    plan: &CheckedPlan,
    source: &dyn AliasSource,
    concurrency: usize,
) -> Result<Vec<(String, Estimate)>, RunError> {
    let pool = alias_pool(concurrency)?;
    Ok(estimate(plan, source, &pool)?
        .into_iter()
        .map(|e| (e.alias.name().to_owned(), e.estimate))
        .collect())
}

/// Phase 1: every alias estimated side by side (BigQuery: dry runs, which bill nothing).
fn estimate<'p>(
    plan: &'p CheckedPlan,
    source: &dyn AliasSource,
    pool: &rayon::ThreadPool,
) -> Result<Vec<EstimatedAlias<'p>>, RunError> {
    let results: Vec<Result<EstimatedAlias<'p>, RunError>> = pool.install(|| {
        plan.aliases()
            .par_iter()
            .map(|alias| {
                let t = Instant::now();
                let estimate = source.estimate(alias)?;
                Ok(EstimatedAlias {
                    alias,
                    estimate,
                    estimate_ms: elapsed_ms(t),
                })
            })
            .collect()
    });
    all_ok(results)
}

/// The plan's budget, on the dry runs' sum, before any billed job starts. The local backend
/// bills nothing; a budget that cannot be checked (no dry run) refuses the run.
fn within_budget(
    plan: &CheckedPlan,
    estimated: &[EstimatedAlias<'_>],
    source: &dyn AliasSource,
    price_per_tib: f64,
) -> Result<(), RunError> {
    let budget = plan.budget();
    if !budget.is_set() || source.label() != "bigquery" {
        return Ok(());
    }
    let mut total = 0u64;
    for e in estimated {
        let Some(bytes) = e.estimate.billed_bytes(e.alias.precheck()) else {
            return Err(RunError::new(
                ErrorType::CostLimit,
                format!(
                    "the budget cannot be enforced: no dry-run estimate for alias `{}`",
                    e.alias.name()
                ),
            )
            .hint("turn bigquery.dry_run back on, or remove the budget"));
        };
        total = total.saturating_add(bytes);
    }
    let cost = usd(total, price_per_tib);
    let over_bytes = budget.max_bytes.filter(|max| total > *max);
    let over_usd = budget.max_usd.filter(|max| cost > *max);
    if over_bytes.is_none() && over_usd.is_none() {
        return Ok(());
    }
    let cap = match (over_bytes, over_usd) {
        (Some(max), _) => format!("its budget of {max} bytes"),
        (None, Some(max)) => format!("its budget of ${max:.2}"),
        (None, None) => unreachable!("checked above"),
    };
    Err(RunError::new(
        ErrorType::CostLimit,
        format!(
            "the plan would bill about {total} bytes (${cost:.4} at ${price_per_tib}/TiB), over {cap}; nothing billed was started"
        ),
    )
    .detail("estimated_bytes", total)
    .detail("estimated_usd", cost)
    .detail("max_bytes", budget.max_bytes)
    .detail("max_usd", budget.max_usd)
    .hint("run `da plan estimate` to see each alias's share, then filter on partition or cluster columns, select fewer columns, or raise the plan's budget within the instance's"))
}

/// Phase 2a: no alias silently hides a table or view of the analytics database or an
/// extract (DuckDB would resolve the name to the alias): the alias must say `shadow: true`.
fn refuse_shadowing(engine: &SealedEngine, plan: &CheckedPlan) -> Result<(), RunError> {
    let tables = engine.catalog_tables()?;
    for alias in plan.aliases().iter().filter(|a| !a.shadow()) {
        let hidden = tables
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(alias.name()));
        if let Some((_, table)) = hidden {
            return Err(RunError::new(
                ErrorType::QueryError,
                format!("alias `{}` has the name of the analytics table `{table}`, which it would hide in the final step", alias.name()),
            )
            .detail("alias", alias.name())
            .detail("table", table.as_str())
            .hint("rename the alias, or set `shadow: true` on it if it is meant to replace the table"));
        }
    }
    Ok(())
}

/// Phase 2: the final step bound against empty tables of the aliases' estimated shapes,
/// before anything is billed. Skipped when a shape is unknown (dry runs turned off).
///
/// DuckDB works out constant expressions while it prepares, so the bind runs on the
/// engine's own thread, like the final query (`final_step::on_engine_thread`).
fn bind(
    engine: SealedEngine,
    plan: &CheckedPlan,
    estimated: &[EstimatedAlias<'_>],
    opts: &RunOptions<'_>,
) -> Result<SealedEngine, RunError> {
    let mut shapes = Vec::new();
    for e in estimated {
        let Some(schema) = &e.estimate.schema else {
            return Ok(engine);
        };
        shapes.push((e.alias.name().to_owned(), schema.clone()));
    }
    let step = plan.final_step().clone();
    let (engine, bound) =
        on_engine_thread(engine, opts, "the bind of the final sql", move |engine| {
            for (name, schema) in &shapes {
                engine.create_alias_table(name, schema)?;
            }
            engine.bind(&step).map_err(|err| bind_error(err, &shapes))
        })?;
    bound.map(|()| engine)
}

/// A binder error with what the aliases really hold: their columns, and the closest one to
/// a misspelt name.
fn bind_error(mut err: RunError, shapes: &[(String, SchemaRef)]) -> RunError {
    let columns: serde_json::Map<String, serde_json::Value> = shapes
        .iter()
        .map(|(name, schema)| {
            let cols: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            ((*name).to_owned(), serde_json::json!(cols))
        })
        .collect();
    let all: Vec<String> = shapes
        .iter()
        .flat_map(|(_, s)| s.fields().iter().map(|f| f.name().clone()))
        .collect();
    // DuckDB quotes the names it could not find (and the table it looked in): the first
    // quoted name that is close to, but not, an alias column is the likely typo.
    let close = err
        .message
        .split('"')
        .skip(1)
        .step_by(2)
        .find_map(|named| crate::schema::closest(named, &all).filter(|c| *c != named))
        .map(str::to_owned);
    let listed = shapes
        .iter()
        .map(|(name, schema)| {
            let cols: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            format!("{name}({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let hint = match close {
        Some(c) => format!("did you mean `{c}`? The aliases hold: {listed}"),
        None if shapes.is_empty() => {
            "check the table and column names against the analytics database".to_owned()
        }
        None => format!("the aliases hold: {listed}"),
    };
    if let Some(line) = err
        .message
        .split("LINE ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
    {
        err = err.detail("line", line);
    }
    err.message = format!(
        "{} (nothing was billed or downloaded)",
        err.message.lines().next().unwrap_or_default()
    );
    err.detail("alias_columns", columns).hint(hint)
}

/// Phase 3: every alias is prechecked side by side; nothing is fetched unless all pass.
fn precheck<'p>(
    estimated: Vec<EstimatedAlias<'p>>,
    source: &dyn AliasSource,
    pool: &rayon::ThreadPool,
    events: Events<'_>,
) -> Result<Prechecked<'p>, RunError> {
    let results: Vec<Result<PrecheckedAlias<'p>, RunError>> = pool.install(|| {
        estimated
            .into_par_iter()
            .map(
                |EstimatedAlias {
                     alias,
                     estimate,
                     estimate_ms,
                 }| {
                    events(Event::PrecheckStarted {
                        alias: alias.name().to_owned(),
                    });
                    let t = Instant::now();
                    let precheck = source
                        .precheck(alias, &estimate)
                        .and_then(|p| within_limits(alias, p))?;
                    events(Event::PrecheckDone {
                        alias: alias.name().to_owned(),
                        rows: precheck.rows,
                        estimated_mb: mib(estimate_bytes(&precheck.schema, precheck.rows)),
                    });
                    Ok(PrecheckedAlias {
                        alias,
                        table_ready: estimate.schema.as_ref() == Some(&precheck.schema),
                        precheck,
                        precheck_ms: estimate_ms + elapsed_ms(t),
                    })
                },
            )
            .collect()
    });
    Ok(Prechecked {
        aliases: all_ok(results)?,
    })
}

/// Phase 4: fetch side by side; the memory limit is enforced again on the real size.
fn fetch<'p>(
    prechecked: Prechecked<'p>,
    source: &dyn AliasSource,
    pool: &rayon::ThreadPool,
    events: Events<'_>,
) -> Result<Vec<FetchedAlias<'p>>, RunError> {
    let results: Vec<Result<FetchedAlias<'p>, RunError>> = pool.install(|| {
        prechecked
            .aliases
            .into_par_iter()
            .map(|pre| {
                let t = Instant::now();
                let data = source.fetch(pre.alias)?;
                let mb = mib(data.bytes);
                #[allow(clippy::cast_precision_loss)]
                if mb > pre.alias.max_memory_mb() as f64 {
                    return Err(memory_limit(pre.alias, mb, "fetched data takes"));
                }
                events(Event::FetchDone {
                    alias: pre.alias.name().to_owned(),
                    rows: data.rows,
                    bytes: data.bytes,
                });
                Ok(FetchedAlias {
                    pre,
                    data,
                    fetch_ms: elapsed_ms(t),
                })
            })
            .collect()
    });
    all_ok(results)
}

/// Phase 5: register every alias as a table beside the analytics database.
fn register(
    engine: &SealedEngine,
    fetched: Vec<FetchedAlias<'_>>,
    events: Events<'_>,
) -> Result<Vec<AliasStats>, RunError> {
    let mut stats = Vec::new();
    for FetchedAlias {
        pre,
        data,
        fetch_ms,
    } in fetched
    {
        let name = pre.alias.name();
        let t = Instant::now();
        let (rows, bytes, columns) = (data.rows, data.bytes, data.schema.fields().len());
        let cached = data.cached;
        if !pre.table_ready || data.schema != pre.precheck.schema {
            engine.create_alias_table(name, &data.schema)?;
        }
        engine.append_alias(name, &data.schema, data.batches)?;
        events(Event::Registered {
            alias: name.to_owned(),
        });
        stats.push(AliasStats {
            alias: name.to_owned(),
            rows,
            columns,
            bytes,
            memory_mb: round3(mib(bytes)),
            estimated_memory_mb: round3(mib(estimate_bytes(
                &pre.precheck.schema,
                pre.precheck.rows,
            ))),
            bytes_processed: pre.precheck.bytes_processed,
            precheck_ms: pre.precheck_ms,
            fetch_ms,
            register_ms: elapsed_ms(t),
            precheck_bytes_billed: (!pre.precheck.jobs.is_empty()).then(|| {
                pre.precheck
                    .jobs
                    .iter()
                    .filter_map(|j| j.bytes_billed)
                    .sum()
            }),
            jobs: pre.precheck.jobs.into_iter().chain(data.jobs).collect(),
            cached,
        });
    }
    Ok(stats)
}

/// One output: the resolved path written to, the path as shown, its format.
struct OutputTarget {
    write: PathBuf,
    shown: PathBuf,
    format: output::Format,
}

/// Phase 0: each output's place on disk, refused when it leaves its folder (the plan's, or
/// `--output-dir`) through a symbolic link, is a link itself, or would replace an input:
/// the plan, its config, the analytics database, extracts, the local warehouse.
fn output_targets(
    plan: &CheckedPlan,
    opts: &RunOptions<'_>,
) -> Result<Vec<OutputTarget>, RunError> {
    if !opts.write_outputs {
        return Ok(Vec::new());
    }
    let root = match (opts.output_dir, plan.path().parent()) {
        (Some(dir), _) => dir,
        (None, Some(dir)) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut protected = opts.protected.clone();
    protected.push(output::guard::Protected::new(
        plan.path(),
        "the plan itself",
    ));
    plan.outputs()
        .iter()
        .map(|out| {
            let shown = match opts.output_dir {
                Some(dir) => dir.join(out.relative()),
                None => out.path().to_owned(),
            };
            let write = output::guard::prepare(root, out.relative(), &protected).map_err(|e| {
                RunError::new(ErrorType::QueryError, format!("cannot write the outputs: {e}"))
                    .detail("path", shown.display().to_string())
                    .hint("write each output to its own file inside the plan's folder (or --output-dir), through no symbolic link; nothing was run")
            })?;
            Ok(OutputTarget {
                write,
                shown,
                format: out.format(),
            })
        })
        .collect()
}

/// Every value, or one error that lists every failure (the first one's type).
fn all_ok<T>(results: Vec<Result<T, RunError>>) -> Result<Vec<T>, RunError> {
    let mut values = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(v) => values.push(v),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        Ok(values)
    } else {
        Err(combine(failures))
    }
}

fn within_limits(alias: &CheckedAlias, p: Precheck) -> Result<Precheck, RunError> {
    if p.rows > alias.max_rows() {
        return Err(RunError::new(
            ErrorType::RowLimit,
            format!(
                "alias `{}`: BigQuery result has {} rows, exceeding the limit of {}",
                alias.name(),
                p.rows,
                alias.max_rows()
            ),
        )
        .detail("alias", alias.name())
        .detail("count", p.rows)
        .detail("max", alias.max_rows())
        .hint(
            "filter or aggregate the alias's SQL, or raise its max_rows within the instance limit",
        ));
    }
    let estimated = mib(estimate_bytes(&p.schema, p.rows));
    #[allow(clippy::cast_precision_loss)]
    if estimated > alias.max_memory_mb() as f64 {
        return Err(memory_limit(alias, estimated, "estimated size is"));
    }
    Ok(p)
}

fn memory_limit(alias: &CheckedAlias, mb: f64, what: &str) -> RunError {
    RunError::new(
        ErrorType::MemoryLimit,
        format!(
            "alias `{}`: {what} {:.1} MiB, exceeding the limit of {} MiB",
            alias.name(),
            mb,
            alias.max_memory_mb()
        ),
    )
    .detail("alias", alias.name())
    .detail("memory_mb", round3(mb))
    .detail("max_memory_mb", alias.max_memory_mb())
    .hint("select fewer columns or rows, or raise max_memory_mb within the instance limit")
}

/// One error for several failed aliases: the first one's type, every message listed.
fn combine(mut failures: Vec<RunError>) -> RunError {
    if failures.len() == 1 {
        return failures.remove(0);
    }
    let first = &failures[0];
    let message = failures
        .iter()
        .map(|f| f.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let all: Vec<serde_json::Value> = failures
        .iter()
        .map(|f| serde_json::to_value(f).unwrap_or_default())
        .collect();
    let mut combined = RunError::new(
        first.error_type,
        format!("{} aliases failed: {message}", failures.len()),
    )
    .detail("failures", all);
    combined.hint.clone_from(&first.hint);
    combined
}

fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
