//! Attaching what the final step may read: extract databases (read-only) and the remote
//! sources their `_remote_attach` tables name, behind allowlists.
//!
//! Every failure here is a warning: local data keeps working when a remote source cannot
//! be attached. Nothing is ever INSTALLed on the query path (no network); LOAD only.

use std::path::{Path, PathBuf};

use duckdb::Connection;

use crate::dialect::is_identifier;

/// Which `_remote_attach` rows may be acted on.
#[derive(Debug, Clone)]
pub struct RemoteAttachPolicy {
    pub extensions: Vec<String>,
    pub token_envs: Vec<String>,
}

/// Attach `<dir>/<name>/extract.duckdb` as `<name>` (READ_ONLY) for each valid name.
/// Returns the names attached, sorted.
pub(super) fn attach_extracts(
    conn: &Connection,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        warnings.push(format!(
            "extracts folder {} cannot be read; no extracts attached",
            dir.display()
        ));
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let file = e.path().join("extract.duckdb");
            file.is_file().then_some((name, file))
        })
        .collect();
    found.sort();
    let mut attached = Vec::new();
    for (name, file) in found {
        // The folder name becomes an SQL identifier: only the strict form is accepted.
        if !is_identifier(&name) {
            warnings.push(format!(
                "extract folder `{}` skipped: not a valid identifier",
                name.escape_debug()
            ));
            continue;
        }
        let sql = format!(
            "ATTACH {} AS \"{name}\" (READ_ONLY)",
            quote_literal(&file.display().to_string())
        );
        match conn.execute_batch(&sql) {
            Ok(()) => attached.push(name),
            Err(e) => warnings.push(format!("extract `{name}` not attached: {e}")),
        }
    }
    attached
}

/// One row of an extract's `_remote_attach` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RemoteRow {
    pub alias: String,
    pub extension: String,
    pub url: String,
    pub token_env: String,
}

/// Re-attach the remote sources named by each attached extract.
///
/// Rows are deduplicated first (the same `(alias, extension, url, token_env)` written by
/// several extracts is one source), every allow-listed extension is LOADed once, then each
/// source is ATTACHed. The caller turns extension loading off afterwards.
pub(super) fn reattach_remote(
    conn: &Connection,
    extracts: &[String],
    policy: &RemoteAttachPolicy,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) {
    let mut rows: Vec<(String, RemoteRow)> = Vec::new();
    for extract in extracts {
        for row in remote_rows(conn, extract) {
            if !rows.iter().any(|(_, seen)| seen == &row) {
                rows.push((extract.clone(), row));
            }
        }
    }
    let mut plans: Vec<(RemoteRow, Attach)> = Vec::new();
    for (extract, row) in rows {
        match plan_attach(&row, policy, env) {
            Ok(plan) => plans.push((row, plan)),
            Err(why) => warnings.push(format!(
                "remote source `{}` in extract `{extract}` refused: {why}",
                row.alias.escape_debug()
            )),
        }
    }
    // LOAD before any ATTACH, each extension once: a failed LOAD is one cause, reported
    // with every source it stops.
    let mut loads: Vec<(String, Result<(), String>)> = Vec::new();
    for (_, plan) in &plans {
        if !loads.iter().any(|(ext, _)| ext == &plan.extension) {
            let result = conn.execute_batch(&plan.load).map_err(|e| e.to_string());
            loads.push((plan.extension.clone(), result));
        }
    }
    // The first row for an alias wins, attached or not: a second, different definition of
    // the same name is a conflict to report, not a fallback to try.
    let mut claimed: Vec<&str> = Vec::new();
    for (row, plan) in &plans {
        let not_attached = |why: String| {
            format!(
                "remote source `{}` ({}) not attached: {why}",
                row.alias, row.extension
            )
        };
        if claimed.contains(&row.alias.as_str()) {
            warnings.push(not_attached(format!(
                "another `_remote_attach` row already defines `{}`",
                row.alias
            )));
            continue;
        }
        claimed.push(&row.alias);
        if let Some((_, Err(e))) = loads.iter().find(|(ext, _)| ext == &plan.extension) {
            warnings.push(not_attached(format!("{} failed: {e}", plan.load)));
            continue;
        }
        if let Err(e) = conn.execute_batch(&plan.attach) {
            warnings.push(not_attached(format!("ATTACH failed: {e}")));
        }
    }
}

fn remote_rows(conn: &Connection, extract: &str) -> Vec<RemoteRow> {
    let exists = conn
        .query_row(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = '_remote_attach'",
            [extract],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0);
    if exists == 0 {
        return Vec::new();
    }
    let sql = format!(
        "SELECT alias, extension, url, coalesce(token_env, '') FROM \"{extract}\"._remote_attach"
    );
    let Ok(mut stmt) = conn.prepare(&sql) else {
        return Vec::new();
    };
    let rows = stmt.query_map([], |r| {
        Ok(RemoteRow {
            alias: r.get(0)?,
            extension: r.get(1)?,
            url: r.get(2)?,
            token_env: r.get(3)?,
        })
    });
    rows.map(|rows| rows.flatten().collect())
        .unwrap_or_default()
}

/// The statements that attach one `_remote_attach` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attach {
    pub extension: String,
    /// `LOAD <extension>`: never INSTALL, the query path has no network.
    pub load: String,
    pub attach: String,
}

/// The statements that attach one row, or why it is refused. Pure, so every trust
/// decision is unit-tested without DuckDB.
pub(super) fn plan_attach(
    row: &RemoteRow,
    policy: &RemoteAttachPolicy,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Attach, String> {
    if !is_identifier(&row.alias) || !is_identifier(&row.extension) {
        return Err("alias and extension must be identifiers".to_owned());
    }
    if !policy.extensions.iter().any(|e| e == &row.extension) {
        return Err(format!(
            "extension `{}` is not in the allowlist ({}); set analytics.remote_attach_extensions",
            row.extension,
            policy.extensions.join(", ")
        ));
    }
    let token = if row.token_env.is_empty() {
        None
    } else {
        if !is_token_env(&row.token_env) || !policy.token_envs.iter().any(|t| t == &row.token_env) {
            return Err(format!(
                "token_env `{}` is not in the allowlist; set analytics.remote_attach_token_envs",
                row.token_env.escape_debug()
            ));
        }
        Some(
            env(&row.token_env)
                .ok_or_else(|| format!("token_env `{}` is not set", row.token_env))?,
        )
    };
    let mut options = format!("TYPE {}, READ_ONLY", row.extension);
    if let Some(token) = token {
        options.push_str(&format!(", TOKEN {}", quote_literal(&token)));
    }
    Ok(Attach {
        extension: row.extension.clone(),
        load: format!("LOAD {}", row.extension),
        attach: format!(
            "ATTACH {} AS \"{}\" ({options})",
            quote_literal(&row.url),
            row.alias
        ),
    })
}

/// `^[A-Z][A-Z0-9_]{0,63}$`
fn is_token_env(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A single-quoted SQL string literal with quotes doubled.
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RemoteAttachPolicy {
        RemoteAttachPolicy {
            extensions: vec!["bigquery".into(), "keboola".into()],
            token_envs: vec!["KBC_TOKEN".into()],
        }
    }

    fn row(ext: &str, url: &str, token_env: &str) -> RemoteRow {
        RemoteRow {
            alias: "bq".into(),
            extension: ext.into(),
            url: url.into(),
            token_env: token_env.into(),
        }
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "KBC_TOKEN" => Some("abc'def".into()),
            "SESSION_SECRET" => Some("s3cr3t".into()),
            _ => None,
        }
    }

    #[test]
    fn extensions_outside_the_allowlist_are_refused_before_any_load() {
        let err = plan_attach(&row("httpfs", "x", ""), &policy(), &env).unwrap_err();
        assert!(err.contains("not in the allowlist"), "{err}");
    }

    #[test]
    fn secrets_cannot_be_sent_through_token_env() {
        for name in ["SESSION_SECRET", "JWT_SECRET_KEY", "kbc_token", "KBC TOKEN"] {
            let err = plan_attach(&row("keboola", "https://x", name), &policy(), &env).unwrap_err();
            assert!(err.contains("token_env"), "{name}: {err}");
        }
    }

    #[test]
    fn urls_and_tokens_are_quote_escaped() {
        let sql = plan_attach(
            &row(
                "keboola",
                "https://example.com'); DROP DATABASE x; --",
                "KBC_TOKEN",
            ),
            &policy(),
            &env,
        )
        .unwrap();
        assert_eq!(sql.load, "LOAD keboola");
        assert!(
            sql.attach
                .starts_with("ATTACH 'https://example.com''); DROP DATABASE x; --' AS \"bq\""),
            "{}",
            sql.attach
        );
        assert!(sql.attach.contains("TOKEN 'abc''def'"), "{}", sql.attach);
        assert!(sql.attach.contains("READ_ONLY"));
    }

    #[test]
    fn an_empty_token_env_attaches_without_a_token() {
        let sql = plan_attach(&row("bigquery", "project=acme", ""), &policy(), &env).unwrap();
        assert_eq!(
            sql.attach,
            "ATTACH 'project=acme' AS \"bq\" (TYPE bigquery, READ_ONLY)"
        );
    }
}
