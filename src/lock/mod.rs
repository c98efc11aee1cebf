//! Lock files: what `da plan lock` learned from dry runs, so that `da plan check` can bind
//! the final step with no server, no credentials and nothing billed.
//!
//! `PLAN.lock` sits beside its plan, named after the whole file name (`traffic.yaml` →
//! `traffic.yaml.lock`, so `traffic.toml` beside it gets its own). It is JSON, keys sorted
//! and one rendering only, so a diff shows exactly which alias changed. Per alias it holds
//! the SHA-256 of the alias's SQL as rendered with the plan's default parameters, and the
//! result columns with their BigQuery types (schema `schemas/lock.schema.json`).

pub mod bind;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field, SchemaRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bigquery::arrow::{BIGQUERY_TYPE_KEY, BqField, arrow_schema};

/// A plan's lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "da plan lock",
    extend("$id" = "https://da.dev/schemas/lock.schema.json")
)]
pub struct Lock {
    /// Lock format version. Only 1 exists.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Every alias of the plan, by name.
    pub aliases: BTreeMap<String, LockedAlias>,
}

/// What one alias was when the lock was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockedAlias {
    /// SHA-256 (lowercase hex) of the alias's SQL rendered with the plan's default
    /// parameters (required parameters get `da plan check`'s placeholders).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sql_sha256: String,
    /// The result's columns, in order, as BigQuery's schema names them.
    pub columns: Vec<LockedColumn>,
}

/// One result column, in the shape of BigQuery's REST `schema.fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockedColumn {
    pub name: String,
    /// The BigQuery type, standard SQL spelling (`INT64`, `STRING`, `STRUCT`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// `REQUIRED` or `REPEATED`; absent means `NULLABLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The fields of a `STRUCT`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<LockedColumn>,
}

impl Lock {
    pub const VERSION: u32 = 1;

    /// The lock file of a plan: its whole file name plus `.lock`.
    pub fn path_for(plan: &Path) -> PathBuf {
        let mut name = plan.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// The one rendering: pretty JSON with a final newline.
    pub fn render(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Read a lock file: `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let lock: Self = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a lock file: {e}", path.display()))?;
        if lock.version != Self::VERSION {
            return Err(format!(
                "{}: lock version {} is not supported (only {})",
                path.display(),
                lock.version,
                Self::VERSION
            ));
        }
        Ok(Some(lock))
    }

    /// What differs from `newer`, one line per alias (empty when nothing does).
    pub fn differences(&self, newer: &Self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, new) in &newer.aliases {
            match self.aliases.get(name) {
                None => out.push(format!("alias `{name}` is not in the lock")),
                Some(old) if old.sql_sha256 != new.sql_sha256 => {
                    out.push(format!("alias `{name}`: its SQL changed"));
                }
                Some(old) if old.columns != new.columns => {
                    out.push(format!("alias `{name}`: its result columns changed"));
                }
                Some(_) => {}
            }
        }
        for name in self.aliases.keys() {
            if !newer.aliases.contains_key(name) {
                out.push(format!(
                    "alias `{name}` is locked but no longer in the plan"
                ));
            }
        }
        out
    }
}

/// SHA-256 of an alias's rendered SQL, lowercase hex.
pub fn sql_sha256(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl LockedAlias {
    /// From an alias's rendered SQL and the schema its dry run (or the local backend's
    /// Parquet files) gave.
    pub fn new(sql: &str, schema: &SchemaRef) -> Result<Self, String> {
        Ok(Self {
            sql_sha256: sql_sha256(sql),
            columns: schema
                .fields()
                .iter()
                .map(|f| column(f))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The Arrow schema the alias is registered with, by the fetch's own BigQuery → Arrow
    /// mapping, so the offline bind sees the types a run would.
    pub fn arrow_schema(&self) -> Result<SchemaRef, String> {
        let fields: Vec<BqField> = self.columns.iter().map(LockedColumn::bq_field).collect();
        arrow_schema(&fields).map_err(|e| e.to_string())
    }
}

impl LockedColumn {
    fn bq_field(&self) -> BqField {
        BqField {
            name: self.name.clone(),
            kind: self.kind.clone(),
            mode: self.mode.clone(),
            fields: self.fields.iter().map(Self::bq_field).collect(),
        }
    }
}

/// A column from an Arrow field: the BigQuery type the dry run named (kept in the field's
/// metadata), else the BigQuery type of the Arrow type (the local backend).
fn column(field: &Field) -> Result<LockedColumn, String> {
    let (inner, mode) = match field.data_type() {
        DataType::List(item) | DataType::LargeList(item) => {
            (item.data_type().clone(), Some("REPEATED".to_owned()))
        }
        other => (
            other.clone(),
            (!field.is_nullable()).then(|| "REQUIRED".to_owned()),
        ),
    };
    let kind = match field.metadata().get(BIGQUERY_TYPE_KEY) {
        Some(kind) => kind.clone(),
        None => bigquery_type(&inner)
            .ok_or_else(|| {
                format!(
                    "column `{}`: Arrow type {inner} has no BigQuery type",
                    field.name()
                )
            })?
            .to_owned(),
    };
    let fields = match &inner {
        DataType::Struct(children) => children
            .iter()
            .map(|f| column(f))
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(LockedColumn {
        name: field.name().clone(),
        kind,
        mode,
        fields,
    })
}

/// The BigQuery type of an Arrow type, for schemas that did not come from BigQuery (the
/// local backend reads Parquet through DuckDB). Every integer is `INT64` (a 128-bit decimal
/// of scale 0 too: DuckDB's HUGEINT sums), every other decimal that fits 128 bits
/// `NUMERIC` (registered as `DECIMAL(38,9)`), a timestamp with a zone
/// `TIMESTAMP` and one without `DATETIME`, an untyped NULL `INT64` as in BigQuery.
fn bigquery_type(t: &DataType) -> Option<&'static str> {
    Some(match t {
        DataType::Null
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => "INT64",
        // DuckDB sums integers into HUGEINT, which Arrow carries as DECIMAL(38,0); BigQuery
        // sums INT64 into INT64.
        DataType::Decimal128(_, 0) => "INT64",
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "FLOAT64",
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) => "NUMERIC",
        DataType::Decimal256(..) => "BIGNUMERIC",
        DataType::Boolean => "BOOL",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING",
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BYTES",
        DataType::Date32 | DataType::Date64 => "DATE",
        DataType::Timestamp(_, None) => "DATETIME",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP",
        DataType::Time32(_) | DataType::Time64(_) => "TIME",
        DataType::Interval(_) => "INTERVAL",
        DataType::Struct(_) => "STRUCT",
        _ => return None,
    })
}

/// The JSON schema of lock files (`da schema lock`, `schemas/lock.schema.json`).
pub fn json_schema() -> &'static crate::schema::Compiled {
    static SCHEMA: std::sync::OnceLock<crate::schema::Compiled> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        crate::schema::Compiled::new(
            crate::schema::Kind::Lock,
            schemars::schema_for!(Lock).to_value(),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};

    use super::*;

    /// Guards against the local backend's Arrow types and the dry run's BigQuery types
    /// locking differently: both must rebuild the schema a run registers.
    #[test]
    fn bigquery_types_survive_the_round_trip_and_arrow_types_map() {
        let bq = arrow_schema(&[
            BqField {
                name: "d".into(),
                kind: "DATE".into(),
                mode: None,
                fields: vec![],
            },
            BqField {
                name: "tags".into(),
                kind: "STRING".into(),
                mode: Some("REPEATED".into()),
                fields: vec![],
            },
        ])
        .unwrap();
        let locked = LockedAlias::new("SELECT 1", &bq).unwrap();
        assert_eq!(locked.columns[0].kind, "DATE");
        assert_eq!(locked.columns[1].mode.as_deref(), Some("REPEATED"));
        assert_eq!(locked.arrow_schema().unwrap(), bq);

        let local = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("amount", DataType::Decimal128(38, 2), true),
        ]));
        let locked = LockedAlias::new("SELECT 1", &local).unwrap();
        let kinds: Vec<&str> = locked.columns.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["INT64", "NUMERIC"]);
    }
}
