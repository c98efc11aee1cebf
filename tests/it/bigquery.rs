//! The BigQuery backend through the real gcp-bigquery-client, against the loopback test
//! server: same answers as the local backend, paging, parameters, labels, limits, faults.

use std::process::{Command, Output};
use std::time::Duration;

use crate::bq_server::{BqServer, Faults};
use crate::common::Workspace;
use crate::common::{code, da_cmd, stderr};

/// The two-alias plan of the run tests, with a name that needs sanitising as a label.
pub(crate) fn plan() -> String {
    format!(
        "{}outputs:\n  - path: out/r.csv\n  - path: out/r.json\n  - path: out/r.ndjson\n  - path: out/r.parquet\n",
        crate::common::TWO_ALIASES.replace("name: two-aliases", "name: BQ.Traffic")
    )
}

/// Rows as JSON values with every number read as f64, so `1003` equals `1003.000000000`.
fn read_json(path: &std::path::Path) -> Vec<Vec<(String, serde_json::Value)>> {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(k, v)| match v.as_f64() {
                    Some(f) => (k, serde_json::json!(f)),
                    None => (k, v),
                })
                .collect()
        })
        .collect()
}

/// Data queries the server saw: neither dry runs nor COUNT prechecks.
pub(crate) fn downloads(server: &BqServer) -> usize {
    server
        .seen()
        .iter()
        .filter(|s| {
            s.path.ends_with("/queries")
                && s.body["dryRun"] != true
                && !s.body["query"]
                    .as_str()
                    .unwrap()
                    .starts_with("SELECT COUNT(*)")
        })
        .count()
}

pub(crate) fn bq_config(ws: &Workspace) {
    std::fs::write(
        ws.path("bq.yaml"),
        "bigquery: {backend: bigquery, project: acme-prod}\nanalytics: {database: analytics.duckdb}\n",
    )
    .unwrap();
}

pub(crate) fn run_against(ws: &Workspace, server: &BqServer, plan: &str, extra: &[&str]) -> Output {
    da_cmd(ws.dir.path())
        .args(["plan", "run", plan, "--config", "bq.yaml"])
        .args(extra)
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .output()
        .unwrap()
}

#[test]
fn bigquery_and_the_local_backend_give_the_same_result() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", &plan());
    let local = ws.run("plan.yaml", &[]);
    assert_eq!(code(&local), 0, "{}", stderr(&local));
    let local_json = read_json(&ws.path("out/r.json"));

    bq_config(&ws);
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            incomplete_first: true,
            page_rows: 7,
            ..Faults::default()
        },
    );
    std::fs::remove_dir_all(ws.path("out")).unwrap();
    let out = run_against(&ws, &server, "plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // BigQuery sums integers as INT64 and decimals as NUMERIC (scale 9): the same numbers.
    assert_eq!(
        read_json(&ws.path("out/r.json")),
        local_json,
        "paged, polled BigQuery data equals the local data"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["backend"], "bigquery");
    assert_eq!(
        std::fs::read_to_string(ws.path("out/r.ndjson"))
            .unwrap()
            .lines()
            .count(),
        61
    );
    assert!(std::fs::metadata(ws.path("out/r.parquet")).unwrap().len() > 0);
    assert!(
        report["aliases"][0]["bytes_processed"].as_u64().unwrap() > 0,
        "the dry run's bytes are reported"
    );

    let seen = server.seen();
    let queries: Vec<&serde_json::Value> = seen
        .iter()
        .filter(|s| s.path.ends_with("/queries"))
        .map(|s| &s.body)
        .collect();
    // Per alias: dry runs of the query and of its COUNT, the COUNT precheck, the fetch.
    assert_eq!(queries.len(), 8, "{queries:#?}");
    assert_eq!(queries.iter().filter(|b| b["dryRun"] == true).count(), 4);
    assert!(queries.iter().any(|b| {
        b["query"]
            .as_str()
            .unwrap()
            .starts_with("SELECT COUNT(*) FROM (")
    }));
    for b in &queries {
        assert_eq!(b["useLegacySql"], false);
        assert_eq!(
            b["labels"]["plan"], "bq_traffic",
            "plan names are sanitised into labels"
        );
        assert_eq!(b["labels"]["tool"], "da");
        assert!(b["labels"]["alias"] == "traffic" || b["labels"]["alias"] == "revenue");
    }
    let traffic = queries
        .iter()
        .find(|b| b["labels"]["alias"] == "traffic")
        .unwrap();
    assert_eq!(traffic["parameterMode"], "NAMED");
    assert_eq!(traffic["queryParameters"][0]["name"], "since");
    assert_eq!(
        traffic["queryParameters"][0]["parameterType"]["type"],
        "DATE"
    );
    assert_eq!(
        traffic["queryParameters"][0]["parameterValue"]["value"],
        "2026-03-01"
    );
    let pages = seen
        .iter()
        .filter(|s| s.path.contains("/queries/") && s.body.get("pageToken").is_some())
        .count();
    assert!(
        pages >= 16,
        "the 61- and 120-row results came in pages of 7: {pages} page requests"
    );
}

#[test]
fn row_limits_stop_the_run_before_any_download() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan(
        "plan.yaml",
        &plan().replace(
            "GROUP BY date\n  revenue",
            "GROUP BY date\n    max_rows: 5\n  revenue",
        ),
    );
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("error[row_limit]") && stderr(&out).contains("`traffic`"),
        "{}",
        stderr(&out)
    );
    let fetches = downloads(&server);
    assert_eq!(fetches, 0, "no alias was downloaded");
    assert!(!ws.path("out").exists());
}

#[test]
fn prechecks_run_concurrently() {
    let ws = Workspace::new();
    bq_config(&ws);
    let aliases: String = (0..8)
        .map(|i| format!("  a{i}: SELECT * FROM `acme-prod.analytics.web` WHERE views > {i}\n"))
        .collect();
    let joins: String = (1..8)
        .map(|i| format!(" JOIN a{i} USING (date, page)"))
        .collect();
    ws.plan(
        "plan.yaml",
        &format!(
            "version: 1\nname: many\nregister_bq:\n{aliases}sql: SELECT count(*) FROM a0{joins}\n"
        ),
    );
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            latency: Duration::from_millis(300),
            ..Faults::default()
        },
    );
    let out = run_against(&ws, &server, "plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let dry: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.body["dryRun"] == true)
        .collect();
    // Each alias dry-runs its query and its COUNT.
    assert_eq!(dry.len(), 16);
    // Concurrency from the recorded timings: the most dry runs in flight at one instant.
    let most = dry
        .iter()
        .map(|a| {
            dry.iter()
                .filter(|b| b.started <= a.started && a.started < b.ended)
                .count()
        })
        .max()
        .unwrap();
    assert!(
        most >= 4,
        "only {most} of 8 dry runs overlapped; they should run side by side"
    );
}

#[test]
fn upstream_failures_and_unreachable_endpoints_are_bq_errors() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            fail_status: Some(503),
            ..Faults::default()
        },
    );
    let out = run_against(&ws, &server, "plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("error[bq_error]"), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    // Both aliases failed: every failure is listed.
    let failures = report["error"]["details"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2);
    assert!(
        failures
            .iter()
            .all(|f| f["details"]["kind"] == "upstream_error"),
        "{failures:?}"
    );
    assert!(!ws.path("out").exists());

    // A port nothing listens on (bound, then released).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = da_cmd(ws.dir.path())
        .args(["plan", "run", "plan.yaml", "--config", "bq.yaml"])
        .env("BIGQUERY_EMULATOR_HOST", closed.to_string())
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("error[bq_error]") && stderr(&out).contains("could not be reached"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_sql_on_bigquery_is_a_bad_request() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", "version: 1\nname: x\nregister_bq:\n  t: SELECT nope FROM `acme-prod.analytics.web`\nsql: SELECT * FROM t\n");
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["error"]["error_type"], "bq_error");
    assert_eq!(report["error"]["details"]["kind"], "bad_request");
    assert_eq!(report["error"]["details"]["alias"], "t");
}

#[test]
fn transient_5xx_answers_are_retried() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            fail_first: 3,
            ..Faults::default()
        },
    );
    let out = run_against(&ws, &server, "plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let queries = server
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/queries"))
        .count();
    assert_eq!(queries, 8 + 3, "three failed calls were retried");
}

#[test]
fn without_dry_runs_the_schema_comes_from_an_empty_query() {
    let ws = Workspace::new();
    std::fs::write(ws.path("bq.yaml"), "bigquery: {backend: bigquery, project: acme-prod, dry_run: false}\nanalytics: {database: analytics.duckdb}\n").unwrap();
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        server.seen().iter().all(|s| s.body["dryRun"] != true),
        "no dry run was sent"
    );
}

#[test]
fn ctrl_c_cancels_running_bigquery_jobs() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            incomplete_first: true,
            poll_latency: Duration::from_secs(20),
            ..Faults::default()
        },
    );
    let child = da_cmd(ws.dir.path())
        .args(["plan", "run", "plan.yaml", "--config", "bq.yaml"])
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cancels = server
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/cancel"))
        .count();
    assert!(cancels >= 1, "the running jobs were cancelled on BigQuery");
    assert!(!ws.path("out").exists());
}

#[test]
fn injected_faults_give_bq_errors_and_write_nothing() {
    let cases = [
        (
            "429 on every call",
            Faults {
                fail_status: Some(429),
                ..Faults::default()
            },
        ),
        (
            "malformed JSON",
            Faults {
                malformed_json: true,
                ..Faults::default()
            },
        ),
        (
            "500 in the middle of paging",
            Faults {
                fail_paging: true,
                page_rows: 7,
                ..Faults::default()
            },
        ),
    ];
    for (name, faults) in cases {
        let ws = Workspace::new();
        bq_config(&ws);
        ws.plan("plan.yaml", &plan());
        let server = BqServer::start(&ws.path("warehouse"), faults);
        let out = run_against(&ws, &server, "plan.yaml", &["--report", "run.json"]);
        assert_eq!(code(&out), 1, "{name}: {}", stderr(&out));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
        assert_eq!(
            report["error"]["error_type"], "bq_error",
            "{name}: {report}"
        );
        assert!(!ws.path("out").exists(), "{name}: no partial output");
    }
}

#[test]
fn every_type_round_trips_from_bigquery_into_duckdb_and_out() {
    let ws = Workspace::new();
    // A BigQuery stand-in table with every type the test server can encode, and a row of
    // NULLs (arrays are empty there: BigQuery has no NULL arrays). Integers are BIGINT and
    // floats DOUBLE: BigQuery has no narrower types.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = "SELECT 42::BIGINT AS i, 1.5::DOUBLE AS f, 'nan'::DOUBLE AS f_nan, '-inf'::DOUBLE AS f_inf,
                      true AS b, 'a,\"b\"' AS s, '\\xAA\\x00\\xFF'::BLOB AS byt, DATE '2024-01-02' AS d,
                      TIMESTAMP '2024-01-02 03:04:05.123456' AS dt, TIME '04:05:06.5' AS t,
                      to_timestamp(1704164645.123456) AS ts, 123.456789012::DECIMAL(38,9) AS n,
                      [1, 2, 3] AS l, {'a': 1::BIGINT, 'b': 'x'} AS st, [{'q': 1.5::DOUBLE}, {'q': 2.5::DOUBLE}] AS ls
               UNION ALL
               SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      []::BIGINT[], NULL, []::STRUCT(q DOUBLE)[]";
    let mut stmt = conn.prepare(sql).unwrap();
    let arrow = stmt.query_arrow([]).unwrap();
    let schema = arrow.get_schema();
    let batches: Vec<_> = arrow.collect();
    da::output::write_file(
        &ws.path("warehouse/all/types.parquet"),
        da::output::Format::Parquet,
        &schema,
        &batches,
    )
    .unwrap();

    let plan = "version: 1\nname: types\nregister_bq:\n  x: SELECT * FROM `p.all.types`\nsql: SELECT * FROM x ORDER BY i NULLS LAST\noutputs: [{path: out/x.csv}, {path: out/x.parquet}]\n";
    ws.plan("plan.yaml", plan);
    let local = ws.run("plan.yaml", &[]);
    assert_eq!(code(&local), 0, "{}", stderr(&local));
    let local_csv = std::fs::read_to_string(ws.path("out/x.csv")).unwrap();
    let local_rows = parquet_rows(&ws.path("out/x.parquet"));

    bq_config(&ws);
    std::fs::remove_dir_all(ws.path("out")).unwrap();
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(ws.path("out/x.csv")).unwrap(),
        local_csv,
        "the text of every value survives"
    );
    assert_eq!(
        parquet_rows(&ws.path("out/x.parquet")),
        local_rows,
        "the Parquet values survive"
    );
    assert!(
        local_csv.contains("NaN")
            && local_csv.contains("-inf")
            && local_csv.contains("123.456789012"),
        "{local_csv}"
    );
}

/// A Parquet file as one record batch.
fn parquet_rows(path: &std::path::Path) -> arrow::record_batch::RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<_> = builder.build().unwrap().map(Result::unwrap).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn missing_or_broken_credentials_are_clear_errors_without_any_network() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = da_cmd(ws.dir.path());
        cmd.args(["plan", "run", "plan.yaml", "--config", "bq.yaml"])
            .args(extra);
        for var in [
            "BIGQUERY_EMULATOR_HOST",
            "DA_BIGQUERY_ACCESS_TOKEN",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "CLOUDSDK_CONFIG",
            "GCE_METADATA_HOST",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", ws.path("no-home"));
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    };
    if std::fs::read_to_string("/sys/class/dmi/id/product_name").is_ok_and(|n| n.contains("Google"))
    {
        return; // On Google Cloud the metadata server is a legitimate source.
    }
    let out = run(&[], &[]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("error[bq_error]: no Google credentials found"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("--credentials"),
        "the hint says what to do: {}",
        stderr(&out)
    );

    let out = run(&["--credentials", "missing.json"], &[]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("cannot read credentials file missing.json"),
        "{}",
        stderr(&out)
    );

    std::fs::write(ws.path("bad.json"), r#"{"type": "external_account"}"#).unwrap();
    let out = run(&[], &[("GOOGLE_APPLICATION_CREDENTIALS", "bad.json")]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("type: external_account"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bigquery_that_does_not_answer_in_time_is_a_timeout() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("bq.yaml"),
        "remote_query: {timeout_seconds: 1}\nbigquery: {backend: bigquery, project: acme-prod}\nanalytics: {database: analytics.duckdb}\n",
    )
    .unwrap();
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            latency: Duration::from_secs(5),
            ..Faults::default()
        },
    );
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("error[timeout]"), "{}", stderr(&out));
    assert!(!ws.path("out").exists());
}

#[derive(Clone)]
struct TestToken;

#[async_trait::async_trait]
impl gcp_bigquery_client::auth::Authenticator for TestToken {
    async fn access_token(&self) -> Result<String, gcp_bigquery_client::error::BQError> {
        Ok("test".to_owned())
    }
}

#[test]
fn the_test_server_speaks_jobs_insert_get_and_get_query_results() {
    use gcp_bigquery_client::model::{
        get_query_results_parameters::GetQueryResultsParameters, job::Job,
        job_configuration::JobConfiguration, job_configuration_query::JobConfigurationQuery,
    };
    let ws = Workspace::new();
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    // The server owns its runtime; the client gets one of its own.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = gcp_bigquery_client::client_builder::ClientBuilder::new()
            .with_v2_base_url(format!("http://{}/bigquery/v2", server.host()))
            .build_from_authenticator(std::sync::Arc::new(TestToken))
            .await
            .unwrap();
        let job = Job {
            configuration: Some(JobConfiguration {
                query: Some(JobConfigurationQuery {
                    query: "SELECT COUNT(*) AS n FROM `p.analytics.web`".to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let inserted = client.job().insert("p", job).await.unwrap();
        let job_id = inserted.job_reference.unwrap().job_id.unwrap();
        let got = client.job().get_job("p", &job_id, None).await.unwrap();
        assert_eq!(got.status.unwrap().state.as_deref(), Some("DONE"));
        let results = client
            .job()
            .get_query_results("p", &job_id, GetQueryResultsParameters::default())
            .await
            .unwrap();
        let rows = serde_json::to_value(results.rows.unwrap()).unwrap();
        assert_eq!(rows[0]["f"][0]["v"], "360");
        client.job().cancel_job("p", &job_id, None).await.unwrap();
    });
    assert!(server.seen().iter().any(|s| s.path.ends_with("/cancel")));
}

#[test]
fn the_memory_estimate_stops_the_run_before_any_download() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("bq.yaml"),
        "remote_query: {max_memory_mb: 1, max_bq_registration_rows: 1000000}\nbigquery: {backend: bigquery, project: acme-prod}\nanalytics: {database: analytics.duckdb}\n",
    )
    .unwrap();
    ws.plan("plan.yaml", "version: 1\nname: m\nregister_bq:\n  big: SELECT a.*, b.page FROM `p.analytics.payments` a CROSS JOIN `p.analytics.web` b\nsql: SELECT count(*) FROM big\n");
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("error[memory_limit]") && stderr(&out).contains("estimated"),
        "{}",
        stderr(&out)
    );
    let fetched = downloads(&server);
    assert_eq!(fetched, 0, "nothing was downloaded");
}

#[test]
fn an_alias_ending_in_a_comment_runs_on_bigquery() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nregister_bq:\n  a: |\n    SELECT date, views FROM `acme-prod.analytics.web` -- every page\n  b: SELECT date FROM `acme-prod.analytics.web`;\nsql: SELECT count(*) AS n FROM a JOIN b USING (date)\n",
    );
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// The COUNT said the alias fits; the rows that arrive say otherwise. The fetch stops at
/// the first page past the limit, cancels the job and registers nothing.
#[test]
fn a_result_that_grew_since_the_count_stops_the_fetch() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan(
        "plan.yaml",
        "version: 1\nname: t\nregister_bq:\n  w:\n    sql: SELECT date, views FROM `acme-prod.analytics.web`\n    max_rows: 15\nsql: SELECT count(*) AS n FROM w\noutputs: [{path: out/n.csv}]\n",
    );
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            count_shortfall: u64::MAX,
            page_rows: 10,
            ..Faults::default()
        },
    );
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[row_limit]") && stderr(&out).contains("during the fetch"),
        "{}",
        stderr(&out)
    );
    let seen = server.seen();
    let pages = seen.iter().filter(|s| s.path.contains("/queries/")).count();
    assert!(pages <= 2, "it paged on after the limit: {pages} pages");
    assert!(
        seen.iter().any(|s| s.path.ends_with("/cancel")),
        "the job was not cancelled"
    );
    assert!(!ws.path("out").exists());
}

/// `timeout_seconds` is one budget for the whole run: a job that would keep the run
/// waiting for 30 s ends it at the limit (2 s) plus a small grace, and is cancelled.
#[test]
fn the_time_limit_bounds_every_bigquery_request() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan(
        "plan.yaml",
        &format!("{}limits: {{timeout_seconds: 2}}\n", plan()),
    );
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            incomplete_first: true,
            poll_latency: Duration::from_secs(30),
            ..Faults::default()
        },
    );
    let started = std::time::Instant::now();
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    let took = started.elapsed();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("error[timeout]"), "{}", stderr(&out));
    // Not a speed target: the slow server would hold the run for 30 s.
    assert!(took < Duration::from_secs(12), "the run took {took:?}");
    assert!(
        server.seen().iter().any(|s| s.path.ends_with("/cancel")),
        "the running jobs were not cancelled"
    );
}

/// Every billed job carries the byte cap, and a job over it is refused by BigQuery as
/// `bytes_billed_limit` before a row is downloaded.
#[test]
fn every_billed_job_carries_the_byte_cap_and_a_refusal_is_typed() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let jobs: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/queries") && s.body["dryRun"] != true)
        .collect();
    assert!(!jobs.is_empty());
    for job in &jobs {
        assert_eq!(
            job.body["maximumBytesBilled"], "107374182400",
            "the default cap (100 GiB) on {}",
            job.body["query"]
        );
    }

    // The traffic alias scans 61 days × 2 columns × 8 bytes = 976 "bytes" on the server.
    ws.plan(
        "capped.yaml",
        &plan().replace("  traffic:\n", "  traffic:\n    max_bytes_billed: 100\n"),
    );
    std::fs::remove_dir_all(ws.path("out")).unwrap();
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "capped.yaml", &["--report", "run.json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("error[bq_error]"), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["error"]["details"]["kind"], "bytes_billed_limit");
    assert_eq!(report["error"]["details"]["max_bytes_billed"], 100);
    assert!(!ws.path("out").exists(), "nothing was written");
}

/// A misspelt column in the final step is found by binding it against the dry runs'
/// shapes: the run fails before any billed job (the server saw dry runs only), and the
/// hint names the column that exists.
#[test]
fn a_misspelt_final_column_fails_before_any_billed_job() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan().replace("t.views,", "t.viewz,"));
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[query_error]"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("viewz"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did you mean `views`?"),
        "{}",
        stderr(&out)
    );
    let seen = server.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| s.body["dryRun"] == true),
        "a billed job started: {:?}",
        seen.iter().map(|s| &s.body["query"]).collect::<Vec<_>>()
    );
}

pub(crate) fn estimate_against(ws: &Workspace, server: &BqServer, plan: &str) -> Output {
    da_cmd(ws.dir.path())
        .args([
            "plan", "estimate", plan, "--config", "bq.yaml", "--format", "json",
        ])
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .output()
        .unwrap()
}

/// `da plan estimate` dry-runs every alias and its COUNT: bytes, dollars and columns per
/// alias and in total, with no billed job.
#[test]
fn plan_estimate_bills_nothing_and_adds_up() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = estimate_against(&ws, &server, "plan.yaml");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let aliases = e["aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 2);
    let mut sum = 0;
    for a in aliases {
        let (bytes, count) = (
            a["bytes"].as_u64().unwrap(),
            a["count_bytes"].as_u64().unwrap(),
        );
        assert!(bytes > 0 && count > 0, "{a}");
        sum += bytes + count;
        assert!(!a["columns"].as_array().unwrap().is_empty(), "{a}");
    }
    assert_eq!(e["total_bytes"], sum);
    assert_eq!(e["within_budget"], true);
    assert!(
        server.seen().iter().all(|s| s.body["dryRun"] == true),
        "a billed job started"
    );
}

/// Over its budget, a run stops with `cost_limit` before any billed job, and the
/// estimate says so with exit 1.
#[test]
fn a_budget_stops_the_run_before_any_billed_job() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan(
        "plan.yaml",
        &format!("{}budget: {{max_bytes: 100}}\n", plan()),
    );
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[cost_limit]"),
        "{}",
        stderr(&out)
    );
    assert!(
        server.seen().iter().all(|s| s.body["dryRun"] == true),
        "a billed job started"
    );
    assert!(!ws.path("out").exists());

    let out = estimate_against(&ws, &server, "plan.yaml");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["within_budget"], false);
}

#[test]
fn a_budget_without_dry_runs_is_refused_at_config_load() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("bq.yaml"),
        "budget: {max_usd: 1.0}\nbigquery: {backend: bigquery, project: acme-prod, dry_run: false}\nanalytics: {database: analytics.duckdb}\n",
    )
    .unwrap();
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("dry_run"), "{}", stderr(&out));
    assert!(server.seen().is_empty());
}

/// A COUNT that comes back without a readable number is an error, never "0 rows".
#[test]
fn an_unreadable_count_is_a_bq_error_not_zero_rows() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(
        &ws.path("warehouse"),
        Faults {
            count_without_rows: true,
            ..Faults::default()
        },
    );
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[bq_error]") && stderr(&out).contains("row count"),
        "{}",
        stderr(&out)
    );
    assert_eq!(downloads(&server), 0);
}
