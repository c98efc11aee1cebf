//! `da query`: the one-shot CLI, a thin face over the plan runner.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::common::Workspace;
use crate::common::{code, da, da_cmd, stderr, stdout};

fn da_stdin(dir: &std::path::Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = da_cmd(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_local_query_prints_json() {
    let out = da(&["query", "--sql", "SELECT 1 AS x", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "[{\"x\":1}]\n");
    assert_eq!(
        stdout(&da(&["query", "SELECT 1 AS x", "--json"])),
        "[{\"x\":1}]\n",
        "--json is --format json"
    );
}

#[test]
fn the_reference_cli_errors_are_usage_errors() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["query"],
            "provide SQL as a positional argument, --sql option, or --stdin flag",
        ),
        (
            &["query", "SELECT 1", "--sql", "SELECT 2"],
            "only one of positional SQL, --sql, or --stdin",
        ),
        (
            &["query", "--sql", "SELECT 1", "--register-bq", "traffic"],
            "--register-bq spec must be 'alias=BQ_SQL', got: 'traffic'",
        ),
        (
            &["query", "--sql", "SELECT 1", "--register-bq", "=SELECT 1"],
            "empty alias",
        ),
        (
            &["query", "--sql", "SELECT 1", "--register-bq", "t="],
            "Empty SQL in --register-bq for alias 't'",
        ),
        (
            &["query", "--sql", "SELECT 1", "--format", "parquet"],
            "--format parquet needs --output",
        ),
    ];
    for (args, message) in cases {
        let out = da(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
    assert_eq!(
        code(&da(&["query", "--sql", "SELECT 1", "--format", "xml"])),
        2
    );
}

#[test]
fn rejected_sql_is_a_query_error_and_json_errors_go_to_stderr() {
    let out = da(&["query", "--sql", "DROP TABLE orders", "--format", "json"]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).is_empty());
    let err: Value = serde_json::from_str(stderr(&out).trim()).expect("a JSON error object");
    assert_eq!(err["error_type"], "query_error");
    assert_eq!(err["details"]["diagnostics"][0]["code"], "sql_not_query");

    let out = da(&[
        "query",
        "--sql",
        "SELECT 1",
        "--register-bq",
        "main=SELECT 1",
    ]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("reserved alias"), "{}", stderr(&out));
}

#[test]
fn register_bq_aliases_join_local_tables_in_every_format() {
    let ws = Workspace::new();
    let dir = ws.dir.path();
    let base = [
        "query",
        "--config",
        "instance.yaml",
        "--sql",
        "SELECT t.page, count(*) AS days, sum(o.amount) AS amount FROM orders o JOIN traffic t USING (date) GROUP BY ALL ORDER BY page",
        "--register-bq",
        "traffic=SELECT date, page FROM `acme-prod.analytics.web` WHERE views > 300",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        crate::common::da_in(dir, &args)
    };
    let table = run(&[]);
    assert_eq!(code(&table), 0, "{}", stderr(&table));
    assert!(
        stdout(&table).contains("/pricing") && stdout(&table).contains("(3 rows)"),
        "{}",
        stdout(&table)
    );
    assert!(
        stderr(&table).contains("Registered BQ alias 'traffic'"),
        "{}",
        stderr(&table)
    );

    let csv = stdout(&run(&["--format", "csv"]));
    assert!(csv.starts_with("page,days,amount\n/,"), "{csv}");
    let json: Value = serde_json::from_str(&stdout(&run(&["--format", "json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    assert_eq!(stdout(&run(&["--format", "ndjson"])).lines().count(), 3);

    let out = run(&["--format", "parquet", "--output", "r.parquet", "--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    // --quiet keeps one line: local data is never mistaken for real data.
    assert_eq!(
        stderr(&out).trim(),
        da::report::LOCAL_NOTICE,
        "{}",
        stderr(&out)
    );
    let file = std::fs::File::open(dir.join("r.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 3);

    let limited = run(&["--limit", "1"]);
    assert!(stdout(&limited).contains("(1 row)"), "{}", stdout(&limited));
    assert!(
        stderr(&limited).contains("(truncated at 1 rows)"),
        "{}",
        stderr(&limited)
    );
}

#[test]
fn stdin_mode_takes_sql_aliases_and_params() {
    let ws = Workspace::new();
    let input = r#"{"sql": "SELECT count(*) AS n FROM w", "register_bq": {"w": "SELECT * FROM `analytics.web` WHERE page = @page"}, "params": {"page": "/docs"}}"#;
    let out = da_stdin(
        ws.dir.path(),
        &[
            "query",
            "--stdin",
            "--config",
            "instance.yaml",
            "--format",
            "csv",
        ],
        input,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "n\n120\n");

    for bad in ["", "{nope", "[1]", r#"{"register_bq": {}}"#] {
        let out = da_stdin(ws.dir.path(), &["query", "--stdin"], bad);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
    }
}

/// `da query --format json` errors carry the warnings gathered before the failure.
#[test]
fn json_errors_carry_the_warnings() {
    let ws = Workspace::new();
    let bad = ws.path("extracts/not-an-identifier");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("extract.duckdb"), b"").unwrap();
    let out = crate::common::da_in(
        ws.dir.path(),
        &[
            "query",
            "--config",
            "instance.yaml",
            "--format",
            "json",
            "SELECT no_such_column FROM orders",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let error: Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(error["error_type"], "query_error");
    assert!(
        error["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("not-an-identifier")),
        "{error}"
    );
}
