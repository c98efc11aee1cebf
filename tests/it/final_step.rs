//! What the final step can compute: the functions analysts use on BigQuery data once it is
//! registered, run through the sealed engine as a plan's SQL is.

use std::sync::Arc;

use arrow::array::{Array, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use da::engine::{Engine, EngineOptions, RemoteAttachPolicy, SealedEngine};

fn in_memory() -> EngineOptions {
    EngineOptions {
        database: None,
        extracts: None,
        memory_limit: "256MB".to_owned(),
        threads: 1,
        remote_attach: RemoteAttachPolicy {
            extensions: Vec::new(),
            token_envs: Vec::new(),
        },
    }
}

/// An engine holding alias `events`: one BigQuery `TIMESTAMP` column (Arrow microseconds in
/// UTC, as both backends deliver it) with the instant 2026-03-01 23:30:00 UTC, and a JSON
/// string column.
fn engine_with_bigquery_timestamp() -> SealedEngine {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("payload", DataType::Utf8, true),
    ]));
    let micros = 1_772_407_800_000_000; // 2026-03-01T23:30:00Z
    let ts = TimestampMicrosecondArray::from(vec![Some(micros), None]).with_timezone("UTC");
    let payload = arrow::array::StringArray::from(vec![Some(r#"{"kind": "click"}"#), None]);
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(ts), Arc::new(payload)]).unwrap();
    let engine = Engine::open(&in_memory(), &|_| None).unwrap();
    engine.register("events", &schema, vec![batch]).unwrap();
    engine.seal().unwrap()
}

/// The first value of a one-column query run as a plan's final step.
fn first(engine: &SealedEngine, sql: &str) -> String {
    let result = engine
        .execute_as_if_checked(sql, 10)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let column = result.batches[0].column(0);
    assert!(!column.is_null(0), "{sql} gave NULL");
    arrow::util::display::array_value_to_string(column, 0).unwrap()
}

// BigQuery TIMESTAMP used to be registered as TIMESTAMPTZ. This DuckDB has no ICU extension,
// and without it TIMESTAMPTZ has no date_trunc (DuckDB tries to autoload ICU), no `+ INTERVAL`
// and no cast to DATE: those three tests failed then. strftime already worked on TIMESTAMPTZ;
// its test pins that the new type keeps it, with the value in UTC.

#[test]
fn bigquery_timestamps_truncate_in_utc() {
    let engine = engine_with_bigquery_timestamp();
    assert_eq!(
        first(&engine, "SELECT date_trunc('day', ts) FROM events LIMIT 1"),
        "2026-03-01T00:00:00"
    );
}

#[test]
fn bigquery_timestamps_take_intervals() {
    let engine = engine_with_bigquery_timestamp();
    assert_eq!(
        first(&engine, "SELECT ts + INTERVAL 1 HOUR FROM events LIMIT 1"),
        "2026-03-02T00:30:00"
    );
}

#[test]
fn bigquery_timestamps_format_with_strftime() {
    let engine = engine_with_bigquery_timestamp();
    assert_eq!(
        first(
            &engine,
            "SELECT strftime(ts, '%Y-%m-%d %H:%M') FROM events LIMIT 1"
        ),
        "2026-03-01 23:30"
    );
}

#[test]
fn bigquery_timestamps_cast_to_their_utc_date() {
    let engine = engine_with_bigquery_timestamp();
    assert_eq!(
        first(&engine, "SELECT CAST(ts AS DATE) FROM events LIMIT 1"),
        "2026-03-01"
    );
}

#[test]
fn json_functions_and_arrows_work_in_the_final_step() {
    // Guards the build's json extension (added to Cargo.toml just before this test, so it
    // passed from the start): without it `->>` and the JSON functions do not exist.
    let engine = engine_with_bigquery_timestamp();
    assert_eq!(
        first(&engine, "SELECT payload->>'$.kind' FROM events LIMIT 1"),
        "click"
    );
    assert_eq!(
        first(
            &engine,
            "SELECT json_extract_string(payload, '$.kind') FROM events LIMIT 1"
        ),
        "click"
    );
    assert_eq!(
        first(&engine, "SELECT json_object('n', 1)::VARCHAR"),
        r#"{"n":1}"#
    );
}

#[test]
fn a_plan_reads_views_over_parquet_and_json_beside_the_analytics_file() {
    // Guards the allowed folders through a real run, with the config's relative paths: the
    // seal used to cut these views off ("file system operations are disabled").
    let ws = crate::common::Workspace::new();
    let data = ws.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let d = data.display();
    let conn = duckdb::Connection::open(ws.path("analytics.duckdb")).unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT range AS id FROM range(4)) TO '{d}/pages.parquet' (FORMAT parquet);
         COPY (SELECT '{{\"kind\": \"click\"}}' AS payload) TO '{d}/events.json' (FORMAT json);
         CREATE VIEW pages AS SELECT * FROM read_parquet('{d}/pages.parquet');
         CREATE VIEW events AS SELECT payload->>'$.kind' AS kind FROM read_json('{d}/events.json');"
    ))
    .unwrap();
    drop(conn);
    ws.plan(
        "plan.yaml",
        "version: 1\nname: views\nsql: SELECT count(*) AS n, max(kind) AS kind FROM pages, events\n",
    );
    let out = ws.run("plan.yaml", &["--quiet"]);
    let text = crate::common::stdout(&out);
    assert_eq!(
        crate::common::code(&out),
        0,
        "{}",
        crate::common::stderr(&out)
    );
    assert!(text.contains('4') && text.contains("click"), "{text}");
}
