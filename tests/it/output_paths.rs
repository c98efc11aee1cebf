//! Outputs cannot hurt their neighbours: no write through a symbolic link out of the
//! output folder, none onto a link, none onto the plan, its config, the analytics
//! database, extracts or the local warehouse; temporary files of killed runs are removed.

use crate::common::{Workspace, code, da_in, stderr, stdout};

const QUERY: &str = "version: 1\nname: o\nsql: SELECT region, count(*) AS n FROM customers GROUP BY ALL ORDER BY region\n";

fn plan_with(ws: &Workspace, name: &str, outputs: &str) {
    ws.plan(name, &format!("{QUERY}outputs:\n{outputs}"));
}

fn refused(out: &std::process::Output, why: &str) {
    assert_ne!(code(out), 0, "the run must fail: {}", stdout(out));
    assert!(
        stderr(out).contains(why),
        "expected `{why}` in: {}",
        stderr(out)
    );
}

/// Guards against the rename landing through a symbolic link on a file elsewhere.
#[cfg(unix)]
#[test]
fn an_output_that_is_a_symlink_is_refused() {
    let ws = Workspace::new();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, ws.path("r.csv")).unwrap();
    plan_with(&ws, "plan.yaml", "  - path: r.csv\n");
    let out = ws.run("plan.yaml", &["--quiet"]);
    refused(&out, "is a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        ws.path("r.csv").is_symlink(),
        "the link itself is left alone"
    );
}

/// Guards against a symlinked folder inside the plan's folder sending outputs elsewhere.
#[cfg(unix)]
#[test]
fn a_symlinked_folder_pointing_outside_is_refused() {
    let ws = Workspace::new();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.path("out")).unwrap();
    plan_with(
        &ws,
        "plan.yaml",
        "  - path: out/r.csv\n  - path: out/deeper/r.json\n",
    );
    let out = ws.run("plan.yaml", &["--quiet"]);
    refused(&out, "leaves the output folder through the symbolic link");
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
}

/// A symbolic link that stays inside the output folder is fine.
#[cfg(unix)]
#[test]
fn a_symlinked_folder_inside_the_root_is_used() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.path("results")).unwrap();
    std::os::unix::fs::symlink(ws.path("results"), ws.path("out")).unwrap();
    plan_with(&ws, "plan.yaml", "  - path: out/r.csv\n");
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(ws.path("results/r.csv").is_file());
}

/// An agent-written plan beside the analytics database cannot replace it with Parquet:
/// `plan check` says so offline, and a run refuses before anything runs.
#[test]
fn an_output_named_like_the_analytics_database_is_refused() {
    let ws = Workspace::new();
    let before = std::fs::read(ws.path("analytics.duckdb")).unwrap();
    plan_with(
        &ws,
        "plan.yaml",
        "  - path: analytics.duckdb\n    format: parquet\n",
    );
    let check = da_in(
        ws.dir.path(),
        &["plan", "check", "plan.yaml", "--config", "instance.yaml"],
    );
    assert_ne!(code(&check), 0);
    assert!(
        stdout(&check).contains("output_overwrites_input"),
        "{}",
        stdout(&check)
    );
    assert!(
        stdout(&check).contains("the analytics database"),
        "{}",
        stdout(&check)
    );
    let out = ws.run("plan.yaml", &["--quiet"]);
    refused(&out, "output_overwrites_input");

    // The run-time layer: checked against the plan's folder, the output is harmless;
    // `--output-dir` moves it onto the database.
    std::fs::create_dir(ws.path("plans")).unwrap();
    plan_with(
        &ws,
        "plans/p.yaml",
        "  - path: analytics.duckdb\n    format: parquet\n",
    );
    let out = ws.run("plans/p.yaml", &["--quiet", "--output-dir", "."]);
    refused(&out, "would overwrite the analytics database");
    // ... and files under the local warehouse.
    plan_with(&ws, "plans/w.yaml", "  - path: analytics/web.parquet\n");
    let out = ws.run("plans/w.yaml", &["--quiet", "--output-dir", "warehouse"]);
    refused(&out, "would overwrite the local warehouse");
    assert_eq!(std::fs::read(ws.path("analytics.duckdb")).unwrap(), before);
}

/// The plan cannot overwrite itself, however the path is spelled (a link to its own
/// folder included).
#[cfg(unix)]
#[test]
fn an_output_onto_the_plan_itself_is_refused() {
    let ws = Workspace::new();
    plan_with(&ws, "plan.yaml", "  - path: plan.yaml\n    format: json\n");
    let out = ws.run("plan.yaml", &["--quiet"]);
    refused(&out, "would overwrite the plan itself");

    std::os::unix::fs::symlink(ws.dir.path(), ws.path("here")).unwrap();
    plan_with(
        &ws,
        "self.yaml",
        "  - path: here/self.yaml\n    format: json\n",
    );
    let text = std::fs::read_to_string(ws.path("self.yaml")).unwrap();
    let out = ws.run("self.yaml", &["--quiet"]);
    refused(&out, "would overwrite the plan itself");
    assert_eq!(std::fs::read_to_string(ws.path("self.yaml")).unwrap(), text);

    // The config too.
    plan_with(
        &ws,
        "cfg.yaml",
        "  - path: instance.yaml\n    format: json\n",
    );
    let out = ws.run("cfg.yaml", &["--quiet"]);
    refused(&out, "would overwrite the configuration");
}

/// Guards against temporary files of killed runs piling up beside the output.
#[test]
fn stale_temporary_files_are_removed_by_the_next_run() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.path("out")).unwrap();
    for stale in [".r.csv.tmpAbC123", ".r.csv.tmpZZZ999"] {
        std::fs::write(ws.path("out").join(stale), "half a file").unwrap();
    }
    std::fs::write(ws.path("out/.other.csv.tmpAbC123"), "not ours").unwrap();
    plan_with(&ws, "plan.yaml", "  - path: out/r.csv\n");
    let out = ws.run("plan.yaml", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut left: Vec<String> = std::fs::read_dir(ws.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".other.csv.tmpAbC123", "r.csv"]);
}
