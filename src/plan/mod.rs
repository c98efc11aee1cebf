//! Plan files: reading (the only place plan files are read), parsing and typing.

pub mod model;

use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use crate::diagnostic::{Diagnostic, FileReport};
use crate::document::{Document, Syntax};
use crate::schema::{self, Compiled, Kind};
use model::Plan;

/// A plan that parsed and matched the schema, with its source kept for positions.
/// Only `load` and `parse` build one.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    path: PathBuf,
    doc: Document,
    plan: Plan,
}

impl LoadedPlan {
    /// The file it came from (`<query>` and `<request>.yaml` for in-memory plans).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed document, for positions.
    pub fn doc(&self) -> &Document {
        &self.doc
    }

    /// The plan's source text.
    pub fn text(&self) -> &str {
        &self.doc.text
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

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
    schema::load::<Plan>(text, syntax, json_schema())
        .map(|(doc, plan)| LoadedPlan {
            path: path.to_owned(),
            doc,
            plan,
        })
        .map_err(|diagnostics| report(path, text, diagnostics))
}

/// The plan format's JSON schema, generated from `model::Plan`.
pub fn json_schema() -> &'static Compiled {
    static SCHEMA: OnceLock<Compiled> = OnceLock::new();
    SCHEMA.get_or_init(|| Compiled::new(Kind::Plan, schemars::schema_for!(Plan).to_value()))
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
