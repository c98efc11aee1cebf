//! `da plan estimate` (and `da plan run --estimate-only`): what a plan would bill, from dry
//! runs only. Exit 1 when the estimate is over the plan's budget.

use std::io::Write;
use std::path::Path;

use crate::config::PrecheckMode;
use crate::error::{Error, exit};
use crate::report::human_bytes;
use crate::runner::{self, PlanEstimate};
use crate::settings::Settings;

/// Estimate a plan and write the table (or JSON) to `out`.
pub fn run(
    plan: &Path,
    params: &[(String, String)],
    json: bool,
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (_, checked) = runner::load_checked(plan, params, settings)?;
    let estimate = runner::estimate(&checked, settings)?;
    let written = if json {
        serde_json::to_writer_pretty(&mut *out, &estimate)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        table(&estimate, out)
    };
    written.map_err(|source| Error::Io {
        context: "cannot write the estimate".to_owned(),
        source,
    })?;
    Ok(if estimate.within_budget {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn mode(m: PrecheckMode) -> &'static str {
    match m {
        PrecheckMode::Count => "count",
        PrecheckMode::Job => "job",
    }
}

fn table(e: &PlanEstimate, out: &mut dyn Write) -> std::io::Result<()> {
    let bytes = |b: Option<u64>| b.map_or_else(|| "unknown".to_owned(), human_bytes);
    let usd = |u: Option<f64>| u.map_or_else(|| "unknown".to_owned(), |u| format!("${u:.4}"));
    writeln!(
        out,
        "plan {} on {} (at ${}/TiB; an estimate from dry runs, nothing was billed)",
        e.plan, e.backend, e.price_per_tib
    )?;
    writeln!(
        out,
        "{:<20} {:>6} {:>12} {:>12} {:>12} {:>12}  columns",
        "alias", "mode", "query", "count", "billed", "usd"
    )?;
    for a in &e.aliases {
        let columns: Vec<String> = a.columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
        writeln!(
            out,
            "{:<20} {:>6} {:>12} {:>12} {:>12} {:>12}  {}",
            a.alias,
            if a.cached { "cached" } else { mode(a.precheck) },
            bytes(a.bytes),
            bytes(a.count_bytes),
            bytes(a.billed_bytes),
            usd(a.usd),
            columns.join(", ")
        )?;
    }
    writeln!(
        out,
        "{:<20} {:>6} {:>38} {:>12}",
        "total",
        "",
        bytes(e.total_bytes),
        usd(e.total_usd)
    )?;
    if let (Some(count), Some(job)) = (e.total_count_mode_bytes, e.total_job_mode_bytes) {
        let cheaper = if job < count {
            format!(
                "job is cheaper by {} when every alias is within its limits",
                human_bytes(count - job)
            )
        } else {
            "both bill the same".to_owned()
        };
        writeln!(
            out,
            "precheck modes: count {} (${:.4}), job {} (${:.4}); {cheaper}; over its limits an alias in count mode bills only its COUNT",
            human_bytes(count),
            crate::source::usd(count, e.price_per_tib),
            human_bytes(job),
            crate::source::usd(job, e.price_per_tib),
        )?;
    }
    if e.budget.is_set() {
        let verdict = if e.within_budget { "within" } else { "OVER" };
        writeln!(
            out,
            "budget: {verdict} (max_bytes {}, max_usd {})",
            e.budget
                .max_bytes
                .map_or_else(|| "none".to_owned(), |b| b.to_string()),
            e.budget
                .max_usd
                .map_or_else(|| "none".to_owned(), |u| format!("${u}"))
        )?;
    }
    Ok(())
}
