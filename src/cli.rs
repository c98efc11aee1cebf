//! The command line, as clap types only. Doc comments are the `--help` text.
//! `settings.rs` and the commands turn these raw flags into checked settings once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run declarative query plans: BigQuery subqueries joined with local DuckDB data.
///
/// Exit codes: 0 success; 1 invalid plan or failed run (its error_type is shown);
/// 2 usage error, unreadable input or invalid configuration; 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "da", version = crate::version::text(), about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colors in output meant for people (`auto`: when stdout is a terminal and NO_COLOR is
    /// unset).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check or run plan files.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// The alias result cache: list or clear it.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// One-shot hybrid query: `--register-bq alias=SQL` aliases joined in one DuckDB query.
    Query(QueryArgs),
    /// Serve POST /api/query/hybrid, /api/plan/check and /api/plan/run over HTTP.
    Serve(ServeArgs),
    /// Print the JSON schema of plan files, the instance configuration or lock files; or
    /// (`snapshot`) the analytics database's tables, views and column types, for
    /// `da plan check --schema-snapshot` on machines without the database.
    Schema {
        #[arg(value_enum)]
        which: SchemaKind,
        /// `snapshot`: the analytics DuckDB file (default: the config's analytics.database).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List the tables, views and columns a plan's final SQL can read (read-only).
    Catalog(CatalogArgs),
    /// Serve the Model Context Protocol on stdin/stdout, for agents (see docs/agents.md).
    Mcp(McpArgs),
    /// Print a shell completion script: `da completions bash > ~/.local/share/bash-completion/completions/da`.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Run one request of `da serve` or `da mcp`, given as a JSON line on stdin (started
    /// by them, never by hand).
    #[command(hide = true)]
    Worker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    /// Each table or view, then its columns and types.
    Table,
    /// `{"default_database", "databases", "relations", "warnings"}`.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct CatalogArgs {
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
    /// The analytics DuckDB file (opened read-only) [env: DA_ANALYTICS_DATABASE].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// The analytics DuckDB file (opened read-only) [env: DA_ANALYTICS_DATABASE].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Validate plans offline: schema, SQL rules, aliases, parameters, templates.
    Check(CheckArgs),
    /// Estimate what a plan would bill: dry-run every alias (bytes, USD, result columns);
    /// no billed job, no download. Exit 1 when over the budget.
    Estimate(EstimateArgs),
    /// Run a plan: precheck and fetch its aliases, run the final step, write outputs.
    Run(RunArgs),
    /// Write PLAN.lock beside each plan (e.g. traffic.yaml.lock): each alias's SQL hash and
    /// result columns, from dry runs (nothing billed), so `plan check` can bind offline.
    Lock(LockArgs),
}

#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// Plan files, folders or glob patterns, as for `plan check`.
    #[arg(required = true, value_name = "PLAN")]
    pub paths: Vec<String>,
    /// Write nothing; exit 1 when a lock is missing or stale.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Plan,
    Config,
    Lock,
    /// Not a JSON schema: the analytics database's catalog (tables, views, columns).
    Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Messages with source snippets.
    Human,
    /// `{"files": [...], "summary": {...}}`.
    Json,
    /// GitHub Actions workflow annotations.
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// Flags shared by every command that reads configuration.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Instance configuration file (YAML or TOML) [env: DA_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Google credentials: a service-account key or gcloud user credentials file
    /// (default: GOOGLE_APPLICATION_CREDENTIALS, then gcloud's application-default file).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Plan files, folders (searched for .yaml, .yml and .toml) or glob patterns.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Check rendering with this parameter value (repeatable). With any --param given,
    /// required parameters without a value are errors.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Plans with a lock file are bound against this analytics DuckDB file (read-only).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// ... or against this `da schema snapshot` file (config: analytics.schema_snapshot).
    #[arg(long, value_name = "FILE")]
    pub schema_snapshot: Option<PathBuf>,
}

/// `name=value`, split on the first `=`.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("empty parameter name in `{s}`"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The plan file (YAML or TOML).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// A parameter value (repeatable), parsed by the parameter's declared type.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The analytics DuckDB file (opened read-only) [env: DA_ANALYTICS_DATABASE].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Write outputs under this folder instead of the plan's folder.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Write a JSON run report (plan hash, per-alias numbers, outputs with sha256).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress and no summary on stderr (errors are still shown).
    #[arg(long, short)]
    pub quiet: bool,
    /// Only estimate, as `da plan estimate` does: no billed job, no download.
    #[arg(long)]
    pub estimate_only: bool,
    /// Cache every alias's result (for 1 h unless the plan sets `cache.ttl`).
    #[arg(long, conflicts_with = "no_cache")]
    pub cache: bool,
    /// Use no cached result and store none, whatever the plan says.
    #[arg(long)]
    pub no_cache: bool,
    /// Fetch cached aliases again and store the new results.
    #[arg(long, conflicts_with = "no_cache")]
    pub refresh: bool,
}

/// `da cache ls|clear`.
#[derive(Debug, Clone, Subcommand)]
pub enum CacheCommand {
    /// List the stored alias results: key, size, age.
    Ls(CacheArgs),
    /// Remove every stored alias result.
    Clear(CacheArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// `--json`: one JSON array for agents.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct EstimateArgs {
    /// The plan file (YAML or TOML).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// A parameter value (repeatable), parsed by the parameter's declared type.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// `table` for people, `json` for agents and CI.
    #[arg(long, value_enum, default_value_t = EstimateFormat::Table)]
    pub format: EstimateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EstimateFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
    Ndjson,
    Parquet,
}

#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// The final DuckDB SQL (or use --sql, or --stdin).
    #[arg(value_name = "SQL")]
    pub sql_positional: Option<String>,
    /// The final DuckDB SQL.
    #[arg(long, value_name = "SQL")]
    pub sql: Option<String>,
    /// Read `{"sql": ..., "register_bq": {alias: sql}, "params": {...}}` from stdin.
    #[arg(long)]
    pub stdin: bool,
    /// A BigQuery alias, `alias=BQ SQL` (repeatable; split on the first `=`).
    #[arg(long = "register-bq", value_name = "ALIAS=SQL")]
    pub register_bq: Vec<String>,
    /// A parameter value for `$name`/`@name` declared on stdin (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
    /// Shorthand for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Write the result to this file (atomically) instead of stdout; required for parquet.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// At most this many result rows (tightens max_result_rows).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// The analytics DuckDB file (opened read-only).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// No notices on stderr (errors are still shown).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// The analytics DuckDB file (opened read-only, once per request).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}
