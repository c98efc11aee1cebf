//! `bigquery.allowed_datasets` enforced on what BigQuery says a query reads: the alias
//! query's jobs.insert dry run lists `referencedTables`, and a table outside the allowed
//! datasets stops the run before any billed job, whatever our parser thought.

use std::process::Output;

use serde_json::Value;

use crate::bq_server::{BqServer, Faults};
use crate::common::{TWO_ALIASES, Workspace, code, da_cmd, stderr};

const POLICY: &str = "bigquery: {backend: bigquery, project: acme-prod, allowed_datasets: [analytics]}\nanalytics: {database: analytics.duckdb}\n";

fn run(ws: &Workspace, server: &BqServer) -> Output {
    da_cmd(ws.dir.path())
        .args(["plan", "run", "plan.yaml", "--config", "policy.yaml"])
        .args(["--report", "run.json", "--quiet"])
        .env("BIGQUERY_EMULATOR_HOST", server.host())
        .output()
        .unwrap()
}

fn is_dry_run(seen: &crate::bq_server::Seen) -> bool {
    if seen.path.ends_with("/jobs") {
        seen.body["configuration"]["dryRun"] == true
    } else {
        seen.path.ends_with("/queries") && seen.body["dryRun"] == true
    }
}

fn setup(faults: Faults) -> (Workspace, BqServer) {
    let ws = Workspace::new();
    ws.plan("plan.yaml", TWO_ALIASES);
    std::fs::write(ws.path("policy.yaml"), POLICY).unwrap();
    let server = BqServer::start(&ws.path("warehouse"), faults);
    (ws, server)
}

/// With a policy, each alias query is dry-run through jobs.insert (where BigQuery lists the
/// tables it reads) and a run within the policy goes through as before.
#[test]
fn a_run_within_the_policy_checks_bigquerys_referenced_tables() {
    let (ws, server) = setup(Faults::default());
    let out = run(&ws, &server);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let inserts: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/jobs") && is_dry_run(s))
        .collect();
    assert_eq!(inserts.len(), 2, "one jobs.insert dry run per alias");
}

/// Guards the layer below the parser: a view in an allowed dataset that reads a forbidden
/// one (simulated: the dry run reports an extra table) stops the run with
/// `dataset_not_allowed`, and BigQuery saw nothing but dry runs.
#[test]
fn a_forbidden_referenced_table_stops_the_run_before_any_billed_job() {
    let (ws, server) = setup(Faults {
        extra_referenced_table: Some("acme-prod.hr.salaries".to_owned()),
        ..Faults::default()
    });
    let out = run(&ws, &server);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("acme-prod.hr.salaries"), "{err}");
    assert!(err.contains("allowed: analytics"), "{err}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("run.json")).unwrap()).unwrap();
    assert_eq!(report["error"]["error_type"], "bq_error");
    // Both aliases "read" the extra table: each failure is listed with its kind and table.
    let failures = report["error"]["details"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{failures:?}");
    for f in failures {
        assert_eq!(f["details"]["kind"], "dataset_not_allowed", "{f}");
        assert_eq!(f["details"]["table"], "acme-prod.hr.salaries", "{f}");
    }
    let seen = server.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert!(
            is_dry_run(s),
            "only dry runs may reach BigQuery: {} {}",
            s.path,
            s.body
        );
    }
}

/// The policy rests on dry runs, so turning them off with a policy set is a config error.
#[test]
fn a_policy_without_dry_runs_is_a_config_error() {
    let (ws, server) = setup(Faults::default());
    std::fs::write(
        ws.path("policy.yaml"),
        POLICY.replace("allowed_datasets", "dry_run: false, allowed_datasets"),
    )
    .unwrap();
    let out = run(&ws, &server);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bigquery.dry_run is false"),
        "{}",
        stderr(&out)
    );
    assert!(server.seen().is_empty());
}
