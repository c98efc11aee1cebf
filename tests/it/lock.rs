//! Binding the final step before paying: at run time on the local backend, and offline in
//! `da plan check` from a lock file (`da plan lock`) and the analytics catalog or a snapshot.

use std::path::Path;

use serde_json::Value;

use crate::common::{Workspace, code, da_in, root, stderr, stdout};

const PLAN: &str = r"
version: 1
name: locked
register_bq:
  traffic:
    sql: SELECT date, SUM(views) AS views FROM `acme-prod.analytics.web` GROUP BY date
    max_rows: 1
sql: |
  SELECT o.date, t.views
  FROM orders o JOIN traffic t USING (date)
outputs:
  - path: out/result.csv
";

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn diagnostics(out: &std::process::Output) -> Vec<Value> {
    json(out)["files"][0]["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `da plan lock plan.yaml` on the local backend, which must succeed.
fn lock_plan(dir: &Path) {
    let out = da_in(
        dir,
        &["plan", "lock", "plan.yaml", "--config", "instance.yaml"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

fn check(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["plan", "check", "--format", "json"];
    all.extend_from_slice(args);
    da_in(dir, &all)
}

/// Item 1 on the local backend: a typo in the final step fails as `query_error` with a
/// "did you mean" hint before any alias is counted or fetched. Guards against the bind
/// running after the precheck: `max_rows: 1` would fail the precheck with `row_limit`.
#[test]
fn a_misspelt_final_column_fails_on_the_local_backend_before_any_precheck() {
    let ws = Workspace::new();
    ws.plan("plan.yaml", &PLAN.replace("t.views\n", "t.viewz\n"));
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error[query_error]"), "{err}");
    assert!(err.contains("did you mean `views`?"), "{err}");
    assert!(err.contains("nothing was billed or downloaded"), "{err}");
    assert!(!ws.path("out/result.csv").exists());
}

/// The offline bind finds the typo at its line in the plan file, with the alias columns in
/// a structured field, from committed fixtures only: no config, no database, no server.
#[test]
fn a_lock_and_a_snapshot_flag_a_misspelt_column_at_its_line_with_no_server() {
    let out = check(
        &root(),
        &[
            "tests/fixtures/lock/misspelt.yaml",
            "--schema-snapshot",
            "tests/fixtures/lock/analytics.schema.json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let diags = diagnostics(&out);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "unknown_column");
    // `t.viewz` is on line 17 of the plan file, column 10.
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(17), Some(10)),
        "{d}"
    );
    assert_eq!(d["pointer"], "/sql");
    assert!(
        d["hint"]
            .as_str()
            .unwrap()
            .contains("did you mean `views`?"),
        "{d}"
    );
    let traffic = d["available"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["relation"] == "traffic")
        .unwrap_or_else(|| panic!("{d}"));
    assert_eq!(traffic["kind"], "alias");
    assert_eq!(traffic["columns"], serde_json::json!(["date", "views"]));
    assert!(
        d["available"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["relation"] == "orders"),
        "the local table the step reads is listed too: {d}"
    );
    // Every format carries the same finding at the same place.
    for (format, needle) in [
        ("github", "line=17,col=10,title=unknown_column"),
        ("human", "misspelt.yaml:17:10"),
        ("sarif", "\"startLine\": 17"),
    ] {
        let out = da_in(
            &root(),
            &[
                "plan",
                "check",
                "tests/fixtures/lock/misspelt.yaml",
                "--schema-snapshot",
                "tests/fixtures/lock/analytics.schema.json",
                "--format",
                format,
            ],
        );
        assert_eq!(code(&out), 1);
        assert!(stdout(&out).contains(needle), "{format}: {}", stdout(&out));
    }
}

/// `plan lock` from the local warehouse, `--check` while current, then an edited alias:
/// `plan check` says `stale_lock` at the alias and `plan lock --check` exits 1 without
/// writing. Guards against a lock that silently describes SQL that is no longer there.
#[test]
fn editing_an_alias_makes_the_lock_stale() {
    let ws = Workspace::new();
    let dir = ws.dir.path();
    ws.plan("plan.yaml", PLAN);
    lock_plan(dir);
    let lock = std::fs::read_to_string(ws.path("plan.yaml.lock")).unwrap();
    let locked: Value = serde_json::from_str(&lock).unwrap();
    assert_eq!(
        locked["aliases"]["traffic"]["columns"][1]["type"], "INT64",
        "{lock}"
    );
    let fresh = da_in(
        dir,
        &[
            "plan",
            "lock",
            "plan.yaml",
            "--config",
            "instance.yaml",
            "--check",
        ],
    );
    assert_eq!(code(&fresh), 0, "{}", stdout(&fresh));
    let ok = check(dir, &["plan.yaml", "--config", "instance.yaml"]);
    assert_eq!(code(&ok), 0, "{}", stdout(&ok));

    ws.plan("plan.yaml", &PLAN.replace("GROUP BY date", "GROUP BY 1"));
    let out = check(dir, &["plan.yaml", "--config", "instance.yaml"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let diags = diagnostics(&out);
    assert_eq!(diags[0]["code"], "stale_lock", "{diags:?}");
    assert_eq!(diags[0]["line"], 5, "at the alias: {diags:?}");
    assert_eq!(diags[0]["pointer"], "/register_bq/traffic");
    let stale = da_in(
        dir,
        &[
            "plan",
            "lock",
            "plan.yaml",
            "--config",
            "instance.yaml",
            "--check",
        ],
    );
    assert_eq!(code(&stale), 1, "{}", stdout(&stale));
    assert!(
        stdout(&stale).contains("its SQL changed"),
        "{}",
        stdout(&stale)
    );
    assert_eq!(
        std::fs::read_to_string(ws.path("plan.yaml.lock")).unwrap(),
        lock
    );
    let missing = da_in(
        dir,
        &[
            "plan",
            "lock",
            "nolock.yaml",
            "--check",
            "--config",
            "instance.yaml",
        ],
    );
    assert_eq!(code(&missing), 2, "an unreadable plan is a usage error");
}

/// A snapshot written by `da schema snapshot` stands in for the database: the same plan
/// gives the same finding either way, and every binder code comes out of its message.
#[test]
fn a_snapshot_stands_in_for_the_analytics_database() {
    let ws = Workspace::new();
    let dir = ws.dir.path();
    let snap = da_in(dir, &["schema", "snapshot", "--config", "instance.yaml"]);
    assert_eq!(code(&snap), 0, "{}", stderr(&snap));
    std::fs::write(ws.path("analytics.schema.json"), &snap.stdout).unwrap();
    ws.plan("plan.yaml", PLAN);
    lock_plan(dir);
    let cases = [
        (
            "FROM orders o",
            "FROM ordrs o",
            "unknown_table",
            Some("did you mean `orders`?"),
        ),
        (
            "SELECT o.date, t.views",
            "SELECT make_timestamptz(2026, 1, 1, 0, 0, 0), t.views",
            "unknown_function",
            None,
        ),
        (
            "SELECT o.date, t.views",
            "SELECT o.date, t.views + o.date",
            "type_mismatch",
            None,
        ),
        // A call no overload takes: the hint names the function's signatures, not tables.
        (
            "SELECT o.date, t.views",
            "SELECT o.date, strftime(t.views, 3) AS s",
            "type_mismatch",
            Some("`strftime` takes: strftime("),
        ),
    ];
    for (from, to, expected, hint) in cases {
        ws.plan("plan.yaml", &PLAN.replace(from, to));
        // The lock stays current: only the final step changed.
        for catalog in [
            ["--db", "analytics.duckdb"],
            ["--schema-snapshot", "analytics.schema.json"],
        ] {
            let mut args = vec!["plan.yaml"];
            args.extend_from_slice(&catalog);
            let out = check(dir, &args);
            assert_eq!(code(&out), 1, "{to}: {}", stdout(&out));
            let diags = diagnostics(&out);
            let d = diags.iter().find(|d| d["severity"] == "error").unwrap();
            assert_eq!(d["code"], expected, "{to} with {catalog:?}: {d}");
            assert!(d["line"].as_u64().unwrap() >= 9, "{d}");
            if let Some(hint) = hint {
                assert!(d["hint"].as_str().unwrap().contains(hint), "{d}");
            }
        }
    }
}

/// Guards `da plan check` against a final step whose constants take minutes to work out
/// (DuckDB computes them while it prepares, and cannot be interrupted inside one): the
/// offline bind gives up at the plan's `limits.timeout_seconds` with `bind_timeout` at the
/// `sql` key, instead of hanging the check (or a CI job, or an agent).
#[test]
fn a_costly_constant_in_the_final_step_times_out_the_offline_bind() {
    let ws = Workspace::new();
    let dir = ws.dir.path();
    ws.plan("plan.yaml", PLAN);
    lock_plan(dir);
    let costly = PLAN.replace(
        "SELECT o.date, t.views",
        "SELECT o.date, t.views, levenshtein(repeat('a', 400000), repeat('b', 400000)) AS d",
    ) + "limits: {timeout_seconds: 1}\n";
    ws.plan("plan.yaml", &costly);
    let started = std::time::Instant::now();
    let out = check(dir, &["plan.yaml", "--db", "analytics.duckdb"]);
    // Not a speed target: the constant alone takes minutes to compute.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let diags = diagnostics(&out);
    let d = diags.iter().find(|d| d["severity"] == "error").unwrap();
    assert_eq!(d["code"], "bind_timeout", "{d}");
    assert_eq!(d["pointer"], "/sql", "{d}");
    assert!(d["line"].as_u64().unwrap() > 1, "{d}");
}

/// Problems with the lock or the catalog are diagnostics, not silence: a lock that does
/// not parse, and a configured database that is not there.
#[test]
fn an_unreadable_lock_or_a_missing_database_is_reported() {
    let ws = Workspace::new();
    let dir = ws.dir.path();
    ws.plan("plan.yaml", PLAN);
    std::fs::write(ws.path("plan.yaml.lock"), "{\"version\": 1}").unwrap();
    let out = check(dir, &["plan.yaml", "--config", "instance.yaml"]);
    assert_eq!(
        diagnostics(&out)[0]["code"],
        "invalid_lock",
        "{}",
        stdout(&out)
    );
    assert_eq!(code(&out), 1);

    lock_plan(dir);
    let out = check(dir, &["plan.yaml", "--db", "gone.duckdb"]);
    assert_eq!(
        diagnostics(&out)[0]["code"],
        "catalog_unavailable",
        "{}",
        stdout(&out)
    );
    assert_eq!(code(&out), 1);
}

/// The repository's own plans have lock files, and they are current against the demo
/// warehouse; the committed snapshot is the demo database's. Guards against CI's
/// `da plan check` binding against locks or a snapshot that drifted from the plans.
#[test]
fn the_repository_plans_are_locked_and_the_snapshot_is_current() {
    let ws = Workspace::new();
    let dir = ws.dir.path();
    let mut plans = Vec::new();
    for rel in [
        "plans/local_only.yaml",
        "plans/top_customers.yaml",
        "plans/traffic.toml",
        "plans/traffic.yaml",
        "examples/traffic.yaml",
    ] {
        for file in [rel.to_owned(), format!("{rel}.lock")] {
            let to = ws.path(&file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(root().join(&file), &to).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        plans.push(rel);
    }
    let mut args = vec!["plan", "lock", "--check", "--config", "instance.yaml"];
    args.extend_from_slice(&plans);
    let out = da_in(dir, &args);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let snap = da_in(dir, &["schema", "snapshot", "--config", "instance.yaml"]);
    let committed = std::fs::read_to_string(root().join("examples/analytics.schema.json")).unwrap();
    assert_eq!(
        stdout(&snap),
        committed,
        "regenerate examples/analytics.schema.json"
    );
}

/// `plan lock` against BigQuery (the loopback test server, through the real client) keeps
/// the dry run's BigQuery field types, only dry runs are sent, and the lock it writes is
/// the one the local backend writes for the same plan: either can be committed.
#[test]
fn a_lock_from_bigquery_dry_runs_bills_nothing_and_matches_the_local_one() {
    use crate::bq_server::{BqServer, Faults};
    let ws = Workspace::new();
    let dir = ws.dir.path();
    std::fs::write(
        ws.path("bq.yaml"),
        "bigquery: {backend: bigquery, project: acme-prod}\nanalytics: {database: analytics.duckdb}\n",
    )
    .unwrap();
    ws.plan("plan.yaml", PLAN);
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    let out = crate::common::da_cmd(dir)
        .args(["plan", "lock", "plan.yaml", "--config", "bq.yaml"])
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let seen = server.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| s.body["dryRun"] == true),
        "a billed job started"
    );
    let from_bigquery = std::fs::read_to_string(ws.path("plan.yaml.lock")).unwrap();
    let local = da_in(
        dir,
        &[
            "plan",
            "lock",
            "plan.yaml",
            "--check",
            "--config",
            "instance.yaml",
        ],
    );
    assert_eq!(code(&local), 0, "{from_bigquery}\n{}", stdout(&local));
}
