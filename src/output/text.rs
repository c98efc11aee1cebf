//! Making batches printable for the text formats (CSV, JSON, table).
//!
//! Arrow's formatters parse a timestamp column's zone before printing it, and without the
//! `chrono-tz` feature (which `da` does not enable) they only understand fixed offsets such
//! as `+01:00`. DuckDB labels `TIMESTAMPTZ` results with zone *names* (`UTC`, or the
//! session's zone), so those columns are relabelled `+00:00`: the stored instants are
//! already UTC, only the label changes, and they print as `...Z`. Parquet never comes
//! here; it keeps the original label.

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use arrow::error::ArrowError;

/// The label given to zones arrow cannot resolve; the values are UTC instants already.
const UTC_OFFSET: &str = "+00:00";

/// Returns `batch` with every unresolvable zone label (at any depth) replaced by `+00:00`.
/// Batches without such columns come back as they are, without copying data.
pub(super) fn printable(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema_ref();
    if schema
        .fields()
        .iter()
        .all(|f| relabel(f.data_type()).is_none())
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if let Some(data_type) = relabel(field.data_type()) {
            columns.push(cast(column, &data_type)?);
            fields.push(with_type(field, data_type));
        } else {
            columns.push(column.clone());
            fields.push(field.clone());
        }
    }
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns)
}

/// The type with unresolvable zones relabelled, or `None` when nothing changes.
fn relabel(data_type: &DataType) -> Option<DataType> {
    match data_type {
        DataType::Timestamp(unit, Some(zone)) if zone.parse::<Tz>().is_err() => {
            Some(DataType::Timestamp(*unit, Some(UTC_OFFSET.into())))
        }
        DataType::List(item) => relabel_field(item).map(DataType::List),
        DataType::LargeList(item) => relabel_field(item).map(DataType::LargeList),
        DataType::FixedSizeList(item, size) => {
            relabel_field(item).map(|item| DataType::FixedSizeList(item, *size))
        }
        DataType::Map(entries, sorted) => {
            relabel_field(entries).map(|entries| DataType::Map(entries, *sorted))
        }
        DataType::Dictionary(key, value) => {
            relabel(value).map(|value| DataType::Dictionary(key.clone(), Box::new(value)))
        }
        DataType::Struct(fields) => {
            if fields.iter().all(|f| relabel(f.data_type()).is_none()) {
                return None;
            }
            let fields = fields
                .iter()
                .map(|f| relabel_field(f).unwrap_or_else(|| f.clone()))
                .collect();
            Some(DataType::Struct(fields))
        }
        _ => None,
    }
}

fn relabel_field(field: &FieldRef) -> Option<FieldRef> {
    relabel(field.data_type()).map(|data_type| with_type(field, data_type))
}

fn with_type(field: &FieldRef, data_type: DataType) -> FieldRef {
    Arc::new(Field::clone(field).with_data_type(data_type))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, ListArray, TimestampMicrosecondArray};
    use arrow::util::display::{ArrayFormatter, FormatOptions};

    use super::*;

    fn stamps(zone: &str) -> TimestampMicrosecondArray {
        TimestampMicrosecondArray::from(vec![Some(1_767_323_045_123_456), None]).with_timezone(zone)
    }

    fn first_value(column: &dyn Array) -> String {
        let options = FormatOptions::new();
        let formatter = ArrayFormatter::try_new(column, &options).unwrap();
        formatter.value(0).to_string()
    }

    #[test]
    fn zone_names_print_as_the_same_instant_in_utc() {
        for zone in ["UTC", "Etc/UTC", "Europe/Berlin"] {
            let batch =
                RecordBatch::try_from_iter([("t", Arc::new(stamps(zone)) as ArrayRef)]).unwrap();
            let printable = printable(&batch).unwrap();
            assert_eq!(
                first_value(printable.column(0)),
                "2026-01-02T03:04:05.123456Z",
                "{zone}"
            );
        }
    }

    #[test]
    fn fixed_offsets_are_kept() {
        let batch =
            RecordBatch::try_from_iter([("t", Arc::new(stamps("+01:00")) as ArrayRef)]).unwrap();
        let printable = printable(&batch).unwrap();
        assert_eq!(printable.schema(), batch.schema());
        assert_eq!(
            first_value(printable.column(0)),
            "2026-01-02T04:04:05.123456+01:00"
        );
    }

    #[test]
    fn zones_inside_lists_are_relabelled_too() {
        let values = stamps("UTC");
        let item = Arc::new(Field::new("item", values.data_type().clone(), true));
        let list = ListArray::try_new(
            item,
            arrow::buffer::OffsetBuffer::from_lengths([2]),
            Arc::new(values),
            None,
        )
        .unwrap();
        let batch = RecordBatch::try_from_iter([("l", Arc::new(list) as ArrayRef)]).unwrap();
        let printable = printable(&batch).unwrap();
        let DataType::List(item) = printable.schema().field(0).data_type().clone() else {
            panic!("still a list");
        };
        assert_eq!(
            item.data_type(),
            &DataType::Timestamp(
                arrow::datatypes::TimeUnit::Microsecond,
                Some("+00:00".into())
            )
        );
    }
}
