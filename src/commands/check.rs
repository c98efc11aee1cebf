//! `da plan check`: validate many plan files in parallel and render every diagnostic.
//! Plans with a lock file (`da plan lock`) also have their final step bound offline.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostic::render::{OutputFormat, RenderOptions, render};
use crate::diagnostic::{Diagnostic, FileReport};
use crate::document::Syntax;
use crate::engine::snapshot::Snapshot;
use crate::error::{Error, exit};
use crate::lock::bind::CatalogSource;
use crate::plan::{self, LoadFailure};
use crate::runner;
use crate::settings::Settings;
use crate::validate::{Context, diagnostics};

/// What `plan check` needs, already resolved from flags.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub paths: Vec<String>,
    pub format: OutputFormat,
    pub params: Vec<(String, String)>,
    pub color: bool,
    /// `--db`: plans with a lock file are bound against this analytics database.
    pub db: Option<PathBuf>,
    /// `--schema-snapshot`: ... or against this `da schema snapshot` file.
    pub schema_snapshot: Option<PathBuf>,
}

/// Check every plan; returns the exit code (0 all valid, 1 any invalid, 2 unreadable).
pub fn run(req: &CheckRequest, settings: &Settings, out: &mut dyn Write) -> Result<u8, Error> {
    let files = expand(&req.paths)?;
    let ctx = settings.context(&req.params, !req.params.is_empty());
    let catalog = catalog(req, settings)?;
    let results: Vec<(FileReport, bool)> = files
        .par_iter()
        .map(|path| {
            let (mut report, unreadable) = check_file(path, &ctx);
            // A plan with a lock file is also bound, once it is valid on its own.
            if report.ok() && !unreadable {
                let bound = crate::lock::bind::check_path(path, &ctx, catalog.as_ref());
                report.diagnostics.extend(bound);
                report.diagnostics.sort_by_key(|d| (d.line, d.column));
            }
            (report, unreadable)
        })
        .collect();
    let unreadable = results.iter().any(|(_, unreadable)| *unreadable);
    let reports: Vec<FileReport> = results.into_iter().map(|(r, _)| r).collect();
    render(
        &reports,
        req.format,
        &RenderOptions { color: req.color },
        env!("CARGO_PKG_VERSION"),
        out,
    )
    .map_err(|source| Error::Io {
        context: "cannot write the report".to_owned(),
        source,
    })?;
    Ok(if unreadable {
        exit::USAGE
    } else if reports.iter().all(FileReport::ok) {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// What locked plans are bound against: a snapshot given by flag, the database given by
/// flag, a snapshot from the config, the database from the config, in that order. `None`
/// when there is none of them: locks are then only checked for staleness.
fn catalog(req: &CheckRequest, settings: &Settings) -> Result<Option<CatalogSource>, Error> {
    let snapshot = match (&req.schema_snapshot, &req.db) {
        (Some(file), _) => Some(file.clone()),
        (None, Some(_)) => None,
        (None, None) => settings.config.analytics.schema_snapshot.clone(),
    };
    let Some(file) = snapshot else {
        if settings.config.analytics.database.is_none() {
            return Ok(None);
        }
        return Ok(Some(CatalogSource::database(runner::engine_options(
            settings,
        ))));
    };
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io("read", &file, e))?;
    let snapshot: Snapshot = serde_json::from_str(&text)
        .map_err(|e| e.to_string())
        .and_then(|s: Snapshot| match s.version {
            1 => Ok(s),
            v => Err(format!("version {v} is not supported (only 1)")),
        })
        .map_err(|e| {
            Error::Usage(format!(
                "{} is not a schema snapshot (written by `da schema snapshot`): {e}",
                file.display()
            ))
        })?;
    Ok(Some(CatalogSource::Snapshot(snapshot)))
}

/// Check one file. The flag is true when the file could not be read.
pub fn check_file(path: &Path, ctx: &Context<'_>) -> (FileReport, bool) {
    match plan::load(path) {
        Ok(loaded) => {
            let diagnostics = diagnostics(&loaded, ctx);
            (plan::report(path, loaded.text(), diagnostics), false)
        }
        Err(LoadFailure::Invalid(report)) => (report, false),
        Err(LoadFailure::Unreadable(err)) => (
            FileReport {
                path: path.display().to_string(),
                source: None,
                diagnostics: vec![
                    Diagnostic::error("unreadable", format!("cannot read the file: {err}"))
                        .hint("check the path and its permissions; plans are UTF-8 text"),
                ],
            },
            true,
        ),
    }
}

/// Turn files, folders and glob patterns into a sorted list of plan files.
pub(crate) fn expand(paths: &[String]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for arg in paths {
        let path = Path::new(arg);
        if path.is_dir() {
            walk(path, &mut files, &mut HashSet::new())
                .map_err(|source| Error::io("read", path, source))?;
        } else if path.exists() || !has_wildcard(arg) {
            // A missing plain path is reported per file as unreadable.
            files.push(path.to_owned());
        } else {
            let before = files.len();
            glob(path, &mut files);
            if files.len() == before {
                return Err(Error::Usage(format!("no plan files match `{arg}`")));
            }
        }
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "no plan files (.yaml, .yml, .toml) found in {}",
            paths.join(", ")
        )));
    }
    Ok(files)
}

/// Collect the plan files under `dir`. Symlinked folders are followed, but each real
/// folder is read once, so a symlink loop ends instead of recursing forever.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> std::io::Result<()> {
    if !seen.insert(std::fs::canonicalize(dir)?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, files, seen)?;
        } else if Syntax::from_path(&path).is_some() {
            files.push(path);
        }
    }
    Ok(())
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Expand `*` and `?` in the last path component (the shell does the rest).
fn glob(pattern: &Path, files: &mut Vec<PathBuf>) {
    let dir = pattern
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let matches = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| wildcard_match(name, n));
        if matches && path.is_file() {
            files.push(path);
        }
    }
}

fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_file_names() {
        assert!(wildcard_match("*.yaml", "a.yaml"));
        assert!(wildcard_match("p?an*.toml", "plan_1.toml"));
        assert!(!wildcard_match("*.yaml", "a.toml"));
    }
}
