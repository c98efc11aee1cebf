//! `da plan lock PLAN...`: write `PLAN.lock` beside each plan from dry runs (nothing
//! billed), or with `--check` say which locks are missing or stale without writing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, ErrorType, RunError, exit};
use crate::lock::{Lock, LockedAlias};
use crate::plan::{self, LoadFailure};
use crate::settings::Settings;
use crate::validate::{Context, validate};
use crate::{output, runner};

/// What `plan lock` needs, already resolved from flags.
#[derive(Debug, Clone)]
pub struct LockRequest {
    pub paths: Vec<String>,
    /// Only compare: exit 1 when a lock is missing or stale, write nothing.
    pub check: bool,
}

/// Lock every plan; returns the exit code (`--check`: 1 when any lock is missing or stale).
pub fn run(req: &LockRequest, settings: &Settings, out: &mut dyn Write) -> Result<u8, Error> {
    let files = super::check::expand(&req.paths)?;
    // Rendered as `da plan check` renders it: defaults, placeholders for required params.
    let ctx = settings.context(&[], false);
    let mut failed = false;
    for path in &files {
        let target = Lock::path_for(path);
        let lock = lock_of(path, &ctx, settings)?;
        let text = lock.render();
        let current = std::fs::read_to_string(&target).ok();
        let verdict = if current.as_deref() == Some(text.as_str()) {
            "up to date".to_owned()
        } else if req.check {
            failed = true;
            match current.as_deref().map(serde_json::from_str::<Lock>) {
                None => "missing".to_owned(),
                Some(Ok(old)) => {
                    let diff = old.differences(&lock);
                    if diff.is_empty() {
                        "stale (not in the canonical format)".to_owned()
                    } else {
                        format!("stale: {}", diff.join("; "))
                    }
                }
                Some(Err(e)) => format!("stale (unreadable: {e})"),
            }
        } else {
            output::write_bytes(&target, text.as_bytes())?;
            "written".to_owned()
        };
        writeln!(out, "{}: {verdict}", target.display()).map_err(|source| Error::Io {
            context: "cannot write the report".to_owned(),
            source,
        })?;
    }
    if failed {
        writeln!(
            out,
            "run `da plan lock` on these plans (dry runs only) and commit the lock files"
        )
        .map_err(|source| Error::Io {
            context: "cannot write the report".to_owned(),
            source,
        })?;
    }
    Ok(if failed { exit::FAILED } else { exit::OK })
}

/// The lock a plan has today: each alias's rendered SQL hashed, its columns dry-run.
fn lock_of(path: &Path, ctx: &Context<'_>, settings: &Settings) -> Result<Lock, Error> {
    let loaded = match plan::load(path) {
        Ok(loaded) => loaded,
        Err(LoadFailure::Unreadable(source)) => return Err(Error::io("read", path, source)),
        Err(LoadFailure::Invalid(report)) => return Err(Error::InvalidPlan(Box::new(report))),
    };
    let checked = validate(&loaded, ctx)
        .map_err(|diags| Error::InvalidPlan(Box::new(plan::report(path, loaded.text(), diags))))?;
    // Columns come from BigQuery's dry runs, never from the result cache (as --no-cache).
    let mut dry_runs_only = settings.clone();
    dry_runs_only.cache_use.force = Some(false);
    let estimate = runner::estimate(&checked, &dry_runs_only)?;
    let mut aliases = BTreeMap::new();
    for alias in checked.aliases() {
        let schema = estimate
            .aliases
            .iter()
            .find(|e| e.alias == alias.name())
            .and_then(|e| e.schema.as_ref())
            .ok_or_else(|| {
                RunError::new(
                    ErrorType::QueryError,
                    format!(
                        "alias `{}`: the dry run gave no result schema",
                        alias.name()
                    ),
                )
                .hint("turn bigquery.dry_run back on to lock a plan")
            })?;
        let locked = LockedAlias::new(alias.sql(), schema).map_err(|why| {
            RunError::new(
                ErrorType::QueryError,
                format!("alias `{}`: {why}", alias.name()),
            )
        })?;
        aliases.insert(alias.name().to_owned(), locked);
    }
    Ok(Lock {
        version: Lock::VERSION,
        aliases,
    })
}
