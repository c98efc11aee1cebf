//! Operational errors, their stable `error_type` codes, and the exit-code table.
//!
//! Problems in a plan are `Diagnostic`s (collected, all at once); everything that stops a
//! run is an `Error` here. Renderers (terminal, `--format json`, HTTP) read `error_type`,
//! `message` and `details` from the same value.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::diagnostic::FileReport;

/// The typed failures of a run, named as in the reference system (plus `interrupted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    RowLimit,
    MemoryLimit,
    /// BigQuery refused or failed; the kind says why (and picks the HTTP status).
    BqError(BqErrorKind),
    QueryError,
    /// The run passed its time limit.
    Timeout,
    /// The run was stopped on purpose (Ctrl-C, a dropped request).
    Interrupted,
    /// The dry runs' estimate is over the plan's budget; nothing billed was started.
    CostLimit,
}

impl ErrorType {
    pub fn code(self) -> &'static str {
        match self {
            Self::RowLimit => "row_limit",
            Self::MemoryLimit => "memory_limit",
            Self::BqError(_) => "bq_error",
            Self::QueryError => "query_error",
            Self::Timeout => "timeout",
            Self::Interrupted => "interrupted",
            Self::CostLimit => "cost_limit",
        }
    }
}

impl Serialize for ErrorType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Why BigQuery (or the way to it) failed. Shown as `details.kind` of a `bq_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BqErrorKind {
    /// No project, credentials or backend configured.
    NotConfigured,
    AuthFailed,
    Forbidden,
    NotFound,
    /// BigQuery rejected the query (syntax, types, ...).
    BadRequest,
    ResponseTooLarge,
    /// A job would bill more than its `max_bytes_billed` cap; BigQuery refused to run it.
    BytesBilledLimit,
    /// BigQuery's dry run says the query reads a table outside `bigquery.allowed_datasets`
    /// (a view, a function, or SQL our parser read differently); nothing was billed.
    DatasetNotAllowed,
    /// BigQuery failed, answered nonsense, or could not be reached.
    Upstream,
}

impl BqErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::AuthFailed => "auth_failed",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::BadRequest => "bad_request",
            Self::ResponseTooLarge => "response_too_large",
            Self::BytesBilledLimit => "bytes_billed_limit",
            Self::DatasetNotAllowed => "dataset_not_allowed",
            Self::Upstream => "upstream_error",
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
    /// Things that went wrong on the way without stopping the run by themselves (an
    /// extract skipped, a remote source not re-attached): shown with the error too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl RunError {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
            details: Map::new(),
            hint: None,
            warnings: Vec::new(),
        }
    }

    /// A `bq_error` of the given kind (also recorded as `details.kind`).
    pub fn bq(kind: BqErrorKind, message: impl Into<String>) -> Self {
        Self::new(ErrorType::BqError(kind), message).detail("kind", kind.code())
    }

    /// The run was stopped on purpose during `phase`.
    pub fn interrupted(phase: &str) -> Self {
        Self::new(
            ErrorType::Interrupted,
            format!("interrupted during {phase}"),
        )
        .hint("the run was stopped (Ctrl-C or a cancelled request); outputs were left as they were")
    }

    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Add warnings gathered before the failure.
    #[must_use]
    pub fn with_warnings(mut self, warnings: &[String]) -> Self {
        self.warnings.extend_from_slice(warnings);
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
    /// A file or socket the command needs could not be read, written or opened.
    #[error("{context}: {source}")]
    Io {
        context: String,
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
    /// Something that should not happen: a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Exit codes, one table for every command (also in the README).
pub mod exit {
    pub const OK: u8 = 0;
    /// A plan is invalid, or a run failed in a controlled way (its `error_type` is shown).
    pub const FAILED: u8 = 1;
    /// Usage error, invalid configuration, or a file that cannot be read.
    pub const USAGE: u8 = 2;
    /// A bug in da: please report it.
    pub const INTERNAL: u8 = 3;
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

impl Error {
    /// An I/O failure on `path` while doing `what` (`read`, `write`, ...).
    pub fn io(what: &str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            context: format!("cannot {what} {}", path.display()),
            source,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Io { .. } | Self::InvalidConfig(_) => exit::USAGE,
            Self::Run(e) if e.error_type == ErrorType::Interrupted => exit::INTERRUPTED,
            Self::InvalidPlan(_) | Self::Run(_) | Self::Output(_) => exit::FAILED,
            Self::Internal(_) => exit::INTERNAL,
        }
    }

    /// The stable code shown to machines (`--format json`, HTTP).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Usage(_) => "usage",
            Self::Io { .. } => "io_error",
            Self::InvalidConfig(_) => "invalid_config",
            Self::InvalidPlan(_) => "plan_invalid",
            Self::Run(e) => e.error_type.code(),
            Self::Output(_) => "output_error",
            Self::Internal(_) => "internal_error",
        }
    }
}
