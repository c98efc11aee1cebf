//! The output of validation: a plan whose every SQL text was rendered, parsed and checked.
//!
//! The fields are private to `validate`, so nothing else can build a `CheckedPlan`, a
//! `CheckedAlias` or a `FinalStep`: every SQL text that reaches BigQuery or DuckDB went
//! through the checks, and the text that runs is exactly the text that was checked.

use std::path::{Path, PathBuf};

use crate::config::{Budget, Limits};
use crate::diagnostic::Diagnostic;
use crate::output::Format;
use crate::params::{ParamValue, Params};

/// A BigQuery alias ready to run: rendered, validated, one trailing `;` removed.
#[derive(Debug, Clone)]
pub struct CheckedAlias {
    pub(super) name: String,
    pub(super) sql: String,
    pub(super) params: Vec<(String, ParamValue)>,
    pub(super) max_rows: u64,
    pub(super) max_memory_mb: u64,
    pub(super) max_bytes_billed: u64,
    pub(super) shadow: bool,
    pub(super) precheck: crate::config::PrecheckMode,
    pub(super) cache_ttl: Option<std::time::Duration>,
}

impl CheckedAlias {
    /// The name it is registered under in DuckDB.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The BigQuery SQL, as checked.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// `@name` parameters the SQL uses, with their values.
    pub fn params(&self) -> &[(String, ParamValue)] {
        &self.params
    }

    /// Rows it may bring in (instance limit, tightened by plan and alias).
    pub fn max_rows(&self) -> u64 {
        self.max_rows
    }

    /// Memory it may take, in MiB (instance limit, tightened by plan and alias).
    pub fn max_memory_mb(&self) -> u64 {
        self.max_memory_mb
    }

    /// Cap on the bytes any one of its BigQuery jobs may bill (instance, plan, alias).
    pub fn max_bytes_billed(&self) -> u64 {
        self.max_bytes_billed
    }

    /// The plan lets it hide an analytics table of the same name (`shadow: true`).
    pub fn shadow(&self) -> bool {
        self.shadow
    }

    /// How long its result may be reused from the cache (alias, else plan); `None`: not
    /// cached unless the run asks (`--cache`).
    pub fn cache_ttl(&self) -> Option<std::time::Duration> {
        self.cache_ttl
    }

    /// How it is prechecked: alias, else plan, else instance (`bigquery.precheck`).
    pub fn precheck(&self) -> crate::config::PrecheckMode {
        self.precheck
    }
}

/// The final DuckDB step: one read-only query and its `$name` parameters.
#[derive(Debug, Clone, Default)]
pub struct FinalStep {
    pub(super) sql: String,
    pub(super) params: Vec<(String, ParamValue)>,
}

impl FinalStep {
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// `$name` parameters of the step, with their values.
    pub fn params(&self) -> &[(String, ParamValue)] {
        &self.params
    }
}

/// One output file, its path resolved against the plan's folder.
#[derive(Debug, Clone)]
pub struct CheckedOutput {
    pub(super) path: PathBuf,
    pub(super) relative: PathBuf,
    pub(super) format: Format,
}

impl CheckedOutput {
    /// The path next to the plan file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as written in the plan, normalised (for `--output-dir`).
    pub fn relative(&self) -> &Path {
        &self.relative
    }

    pub fn format(&self) -> Format {
        self.format
    }
}

/// A plan that passed every check. Only `validate` constructs one.
#[derive(Debug, Clone)]
pub struct CheckedPlan {
    /// The plan file (a name only, for plans that came over HTTP).
    pub(super) path: PathBuf,
    pub(super) name: String,
    pub(super) aliases: Vec<CheckedAlias>,
    pub(super) final_step: FinalStep,
    pub(super) outputs: Vec<CheckedOutput>,
    pub(super) limits: Limits,
    pub(super) budget: Budget,
    pub(super) params: Params,
    pub(super) warnings: Vec<Diagnostic>,
}

impl CheckedPlan {
    /// The plan file; outputs never replace it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn aliases(&self) -> &[CheckedAlias] {
        &self.aliases
    }

    pub fn final_step(&self) -> &FinalStep {
        &self.final_step
    }

    pub fn outputs(&self) -> &[CheckedOutput] {
        &self.outputs
    }

    /// The effective limits: the instance's, tightened by the plan.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// What one run may bill: the instance's budget, tightened by the plan.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Every declared parameter with its value.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Warnings found on the way (an unused alias, ...).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    pub(super) fn into_warnings(self) -> Vec<Diagnostic> {
        self.warnings
    }
}
