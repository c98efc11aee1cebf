//! `da plan run` end to end on the local backend: outputs, limits, typed errors, reports.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{TWO_ALIASES, Workspace, code, da_cmd, stderr, stdout};

fn with_outputs(plan: &str, outputs: &str) -> String {
    format!("{plan}outputs:\n{outputs}")
}

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_plan_joining_two_aliases_with_a_local_table_writes_every_format() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        &with_outputs(
            TWO_ALIASES,
            "  - path: out/r.csv\n  - path: out/r.json\n  - path: out/r.ndjson\n  - path: out/r.parquet\n",
        ),
    );
    let out = ws.run("plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).is_empty(),
        "stdout stays clean when outputs are files: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("backend: local"),
        "local data is labelled: {}",
        stderr(&out)
    );

    // 2026-03-01 .. 2026-04-30 is 61 days; every day has orders, traffic and payments.
    let csv = std::fs::read_to_string(ws.path("out/r.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("date,orders,order_amount,views,revenue"));
    assert_eq!(lines.count(), 61);
    assert!(csv.contains("2026-03-01,25,"), "{csv}");

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out/r.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 61);
    assert_eq!(json[0]["date"], "2026-03-01");
    assert_eq!(json[0]["orders"], 25);

    let ndjson = std::fs::read_to_string(ws.path("out/r.ndjson")).unwrap();
    assert_eq!(ndjson.lines().count(), 61);

    let file = std::fs::File::open(ws.path("out/r.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 61);

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["backend"], "local");
    assert_eq!(report["params"]["since"], "2026-03-01");
    assert_eq!(report["final"]["rows"], 61);
    assert_eq!(report["final"]["truncated"], false);
    assert_eq!(report["plan"]["sha256"], sha256_hex(&ws.path("plan.yaml")));
    let aliases = report["aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 2);
    assert!(
        aliases
            .iter()
            .all(|a| a["rows"].as_u64().unwrap() > 0 && a["columns"] == 2)
    );
    for o in report["outputs"].as_array().unwrap() {
        // Report paths are as the user would type them: relative to where `da` ran.
        let path = ws.path(o["path"].as_str().unwrap());
        assert_eq!(o["sha256"], sha256_hex(&path), "{}", path.display());
        assert_eq!(o["bytes"], std::fs::metadata(&path).unwrap().len());
        assert_eq!(o["rows"], 61);
    }
}

#[test]
fn a_plan_without_outputs_prints_a_table_on_stdout() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", "version: 1\nname: t\nsql: SELECT region, count(*) AS n FROM customers GROUP BY ALL ORDER BY region\n");
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("APAC") && table.contains("| 83 "), "{table}");
    assert!(table.contains("(3 rows)"), "{table}");
    assert!(stderr(&out).is_empty(), "--quiet: {}", stderr(&out));
}

#[test]
fn params_reach_bigquery_sql_and_the_final_step_typed() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        r"version: 1
name: p
params:
  since: {type: date}
  min_orders: {type: integer, default: 25}
register_bq:
  traffic: SELECT date, views FROM `analytics.web` WHERE date >= @since AND page = '/'
sql: |
  SELECT count(*) AS days, min(date) AS first_day
  FROM (SELECT date, count(*) AS n FROM orders JOIN traffic USING (date) GROUP BY date)
  WHERE n >= $min_orders
",
    );
    // 3000 orders over 120 days is 25 a day; April has 30 days.
    let out = ws.run("plan.yaml", &["--param", "since=2026-04-01", "--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("| 30   | 2026-04-01 |"),
        "{}",
        stdout(&out)
    );

    let out = ws.run(
        "plan.yaml",
        &[
            "--param",
            "since=2026-04-01",
            "--param",
            "min_orders=26",
            "--quiet",
        ],
    );
    assert!(stdout(&out).contains("| 0    |"), "{}", stdout(&out));

    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("missing_param"), "{}", stderr(&out));
    assert!(stderr(&out).contains("since"), "{}", stderr(&out));
}

#[test]
fn an_alias_over_its_row_limit_stops_the_run_before_anything_is_written() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        &with_outputs(
            &TWO_ALIASES.replace(
                "GROUP BY date\n  revenue",
                "GROUP BY date\n    max_rows: 10\n  revenue",
            ),
            "  - path: out/r.csv\n",
        ),
    );
    let out = ws.run("plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[row_limit]"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("`traffic`"), "{}", stderr(&out));
    assert!(!ws.path("out").exists(), "nothing is written");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"]["error_type"], "row_limit");
    assert_eq!(report["error"]["details"]["count"], 61);
    assert_eq!(report["error"]["details"]["max"], 10);
}

#[test]
fn every_failing_alias_is_reported_at_once() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        r"version: 1
name: two-bad
register_bq:
  a: {sql: SELECT * FROM `analytics.web`, max_rows: 5}
  b: {sql: SELECT * FROM `analytics.payments`, max_rows: 5}
sql: SELECT * FROM a JOIN b USING (date)
",
    );
    let out = ws.run("plan.yaml", &[]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("`a`") && err.contains("`b`"), "{err}");
}

#[test]
fn an_alias_over_its_memory_limit_stops_the_run() {
    let ws = Workspace::new();
    std::fs::write(ws.path("instance.yaml"), "remote_query: {max_memory_mb: 1, max_bq_registration_rows: 1000000}\nbigquery: {backend: local, local_warehouse: warehouse}\nanalytics: {database: analytics.duckdb}\n").unwrap();
    ws.plan("plan.yaml", "version: 1\nname: m\nregister_bq:\n  big: SELECT a.*, b.page AS p2 FROM `analytics.payments` a, `analytics.web` b\nsql: SELECT count(*) FROM big\n");
    let out = ws.run("plan.yaml", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[memory_limit]"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("`big`"), "{}", stderr(&out));
}

/// `max_result_rows` bounds what is shown; a file output is never cut by it.
#[test]
fn max_result_rows_cuts_the_table_shown_but_never_a_file() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", "version: 1\nname: t\nsql: SELECT * FROM orders ORDER BY order_id\nlimits: {max_result_rows: 5}\n");
    let out = ws.run("plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("(5 rows)"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("(truncated at 5 rows)"),
        "{}",
        stderr(&out)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["final"]["truncated"], true);

    ws.plan("plan.yaml", "version: 1\nname: t\nsql: SELECT * FROM orders ORDER BY order_id\noutputs: [{path: o.json}]\nlimits: {max_result_rows: 5}\n");
    let out = ws.run("plan.yaml", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("o.json")).unwrap()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3000);
}

#[test]
fn a_failing_final_step_is_a_query_error_and_keeps_the_previous_output() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("out")).unwrap();
    std::fs::write(ws.path("out/r.csv"), "previous,result\n").unwrap();
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nsql: SELECT * FROM no_such_table\noutputs: [{path: out/r.csv}]\n",
    );
    let out = ws.run("plan.yaml", &[]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("error[query_error]"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("no_such_table"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(ws.path("out/r.csv")).unwrap(),
        "previous,result\n"
    );
}

#[test]
fn a_missing_warehouse_table_is_a_bq_error_naming_it() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", "version: 1\nname: t\nregister_bq:\n  x: SELECT * FROM `acme-prod.sales.nope`\nsql: SELECT * FROM x\n");
    let out = ws.run("plan.yaml", &[]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("error[bq_error]") && err.contains("acme-prod.sales.nope"),
        "{err}"
    );
}

#[test]
fn a_slow_final_step_times_out() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nsql: SELECT count(*) FROM orders a, orders b, orders c WHERE a.amount + b.amount > c.amount\nlimits: {timeout_seconds: 1}\n",
    );
    let started = std::time::Instant::now();
    let out = ws.run("plan.yaml", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("error[timeout]"), "{}", stderr(&out));
    // Not a speed target: only proof that the query was interrupted rather than finished.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

/// Guards against one expression outliving the deadline: DuckDB looks for an interrupt
/// only between chunks, and works out constant expressions while it prepares (the bind
/// before anything is billed), so a single `levenshtein` of two long strings (minutes of
/// work in one call) ignores the interrupt in both places. The run still ends soon after
/// its time limit with `timeout`, and the previous output stays as it was.
#[test]
fn one_long_expression_cannot_outlive_the_deadline() {
    let ws = Workspace::new();
    let cases = [
        (
            "the bind of the final sql",
            "SELECT levenshtein(repeat('a', 400000), repeat('b', 400000)) AS d",
        ),
        (
            "the final query",
            "SELECT levenshtein(repeat('a', n), repeat('b', n)) AS d FROM (SELECT range::INT * 0 + 400000 AS n FROM range(1))",
        ),
    ];
    for (phase, sql) in cases {
        std::fs::write(ws.path("out.csv"), "previous\n").unwrap();
        ws.plan(
            "plan.yaml",
            &format!("version: 1\nname: t\nsql: \"{sql}\"\nlimits: {{timeout_seconds: 1}}\noutputs: [{{path: out.csv}}]\n"),
        );
        let started = std::time::Instant::now();
        let out = ws.run("plan.yaml", &[]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("error[timeout]") && err.contains(phase),
            "{err}"
        );
        // Not a speed target: the expression alone runs for minutes; ending within the
        // limit plus the grace (and a wide margin for a loaded machine) shows it was not
        // waited for.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{phase}"
        );
        assert_eq!(
            std::fs::read_to_string(ws.path("out.csv")).unwrap(),
            "previous\n"
        );
    }
}

#[test]
fn ctrl_c_cancels_the_run_with_exit_130_and_writes_nothing() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nsql: SELECT count(*) FROM orders a, orders b, orders c WHERE a.amount + b.amount > c.amount\noutputs: [{path: out.csv}]\n",
    );
    let child = da_cmd(ws.dir.path())
        .args(["plan", "run", "plan.yaml", "--config", "instance.yaml"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!ws.path("out.csv").exists());
}

#[test]
fn output_dir_moves_outputs_and_an_invalid_plan_runs_nothing() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nsql: SELECT 1 AS x\noutputs: [{path: sub/x.csv}]\n",
    );
    let out = ws.run("plan.yaml", &["--output-dir", "elsewhere", "--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(ws.path("elsewhere/sub/x.csv")).unwrap(),
        "x\n1\n"
    );

    ws.plan("bad.yaml", "version: 1\nname: t\nsql: DROP TABLE orders\n");
    let out = ws.run("bad.yaml", &[]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("sql_not_query"), "{}", stderr(&out));
}

/// An alias may end in a `--` comment or a `;`: every wrapper da builds around it (the
/// COUNT, the shape query) keeps it on lines of its own.
#[test]
fn an_alias_ending_in_a_comment_or_semicolon_still_runs() {
    let ws = Workspace::new();
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nregister_bq:\n  a: |\n    SELECT date, views FROM `analytics.web` -- every page\n  b: SELECT date FROM `analytics.web`;\nsql: SELECT count(*) AS n FROM a JOIN b USING (date)\n",
    );
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("(1 row)"), "{}", stdout(&out));
}

#[test]
fn the_local_backend_says_so_even_when_quiet() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", TWO_ALIASES);
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stderr(&out);
    let notice = text
        .lines()
        .filter(|l| l.starts_with("backend: local"))
        .count();
    assert_eq!(notice, 1, "{text}");
}

#[test]
fn a_project_with_the_local_backend_is_named_as_ignored() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("instance.yaml"),
        "bigquery:\n  backend: local\n  project: acme-prod\n  local_warehouse: warehouse\nanalytics:\n  database: analytics.duckdb\n",
    )
    .unwrap();
    ws.plan("plan.yaml", TWO_ALIASES);
    let out = ws.run("plan.yaml", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: bigquery.project `acme-prod` is ignored"),
        "{}",
        stderr(&out)
    );
}

/// A plan without aliases needs neither credentials nor a warehouse.
#[test]
fn a_plan_without_aliases_builds_no_backend() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("instance.yaml"),
        "bigquery:\n  backend: bigquery\nanalytics:\n  database: analytics.duckdb\n",
    )
    .unwrap();
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nsql: SELECT count(*) AS n FROM orders\n",
    );
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("(1 row)"), "{}", stdout(&out));
}
