//! Instance configuration (`config/instance.yaml`): limits, BigQuery and the analytics
//! database. Typed here, described by `schemas/config.schema.json`, and merged with the
//! environment and flags in `settings.rs`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::{Compiled, Kind};

/// `bigquery.max_bytes_billed` when the configuration does not set it: 100 GiB.
pub const DEFAULT_MAX_BYTES_BILLED: u64 = 100 * 1024 * 1024 * 1024;

/// The configuration format's JSON schema, generated from `InstanceConfig`.
pub fn json_schema() -> &'static Compiled {
    static SCHEMA: OnceLock<Compiled> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Compiled::new(
            Kind::Config,
            schemars::schema_for!(InstanceConfig).to_value(),
        )
    })
}

/// The whole instance configuration. Every section and key is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "da instance configuration", extend("$id" = "https://da.dev/schemas/config.schema.json"))]
pub struct InstanceConfig {
    #[serde(default)]
    pub remote_query: Limits,
    #[serde(default)]
    pub bigquery: BigQueryConfig,
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub mcp: McpConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    /// A plan-wide cap on what a run may bill, checked on the dry runs' sum before any
    /// billed job starts (`cost_limit`). Needs dry runs (`bigquery.dry_run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The alias result cache (`cache: {ttl: 1h}` in a plan, or `--cache`).
    #[serde(default)]
    pub cache: CacheConfig,
}

/// A cap on what one run may bill, in bytes and/or US dollars (an estimate:
/// bytes × `bigquery.price_per_tib`). Plans may only tighten the instance's.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Bytes the run's BigQuery jobs may bill in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_bytes: Option<u64>,
    /// US dollars the run may cost, estimated from the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_usd: Option<f64>,
}

impl Budget {
    pub fn is_set(&self) -> bool {
        self.max_bytes.is_some() || self.max_usd.is_some()
    }
}

/// `bigquery.price_per_tib` when unset: the on-demand list price in US dollars.
pub const DEFAULT_PRICE_PER_TIB: f64 = 6.25;

/// A caller's role: BigQuery costs money, so only admins may run queries over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Analyst,
}

/// One API token, stored only as the SHA-256 of the token text.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who the token belongs to (for logs).
    pub name: String,
    /// Lowercase hex SHA-256 of the bearer token (`printf %s TOKEN | sha256sum`).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    pub role: Role,
}

/// `da serve`: tokens and the limits that keep one replica healthy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub tokens: Vec<TokenConfig>,
    /// Largest accepted request body, in bytes.
    #[schemars(range(min = 1))]
    pub max_body_bytes: u64,
    /// Wall-clock limit of one request, in seconds.
    #[schemars(range(min = 1))]
    pub request_timeout_seconds: u64,
    /// Queries and plan runs served at once; more get 429 with Retry-After.
    #[schemars(range(min = 1))]
    pub max_concurrent_queries: u32,
    /// Seconds a client has to send a request's headers, and then its body; a slower
    /// client gets 408 or a closed connection. Default: 30.
    #[schemars(range(min = 1))]
    pub read_timeout_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            max_body_bytes: 1024 * 1024,
            request_timeout_seconds: 300,
            max_concurrent_queries: 4,
            read_timeout_seconds: 30,
        }
    }
}

/// The limits of a run (the reference system's `remote_query` keys, with its defaults).
/// The instance sets them; plans and aliases may only tighten them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Maximum rows one alias may bring in (COUNT precheck; more is `row_limit`).
    #[schemars(range(min = 1))]
    pub max_bq_registration_rows: u64,
    /// Maximum memory one alias may take, in MiB (estimate, then real size; `memory_limit`).
    #[schemars(range(min = 1))]
    pub max_memory_mb: u64,
    /// Maximum rows of the final result that are shown (terminal table, `da query`, HTTP);
    /// more sets `truncated`. Output files always hold the whole result.
    #[schemars(range(min = 1))]
    pub max_result_rows: u64,
    /// Maximum rows a plan's output files may hold; more fails the run with `row_limit`
    /// and leaves the previous files intact. Default: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_output_rows: Option<u64>,
    /// Wall-clock limit for a whole run, in seconds (`timeout`).
    #[schemars(range(min = 1))]
    pub timeout_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bq_registration_rows: 500_000,
            max_memory_mb: 2048,
            max_result_rows: 100_000,
            max_output_rows: None,
            timeout_seconds: 300,
        }
    }
}

/// Where alias data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Parquet files laid out `<dataset>/<table>.parquet` in `bigquery.local_warehouse`.
    Local,
    /// The BigQuery REST API.
    Bigquery,
}

/// BigQuery access and policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BigQueryConfig {
    /// `local` or `bigquery`; defaults to `bigquery` when a project is set, else `local`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Billing project, also the default project for two-part table names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Job location, e.g. `EU` or `us-central1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// When non-empty, every table an alias reads must be in one of these
    /// (`dataset` in the default project, or `project.dataset`), as the plan check reads
    /// the SQL and as BigQuery's dry run reports it (so `dry_run` must stay on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_datasets: Vec<String>,
    /// A service-account key or gcloud credentials file (else GOOGLE_APPLICATION_CREDENTIALS,
    /// the gcloud default file, or the metadata server on Google Cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PathBuf>,
    /// Override of the REST endpoint (an emulator or test server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Aliases prechecked and fetched at once. Default: 8.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrency: Option<u32>,
    /// Cap on the bytes billed by every BigQuery job da starts (`maximumBytesBilled`);
    /// plans and aliases may only tighten it. Default: 100 GiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_bytes_billed: Option<u64>,
    /// US dollars per TiB billed, for estimates and `budget.max_usd`. Default: 6.25, the
    /// on-demand list price; set your own rate (an estimate either way).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub price_per_tib: Option<f64>,
    /// Dry-run every alias before the COUNT precheck (schema and bytes processed). Turn it
    /// off for endpoints that lack dry runs. Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Folder of the local backend's Parquet warehouse, relative to the config file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_warehouse: Option<PathBuf>,
    /// Read large results as Arrow through the BigQuery Storage Read API: `auto` (above
    /// `read_api_min_rows`), `always` or `never`. Default: auto.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_api: Option<ReadApi>,
    /// Rows from which `read_api: auto` uses the Storage Read API. Default: 50000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_api_min_rows: Option<u64>,
    /// Override of the Storage Read API's gRPC endpoint, e.g. `http://127.0.0.1:9060`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_endpoint: Option<String>,
    /// How an alias is checked against its row and memory limits before its rows are
    /// downloaded; a plan (top-level `precheck`) or alias may choose otherwise.
    /// Default: `count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precheck: Option<PrecheckMode>,
}

/// `bigquery.read_api_min_rows` when unset.
pub const DEFAULT_READ_API_MIN_ROWS: u64 = 50_000;

/// When to read results through the Storage Read API instead of REST pages.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReadApi {
    /// Above `read_api_min_rows` rows (from the precheck).
    #[default]
    Auto,
    Always,
    Never,
}

/// Where cached alias results live.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Folder of the cache's Parquet files, relative to the config file. Default:
    /// `da/alias-cache` in the user cache folder (`$XDG_CACHE_HOME`, else `~/.cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// A plan's or alias's opt-in to the result cache.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// How long a stored result is reused: a number and `s`, `m`, `h` or `d` (`1h`).
    #[schemars(regex(pattern = r"^[0-9]{1,9}[smhd]$"))]
    pub ttl: String,
}

/// `30s`, `15m`, `1h`, `2d` as a duration (the plan schema admits only these shapes).
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// How an alias is prechecked before its rows are downloaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrecheckMode {
    /// A `SELECT COUNT(*)` job, then the fetch job: two scans, but an alias over its row
    /// limit is refused having scanned only what the COUNT needs.
    #[default]
    Count,
    /// The alias query runs once; its row count and schema are read from the finished job
    /// without downloading a row, and only within the limits are its results paged: one
    /// scan, but an over-limit alias has billed its whole query.
    Job,
}

/// The local analytics database the final step reads.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// DuckDB file opened read-only; none means an empty in-memory database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<PathBuf>,
    /// Folder holding `<name>/extract.duckdb` files, each attached read-only as `<name>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracts: Option<PathBuf>,
    /// A `da schema snapshot` file that `da plan check` binds locked plans against instead
    /// of the database (for CI machines without it); `--db` on the command line wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_snapshot: Option<PathBuf>,
    /// DuckDB `memory_limit` for the final step, e.g. `2GB`.
    pub memory_limit: String,
    /// DuckDB worker threads for the final step.
    #[schemars(range(min = 1))]
    pub threads: u32,
    /// Extensions a `_remote_attach` row may LOAD (never INSTALL).
    pub remote_attach_extensions: Vec<String>,
    /// Environment variables a `_remote_attach` row may read a token from.
    pub remote_attach_token_envs: Vec<String>,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            database: None,
            extracts: None,
            schema_snapshot: None,
            memory_limit: "2GB".to_owned(),
            threads: 2,
            remote_attach_extensions: vec!["bigquery".to_owned()],
            remote_attach_token_envs: [
                "KBC_TOKEN",
                "KBC_STORAGE_TOKEN",
                "KEBOOLA_STORAGE_TOKEN",
                "GOOGLE_APPLICATION_CREDENTIALS",
                "DATABRICKS_TOKEN",
                "SNOWFLAKE_PASSWORD",
                "SNOWFLAKE_PRIVATE_KEY",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

/// `da mcp`: what an agent connected over the Model Context Protocol may do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Let agents run plans with the `plan_run` tool (BigQuery costs money). Default: false.
    pub allow_run: bool,
    /// The only folder `plan_run` writes outputs under, relative to the config file. Without
    /// it, plans that have outputs are refused (results are still returned to the agent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dir: Option<PathBuf>,
}

/// The child process that runs each `da serve` query or plan and each `da mcp` `plan_run`,
/// so that a runaway final step is stopped and capped without taking the server with it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Memory one worker may allocate, in MiB (its data segment, `RLIMIT_DATA`); a run
    /// past it fails with `memory_limit` and the server carries on. It bounds what DuckDB's
    /// `memory_limit` does not (one huge string, list or expression). Keep it well above
    /// `analytics.memory_limit`, within which DuckDB spills or fails cleanly. Default: 4096.
    #[schemars(range(min = 256))]
    pub memory_mb: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self { memory_mb: 4096 }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;
    use std::time::Duration;

    #[test]
    fn ttls_read_as_their_units() {
        assert_eq!(parse_ttl("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("5w"), None);
    }
}
