//! The alias result cache (issue 10, item 5): a cached alias starts no job, entries expire,
//! a corrupt entry is replaced, and cached data still passes the limits.

use std::path::PathBuf;
use std::process::Output;

use crate::bigquery::{plan, run_against};
use crate::bq_server::{BqServer, Faults};
use crate::common::{Workspace, code, da_cmd, stderr};

fn setup() -> (Workspace, BqServer) {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("bq.yaml"),
        "bigquery: {backend: bigquery, project: acme-prod}\nanalytics: {database: analytics.duckdb}\ncache: {dir: cache}\n",
    )
    .unwrap();
    ws.plan("plan.yaml", &format!("{}cache: {{ttl: 1h}}\n", plan()));
    let server = BqServer::start(&ws.path("warehouse"), Faults::default());
    (ws, server)
}

fn entries(ws: &Workspace) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(ws.path("cache"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
    files.sort();
    files
}

/// Runs, returning the output and how many requests the server saw during it.
fn run(ws: &Workspace, server: &BqServer, extra: &[&str]) -> (Output, usize) {
    let before = server.seen().len();
    let out = run_against(ws, server, "plan.yaml", extra);
    (out, server.seen().len() - before)
}

fn report(ws: &Workspace) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(ws.path("report.json")).unwrap()).unwrap()
}

/// The agent's loop: the second run of a cached plan reaches BigQuery not at all, gives
/// the same result, and says its aliases were cached.
#[test]
fn a_second_run_of_a_cached_plan_starts_no_job() {
    let (ws, server) = setup();
    let (out, requests) = run(&ws, &server, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(requests > 0);
    assert_eq!(entries(&ws).len(), 2, "one entry per alias");
    let first = std::fs::read(ws.path("out/r.csv")).unwrap();

    let (out, requests) = run(&ws, &server, &["--report", "report.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(requests, 0, "the cached run reached BigQuery");
    assert_eq!(std::fs::read(ws.path("out/r.csv")).unwrap(), first);
    assert!(stderr(&out).contains("from the cache"), "{}", stderr(&out));
    for a in report(&ws)["aliases"].as_array().unwrap() {
        assert_eq!(a["cached"], true, "{a}");
        assert!(a.get("jobs").is_none(), "{a}");
    }

    // --no-cache and --refresh go to BigQuery again.
    let (out, requests) = run(&ws, &server, &["--no-cache"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(requests > 0, "--no-cache used the cache");
    let (out, requests) = run(&ws, &server, &["--refresh"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(requests > 0, "--refresh used the cache");
}

/// Guards against `plan estimate` quoting a price the run will not pay: once the aliases
/// are cached, the estimate says so, costs them nothing, and reaches BigQuery not at all
/// (its dry runs are not needed); `plan lock` still asks BigQuery's dry runs.
#[test]
fn the_estimate_of_a_cached_plan_bills_nothing() {
    let (ws, server) = setup();
    let estimate = || {
        let before = server.seen().len();
        let out = da_cmd(ws.dir.path())
            .args([
                "plan",
                "estimate",
                "plan.yaml",
                "--format",
                "json",
                "--config",
                "bq.yaml",
            ])
            .env("BIGQUERY_EMULATOR_HOST", server.host())
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, server.seen().len() - before)
    };
    let (cold, requests) = estimate();
    assert!(requests > 0);
    assert!(cold["total_bytes"].as_u64().unwrap() > 0, "{cold}");
    for a in cold["aliases"].as_array().unwrap() {
        assert_eq!(a["cached"], false, "{a}");
    }

    let (out, _) = run(&ws, &server, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (warm, requests) = estimate();
    assert_eq!(
        requests, 0,
        "the estimate of a cached plan reached BigQuery"
    );
    assert_eq!(warm["total_bytes"], 0, "{warm}");
    assert_eq!(warm["total_usd"], 0.0, "{warm}");
    for (a, c) in warm["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cold["aliases"].as_array().unwrap())
    {
        assert_eq!(a["cached"], true, "{a}");
        assert_eq!(a["billed_bytes"], 0, "{a}");
        assert_eq!(a["columns"], c["columns"], "the cache keeps the columns");
    }

    let before = server.seen().len();
    let out = da_cmd(ws.dir.path())
        .args(["plan", "lock", "plan.yaml", "--config", "bq.yaml"])
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        server.seen().len() > before,
        "plan lock took its columns from the cache"
    );
}

/// An entry older than its TTL is not used: the run fetches again and stores anew.
#[test]
fn an_expired_entry_is_fetched_again() {
    let (ws, server) = setup();
    assert_eq!(code(&run(&ws, &server, &[]).0), 0);
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for e in entries(&ws) {
        std::fs::File::options()
            .write(true)
            .open(&e)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    let (out, requests) = run(&ws, &server, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(requests > 0, "a stale entry was used");
    let (_, requests) = run(&ws, &server, &[]);
    assert_eq!(requests, 0, "the refetched result was not stored");
}

/// A corrupt entry (a crash of another tool, a full disk) is ignored and replaced.
#[test]
fn a_corrupt_entry_is_ignored_and_replaced() {
    let (ws, server) = setup();
    assert_eq!(code(&run(&ws, &server, &[]).0), 0);
    let first = std::fs::read(ws.path("out/r.csv")).unwrap();
    for e in entries(&ws) {
        std::fs::write(&e, b"PAR1 not really").unwrap();
    }
    let (out, requests) = run(&ws, &server, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(requests > 0);
    assert_eq!(std::fs::read(ws.path("out/r.csv")).unwrap(), first);
    let (_, requests) = run(&ws, &server, &[]);
    assert_eq!(requests, 0, "the corrupt entry was not replaced");
}

/// Cached data passes the row limit like fetched data: a tighter limit refuses it.
#[test]
fn cached_data_still_passes_the_row_limit() {
    let (ws, server) = setup();
    assert_eq!(code(&run(&ws, &server, &[]).0), 0);
    ws.plan(
        "plan.yaml",
        &format!("{}cache: {{ttl: 1h}}\n", plan()).replace(
            "GROUP BY date\n  revenue",
            "GROUP BY date\n    max_rows: 5\n  revenue",
        ),
    );
    let (out, requests) = run(&ws, &server, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error[row_limit]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(requests, 0);
}

/// `--cache` caches a plan that did not opt in; `da cache ls` lists and `clear` empties.
#[test]
fn the_cache_flag_and_the_cache_commands() {
    let (ws, server) = setup();
    ws.plan("plan.yaml", &plan());
    let (out, _) = run(&ws, &server, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        entries(&ws).is_empty(),
        "a plan without cache stored results"
    );
    assert_eq!(code(&run(&ws, &server, &["--cache"]).0), 0);
    assert_eq!(run(&ws, &server, &["--cache"]).1, 0);

    let ls = da_cmd(ws.dir.path())
        .args(["cache", "ls", "--config", "bq.yaml", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&ls), 0, "{}", stderr(&ls));
    let listed: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let clear = da_cmd(ws.dir.path())
        .args(["cache", "clear", "--config", "bq.yaml"])
        .output()
        .unwrap();
    assert_eq!(code(&clear), 0, "{}", stderr(&clear));
    assert!(entries(&ws).is_empty());
}
