//! The run pipeline: precheck every alias in parallel, fetch and register them, seal the
//! engine, run the final step, write the outputs. It sends `Event`s; reporters print them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::{Engine, EngineOptions, QueryResult, Stop};
use crate::error::{ErrorType, RunError};
use crate::output::{self, WrittenFile};
use crate::source::{AliasSource, Fetched, Precheck, estimate_bytes, mib};
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

/// Where outputs go and when to give up.
pub struct RunOptions<'a> {
    pub engine: EngineOptions,
    /// Aliases prechecked and fetched at once.
    pub concurrency: usize,
    /// Replaces the plan's folder as the base of output paths.
    pub output_dir: Option<&'a Path>,
    /// Write the plan's outputs (false for plans sent over HTTP).
    pub write_outputs: bool,
    pub cancel: Arc<AtomicBool>,
}

/// Run a checked plan end to end.
pub fn run(
    plan: &CheckedPlan,
    source: &dyn AliasSource,
    opts: &RunOptions<'_>,
    events: &(dyn Fn(Event) + Sync),
) -> Result<RunOutcome, RunError> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(plan.limits.timeout_seconds);
    let check = |phase: &str| -> Result<(), RunError> {
        if opts.cancel.load(Ordering::Relaxed) {
            return Err(
                RunError::new(ErrorType::Timeout, format!("interrupted during {phase}"))
                    .detail("interrupted", true),
            );
        }
        if Instant::now() >= deadline {
            return Err(timeout(plan, phase));
        }
        Ok(())
    };

    // Alias work waits on the network, not the CPU: its own pool, sized by configuration
    // rather than by core count, bounds how many BigQuery calls are in flight.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.concurrency.max(1))
        .thread_name(|i| format!("da-alias-{i}"))
        .build()
        .map_err(|e| {
            RunError::new(
                ErrorType::QueryError,
                format!("cannot start worker threads: {e}"),
            )
        })?;

    // Phase 1: every alias is prechecked; nothing is fetched unless all pass.
    let prechecks: Vec<(Result<Precheck, RunError>, u64)> = pool.install(|| {
        plan.aliases
            .par_iter()
            .map(|alias| {
                events(Event::PrecheckStarted {
                    alias: alias.name.clone(),
                });
                let t = Instant::now();
                let result = source.precheck(alias).and_then(|p| within_limits(alias, p));
                if let Ok(p) = &result {
                    events(Event::PrecheckDone {
                        alias: alias.name.clone(),
                        rows: p.rows,
                        estimated_mb: mib(estimate_bytes(&p.schema, p.rows)),
                    });
                }
                (result, elapsed_ms(t))
            })
            .collect()
    });
    check("prechecks")?;
    let failures: Vec<&RunError> = prechecks
        .iter()
        .filter_map(|(r, _)| r.as_ref().err())
        .collect();
    if !failures.is_empty() {
        return Err(combine(&failures));
    }

    // Phase 1b: fetch in parallel, enforce the memory limit on the real size.
    let fetched: Vec<Result<(Fetched, u64), RunError>> = pool.install(|| {
        plan.aliases
            .par_iter()
            .map(|alias| {
                let t = Instant::now();
                let f = source.fetch(alias)?;
                let mb = mib(f.bytes);
                #[allow(clippy::cast_precision_loss)]
                if mb > alias.max_memory_mb as f64 {
                    return Err(memory_limit(alias, mb, "fetched data takes"));
                }
                events(Event::FetchDone {
                    alias: alias.name.clone(),
                    rows: f.rows,
                    bytes: f.bytes,
                });
                Ok((f, elapsed_ms(t)))
            })
            .collect()
    });
    check("fetch")?;
    let fetch_failures: Vec<&RunError> = fetched.iter().filter_map(|r| r.as_ref().err()).collect();
    if !fetch_failures.is_empty() {
        return Err(combine(&fetch_failures));
    }

    let engine = Engine::open(&opts.engine, &|name| std::env::var(name).ok())?;
    let mut stats = Vec::new();
    for ((alias, (pre, precheck_ms)), got) in plan.aliases.iter().zip(prechecks).zip(fetched) {
        let (pre, (data, fetch_ms)) = (pre?, got?);
        let t = Instant::now();
        let (rows, bytes, columns) = (data.rows, data.bytes, data.schema.fields().len());
        engine.register(&alias.name, &data.schema, data.batches)?;
        events(Event::Registered {
            alias: alias.name.clone(),
        });
        stats.push(AliasStats {
            alias: alias.name.clone(),
            rows,
            columns,
            bytes,
            memory_mb: round3(mib(bytes)),
            estimated_memory_mb: round3(mib(estimate_bytes(&pre.schema, pre.rows))),
            bytes_processed: pre.bytes_processed,
            precheck_ms,
            fetch_ms,
            register_ms: elapsed_ms(t),
        });
    }
    check("registration")?;

    // Phase 2: the final step, on a sandboxed connection.
    let engine = engine.seal()?;
    let warnings = engine.warnings.clone();
    events(Event::FinalStarted);
    let t = Instant::now();
    let result = engine
        .execute(
            &plan.sql,
            &plan.sql_params,
            plan.limits.max_result_rows,
            Some(&Stop {
                deadline,
                cancel: opts.cancel.clone(),
            }),
        )
        .map_err(|e| {
            if e.error_type == ErrorType::Timeout {
                timeout(plan, "the final query")
            } else {
                e
            }
        })?;
    let final_ms = elapsed_ms(t);
    events(Event::FinalDone {
        rows: result.rows,
        truncated: result.truncated,
    });
    check("the final query")?;

    let mut outputs = Vec::new();
    if opts.write_outputs {
        for out in &plan.outputs {
            let path = match opts.output_dir {
                Some(dir) => dir.join(&out.relative),
                None => out.path.clone(),
            };
            let written = output::write_file(&path, out.format, &result.schema, &result.batches)
                .map_err(|e| {
                    RunError::new(
                        ErrorType::QueryError,
                        format!("cannot write {}: {e}", path.display()),
                    )
                    .detail("path", path.display().to_string())
                })?;
            events(Event::Written {
                path: written.path.clone(),
                rows: written.rows,
                bytes: written.bytes,
            });
            outputs.push(written);
        }
    }
    Ok(RunOutcome {
        backend: source.label(),
        aliases: stats,
        result,
        final_ms,
        outputs,
        warnings,
    })
}

fn within_limits(alias: &CheckedAlias, p: Precheck) -> Result<Precheck, RunError> {
    if p.rows > alias.max_rows {
        return Err(RunError::new(
            ErrorType::RowLimit,
            format!(
                "alias `{}`: BigQuery result has {} rows, exceeding the limit of {}",
                alias.name, p.rows, alias.max_rows
            ),
        )
        .detail("alias", alias.name.as_str())
        .detail("count", p.rows)
        .detail("max", alias.max_rows)
        .hint(
            "filter or aggregate the alias's SQL, or raise its max_rows within the instance limit",
        ));
    }
    let estimated = mib(estimate_bytes(&p.schema, p.rows));
    #[allow(clippy::cast_precision_loss)]
    if estimated > alias.max_memory_mb as f64 {
        return Err(memory_limit(alias, estimated, "estimated size is"));
    }
    Ok(p)
}

fn memory_limit(alias: &CheckedAlias, mb: f64, what: &str) -> RunError {
    RunError::new(
        ErrorType::MemoryLimit,
        format!(
            "alias `{}`: {what} {:.1} MiB, exceeding the limit of {} MiB",
            alias.name, mb, alias.max_memory_mb
        ),
    )
    .detail("alias", alias.name.as_str())
    .detail("memory_mb", round3(mb))
    .detail("max_memory_mb", alias.max_memory_mb)
    .hint("select fewer columns or rows, or raise max_memory_mb within the instance limit")
}

fn timeout(plan: &CheckedPlan, phase: &str) -> RunError {
    RunError::new(
        ErrorType::Timeout,
        format!(
            "the run passed its limit of {} s during {phase}",
            plan.limits.timeout_seconds
        ),
    )
    .detail("timeout_seconds", plan.limits.timeout_seconds)
    .hint("raise limits.timeout_seconds (within the instance limit) or make the queries cheaper")
}

/// One error for several failed aliases: the first one's type, every message listed.
fn combine(failures: &[&RunError]) -> RunError {
    if let [only] = failures {
        return (*only).clone();
    }
    let first = failures[0];
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
