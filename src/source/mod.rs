//! Alias sources: where `register_bq` data comes from. Every backend answers the same two
//! questions — how big will this alias be (precheck), and give me its rows as Arrow
//! (fetch) — so the pipeline, limits and reports do not care which one runs.

pub mod local;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::RunError;
use crate::validate::CheckedAlias;

/// What a precheck learned about an alias without downloading it.
#[derive(Debug, Clone)]
pub struct Precheck {
    pub rows: u64,
    pub schema: SchemaRef,
    /// Bytes the backend will scan (BigQuery dry run); `None` when it cannot say.
    pub bytes_processed: Option<u64>,
}

/// An alias's data.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: u64,
    /// Arrow memory actually held by the batches.
    pub bytes: u64,
}

/// A backend that produces alias data. Calls come from several threads at once.
pub trait AliasSource: Sync {
    /// `local` or `bigquery`, shown in every output so local data is never mistaken for real.
    fn label(&self) -> &'static str;
    fn precheck(&self, alias: &CheckedAlias) -> Result<Precheck, RunError>;
    fn fetch(&self, alias: &CheckedAlias) -> Result<Fetched, RunError>;
}

/// Estimated Arrow bytes for `rows` rows of `schema`: exact widths for fixed-size types,
/// a typical width for variable ones. Deliberately generous: it decides before downloading.
pub fn estimate_bytes(schema: &SchemaRef, rows: u64) -> u64 {
    let per_row: u64 = schema.fields().iter().map(|f| width(f.data_type())).sum();
    per_row.saturating_mul(rows)
}

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
        | DataType::BinaryView => 4 + 32,
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

    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn estimates_grow_with_rows_and_columns() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        assert_eq!(estimate_bytes(&schema, 0), 0);
        assert_eq!(estimate_bytes(&schema, 1000), 1000 * (9 + 36));
    }
}
