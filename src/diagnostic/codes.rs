//! Every diagnostic code, in one registry.
//!
//! Codes are a public contract (`--format json`, SARIF rule ids, the HTTP API): each one is
//! listed here once, with where a user meets it. `Diagnostic::error`/`warning` refuse an
//! unlisted code in debug builds, and a test checks that every code a plan file can
//! produce has a fixture under `tests/fixtures/plans/bad/` named after it.

use super::Severity;

/// Where a code can come from, which decides how it is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A plan file alone: `tests/fixtures/plans/bad/<code>.*` must exist.
    PlanFile,
    /// Needs something besides the plan file (a flag, a config, a run); the text says
    /// where it is tested instead.
    Elsewhere(&'static str),
}

/// One registered code.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    pub origin: Origin,
}

const fn plan(code: &'static str) -> Code {
    Code {
        code,
        severity: Severity::Error,
        origin: Origin::PlanFile,
    }
}

const fn elsewhere(code: &'static str, severity: Severity, why: &'static str) -> Code {
    Code {
        code,
        severity,
        origin: Origin::Elsewhere(why),
    }
}

/// The SQL rules' codes (`validate::sql`).
pub mod sql {
    /// NUL, `\r` or another control character other than `\n` and `\t`.
    pub const CONTROL_CHAR: &str = "sql_control_char";
    /// Non-ASCII whitespace or an invisible format character outside string literals.
    pub const UNICODE_WHITESPACE: &str = "sql_unicode_whitespace";
    /// The text is longer than the validator's limit.
    pub const TOO_LONG: &str = "sql_too_long";
    /// sqlparser cannot read the text.
    pub const PARSE_ERROR: &str = "sql_parse_error";
    /// No statement at all (empty or comments only).
    pub const EMPTY: &str = "sql_empty";
    /// More than one statement, or a `;` that is not the last character.
    pub const MULTIPLE_STATEMENTS: &str = "sql_multiple_statements";
    /// The statement is not a read-only query (DDL, DML, settings, scripting, …).
    pub const NOT_QUERY: &str = "sql_not_query";
    /// A query node whose body writes (data-modifying CTE, `WITH … DELETE`, `SELECT … INTO`).
    pub const DATA_MODIFYING: &str = "sql_data_modifying";
    /// DuckDB: a FROM item that DuckDB would read as a file or URL.
    pub const FILE_TABLE: &str = "sql_file_table";
    /// A table function (or other computed table source) in FROM.
    pub const TABLE_FUNCTION: &str = "sql_table_function";
    /// A catalog or metadata relation, or a qualified name outside the allowed shapes.
    pub const SYSTEM_TABLE: &str = "sql_system_table";
    /// A function that is dangerous, not allowlisted, or qualified.
    pub const FORBIDDEN_FUNCTION: &str = "sql_forbidden_function";
    /// BigQuery: a table outside the allowed datasets.
    pub const DATASET_NOT_ALLOWED: &str = "sql_dataset_not_allowed";

    /// A literal the engine and sqlparser may end at different places: a BigQuery raw or
    /// bytes literal with a backslash, a DuckDB dollar quote whose tag reads as a parameter.
    pub const AMBIGUOUS_LITERAL: &str = "sql_ambiguous_literal";
}

/// Every code da emits in a diagnostic.
pub const ALL: &[Code] = &[
    // Reading the file.
    plan("yaml_syntax"),
    plan("toml_syntax"),
    plan("duplicate_key"),
    plan("duplicate_alias"),
    plan("yaml_tag"),
    elsewhere(
        "unreadable",
        Severity::Error,
        "a missing or unreadable file (tests/it/plan_check.rs)",
    ),
    // The schema.
    plan("unknown_key"),
    plan("missing_key"),
    plan("wrong_type"),
    plan("invalid_value"),
    plan("unsupported_version"),
    plan("invalid_alias_spec"),
    elsewhere(
        "invalid_document",
        Severity::Error,
        "only if the schema and the types drift apart (schema round-trip tests)",
    ),
    // Plan rules.
    plan("invalid_alias"),
    plan("reserved_alias"),
    plan("limit_loosened"),
    plan("output_path_escapes"),
    plan("output_overwrites_input"),
    plan("unknown_output_format"),
    plan("duplicate_output"),
    plan("invalid_param_name"),
    plan("invalid_param_default"),
    plan("undeclared_param"),
    plan("template_error"),
    plan("template_too_expensive"),
    elsewhere(
        "unknown_param",
        Severity::Error,
        "a --param the plan does not declare (tests/it/run.rs)",
    ),
    elsewhere(
        "invalid_param",
        Severity::Error,
        "a --param value that is not of the declared type (params.rs unit tests)",
    ),
    elsewhere(
        "missing_param",
        Severity::Error,
        "a run without a required --param (tests/it/run.rs); offline checks use placeholders",
    ),
    elsewhere(
        "unused_alias",
        Severity::Warning,
        "a warning, so the plan stays valid (tests/it/plan_check.rs)",
    ),
    // SQL.
    plan(sql::CONTROL_CHAR),
    plan(sql::UNICODE_WHITESPACE),
    elsewhere(
        sql::TOO_LONG,
        Severity::Error,
        "a text over 1 MiB (validate::sql unit tests)",
    ),
    plan(sql::PARSE_ERROR),
    plan(sql::EMPTY),
    plan(sql::MULTIPLE_STATEMENTS),
    plan(sql::NOT_QUERY),
    plan(sql::DATA_MODIFYING),
    plan(sql::FILE_TABLE),
    plan(sql::TABLE_FUNCTION),
    plan(sql::SYSTEM_TABLE),
    plan(sql::FORBIDDEN_FUNCTION),
    plan(sql::AMBIGUOUS_LITERAL),
    elsewhere(
        sql::DATASET_NOT_ALLOWED,
        Severity::Error,
        "needs bigquery.allowed_datasets in a config (tests/it/plan_check.rs policy tests)",
    ),
    // Binding the final step offline against a lock file (`lock::bind`): they need a
    // `PLAN.lock` and a catalog (the analytics database or a schema snapshot).
    elsewhere(
        "unknown_column",
        Severity::Error,
        "a lock file and a catalog (tests/it/lock.rs, tests/fixtures/lock/)",
    ),
    elsewhere(
        "unknown_table",
        Severity::Error,
        "a lock file and a catalog (tests/it/lock.rs, tests/fixtures/lock/)",
    ),
    elsewhere(
        "unknown_function",
        Severity::Error,
        "a lock file and a catalog (tests/it/lock.rs)",
    ),
    elsewhere(
        "type_mismatch",
        Severity::Error,
        "a lock file and a catalog (tests/it/lock.rs)",
    ),
    elsewhere(
        "bind_error",
        Severity::Error,
        "any other binder error DuckDB reports (lock::bind unit tests)",
    ),
    elsewhere(
        "bind_timeout",
        Severity::Error,
        "a lock file and a final step whose constants outlast limits.timeout_seconds (tests/it/lock.rs)",
    ),
    elsewhere(
        "stale_lock",
        Severity::Error,
        "a lock file whose SQL hash no longer matches (tests/it/lock.rs)",
    ),
    elsewhere(
        "invalid_lock",
        Severity::Error,
        "a lock file that does not parse (tests/it/lock.rs)",
    ),
    elsewhere(
        "catalog_unavailable",
        Severity::Error,
        "a lock file but no readable analytics database (tests/it/lock.rs)",
    ),
];

/// The registry entry of a code.
pub fn lookup(code: &str) -> Option<&'static Code> {
    ALL.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_in_snake_case() {
        for (i, c) in ALL.iter().enumerate() {
            assert!(
                c.code
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{}",
                c.code
            );
            assert!(
                ALL[i + 1..].iter().all(|other| other.code != c.code),
                "{} is listed twice",
                c.code
            );
        }
    }
}
