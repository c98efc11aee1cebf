//! Table references: which names a FROM may read, per dialect. DuckDB reads only the
//! plan's aliases and extracts (never files, catalogs or settings); BigQuery reads tables in
//! the allowed datasets, and array paths of range variables in scope.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};
use sqlparser::tokenizer::Span;

use super::walker::Checker;
use super::{BigQueryPolicy, SqlDialect, codes, is_identifier};

impl Checker<'_> {
    pub(super) fn check_relation(&mut self, name: &ObjectName, span: Span) {
        let mut idents: Vec<&Ident> = Vec::new();
        for part in &name.0 {
            match part {
                ObjectNamePart::Identifier(ident) => idents.push(ident),
                ObjectNamePart::Function(_) => {
                    self.report(
                        codes::TABLE_FUNCTION,
                        format!("computed table name `{name}` is not allowed"),
                        "Name the table directly.",
                        span,
                    );
                    return;
                }
            }
        }
        match self.dialect {
            SqlDialect::DuckDb => self.check_duckdb_relation(&idents, span),
            SqlDialect::BigQuery => self.check_bigquery_relation(&idents, span),
        }
    }

    fn check_duckdb_relation(&mut self, idents: &[&Ident], span: Span) {
        let display = idents
            .iter()
            .map(|i| i.value.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let lower: Vec<String> = idents.iter().map(|i| i.value.to_lowercase()).collect();
        let joined = lower.join(".");
        let file = if idents.iter().any(|i| i.quote_style == Some('\'')) {
            Some(format!("`FROM '{display}'` reads a file or URL"))
        } else if idents.iter().any(|i| looks_like_path(&i.value)) || has_file_extension(&joined) {
            Some(format!(
                "`{display}` looks like a file path; DuckDB would read it as a file"
            ))
        } else {
            None
        };
        if let Some(message) = file {
            self.report(
                codes::FILE_TABLE,
                message,
                "Query a registered alias or extract table by name; the final step cannot read \
                 files.",
                span,
            );
            return;
        }
        let table = lower.last().map(String::as_str).unwrap_or_default();
        let system = is_duckdb_system_relation(table)
            || lower.split_last().is_some_and(|(_, qualifiers)| {
                qualifiers
                    .iter()
                    .any(|q| DUCKDB_SYSTEM_SCHEMAS.contains(&q.as_str()))
            });
        // `name`, `main.name`, or `<extract>.<table>` with plain identifiers; nothing deeper.
        let shape_ok = match lower.as_slice() {
            [_] => true,
            [schema, _] if schema == "main" => true,
            [_, _] => idents.iter().all(|i| is_identifier(&i.value)),
            _ => false,
        };
        if system || !shape_ok {
            let message = if system {
                format!("`{display}` is a DuckDB catalog or metadata relation")
            } else {
                format!("table name `{display}` is not allowed")
            };
            self.report(
                codes::SYSTEM_TABLE,
                message,
                "Read only the plan's aliases and extracts: `name`, `main.name` or \
                 `<extract>.<table>`. Catalog, settings and metadata views are not available.",
                span,
            );
            return;
        }
        if lower.len() == 1 && self.cte_in_scope(table) {
            return;
        }
        let reported = match lower.as_slice() {
            [schema, table] if schema == "main" => table.clone(),
            _ => joined,
        };
        self.add_table(reported);
    }

    fn check_bigquery_relation(&mut self, idents: &[&Ident], span: Span) {
        // A backticked `a.b.c` may arrive as one identifier; BigQuery reads it as three.
        let parts: Vec<&str> = idents.iter().flat_map(|i| i.value.split('.')).collect();
        let display = parts.join(".");
        let lower = display.to_lowercase();
        // `FROM t AS u, u.items`: an array path of a range variable, not a table. Only two
        // unquoted identifiers are taken for one: sqlparser splits a backticked `u.items`
        // into two parts as well, and BigQuery may read that as dataset `u`.
        if let [first, _] = idents
            && idents.iter().all(|i| i.quote_style.is_none())
            && self.range_variable_in_scope(&first.value.to_lowercase())
        {
            return;
        }
        if parts.len() == 1 && self.cte_in_scope(&lower) {
            return;
        }
        self.add_table(lower);
        self.check_dataset_policy(&parts, &display, span);
    }

    /// Metadata views and, when `allowed_datasets` is set, the dataset a table lives in.
    fn check_dataset_policy(&mut self, parts: &[&str], display: &str, span: Span) {
        let restricted = !self.policy.allowed_datasets.is_empty();
        let metadata = parts.iter().any(|p| {
            p.eq_ignore_ascii_case("information_schema") || p.to_lowercase().starts_with("region-")
        });
        if metadata {
            if restricted {
                self.report(
                    codes::SYSTEM_TABLE,
                    format!("`{display}` is a BigQuery INFORMATION_SCHEMA (metadata) view"),
                    "Metadata views expose jobs, other users' query text and objects outside \
                     the allowed datasets; query tables in the allowed datasets instead.",
                    span,
                );
            }
            return;
        }
        if !restricted {
            return;
        }
        let default_project = self.policy.default_project.as_deref();
        let (project, dataset) = match parts {
            [project, dataset, _] => (*project, *dataset),
            [dataset, _] => match default_project {
                Some(project) => (project, *dataset),
                None => {
                    self.report(
                        codes::DATASET_NOT_ALLOWED,
                        format!("table `{display}` names no project and no default project is set"),
                        format!(
                            "Write the full name `project.{display}`; allowed datasets: {}.",
                            self.policy.allowed_datasets.join(", ")
                        ),
                        span,
                    );
                    return;
                }
            },
            _ => {
                self.report(
                    codes::DATASET_NOT_ALLOWED,
                    format!("table name `{display}` does not name a dataset"),
                    format!(
                        "Qualify it as `dataset.table` or `project.dataset.table`; allowed \
                         datasets: {}.",
                        self.policy.allowed_datasets.join(", ")
                    ),
                    span,
                );
                return;
            }
        };
        if !dataset_allowed(self.policy, project, dataset) {
            self.report(
                codes::DATASET_NOT_ALLOWED,
                format!("dataset `{project}.{dataset}` (in `{display}`) is not allowed"),
                format!(
                    "Read only from the allowed datasets: {}.",
                    self.policy.allowed_datasets.join(", ")
                ),
                span,
            );
        }
    }
}

pub(super) fn dataset_allowed(policy: &BigQueryPolicy, project: &str, dataset: &str) -> bool {
    policy.allowed_datasets.iter().any(|entry| {
        let entry = entry.trim().trim_matches('`');
        match entry.split_once('.') {
            // Project IDs are lower-case and matched as such; dataset names are case-sensitive.
            Some((p, d)) => !d.contains('.') && p.eq_ignore_ascii_case(project) && d == dataset,
            None => {
                policy
                    .default_project
                    .as_deref()
                    .is_some_and(|dp| dp.eq_ignore_ascii_case(project))
                    && entry == dataset
            }
        }
    })
}

/// Schemas whose tables are catalog metadata or session state, never plan data.
const DUCKDB_SYSTEM_SCHEMAS: &[&str] = &["information_schema", "pg_catalog", "system", "temp"];

fn is_duckdb_system_relation(lower: &str) -> bool {
    matches!(
        lower,
        "information_schema" | "pg_catalog" | "_remote_attach" | "_remote_links" | "_meta"
    ) || ["duckdb_", "pragma_", "pg_", "sqlite_"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
}

/// Extensions that make DuckDB's replacement scans read a file.
const FILE_EXTENSIONS: &[&str] = &[
    "arrow", "avro", "bz2", "csv", "db", "ddb", "delta", "duckdb", "feather", "gz", "iceberg",
    "ipc", "json", "jsonl", "lz4", "ndjson", "orc", "parq", "parquet", "sqlite", "sqlite3", "tar",
    "tsv", "txt", "xls", "xlsx", "xz", "zip", "zst", "zstd",
];

fn looks_like_path(value: &str) -> bool {
    // A dot inside one identifier can only come from quoting, and DuckDB treats such a
    // name as a file when no table matches it.
    value.contains(['/', '\\', ':', '~', '*', '?', '.'])
}

fn has_file_extension(lower: &str) -> bool {
    lower
        .rsplit_once('.')
        .is_some_and(|(_, extension)| FILE_EXTENSIONS.contains(&extension))
}
