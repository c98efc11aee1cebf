//! `da plan run`: validate, run the pipeline, show progress and a summary, write outputs
//! and the run report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::error::{Error, RunError};
use crate::output::{self, Format};
use crate::pipeline::RunOutcome;
use crate::report::{FinalInfo, PlanInfo, RunReport, summary};
use crate::runner::{self, RunSpec};
use crate::settings::Settings;
use crate::validate::CheckedPlan;

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
    let (loaded, checked) = runner::load_checked(&req.plan, &req.params, settings)?;
    if !req.quiet {
        crate::report::warnings(checked.warnings(), err);
        for w in settings.warnings() {
            let _ = writeln!(err, "warning: {w}");
        }
    }
    let plan_sha = hex(&Sha256::digest(loaded.text().as_bytes()));
    let started = Instant::now();
    let spec = RunSpec {
        output_dir: req.output_dir.as_deref(),
        write_outputs: true,
        progress: req.progress,
        cancel,
        stuck_grace: Some(runner::STUCK_GRACE),
    };
    let backend = runner::backend_label(&checked, settings);
    let outcome = runner::run_checked(&checked, settings, &spec);
    if let Some(path) = &req.report {
        let facts = ReportFacts {
            backend,
            plan_sha: &plan_sha,
            started,
        };
        write_report(path, req, &checked, &facts, &outcome)?;
    }
    if req.quiet && backend == "local" {
        // Local data must never be mistaken for real data, even in a quiet run.
        let _ = writeln!(err, "{}", crate::report::LOCAL_NOTICE);
    }
    let outcome = outcome?;
    if checked.outputs().is_empty() {
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

/// What the report says besides the plan and the outcome.
struct ReportFacts<'a> {
    backend: &'static str,
    plan_sha: &'a str,
    started: Instant,
}

fn write_report(
    path: &std::path::Path,
    req: &RunRequest,
    checked: &CheckedPlan,
    facts: &ReportFacts<'_>,
    outcome: &Result<RunOutcome, RunError>,
) -> Result<(), Error> {
    let ok = outcome.as_ref().ok();
    let report = RunReport {
        ok: ok.is_some(),
        plan: PlanInfo {
            path: req.plan.display().to_string(),
            name: checked.name(),
            sha256: facts.plan_sha.to_owned(),
        },
        backend: facts.backend,
        params: checked
            .params()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_text()))
            .collect::<BTreeMap<_, _>>(),
        aliases: ok.map_or(&[], |o| &o.aliases),
        final_step: ok.map(FinalInfo::of),
        outputs: ok.map_or(&[], |o| &o.outputs),
        warnings: match outcome {
            Ok(o) => &o.warnings,
            Err(e) => &e.warnings,
        },
        error: outcome.as_ref().err(),
        duration_ms: u64::try_from(facts.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let mut text =
        serde_json::to_vec_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?;
    text.push(b'\n');
    output::write_bytes(path, &text)?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
