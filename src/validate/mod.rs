//! Plan validation: a `LoadedPlan` becomes a `CheckedPlan`, or a list of every problem.
//!
//! Only this module builds a `CheckedPlan`, so nothing can run SQL that was not rendered,
//! parsed and checked here. The SQL that runs is exactly the SQL that was validated.

mod checked;
mod origin;
pub mod sql;

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::config::{Budget, Limits};
use crate::diagnostic::Diagnostic;
use crate::dialect::{SqlDialect, is_identifier};
use crate::document::{Document, LineCol, escape_pointer};
use crate::output::Format;
use crate::output::guard::{self, Protected};
use crate::params::{self, ParamValue, Params};
use crate::plan::LoadedPlan;
use crate::plan::model::{FileFormat, Plan};
pub use checked::{CheckedAlias, CheckedOutput, CheckedPlan, FinalStep};
pub use origin::sql_position;
use origin::{SqlOrigin, find_token};
use sql::{BigQueryPolicy, SqlProblem, analyze, strip_one_semicolon};

// A template may render no more SQL than the validator accepts.
const _: () = assert!(params::MAX_RENDERED_BYTES == sql::MAX_SQL_BYTES);

/// Names an alias may not take: they would shadow DuckDB's system objects.
pub const RESERVED_ALIASES: [&str; 13] = [
    "information_schema",
    "duckdb_tables",
    "duckdb_columns",
    "duckdb_databases",
    "duckdb_settings",
    "duckdb_functions",
    "duckdb_views",
    "duckdb_indexes",
    "duckdb_schemas",
    "main",
    "memory",
    "system",
    "temp",
];

/// What validation needs besides the plan.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub limits: Limits,
    /// The instance's cap on bytes billed per BigQuery job.
    pub max_bytes_billed: u64,
    /// The instance's budget for one run.
    pub budget: Budget,
    /// The instance's precheck mode (`bigquery.precheck`).
    pub precheck: crate::config::PrecheckMode,
    pub bigquery: BigQueryPolicy,
    /// `--param name=value` pairs.
    pub given_params: &'a [(String, String)],
    /// Missing required parameters are errors (runs), or get placeholders (offline checks).
    pub require_params: bool,
    /// Files and folders outputs may not replace or write into (config, database, ...).
    pub protected: Vec<Protected>,
}

/// Every diagnostic of a plan: its errors when it is invalid, else its warnings.
pub fn diagnostics(loaded: &LoadedPlan, ctx: &Context<'_>) -> Vec<Diagnostic> {
    match validate(loaded, ctx) {
        Ok(checked) => checked.into_warnings(),
        Err(diags) => diags,
    }
}

/// Check a loaded plan. Returns the checked plan, or every error and warning found.
pub fn validate(loaded: &LoadedPlan, ctx: &Context<'_>) -> Result<CheckedPlan, Vec<Diagnostic>> {
    let mut v = Validator {
        doc: loaded.doc(),
        diags: Vec::new(),
        declared: loaded.plan().params.keys().cloned().collect(),
    };
    let plan = loaded.plan();
    let params = v.params(plan, ctx);
    let limits = v.limits(plan, ctx.limits);
    let budget = v.budget(plan, ctx.budget);
    let aliases = v.aliases(plan, ctx, &params, limits);
    let final_sql = v.query(
        "/sql",
        &plan.sql,
        SqlDialect::DuckDb,
        &ctx.bigquery,
        &params,
    );
    // Which aliases the final sql reads is known only when it passed its checks.
    if let Some((_, _, tables)) = &final_sql {
        v.unused_aliases(&aliases, tables);
    }
    let (sql, sql_params, _) = final_sql.unwrap_or_default();
    let outputs = v.outputs(plan, loaded, &ctx.protected);
    let diags = v.diags;
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(CheckedPlan {
        path: loaded.path().to_owned(),
        name: plan.name.clone(),
        aliases,
        final_step: FinalStep {
            sql,
            params: sql_params,
        },
        outputs,
        limits,
        budget,
        params,
        warnings: diags,
    })
}

struct Validator<'a> {
    doc: &'a Document,
    diags: Vec<Diagnostic>,
    /// Declared parameter names, valued or not (a bad default is reported once, there).
    declared: BTreeSet<String>,
}

impl Validator<'_> {
    fn push_at(&mut self, diag: Diagnostic, at: LineCol) {
        self.diags.push(diag.at(at.line, at.column));
    }

    fn params(&mut self, plan: &Plan, ctx: &Context<'_>) -> Params {
        for name in plan.params.keys() {
            if !is_identifier(name) {
                let pointer = format!("/params/{}", escape_pointer(name));
                let at = self.doc.key_position(&pointer);
                self.push_at(
                    Diagnostic::error(
                        "invalid_param_name",
                        format!(
                            "parameter name `{}` is not an identifier",
                            name.escape_debug()
                        ),
                    )
                    .pointer(pointer)
                    .hint("use letters, digits and `_`, not starting with a digit (at most 64)"),
                    at,
                );
            }
        }
        let (values, problems) =
            params::resolve(&plan.params, ctx.given_params, ctx.require_params);
        for p in problems {
            let pointer = format!("/params/{}", escape_pointer(&p.name));
            let diag = Diagnostic::error(p.code, p.message).hint(p.hint);
            if p.code == "unknown_param" {
                // A command-line problem: it has no place in the file.
                self.diags.push(diag);
            } else {
                let at = self.doc.key_position(&pointer);
                self.push_at(diag.pointer(pointer), at);
            }
        }
        values
    }

    fn limits(&mut self, plan: &Plan, instance: Limits) -> Limits {
        let l = &plan.limits;
        Limits {
            max_bq_registration_rows: self.tighten(
                "/limits/max_bq_registration_rows",
                l.max_bq_registration_rows,
                instance.max_bq_registration_rows,
            ),
            max_memory_mb: self.tighten(
                "/limits/max_memory_mb",
                l.max_memory_mb,
                instance.max_memory_mb,
            ),
            max_result_rows: self.tighten(
                "/limits/max_result_rows",
                l.max_result_rows,
                instance.max_result_rows,
            ),
            // Unlimited unless the instance or the plan sets it.
            max_output_rows: match instance.max_output_rows {
                Some(max) => Some(self.tighten("/limits/max_output_rows", l.max_output_rows, max)),
                None => l.max_output_rows,
            },
            timeout_seconds: self.tighten(
                "/limits/timeout_seconds",
                l.timeout_seconds,
                instance.timeout_seconds,
            ),
        }
    }

    fn aliases(
        &mut self,
        plan: &Plan,
        ctx: &Context<'_>,
        params: &Params,
        limits: Limits,
    ) -> Vec<CheckedAlias> {
        let max_bytes_billed = self.tighten(
            "/limits/max_bytes_billed",
            plan.limits.max_bytes_billed,
            ctx.max_bytes_billed,
        );
        let mut out = Vec::new();
        for (name, spec) in &plan.register_bq {
            let pointer = format!("/register_bq/{}", escape_pointer(name));
            let name_ok = self.alias_name(name, &pointer);
            let max_rows = self.tighten(
                &format!("{pointer}/max_rows"),
                spec.max_rows(),
                limits.max_bq_registration_rows,
            );
            let max_memory_mb = self.tighten(
                &format!("{pointer}/max_memory_mb"),
                spec.max_memory_mb(),
                limits.max_memory_mb,
            );
            let max_bytes_billed = self.tighten(
                &format!("{pointer}/max_bytes_billed"),
                spec.max_bytes_billed(),
                max_bytes_billed,
            );
            let sql_pointer = format!("{pointer}{}", spec.sql_pointer_suffix());
            let checked = self.query(
                &sql_pointer,
                spec.sql(),
                SqlDialect::BigQuery,
                &ctx.bigquery,
                params,
            );
            if let Some((sql, used, _)) = checked.filter(|_| name_ok) {
                out.push(CheckedAlias {
                    name: name.clone(),
                    sql: strip_one_semicolon(&sql).to_owned(),
                    params: used,
                    max_rows,
                    max_memory_mb,
                    max_bytes_billed,
                    shadow: spec.shadow(),
                    precheck: spec.precheck().or(plan.precheck).unwrap_or(ctx.precheck),
                    cache_ttl: spec
                        .cache()
                        .or(plan.cache.as_ref())
                        .and_then(|c| crate::config::parse_ttl(&c.ttl)),
                });
            }
        }
        out
    }

    /// `asked` if it is within `max`; otherwise a `limit_loosened` error at `pointer` and
    /// `max`. Plans and aliases may only tighten limits.
    fn tighten(&mut self, pointer: &str, asked: Option<u64>, max: u64) -> u64 {
        match asked {
            Some(v) if v > max => {
                let name = pointer.rsplit('/').next().unwrap_or(pointer);
                let at = self.doc.position(pointer);
                self.push_at(loosened(name, v, max).pointer(pointer), at);
                max
            }
            Some(v) => v,
            None => max,
        }
    }

    /// The plan's budget within the instance's: each cap the plan sets must not be above
    /// the instance's, and a cap only the instance sets still holds.
    fn budget(&mut self, plan: &Plan, instance: Budget) -> Budget {
        let asked = plan.budget.unwrap_or_default();
        let max_bytes = match (asked.max_bytes, instance.max_bytes) {
            (Some(_), Some(max)) => Some(self.tighten("/budget/max_bytes", asked.max_bytes, max)),
            (asked, instance) => asked.or(instance),
        };
        let max_usd = match (asked.max_usd, instance.max_usd) {
            (Some(v), Some(max)) if v > max => {
                let at = self.doc.position("/budget/max_usd");
                self.push_at(loosened("max_usd", v, max).pointer("/budget/max_usd"), at);
                Some(max)
            }
            (asked, instance) => asked.or(instance),
        };
        Budget { max_bytes, max_usd }
    }

    /// Whether an alias name can be registered; an error at its key when it cannot.
    fn alias_name(&mut self, name: &str, pointer: &str) -> bool {
        let key_at = self.doc.key_position(pointer);
        if !is_identifier(name) {
            self.push_at(
                Diagnostic::error(
                    "invalid_alias",
                    format!(
                        "invalid alias `{}`: must be a valid SQL identifier",
                        name.escape_debug()
                    ),
                )
                .pointer(pointer)
                .hint("aliases match ^[A-Za-z_][A-Za-z0-9_]{0,63}$"),
                key_at,
            );
            return false;
        }
        if RESERVED_ALIASES.contains(&name.to_ascii_lowercase().as_str()) {
            self.push_at(
                Diagnostic::error(
                    "reserved_alias",
                    format!("reserved alias `{name}`: cannot shadow system objects"),
                )
                .pointer(pointer)
                .hint(format!(
                    "pick another name; reserved: {}",
                    RESERVED_ALIASES.join(", ")
                )),
                key_at,
            );
            return false;
        }
        true
    }

    /// Render, parse and check one SQL text. Returns the rendered SQL, the parameters it
    /// uses, and the tables it reads; `None` when it had errors.
    fn query(
        &mut self,
        pointer: &str,
        text: &str,
        dialect: SqlDialect,
        bq: &BigQueryPolicy,
        params: &Params,
    ) -> Option<CheckedQuery> {
        let origin = SqlOrigin::new(self.doc, pointer);
        let rendered = match params::render(text, params, dialect) {
            Ok(sql) => sql,
            Err(err) => {
                let at = origin.map(self.doc, err.line.unwrap_or(1), err.column.unwrap_or(1));
                let diagnostic = if err.too_expensive {
                    Diagnostic::error("template_too_expensive", format!("template too expensive: {}", err.message))
                        .hint("templates fill in values; generate long or repetitive SQL outside the plan")
                } else {
                    Diagnostic::error("template_error", format!("template error: {}", err.message))
                        .hint(err.hint)
                };
                self.push_at(diagnostic.pointer(pointer), at);
                return None;
            }
        };
        let analysis = analyze(&rendered, dialect, bq);
        let mut ok = analysis.problems.is_empty();
        for problem in analysis.problems {
            let at = origin.map(self.doc, problem.line, problem.column);
            self.push_at(sql_diagnostic(problem, dialect).pointer(pointer), at);
        }
        let sigil = match dialect {
            SqlDialect::BigQuery => '@',
            SqlDialect::DuckDb => '$',
        };
        let mut used = Vec::new();
        for name in &analysis.params {
            match params.get(name) {
                Some(value) => used.push((name.clone(), value.clone())),
                None if self.declared.contains(name) => ok = false,
                None => {
                    ok = false;
                    let (line, column) = find_token(&rendered, &format!("{sigil}{name}"));
                    let at = origin.map(self.doc, line, column);
                    self.push_at(
                        Diagnostic::error("undeclared_param", format!("`{sigil}{name}` is not a declared parameter"))
                            .pointer(pointer)
                            .hint(format!("declare it under `params:` with a type, e.g. `{name}: {{type: string}}`")),
                        at,
                    );
                }
            }
        }
        ok.then_some((rendered, used, analysis.tables))
    }

    fn unused_aliases(&mut self, aliases: &[CheckedAlias], tables: &[String]) {
        let used: BTreeSet<String> = tables.iter().map(|t| t.to_ascii_lowercase()).collect();
        for alias in aliases {
            let lower = alias.name.to_ascii_lowercase();
            if !used.contains(&lower) && !used.contains(&format!("main.{lower}")) {
                let pointer = format!("/register_bq/{}", escape_pointer(&alias.name));
                let at = self.doc.key_position(&pointer);
                self.push_at(
                    Diagnostic::warning(
                        "unused_alias",
                        format!("alias `{}` is never used by the final sql", alias.name),
                    )
                    .pointer(pointer)
                    .hint("remove it (it still costs a BigQuery query) or reference it in `sql`"),
                    at,
                );
            }
        }
    }

    fn outputs(
        &mut self,
        plan: &Plan,
        loaded: &LoadedPlan,
        protected: &[Protected],
    ) -> Vec<CheckedOutput> {
        let base = loaded.base_dir();
        let mut protected = protected.to_vec();
        protected.push(Protected::new(loaded.path(), "the plan itself"));
        let mut out: Vec<CheckedOutput> = Vec::new();
        for (i, spec) in plan.outputs.iter().enumerate() {
            let pointer = format!("/outputs/{i}/path");
            let at = self.doc.position(&pointer);
            let Some(relative) = contained_path(&spec.path) else {
                self.push_at(
                    Diagnostic::error("output_path_escapes", format!("output path `{}` leaves the plan's folder", spec.path))
                        .pointer(pointer)
                        .hint("use a path relative to the plan file, without `..` above it or a leading `/`"),
                    at,
                );
                continue;
            };
            let format = match spec.format {
                Some(f) => Some(file_format(f)),
                None => Format::from_path(&relative).filter(|f| *f != Format::Table),
            };
            let Some(format) = format else {
                self.push_at(
                    Diagnostic::error(
                        "unknown_output_format",
                        format!(
                            "cannot tell the format of `{}` from its extension",
                            spec.path
                        ),
                    )
                    .pointer(pointer)
                    .hint("use .csv, .json, .ndjson or .parquet, or add `format:`"),
                    at,
                );
                continue;
            };
            let path = base.join(&relative);
            if out.iter().any(|o| o.path == path) {
                self.push_at(
                    Diagnostic::error(
                        "duplicate_output",
                        format!("output `{}` is listed twice", spec.path),
                    )
                    .pointer(pointer)
                    .hint("each output path may appear once"),
                    at,
                );
                continue;
            }
            if let Some(input) = guard::overwrites(&path, &protected) {
                self.push_at(
                    Diagnostic::error(
                        "output_overwrites_input",
                        format!("output `{}` would overwrite {}", spec.path, input.what),
                    )
                    .pointer(pointer)
                    .hint("write outputs to their own file, e.g. under `out/`"),
                    at,
                );
                continue;
            }
            out.push(CheckedOutput {
                path,
                relative,
                format,
            });
        }
        out
    }
}

/// A checked SQL text: rendered SQL, the parameters it uses, the tables it reads.
type CheckedQuery = (String, Vec<(String, ParamValue)>, Vec<String>);

fn loosened(name: &str, asked: impl std::fmt::Display, max: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        "limit_loosened",
        format!("`{name}: {asked}` is above the instance limit of {max}"),
    )
    .hint(format!(
        "plans and aliases may only tighten limits; use at most {max}"
    ))
}

fn file_format(f: FileFormat) -> Format {
    match f {
        FileFormat::Csv => Format::Csv,
        FileFormat::Json => Format::Json,
        FileFormat::Ndjson => Format::Ndjson,
        FileFormat::Parquet => Format::Parquet,
    }
}

/// The path with `.` removed, if it is relative and never climbs above its start.
fn contained_path(path: &str) -> Option<PathBuf> {
    if path.contains('\0') || path.starts_with('\\') || path.contains(':') {
        return None;
    }
    let mut depth = 0usize;
    let mut out = PathBuf::new();
    for part in Path::new(path).components() {
        match part {
            Component::Normal(p) => {
                depth += 1;
                out.push(p);
            }
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1)?;
                out.pop();
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (depth > 0).then_some(out)
}

fn sql_diagnostic(problem: SqlProblem, dialect: SqlDialect) -> Diagnostic {
    let step = match dialect {
        SqlDialect::BigQuery => "BigQuery alias",
        SqlDialect::DuckDb => "final sql",
    };
    Diagnostic::error(problem.code, format!("{step}: {}", problem.message)).hint(problem.hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_must_stay_inside_the_plan_folder() {
        assert_eq!(
            contained_path("out/a.csv"),
            Some(PathBuf::from("out/a.csv"))
        );
        assert_eq!(
            contained_path("./out/../b.csv"),
            Some(PathBuf::from("b.csv"))
        );
        assert_eq!(contained_path("../a.csv"), None);
        assert_eq!(contained_path("out/../../a.csv"), None);
        assert_eq!(contained_path("/etc/passwd"), None);
        assert_eq!(contained_path("."), None);
        assert_eq!(contained_path("C:/x.csv"), None);
    }
}
