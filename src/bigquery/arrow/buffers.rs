//! The pending values of each column, in plain vectors rather than arrow's builders so that
//! a page that fails half-way can be truncated back (see the module doc of `arrow`).

use std::sync::Arc;

use ::arrow::array::builder::{BooleanBufferBuilder, NullBufferBuilder};
use ::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, ListArray, PrimitiveArray, StringArray, StructArray,
};
use ::arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use ::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Decimal256Type, Fields, Float64Type,
    Int64Type, Time64MicrosecondType, TimeUnit, TimestampMicrosecondType, i256,
};
use ::arrow::error::ArrowError;
use base64::Engine as _;
use serde_json::Value;

use super::ConvertError;
use super::cells::{
    cell_value, parse_bignumeric, parse_date, parse_datetime, parse_float64, parse_numeric,
    parse_time, parse_timestamp, record_cells, shape, show,
};
use super::schema::{
    BIGNUMERIC_PRECISION, BIGNUMERIC_SCALE, Column, Kind, Mode, NUMERIC_PRECISION, NUMERIC_SCALE,
};

/// Plain-vector storage per Arrow type; see the module doc for why not arrow's builders.
pub(super) enum Values {
    Int64(Prim<Int64Type>),
    Float64(Prim<Float64Type>),
    Decimal128(Prim<Decimal128Type>),
    Decimal256(Prim<Decimal256Type>),
    Bool(BoolValues),
    Date32(Prim<Date32Type>),
    Timestamp(Prim<TimestampMicrosecondType>, Option<Arc<str>>),
    Time64(Prim<Time64MicrosecondType>),
    Utf8(ByteValues),
    Binary(ByteValues),
    Struct(StructValues),
}

pub(super) struct Prim<T: ArrowPrimitiveType> {
    pub(super) values: Vec<T::Native>,
    pub(super) nulls: NullBufferBuilder,
}

pub(super) struct BoolValues {
    pub(super) values: BooleanBufferBuilder,
    pub(super) nulls: NullBufferBuilder,
}

pub(super) struct ByteValues {
    pub(super) offsets: Vec<i32>,
    pub(super) data: Vec<u8>,
    pub(super) nulls: NullBufferBuilder,
}

pub(super) struct StructValues {
    pub(super) fields: Fields,
    pub(super) children: Vec<Column>,
    pub(super) nulls: NullBufferBuilder,
    pub(super) len: usize,
}

impl Column {
    /// Appends the `v` of one cell (`Value::Null` for SQL NULL).
    pub(super) fn append(&mut self, value: &Value, row: usize) -> Result<(), ConvertError> {
        match self.mode {
            Mode::Repeated => self.append_list(value, row),
            Mode::Nullable if value.is_null() => {
                self.values.push_null();
                Ok(())
            }
            Mode::Required if value.is_null() => Err(ConvertError::at(
                &self.path,
                row,
                "NULL in a REQUIRED column",
            )),
            Mode::Nullable | Mode::Required => self.append_value(value, row),
        }
    }

    pub(super) fn append_list(&mut self, value: &Value, row: usize) -> Result<(), ConvertError> {
        // BigQuery has no NULL arrays; treat a null the way it would arrive anyway, as `[]`.
        let items: &[Value] = match value {
            Value::Null => &[],
            Value::Array(items) => items,
            other => {
                return Err(ConvertError::at(
                    &self.path,
                    row,
                    format!(
                        "expected an array of {{\"v\": …}} for a REPEATED column, got {}",
                        shape(other)
                    ),
                ));
            }
        };
        for (i, item) in items.iter().enumerate() {
            let element = cell_value(item).map_err(|m| {
                ConvertError::at(&self.path, row, format!("array element {i}: {m}"))
            })?;
            if element.is_null() {
                return Err(ConvertError::at(
                    &self.path,
                    row,
                    format!("array element {i} is NULL (BigQuery arrays cannot hold NULL)"),
                ));
            }
            self.append_value(element, row).map_err(|mut e| {
                e.message = format!("{} (in array element {i} of `{}`)", e.message, self.path);
                e
            })?;
        }
        let end = i32::try_from(self.values.len()).map_err(|_| {
            ConvertError::at(
                &self.path,
                row,
                "more than 2^31 array elements in one batch; flush more often",
            )
        })?;
        self.offsets.push(end);
        Ok(())
    }

    /// Appends one non-null value of the element type.
    pub(super) fn append_value(&mut self, value: &Value, row: usize) -> Result<(), ConvertError> {
        let kind = self.kind;
        match &mut self.values {
            Values::Struct(s) => {
                let cells =
                    record_cells(value).map_err(|m| ConvertError::at(&self.path, row, m))?;
                check_width(cells, &s.children, &self.path, row)?;
                for (child, cell) in s.children.iter_mut().zip(cells) {
                    let v = cell_value(cell).map_err(|m| ConvertError::at(&child.path, row, m))?;
                    child.append(v, row)?;
                }
                s.nulls.append_non_null();
                s.len += 1;
                Ok(())
            }
            values => values
                .push_scalar(kind, value)
                .map_err(|m| ConvertError::at(&self.path, row, m)),
        }
    }

    /// Appends the text of one non-null scalar cell (the fast path, `text.rs`).
    pub(super) fn append_text(&mut self, text: &str, row: usize) -> Result<(), ConvertError> {
        let kind = self.kind;
        self.values
            .push_text(kind, text)
            .map_err(|m| ConvertError::at(&self.path, row, m))
    }

    /// Whether this column is a RECORD (or REPEATED RECORD).
    pub(super) fn is_record(&self) -> bool {
        matches!(self.values, Values::Struct(_))
    }

    /// Fills this column for a row whose parent RECORD is NULL.
    pub(super) fn append_absent(&mut self) {
        match self.mode {
            Mode::Repeated => {
                let end = self.offsets.last().copied().unwrap_or(0);
                self.offsets.push(end);
            }
            // A non-nullable Arrow child gets a placeholder: the parent's null masks it.
            Mode::Required => self.values.push_default(),
            Mode::Nullable => self.values.push_null(),
        }
    }

    /// Drops everything past the first `rows` rows.
    pub(super) fn truncate(&mut self, rows: usize) {
        if self.mode == Mode::Repeated {
            self.offsets.truncate(rows + 1);
            let end = self.offsets.last().copied().unwrap_or(0);
            self.values.truncate(usize::try_from(end).unwrap_or(0));
        } else {
            self.values.truncate(rows);
        }
    }

    pub(super) fn finish(&mut self) -> Result<ArrayRef, ConvertError> {
        let values = self.values.finish(&self.path)?;
        match &self.item {
            Some(item) => {
                let offsets = std::mem::replace(&mut self.offsets, vec![0]);
                // Offsets start at 0 and only grow (each is a values length), as OffsetBuffer needs.
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                let list = ListArray::try_new(item.clone(), offsets, values, None)
                    .map_err(|e| ConvertError::arrow(&self.path, e))?;
                Ok(Arc::new(list))
            }
            None => Ok(values),
        }
    }
}

impl<T: ArrowPrimitiveType> Prim<T> {
    pub(super) fn new() -> Self {
        Self {
            values: Vec::new(),
            nulls: NullBufferBuilder::new(0),
        }
    }

    pub(super) fn push(&mut self, v: T::Native) {
        self.values.push(v);
        self.nulls.append_non_null();
    }

    pub(super) fn push_null(&mut self) {
        self.values.push(T::Native::default());
        self.nulls.append_null();
    }

    pub(super) fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    pub(super) fn finish(&mut self) -> Result<PrimitiveArray<T>, ArrowError> {
        let values = ScalarBuffer::from(std::mem::take(&mut self.values));
        PrimitiveArray::try_new(values, self.nulls.finish())
    }
}

impl ByteValues {
    pub(super) fn new() -> Self {
        Self {
            offsets: vec![0],
            data: Vec::new(),
            nulls: NullBufferBuilder::new(0),
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        let end = self
            .data
            .len()
            .checked_add(bytes.len())
            .and_then(|n| i32::try_from(n).ok())
            .ok_or("more than 2 GiB of data in one batch; flush more often")?;
        self.data.extend_from_slice(bytes);
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    pub(super) fn push_empty(&mut self, valid: bool) {
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
        self.nulls.append(valid);
    }

    pub(super) fn truncate(&mut self, len: usize) {
        self.offsets.truncate(len + 1);
        let end = self.offsets.last().copied().unwrap_or(0);
        self.data.truncate(usize::try_from(end).unwrap_or(0));
        self.nulls.truncate(len);
    }

    pub(super) fn take(&mut self) -> (OffsetBuffer<i32>, Buffer, Option<NullBuffer>) {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let data = std::mem::take(&mut self.data);
        // Offsets start at 0 and only grow (each is a data length), as OffsetBuffer needs.
        (
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(data),
            self.nulls.finish(),
        )
    }
}

impl Values {
    pub(super) fn data_type(&self) -> DataType {
        match self {
            Self::Int64(_) => DataType::Int64,
            Self::Float64(_) => DataType::Float64,
            Self::Decimal128(_) => DataType::Decimal128(NUMERIC_PRECISION, NUMERIC_SCALE),
            Self::Decimal256(_) => DataType::Decimal256(BIGNUMERIC_PRECISION, BIGNUMERIC_SCALE),
            Self::Bool(_) => DataType::Boolean,
            Self::Date32(_) => DataType::Date32,
            Self::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            Self::Time64(_) => DataType::Time64(TimeUnit::Microsecond),
            Self::Utf8(_) => DataType::Utf8,
            Self::Binary(_) => DataType::Binary,
            Self::Struct(s) => DataType::Struct(s.fields.clone()),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Self::Int64(p) => p.values.len(),
            Self::Float64(p) => p.values.len(),
            Self::Decimal128(p) => p.values.len(),
            Self::Decimal256(p) => p.values.len(),
            Self::Bool(b) => b.values.len(),
            Self::Date32(p) => p.values.len(),
            Self::Timestamp(p, _) => p.values.len(),
            Self::Time64(p) => p.values.len(),
            Self::Utf8(b) | Self::Binary(b) => b.offsets.len().saturating_sub(1),
            Self::Struct(s) => s.len,
        }
    }

    /// Parses a non-null scalar `v` for a column of BigQuery type `kind`.
    pub(super) fn push_scalar(&mut self, kind: Kind, value: &Value) -> Result<(), String> {
        match value {
            Value::String(s) => self.push_text(kind, s),
            other => Err(format!(
                "expected a string for {}, got {}",
                kind.name(),
                shape(other)
            )),
        }
    }

    /// Parses the text of a non-null scalar for a column of BigQuery type `kind`.
    pub(super) fn push_text(&mut self, kind: Kind, text: &str) -> Result<(), String> {
        match self {
            Self::Int64(p) => p.push(
                text.parse::<i64>()
                    .map_err(|_| format!("invalid INT64 {}", show(text)))?,
            ),
            Self::Float64(p) => p.push(parse_float64(text)?),
            Self::Decimal128(p) => p.push(parse_numeric(text)?),
            Self::Decimal256(p) => p.push(parse_bignumeric(text)?),
            Self::Bool(b) => {
                let v = if text.eq_ignore_ascii_case("true") {
                    true
                } else if text.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(format!("invalid BOOL {}", show(text)));
                };
                b.values.append(v);
                b.nulls.append_non_null();
            }
            Self::Date32(p) => p.push(parse_date(text)?),
            Self::Timestamp(p, _) if kind == Kind::DateTime => p.push(parse_datetime(text)?),
            Self::Timestamp(p, _) => p.push(parse_timestamp(text)?),
            Self::Time64(p) => p.push(parse_time(text)?),
            Self::Utf8(b) => b.push(text.as_bytes())?,
            Self::Binary(b) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("invalid base64 for BYTES ({e})"))?;
                b.push(&bytes)?;
            }
            Self::Struct(_) => return Err("a RECORD needs {\"f\": […]}".to_string()),
        }
        Ok(())
    }

    pub(super) fn push_null(&mut self) {
        match self {
            Self::Int64(p) => p.push_null(),
            Self::Float64(p) => p.push_null(),
            Self::Decimal128(p) => p.push_null(),
            Self::Decimal256(p) => p.push_null(),
            Self::Bool(b) => {
                b.values.append(false);
                b.nulls.append_null();
            }
            Self::Date32(p) => p.push_null(),
            Self::Timestamp(p, _) => p.push_null(),
            Self::Time64(p) => p.push_null(),
            Self::Utf8(b) | Self::Binary(b) => b.push_empty(false),
            Self::Struct(s) => {
                s.nulls.append_null();
                s.len += 1;
                for child in &mut s.children {
                    child.append_absent();
                }
            }
        }
    }

    /// A valid zero / empty value, for REQUIRED children of a NULL RECORD.
    pub(super) fn push_default(&mut self) {
        match self {
            Self::Int64(p) => p.push(0),
            Self::Float64(p) => p.push(0.0),
            Self::Decimal128(p) => p.push(0),
            Self::Decimal256(p) => p.push(i256::ZERO),
            Self::Bool(b) => {
                b.values.append(false);
                b.nulls.append_non_null();
            }
            Self::Date32(p) => p.push(0),
            Self::Timestamp(p, _) => p.push(0),
            Self::Time64(p) => p.push(0),
            Self::Utf8(b) | Self::Binary(b) => b.push_empty(true),
            Self::Struct(s) => {
                s.nulls.append_non_null();
                s.len += 1;
                for child in &mut s.children {
                    child.append_absent();
                }
            }
        }
    }

    pub(super) fn truncate(&mut self, len: usize) {
        match self {
            Self::Int64(p) => p.truncate(len),
            Self::Float64(p) => p.truncate(len),
            Self::Decimal128(p) => p.truncate(len),
            Self::Decimal256(p) => p.truncate(len),
            Self::Bool(b) => {
                b.values.truncate(len);
                b.nulls.truncate(len);
            }
            Self::Date32(p) => p.truncate(len),
            Self::Timestamp(p, _) => p.truncate(len),
            Self::Time64(p) => p.truncate(len),
            Self::Utf8(b) | Self::Binary(b) => b.truncate(len),
            Self::Struct(s) => {
                s.nulls.truncate(len);
                s.len = s.len.min(len);
                for child in &mut s.children {
                    child.truncate(len);
                }
            }
        }
    }

    pub(super) fn finish(&mut self, path: &str) -> Result<ArrayRef, ConvertError> {
        let err = |e| ConvertError::arrow(path, e);
        Ok(match self {
            Self::Int64(p) => Arc::new(p.finish().map_err(err)?),
            Self::Float64(p) => Arc::new(p.finish().map_err(err)?),
            Self::Decimal128(p) => Arc::new(
                p.finish()
                    .and_then(|a| a.with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE))
                    .map_err(err)?,
            ),
            Self::Decimal256(p) => Arc::new(
                p.finish()
                    .and_then(|a| {
                        a.with_precision_and_scale(BIGNUMERIC_PRECISION, BIGNUMERIC_SCALE)
                    })
                    .map_err(err)?,
            ),
            Self::Bool(b) => {
                let values = b.values.finish();
                let nulls = b.nulls.finish();
                if nulls.as_ref().is_some_and(|n| n.len() != values.len()) {
                    return Err(ConvertError::schema(
                        path,
                        "internal error: BOOL lengths differ",
                    ));
                }
                Arc::new(BooleanArray::new(values, nulls))
            }
            Self::Date32(p) => Arc::new(p.finish().map_err(err)?),
            Self::Timestamp(p, tz) => {
                let array = p.finish().map_err(err)?;
                Arc::new(match tz {
                    Some(tz) => array.with_timezone(tz.clone()),
                    None => array,
                })
            }
            Self::Time64(p) => Arc::new(p.finish().map_err(err)?),
            Self::Utf8(b) => {
                let (offsets, data, nulls) = b.take();
                Arc::new(StringArray::try_new(offsets, data, nulls).map_err(err)?)
            }
            Self::Binary(b) => {
                let (offsets, data, nulls) = b.take();
                Arc::new(BinaryArray::try_new(offsets, data, nulls).map_err(err)?)
            }
            Self::Struct(s) => {
                let children = s
                    .children
                    .iter_mut()
                    .map(Column::finish)
                    .collect::<Result<Vec<_>, _>>()?;
                let len = std::mem::take(&mut s.len);
                Arc::new(
                    StructArray::try_new_with_length(
                        s.fields.clone(),
                        children,
                        s.nulls.finish(),
                        len,
                    )
                    .map_err(err)?,
                )
            }
        })
    }
}

pub(super) fn check_width(
    cells: &[Value],
    columns: &[Column],
    path: &str,
    row: usize,
) -> Result<(), ConvertError> {
    if cells.len() == columns.len() {
        return Ok(());
    }
    let message = format!(
        "{} cells but the schema has {} fields",
        cells.len(),
        columns.len()
    );
    // Name the first column without a cell when there is one; a surplus belongs to the row/RECORD.
    let column = columns.get(cells.len()).map_or(path, |c| c.path.as_str());
    Err(ConvertError::at(column, row, message))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{field, push, record};
    use super::super::{BqField, RowsToArrow};
    use super::*;
    use ::arrow::array::{Array, AsArray};
    use serde_json::json;

    fn nested_fields() -> Vec<BqField> {
        vec![
            field("id", "INTEGER", "REQUIRED"),
            record(
                "rec",
                "NULLABLE",
                vec![
                    field("nums", "INTEGER", "REPEATED"),
                    record(
                        "items",
                        "REPEATED",
                        vec![
                            field("name", "STRING", "NULLABLE"),
                            field("qty", "INTEGER", "REQUIRED"),
                        ],
                    ),
                    field("note", "STRING", "NULLABLE"),
                ],
            ),
        ]
    }

    #[test]
    fn nested_records_and_arrays_with_nulls_at_each_level() {
        let rows = json!([
            // everything present
            {"f": [{"v": "1"}, {"v": {"f": [
                {"v": [{"v": "10"}, {"v": "11"}]},
                {"v": [{"v": {"f": [{"v": "a"}, {"v": "1"}]}}, {"v": {"f": [{"v": null}, {"v": "2"}]}}]},
                {"v": "n"}
            ]}}]},
            // NULL record
            {"f": [{"v": "2"}, {"v": null}]},
            // record with empty / null arrays and a null leaf
            {"f": [{"v": "3"}, {"v": {"f": [{"v": []}, {"v": null}, {"v": null}]}}]},
            // a cell without "v" (as gcp-bigquery-client re-serialises NULL) is NULL too
            {"f": [{"v": "4"}, {}]}
        ]);
        let mut conv = RowsToArrow::new(&nested_fields()).expect("schema");
        push(&mut conv, rows.as_array().expect("rows")).expect("push");
        assert_eq!(conv.pending_rows(), 4);
        let batch = conv.flush().expect("flush");
        assert_eq!(batch.num_rows(), 4);

        let ids = batch.column(0).as_primitive::<Int64Type>();
        assert_eq!(ids.values().to_vec(), vec![1, 2, 3, 4]);

        let rec = batch.column(1).as_struct();
        assert!(rec.is_valid(0));
        assert!(rec.is_null(1));
        assert!(rec.is_valid(2));
        assert!(rec.is_null(3));

        let nums = rec.column(0).as_list::<i32>();
        assert_eq!(nums.value_offsets(), &[0, 2, 2, 2, 2]);
        assert_eq!(
            nums.values().as_primitive::<Int64Type>().values().to_vec(),
            vec![10, 11]
        );

        let items = rec.column(1).as_list::<i32>();
        assert_eq!(items.value_offsets(), &[0, 2, 2, 2, 2]);
        let item_structs = items.values().as_struct();
        assert_eq!(item_structs.null_count(), 0);
        let names = item_structs.column(0).as_string::<i32>();
        assert_eq!(names.value(0), "a");
        assert!(names.is_null(1));
        let qty = item_structs.column(1).as_primitive::<Int64Type>();
        assert_eq!(qty.values().to_vec(), vec![1, 2]);

        let note = rec.column(2).as_string::<i32>();
        assert_eq!(note.value(0), "n");
        assert!(note.is_null(2));
    }

    #[test]
    fn required_child_of_null_record_gets_masked_placeholder() {
        let fields = vec![record(
            "s",
            "NULLABLE",
            vec![
                field("a", "INT64", "REQUIRED"),
                record("t", "REQUIRED", vec![field("b", "STRING", "REQUIRED")]),
            ],
        )];
        let mut conv = RowsToArrow::new(&fields).expect("schema");
        push(
            &mut conv,
            &[
                json!({"f": [{"v": null}]}),
                json!({"f": [{"v": {"f": [{"v": "5"}, {"v": {"f": [{"v": "x"}]}}]}}]}),
            ],
        )
        .expect("push");
        let batch = conv.flush().expect("flush");
        let s = batch.column(0).as_struct();
        assert!(s.is_null(0));
        assert_eq!(s.column(0).null_count(), 0);
        assert_eq!(s.column(0).as_primitive::<Int64Type>().value(1), 5);
        assert_eq!(
            s.column(1)
                .as_struct()
                .column(0)
                .as_string::<i32>()
                .value(1),
            "x"
        );
        // But a NULL in a REQUIRED child of a present record is an error.
        let err = push(
            &mut conv,
            &[json!({"f": [{"v": {"f": [{"v": null}, {"v": {"f": [{"v": "x"}]}}]}}]})],
        )
        .expect_err("required null");
        assert_eq!(err.column, "s.a");
        assert_eq!(err.row, Some(2));
    }

    #[test]
    fn malformed_nested_values_roll_back() {
        let mut conv = RowsToArrow::new(&nested_fields()).expect("schema");
        let good = json!({"f": [{"v": "1"}, {"v": {"f": [{"v": [{"v": "7"}]}, {"v": [{"v": {"f": [{"v": "a"}, {"v": "1"}]}}]}, {"v": "n"}]}}]});
        let cases = [
            // NULL array element
            (
                json!({"f": [{"v": "2"}, {"v": {"f": [{"v": [{"v": "1"}, {"v": null}]}, {"v": []}, {"v": null}]}}]}),
                "rec.nums",
            ),
            // array element not a number
            (
                json!({"f": [{"v": "2"}, {"v": {"f": [{"v": [{"v": "1"}, {"v": "x"}]}, {"v": []}, {"v": null}]}}]}),
                "rec.nums",
            ),
            // raw scalars instead of {"v": …} items
            (
                json!({"f": [{"v": "2"}, {"v": {"f": [{"v": ["1"]}, {"v": []}, {"v": null}]}}]}),
                "rec.nums",
            ),
            // array value not an array
            (
                json!({"f": [{"v": "2"}, {"v": {"f": [{"v": "1"}, {"v": []}, {"v": null}]}}]}),
                "rec.nums",
            ),
            // REQUIRED null deep inside a repeated record, after earlier elements were appended
            (
                json!({"f": [{"v": "2"}, {"v": {"f": [{"v": [{"v": "3"}]}, {"v": [{"v": {"f": [{"v": "a"}, {"v": "1"}]}}, {"v": {"f": [{"v": "b"}, {"v": null}]}}]}, {"v": null}]}}]}),
                "rec.items.qty",
            ),
            // record too narrow
            (
                json!({"f": [{"v": "2"}, {"v": {"f": [{"v": []}]}}]}),
                "rec.items",
            ),
            // record given as a string
            (json!({"f": [{"v": "2"}, {"v": "x"}]}), "rec"),
        ];
        for (flushed, (bad, column)) in cases.into_iter().enumerate() {
            push(&mut conv, std::slice::from_ref(&good)).expect("good");
            let err = push(&mut conv, &[good.clone(), bad.clone()]).expect_err("bad");
            assert_eq!(err.column, column, "{bad} → {err}");
            // Absolute row number: one row flushed per earlier case, one pending, then the bad one.
            assert_eq!(err.row, Some(flushed + 2), "{err}");
            let batch = conv.flush().expect("flush after rollback");
            assert_eq!(batch.num_rows(), 1);
            let rec = batch.column(1).as_struct();
            let nums = rec.column(0).as_list::<i32>();
            assert_eq!(nums.value_offsets(), &[0, 1]);
            assert_eq!(nums.values().len(), 1);
            let items = rec.column(1).as_list::<i32>();
            assert_eq!(items.values().len(), 1);
            assert_eq!(items.values().as_struct().column(0).len(), 1);
        }
    }
}
