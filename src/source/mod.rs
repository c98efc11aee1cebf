//! Alias sources: where `register_bq` data comes from. Every backend answers the same two
//! questions — how big will this alias be (precheck), and give me its rows as Arrow
//! (fetch) — so the pipeline, limits and reports do not care which one runs.

pub mod cache;
pub mod local;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::config::PrecheckMode;
use crate::error::RunError;
use crate::validate::CheckedAlias;

/// What a backend can say about an alias without running it (BigQuery: a dry run, which
/// bills nothing).
#[derive(Debug, Clone, Default)]
pub struct Estimate {
    /// The result's columns; `None` when the backend cannot tell without running the query
    /// (BigQuery with dry runs turned off).
    pub schema: Option<SchemaRef>,
    /// Bytes the query would scan (and bill); `None` when unknown.
    pub bytes_processed: Option<u64>,
    /// Bytes the COUNT precheck around it would scan (and bill); `None` when unknown or
    /// when the precheck bills nothing (the local backend).
    pub count_bytes: Option<u64>,
    /// The result cache holds a fresh result: nothing would run, nothing would be billed.
    pub cached: bool,
}

impl Estimate {
    /// What prechecking and fetching the alias would bill in all under `mode`, when known:
    /// `count` bills the COUNT and the query, `job` the query once.
    pub fn billed_bytes(&self, mode: PrecheckMode) -> Option<u64> {
        match mode {
            PrecheckMode::Count => Some(self.bytes_processed? + self.count_bytes?),
            PrecheckMode::Job => self.bytes_processed,
        }
    }
}

/// US dollars for `bytes` at `price_per_tib` (an estimate: BigQuery rounds per job).
#[allow(clippy::cast_precision_loss)]
pub fn usd(bytes: u64, price_per_tib: f64) -> f64 {
    bytes as f64 / (1024f64.powi(4)) * price_per_tib
}

/// What a precheck learned about an alias without downloading it.
#[derive(Debug, Clone)]
pub struct Precheck {
    pub rows: u64,
    pub schema: SchemaRef,
    /// Bytes the backend will scan (BigQuery dry run); `None` when it cannot say.
    pub bytes_processed: Option<u64>,
    /// The billed jobs the precheck ran (BigQuery), for the run report.
    pub jobs: Vec<JobStats>,
}

/// One billed job, as BigQuery reported it once it finished (jobs.get statistics).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobStats {
    pub job_id: String,
    /// `count` (the COUNT precheck), `shape` (an empty page for the schema), `fetch` (the
    /// download), or `query` (`precheck: job`: the one job that is both).
    pub purpose: &'static str,
    pub bytes_processed: Option<u64>,
    pub bytes_billed: Option<u64>,
    pub cache_hit: Option<bool>,
    pub slot_ms: Option<u64>,
}

/// An alias's data.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: u64,
    /// Arrow memory actually held by the batches.
    pub bytes: u64,
    /// The billed jobs the download ran (none when it pages the precheck's job).
    pub jobs: Vec<JobStats>,
    /// It came from the result cache: no job ran for it.
    pub cached: bool,
    /// What the run's report should say about how the data came (e.g. a fallback).
    pub warnings: Vec<String>,
}

/// A backend that produces alias data. Calls come from several threads at once.
///
/// A run asks, in this order: `estimate` for every alias (free), `precheck` for every alias
/// (BigQuery: the COUNT job), then `fetch`. Nothing billed starts before every estimate is
/// in, so budgets and the final step's bind check can stop a run for free.
pub trait AliasSource: Sync {
    /// `local` or `bigquery`, shown in every output so local data is never mistaken for real.
    fn label(&self) -> &'static str;
    /// Schema and cost without running the query.
    fn estimate(&self, alias: &CheckedAlias) -> Result<Estimate, RunError>;
    /// Row count and schema (from `estimate` when it had one), without downloading rows.
    fn precheck(&self, alias: &CheckedAlias, estimate: &Estimate) -> Result<Precheck, RunError>;
    fn fetch(&self, alias: &CheckedAlias) -> Result<Fetched, RunError>;
}

/// Estimated Arrow bytes for `rows` rows of `schema`: exact widths for fixed-size types,
/// a typical width for variable ones. Deliberately generous: it decides before downloading.
pub fn estimate_bytes(schema: &SchemaRef, rows: u64) -> u64 {
    let per_row: u64 = schema.fields().iter().map(|f| width(f.data_type())).sum();
    per_row.saturating_mul(rows)
}

/// Bytes per string or binary value: a 4-byte offset and a typical 32-byte value, doubled
/// because Arrow builders grow their buffers by doubling and the finished arrays keep that
/// capacity (a test pins the estimate at or above the real size).
const VARIABLE_WIDTH: u64 = 2 * (4 + 32);

fn width(t: &DataType) -> u64 {
    // One validity bit per value is rounded up into the width.
    match t {
        DataType::Boolean | DataType::Null => 1,
        DataType::Struct(fields) => fields.iter().map(|f| width(f.data_type())).sum::<u64>() + 1,
        DataType::List(f) | DataType::LargeList(f) => 4 + 4 * width(f.data_type()),
        DataType::Utf8
        | DataType::Binary
        | DataType::LargeUtf8
        | DataType::LargeBinary
        | DataType::Utf8View
        | DataType::BinaryView => VARIABLE_WIDTH,
        other => other.primitive_width().map_or(16, |w| w as u64 + 1),
    }
}

/// Bytes to MiB, for reports and limits.
#[allow(clippy::cast_precision_loss)]
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Real Arrow memory held by batches.
pub fn batches_bytes(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .map(|b| b.get_array_memory_size() as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, ListArray, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow::datatypes::{Field, Int64Type, Schema};

    use super::*;

    /// The precheck refuses an alias on the estimate before anything is downloaded, so the
    /// estimate must not be below what the data really takes for values of typical width
    /// (strings up to 32 bytes; wider text is caught on the real size after the fetch).
    #[test]
    fn the_estimate_is_at_least_the_real_arrow_size() {
        let rows = 10_000usize;
        let n = |i: usize| i64::try_from(i).unwrap();
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "id",
                Arc::new(Int64Array::from_iter((0..rows).map(|i| Some(n(i))))),
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter(
                    (0..rows).map(|i| (i % 7 != 0).then_some(0.5)),
                )),
            ),
            (
                "flag",
                Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 2 == 0)))),
            ),
            (
                "day",
                Arc::new(Date32Array::from_iter(
                    (0..rows).map(|i| i32::try_from(i).ok()),
                )),
            ),
            (
                "at",
                Arc::new(
                    TimestampMicrosecondArray::from_iter((0..rows).map(|i| Some(n(i))))
                        .with_timezone("UTC"),
                ),
            ),
            (
                "name",
                Arc::new(StringArray::from_iter(
                    (0..rows).map(|i| Some(format!("customer-{i:0>22}"))),
                )),
            ),
            (
                "tags",
                Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
                    (0..rows).map(|i| Some(vec![Some(n(i))])),
                )),
            ),
        ];
        for (name, array) in columns {
            let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new(
                name,
                array.data_type().clone(),
                true,
            )]));
            let batch = RecordBatch::try_new(schema.clone(), vec![array]).unwrap();
            let real = batches_bytes(&[batch]);
            let estimate = estimate_bytes(&schema, rows as u64);
            assert!(
                estimate >= real,
                "{name}: estimated {estimate} bytes for {real} real"
            );
        }
    }
}
