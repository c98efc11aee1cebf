//! The typed plan, format v1. Serde reads it, schemars describes it: the committed
//! `schemas/plan.schema.json` is generated from these types and nothing else.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A declarative query plan: BigQuery aliases pulled into DuckDB, then one final DuckDB query.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "da plan", extend("$id" = "https://da.dev/schemas/plan.schema.json"))]
pub struct Plan {
    /// Plan format version. Only 1 exists.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Short name, used in job labels and reports.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"))]
    pub name: String,
    /// What the plan computes, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Declared parameters. A parameter without a default is required.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ParamSpec>,
    /// BigQuery subqueries, each registered in DuckDB under its alias.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub register_bq: BTreeMap<String, AliasSpec>,
    /// The final DuckDB query, over local tables and the registered aliases.
    #[schemars(length(min = 1))]
    pub sql: String,
    /// Files to write. Without outputs the result is printed as a table on stdout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputSpec>,
    /// Limits for this plan. They may only tighten the instance limits.
    #[serde(default)]
    pub limits: PlanLimits,
    /// What one run of this plan may bill; may only tighten the instance's `budget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::config::Budget>,
    /// How every alias is prechecked (`count` or `job`); overrides `bigquery.precheck`,
    /// and an alias's own `precheck` overrides this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck: Option<crate::config::PrecheckMode>,
    /// Reuse every alias's result for `ttl` (opt-in; an alias's own `cache` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::config::CacheSpec>,
}

/// The type of a parameter; values are parsed and rendered by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    /// `YYYY-MM-DD`
    Date,
    /// RFC 3339 or `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC)
    Timestamp,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Value used when none is given; parsed by `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ScalarValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A default as written in the plan file, before it is parsed by the parameter's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ScalarValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl ScalarValue {
    /// The text a user would have typed for this value on the command line.
    pub fn as_text(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Text(s) => s.clone(),
        }
    }
}

/// A BigQuery subquery: a bare SQL string or a table with options.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AliasSpec {
    Sql(String),
    Full(AliasDetail),
}

/// A BigQuery subquery with options.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasDetail {
    /// BigQuery Standard SQL; `@name` refers to a declared parameter.
    #[schemars(length(min = 1))]
    pub sql: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Row limit for this alias (may only tighten `max_bq_registration_rows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_rows: Option<u64>,
    /// Memory limit for this alias in MiB (may only tighten `max_memory_mb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_memory_mb: Option<u64>,
    /// Cap on bytes billed by this alias's BigQuery jobs (may only tighten the plan's and
    /// the instance's `max_bytes_billed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_bytes_billed: Option<u64>,
    /// Let this alias hide a table or view of the same name in the analytics database or
    /// an extract. Without it such a run is refused: a silent swap changes what the final
    /// step means.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// How this alias is prechecked (`count` or `job`); overrides the plan's `precheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck: Option<crate::config::PrecheckMode>,
    /// Reuse this alias's result for `ttl`; overrides the plan's `cache`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::config::CacheSpec>,
}

impl AliasSpec {
    pub fn sql(&self) -> &str {
        match self {
            Self::Sql(sql) => sql,
            Self::Full(detail) => &detail.sql,
        }
    }

    /// JSON pointer suffix of the SQL text inside the alias entry.
    pub fn sql_pointer_suffix(&self) -> &'static str {
        match self {
            Self::Sql(_) => "",
            Self::Full(_) => "/sql",
        }
    }

    /// Whether the alias may hide an analytics table of its name (`shadow: true`).
    pub fn shadow(&self) -> bool {
        matches!(self, Self::Full(detail) if detail.shadow)
    }

    pub fn max_rows(&self) -> Option<u64> {
        match self {
            Self::Sql(_) => None,
            Self::Full(detail) => detail.max_rows,
        }
    }

    pub fn max_memory_mb(&self) -> Option<u64> {
        match self {
            Self::Sql(_) => None,
            Self::Full(detail) => detail.max_memory_mb,
        }
    }

    pub fn max_bytes_billed(&self) -> Option<u64> {
        match self {
            Self::Sql(_) => None,
            Self::Full(detail) => detail.max_bytes_billed,
        }
    }

    pub fn cache(&self) -> Option<&crate::config::CacheSpec> {
        match self {
            Self::Sql(_) => None,
            Self::Full(detail) => detail.cache.as_ref(),
        }
    }

    pub fn precheck(&self) -> Option<crate::config::PrecheckMode> {
        match self {
            Self::Sql(_) => None,
            Self::Full(detail) => detail.precheck,
        }
    }
}

/// A file format for outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Json,
    Ndjson,
    Parquet,
}

/// One output file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Relative to the plan file's folder; may not leave it.
    #[schemars(length(min = 1))]
    pub path: String,
    /// Defaults to the format named by the extension (.csv .json .ndjson .parquet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
}

/// Per-plan limits; each may only tighten the instance's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    /// Rows shown (terminal table, `da query`, HTTP); more sets `truncated`. Output files
    /// always hold the whole result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_result_rows: Option<u64>,
    /// Rows the output files may hold; a larger result fails with `row_limit` and leaves
    /// the previous files as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_output_rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_bq_registration_rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_memory_mb: Option<u64>,
    /// Cap on bytes billed by each BigQuery job of this plan (may only tighten
    /// `bigquery.max_bytes_billed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_bytes_billed: Option<u64>,
}
