//! What each statement and query node may be: read-only query bodies, no pipe `CALL`,
//! functions by dialect (DuckDB allowlist, BigQuery denylist and no qualified names) and
//! the table sources allowed in FROM.

use std::fmt;

use sqlparser::ast::{
    Function, ObjectName, PipeOperator, Query, SetExpr, Spanned, Statement, TableFactor,
};
use sqlparser::tokenizer::Span;

use super::functions::{
    bigquery_danger, bigquery_namespace_danger, duckdb_danger, duckdb_function_allowed,
};
use super::walker::{Checker, name_parts};
use super::{SqlDialect, codes};

/// Collects the leading identifier of a Debug rendering and stops the rest early.
struct LeadingWord(String);

impl fmt::Write for LeadingWord {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                self.0.push(c);
            } else {
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

/// The enum variant name of an AST node, read off its Debug rendering (`CreateTable { … }`).
fn variant_name(node: &impl fmt::Debug) -> String {
    let mut word = LeadingWord(String::new());
    // Stops with an error at the first non-identifier character, by design.
    let _ = fmt::write(&mut word, format_args!("{node:?}"));
    word.0
}

/// Readable statement kind from the AST variant name, e.g. `CreateTable` → `CREATE TABLE`.
pub(super) fn statement_kind(statement: &Statement) -> String {
    let variant = variant_name(statement);
    let fixed = match variant.as_str() {
        "AttachDatabase" | "AttachDuckDBDatabase" => Some("ATTACH"),
        "DetachDuckDBDatabase" => Some("DETACH"),
        "ExplainTable" => Some("DESCRIBE"),
        "StartTransaction" => Some("BEGIN"),
        "ExportData" => Some("EXPORT DATA"),
        "CreateFunction" => Some("CREATE FUNCTION"),
        "UNCache" => Some("UNCACHE"),
        _ => None,
    };
    if let Some(fixed) = fixed {
        return fixed.to_owned();
    }
    let mut out = String::new();
    let mut previous_lower = false;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push(' ');
        }
        previous_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_uppercase());
    }
    if out.is_empty() {
        "UNKNOWN".to_owned()
    } else {
        out
    }
}

pub(super) fn not_query_hint(kind: &str, dialect: SqlDialect) -> String {
    let first = kind.split(' ').next().unwrap_or(kind);
    let specific = match first {
        "DESCRIBE" | "DESC" | "SHOW" | "SUMMARIZE" => {
            "To see columns, run `SELECT * FROM t LIMIT 0`; to profile data, write the \
             aggregates (count, min, max, …) yourself."
        }
        "DECLARE" | "SET" | "BEGIN" | "EXECUTE" | "IF" | "LOOP" | "WHILE" | "FOR" | "CALL"
            if dialect == SqlDialect::BigQuery =>
        {
            "BigQuery scripts and procedures are not allowed; write one SELECT and pass values \
             as query parameters (@name)."
        }
        "SET" | "RESET" | "PRAGMA" | "USE" => {
            "Settings are fixed by the runner and cannot be changed from a plan."
        }
        _ if dialect == SqlDialect::BigQuery => {
            "Write one read-only query: SELECT … or WITH … SELECT …. Writes, schema changes, \
             scripts, EXPORT DATA and procedure calls are not available in plans."
        }
        _ => {
            "Write one read-only query: SELECT …, WITH … SELECT …, or FROM … SELECT …. Writes, \
             schema changes, settings, file and extension commands are not available in plans."
        }
    };
    specific.to_owned()
}

/// Rules for query nodes, functions and table sources; relations are in `relations`.
impl Checker<'_> {
    /// Body of every query node: only SELECT, set operations, VALUES and nested queries read.
    pub(super) fn check_query_body(&mut self, query: &Query) {
        let mut pending = vec![query.body.as_ref()];
        while let Some(body) = pending.pop() {
            let kind = match body {
                SetExpr::SetOperation { left, right, .. } => {
                    pending.push(right);
                    pending.push(left);
                    continue;
                }
                SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => continue,
                SetExpr::Insert(_) => "INSERT",
                SetExpr::Update(_) => "UPDATE",
                SetExpr::Delete(_) => "DELETE",
                SetExpr::Merge(_) => "MERGE",
                SetExpr::Table(table) => {
                    let name = table
                        .table_name
                        .as_ref()
                        .map(|n| n.value.clone())
                        .unwrap_or_default();
                    self.report(
                        codes::DATA_MODIFYING,
                        format!("the `TABLE {name}` shorthand is not allowed"),
                        format!("Write `SELECT * FROM {name}` instead."),
                        body.span(),
                    );
                    continue;
                }
            };
            self.report(
                codes::DATA_MODIFYING,
                format!("`{kind}` inside a query modifies data"),
                "Only read-only queries are allowed; remove the INSERT/UPDATE/DELETE/MERGE part \
                 (data-modifying CTEs included).",
                body.span(),
            );
        }
    }

    pub(super) fn check_pipe_operators(&mut self, query: &Query) {
        for operator in &query.pipe_operators {
            if let PipeOperator::Call { function, .. } = operator {
                let name = function.name.to_string();
                self.report(
                    codes::TABLE_FUNCTION,
                    format!("table function `{name}` (pipe `CALL`) is not allowed"),
                    "Select from tables directly; table-valued functions are not allowed.",
                    function.name.span(),
                );
            }
        }
    }

    pub(super) fn check_function(&mut self, function: &Function) {
        let span = function.name.span();
        let Some(parts) = name_parts(&function.name) else {
            self.report(
                codes::FORBIDDEN_FUNCTION,
                format!("computed function name `{}` is not allowed", function.name),
                "Call a built-in function by its plain name.",
                span,
            );
            return;
        };
        let display = parts.join(".");
        match self.dialect {
            SqlDialect::DuckDb => self.check_duckdb_function(&parts, &display, span),
            SqlDialect::BigQuery => self.check_bigquery_function(&parts, &display, span),
        }
    }

    fn check_duckdb_function(&mut self, parts: &[String], display: &str, span: Span) {
        let last = parts.last().map(|p| p.to_lowercase()).unwrap_or_default();
        if parts.len() > 1 {
            let message = match duckdb_danger(&last) {
                Some(danger) => format!(
                    "qualified function name `{display}` is not allowed; `{last}` is dangerous: \
                     it {}",
                    danger.what
                ),
                None => format!("qualified function name `{display}` is not allowed"),
            };
            self.report(
                codes::FORBIDDEN_FUNCTION,
                message,
                "Call built-in functions by their plain name, e.g. `lower(x)`; schema- or \
                 catalog-qualified names can reach functions outside the allowlist.",
                span,
            );
        } else if let Some(danger) = duckdb_danger(&last) {
            self.report(
                codes::FORBIDDEN_FUNCTION,
                format!(
                    "function `{display}` is dangerous and not allowed: it {}",
                    danger.what
                ),
                danger.hint,
                span,
            );
        } else if !duckdb_function_allowed(&last) {
            self.report(
                codes::FORBIDDEN_FUNCTION,
                format!("function `{display}` is not on the allowlist"),
                "Use an allowlisted built-in function (the list is DUCKDB_FUNCTIONS in \
                 src/validate/sql/functions.rs); if a harmless function is missing, ask for it to be \
                 added there.",
                span,
            );
        }
    }

    fn check_bigquery_function(&mut self, parts: &[String], display: &str, span: Span) {
        let lower: Vec<String> = parts.iter().map(|p| p.to_lowercase()).collect();
        // `None`: allowed; `Some(None)`: a qualified name; `Some(Some(what))`: dangerous.
        let refusal = match lower.as_slice() {
            [name] => bigquery_danger(name).map(Some),
            // SAFE.x is the same function returning NULL on error; NET.x are pure functions.
            [namespace, name] if namespace == "safe" => bigquery_danger(name).map(Some),
            [namespace, _] if namespace == "net" => None,
            [namespace, _] => Some(bigquery_namespace_danger(namespace)),
            _ => Some(None),
        };
        match refusal {
            None => {}
            Some(Some(what)) => self.report(
                codes::FORBIDDEN_FUNCTION,
                format!("function `{display}` is dangerous and not allowed: it {what}"),
                "Use built-in scalar and aggregate functions on the allowed tables only.",
                span,
            ),
            Some(None) => self.report(
                codes::FORBIDDEN_FUNCTION,
                format!(
                    "multi-part function name `{display}` is not allowed: it names a \
                     user-defined or remote function"
                ),
                "Use built-in BigQuery functions only (SAFE.x and NET.x are allowed).",
                span,
            ),
        }
    }

    pub(super) fn check_table_function(&mut self, name: &ObjectName, span: Span) {
        let parts = name_parts(name).unwrap_or_else(|| vec![name.to_string()]);
        let display = parts.join(".");
        let lower = display.to_lowercase();
        // range/generate_series/unnest take plain values and touch no files; the runtime
        // they can burn is bounded by the runner's timeout and interrupt, exactly like a
        // large cross join of registered tables, so refusing them would buy nothing.
        let allowed: &[&str] = match self.dialect {
            SqlDialect::DuckDb => &["range", "generate_series", "unnest"],
            SqlDialect::BigQuery => &["unnest"],
        };
        if allowed.contains(&lower.as_str()) {
            return;
        }
        let danger = match self.dialect {
            SqlDialect::DuckDb => duckdb_danger(&lower).map(|d| d.what),
            SqlDialect::BigQuery => bigquery_danger(&lower),
        };
        let message = match danger {
            Some(what) => {
                format!("table function `{display}` is dangerous and not allowed: it {what}")
            }
            None => format!("table function `{display}` is not allowed"),
        };
        let hint = match self.dialect {
            SqlDialect::DuckDb => {
                "Read only the plan's aliases and extracts, by name (`FROM alias`); the only \
                 table functions allowed are range, generate_series and unnest."
            }
            SqlDialect::BigQuery => {
                "Select from tables by name; UNNEST is the only function allowed in FROM."
            }
        };
        self.report(codes::TABLE_FUNCTION, message, hint, span);
    }

    pub(super) fn check_table_factor(&mut self, factor: &TableFactor) {
        match factor {
            TableFactor::Table { name, args, .. } => {
                if args.is_some() {
                    self.check_table_function(name, name.span());
                } else {
                    self.check_relation(name, name.span());
                }
            }
            TableFactor::Function { name, .. } => self.check_table_function(name, name.span()),
            // Their inner queries, relations and expressions are visited on their own.
            TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::Pivot { .. }
            | TableFactor::Unpivot { .. } => {}
            other => {
                self.report(
                    codes::TABLE_FUNCTION,
                    format!("table source `{}` is not allowed", variant_name(other)),
                    "Select from tables, subqueries or UNNEST only.",
                    other.span(),
                );
            }
        }
    }
}
