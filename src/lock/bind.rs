//! `da plan check`'s offline bind: the final step, bound by DuckDB against empty tables of
//! the locked alias schemas and the analytics catalog (the database itself, read-only and
//! sealed, or a schema snapshot). No backend is asked anything and nothing is billed.
//!
//! DuckDB's binder message becomes a diagnostic at its line in the plan file, with a code
//! (`unknown_column`, `unknown_table`, `unknown_function`, `type_mismatch`, `bind_error`),
//! a hint, and the relations the step could read with their columns (`available`).

use std::collections::BTreeSet;
use std::path::Path;

use super::{Lock, sql_sha256};
use crate::diagnostic::{Available, Diagnostic};
use crate::document::{Document, escape_pointer};
use crate::engine::snapshot::{CatalogTable, Snapshot};
use crate::engine::{Engine, EngineOptions, RemoteAttachPolicy, SealedEngine};
use crate::error::RunError;
use crate::plan;
use crate::validate::{CheckedPlan, Context, sql_position, validate};

/// What the final step's local tables are bound against.
#[derive(Debug, Clone)]
pub enum CatalogSource {
    /// The analytics database (and extracts) as configured, opened read-only and sealed.
    Database(EngineOptions),
    /// A `da schema snapshot` file, for machines without the database.
    Snapshot(Snapshot),
}

impl CatalogSource {
    /// The configured database with remote re-attach turned off: an offline check
    /// contacts nothing.
    pub fn database(mut opts: EngineOptions) -> Self {
        opts.remote_attach = RemoteAttachPolicy {
            extensions: Vec::new(),
            token_envs: Vec::new(),
        };
        Self::Database(opts)
    }

    /// The catalog as a snapshot (what `da schema snapshot` prints).
    pub fn snapshot(&self) -> Result<Snapshot, RunError> {
        Ok(Snapshot::from(&self.open()?.catalog()?))
    }

    fn open(&self) -> Result<SealedEngine, RunError> {
        match self {
            Self::Database(opts) => Engine::open(opts, &|_| None)?.seal(),
            Self::Snapshot(snapshot) => {
                let opts = EngineOptions {
                    database: None,
                    extracts: None,
                    memory_limit: "256MB".to_owned(),
                    threads: 1,
                    remote_attach: RemoteAttachPolicy {
                        extensions: Vec::new(),
                        token_envs: Vec::new(),
                    },
                };
                let engine = Engine::open(&opts, &|_| None)?;
                engine.attach_snapshot_databases(snapshot)?;
                let sealed = engine.seal()?;
                sealed.create_snapshot_tables(snapshot)?;
                Ok(sealed)
            }
        }
    }
}

const RELOCK: &str =
    "run `da plan lock` on the plan (dry runs only, nothing billed) and commit the lock file";

/// The binding diagnostics of the plan at `path`, when it has a lock file (none without).
/// The plan is rendered with its default parameters, as `da plan lock` rendered it.
/// Without a catalog (none configured) only the lock's freshness is checked.
pub fn check_path(
    path: &Path,
    ctx: &Context<'_>,
    catalog: Option<&CatalogSource>,
) -> Vec<Diagnostic> {
    let lock_path = Lock::path_for(path);
    let lock = match Lock::read(&lock_path) {
        Ok(Some(lock)) => lock,
        Ok(None) => return Vec::new(),
        Err(why) => {
            return vec![
                Diagnostic::error("invalid_lock", why)
                    .hint(format!("delete {} and {RELOCK}", lock_path.display())),
            ];
        }
    };
    let Ok(loaded) = plan::load(path) else {
        return Vec::new();
    };
    let defaults = Context {
        given_params: &[],
        require_params: false,
        ..ctx.clone()
    };
    match validate(&loaded, &defaults) {
        Ok(checked) => check(loaded.doc(), &checked, &lock, catalog),
        Err(_) => Vec::new(),
    }
}

/// A stale lock is reported alone (its shapes cannot be trusted); else the bind's finding.
pub fn check(
    doc: &Document,
    checked: &CheckedPlan,
    lock: &Lock,
    catalog: Option<&CatalogSource>,
) -> Vec<Diagnostic> {
    let stale = stale(doc, checked, lock);
    if !stale.is_empty() {
        return stale;
    }
    catalog
        .and_then(|catalog| bind(doc, checked, lock, catalog))
        .into_iter()
        .collect()
}

fn stale(doc: &Document, checked: &CheckedPlan, lock: &Lock) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for alias in checked.aliases() {
        let why = match lock.aliases.get(alias.name()) {
            None => "is not in the lock file",
            Some(l) if l.sql_sha256 != sql_sha256(alias.sql()) => {
                "changed since the lock file was written (its SQL hash differs)"
            }
            Some(_) => continue,
        };
        let pointer = format!("/register_bq/{}", escape_pointer(alias.name()));
        let at = doc.key_position(&pointer);
        out.push(
            Diagnostic::error("stale_lock", format!("alias `{}` {why}", alias.name()))
                .pointer(pointer)
                .at(at.line, at.column)
                .hint(RELOCK),
        );
    }
    for name in lock.aliases.keys() {
        if !checked.aliases().iter().any(|a| a.name() == name) {
            let at = doc.key_position("/register_bq");
            out.push(
                Diagnostic::error(
                    "stale_lock",
                    format!("the lock file has alias `{name}`, which the plan no longer declares"),
                )
                .pointer("/register_bq")
                .at(at.line, at.column)
                .hint(RELOCK),
            );
        }
    }
    out
}

fn bind(
    doc: &Document,
    checked: &CheckedPlan,
    lock: &Lock,
    catalog: &CatalogSource,
) -> Option<Diagnostic> {
    let engine = match catalog.open() {
        Ok(engine) => engine,
        Err(e) => {
            return Some(Diagnostic::error("catalog_unavailable", format!("the final step cannot be bound: {}", e.message))
                .hint("pass --db FILE (the analytics database) or --schema-snapshot FILE (written by `da schema snapshot`)"));
        }
    };
    let mut aliases = Vec::new();
    for (name, locked) in &lock.aliases {
        let made = locked.arrow_schema().and_then(|schema| {
            engine
                .create_alias_table(name, &schema)
                .map_err(|e| e.message)
        });
        if let Err(why) = made {
            return Some(
                Diagnostic::error(
                    "invalid_lock",
                    format!("alias `{name}` in the lock file: {why}"),
                )
                .hint(RELOCK),
            );
        }
        aliases.push(Available {
            relation: name.clone(),
            kind: "alias".to_owned(),
            columns: locked.columns.iter().map(|c| c.name.clone()).collect(),
        });
    }
    let (engine, bound) = match bind_within_limit(engine, checked) {
        Ok(done) => done,
        Err(diagnostic) => {
            let at = doc.key_position("/sql");
            return Some(diagnostic.at(at.line, at.column));
        }
    };
    let err = bound.err()?;
    let tables = engine
        .catalog()
        .map(|c| Snapshot::from(&c).tables)
        .unwrap_or_default();
    Some(diagnose(
        doc,
        checked.final_step().sql(),
        &err,
        aliases,
        &tables,
    ))
}

/// The bind within the plan's `limits.timeout_seconds`. DuckDB works out constant
/// expressions while it prepares, and cannot be interrupted inside one, so the bind runs
/// on a thread of its own; one that outlasts the limit is left to the process's exit.
fn bind_within_limit(
    engine: SealedEngine,
    checked: &CheckedPlan,
) -> Result<(SealedEngine, Result<(), RunError>), Box<Diagnostic>> {
    let limit = checked.limits().timeout_seconds;
    let step = checked.final_step().clone();
    let working = engine
        .work_on_own_thread("da-bind", move |engine| engine.bind(&step))
        .map_err(|e| {
            Box::new(Diagnostic::error(
                "bind_error",
                format!("cannot start a thread for the bind: {e}"),
            ))
        })?;
    let started = std::time::Instant::now();
    let limit_elapsed = || started.elapsed() >= std::time::Duration::from_secs(limit);
    working.wait(limit_elapsed).ok_or_else(|| {
        Box::new(
            Diagnostic::error(
                "bind_timeout",
                format!("binding the final step took longer than the plan's limits.timeout_seconds ({limit} s)"),
            )
            .pointer("/sql")
            .hint("a constant expression of the final sql is too costly to work out (DuckDB computes constants while it prepares): make it cheaper, or raise limits.timeout_seconds"),
        )
    })
}

fn diagnose(
    doc: &Document,
    sql: &str,
    err: &RunError,
    aliases: Vec<Available>,
    tables: &[CatalogTable],
) -> Diagnostic {
    let original = err
        .details
        .get("original_error")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(&err.message);
    let code = classify(original);
    let first = original.lines().next().unwrap_or_default().trim();
    let (line, column) = position(original, sql);
    let at = sql_position(doc, "/sql", line, column);
    let words = words(sql);
    let mut available = aliases;
    available.extend(
        tables
            .iter()
            .filter(|t| code == "unknown_table" || words.contains(&t.name.to_lowercase()))
            .map(|t| Available {
                relation: match &t.database {
                    Some(db) => format!("{db}.{}", t.name),
                    None if t.schema == "main" => t.name.clone(),
                    None => format!("{}.{}", t.schema, t.name),
                },
                kind: t.kind.clone(),
                columns: t.columns.iter().map(|c| c.name.clone()).collect(),
            }),
    );
    let hint = overload_hint(original).unwrap_or_else(|| hint(code, first, &available));
    Diagnostic::error(code, format!("the final step does not bind: {first}"))
        .pointer("/sql")
        .at(at.line, at.column)
        .hint(hint)
        .available(available)
}

/// The code of a DuckDB binder or catalog message.
fn classify(message: &str) -> &'static str {
    let first = message.lines().next().unwrap_or_default();
    let has = |s: &str| first.contains(s);
    if has("Function with name") || has("Macro with name") || has("Extension Autoloading") {
        "unknown_function"
    } else if has("Referenced column")
        || has("does not have a column named")
        || has("Column with name")
    {
        "unknown_column"
    } else if has("Table with name") || has("Referenced table") || has("View with name") {
        "unknown_table"
    } else if has("No function matches")
        || has("Cannot compare")
        || has("Cannot mix")
        || has("Conversion Error")
        || has("Could not convert")
        || has("Cannot cast")
        || has("implicit cast")
    {
        "type_mismatch"
    } else {
        "bind_error"
    }
}

/// DuckDB's `LINE n:` and the caret under it, as a line and column of the SQL text. The
/// shown line may be cut (`...`), so the column is found by the text at the caret.
fn position(message: &str, sql: &str) -> (usize, usize) {
    let mut lines = message.lines();
    while let Some(l) = lines.next() {
        let Some(rest) = l.strip_prefix("LINE ") else {
            continue;
        };
        let Some((n, shown)) = rest.split_once(':') else {
            continue;
        };
        let Ok(n) = n.trim().parse::<usize>() else {
            continue;
        };
        let prefix = l.len() - shown.len();
        let Some(caret) = lines.next().and_then(|c| c.find('^')) else {
            return (n, 1);
        };
        let at = caret.saturating_sub(prefix);
        let tail: String = shown
            .get(at..)
            .unwrap_or_default()
            .trim_end_matches("...")
            .chars()
            .take(24)
            .collect();
        let real = sql.lines().nth(n - 1).unwrap_or_default();
        let column = match real.find(tail.as_str()).filter(|_| !tail.is_empty()) {
            Some(byte) => real[..byte].chars().count() + 1,
            None => at.max(1),
        };
        return (n, column);
    }
    (1, 1)
}

/// Lower-case words of the SQL, to tell which catalog tables it names.
fn words(sql: &str) -> BTreeSet<String> {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The names DuckDB quotes (the missing one among them), else the one after `with name`.
fn named(first: &str) -> Vec<String> {
    let quoted: Vec<String> = first
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    if !quoted.is_empty() {
        return quoted;
    }
    first
        .split("with name ")
        .nth(1)
        .and_then(|after| after.split(|c: char| c.is_whitespace() || c == '!').next())
        .map(str::to_owned)
        .into_iter()
        .collect()
}

/// For a call no overload takes (`strftime(BIGINT, INTEGER_LITERAL)`): which function,
/// and the signatures DuckDB offers (its "Candidate functions"), rather than advice about
/// the tables.
fn overload_hint(message: &str) -> Option<String> {
    let first = message.lines().next()?;
    if !first.contains("No function matches") {
        return None;
    }
    let call = first.split('\'').nth(1)?;
    let name = call.split('(').next()?;
    // Operators have dozens of signatures: the first few show the pattern.
    const SHOWN: usize = 10;
    let candidates: Vec<&str> = message
        .lines()
        .skip_while(|l| !l.contains("Candidate functions:"))
        .skip(1)
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("LINE "))
        .collect();
    let mut hint = format!(
        "no `{name}` takes these arguments ({call}): check their order and types, or cast one explicitly"
    );
    if !candidates.is_empty() {
        let more = if candidates.len() > SHOWN {
            "; …"
        } else {
            ""
        };
        let shown = &candidates[..candidates.len().min(SHOWN)];
        hint.push_str(&format!("; `{name}` takes: {}{more}", shown.join("; ")));
    }
    Some(hint)
}

fn hint(code: &str, first: &str, available: &[Available]) -> String {
    let listed = available
        .iter()
        .map(|a| format!("{}({})", a.relation, a.columns.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    let candidates: Vec<String> = match code {
        "unknown_table" => available.iter().map(|a| a.relation.clone()).collect(),
        _ => available.iter().flat_map(|a| a.columns.clone()).collect(),
    };
    let close = named(first).into_iter().find_map(|name| {
        crate::schema::closest(&name, &candidates)
            .filter(|c| *c != name)
            .map(str::to_owned)
    });
    let known = if listed.is_empty() {
        "nothing is available to the final step".to_owned()
    } else {
        format!("available: {listed}")
    };
    match (code, close) {
        (_, Some(c)) => format!("did you mean `{c}`? {known}"),
        ("unknown_function", None) => {
            "the final step is DuckDB SQL: use DuckDB's function names".to_owned()
        }
        ("type_mismatch", None) => format!("cast one side explicitly; {known}"),
        _ => known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binder_messages_get_their_codes() {
        let cases = [
            (
                "Binder Error: Referenced column \"viewz\" not found in FROM clause!",
                "unknown_column",
            ),
            (
                "Catalog Error: Table with name ordrs does not exist!",
                "unknown_table",
            ),
            (
                "Catalog Error: Scalar Function with name sume does not exist!",
                "unknown_function",
            ),
            (
                "Binder Error: No function matches the given name and argument types '+(DATE, VARCHAR)'",
                "type_mismatch",
            ),
            ("Binder Error: something new", "bind_error"),
        ];
        for (message, code) in cases {
            assert_eq!(classify(message), code, "{message}");
        }
    }

    #[test]
    fn the_caret_column_survives_a_cut_line() {
        let sql = "SELECT 1\nFROM t WHERE a = 1 AND viewz > 2";
        let shown = "LINE 2: ...WHERE a = 1 AND viewz > 2";
        let caret = " ".repeat(shown.find("viewz").unwrap()) + "^";
        let message = format!("Binder Error: x\n\n{shown}\n{caret}");
        assert_eq!(position(&message, sql), (2, 24));
    }
}
