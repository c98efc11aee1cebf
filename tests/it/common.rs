//! Helpers shared by the integration tests: run the real `da` binary, find fixtures, and
//! a scratch workspace with the demo warehouse.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// Run `da` with arguments from the repository root, with no DA_* variables leaking in.
pub fn da(args: &[&str]) -> Output {
    da_in(&root(), args)
}

pub fn da_in(dir: &Path, args: &[&str]) -> Output {
    da_cmd(dir).args(args).output().expect("the da binary runs")
}

/// The `da` binary as a command run in `dir`, with no settings inherited from the
/// developer's shell (`DA_*`, `BIGQUERY_EMULATOR_HOST`).
pub fn da_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_da"));
    cmd.current_dir(dir);
    #[allow(clippy::disallowed_methods)] // reads the test runner's environment, not da's
    for (key, _) in std::env::vars() {
        if key.starts_with("DA_") || key == "BIGQUERY_EMULATOR_HOST" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Workers for servers started in process: the `da` binary of this build.
pub fn workers() -> da::worker::Workers {
    da::worker::Workers::new(env!("CARGO_BIN_EXE_da"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// A scratch folder with the demo warehouse, a config pointing at it, and room for plans.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        da::demo::make(
            &dir.path().join("warehouse"),
            &dir.path().join("analytics.duckdb"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("instance.yaml"),
            "bigquery:\n  backend: local\n  local_warehouse: warehouse\nanalytics:\n  database: analytics.duckdb\n  extracts: extracts\n",
        )
        .unwrap();
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn plan(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn run(&self, plan: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["plan", "run", plan, "--config", "instance.yaml"];
        args.extend_from_slice(extra);
        da_in(self.dir.path(), &args)
    }
}

pub const TWO_ALIASES: &str = r"
version: 1
name: two-aliases
params:
  since: {type: date, default: '2026-03-01'}
register_bq:
  traffic:
    sql: SELECT date, SUM(views) AS views FROM `acme-prod.analytics.web` WHERE date >= @since GROUP BY date
  revenue: SELECT date, SUM(amount) AS revenue FROM `acme-prod.analytics.payments` GROUP BY date
sql: |
  SELECT o.date, count(*) AS orders, sum(o.amount) AS order_amount, t.views, r.revenue
  FROM orders o JOIN traffic t USING (date) JOIN revenue r USING (date)
  GROUP BY ALL ORDER BY o.date
";
