//! Operational errors, their stable `error_type` codes, and the exit-code table.
//!
//! Problems in a plan are `Diagnostic`s (collected, all at once); everything that stops a
//! run is an `Error` here. Renderers (terminal, `--format json`, HTTP) read `error_type`,
//! `message` and `details` from the same value.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::diagnostic::FileReport;

/// The typed failures of a run, named as in the reference system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    RowLimit,
    MemoryLimit,
    BqError,
    QueryError,
    Timeout,
}

impl ErrorType {
    pub fn code(self) -> &'static str {
        match self {
            Self::RowLimit => "row_limit",
            Self::MemoryLimit => "memory_limit",
            Self::BqError => "bq_error",
            Self::QueryError => "query_error",
            Self::Timeout => "timeout",
        }
    }
}

/// A controlled failure of a run: what kind, what happened, and the numbers behind it.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{error_type}: {message}", error_type = .error_type.code())]
pub struct RunError {
    pub error_type: ErrorType,
    pub message: String,
    /// Structured facts: `alias`, `count`, `max`, `memory_mb`, ...
    pub details: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl RunError {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
            details: Map::new(),
            hint: None,
        }
    }

    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wrong use of the command line.
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration in {}", .0.path)]
    InvalidConfig(Box<FileReport>),
    #[error("plan {} is invalid", .0.path)]
    InvalidPlan(Box<FileReport>),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Output(#[from] crate::output::Error),
    #[error("interrupted")]
    Interrupted,
}

/// Exit codes, one table for every command.
pub mod exit {
    pub const OK: u8 = 0;
    /// A plan is invalid, or a run failed in a controlled way (its `error_type` is shown).
    pub const FAILED: u8 = 1;
    /// Usage error, unreadable input or invalid configuration.
    pub const USAGE: u8 = 2;
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Read { .. } | Self::InvalidConfig(_) => exit::USAGE,
            Self::InvalidPlan(_) | Self::Run(_) | Self::Output(_) => exit::FAILED,
            Self::Interrupted => exit::INTERRUPTED,
        }
    }

    /// The stable code shown to machines (`--format json`, HTTP).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Usage(_) => "usage",
            Self::Read { .. } => "unreadable_input",
            Self::InvalidConfig(_) => "invalid_config",
            Self::InvalidPlan(_) => "plan_invalid",
            Self::Run(e) => e.error_type.code(),
            Self::Output(_) => "output_error",
            Self::Interrupted => "interrupted",
        }
    }
}
