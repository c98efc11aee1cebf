//! Reporters: progress bars on a terminal, the end-of-run summary, and the `--report`
//! JSON file. The pipeline only sends events; everything shown to people is decided here.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::error::RunError;
use crate::output::WrittenFile;
use crate::pipeline::{AliasStats, Event, RunOutcome};

/// Progress bars on stderr, one per alias plus the final step.
pub struct Progress {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Progress {
    /// Bars drawn on stderr; call only when stderr is a terminal.
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn bar(&self, key: &str) -> ProgressBar {
        let mut bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bars.entry(key.to_owned())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<16} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(key.to_owned());
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            })
            .clone()
    }

    /// Show one event.
    pub fn on(&self, event: &Event) {
        match event {
            Event::PrecheckStarted { alias } => self.bar(alias).set_message("precheck…"),
            Event::PrecheckDone {
                alias,
                rows,
                estimated_mb,
            } => {
                self.bar(alias).set_message(format!(
                    "precheck ok: {rows} rows, ~{estimated_mb:.1} MiB; fetching…"
                ));
            }
            Event::FetchDone { alias, rows, bytes } => {
                self.bar(alias).set_message(format!(
                    "fetched {rows} rows, {}; registering…",
                    human_bytes(*bytes)
                ));
            }
            Event::Registered { alias } => self.bar(alias).finish_with_message("registered"),
            Event::FinalStarted => self.bar("final step").set_message("running…"),
            Event::FinalDone { rows, truncated } => {
                let cut = if *truncated { " (truncated)" } else { "" };
                self.bar("final step")
                    .finish_with_message(format!("{rows} rows{cut}"));
            }
            Event::Written { path, rows, bytes } => {
                self.bar(&path.display().to_string())
                    .finish_with_message(format!("wrote {rows} rows, {}", human_bytes(*bytes)));
            }
        }
    }

    /// Remove the bars so the summary prints cleanly.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

pub fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

/// Plan warnings on stderr, one line each, before a run starts.
pub fn warnings(diagnostics: &[crate::diagnostic::Diagnostic], err: &mut dyn Write) {
    for w in diagnostics {
        // stderr gone means nobody is reading: nothing to do.
        let _ = writeln!(err, "warning[{}]: {}", w.code, w.message);
    }
}

/// Said on every run of the local backend, so its data is never mistaken for real.
pub const LOCAL_NOTICE: &str =
    "backend: local (Parquet files standing in for BigQuery; not live data)";

/// The short summary printed on stderr after a run.
pub fn summary(outcome: &RunOutcome, err: &mut dyn Write) -> std::io::Result<()> {
    if outcome.backend == "local" {
        writeln!(err, "{LOCAL_NOTICE}")?;
    }
    for w in &outcome.warnings {
        writeln!(err, "warning: {w}")?;
    }
    for a in &outcome.aliases {
        let billed: u64 = a.jobs.iter().filter_map(|j| j.bytes_billed).sum();
        let jobs = match a.jobs.len() {
            _ if a.cached => "; from the cache, no job".to_owned(),
            0 => String::new(),
            n => format!(
                "; {n} BigQuery job{}, {} billed",
                if n == 1 { "" } else { "s" },
                human_bytes(billed)
            ),
        };
        writeln!(
            err,
            "Registered BQ alias '{}': {} rows, {} columns, {:.2} MiB{jobs}",
            a.alias, a.rows, a.columns, a.memory_mb
        )?;
    }
    let r = &outcome.result;
    // Output files always hold the whole result; only what is shown can be cut.
    if r.truncated && outcome.outputs.is_empty() {
        writeln!(err, "(truncated at {} rows)", r.rows)?;
    }
    for o in &outcome.outputs {
        writeln!(
            err,
            "wrote {} ({} rows, {})",
            o.path.display(),
            o.rows,
            human_bytes(o.bytes)
        )?;
    }
    Ok(())
}

/// The `--report` file: what ran, with what, and what it produced.
#[derive(Debug, Serialize)]
pub struct RunReport<'a> {
    pub ok: bool,
    pub plan: PlanInfo<'a>,
    pub backend: &'static str,
    pub params: BTreeMap<&'a str, String>,
    pub aliases: &'a [AliasStats],
    #[serde(rename = "final")]
    pub final_step: Option<FinalInfo>,
    pub outputs: &'a [WrittenFile],
    pub warnings: &'a [String],
    pub error: Option<&'a RunError>,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct PlanInfo<'a> {
    pub path: String,
    pub name: &'a str,
    pub sha256: String,
}

#[derive(Debug, Serialize)]
pub struct FinalInfo {
    pub rows: u64,
    pub columns: Vec<String>,
    pub truncated: bool,
    pub duration_ms: u64,
}

impl FinalInfo {
    pub fn of(outcome: &RunOutcome) -> Self {
        Self {
            rows: outcome.result.rows,
            columns: outcome
                .result
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            truncated: outcome.result.truncated,
            duration_ms: outcome.final_ms,
        }
    }
}
