//! `da mcp` end to end: the real binary as a child process, driven with plain JSON-RPC over
//! its stdin/stdout the way an agent client drives it: initialize, tools/list, then each
//! tool's happy path and its error path.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TWO_ALIASES, Workspace};
use crate::common::{da_cmd, da_in, root, stdout};

/// One MCP session with a `da mcp` child process.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Every stdout line, read on a thread so a hung server fails the test instead of
    /// hanging it.
    lines: Receiver<String>,
    next_id: u64,
}

impl Session {
    /// Start `da mcp --config <config>` in `dir` and complete the initialize handshake.
    fn start(dir: &Path, config: &str) -> (Self, Value) {
        let mut cmd = da_cmd(dir);
        cmd.args(["mcp", "--config", config])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("da mcp starts");
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut session = Self {
            child,
            stdin,
            lines,
            next_id: 1,
        };
        let init = session.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "da-tests", "version": "0"}
            }),
        );
        session.notify("notifications/initialized", json!({}));
        (session, init)
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().expect("the session is open");
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Send a request and wait for its response; every line on stdout must be JSON-RPC.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .expect("the server answers within two minutes");
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carries only JSON-RPC, got {line:?}: {e}"));
            assert_eq!(message["jsonrpc"], "2.0", "{line}");
            if message["id"] == id {
                return message;
            }
        }
    }

    /// Call a tool; returns `(isError, structuredContent)`.
    fn call(&mut self, tool: &str, arguments: Value) -> (bool, Value) {
        let response = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let result = &response["result"];
        assert!(result.is_object(), "a tool result: {response}");
        // The text content mirrors the structured content for clients that read only text.
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        let structured = result["structuredContent"].clone();
        assert_eq!(
            serde_json::from_str::<Value>(text).ok().as_ref(),
            Some(&structured),
            "{response}"
        );
        (result["isError"] == true, structured)
    }

    /// Close stdin (the client hangs up) and return the exit code and stderr.
    fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

const BASE_CONFIG: &str = "bigquery:\n  backend: local\n  local_warehouse: warehouse\nanalytics:\n  database: analytics.duckdb\n";

/// The demo workspace with a config allowing runs into `mcp-out/`.
fn workspace_allowing_runs() -> Workspace {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("mcp.yaml"),
        format!("{BASE_CONFIG}mcp:\n  allow_run: true\n  output_dir: mcp-out\n"),
    )
    .unwrap();
    ws
}

const SMALL_PLAN: &str = "version: 1\nname: regions\nsql: SELECT region, count(*) AS n FROM customers GROUP BY ALL ORDER BY region\n";

#[test]
fn initialize_and_list_tools_with_input_and_output_schemas() {
    let ws = workspace_allowing_runs();
    let (session, init) = Session::start(ws.dir.path(), "mcp.yaml");
    let result = &init["result"];
    assert_eq!(result["serverInfo"]["name"], "da", "{init}");
    assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(result["capabilities"]["tools"].is_object(), "{init}");
    assert!(
        result["instructions"]
            .as_str()
            .unwrap()
            .contains("plan_check")
    );

    let mut session = session;
    let list = session.request("tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "catalog",
            "plan_check",
            "plan_estimate",
            "plan_run",
            "plan_schema"
        ]
    );
    for tool in tools {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        assert!(!tool["description"].as_str().unwrap().is_empty());
    }
    let check = tools.iter().find(|t| t["name"] == "plan_check").unwrap();
    for field in ["plan", "path", "syntax", "params"] {
        assert!(
            check["inputSchema"]["properties"][field].is_object(),
            "{field}: {check}"
        );
    }
    let run = tools.iter().find(|t| t["name"] == "plan_run").unwrap();
    assert!(run["inputSchema"]["properties"]["max_rows"].is_object());
    assert!(run["outputSchema"]["properties"]["truncated"].is_object());

    let (code, stderr) = session.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("da mcp: serving"),
        "logs go to stderr: {stderr}"
    );
}

#[test]
fn plan_check_reports_what_the_cli_reports() {
    let ws = workspace_allowing_runs();
    let bad = "version: 1\nname: bad\nsql: SELECT * FROM read_csv('/etc/passwd')\n";
    ws.plan("bad.yaml", bad);
    let (mut session, _) = Session::start(ws.dir.path(), "mcp.yaml");

    let (is_error, ok) = session.call("plan_check", json!({"plan": SMALL_PLAN}));
    assert!(!is_error, "{ok}");
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["summary"]["errors"], 0);

    // By path: the same files[] entry as `da plan check --format json`.
    let (is_error, by_path) = session.call("plan_check", json!({"path": "bad.yaml"}));
    assert!(
        !is_error,
        "an invalid plan is a finished check, not a failed call"
    );
    assert_eq!(by_path["ok"], false);
    let cli = da_in(
        ws.dir.path(),
        &[
            "plan", "check", "--format", "json", "bad.yaml", "--config", "mcp.yaml",
        ],
    );
    let cli: Value = serde_json::from_str(&stdout(&cli)).unwrap();
    assert_eq!(by_path["files"], cli["files"]);
    assert_eq!(by_path["summary"], cli["summary"]);
    let codes: Vec<&str> = by_path["files"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"sql_table_function"), "{codes:?}");

    // As text, TOML, with the same diagnostics as from the file.
    let toml = "version = 1\nname = \"t\"\nsql = \"SELECT 1 AS one\"\n";
    let (_, toml) = session.call("plan_check", json!({"plan": toml, "syntax": "toml"}));
    assert_eq!(toml["ok"], true, "{toml}");

    // Neither text nor path: a typed usage error.
    let (is_error, err) = session.call("plan_check", json!({}));
    assert!(is_error);
    assert_eq!(err["error_type"], "usage", "{err}");
    let (is_error, err) = session.call("plan_check", json!({"path": "missing.yaml"}));
    assert!(is_error);
    assert_eq!(err["error_type"], "io_error", "{err}");
    // Only plan files are read: the tool is no way to peek into other files.
    let (is_error, err) = session.call("plan_check", json!({"path": "/etc/passwd"}));
    assert!(is_error);
    assert_eq!(err["error_type"], "usage", "{err}");
    // A parameter that is not a scalar is refused the same way.
    let (is_error, err) = session.call(
        "plan_check",
        json!({"plan": SMALL_PLAN, "params": {"x": [1, 2]}}),
    );
    assert!(is_error);
    assert_eq!(err["error_type"], "usage", "{err}");
    // An unknown argument is refused before the tool runs: the input schema is closed.
    let response = session.request(
        "tools/call",
        json!({"name": "plan_check", "arguments": {"plan": SMALL_PLAN, "sql": "x"}}),
    );
    assert_eq!(response["result"]["isError"], true, "{response}");
    let text = response["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("unknown field `sql`"), "{response}");
    assert_eq!(session.finish().0, 0);
}

#[test]
fn plan_estimate_is_the_cli_estimate_and_never_guesses() {
    let ws = workspace_allowing_runs();
    ws.plan("two.yaml", TWO_ALIASES);
    let (mut session, _) = Session::start(ws.dir.path(), "mcp.yaml");
    let (is_error, out) = session.call("plan_estimate", json!({"path": "two.yaml"}));
    assert!(!is_error, "{out}");
    // The local backend bills nothing: no bytes, no dollars, but the columns are known.
    assert_eq!(out["available"], false);
    assert!(
        out["reason"].as_str().unwrap().contains("local backend"),
        "{out}"
    );
    let estimate = &out["estimate"];
    assert_eq!(estimate["backend"], "local");
    assert_eq!(estimate["total_bytes"], Value::Null, "{out}");
    let aliases = estimate["aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 2);
    assert!(
        aliases
            .iter()
            .all(|a| a["bytes"].is_null() && a["usd"].is_null())
    );
    assert_eq!(aliases[0]["columns"][0][0], "date", "{out}");
    let cli = da_in(
        ws.dir.path(),
        &[
            "plan", "estimate", "--format", "json", "two.yaml", "--config", "mcp.yaml",
        ],
    );
    let cli: Value = serde_json::from_str(&stdout(&cli)).unwrap();
    assert_eq!(estimate, &cli);

    let (is_error, err) = session.call("plan_estimate", json!({"plan": "version: 1\nname: x\n"}));
    assert!(is_error);
    assert_eq!(err["error_type"], "plan_invalid", "{err}");
    assert!(!err["details"]["diagnostics"].as_array().unwrap().is_empty());
    assert_eq!(session.finish().0, 0);
}

#[test]
fn plan_run_returns_rows_writes_outputs_only_under_the_output_folder_and_types_errors() {
    let ws = workspace_allowing_runs();
    let (mut session, _) = Session::start(ws.dir.path(), "mcp.yaml");

    // No outputs: rows come back, nothing is written.
    let (is_error, run) = session.call("plan_run", json!({"plan": SMALL_PLAN}));
    assert!(!is_error, "{run}");
    assert_eq!(run["backend"], "none", "no aliases, no backend asked");
    assert_eq!(run["row_count"], 3);
    assert_eq!(run["truncated"], false);
    assert_eq!(run["rows"][0], json!({"region": "APAC", "n": 83}));
    assert_eq!(run["columns"][1]["name"], "n");
    assert!(!ws.path("mcp-out").exists());

    // Outputs land under mcp.output_dir; `max_result_rows` truncates the rows shown and
    // `max_rows` cuts what is sent back further.
    let plan =
        format!("{TWO_ALIASES}outputs:\n  - path: sub/r.csv\nlimits: {{max_result_rows: 10}}\n");
    let (is_error, run) = session.call(
        "plan_run",
        json!({"plan": plan, "params": {"since": "2026-03-01"}, "max_rows": 4}),
    );
    assert!(!is_error, "{run}");
    assert_eq!(run["backend"], "local");
    assert_eq!(run["row_count"], 10);
    assert_eq!(run["truncated"], true);
    assert_eq!(run["returned_rows"], 4);
    assert_eq!(run["rows"].as_array().unwrap().len(), 4);
    assert_eq!(run["aliases"].as_array().unwrap().len(), 2);
    let written = ws.path("mcp-out/sub/r.csv");
    let csv = std::fs::read_to_string(&written).unwrap();
    // Output files hold the whole result; max_result_rows limits only what is shown.
    assert_eq!(csv.lines().count(), 62, "header and all 61 rows: {csv}");
    let reported = Path::new(run["outputs"][0]["path"].as_str().unwrap());
    assert_eq!(reported, written.canonicalize().unwrap());
    assert!(
        !ws.path("sub").exists(),
        "nothing next to the (in-memory) plan"
    );

    // Typed errors, as `da plan run` has them.
    let (is_error, err) = session.call(
        "plan_run",
        json!({"plan": "version: 1\nname: q\nsql: SELECT * FROM no_such_table\n"}),
    );
    assert!(is_error);
    assert_eq!(err["error_type"], "query_error", "{err}");
    let limited = "version: 1\nname: l\nregister_bq:\n  web: SELECT * FROM `analytics.web`\nsql: SELECT count(*) FROM web\nlimits: {max_bq_registration_rows: 5}\n";
    let (_, err) = session.call("plan_run", json!({"plan": limited}));
    assert_eq!(err["error_type"], "row_limit", "{err}");
    assert_eq!(err["details"]["max"], 5, "{err}");
    let (_, err) = session.call(
        "plan_run",
        json!({"plan": TWO_ALIASES, "params": {"since": "soon"}}),
    );
    assert_eq!(err["error_type"], "plan_invalid", "{err}");
    let (_, err) = session.call("plan_run", json!({"path": "missing.yaml"}));
    assert_eq!(err["error_type"], "io_error", "{err}");

    let (code, stderr) = session.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("plan_run: row_limit"),
        "each call is logged: {stderr}"
    );
}

/// Guards against one plan taking the agent's session down with one huge value: DuckDB's
/// `memory_limit` does not count it, the worker's cap stops it with `memory_limit`, and
/// the session goes on to run the next plan.
#[test]
fn a_plan_past_the_worker_memory_cap_fails_with_memory_limit_and_the_session_goes_on() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("capped.yaml"),
        format!("{BASE_CONFIG}mcp:\n  allow_run: true\nworker: {{memory_mb: 512}}\n"),
    )
    .unwrap();
    let (mut session, _) = Session::start(ws.dir.path(), "capped.yaml");
    // 1.5 GB in one string: fine for this machine, three times the worker's cap.
    let bomb = "version: 1\nname: bomb\nsql: SELECT length(repeat('x', 1500000000)) AS n\n";
    let (is_error, err) = session.call("plan_run", json!({"plan": bomb}));
    assert!(is_error, "{err}");
    assert_eq!(err["error_type"], "memory_limit", "{err}");
    let (is_error, run) = session.call("plan_run", json!({"plan": SMALL_PLAN}));
    assert!(!is_error, "{run}");
    assert_eq!(run["row_count"], 3);
    assert_eq!(session.finish().0, 0);
}

/// CPU seconds (user + system) used so far by `pid` and by its children still running,
/// from `/proc/*/stat`.
#[cfg(target_os = "linux")]
fn cpu_seconds(pid: u32) -> f64 {
    // The fields after the command name (which may hold spaces), from `state` on: the
    // parent pid is the second, utime and stime the 12th and 13th, in clock ticks (100 per
    // second on Linux).
    let fields = |stat: &str| -> Vec<String> {
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        after.split_whitespace().map(str::to_owned).collect()
    };
    let ticks = |f: &[String]| f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    let own = fields(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap());
    let children: f64 = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .map(|stat| fields(&stat))
        .filter(|f| f.len() > 12 && f[1] == pid.to_string())
        .map(|f| ticks(&f))
        .sum();
    (ticks(&own) + children) / 100.0
}

/// Guards against a timed-out plan burning the session's CPU: one `levenshtein` of two
/// long strings ignores DuckDB's interrupt for minutes, so only ending the worker process
/// it runs in stops it. Once `plan_run` has answered `timeout`, `da mcp` (and any worker
/// it still has) uses next to no CPU, where the abandoned work would use a whole core.
#[cfg(target_os = "linux")]
#[test]
fn a_timed_out_plan_stops_using_the_cpu() {
    let ws = workspace_allowing_runs();
    let (mut session, _) = Session::start(ws.dir.path(), "mcp.yaml");
    let stuck = "version: 1\nname: stuck\nsql: SELECT levenshtein(repeat('a', 400000), repeat('b', 400000)) AS d\nlimits: {timeout_seconds: 1}\n";
    let (is_error, err) = session.call("plan_run", json!({"plan": stuck}));
    assert!(is_error, "{err}");
    assert_eq!(err["error_type"], "timeout", "{err}");
    let pid = session.child.id();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - before;
    assert!(
        used < 0.5,
        "da mcp and its workers used {used:.2} s of CPU in 2 s after the timeout"
    );
    assert_eq!(session.finish().0, 0);
}

#[test]
fn plan_run_is_refused_unless_the_instance_allows_it_and_has_an_output_folder() {
    let ws = Workspace::new();
    std::fs::write(ws.path("off.yaml"), BASE_CONFIG).unwrap();
    let (mut session, _) = Session::start(ws.dir.path(), "off.yaml");
    let (is_error, err) = session.call("plan_run", json!({"plan": SMALL_PLAN}));
    assert!(is_error);
    assert_eq!(err["error_type"], "run_disabled", "{err}");
    assert!(err["hint"].as_str().unwrap().contains("mcp.allow_run"));
    assert_eq!(session.finish().0, 0);

    std::fs::write(
        ws.path("no-dir.yaml"),
        format!("{BASE_CONFIG}mcp:\n  allow_run: true\n"),
    )
    .unwrap();
    let (mut session, _) = Session::start(ws.dir.path(), "no-dir.yaml");
    let plan = format!("{SMALL_PLAN}outputs:\n  - path: r.csv\n");
    let (is_error, err) = session.call("plan_run", json!({"plan": plan}));
    assert!(is_error);
    assert_eq!(err["error_type"], "output_not_allowed", "{err}");
    assert!(!ws.path("r.csv").exists());
    // Without outputs the same instance still answers with rows.
    let (is_error, _) = session.call("plan_run", json!({"plan": SMALL_PLAN}));
    assert!(!is_error);
    assert_eq!(session.finish().0, 0);
}

#[test]
fn catalog_lists_tables_and_typed_columns_or_says_why_not() {
    let ws = workspace_allowing_runs();
    let (mut session, _) = Session::start(ws.dir.path(), "mcp.yaml");
    let (is_error, catalog) = session.call("catalog", json!({}));
    assert!(!is_error, "{catalog}");
    assert_eq!(catalog["default_database"], "analytics");
    let names: Vec<&str> = catalog["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["qualified_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customers", "orders"]);
    let orders = &catalog["relations"][1];
    assert_eq!(orders["kind"], "table");
    assert_eq!(
        orders["columns"][3],
        json!({"name": "amount", "data_type": "DECIMAL(12,2)", "nullable": true})
    );
    assert_eq!(catalog["databases"][0]["read_only"], true);
    assert_eq!(session.finish().0, 0);

    std::fs::write(
        ws.path("gone.yaml"),
        "analytics:\n  database: no-such.duckdb\n",
    )
    .unwrap();
    let (mut session, _) = Session::start(ws.dir.path(), "gone.yaml");
    let (is_error, err) = session.call("catalog", json!({}));
    assert!(is_error);
    assert_eq!(err["error_type"], "query_error", "{err}");
    assert!(err["message"].as_str().unwrap().contains("does not exist"));
    assert!(
        !ws.path("no-such.duckdb").exists(),
        "read-only: nothing created"
    );
    assert_eq!(session.finish().0, 0);
}

#[test]
fn plan_schema_is_the_committed_schema() {
    let ws = workspace_allowing_runs();
    let (mut session, _) = Session::start(ws.dir.path(), "mcp.yaml");
    let (is_error, out) = session.call("plan_schema", json!({}));
    assert!(!is_error);
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/plan.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(out["schema"], committed);
    // An unknown tool is a protocol error, not a crash.
    let response = session.request(
        "tools/call",
        json!({"name": "drop_tables", "arguments": {}}),
    );
    assert!(response["error"].is_object(), "{response}");
    assert_eq!(session.finish().0, 0);
}

/// An agent asking for a plan's aliases gets their locked result columns with the catalog,
/// so it can write the final step without a dry run; only plan files are read.
#[test]
fn catalog_adds_the_locked_alias_schemas_of_the_plans_asked_for() {
    let ws = workspace_allowing_runs();
    std::fs::copy(
        root().join("examples/traffic.yaml.lock"),
        ws.path("traffic.yaml.lock"),
    )
    .unwrap();
    let (mut session, _) = Session::start(ws.dir.path(), "mcp.yaml");
    let (is_error, catalog) = session.call(
        "catalog",
        json!({"plans": ["traffic.yaml", "unlocked.yaml"]}),
    );
    assert!(!is_error, "{catalog}");
    let traffic = &catalog["locked_aliases"]["traffic.yaml"]["traffic"];
    let names: Vec<&str> = traffic
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["date", "views"], "{catalog}");
    assert!(catalog["locked_aliases"].get("unlocked.yaml").is_none());
    assert_eq!(
        catalog["default_database"], "analytics",
        "the catalog is still there"
    );
    let (is_error, err) = session.call("catalog", json!({"plans": ["/etc/passwd"]}));
    assert!(is_error, "{err}");
    assert_eq!(session.finish().0, 0);
}
