//! Cost of the BigQuery backend: the two precheck modes, what each bills, and the jobs a
//! run started as the report shows them (issue 10, item 4).

use std::path::Path;

use crate::bigquery::{bq_config, estimate_against, plan, run_against};
use crate::bq_server::{BqServer, Faults, Seen};
use crate::common::{Workspace, code, stderr};

/// Jobs that bill: jobs.query that is not a dry run, and jobs.insert.
fn billed_jobs(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter()
        .filter(|s| {
            (s.path.ends_with("/queries") && s.body["dryRun"] != true) || s.path.ends_with("/jobs")
        })
        .collect()
}

fn with_precheck(ws: &Workspace, mode: &str) {
    std::fs::write(
        ws.path("bq.yaml"),
        format!("bigquery: {{backend: bigquery, project: acme-prod, precheck: {mode}}}\nanalytics: {{database: analytics.duckdb}}\n"),
    )
    .unwrap();
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `precheck: job` scans once: one billed job per alias, whose pages the fetch reads,
/// and the same result as the default mode. Guards against a second scan sneaking back
/// (a COUNT, or a fresh job for the fetch).
#[test]
fn precheck_job_bills_one_job_per_alias_and_gives_the_same_result() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", &plan());
    bq_config(&ws);
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let by_count = std::fs::read(ws.path("out/r.csv")).unwrap();
    assert_eq!(
        billed_jobs(&server.seen()).len(),
        4,
        "count mode: COUNT + fetch per alias"
    );

    with_precheck(&ws, "job");
    // Small pages, and a job not finished at the first poll: the fetch still pages the
    // precheck's job to the end.
    let faults = Faults {
        page_rows: 2,
        incomplete_first: true,
        ..Faults::default()
    };
    let server = BqServer::start(&ws.path("warehouse"), faults);
    let out = run_against(&ws, &server, "plan.yaml", &["--report", "report.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let seen = server.seen();
    let billed = billed_jobs(&seen);
    assert_eq!(billed.len(), 2, "one job per alias: {billed:#?}");
    assert!(
        billed.iter().all(|s| s.body["maxResults"] == 0),
        "{billed:#?}"
    );
    assert!(
        billed.iter().all(|s| !s.body["query"]
            .as_str()
            .unwrap()
            .starts_with("SELECT COUNT(*)")),
        "no COUNT job"
    );
    assert_eq!(std::fs::read(ws.path("out/r.csv")).unwrap(), by_count);

    let r = report(&ws.path("report.json"));
    for a in r["aliases"].as_array().unwrap() {
        let jobs = a["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 1, "{a}");
        assert_eq!(jobs[0]["purpose"], "query");
        assert!(jobs[0]["job_id"].as_str().is_some_and(|j| !j.is_empty()));
        assert!(jobs[0]["bytes_billed"].as_u64().unwrap() > 0, "{a}");
        assert!(jobs[0]["slot_ms"].as_u64().is_some(), "{a}");
        assert_eq!(jobs[0]["cache_hit"], false);
        // The precheck's cost is that one job: the fetch adds nothing.
        assert_eq!(a["precheck_bytes_billed"], jobs[0]["bytes_billed"]);
    }
}

/// An alias in `job` mode over its row limit is refused from the finished job's
/// `totalRows`: no request ever asked for a row of it. Also pins that an alias may choose
/// its own mode.
#[test]
fn precheck_job_stops_an_over_limit_alias_before_any_row_is_downloaded() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan(
        "plan.yaml",
        &plan().replace(
            "GROUP BY date\n  revenue",
            "GROUP BY date\n    max_rows: 5\n    precheck: job\n  revenue",
        ),
    );
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = run_against(&ws, &server, "plan.yaml", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[row_limit]") && stderr(&out).contains("`traffic`"),
        "{}",
        stderr(&out)
    );
    let seen = server.seen();
    let billed = billed_jobs(&seen);
    // traffic: its one job; revenue (count mode): its COUNT. No fetch of either.
    assert_eq!(billed.len(), 2, "{billed:#?}");
    for s in &billed {
        let q = s.body["query"].as_str().unwrap();
        if !q.starts_with("SELECT COUNT(*)") {
            assert_eq!(s.body["maxResults"], 0, "a row was asked for: {s:#?}");
        }
    }
    let pages: Vec<_> = seen
        .iter()
        .filter(|s| s.path.contains("/queries/") && s.body["maxResults"] != "0")
        .collect();
    assert!(pages.is_empty(), "rows were paged: {pages:#?}");
    assert!(!ws.path("out").exists());
}

/// `count` stays the default: the estimate shows the COUNT's bytes and both modes' cost,
/// and the run report lists the COUNT job (billing what the estimate said) and the fetch.
#[test]
fn count_is_the_default_and_its_cost_is_in_the_estimate_and_the_report() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = estimate_against(&ws, &server, "plan.yaml");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut count_bytes = std::collections::BTreeMap::new();
    for a in e["aliases"].as_array().unwrap() {
        let (query, count) = (
            a["bytes"].as_u64().unwrap(),
            a["count_bytes"].as_u64().unwrap(),
        );
        assert_eq!(a["precheck"], "count");
        assert_eq!(a["count_mode_bytes"], query + count);
        assert_eq!(a["job_mode_bytes"], query);
        assert_eq!(a["billed_bytes"], query + count);
        assert_eq!(a["cheaper"], "job");
        count_bytes.insert(a["alias"].as_str().unwrap().to_owned(), count);
    }
    assert!(e["total_job_mode_bytes"].as_u64() < e["total_count_mode_bytes"].as_u64());

    let out = run_against(&ws, &server, "plan.yaml", &["--report", "report.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("BigQuery jobs"), "{}", stderr(&out));
    let r = report(&ws.path("report.json"));
    for a in r["aliases"].as_array().unwrap() {
        let jobs = a["jobs"].as_array().unwrap();
        let purposes: Vec<&str> = jobs
            .iter()
            .map(|j| j["purpose"].as_str().unwrap())
            .collect();
        assert_eq!(purposes, ["count", "fetch"], "{a}");
        let count = count_bytes[a["alias"].as_str().unwrap()];
        assert_eq!(jobs[0]["bytes_billed"], count, "{a}");
        assert_eq!(a["precheck_bytes_billed"], count, "{a}");
        assert_ne!(jobs[0]["job_id"], jobs[1]["job_id"]);
    }
}

/// The table says what each mode would bill and which is cheaper.
#[test]
fn plan_estimate_table_compares_the_precheck_modes() {
    let ws = Workspace::new();
    bq_config(&ws);
    ws.plan("plan.yaml", &plan());
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = crate::common::da_cmd(ws.dir.path())
        .args(["plan", "estimate", "plan.yaml", "--config", "bq.yaml"])
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("precheck modes: count"), "{text}");
    assert!(text.contains("job is cheaper by"), "{text}");
}

const ADMIN: &str = "admin-secret-token";

/// `da serve` over the BigQuery test server, with `extra` under `server:`.
fn bq_app(ws: &Workspace, server: &BqServer, extra: &str) -> axum::Router {
    use sha2::{Digest, Sha256};
    let sha: String = Sha256::digest(ADMIN.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        ws.path("server.yaml"),
        format!("bigquery: {{backend: bigquery, project: acme-prod}}\nanalytics: {{database: analytics.duckdb}}\nserver:\n  tokens:\n    - {{name: ops, sha256: {sha}, role: admin}}\n{extra}"),
    )
    .unwrap();
    let overrides = da::settings::Overrides {
        config: Some(ws.path("server.yaml")),
        ..Default::default()
    };
    let host = server.host();
    let env = move |name: &str| (name == "BIGQUERY_EMULATOR_HOST").then(|| host.clone());
    let settings = da::settings::Settings::resolve(&overrides, &env).unwrap();
    da::server::router(settings, crate::common::workers())
}

/// A hybrid request whose alias job BigQuery holds for 30 s.
fn slow_request() -> String {
    serde_json::json!({
        "sql": "SELECT count(*) AS n FROM t",
        "register_bq": {"t": "SELECT date, SUM(views) AS views FROM `acme-prod.analytics.web` GROUP BY date"},
    })
    .to_string()
}

fn slow_bigquery(ws: &Workspace) -> BqServer {
    BqServer::start(
        &ws.path("warehouse"),
        Faults {
            incomplete_first: true,
            poll_latency: std::time::Duration::from_secs(30),
            ..Faults::default()
        },
    )
}

/// Waits (up to 10 s) for the server to record a jobs.cancel.
fn cancelled_on_bigquery(server: &BqServer) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if server.seen().iter().any(|s| s.path.ends_with("/cancel")) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// A request past `server.request_timeout_seconds` answers 504 and cancels the job it
/// started on BigQuery, which would otherwise run (and bill) on for nobody.
#[test]
fn a_timed_out_http_request_cancels_its_bigquery_job() {
    use tower::ServiceExt;
    let ws = Workspace::new();
    let server = slow_bigquery(&ws);
    let app = bq_app(&ws, &server, "  request_timeout_seconds: 1\n");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/api/query/hybrid")
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(slow_request()))
            .unwrap();
        app.oneshot(req).await.unwrap().status()
    });
    assert_eq!(status, axum::http::StatusCode::GATEWAY_TIMEOUT);
    assert!(cancelled_on_bigquery(&server), "the job was not cancelled");
}

/// A client that hangs up mid-request (a closed socket, as a killed agent leaves it)
/// cancels the run and its BigQuery job. Guards against the run going on unseen.
#[test]
fn a_dropped_http_request_cancels_its_bigquery_job() {
    use tokio::io::AsyncWriteExt;
    let ws = Workspace::new();
    let server = slow_bigquery(&ws);
    let app = bq_app(&ws, &server, "");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let body = slow_request();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/query/hybrid HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        client.write_all(head.as_bytes()).await.unwrap();
        client.write_all(body.as_bytes()).await.unwrap();
        // The alias job is now waiting on BigQuery; hang up.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert!(
            !server.seen().iter().any(|s| s.path.ends_with("/cancel")),
            "cancelled before the client left"
        );
        drop(client);
        tokio::task::spawn_blocking(move || {
            assert!(cancelled_on_bigquery(&server), "the job was not cancelled");
        })
        .await
        .unwrap();
    });
}
