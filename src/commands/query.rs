//! `da query`: the one-shot form. The flags (or a JSON object on stdin) become a
//! `QuerySpec` (`runner::query`): an in-memory plan with one alias per `--register-bq`, so
//! validation, limits, errors and exit codes are exactly those of `plan run`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Map, Value};

use crate::error::{Error, exit};
use crate::output::{self, Format};
use crate::report::summary;
use crate::runner::query::{QuerySpec, check};
use crate::runner::{self, RunSpec, run_checked};
use crate::settings::Settings;

/// Where the SQL of a query comes from, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct QueryInput {
    pub positional: Option<String>,
    pub sql: Option<String>,
    /// The text read from stdin, when `--stdin` was given.
    pub stdin: Option<String>,
    pub register_bq: Vec<String>,
    pub params: Vec<(String, String)>,
}

/// What `da query` needs, resolved from flags.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub input: QueryInput,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub limit: Option<u64>,
    pub quiet: bool,
    pub progress: bool,
}

/// Turn the three ways of giving SQL into one spec; each error is a usage error.
pub fn spec(input: &QueryInput) -> Result<QuerySpec, Error> {
    let given = [
        input.positional.is_some(),
        input.sql.is_some(),
        input.stdin.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(usage(
                "provide SQL as a positional argument, --sql option, or --stdin flag",
            ));
        }
        1 => {}
        _ => {
            return Err(usage(
                "only one of positional SQL, --sql, or --stdin may be used at a time",
            ));
        }
    }
    let mut register_bq = BTreeMap::new();
    for flag in &input.register_bq {
        let (alias, sql) = split_register(flag)?;
        if register_bq.insert(alias.clone(), sql).is_some() {
            return Err(usage(&format!("alias '{alias}' is given twice")));
        }
    }
    let (sql, params) = match &input.stdin {
        Some(text) => {
            let (sql, from_stdin, params) = parse_stdin(text)?;
            for (alias, sql) in from_stdin {
                if register_bq.insert(alias.clone(), sql).is_some() {
                    return Err(usage(&format!(
                        "alias '{alias}' is given twice (flag and stdin)"
                    )));
                }
            }
            (sql, params)
        }
        None => (
            input
                .positional
                .clone()
                .or_else(|| input.sql.clone())
                .unwrap_or_default(),
            Map::new(),
        ),
    };
    if sql.trim().is_empty() {
        return Err(usage("the SQL is empty"));
    }
    Ok(QuerySpec {
        sql,
        register_bq,
        params,
    })
}

/// `alias=BQ SQL`, split on the first `=`, both sides trimmed.
fn split_register(flag: &str) -> Result<(String, String), Error> {
    let Some((alias, sql)) = flag.split_once('=') else {
        return Err(usage(&format!(
            "--register-bq spec must be 'alias=BQ_SQL', got: '{flag}'"
        )));
    };
    let (alias, sql) = (alias.trim(), sql.trim());
    if alias.is_empty() {
        return Err(usage(&format!(
            "--register-bq spec has an empty alias: '{flag}'"
        )));
    }
    if sql.is_empty() {
        return Err(usage(&format!(
            "Empty SQL in --register-bq for alias '{alias}'"
        )));
    }
    Ok((alias.to_owned(), sql.to_owned()))
}

type StdinSpec = (String, BTreeMap<String, String>, Map<String, Value>);

fn parse_stdin(text: &str) -> Result<StdinSpec, Error> {
    if text.trim().is_empty() {
        return Err(usage(
            "empty stdin; provide a JSON object like {\"sql\": \"...\", \"register_bq\": {\"alias\": \"...\"}}",
        ));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| usage(&format!("invalid JSON on stdin: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(usage("stdin must be a JSON object with a \"sql\" field"));
    };
    for key in obj.keys() {
        if !["sql", "register_bq", "params"].contains(&key.as_str()) {
            return Err(usage(&format!(
                "unknown key \"{key}\" in stdin JSON (expected sql, register_bq, params)"
            )));
        }
    }
    let Some(Value::String(sql)) = obj.remove("sql") else {
        return Err(usage("stdin JSON must contain a \"sql\" string"));
    };
    let mut register_bq = BTreeMap::new();
    match obj.remove("register_bq") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (alias, sql) in map {
                let Value::String(sql) = sql else {
                    return Err(usage(&format!("register_bq.{alias} must be a SQL string")));
                };
                register_bq.insert(alias, sql);
            }
        }
        Some(_) => {
            return Err(usage(
                "\"register_bq\" must be an object of alias → BigQuery SQL",
            ));
        }
    }
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(usage("\"params\" must be an object of name → value")),
    };
    Ok((sql, register_bq, params))
}

fn usage(message: &str) -> Error {
    Error::Usage(message.to_owned())
}

/// Run a query; the result goes to `out` (or `--output`), notices to `err`.
pub fn run(
    req: &QueryRequest,
    settings: &Settings,
    cancel: Arc<AtomicBool>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Error> {
    if req.format == Format::Parquet && req.output.is_none() {
        return Err(usage("--format parquet needs --output PATH"));
    }
    let spec = spec(&req.input)?;
    let checked = check(&spec, req.limit, &req.input.params, settings)?;
    if !req.quiet {
        crate::report::warnings(checked.warnings(), err);
        for w in settings.warnings() {
            let _ = writeln!(err, "warning: {w}");
        }
    }
    let run = RunSpec {
        output_dir: None,
        write_outputs: false,
        progress: req.progress,
        cancel,
        stuck_grace: Some(runner::STUCK_GRACE),
    };
    let outcome = run_checked(&checked, settings, &run);
    if req.quiet && runner::backend_label(&checked, settings) == "local" {
        // Local data must never be mistaken for real data, even in a quiet run.
        let _ = writeln!(err, "{}", crate::report::LOCAL_NOTICE);
    }
    let outcome = outcome?;
    let result = &outcome.result;
    match &req.output {
        Some(path) => {
            output::write_file(path, req.format, &result.schema, &result.batches)?;
        }
        None => match output::write(req.format, &result.schema, &result.batches, &mut *out) {
            Err(e) if e.is_broken_pipe() => return Ok(exit::OK),
            other => {
                other?;
            }
        },
    }
    if !req.quiet {
        let _ = summary(&outcome, err);
        if let Some(path) = &req.output {
            let _ = writeln!(err, "wrote {} ({} rows)", path.display(), result.rows);
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        positional: Option<&str>,
        sql: Option<&str>,
        stdin: Option<&str>,
        register: &[&str],
    ) -> QueryInput {
        QueryInput {
            positional: positional.map(str::to_owned),
            sql: sql.map(str::to_owned),
            stdin: stdin.map(str::to_owned),
            register_bq: register.iter().map(|s| (*s).to_owned()).collect(),
            params: Vec::new(),
        }
    }

    fn usage_message(i: &QueryInput) -> String {
        match spec(i) {
            Err(Error::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn exactly_one_source_of_sql() {
        assert!(usage_message(&input(None, None, None, &[])).contains("provide SQL"));
        assert!(
            usage_message(&input(Some("SELECT 1"), Some("SELECT 2"), None, &[]))
                .contains("only one of")
        );
        assert!(
            usage_message(&input(None, Some("SELECT 2"), Some("{}"), &[])).contains("only one of")
        );
        assert_eq!(
            spec(&input(Some("SELECT 1"), None, None, &[])).unwrap().sql,
            "SELECT 1"
        );
    }

    #[test]
    fn register_bq_splits_on_the_first_equals_and_trims() {
        let s = spec(&input(
            None,
            Some("SELECT 1"),
            None,
            &[" traffic = SELECT a FROM t WHERE b = 1 ", "x=SELECT 2"],
        ))
        .unwrap();
        assert_eq!(s.register_bq["traffic"], "SELECT a FROM t WHERE b = 1");
        assert_eq!(s.register_bq.len(), 2);
        assert!(
            usage_message(&input(None, Some("SELECT 1"), None, &["no equals"]))
                .contains("must be 'alias=BQ_SQL'")
        );
        assert!(
            usage_message(&input(None, Some("SELECT 1"), None, &["=SELECT 1"]))
                .contains("empty alias")
        );
        assert!(
            usage_message(&input(None, Some("SELECT 1"), None, &["a="]))
                .contains("Empty SQL in --register-bq for alias 'a'")
        );
    }

    #[test]
    fn stdin_is_a_json_object_with_sql() {
        let s = spec(&input(None, None, Some(r#"{"sql": "SELECT * FROM t", "register_bq": {"t": "SELECT 1"}, "params": {"n": 3}}"#), &[])).unwrap();
        assert_eq!(s.register_bq["t"], "SELECT 1");
        assert_eq!(s.params["n"], 3);
        for (text, expect) in [
            ("", "empty stdin"),
            ("{not json", "invalid JSON"),
            ("[1, 2]", "JSON object"),
            (r#"{"register_bq": {}}"#, "\"sql\" string"),
            (
                r#"{"sql": "SELECT 1", "register_bq": ["x"]}"#,
                "must be an object",
            ),
            (r#"{"sql": "SELECT 1", "sqll": 1}"#, "unknown key"),
        ] {
            let m = usage_message(&input(None, None, Some(text), &[]));
            assert!(m.contains(expect), "{text}: {m}");
        }
    }
}
