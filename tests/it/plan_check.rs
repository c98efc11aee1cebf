//! `da plan check` and `da schema`: the offline contract CI and agents rely on.

use std::path::Path;

use serde_json::Value;

use crate::common::{code, da, fixture, root, stderr, stdout};

fn bad_fixtures() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(fixture("plans/bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "toml")
            )
        })
        .collect();
    files.sort();
    files
}

/// The code a bad fixture must produce is the first part of its file name.
fn expected_code(path: &Path) -> String {
    let name = path.file_name().unwrap().to_str().unwrap();
    name.split('.').next().unwrap().to_owned()
}

#[test]
fn the_shipped_plans_and_examples_are_valid() {
    let out = da(&["plan", "check", "plans/", "examples/"]);
    assert_eq!(
        code(&out),
        0,
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("0 invalid"), "{}", stdout(&out));
}

/// The repository's own plans have lock files, and their final steps bind against the
/// locked alias shapes and the committed snapshot of the demo analytics database: what CI
/// machines (no database, no server, no credentials) can check.
#[test]
fn the_shipped_plans_bind_against_their_locks_and_the_snapshot() {
    for plan in [
        "plans/traffic.yaml",
        "plans/traffic.toml",
        "examples/traffic.yaml",
    ] {
        assert!(
            root().join(format!("{plan}.lock")).is_file(),
            "{plan} has no lock file"
        );
    }
    let out = da(&[
        "plan",
        "check",
        "plans/",
        "examples/traffic.yaml",
        "--schema-snapshot",
        "examples/analytics.schema.json",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // And the lock files are current: `da plan lock --check` would say so too.
    let stale = stdout(&out).contains("stale_lock");
    assert!(!stale, "{}", stdout(&out));
}

/// Every code a plan file alone can produce has a bad fixture named after it, and every
/// fixture is named after a registered code: a new rule cannot land untested, and a
/// fixture cannot silently test nothing.
#[test]
fn every_registered_code_has_a_fixture_and_every_fixture_a_code() {
    use da::diagnostic::codes::{ALL, Origin, lookup};
    let fixtures: Vec<String> = bad_fixtures().iter().map(|p| expected_code(p)).collect();
    for code in ALL.iter().filter(|c| c.origin == Origin::PlanFile) {
        assert!(
            fixtures.iter().any(|f| f == code.code),
            "no tests/fixtures/plans/bad/{}.*.yaml for a registered code",
            code.code
        );
    }
    for fixture in &fixtures {
        assert!(
            lookup(fixture).is_some(),
            "fixture {fixture}.* is named after no registered code"
        );
    }
}

#[test]
fn every_bad_fixture_fails_with_its_own_code() {
    let files = bad_fixtures();
    let mut args = vec!["plan", "check", "--format", "json"];
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = da(&args);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("--format json is JSON");
    let reports = json["files"].as_array().unwrap();
    assert_eq!(reports.len(), files.len());
    for (path, report) in files.iter().zip(reports) {
        assert_eq!(report["ok"], false, "{} should be invalid", path.display());
        let codes: Vec<&str> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        assert!(
            codes.contains(&expected_code(path).as_str()),
            "{}: expected {}, got {codes:?}",
            path.display(),
            expected_code(path)
        );
        for d in report["diagnostics"].as_array().unwrap() {
            if d["code"] != "unreadable" {
                assert!(
                    d["line"].as_u64().is_some(),
                    "{}: {d} has no line",
                    path.display()
                );
            }
        }
    }
    assert_eq!(json["summary"]["invalid"], files.len());
}

#[test]
fn bad_fixture_diagnostics_match_their_snapshots() {
    for path in bad_fixtures() {
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        let out = da(&["plan", "check", &rel]);
        assert_eq!(code(&out), 1, "{rel}");
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        insta::with_settings!({snapshot_suffix => name, prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("bad_plan", stdout(&out));
        });
    }
}

#[test]
fn sarif_and_github_formats_are_machine_readable() {
    let bad = fixture("plans/bad/sql_table_function.read_csv.yaml");
    let out = da(&["plan", "check", "--format", "sarif", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let sarif: Value = serde_json::from_str(&stdout(&out)).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "sql_table_function");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        6
    );

    let out = da(&["plan", "check", "--format", "github", bad.to_str().unwrap()]);
    assert!(
        stdout(&out).starts_with("::error file="),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("line=6"), "{}", stdout(&out));
}

#[test]
fn wrong_and_missing_params_are_named() {
    let out = da(&[
        "plan",
        "check",
        "plans/traffic.yaml",
        "--param",
        "since=last tuesday",
    ]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("invalid_param"), "{}", stdout(&out));
    assert!(stdout(&out).contains("`since`"), "{}", stdout(&out));

    let out = da(&[
        "plan",
        "check",
        "plans/top_customers.yaml",
        "--param",
        "top=ten",
    ]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("`top` (integer)"), "{}", stdout(&out));

    let out = da(&[
        "plan",
        "check",
        "plans/traffic.yaml",
        "--param",
        "until=2026-01-01",
    ]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("unknown_param"), "{}", stdout(&out));

    let out = da(&[
        "plan",
        "check",
        "plans/traffic.yaml",
        "--param",
        "since=2026-02-01",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

/// Guards against a warning that cannot be true: an alias is "never used" only when the
/// final sql passed its checks; when it failed them, which tables it reads is unknown.
#[test]
fn unused_aliases_are_warned_about_only_when_the_final_sql_is_known() {
    let ws = crate::common::Workspace::new();
    let codes = |sql: &str| -> Vec<String> {
        ws.plan(
            "p.yaml",
            &format!("version: 1\nname: t\nregister_bq:\n  web: SELECT date, views FROM `analytics.web`\nsql: {sql}\n"),
        );
        let out = crate::common::da_in(
            ws.dir.path(),
            &["plan", "check", "p.yaml", "--format", "json"],
        );
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        v["files"][0]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes("SELECT count(*) FROM orders"), ["unused_alias"]);
    assert!(codes("SELECT count(*) FROM web").is_empty());
    assert_eq!(
        codes("SELECT no_such_fn(views) FROM web"),
        ["sql_forbidden_function"]
    );
}

#[test]
fn a_required_param_is_missing_only_when_values_are_given() {
    let plan = fixture("plans/required_param.yaml");
    let plan = plan.to_str().unwrap();
    assert_eq!(
        code(&da(&["plan", "check", plan])),
        0,
        "offline checks use a typed placeholder"
    );
    let out = da(&["plan", "check", plan, "--param", "region=EU"]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("missing_param"), "{}", stdout(&out));
    assert!(stdout(&out).contains("`since`"), "{}", stdout(&out));
}

#[test]
fn unreadable_input_and_usage_errors_exit_2() {
    assert_eq!(
        code(&da(&["plan", "check", "plans/does-not-exist.yaml"])),
        2
    );
    assert_eq!(code(&da(&["plan", "check", "plans/*.nothing"])), 2);
    assert_eq!(code(&da(&["plan", "check"])), 2);
}

#[test]
fn globs_and_folders_are_expanded() {
    let out = da(&["plan", "check", "--format", "json", "plans/*.yaml"]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let paths: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().all(|p| p.ends_with(".yaml")), "{paths:?}");
    assert!(paths.len() >= 3, "{paths:?}");
}

#[test]
fn the_committed_schemas_are_current() {
    for (which, file) in [
        ("plan", "schemas/plan.schema.json"),
        ("config", "schemas/config.schema.json"),
        ("lock", "schemas/lock.schema.json"),
    ] {
        let out = da(&["schema", which]);
        assert_eq!(code(&out), 0);
        let committed = std::fs::read(root().join(file)).unwrap();
        assert!(
            out.stdout == committed,
            "{file} is stale: run `cargo run -- schema {which} > {file}`"
        );
    }
}

#[test]
fn the_example_config_is_valid() {
    let out = da(&[
        "plan",
        "check",
        "plans/traffic.yaml",
        "--config",
        "config/instance.yaml",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn config_errors_name_the_file_and_line() {
    let out = da(&[
        "plan",
        "check",
        "plans/traffic.yaml",
        "--config",
        fixture("bad_config.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("unknown_key"), "{err}");
    assert!(err.contains("bad_config.yaml:4:3"), "{err}");
}

#[test]
fn dataset_policy_is_enforced_on_every_table() {
    let out = da(&[
        "plan",
        "check",
        "plans/traffic.yaml",
        "plans/top_customers.yaml",
        "--config",
        fixture("policy_config.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("sql_dataset_not_allowed"), "{text}");
    assert!(text.contains("crm"), "{text}");
}
