//! Hostile inputs that must end as an answer, not as a hang or a crash: expensive
//! templates, symlink loops, slow clients, timed-out requests that keep their slot.
//! The server tests talk to a real loopback socket, as a client would.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Workspace, da_cmd, stdout};
use crate::server::{ADMIN, ANALYST, DEMO_ANALYTICS, server_settings};

/// Plans whose templates would loop 10^8 times or build gigabytes of text.
const EXPENSIVE_TEMPLATES: &[&str] = &[
    "version: 1\nname: t\nsql: |\n  SELECT 1\n  {% for i in range(100000000) %}UNION ALL SELECT 1{% endfor %}\n",
    "version: 1\nname: t\nsql: |\n  SELECT 1\n  {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n",
    "version: 1\nname: t\nsql: |\n  SELECT 1\n  WHERE a = {{ 'x' * 100000000 }}\n",
    "version: 1\nname: t\nsql: |\n  SELECT 1\n  {% set a = 'x' * 1000000 %}{% for i in range(40) %}{% set a = a ~ a %}{% endfor %}\n",
];

/// Wait for a child for at most `limit`; kill it and fail if it is still running.
fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("da did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Guards against `plan check` hanging or aborting on a template that never ends.
#[test]
fn plan_check_stops_expensive_templates_with_a_diagnostic_at_their_line() {
    let ws = Workspace::new();
    for (i, text) in EXPENSIVE_TEMPLATES.iter().enumerate() {
        let plan = ws.plan(&format!("p{i}.yaml"), text);
        let child = spawn(da_cmd(ws.dir.path()).args([
            "plan",
            "check",
            plan.to_str().unwrap(),
            "--format",
            "json",
        ]));
        let out = wait_bounded(child, Duration::from_secs(120));
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let d = &v["files"][0]["diagnostics"][0];
        assert_eq!(d["code"], "template_too_expensive", "{text}: {v}");
        assert_eq!(d["line"], 5, "{text}: {v}");
    }
}

/// Guards against `plan check DIR` recursing forever through symlinked folders.
#[cfg(unix)]
#[test]
fn plan_check_of_a_folder_ends_on_symlink_loops() {
    let ws = Workspace::new();
    let dir = ws.path("plans");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/a.yaml"),
        "version: 1\nname: a\nsql: SELECT 1\n",
    )
    .unwrap();
    // Two loops: followed blindly, the walk branches twice per level.
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("sub/here")).unwrap();
    let child = spawn(da_cmd(ws.dir.path()).args(["plan", "check", "plans", "--format", "json"]));
    let out = wait_bounded(child, Duration::from_secs(120));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 1, "{v}");
}

/// `da serve` over the demo warehouse on a loopback port; `server` adds keys under
/// `server:`. The server runs until the test's runtime ends.
async fn serve(ws: &Workspace, server: &str) -> SocketAddr {
    serve_with(ws, server, "").await
}

/// As [`serve`], with `top` added as top-level keys of the config.
async fn serve_with(ws: &Workspace, server: &str, top: &str) -> SocketAddr {
    let settings = server_settings(ws, DEMO_ANALYTICS, server, top);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(da::server::serve_on(
        listener,
        settings,
        crate::common::workers(),
        std::future::pending(),
    ));
    addr
}

/// Everything the server sends until it closes the connection, or what arrived by
/// `limit` (a bound for a hung server, not a speed assertion).
async fn read_all(stream: &mut TcpStream, limit: Duration) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// One request on its own connection: (status, JSON body).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: da\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let response = read_all(&mut stream, Duration::from_secs(120)).await;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// Guards against an analyst token freezing or killing the server with a template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_check_over_http_answers_expensive_templates_and_keeps_serving() {
    let ws = Workspace::new();
    let addr = serve(&ws, "").await;
    for text in EXPENSIVE_TEMPLATES {
        let (status, v) = request(addr, "POST", "/api/plan/check", ANALYST, text).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["ok"], false);
        assert_eq!(v["diagnostics"][0]["code"], "template_too_expensive", "{v}");
    }
    let (status, v) = request(addr, "GET", "/healthz", "", "").await;
    assert_eq!((status, &v["status"]), (200, &json!("ok")));
}

/// Guards against slow clients holding connections: a body that stops arriving gets
/// 408, a caller without a token is answered before the server waits for any body, and
/// headers that stop arriving end with the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_after_the_read_timeout() {
    let ws = Workspace::new();
    let addr = serve(&ws, "  read_timeout_seconds: 1\n").await;
    let partial_body = |auth: &str| {
        format!(
            "POST /api/plan/check HTTP/1.1\r\nHost: da\r\n{auth}Content-Length: 1000\r\n\r\nversion: 1\n"
        )
    };

    let mut slow = TcpStream::connect(addr).await.unwrap();
    let head = partial_body(&format!("Authorization: Bearer {ANALYST}\r\n"));
    slow.write_all(head.as_bytes()).await.unwrap();
    let response = read_all(&mut slow, Duration::from_secs(60)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");

    let mut anonymous = TcpStream::connect(addr).await.unwrap();
    anonymous
        .write_all(partial_body("").as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(60), anonymous.read_exact(&mut first))
        .await
        .expect("an unauthenticated request is answered without waiting for its body")
        .unwrap();
    assert_eq!(&first, b"HTTP/1.1 401");

    let mut slow_headers = TcpStream::connect(addr).await.unwrap();
    slow_headers
        .write_all(b"POST /api/plan/check HTTP/1.1\r\nHost: da\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(60), slow_headers.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection is still open");
}

/// Guards against a timed-out request keeping its concurrency slot: once its work is
/// interrupted, the next request is served instead of getting 429 until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_timed_out_gives_back_its_slot() {
    let slow = "SELECT count(*) FROM orders a, orders b, orders c, orders d WHERE a.amount + b.amount > c.amount + d.amount";
    times_out_then_the_slot_serves_again(slow, 1).await;
}

/// With one slot and a `timeout_seconds` request timeout, `sql` gets 504; then a quick
/// query, polled while the server answers 429 (a bound for a slot never given back, not a
/// speed assertion), gets its rows.
async fn times_out_then_the_slot_serves_again(sql: &str, timeout_seconds: u64) {
    let ws = Workspace::new();
    let server =
        format!("  max_concurrent_queries: 1\n  request_timeout_seconds: {timeout_seconds}\n");
    let addr = serve(&ws, &server).await;
    let body = json!({ "sql": sql }).to_string();
    let (status, v) = request(addr, "POST", "/api/query/hybrid", ADMIN, &body).await;
    assert_eq!(status, 504, "{v}");
    let quick = json!({"sql": "SELECT 1 AS one"}).to_string();
    let mut last = (0, Value::Null);
    for _ in 0..80 {
        last = request(addr, "POST", "/api/query/hybrid", ADMIN, &quick).await;
        if last.0 != 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last.0, 200, "{}", last.1);
    assert_eq!(last.1["rows"], json!([[1]]));
}

/// Guards against a final step stuck in one expression holding its slot: DuckDB never
/// sees the interrupt inside it (it folds the constant while preparing, for minutes), so
/// only a worker process that is stopped gives the slot back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_step_stuck_in_one_expression_gives_back_its_slot() {
    let stuck = "SELECT levenshtein(repeat('a', 400000), repeat('b', 400000)) AS d";
    times_out_then_the_slot_serves_again(stuck, 2).await;
}

/// Guards against one huge value taking the server's memory: DuckDB's `memory_limit`
/// does not count a string built by one expression, so the worker's own cap stops it,
/// the client gets `memory_limit`, and the server carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_larger_than_the_worker_cap_fails_with_memory_limit() {
    let ws = Workspace::new();
    let addr = serve_with(&ws, "", "worker: {memory_mb: 512}\n").await;
    // Fine for this machine, three times the worker's cap: 1.5 GB in one string (DuckDB
    // fails the allocation), and 1.5 GB of result rows to send back (the answer's
    // encoding runs out, in DuckDB's Arrow export or in Rust, where the worker aborts).
    for sql in [
        "SELECT length(repeat('x', 1500000000)) AS n",
        "SELECT repeat('x', 1000000) AS s FROM range(1500)",
    ] {
        let bomb = json!({ "sql": sql }).to_string();
        let (status, v) = request(addr, "POST", "/api/query/hybrid", ADMIN, &bomb).await;
        assert_eq!(
            (status, &v["error_type"]),
            (400, &json!("memory_limit")),
            "{sql}: {v}"
        );
        // Read as any DuckDB error, not as DuckDB's JSON error data.
        let message = v["message"].as_str().unwrap();
        assert!(!message.contains("exception_type"), "{message}");
    }
    let quick = json!({"sql": "SELECT 1 AS one"}).to_string();
    let (status, v) = request(addr, "POST", "/api/query/hybrid", ADMIN, &quick).await;
    assert_eq!((status, &v["rows"]), (200, &json!([[1]])), "{v}");
}

/// Guards against an alias silently replacing an analytics table in the final step: an
/// alias named like one is refused unless it says `shadow: true`, and then it is what the
/// final step reads.
#[test]
fn an_alias_that_hides_an_analytics_table_needs_shadow_true() {
    let ws = Workspace::new();
    let plan = |shadow: &str| {
        format!(
            "version: 1\nname: s\nregister_bq:\n  orders:\n    sql: SELECT count(*) AS c FROM `acme-prod.analytics.web`\n{shadow}sql: SELECT count(*) AS n FROM orders\noutputs: [{{path: n.json}}]\n"
        )
    };
    ws.plan("refused.yaml", &plan(""));
    let out = ws.run("refused.yaml", &["--quiet"]);
    let err = crate::common::stderr(&out);
    assert_ne!(crate::common::code(&out), 0, "{err}");
    assert!(
        err.contains("error[query_error]")
            && err.contains("alias `orders`")
            && err.contains("analytics.main.orders"),
        "{err}"
    );

    ws.plan("allowed.yaml", &plan("    shadow: true\n"));
    let out = ws.run("allowed.yaml", &["--quiet"]);
    assert_eq!(
        crate::common::code(&out),
        0,
        "{}",
        crate::common::stderr(&out)
    );
    let counted: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("n.json")).unwrap()).unwrap();
    // The alias's one row, not the orders table's rows.
    assert_eq!(counted[0]["n"], 1, "{counted}");
}
