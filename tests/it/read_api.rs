//! The Storage Read API path through the real client against the test server's gRPC side:
//! the same bytes out as REST, typed failures midway, and a refused session falling back
//! to REST with a warning in the report.

use std::process::Output;

use crate::bq_server::{BqServer, Faults};
use crate::common::{Workspace, code, da_cmd, stderr};

/// Rows in the `big` table: several ReadRows messages and all four streams.
const BIG_ROWS: usize = 20_000;

/// A warehouse with every type the REST path round-trips (as in bigquery.rs) and a
/// `big` table spread over several streams.
fn warehouse(ws: &Workspace) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let tables = [
        (
            "all/types",
            "SELECT 42::BIGINT AS i, 1.5::DOUBLE AS f, 'nan'::DOUBLE AS f_nan, '-inf'::DOUBLE AS f_inf,
                    true AS b, 'a,\"b\"' AS s, '\\xAA\\x00\\xFF'::BLOB AS byt, DATE '2024-01-02' AS d,
                    TIMESTAMP '2024-01-02 03:04:05.123456' AS dt, TIME '04:05:06.5' AS t,
                    to_timestamp(1704164645.123456) AS ts, 123.456789012::DECIMAL(38,9) AS n,
                    [1, 2, 3] AS l, {'a': 1::BIGINT, 'b': 'x'} AS st, [{'q': 1.5::DOUBLE}, {'q': 2.5::DOUBLE}] AS ls
             UNION ALL
             SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    []::BIGINT[], NULL, []::STRUCT(q DOUBLE)[]"
                .to_owned(),
        ),
        (
            "all/big",
            format!(
                "SELECT i::BIGINT AS id, 'row ' || i AS label, i * 0.5 AS half, DATE '2024-01-01' + (i % 365)::INT AS day
                 FROM range({BIG_ROWS}) t(i)"
            ),
        ),
    ];
    for (name, sql) in tables {
        let mut stmt = conn.prepare(&sql).unwrap();
        let arrow = stmt.query_arrow([]).unwrap();
        let schema = arrow.get_schema();
        let batches: Vec<_> = arrow.collect();
        da::output::write_file(
            &ws.path(&format!("warehouse/{name}.parquet")),
            da::output::Format::Parquet,
            &schema,
            &batches,
        )
        .unwrap();
    }
}

fn config(ws: &Workspace, read_api: &str) {
    std::fs::write(
        ws.path("bq.yaml"),
        format!("bigquery: {{backend: bigquery, project: acme-prod, read_api: {read_api}}}\nanalytics: {{database: analytics.duckdb}}\n"),
    )
    .unwrap();
}

fn run(ws: &Workspace, server: &BqServer, plan: &str) -> Output {
    da_cmd(ws.dir.path())
        .args([
            "plan", "run", plan, "--config", "bq.yaml", "--report", "run.json",
        ])
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .env("BIGQUERY_STORAGE_EMULATOR_HOST", server.grpc_host())
        .output()
        .unwrap()
}

fn report(ws: &Workspace) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap()
}

fn grpc_calls(server: &BqServer, method: &str) -> Vec<serde_json::Value> {
    server
        .seen()
        .into_iter()
        .filter(|s| s.path == format!("/grpc/{method}"))
        .map(|s| s.body)
        .collect()
}

const PLAN: &str = "version: 1\nname: read-api\nregister_bq:\n  x: SELECT * FROM `p.all.types`\n  big: SELECT * FROM `p.all.big`\nsql: SELECT x.*, (SELECT count(*) FROM big) AS n_big, (SELECT sum(id) FROM big) AS s_big FROM x ORDER BY i NULLS LAST\noutputs: [{path: out/x.csv}, {path: out/x.parquet}]\n";

/// The big alias alone, unordered: the Read API must keep the table's row order.
const BIG_PLAN: &str = "version: 1\nname: big\nregister_bq:\n  big: SELECT * FROM `p.all.big`\nsql: SELECT * FROM big\noutputs: [{path: out/big.csv}]\n";

fn outputs(ws: &Workspace) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let read = |p: &str| std::fs::read(ws.path(p)).unwrap();
    (
        read("out/x.csv"),
        read("out/x.parquet"),
        read("out/big.csv"),
    )
}

/// Guards against the Read API path changing any value: every type, and the order of an
/// unordered multi-stream read, come out byte for byte as REST gives them.
#[test]
fn read_api_and_rest_give_byte_identical_outputs() {
    let ws = Workspace::new();
    warehouse(&ws);
    ws.plan("plan.yaml", PLAN);
    ws.plan("big.yaml", BIG_PLAN);
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());

    config(&ws, "never");
    for plan in ["plan.yaml", "big.yaml"] {
        let out = run(&ws, &server, plan);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    assert!(
        grpc_calls(&server, "ReadRows").is_empty(),
        "never means REST"
    );
    let rest = outputs(&ws);
    std::fs::remove_dir_all(ws.path("out")).unwrap();

    config(&ws, "always");
    for plan in ["plan.yaml", "big.yaml"] {
        let out = run(&ws, &server, plan);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(
            report(&ws)["warnings"],
            serde_json::json!([]),
            "no fallback"
        );
    }
    let sessions = grpc_calls(&server, "CreateReadSession");
    assert_eq!(sessions.len(), 3, "one session per alias: {sessions:?}");
    for s in &sessions {
        assert_eq!(s["data_format"], 2, "Arrow");
        assert_eq!(s["buffer_compression"], 1, "LZ4_FRAME");
        assert_eq!(s["authorization"], "Bearer emulator");
        assert_eq!(s["parent"], "projects/acme-prod");
        assert!(
            s["table"]
                .as_str()
                .unwrap()
                .starts_with("projects/acme-prod/datasets/_da_results/tables/"),
            "{s}"
        );
    }
    assert!(
        grpc_calls(&server, "ReadRows").len() >= 5,
        "the big table is read over several streams"
    );
    let read_api = outputs(&ws);
    assert!(read_api.0 == rest.0, "CSV of every type identical");
    assert!(read_api.1 == rest.1, "Parquet identical");
    assert!(
        read_api.2 == rest.2,
        "row order of a multi-stream read kept"
    );
    assert_eq!(
        String::from_utf8_lossy(&rest.2).lines().count(),
        BIG_ROWS + 1
    );
}

/// Guards against a broken stream leaving partial data behind: the run fails with a typed
/// `bq_error` and writes nothing.
#[test]
fn a_stream_failing_midway_is_a_bq_error_with_no_output() {
    let ws = Workspace::new();
    warehouse(&ws);
    ws.plan("big.yaml", BIG_PLAN);
    config(&ws, "always");
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            read_fail_after: Some(1),
            ..Faults::default()
        },
    );
    let out = run(&ws, &server, "big.yaml");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = report(&ws);
    assert_eq!(report["error"]["error_type"], "bq_error", "{report}");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broke midway"),
        "{report}"
    );
    assert!(!ws.path("out").exists(), "no partial output");
}

/// Guards against a missing permission (or an endpoint without gRPC) failing the run:
/// the same job is read over REST, and the report says so.
#[test]
fn a_refused_session_falls_back_to_rest_with_a_warning() {
    let ws = Workspace::new();
    warehouse(&ws);
    ws.plan("big.yaml", BIG_PLAN);
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            read_session_denied: true,
            ..Faults::default()
        },
    );
    // `auto` with a threshold below the table's rows picks the Read API.
    std::fs::write(
        ws.path("bq.yaml"),
        "bigquery: {backend: bigquery, project: acme-prod, read_api: auto, read_api_min_rows: 1000}\nanalytics: {database: analytics.duckdb}\n",
    )
    .unwrap();
    let out = run(&ws, &server, "big.yaml");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(grpc_calls(&server, "CreateReadSession").len(), 1);
    assert!(grpc_calls(&server, "ReadRows").is_empty());
    let report = report(&ws);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("read through REST") && warnings.contains("PermissionDenied"),
        "{report}"
    );
    let csv = std::fs::read_to_string(ws.path("out/big.csv")).unwrap();
    assert_eq!(csv.lines().count(), BIG_ROWS + 1, "every row, once");
    // The job ran once: the fallback reads its pages rather than querying again.
    assert_eq!(crate::bigquery::downloads(&server), 1);
}

/// Guards against the Read API path skipping the limits: a result that grew past the
/// alias's `max_rows` since its COUNT stops the read as batches arrive (row_limit), and
/// nothing is written.
#[test]
fn the_row_limit_holds_batch_by_batch_on_the_read_api() {
    let ws = Workspace::new();
    warehouse(&ws);
    ws.plan(
        "big.yaml",
        "version: 1\nname: big\nregister_bq:\n  big:\n    sql: SELECT * FROM `p.all.big`\n    max_rows: 5000\nsql: SELECT count(*) AS n FROM big\noutputs: [{path: out/n.csv}]\n",
    );
    config(&ws, "always");
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            count_shortfall: u64::MAX,
            ..Faults::default()
        },
    );
    let out = run(&ws, &server, "big.yaml");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(report(&ws)["error"]["error_type"], "row_limit");
    assert!(
        stderr(&out).contains("during the fetch"),
        "{}",
        stderr(&out)
    );
    assert!(
        !grpc_calls(&server, "ReadRows").is_empty(),
        "it was the Read API"
    );
    assert!(!ws.path("out").exists());
}

/// A stand-in for the GCE metadata server: hands out `meta-token` to requests that carry
/// `Metadata-Flavor: Google`, and counts them.
struct MetadataServer {
    host: String,
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl MetadataServer {
    fn start() -> Self {
        use axum::routing::get;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = asked.clone();
        let token = move |headers: axum::http::HeaderMap| async move {
            if headers.get("metadata-flavor").is_none_or(|v| v != "Google") {
                return (axum::http::StatusCode::FORBIDDEN, String::new());
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body =
                r#"{"access_token": "meta-token", "expires_in": 3599, "token_type": "Bearer"}"#;
            (axum::http::StatusCode::OK, body.to_owned())
        };
        let app = axum::Router::new().route(
            "/computeMetadata/v1/instance/service-accounts/default/token",
            get(token),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let host = listener.local_addr().unwrap().to_string();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            host,
            asked,
            _runtime: runtime,
        }
    }
}

/// Guards the metadata-server credentials (GCE, GKE, Cloud Run): the token comes from the
/// metadata server, is reused across the run's requests rather than fetched per request,
/// and reaches the Storage Read API too (it used to fall back to REST there).
#[test]
fn metadata_server_credentials_serve_rest_and_the_read_api() {
    let ws = Workspace::new();
    warehouse(&ws);
    ws.plan("big.yaml", BIG_PLAN);
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let metadata = MetadataServer::start();
    std::fs::write(
        ws.path("bq.yaml"),
        format!(
            "bigquery: {{backend: bigquery, project: acme-prod, read_api: always, endpoint: 'http://{}/bigquery/v2', storage_endpoint: 'http://{}'}}\nanalytics: {{database: analytics.duckdb}}\n",
            server.host(),
            server.grpc_host()
        ),
    )
    .unwrap();
    let out = da_cmd(ws.dir.path())
        .args([
            "plan", "run", "big.yaml", "--config", "bq.yaml", "--report", "run.json",
        ])
        .env("GCE_METADATA_HOST", &metadata.host)
        .env("HOME", ws.dir.path())
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("CLOUDSDK_CONFIG")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        report(&ws)["warnings"],
        serde_json::json!([]),
        "no fallback"
    );
    let sessions = grpc_calls(&server, "CreateReadSession");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["authorization"], "Bearer meta-token");
    assert_eq!(
        metadata.asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one token for the dry runs, the COUNT, the query and the read session"
    );
    let csv = std::fs::read_to_string(ws.path("out/big.csv")).unwrap();
    assert_eq!(csv.lines().count(), BIG_ROWS + 1);
}

/// Guards against the test server charging the Read API path for REST work: a job read
/// through the Read API has no row encoded as JSON (only its COUNT precheck's one row is).
#[test]
fn a_job_read_through_the_read_api_encodes_no_rest_rows() {
    let ws = Workspace::new();
    warehouse(&ws);
    ws.plan("big.yaml", BIG_PLAN);
    config(&ws, "always");
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run(&ws, &server, "big.yaml");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!grpc_calls(&server, "ReadRows").is_empty());
    assert_eq!(server.rest_rows_encoded(), 1, "the COUNT's row alone");
}

/// Guards against the benchmark mode changing answers or still doing the work: with
/// `preencoded_pages` a repeated identical run gets the same bytes, runs no query and
/// encodes no row again, over REST and over the Read API.
#[test]
fn preencoded_pages_serve_a_repeated_run_from_memory() {
    let ws = Workspace::new();
    warehouse(&ws);
    ws.plan("big.yaml", BIG_PLAN);
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            preencoded_pages: true,
            ..Faults::default()
        },
    );
    let mut outputs = Vec::new();
    for read_api in ["never", "never", "always", "always"] {
        config(&ws, read_api);
        let (queries, encoded) = (server.queries_run(), server.rest_rows_encoded());
        let out = run(&ws, &server, "big.yaml");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        outputs.push(std::fs::read(ws.path("out/big.csv")).unwrap());
        if outputs.len() > 1 {
            assert_eq!(
                server.queries_run(),
                queries,
                "{read_api}: no query ran again"
            );
            assert_eq!(
                server.rest_rows_encoded(),
                encoded,
                "{read_api}: nothing re-encoded"
            );
        }
    }
    assert!(
        outputs.iter().all(|o| *o == outputs[0]),
        "the same bytes every time"
    );
    assert_eq!(
        String::from_utf8_lossy(&outputs[0]).lines().count(),
        BIG_ROWS + 1
    );
}
