//! Plan files: reading (the only place plan files are read), parsing and typing.

pub mod model;
pub mod source;

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, FileReport};
use crate::schema::{self, Kind};
use model::Plan;
use source::{Document, Syntax};

/// A plan that parsed and matched the schema, with its source kept for positions.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub path: PathBuf,
    pub doc: Document,
    pub plan: Plan,
}

impl LoadedPlan {
    /// The folder outputs are relative to.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

/// Why a plan could not be loaded: unreadable (a usage problem), or read but invalid.
#[derive(Debug)]
pub enum LoadFailure {
    Unreadable(std::io::Error),
    Invalid(FileReport),
}

/// Read a plan file and parse it by its extension.
pub fn load(path: &Path) -> Result<LoadedPlan, LoadFailure> {
    let text = std::fs::read_to_string(path).map_err(LoadFailure::Unreadable)?;
    parse(path, &text).map_err(LoadFailure::Invalid)
}

/// Parse plan text; `path` decides the syntax (YAML unless it ends in `.toml`).
pub fn parse(path: &Path, text: &str) -> Result<LoadedPlan, FileReport> {
    let syntax = Syntax::from_path(path).unwrap_or(Syntax::Yaml);
    schema::load::<Plan>(text, syntax, Kind::Plan)
        .map(|(doc, plan)| LoadedPlan {
            path: path.to_owned(),
            doc,
            plan,
        })
        .map_err(|diagnostics| report(path, text, diagnostics))
}

/// A file report for a plan's text.
pub fn report(path: &Path, text: &str, mut diagnostics: Vec<Diagnostic>) -> FileReport {
    diagnostics.sort_by_key(|d| (d.line, d.column));
    FileReport {
        path: path.display().to_string(),
        source: Some(text.to_owned()),
        diagnostics,
    }
}
