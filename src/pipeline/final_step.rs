//! Phase 6: the final step on the sealed connection, streamed batch by batch into every
//! output file at once (memory independent of the result's size); its first
//! `max_result_rows` rows are kept for display.
//!
//! The engine's work on the plan's SQL (the bind before anything is billed, and the final
//! query) runs on a thread of its own (`on_engine_thread`, on `engine::Working`). DuckDB looks for an interrupt
//! only between chunks, and evaluates constant expressions while it prepares a statement,
//! so one long expression (a huge `repeat()`, a `levenshtein` of two long strings) keeps
//! going past the deadline however early the watchdog interrupts it. With `stuck_grace`
//! set, the run stops waiting that long after the deadline and fails with `timeout`; the
//! thread (and the engine it owns) is left to the process's exit, and outputs, written to
//! temporary files, never replace the previous ones.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::{Event, Events, OutputTarget, RunOptions, elapsed_ms};
use crate::deadline::Deadline;
use crate::engine::{BatchSink, Collect, QueryResult, SealedEngine};
use crate::error::{ErrorType, RunError};
use crate::output::{self, FileSet, WrittenFile};
use crate::validate::CheckedPlan;

pub(super) fn final_step(
    engine: SealedEngine,
    plan: &CheckedPlan,
    targets: &[OutputTarget],
    opts: &RunOptions<'_>,
    events: Events<'_>,
) -> Result<(QueryResult, Vec<WrittenFile>, u64), RunError> {
    let deadline = &opts.deadline;
    events(Event::FinalStarted);
    let t = Instant::now();
    let outputs: Vec<(PathBuf, output::Format)> = targets
        .iter()
        .map(|o| (o.write.clone(), o.format))
        .collect();
    let streamed = stream(engine, plan, outputs.clone(), opts)?;
    streamed.result.map_err(|e| match e.error_type {
        ErrorType::Timeout => deadline.timeout("the final query"),
        _ => e,
    })?;
    deadline.check("the final query")?;
    let mut written = match streamed.files {
        Some(files) => files.finish().map_err(|e| output_error(&outputs, &e))?,
        None => Vec::new(),
    };
    // Reported as the plan (or --output-dir) spells them, not as resolved on disk.
    for (w, target) in written.iter_mut().zip(targets) {
        w.path.clone_from(&target.shown);
    }
    let result = streamed.display.into_result();
    events(Event::FinalDone {
        rows: result.rows,
        truncated: result.truncated,
    });
    for w in &written {
        events(Event::Written {
            path: w.path.clone(),
            rows: w.rows,
            bytes: w.bytes,
        });
    }
    Ok((result, written, elapsed_ms(t)))
}

/// What the final query hands back.
struct Streamed {
    result: Result<(), RunError>,
    display: Collect,
    files: Option<FileSet>,
}

/// Run the final query on the engine's own thread (see the module doc).
fn stream(
    engine: SealedEngine,
    plan: &CheckedPlan,
    outputs: Vec<(PathBuf, output::Format)>,
    opts: &RunOptions<'_>,
) -> Result<Streamed, RunError> {
    let step = plan.final_step().clone();
    let limits = plan.limits();
    let (max_result_rows, max_output_rows) = (limits.max_result_rows, limits.max_output_rows);
    let deadline = opts.deadline.clone();
    let (_engine, streamed) = on_engine_thread(engine, opts, "the final query", move |engine| {
        let mut sink = ResultSink {
            display: Collect::new(max_result_rows),
            outputs: &outputs,
            files: None,
            rows: 0,
            max_output_rows,
        };
        let result = engine.stream(&step, Some(&deadline), &mut sink);
        Streamed {
            result,
            display: sink.display,
            files: sink.files,
        }
    })?;
    Ok(streamed)
}

/// Run `work` on `engine` on a thread of its own and wait for it, but not past
/// `opts.stuck_grace` after the deadline (see the module doc). The engine comes back with
/// the answer; an abandoned one stays with its thread.
pub(super) fn on_engine_thread<T: Send + 'static>(
    engine: SealedEngine,
    opts: &RunOptions<'_>,
    phase: &'static str,
    work: impl FnOnce(&SealedEngine) -> T + Send + 'static,
) -> Result<(SealedEngine, T), RunError> {
    let working = engine.work_on_own_thread("da-engine", work).map_err(|e| {
        RunError::new(
            ErrorType::QueryError,
            format!("cannot start a thread for {phase}: {e}"),
        )
    })?;
    let deadline = &opts.deadline;
    let mut stopped_at: Option<Instant> = None;
    let give_up = || {
        let Some(grace) = opts.stuck_grace else {
            return false;
        };
        if !deadline.is_past() && !deadline.is_cancelled() {
            return false;
        }
        stopped_at.get_or_insert_with(Instant::now).elapsed() >= grace
    };
    working
        .wait(give_up)
        .ok_or_else(|| abandoned(deadline, opts.stuck_grace, phase))
}

/// Why the run stopped waiting for the engine: out of time, or cancelled.
fn abandoned(deadline: &Deadline, grace: Option<Duration>, phase: &str) -> RunError {
    let err = if deadline.is_cancelled() {
        RunError::interrupted(phase)
    } else {
        deadline.timeout(phase)
    };
    let grace_ms = grace.map_or(0, |g| u64::try_from(g.as_millis()).unwrap_or(u64::MAX));
    err.detail("abandoned_after_ms", grace_ms)
        .hint("one expression of the final sql ran on after DuckDB was told to stop (DuckDB stops between chunks, and works out constant expressions before it starts): make it cheaper (shorter strings and lists), or raise the time limit")
}

struct ResultSink<'a> {
    display: Collect,
    outputs: &'a [(PathBuf, output::Format)],
    files: Option<FileSet>,
    rows: u64,
    max_output_rows: Option<u64>,
}

impl BatchSink for ResultSink<'_> {
    fn start(&mut self, schema: &SchemaRef) -> Result<(), RunError> {
        self.display.start(schema)?;
        if !self.outputs.is_empty() {
            let files = FileSet::create(self.outputs, schema)
                .map_err(|e| output_error(self.outputs, &e))?;
            self.files = Some(files);
        }
        Ok(())
    }

    fn batch(&mut self, batch: RecordBatch) -> Result<bool, RunError> {
        let Some(files) = &mut self.files else {
            // Nothing to write: stop as soon as the display has what it shows.
            return self.display.batch(batch);
        };
        self.rows += batch.num_rows() as u64;
        if let Some(max) = self.max_output_rows.filter(|max| self.rows > *max) {
            return Err(RunError::new(
                ErrorType::RowLimit,
                format!("the final result has more than {max} rows, the output limit"),
            )
            .detail("max_output_rows", max)
            .hint("filter or aggregate the final sql, or raise limits.max_output_rows within the instance limit; the previous output files are unchanged"));
        }
        files
            .write(&batch)
            .map_err(|e| output_error(self.outputs, &e))?;
        if self.display.wants_more() {
            self.display.batch(batch)?;
        }
        Ok(true)
    }
}

fn output_error(outputs: &[(PathBuf, output::Format)], e: &output::Error) -> RunError {
    let paths: Vec<String> = outputs
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    RunError::new(
        ErrorType::QueryError,
        format!("cannot write the outputs: {e}"),
    )
    .detail("paths", paths)
    .hint("check the output folder's free space and permissions; the previous files are unchanged")
}
