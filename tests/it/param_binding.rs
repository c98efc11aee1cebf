//! Parameters are values, never SQL: a `--param` value that closes a string literal in
//! one dialect's quoting reaches the query as data on every backend.

use std::process::Output;

use crate::bq_server::{BqServer, Faults};
use crate::common::{Workspace, code, da_cmd, stderr};

/// Values that ended the string literal when the local backend printed parameters into
/// its SQL: a backslash before a quote, a quote and a second statement, both.
const HOSTILE: &[&str] = &[
    r"a\' OR 1=1 --",
    "'; SELECT 42; --",
    r"x\'); SELECT secret FROM t; --",
    "it's",
    r"\\",
];

const ECHO: &str = r"version: 1
name: echo
params:
  v: {type: string}
register_bq:
  echo: SELECT @v AS v, CONCAT(@v, '|') AS w FROM `analytics.web` LIMIT 1
sql: SELECT v, w FROM echo
outputs:
  - path: out/echo.json
";

fn echoed(ws: &Workspace) -> (String, String) {
    let text = std::fs::read_to_string(ws.path("out/echo.json")).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.len(), 1, "{text}");
    let field = |k: &str| rows[0][k].as_str().unwrap().to_owned();
    (field("v"), field("w"))
}

fn assert_echoed(ws: &Workspace, out: &Output, value: &str) {
    assert_eq!(code(out), 0, "{value}: {}", stderr(out));
    assert_eq!(
        echoed(ws),
        (value.to_owned(), format!("{value}|")),
        "the parameter must come back exactly as given"
    );
}

/// Guards against the local backend re-printing `@v` as a literal: `\'` was read by
/// sqlparser as an escaped quote and printed back as a string terminator for DuckDB.
#[test]
fn local_backend_binds_parameters_as_values() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", ECHO);
    for value in HOSTILE {
        let arg = format!("v={value}");
        let out = ws.run("plan.yaml", &["--param", &arg, "--quiet"]);
        assert_echoed(&ws, &out, value);
    }
}

/// The test BigQuery server answers through `LocalWarehouse::run_sql`: the query
/// parameters the real client sends are bound there too, not spliced into its SQL.
#[test]
fn bigquery_test_server_binds_parameters_as_values() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", ECHO);
    std::fs::write(
        ws.path("bq.yaml"),
        "bigquery: {backend: bigquery, project: acme-prod}\nanalytics: {database: analytics.duckdb}\n",
    )
    .unwrap();
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    for value in HOSTILE {
        let arg = format!("v={value}");
        let out = da_cmd(ws.dir.path())
            .args(["plan", "run", "plan.yaml", "--config", "bq.yaml", "--quiet"])
            .args(["--param", &arg])
            .env("BIGQUERY_EMULATOR_HOST", server.host())
            .output()
            .unwrap();
        assert_echoed(&ws, &out, value);
    }
}

/// Guards the direct entry point: a value with `\'` used in a filter selects by value.
#[test]
fn run_sql_filters_by_the_bound_value() {
    let ws = Workspace::new();
    let warehouse = da::source::local::LocalWarehouse::new(ws.path("warehouse"));
    let value = da::params::ParamValue::String(r"/\' OR TRUE --".to_owned());
    let result = warehouse
        .run_sql(
            "q",
            "SELECT COUNT(*) AS n FROM `analytics.web` WHERE page = @p",
            &[("p".to_owned(), value)],
        )
        .unwrap();
    let n = result.batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(n, 0, "no page is named like the hostile value");
}
