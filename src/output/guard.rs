//! Where an output may land: inside its root folder, through no symbolic link that leaves
//! it, onto no symbolic link, and onto none of the run's inputs (the plan, its config, the
//! analytics database, extracts, the local warehouse).
//!
//! The caller decides where outputs go; [`prepare`] only resolves that place on disk and
//! refuses it when writing there would hurt a neighbour. It also removes the temporary
//! files a killed run of the same output left behind.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// A file or folder that outputs may never replace or write into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    pub path: PathBuf,
    /// What it is, for messages: `the analytics database`.
    pub what: &'static str,
}

impl Protected {
    pub fn new(path: impl Into<PathBuf>, what: &'static str) -> Self {
        Self {
            path: path.into(),
            what,
        }
    }
}

/// Why an output path was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("output `{path}` would overwrite {what} (`{target}`)")]
    Overwrites {
        path: PathBuf,
        what: &'static str,
        target: PathBuf,
    },
    #[error("output `{path}` leaves the output folder through the symbolic link `{link}`")]
    Escapes { path: PathBuf, link: PathBuf },
    #[error("output `{path}` is a symbolic link; outputs replace files, never links")]
    Symlink { path: PathBuf },
    #[error("output `{path}` has no file name")]
    NoFileName { path: PathBuf },
    #[error("cannot prepare output `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The protected entry `path` is, or is inside, as far as the disk can tell without
/// writing (offline checks): both sides resolved through existing symbolic links.
pub fn overwrites<'p>(path: &Path, protected: &'p [Protected]) -> Option<&'p Protected> {
    let target = resolved(path);
    protected
        .iter()
        .find(|p| target.starts_with(resolved(&p.path)))
}

/// Resolve the output `relative` under `root` for writing, creating nothing: refuse an
/// existing folder on the way that resolves outside `root` (a symbolic link), a final
/// component that is a symbolic link, and a protected path; remove stale `.<name>.tmp*`
/// files of killed runs. Folders still missing are created later as plain folders under
/// the last one checked. Returns the resolved path to write to.
pub fn prepare(root: &Path, relative: &Path, protected: &[Protected]) -> Result<PathBuf, Refused> {
    let shown = root.join(relative);
    let io = |source: io::Error| Refused::Io {
        path: shown.clone(),
        source,
    };
    let name = relative.file_name().ok_or_else(|| Refused::NoFileName {
        path: shown.clone(),
    })?;
    let top = resolved(root);
    let mut dir = top.clone();
    let mut walked = root.to_path_buf();
    let mut missing = false;
    for part in relative.parent().into_iter().flat_map(Path::components) {
        let Component::Normal(part) = part else {
            // Checked plans hold normal components only; anything else is refused here too.
            return Err(Refused::Escapes {
                path: shown.clone(),
                link: walked.join(part),
            });
        };
        walked.push(part);
        dir.push(part);
        if missing {
            continue;
        }
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing = true,
            Err(e) => return Err(io(e)),
            Ok(_) => {
                dir = fs::canonicalize(&dir).map_err(io)?;
                if !dir.starts_with(&top) {
                    return Err(Refused::Escapes {
                        path: shown.clone(),
                        link: walked.clone(),
                    });
                }
            }
        }
    }
    let target = dir.join(name);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Refused::Symlink { path: shown });
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(p) = overwrites(&target, protected) {
        return Err(Refused::Overwrites {
            path: shown,
            what: p.what,
            target: p.path.clone(),
        });
    }
    if !missing {
        remove_stale_temps(&dir, name);
    }
    Ok(target)
}

/// Delete `.<name>.tmp*` files (never links or folders) in `dir` that no live run holds:
/// what a killed run of the same output left behind (see `atomic::Staged`, which locks its
/// temporary file for as long as it has it open). Best effort: a file that cannot be
/// opened, locked or removed stays, and the run goes on.
fn remove_stale_temps(dir: &Path, name: &std::ffi::OsStr) {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp");
    let Some(prefix) = prefix.to_str() else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(prefix))
            && entry.file_type().is_ok_and(|t| t.is_file());
        if !ours {
            continue;
        }
        // A run writing this file holds its lock (taken a moment after the file is made;
        // a run caught in that moment fails its rename with a clear error, never silently).
        let Ok(file) = fs::File::open(entry.path()) else {
            continue;
        };
        if file.try_lock().is_ok() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// `path` with every existing symbolic link resolved: the whole path if it exists, else
/// its nearest existing ancestor with the rest appended; absolute and without `.`/`..`.
fn resolved(path: &Path) -> PathBuf {
    let absolute = lexical(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    loop {
        if let Ok(real) = fs::canonicalize(base) {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                base = parent;
            }
            _ => return absolute,
        }
    }
}

/// `.` dropped and `..` applied, without asking the disk.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(dir: &Path) -> Vec<Protected> {
        vec![
            Protected::new(dir.join("analytics.duckdb"), "the analytics database"),
            Protected::new(dir.join("warehouse"), "the local warehouse"),
        ]
    }

    /// Guards against two runs of one output (an overlapping cron job) breaking each
    /// other: the second run's clean-up of stale temporary files must leave the first
    /// run's live one alone, and removes it once that run is gone.
    #[test]
    fn a_temporary_file_of_a_live_run_is_not_stale() {
        use crate::output::{FileSet, Format, fixture};
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        let temps = || {
            fs::read_dir(&root)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(".r.csv.tmp")
                })
                .count()
        };
        let target = prepare(&root, Path::new("r.csv"), &[]).unwrap();
        let mut first =
            FileSet::create(&[(target.clone(), Format::Csv)], &fixture::schema()).unwrap();
        first.write(&fixture::batch()).unwrap();
        // A second run of the same output starts while the first is writing.
        prepare(&root, Path::new("r.csv"), &[]).unwrap();
        assert_eq!(temps(), 1, "the live run's temporary file is still there");
        let written = first.finish().unwrap();
        assert_eq!(written[0].rows, fixture::batch().num_rows() as u64);
        assert!(target.is_file());

        // A killed run's file, which nobody holds, goes with the next run.
        fs::write(root.join(".r.csv.tmpKILLED"), "half a file").unwrap();
        prepare(&root, Path::new("r.csv"), &[]).unwrap();
        assert_eq!(temps(), 0);
    }

    #[test]
    fn a_plain_output_resolves_inside_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let target = prepare(dir.path(), Path::new("out/a/r.csv"), &db(dir.path())).unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(target, root.join("out/a/r.csv"));
        assert!(
            !root.join("out").exists(),
            "nothing is created before the run writes"
        );
    }

    /// Guards against outputs replacing inputs, spelled any way that reaches them.
    #[test]
    fn protected_files_and_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("analytics.duckdb"), "db").unwrap();
        fs::create_dir(dir.path().join("warehouse")).unwrap();
        for rel in [
            "analytics.duckdb",
            "warehouse/web.parquet",
            "x/../analytics.duckdb",
        ] {
            let rel = lexical(Path::new(rel));
            let err = prepare(dir.path(), &rel, &db(dir.path())).unwrap_err();
            assert!(matches!(err, Refused::Overwrites { .. }), "{rel:?}: {err}");
        }
        assert!(overwrites(&dir.path().join("./analytics.duckdb"), &db(dir.path())).is_some());
        assert!(overwrites(&dir.path().join("other.duckdb"), &db(dir.path())).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("plans");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        let err = prepare(&root, Path::new("out/r.csv"), &[]).unwrap_err();
        assert!(matches!(err, Refused::Escapes { .. }), "{err}");
        std::os::unix::fs::symlink(outside.path().join("f"), root.join("r.csv")).unwrap();
        let err = prepare(&root, Path::new("r.csv"), &[]).unwrap_err();
        assert!(matches!(err, Refused::Symlink { .. }), "{err}");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
