//! What shell users and CI expect of a command-line tool: completions, `--version`,
//! `--color`/`NO_COLOR`, a pre-commit hook, and `da catalog`.

use std::process::Command;

use serde_json::Value;

use crate::common::Workspace;
use crate::common::{code, da, da_in, root, stderr, stdout};

const SUBCOMMANDS: [&str; 7] = [
    "plan",
    "query",
    "serve",
    "schema",
    "catalog",
    "mcp",
    "completions",
];

#[test]
fn completions_generate_for_every_shell_and_know_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = da(&["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion mentions `{sub}`");
        }
        assert!(script.contains("--format"), "{shell} completes flags");
    }
    let out = da(&["completions", "tcsh"]);
    assert_eq!(code(&out), 2, "an unknown shell is a usage error");
}

#[test]
fn version_names_the_duckdb_inside() {
    let out = da(&["--version"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("da {} (DuckDB v", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

/// `da plan check` of an invalid plan, with extra arguments and environment.
fn check_bad_plan(extra: &[&str], no_color: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "version: 1\nname: b\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_da"));
    cmd.current_dir(dir.path())
        .args(["plan", "check", "bad.yaml"])
        .args(extra)
        .env_remove("NO_COLOR");
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn color_follows_the_flag_then_no_color_then_the_terminal() {
    const ESC: &str = "\x1b[";
    assert!(check_bad_plan(&["--color", "always"], None).contains(ESC));
    // An explicit request wins over the environment.
    assert!(check_bad_plan(&["--color", "always"], Some("1")).contains(ESC));
    assert!(!check_bad_plan(&["--color", "never"], None).contains(ESC));
    // Auto: stdout here is a pipe, so no color either way.
    assert!(!check_bad_plan(&[], None).contains(ESC));
    assert!(!check_bad_plan(&["--color", "auto"], Some("1")).contains(ESC));
    // The flag is global: it may come before the subcommand too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "version: 1\nname: b\n").unwrap();
    let out = da_in(
        dir.path(),
        &["--color", "always", "plan", "check", "bad.yaml"],
    );
    assert!(stdout(&out).contains(ESC));
}

#[test]
fn the_pre_commit_hook_runs_plan_check() {
    let hooks = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    assert!(hooks.contains("- id: da-plan-check"), "{hooks}");
    assert!(hooks.contains("entry: da plan check"), "{hooks}");
}

#[test]
fn catalog_shows_tables_and_columns_for_people_and_scripts() {
    let ws = Workspace::new();
    let out = da_in(ws.dir.path(), &["catalog", "--config", "instance.yaml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("orders (table)\n  order_id     BIGINT\n"),
        "{table}"
    );
    assert!(table.contains("  amount       DECIMAL(12,2)\n"), "{table}");
    assert!(
        table.ends_with("2 tables, 0 views in 1 database (analytics)\n"),
        "{table}"
    );
    // The demo config names an extracts folder that does not exist: a warning, not a failure.
    assert!(
        stderr(&out).contains("warning: extracts folder"),
        "{}",
        stderr(&out)
    );

    // An extract is attached under its folder's name, read-only.
    let extract = ws.path("extracts/crm/extract.duckdb");
    std::fs::create_dir_all(extract.parent().unwrap()).unwrap();
    duckdb::Connection::open(&extract)
        .unwrap()
        .execute_batch(
            "CREATE TABLE accounts (id INTEGER NOT NULL, name VARCHAR);
             CREATE VIEW named AS SELECT name FROM accounts;",
        )
        .unwrap();
    let out = da_in(
        ws.dir.path(),
        &["catalog", "--format", "json", "--config", "instance.yaml"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let relations = json["relations"].as_array().unwrap();
    let names: Vec<(&str, &str)> = relations
        .iter()
        .map(|r| {
            (
                r["qualified_name"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("customers", "table"),
            ("orders", "table"),
            ("crm.accounts", "table"),
            ("crm.named", "view")
        ]
    );
    assert_eq!(relations[0]["columns"][2]["data_type"], "VARCHAR");
    assert_eq!(relations[3]["columns"][0]["name"], "name");
    let crm = json["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "crm")
        .unwrap();
    assert_eq!(crm["read_only"], true);
    assert!(json["warnings"].as_array().unwrap().is_empty(), "{json}");

    let out = da_in(ws.dir.path(), &["catalog", "--db", "missing.duckdb"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("query_error"), "{}", stderr(&out));
    assert!(
        !ws.path("missing.duckdb").exists(),
        "read-only: nothing created"
    );
}
