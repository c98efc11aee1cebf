//! Diagnostics: problems found in a user's plan, as plain data.
//!
//! A `Diagnostic` never prints itself. Each output format (`human`, `json`, `github`,
//! `sarif`) is one renderer in `render.rs` over the same values, so the CLI, CI annotations
//! and the HTTP API all say the same thing.

pub mod codes;
pub mod render;

use serde::Serialize;

/// How bad a diagnostic is. Only errors make a plan invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in one file, positioned for humans (line/column, 1-based, in characters)
/// and for machines (a JSON pointer into the plan document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable, kebab-free snake_case code such as `unknown_key` or `sql_forbidden_function`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// 1-based line in the file; `None` when the problem has no place (an unreadable file).
    pub line: Option<usize>,
    /// 1-based column, counted in characters.
    pub column: Option<usize>,
    /// JSON pointer to the plan value concerned (`/register_bq/traffic/sql`), `""` for the root.
    pub pointer: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// What the plan could name instead (binding diagnostics): every alias and the tables
    /// the final step reads, with their columns, so a generator can repair the plan
    /// without another call. Left out of JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub available: Vec<Available>,
}

/// A relation the final step can read, and its columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Available {
    /// The alias or table name, as the final step would write it.
    pub relation: String,
    /// `alias`, `table` or `view`.
    pub kind: String,
    pub columns: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            codes::lookup(code).is_some(),
            "diagnostic code `{code}` is not in diagnostic::codes::ALL"
        );
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            line: None,
            column: None,
            pointer: String::new(),
            hint: None,
            available: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    #[must_use]
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    #[must_use]
    pub fn pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = pointer.into();
        self
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn available(mut self, available: Vec<Available>) -> Self {
        self.available = available;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The result of checking one file: its path (as the user named it), its text when it could
/// be read (renderers show snippets from it), and every diagnostic, sorted by position.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: String,
    pub source: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    pub fn ok(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}
