//! What a run leaves behind: output files that hold the whole result or nothing new, and
//! a report that keeps the warnings whether the run succeeded or failed.

use serde_json::Value;

use crate::common::{TWO_ALIASES, Workspace, code, stderr};

/// The two-alias plan (61 result rows) with a CSV and a Parquet output and the given limits.
fn plan_with(limits: &str) -> String {
    format!(
        "{TWO_ALIASES}outputs:\n  - path: out/r.csv\n  - path: out/r.parquet\nlimits: {limits}\n"
    )
}

fn csv_rows(ws: &Workspace) -> usize {
    std::fs::read_to_string(ws.path("out/r.csv"))
        .unwrap()
        .lines()
        .count()
        - 1
}

#[test]
fn output_files_hold_the_whole_result_beyond_max_result_rows() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", &plan_with("{max_result_rows: 5}"));
    let out = ws.run("plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // 2026-03-01 .. 2026-04-30: 61 days, every one in the files.
    assert_eq!(csv_rows(&ws), 61);
    assert!(
        !stderr(&out).contains("truncated"),
        "nothing written was cut: {}",
        stderr(&out)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    for output in report["outputs"].as_array().unwrap() {
        assert_eq!(output["rows"], 61, "{output}");
    }
}

#[test]
fn more_rows_than_max_output_rows_fail_the_run_and_keep_the_previous_files() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", &plan_with("{}"));
    assert_eq!(code(&ws.run("plan.yaml", &["--quiet"])), 0);
    let before = std::fs::read(ws.path("out/r.parquet")).unwrap();
    let csv_before = std::fs::read(ws.path("out/r.csv")).unwrap();

    ws.plan("plan.yaml", &plan_with("{max_output_rows: 60}"));
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[row_limit]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(ws.path("out/r.parquet")).unwrap(), before);
    assert_eq!(std::fs::read(ws.path("out/r.csv")).unwrap(), csv_before);
    let strays: Vec<_> = std::fs::read_dir(ws.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(strays.is_empty(), "temporary files left: {strays:?}");

    ws.plan("plan.yaml", &plan_with("{max_output_rows: 61}"));
    assert_eq!(code(&ws.run("plan.yaml", &["--quiet"])), 0);
}

#[test]
fn a_plan_may_not_loosen_the_instance_output_limit() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("instance.yaml"),
        "remote_query: {max_output_rows: 10}\nbigquery:\n  backend: local\n  local_warehouse: warehouse\nanalytics:\n  database: analytics.duckdb\n",
    )
    .unwrap();
    ws.plan("plan.yaml", &plan_with("{max_output_rows: 100}"));
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("limit_loosened"), "{}", stderr(&out));
}

/// Extract warnings (here: a folder whose name is not an identifier) must reach the
/// report and stderr even when the run fails afterwards.
#[test]
fn warnings_reach_the_report_when_the_run_fails() {
    let ws = Workspace::new();
    let bad = ws.path("extracts/not-an-identifier");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("extract.duckdb"), b"").unwrap();
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nsql: SELECT no_such_column FROM orders\n",
    );
    let out = ws.run("plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[query_error]"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("warning: extract folder `not-an-identifier` skipped"),
        "{}",
        stderr(&out)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], false);
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("not-an-identifier")),
        "{report}"
    );
}

#[test]
fn a_plan_may_not_loosen_the_instance_budget() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("instance.yaml"),
        "budget: {max_usd: 1.5}\nbigquery:\n  backend: local\n  local_warehouse: warehouse\nanalytics:\n  database: analytics.duckdb\n",
    )
    .unwrap();
    ws.plan(
        "plan.yaml",
        &format!("{TWO_ALIASES}budget: {{max_usd: 20}}\n"),
    );
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("limit_loosened"), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_usd"), "{}", stderr(&out));
}
