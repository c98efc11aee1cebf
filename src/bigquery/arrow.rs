//! BigQuery REST query results (`jobs.query` / `jobs.getQueryResults`) → Arrow `RecordBatch`es.
//!
//! The REST API returns a `schema` plus `rows` of `{"f":[{"v":…},…]}` cells in which every scalar is a
//! JSON string, a STRUCT is a nested `{"f":[…]}` and an ARRAY is a list of `{"v":…}` items. This module
//! maps the schema to the Arrow types BigQuery's Storage Read API would produce (so a later switch to
//! gRPC keeps the DuckDB types), and parses cells exactly: NUMERIC, BIGNUMERIC and the float-seconds
//! TIMESTAMP text are read as exact decimals, never through `f64`.
//!
//! Every Arrow field carries the BigQuery type (standard SQL spelling, e.g. `INT64`, `GEOGRAPHY`) in its
//! metadata under [`BIGQUERY_TYPE_KEY`], so string columns holding GEOGRAPHY, JSON or INTERVAL text can be
//! told apart.
//!
//! Values are kept in plain vectors rather than arrow's builders so that a page that fails half-way
//! can be rolled back: [`RowsToArrow::push_page`] either appends the whole page or nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use ::arrow::array::builder::{BooleanBufferBuilder, NullBufferBuilder};
use ::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, ListArray, PrimitiveArray, StringArray, StructArray,
};
use ::arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use ::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Decimal256Type, Field, FieldRef,
    Fields, Float64Type, Int64Type, Schema, SchemaRef, Time64MicrosecondType, TimeUnit,
    TimestampMicrosecondType, i256,
};
use ::arrow::error::ArrowError;
use ::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use base64::Engine as _;
use chrono::Datelike as _;
use serde_json::Value;

/// Arrow field metadata key holding the BigQuery type name (standard SQL spelling).
pub const BIGQUERY_TYPE_KEY: &str = "bigquery:type";

/// A BigQuery field as in the REST `schema.fields` JSON: name, type, mode, fields.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct BqField {
    /// Column name.
    pub name: String,
    /// Type name, legacy (`INTEGER`, `RECORD`, …) or standard (`INT64`, `STRUCT`, …) spelling.
    #[serde(rename = "type")]
    pub kind: String,
    /// `NULLABLE` (the default when absent), `REQUIRED` or `REPEATED`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Sub-fields of a RECORD / STRUCT.
    #[serde(default)]
    pub fields: Vec<BqField>,
}

/// Why a schema or a cell could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    /// Dotted path of the column (`rec.items.x`); empty when no single column is at fault.
    pub column: String,
    /// 0-based row index counted over every row appended since [`RowsToArrow::new`];
    /// `None` for schema errors.
    pub row: Option<usize>,
    /// What was wrong.
    pub message: String,
}

impl ConvertError {
    fn schema(column: &str, message: impl Into<String>) -> Self {
        Self {
            column: column.to_string(),
            row: None,
            message: message.into(),
        }
    }

    fn at(column: &str, row: usize, message: impl Into<String>) -> Self {
        Self {
            column: column.to_string(),
            row: Some(row),
            message: message.into(),
        }
    }

    fn arrow(column: &str, err: ArrowError) -> Self {
        Self::schema(column, format!("building the Arrow array failed: {err}"))
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.column.is_empty(), self.row) {
            (false, Some(row)) => write!(f, "column `{}`, row {row}: ", self.column)?,
            (false, None) => write!(f, "column `{}`: ", self.column)?,
            (true, Some(row)) => write!(f, "row {row}: ")?,
            (true, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConvertError {}

/// The Arrow schema for a BigQuery schema.
pub fn arrow_schema(fields: &[BqField]) -> Result<SchemaRef, ConvertError> {
    let columns = fields
        .iter()
        .map(|f| Column::new(f, ""))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(schema_of(&columns))
}

fn schema_of(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
    ))
}

/// Appends pages of rows (the JSON `rows` array of each response) and builds batches.
///
/// Row indices in errors count every row appended since [`RowsToArrow::new`], across pages and flushes.
pub struct RowsToArrow {
    schema: SchemaRef,
    columns: Vec<Column>,
    /// Rows appended since the last flush.
    pending: usize,
    /// Rows already turned into batches, so error row numbers stay absolute.
    flushed: usize,
}

impl RowsToArrow {
    /// Checks the schema and prepares empty builders; RANGE or unknown types are an error.
    pub fn new(fields: &[BqField]) -> Result<Self, ConvertError> {
        let columns = fields
            .iter()
            .map(|f| Column::new(f, ""))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            schema: schema_of(&columns),
            columns,
            pending: 0,
            flushed: 0,
        })
    }

    /// The Arrow schema of every batch this converter builds.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Append one page (`rows` JSON array; missing/empty is fine).
    ///
    /// All or nothing: on error the rows of this page are dropped again and the rows of earlier
    /// pages stay pending.
    pub fn push_page(&mut self, rows: &[Value]) -> Result<(), ConvertError> {
        let start = self.pending;
        for (i, row) in rows.iter().enumerate() {
            let index = self.flushed + start + i;
            if let Err(err) = self.push_row(row, index) {
                for column in &mut self.columns {
                    column.truncate(start);
                }
                return Err(err);
            }
        }
        self.pending = start + rows.len();
        Ok(())
    }

    fn push_row(&mut self, row: &Value, index: usize) -> Result<(), ConvertError> {
        let cells = record_cells(row).map_err(|m| ConvertError::at("", index, m))?;
        check_width(cells, &self.columns, "", index)?;
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            let value = cell_value(cell).map_err(|m| ConvertError::at(&column.path, index, m))?;
            column.append(value, index)?;
        }
        Ok(())
    }

    /// Rows appended since the last batch.
    pub fn pending_rows(&self) -> usize {
        self.pending
    }

    /// Finish the rows appended so far into one RecordBatch (and reset the builders) — call per page or every N rows.
    pub fn flush(&mut self) -> Result<RecordBatch, ConvertError> {
        let rows = self.pending;
        let result = self.finish_columns(rows);
        if result.is_err() {
            // Only reachable through an internal inconsistency; start clean rather than build on it.
            for column in &mut self.columns {
                column.truncate(0);
            }
        }
        self.pending = 0;
        self.flushed += rows;
        result
    }

    fn finish_columns(&mut self, rows: usize) -> Result<RecordBatch, ConvertError> {
        let arrays = self
            .columns
            .iter_mut()
            .map(Column::finish)
            .collect::<Result<Vec<_>, _>>()?;
        // The explicit row count keeps a schema without columns meaningful.
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
            .map_err(|e| ConvertError::arrow("", e))
    }
}

/// The BigQuery types, one per parse rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int64,
    Float64,
    Numeric,
    BigNumeric,
    Bool,
    String,
    Bytes,
    Date,
    DateTime,
    Time,
    Timestamp,
    Geography,
    Json,
    Interval,
    Record,
}

impl Kind {
    fn parse(name: &str) -> Result<Self, String> {
        Ok(match name.to_ascii_uppercase().as_str() {
            "INTEGER" | "INT64" => Self::Int64,
            "FLOAT" | "FLOAT64" => Self::Float64,
            "NUMERIC" | "DECIMAL" => Self::Numeric,
            "BIGNUMERIC" | "BIGDECIMAL" => Self::BigNumeric,
            "BOOLEAN" | "BOOL" => Self::Bool,
            "STRING" => Self::String,
            "BYTES" => Self::Bytes,
            "DATE" => Self::Date,
            "DATETIME" => Self::DateTime,
            "TIME" => Self::Time,
            "TIMESTAMP" => Self::Timestamp,
            "GEOGRAPHY" => Self::Geography,
            "JSON" => Self::Json,
            "INTERVAL" => Self::Interval,
            "RECORD" | "STRUCT" => Self::Record,
            "RANGE" => return Err("type RANGE is not supported".to_string()),
            _ => return Err(format!("unknown BigQuery type {}", show(name))),
        })
    }

    /// Standard SQL spelling, so metadata readers need not know the legacy names.
    fn name(self) -> &'static str {
        match self {
            Self::Int64 => "INT64",
            Self::Float64 => "FLOAT64",
            Self::Numeric => "NUMERIC",
            Self::BigNumeric => "BIGNUMERIC",
            Self::Bool => "BOOL",
            Self::String => "STRING",
            Self::Bytes => "BYTES",
            Self::Date => "DATE",
            Self::DateTime => "DATETIME",
            Self::Time => "TIME",
            Self::Timestamp => "TIMESTAMP",
            Self::Geography => "GEOGRAPHY",
            Self::Json => "JSON",
            Self::Interval => "INTERVAL",
            Self::Record => "STRUCT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Nullable,
    Required,
    Repeated,
}

impl Mode {
    fn parse(mode: Option<&str>) -> Result<Self, String> {
        match mode.map(str::to_ascii_uppercase).as_deref() {
            None | Some("NULLABLE") => Ok(Self::Nullable),
            Some("REQUIRED") => Ok(Self::Required),
            Some("REPEATED") => Ok(Self::Repeated),
            Some(other) => Err(format!("unknown mode {}", show(other))),
        }
    }
}

/// One schema field: its Arrow field plus the storage of the pending values.
struct Column {
    path: String,
    kind: Kind,
    mode: Mode,
    field: FieldRef,
    /// The list's item field, for REPEATED columns.
    item: Option<FieldRef>,
    /// List offsets into `values`, for REPEATED columns (starts as `[0]`).
    offsets: Vec<i32>,
    /// The element values (the items, for REPEATED columns).
    values: Values,
}

/// Plain-vector storage per Arrow type; see the module doc for why not arrow's builders.
enum Values {
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

struct Prim<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    nulls: NullBufferBuilder,
}

struct BoolValues {
    values: BooleanBufferBuilder,
    nulls: NullBufferBuilder,
}

struct ByteValues {
    offsets: Vec<i32>,
    data: Vec<u8>,
    nulls: NullBufferBuilder,
}

struct StructValues {
    fields: Fields,
    children: Vec<Column>,
    nulls: NullBufferBuilder,
    len: usize,
}

impl Column {
    fn new(bq: &BqField, parent: &str) -> Result<Self, ConvertError> {
        let path = if parent.is_empty() {
            bq.name.clone()
        } else {
            format!("{parent}.{}", bq.name)
        };
        let kind = Kind::parse(&bq.kind).map_err(|m| ConvertError::schema(&path, m))?;
        let mode = Mode::parse(bq.mode.as_deref()).map_err(|m| ConvertError::schema(&path, m))?;
        if kind == Kind::Record && bq.fields.is_empty() {
            return Err(ConvertError::schema(&path, "RECORD has no fields"));
        }
        if kind != Kind::Record && !bq.fields.is_empty() {
            return Err(ConvertError::schema(
                &path,
                format!("{} cannot have sub-fields", kind.name()),
            ));
        }
        let values = match kind {
            Kind::Int64 => Values::Int64(Prim::new()),
            Kind::Float64 => Values::Float64(Prim::new()),
            Kind::Numeric => Values::Decimal128(Prim::new()),
            Kind::BigNumeric => Values::Decimal256(Prim::new()),
            Kind::Bool => Values::Bool(BoolValues {
                values: BooleanBufferBuilder::new(0),
                nulls: NullBufferBuilder::new(0),
            }),
            Kind::Date => Values::Date32(Prim::new()),
            Kind::DateTime => Values::Timestamp(Prim::new(), None),
            Kind::Timestamp => Values::Timestamp(Prim::new(), Some(Arc::from("UTC"))),
            Kind::Time => Values::Time64(Prim::new()),
            Kind::String | Kind::Geography | Kind::Json | Kind::Interval => {
                Values::Utf8(ByteValues::new())
            }
            Kind::Bytes => Values::Binary(ByteValues::new()),
            Kind::Record => {
                let children = bq
                    .fields
                    .iter()
                    .map(|f| Column::new(f, &path))
                    .collect::<Result<Vec<_>, _>>()?;
                Values::Struct(StructValues {
                    fields: children.iter().map(|c| c.field.clone()).collect(),
                    children,
                    nulls: NullBufferBuilder::new(0),
                    len: 0,
                })
            }
        };
        let element_type = values.data_type();
        let (data_type, item) = if mode == Mode::Repeated {
            // BigQuery arrays hold no NULL elements, hence non-nullable items.
            let item = Arc::new(Field::new_list_field(element_type, false));
            (DataType::List(item.clone()), Some(item))
        } else {
            (element_type, None)
        };
        let metadata = HashMap::from([(BIGQUERY_TYPE_KEY.to_string(), kind.name().to_string())]);
        let field = Arc::new(
            Field::new(bq.name.as_str(), data_type, mode != Mode::Required).with_metadata(metadata),
        );
        Ok(Self {
            path,
            kind,
            mode,
            field,
            item,
            offsets: vec![0],
            values,
        })
    }

    /// Appends the `v` of one cell (`Value::Null` for SQL NULL).
    fn append(&mut self, value: &Value, row: usize) -> Result<(), ConvertError> {
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

    fn append_list(&mut self, value: &Value, row: usize) -> Result<(), ConvertError> {
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
    fn append_value(&mut self, value: &Value, row: usize) -> Result<(), ConvertError> {
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

    /// Fills this column for a row whose parent RECORD is NULL.
    fn append_absent(&mut self) {
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
    fn truncate(&mut self, rows: usize) {
        if self.mode == Mode::Repeated {
            self.offsets.truncate(rows + 1);
            let end = self.offsets.last().copied().unwrap_or(0);
            self.values.truncate(usize::try_from(end).unwrap_or(0));
        } else {
            self.values.truncate(rows);
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, ConvertError> {
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
    fn new() -> Self {
        Self {
            values: Vec::new(),
            nulls: NullBufferBuilder::new(0),
        }
    }

    fn push(&mut self, v: T::Native) {
        self.values.push(v);
        self.nulls.append_non_null();
    }

    fn push_null(&mut self) {
        self.values.push(T::Native::default());
        self.nulls.append_null();
    }

    fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    fn finish(&mut self) -> Result<PrimitiveArray<T>, ArrowError> {
        let values = ScalarBuffer::from(std::mem::take(&mut self.values));
        PrimitiveArray::try_new(values, self.nulls.finish())
    }
}

impl ByteValues {
    fn new() -> Self {
        Self {
            offsets: vec![0],
            data: Vec::new(),
            nulls: NullBufferBuilder::new(0),
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
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

    fn push_empty(&mut self, valid: bool) {
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
        self.nulls.append(valid);
    }

    fn truncate(&mut self, len: usize) {
        self.offsets.truncate(len + 1);
        let end = self.offsets.last().copied().unwrap_or(0);
        self.data.truncate(usize::try_from(end).unwrap_or(0));
        self.nulls.truncate(len);
    }

    fn take(&mut self) -> (OffsetBuffer<i32>, Buffer, Option<NullBuffer>) {
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
    fn data_type(&self) -> DataType {
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

    fn len(&self) -> usize {
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
    fn push_scalar(&mut self, kind: Kind, value: &Value) -> Result<(), String> {
        let text = match value {
            Value::String(s) => s.as_str(),
            other => {
                return Err(format!(
                    "expected a string for {}, got {}",
                    kind.name(),
                    shape(other)
                ));
            }
        };
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

    fn push_null(&mut self) {
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
    fn push_default(&mut self) {
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

    fn truncate(&mut self, len: usize) {
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

    fn finish(&mut self, path: &str) -> Result<ArrayRef, ConvertError> {
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

const NUMERIC_PRECISION: u8 = 38;
const NUMERIC_SCALE: i8 = 9;
const BIGNUMERIC_PRECISION: u8 = 76;
const BIGNUMERIC_SCALE: i8 = 38;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The cells of a row or RECORD value: `{"f": [...]}`; a missing `f` is no cells.
fn record_cells(value: &Value) -> Result<&[Value], String> {
    match value {
        Value::Object(map) => match map.get("f") {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(cells)) => Ok(cells),
            Some(other) => Err(format!(
                "expected \"f\" to be an array, got {}",
                shape(other)
            )),
        },
        other => Err(format!("expected {{\"f\": […]}}, got {}", shape(other))),
    }
}

/// The `v` of a cell. A missing `v` is SQL NULL: gcp-bigquery-client's `TableCell` drops `"v": null`
/// when it is serialised again.
fn cell_value(cell: &Value) -> Result<&Value, String> {
    static NULL: Value = Value::Null;
    match cell {
        Value::Object(map) => Ok(map.get("v").unwrap_or(&NULL)),
        other => Err(format!(
            "expected a cell {{\"v\": …}}, got {}",
            shape(other)
        )),
    }
}

fn check_width(
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

/// A short description of a JSON value's shape, for error messages.
fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a JSON boolean",
        Value::Number(_) => "a JSON number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Quotes a value for an error message, cut short so a huge cell does not flood the log.
fn show(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", &text[..end]),
        None => format!("{text:?}"),
    }
}

fn parse_float64(text: &str) -> Result<f64, String> {
    // Rust's parser takes BigQuery's `NaN`, `Infinity`, `-Infinity` and `1.0E-4` as they come.
    text.parse::<f64>()
        .map_err(|_| format!("invalid FLOAT64 {}", show(text)))
}

fn parse_numeric(text: &str) -> Result<i128, String> {
    let v = parse_scaled(
        text,
        NUMERIC_SCALE as u32,
        Some(NUMERIC_PRECISION as usize),
        false,
    )
    .map_err(|m| format!("invalid NUMERIC {}: {m}", show(text)))?;
    v.to_i128()
        .ok_or_else(|| format!("NUMERIC {} out of range", show(text)))
}

fn parse_bignumeric(text: &str) -> Result<i256, String> {
    parse_scaled(
        text,
        BIGNUMERIC_SCALE as u32,
        Some(BIGNUMERIC_PRECISION as usize),
        false,
    )
    .map_err(|m| format!("invalid BIGNUMERIC {}: {m}", show(text)))
}

/// TIMESTAMP: float seconds (`1.704164645123456E9`, `1704164645.123456`) or, when the text is a
/// plain integer, microseconds (`formatOptions.useInt64Timestamp`). Java's `Double.toString`, which
/// BigQuery uses for the seconds form, always writes a `.`, so the two cannot be confused.
fn parse_timestamp(text: &str) -> Result<i64, String> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map_err(|_| format!("TIMESTAMP microseconds {} out of range", show(text)));
    }
    // Seconds carry binary-float noise beyond the microsecond, so round to the nearest one.
    let micros = parse_scaled(text, 6, None, true)
        .map_err(|m| format!("invalid TIMESTAMP {}: {m}", show(text)))?;
    micros
        .to_i128()
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| format!("TIMESTAMP {} out of range", show(text)))
}

/// Exactly `value × 10^scale` for a decimal text with optional sign, fraction and exponent.
///
/// `precision` caps the digits of the result (NUMERIC / BIGNUMERIC). Digits below `10^-scale` are an
/// error unless `round` (then half away from zero). No floats anywhere, so results are exact.
fn parse_scaled(
    text: &str,
    scale: u32,
    precision: Option<usize>,
    round: bool,
) -> Result<i256, String> {
    // i256 holds any 76-digit number; 77 digits may overflow, caught by the checked arithmetic.
    const MAX_DIGITS: usize = 77;
    let (negative, rest) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        bytes => (false, bytes),
    };
    let (mantissa, exponent) = match rest.iter().position(|b| matches!(b, b'e' | b'E')) {
        Some(i) => (&rest[..i], parse_exponent(&rest[i + 1..])?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("no digits".to_string());
    }
    if !int_part.iter().chain(frac_part).all(u8::is_ascii_digit) {
        return Err("not a decimal number".to_string());
    }
    let all: Vec<u8> = int_part
        .iter()
        .chain(frac_part)
        .copied()
        .skip_while(|&b| b == b'0')
        .collect();
    // value = all × 10^(exponent − |frac|); result = value × 10^scale. Lengths are far below 2^62.
    let shift = exponent - frac_part.len() as i128 + i128::from(scale);
    let (kept, dropped): (&[u8], &[u8]) = if shift >= 0 {
        (&all, &[])
    } else {
        let cut = usize::try_from(-shift).unwrap_or(usize::MAX);
        all.split_at(all.len().saturating_sub(cut))
    };
    if kept.is_empty() && dropped.is_empty() {
        return Ok(i256::ZERO);
    }
    let zeros = usize::try_from(shift.max(0)).unwrap_or(usize::MAX);
    let digits = kept
        .len()
        .saturating_add(if kept.is_empty() { 0 } else { zeros });
    if precision.is_some_and(|p| digits > p) || digits > MAX_DIGITS {
        return Err("out of range".to_string());
    }
    let round_up = if dropped.iter().any(|&b| b != b'0') {
        if !round {
            return Err(format!("more than {scale} fractional digits"));
        }
        // `dropped` covers the most significant dropped digit only when nothing was cut above it.
        let whole = usize::try_from(-shift).is_ok_and(|cut| cut <= all.len());
        whole && dropped.first().is_some_and(|&b| b >= b'5')
    } else {
        false
    };
    let overflow = || "out of range".to_string();
    let ten = i256::from_i128(10);
    let mut acc = i256::ZERO;
    for &d in kept {
        acc = acc
            .checked_mul(ten)
            .and_then(|a| a.checked_add(i256::from_i128(i128::from(d - b'0'))))
            .ok_or_else(overflow)?;
    }
    if !kept.is_empty() {
        for _ in 0..zeros {
            acc = acc.checked_mul(ten).ok_or_else(overflow)?;
        }
    }
    if round_up {
        acc = acc.checked_add(i256::ONE).ok_or_else(overflow)?;
    }
    Ok(if negative { acc.wrapping_neg() } else { acc })
}

/// The exponent after `e`/`E`, saturated far beyond any meaningful value instead of overflowing.
fn parse_exponent(bytes: &[u8]) -> Result<i128, String> {
    const LIMIT: i128 = 1 << 80;
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err("invalid exponent".to_string());
    }
    let magnitude = digits.iter().fold(0_i128, |acc, &d| {
        (acc * 10 + i128::from(d - b'0')).min(LIMIT)
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// Exactly `n` ASCII digits as a number.
fn fixed_digits(bytes: &[u8], n: usize) -> Option<u32> {
    if bytes.len() != n || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0, |acc, &d| acc * 10 + u32::from(d - b'0')),
    )
}

/// `YYYY-MM-DD` → days since 1970-01-01.
fn parse_date(text: &str) -> Result<i32, String> {
    date_days(text.as_bytes())
        .ok_or_else(|| format!("invalid DATE {} (want YYYY-MM-DD)", show(text)))
}

fn date_days(bytes: &[u8]) -> Option<i32> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = bytes else {
        return None;
    };
    let year = fixed_digits(&[*y0, *y1, *y2, *y3], 4)?;
    let month = fixed_digits(&[*m0, *m1], 2)?;
    let day = fixed_digits(&[*d0, *d1], 2)?;
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// `HH:MM:SS[.ffffff]` → microseconds since midnight.
fn parse_time(text: &str) -> Result<i64, String> {
    time_micros(text.as_bytes())
        .ok_or_else(|| format!("invalid TIME {} (want HH:MM:SS[.ffffff])", show(text)))
}

fn time_micros(bytes: &[u8]) -> Option<i64> {
    let (hms, fraction) = match bytes.split_at_checked(8)? {
        (hms, []) => (hms, &[][..]),
        (hms, [b'.', fraction @ ..]) if !fraction.is_empty() => (hms, fraction),
        _ => return None,
    };
    let [h0, h1, b':', m0, m1, b':', s0, s1] = hms else {
        return None;
    };
    let hour = fixed_digits(&[*h0, *h1], 2)?;
    let minute = fixed_digits(&[*m0, *m1], 2)?;
    let second = fixed_digits(&[*s0, *s1], 2)?;
    if hour > 23 || minute > 59 || second > 59 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Up to 6 digits are microseconds; further digits are accepted only as trailing zeros.
    let (micro_digits, rest) = fraction.split_at(fraction.len().min(6));
    if rest.iter().any(|&b| b != b'0') {
        return None;
    }
    let mut micros = 0_i64;
    for i in 0..6 {
        micros = micros * 10 + micro_digits.get(i).map_or(0, |&d| i64::from(d - b'0'));
    }
    Some((i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1_000_000 + micros)
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` (or a space for the `T`) → microseconds since 1970-01-01 00:00.
fn parse_datetime(text: &str) -> Result<i64, String> {
    let parsed = match text.as_bytes().split_at_checked(10) {
        Some((date, [b'T' | b't' | b' ', time @ ..])) => date_days(date).zip(time_micros(time)),
        _ => None,
    };
    let (days, micros) = parsed.ok_or_else(|| {
        format!(
            "invalid DATETIME {} (want YYYY-MM-DDTHH:MM:SS[.ffffff])",
            show(text)
        )
    })?;
    Ok(i64::from(days) * MICROS_PER_DAY + micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::arrow::array::{
        Array, AsArray, Date32Array, Decimal128Array, Decimal256Array, Float64Array, Int64Array,
        Time64MicrosecondArray, TimestampMicrosecondArray,
    };
    use serde_json::json;

    fn field(name: &str, kind: &str, mode: &str) -> BqField {
        BqField {
            name: name.to_string(),
            kind: kind.to_string(),
            mode: Some(mode.to_string()),
            fields: Vec::new(),
        }
    }

    fn record(name: &str, mode: &str, fields: Vec<BqField>) -> BqField {
        BqField {
            fields,
            ..field(name, "RECORD", mode)
        }
    }

    /// Converts single-column rows given as their `v` values.
    fn column_of(kind: &str, values: &[Value]) -> Result<ArrayRef, ConvertError> {
        let mut conv = RowsToArrow::new(&[field("c", kind, "NULLABLE")])?;
        let rows: Vec<Value> = values.iter().map(|v| json!({"f": [{"v": v}]})).collect();
        conv.push_page(&rows)?;
        Ok(conv.flush()?.column(0).clone())
    }

    fn one_error(kind: &str, value: Value) -> ConvertError {
        column_of(kind, &[value]).expect_err("conversion should fail")
    }

    #[test]
    fn schema_maps_every_type_legacy_and_standard() {
        let cases = [
            ("INTEGER", DataType::Int64, "INT64"),
            ("INT64", DataType::Int64, "INT64"),
            ("FLOAT", DataType::Float64, "FLOAT64"),
            ("FLOAT64", DataType::Float64, "FLOAT64"),
            ("NUMERIC", DataType::Decimal128(38, 9), "NUMERIC"),
            ("BIGNUMERIC", DataType::Decimal256(76, 38), "BIGNUMERIC"),
            ("BOOLEAN", DataType::Boolean, "BOOL"),
            ("BOOL", DataType::Boolean, "BOOL"),
            ("STRING", DataType::Utf8, "STRING"),
            ("BYTES", DataType::Binary, "BYTES"),
            ("DATE", DataType::Date32, "DATE"),
            (
                "DATETIME",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "DATETIME",
            ),
            ("TIME", DataType::Time64(TimeUnit::Microsecond), "TIME"),
            (
                "TIMESTAMP",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                "TIMESTAMP",
            ),
            ("GEOGRAPHY", DataType::Utf8, "GEOGRAPHY"),
            ("JSON", DataType::Utf8, "JSON"),
            ("INTERVAL", DataType::Utf8, "INTERVAL"),
        ];
        for (bq, arrow_type, meta) in cases {
            let schema = arrow_schema(&[field("c", bq, "NULLABLE")]).expect(bq);
            let f = schema.field(0);
            assert_eq!(f.data_type(), &arrow_type, "{bq}");
            assert!(f.is_nullable());
            assert_eq!(
                f.metadata().get(BIGQUERY_TYPE_KEY).map(String::as_str),
                Some(meta)
            );
        }
    }

    #[test]
    fn schema_modes_and_nesting() {
        let schema = arrow_schema(&[
            field("req", "STRING", "REQUIRED"),
            BqField {
                mode: None,
                ..field("nomode", "INT64", "")
            },
            field("rep", "INTEGER", "REPEATED"),
            record(
                "s",
                "NULLABLE",
                vec![
                    field("a", "INT64", "REQUIRED"),
                    record("inner", "REPEATED", vec![field("x", "STRING", "NULLABLE")]),
                ],
            ),
        ])
        .expect("schema");
        assert!(!schema.field(0).is_nullable());
        assert!(schema.field(1).is_nullable());
        let item = Arc::new(Field::new_list_field(DataType::Int64, false));
        assert_eq!(schema.field(2).data_type(), &DataType::List(item));
        assert!(schema.field(2).is_nullable());
        let DataType::Struct(children) = schema.field(3).data_type() else {
            panic!("struct expected")
        };
        assert_eq!(children.len(), 2);
        assert!(!children[0].is_nullable());
        let DataType::List(item) = children[1].data_type() else {
            panic!("list expected")
        };
        assert!(!item.is_nullable());
        assert!(matches!(item.data_type(), DataType::Struct(f) if f.len() == 1));
        assert_eq!(
            schema
                .field(3)
                .metadata()
                .get(BIGQUERY_TYPE_KEY)
                .map(String::as_str),
            Some("STRUCT")
        );
    }

    #[test]
    fn schema_errors_name_the_column() {
        let err = arrow_schema(&[record(
            "s",
            "NULLABLE",
            vec![field("r", "RANGE", "NULLABLE")],
        )])
        .expect_err("RANGE");
        assert_eq!(err.column, "s.r");
        assert_eq!(err.row, None);
        assert!(err.message.contains("RANGE"), "{err}");

        let err = RowsToArrow::new(&[field("x", "WHATEVER", "NULLABLE")])
            .err()
            .expect("unknown type");
        assert_eq!(err.column, "x");

        let err = arrow_schema(&[field("x", "INT64", "OPTIONAL")]).expect_err("mode");
        assert!(err.message.contains("mode"), "{err}");

        let err = arrow_schema(&[record("s", "NULLABLE", vec![])]).expect_err("empty record");
        assert_eq!(err.column, "s");
    }

    #[test]
    fn bq_field_deserializes_from_rest_json() {
        let fields: Vec<BqField> = serde_json::from_value(json!([
            {"name": "a", "type": "INTEGER", "mode": "NULLABLE"},
            {"name": "s", "type": "RECORD", "fields": [{"name": "b", "type": "STRING"}]}
        ]))
        .expect("deserialize");
        assert_eq!(fields[0], field("a", "INTEGER", "NULLABLE"));
        assert_eq!(fields[1].mode, None);
        assert_eq!(fields[1].fields[0].name, "b");
    }

    #[test]
    fn int64_values() {
        let a = column_of(
            "INTEGER",
            &[
                json!("1"),
                json!("-42"),
                Value::Null,
                json!("9223372036854775807"),
            ],
        )
        .expect("int64");
        let a = a.as_any().downcast_ref::<Int64Array>().expect("Int64Array");
        assert_eq!(a.value(0), 1);
        assert_eq!(a.value(1), -42);
        assert!(a.is_null(2));
        assert_eq!(a.value(3), i64::MAX);
    }

    #[test]
    fn float64_values_including_special() {
        let a = column_of(
            "FLOAT",
            &[
                json!("1.5"),
                json!("1.0E-4"),
                json!("1.0E7"),
                json!("NaN"),
                json!("Infinity"),
                json!("-Infinity"),
                json!("0.0"),
                Value::Null,
            ],
        )
        .expect("float64");
        let a = a
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("Float64Array");
        assert_eq!(a.value(0), 1.5);
        assert_eq!(a.value(1), 1.0e-4);
        assert_eq!(a.value(2), 1.0e7);
        assert!(a.value(3).is_nan());
        assert_eq!(a.value(4), f64::INFINITY);
        assert_eq!(a.value(5), f64::NEG_INFINITY);
        assert_eq!(a.value(6), 0.0);
        assert!(a.is_null(7));
    }

    #[test]
    fn numeric_is_exact() {
        let a = column_of(
            "NUMERIC",
            &[
                json!("123.456789012"),
                json!("-0.000000001"),
                json!("99999999999999999999999999999.999999999"),
                json!("-99999999999999999999999999999.999999999"),
                json!("0"),
                json!("1.25"),
                json!("1.5E-7"),
                json!("1.2500000000000"),
                Value::Null,
            ],
        )
        .expect("numeric");
        let a = a
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .expect("Decimal128Array");
        assert_eq!(a.precision(), 38);
        assert_eq!(a.scale(), 9);
        assert_eq!(a.value(0), 123_456_789_012);
        assert_eq!(a.value(1), -1);
        assert_eq!(
            a.value(2),
            99_999_999_999_999_999_999_999_999_999_999_999_999
        );
        assert_eq!(
            a.value(3),
            -99_999_999_999_999_999_999_999_999_999_999_999_999
        );
        assert_eq!(a.value(4), 0);
        assert_eq!(a.value(5), 1_250_000_000);
        assert_eq!(a.value(6), 150);
        assert_eq!(a.value(7), 1_250_000_000);
        assert!(a.is_null(8));
        assert_eq!(a.value_as_string(0), "123.456789012");
    }

    #[test]
    fn numeric_rejects_inexact_or_out_of_range() {
        for bad in [
            "0.0000000001",
            "100000000000000000000000000000",
            "1e29",
            "abc",
            "",
            ".",
            "1.2.3",
            "1e",
            " 1",
            "NaN",
            "1e99999999999999999999999999",
        ] {
            let err = one_error("NUMERIC", json!(bad));
            assert_eq!(err.column, "c", "{bad}");
            assert_eq!(err.row, Some(0), "{bad}");
        }
        // A tiny value with an absurd negative exponent is still exactly zero-or-error, never a panic.
        assert!(column_of("NUMERIC", &[json!("0e-99999999999999999999999")]).is_ok());
        assert!(column_of("NUMERIC", &[json!("1e-99999999999999999999999")]).is_err());
    }

    #[test]
    fn bignumeric_is_exact() {
        let max = "99999999999999999999999999999999999999.99999999999999999999999999999999999999";
        let a = column_of(
            "BIGNUMERIC",
            &[
                json!("0.00000000000000000000000000000000000001"),
                json!("-1.12345678901234567890123456789012345678"),
                json!(max),
                json!("5"),
                Value::Null,
            ],
        )
        .expect("bignumeric");
        let a = a
            .as_any()
            .downcast_ref::<Decimal256Array>()
            .expect("Decimal256Array");
        assert_eq!((a.precision(), a.scale()), (76, 38));
        assert_eq!(a.value(0), i256::ONE);
        assert_eq!(
            a.value(1),
            i256::from_string("-112345678901234567890123456789012345678").expect("i256")
        );
        assert_eq!(
            a.value(2),
            i256::from_string(&max.replace('.', "")).expect("i256")
        );
        assert_eq!(
            a.value(3),
            i256::from_string(&format!("5{}", "0".repeat(38))).expect("i256")
        );
        assert!(a.is_null(4));
        assert!(column_of("BIGNUMERIC", &[json!(format!("1{}", "0".repeat(38)))]).is_err());
        assert!(column_of("BIGNUMERIC", &[json!(format!("0.{}1", "0".repeat(38)))]).is_err());
    }

    #[test]
    fn bool_values() {
        let a = column_of("BOOLEAN", &[json!("true"), json!("false"), Value::Null]).expect("bool");
        let a = a.as_boolean();
        assert!(a.value(0));
        assert!(!a.value(1));
        assert!(a.is_null(2));
        assert_eq!(one_error("BOOL", json!("yes")).row, Some(0));
    }

    #[test]
    fn string_like_values_are_kept_as_sent() {
        for kind in ["STRING", "GEOGRAPHY", "JSON", "INTERVAL"] {
            let a = column_of(
                kind,
                &[
                    json!("POINT(1 2)"),
                    json!("null"),
                    json!("1-2 3 4:5:6.5"),
                    json!("é"),
                    Value::Null,
                ],
            )
            .expect(kind);
            let a = a.as_string::<i32>();
            assert_eq!(a.value(0), "POINT(1 2)");
            // For JSON the text "null" is a JSON null, distinct from SQL NULL.
            assert_eq!(a.value(1), "null");
            assert!(a.is_valid(1));
            assert_eq!(a.value(2), "1-2 3 4:5:6.5");
            assert_eq!(a.value(3), "é");
            assert!(a.is_null(4));
        }
    }

    #[test]
    fn bytes_are_standard_base64() {
        let a = column_of(
            "BYTES",
            &[json!("YWI="), json!(""), json!("/+8="), Value::Null],
        )
        .expect("bytes");
        let a = a.as_binary::<i32>();
        assert_eq!(a.value(0), b"ab");
        assert_eq!(a.value(1), b"");
        assert_eq!(a.value(2), [0xff, 0xef]);
        assert!(a.is_null(3));
        assert!(column_of("BYTES", &[json!("YWI")]).is_err());
        assert!(column_of("BYTES", &[json!("_-8=")]).is_err());
    }

    #[test]
    fn date_values() {
        let a = column_of(
            "DATE",
            &[
                json!("1970-01-01"),
                json!("2024-01-02"),
                json!("0001-01-01"),
                json!("9999-12-31"),
                Value::Null,
            ],
        )
        .expect("date");
        let a = a
            .as_any()
            .downcast_ref::<Date32Array>()
            .expect("Date32Array");
        assert_eq!(a.value(0), 0);
        assert_eq!(a.value(1), 19_724);
        assert_eq!(a.value(2), -719_162);
        assert_eq!(a.value(3), 2_932_896);
        assert!(a.is_null(4));
        for bad in [
            "2024-02-30",
            "2024-1-02",
            "24-01-02",
            "2024-01-02T00:00:00",
            "x",
        ] {
            assert!(column_of("DATE", &[json!(bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn datetime_values() {
        let a = column_of(
            "DATETIME",
            &[
                json!("2026-01-02T03:04:05"),
                json!("2026-01-02T03:04:05.123456"),
                json!("2026-01-02 03:04:05.5"),
                json!("1969-12-31T23:59:59.999999"),
                Value::Null,
            ],
        )
        .expect("datetime");
        let a = a
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("TimestampMicrosecondArray");
        assert_eq!(a.timezone(), None);
        let base = 1_767_323_045_000_000; // 2026-01-02T03:04:05Z in µs
        assert_eq!(a.value(0), base);
        assert_eq!(a.value(1), base + 123_456);
        assert_eq!(a.value(2), base + 500_000);
        assert_eq!(a.value(3), -1);
        assert!(a.is_null(4));
        for bad in [
            "2026-01-02",
            "2026-01-02T03:04",
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.",
            "2026-01-02T03:04:05.1234567",
            "2026-01-02T24:00:00",
        ] {
            assert!(column_of("DATETIME", &[json!(bad)]).is_err(), "{bad}");
        }
        // Trailing zeros beyond the microsecond lose nothing, so they are accepted.
        let a = column_of("DATETIME", &[json!("1970-01-01T00:00:00.000001000")]).expect("ns zeros");
        assert_eq!(a.as_primitive::<TimestampMicrosecondType>().value(0), 1);
    }

    #[test]
    fn time_values() {
        let a = column_of(
            "TIME",
            &[
                json!("23:59:59.999999"),
                json!("00:00:00"),
                json!("04:05:06.500000"),
                json!("12:00:00.1"),
                Value::Null,
            ],
        )
        .expect("time");
        let a = a
            .as_any()
            .downcast_ref::<Time64MicrosecondArray>()
            .expect("Time64MicrosecondArray");
        assert_eq!(a.value(0), 86_399_999_999);
        assert_eq!(a.value(1), 0);
        assert_eq!(a.value(2), 14_706_500_000);
        assert_eq!(a.value(3), 43_200_100_000);
        assert!(a.is_null(4));
        for bad in [
            "24:00:00",
            "12:60:00",
            "12:00:60",
            "1:00:00",
            "12:00",
            "12:00:00.x",
        ] {
            assert!(column_of("TIME", &[json!(bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamp_is_exact_to_the_microsecond() {
        let a = column_of(
            "TIMESTAMP",
            &[
                json!("1.7040672E9"),
                json!("1704067200.123456"),
                json!("-1.5"),
                json!("1.0E-6"),
                json!("1.704164645123456E9"),
                json!("1704164645123456"),
                json!("0.0"),
                json!("1.7041646451234567E9"),
                json!("-1.0000005"),
                json!("2.534023007999999999E11"),
                Value::Null,
            ],
        )
        .expect("timestamp");
        let a = a
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("TimestampMicrosecondArray");
        assert_eq!(a.timezone(), Some("UTC"));
        assert_eq!(a.value(0), 1_704_067_200_000_000);
        assert_eq!(a.value(1), 1_704_067_200_123_456);
        assert_eq!(a.value(2), -1_500_000);
        assert_eq!(a.value(3), 1);
        assert_eq!(a.value(4), 1_704_164_645_123_456);
        // A plain integer is the useInt64Timestamp form: microseconds.
        assert_eq!(a.value(5), 1_704_164_645_123_456);
        assert_eq!(a.value(6), 0);
        // Sub-microsecond digits (binary float noise) round to the nearest microsecond.
        assert_eq!(a.value(7), 1_704_164_645_123_457);
        assert_eq!(a.value(8), -1_000_001);
        assert_eq!(a.value(9), 253_402_300_800_000_000);
        assert!(a.is_null(10));
        for bad in [
            "",
            "abc",
            "1.0E",
            "2024-01-02 03:04:05",
            "1e40",
            "99999999999999999999",
        ] {
            let err = one_error("TIMESTAMP", json!(bad));
            assert_eq!((err.column.as_str(), err.row), ("c", Some(0)), "{bad}");
        }
    }

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
        conv.push_page(rows.as_array().expect("rows"))
            .expect("push");
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
        conv.push_page(&[
            json!({"f": [{"v": null}]}),
            json!({"f": [{"v": {"f": [{"v": "5"}, {"v": {"f": [{"v": "x"}]}}]}}]}),
        ])
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
        let err = conv
            .push_page(&[json!({"f": [{"v": {"f": [{"v": null}, {"v": {"f": [{"v": "x"}]}}]}}]})])
            .expect_err("required null");
        assert_eq!(err.column, "s.a");
        assert_eq!(err.row, Some(2));
    }

    #[test]
    fn two_pages_then_flush_and_flush_twice() {
        let mut conv = RowsToArrow::new(&[
            field("n", "INTEGER", "NULLABLE"),
            field("s", "STRING", "NULLABLE"),
        ])
        .expect("schema");
        conv.push_page(&[
            json!({"f": [{"v": "1"}, {"v": "a"}]}),
            json!({"f": [{"v": "2"}, {"v": null}]}),
        ])
        .expect("page 1");
        conv.push_page(&[json!({"f": [{"v": "3"}, {"v": "c"}]})])
            .expect("page 2");
        conv.push_page(&[]).expect("empty page");
        assert_eq!(conv.pending_rows(), 3);
        let batch = conv.flush().expect("flush");
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(
            batch
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec(),
            vec![1, 2, 3]
        );
        let s = batch.column(1).as_string::<i32>();
        assert_eq!((s.value(0), s.is_null(1), s.value(2)), ("a", true, "c"));
        assert_eq!(conv.pending_rows(), 0);

        let empty = conv.flush().expect("second flush");
        assert_eq!(empty.num_rows(), 0);
        assert_eq!(empty.schema(), batch.schema());

        conv.push_page(&[json!({"f": [{"v": "4"}, {"v": "d"}]})])
            .expect("page 3");
        let third = conv.flush().expect("third flush");
        assert_eq!(third.column(0).as_primitive::<Int64Type>().value(0), 4);
        assert_eq!(third.column(1).as_string::<i32>().value(0), "d");
    }

    #[test]
    fn empty_result_has_schema_and_no_rows() {
        let response = json!({"schema": {"fields": [
            {"name": "a", "type": "INTEGER", "mode": "NULLABLE"},
            {"name": "s", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "b", "type": "TIMESTAMP"}]}
        ]}, "totalRows": "0"});
        let fields: Vec<BqField> =
            serde_json::from_value(response["schema"]["fields"].clone()).expect("fields");
        let rows = response
            .get("rows")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let mut conv = RowsToArrow::new(&fields).expect("schema");
        conv.push_page(rows).expect("push");
        let batch = conv.flush().expect("flush");
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), arrow_schema(&fields).expect("schema"));
        assert_eq!(batch.num_columns(), 2);
    }

    #[test]
    fn schema_without_columns_keeps_row_count() {
        let mut conv = RowsToArrow::new(&[]).expect("schema");
        conv.push_page(&[json!({"f": []}), json!({})])
            .expect("push");
        assert_eq!(conv.flush().expect("flush").num_rows(), 2);
    }

    #[test]
    fn malformed_cells_name_column_and_row() {
        let fields = vec![
            field("a", "INTEGER", "NULLABLE"),
            field("b", "STRING", "REQUIRED"),
        ];
        let good = json!({"f": [{"v": "1"}, {"v": "x"}]});
        let cases = [
            (json!({"f": [{"v": {}}, {"v": "x"}]}), "a"),
            (json!({"f": [{"v": "1.5"}, {"v": "x"}]}), "a"),
            (json!({"f": [{"v": "abc"}, {"v": "x"}]}), "a"),
            (json!({"f": [{"v": 1}, {"v": "x"}]}), "a"),
            (json!({"f": [{"v": "1"}, {"v": null}]}), "b"),
            (json!({"f": [{"v": "1"}]}), "b"),
            (json!({"f": [{"v": "1"}, {"v": "x"}, {"v": "y"}]}), ""),
            (json!({"f": [{"v": "1"}, "x"]}), "b"),
            (json!({"f": {"v": "1"}}), ""),
            (json!(["1", "x"]), ""),
            (json!({"f": [{"v": "1"}, {"v": ["x"]}]}), "b"),
        ];
        for (bad, column) in cases {
            let mut conv = RowsToArrow::new(&fields).expect("schema");
            conv.push_page(std::slice::from_ref(&good))
                .expect("good page");
            let err = conv
                .push_page(&[good.clone(), bad.clone()])
                .expect_err("malformed");
            assert_eq!(err.column, column, "{bad} → {err}");
            assert_eq!(err.row, Some(2), "{bad} → {err}");
            assert!(!err.to_string().is_empty());
            // The failed page is rolled back; the earlier page stays and the converter still works.
            assert_eq!(conv.pending_rows(), 1);
            conv.push_page(std::slice::from_ref(&good))
                .expect("after error");
            let batch = conv.flush().expect("flush");
            assert_eq!(batch.num_rows(), 2);
            assert_eq!(
                batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec(),
                vec![1, 1]
            );
            assert_eq!(batch.column(1).as_string::<i32>().value(1), "x");
        }
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
            conv.push_page(std::slice::from_ref(&good)).expect("good");
            let err = conv
                .push_page(&[good.clone(), bad.clone()])
                .expect_err("bad");
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

    #[test]
    fn odd_values_never_panic() {
        let odd = [
            Value::Null,
            json!(true),
            json!(1),
            json!(-1.5),
            json!(""),
            json!("-"),
            json!("+"),
            json!("."),
            json!("e5"),
            json!("1e+"),
            json!("-0"),
            json!("00:00:00."),
            json!("2024-01-02T"),
            json!("é"),
            json!("😀😀😀😀😀😀😀😀😀😀"),
            json!("9".repeat(200)),
            json!(format!("0.{}", "9".repeat(200))),
            json!([]),
            json!([{}]),
            json!([{"v": null}]),
            json!([{"v": "1"}, 1]),
            json!({}),
            json!({"f": null}),
            json!({"f": "x"}),
            json!({"f": [{"v": "1"}]}),
            json!({"f": [1, 2]}),
        ];
        let kinds = [
            "INT64",
            "FLOAT64",
            "NUMERIC",
            "BIGNUMERIC",
            "BOOL",
            "STRING",
            "BYTES",
            "DATE",
            "DATETIME",
            "TIME",
            "TIMESTAMP",
            "GEOGRAPHY",
            "JSON",
            "INTERVAL",
        ];
        for mode in ["NULLABLE", "REQUIRED", "REPEATED"] {
            for kind in kinds {
                let fields = [
                    field("c", kind, mode),
                    record("r", mode, vec![field("x", kind, mode)]),
                ];
                let mut conv = RowsToArrow::new(&fields).expect("schema");
                for v in &odd {
                    for row in [
                        json!({"f": [{"v": v}, {"v": null}]}),
                        json!({"f": [{"v": null}, {"v": v}]}),
                        json!({"f": [{"v": null}, {"v": {"f": [{"v": v}]}}]}),
                        json!({"f": [{"v": null}, {"v": [{"v": {"f": [{"v": v}]}}]}]}),
                        v.clone(),
                    ] {
                        let _ = conv.push_page(&[row]);
                    }
                }
                conv.flush()
                    .expect("whatever was accepted builds a valid batch");
            }
        }
    }

    #[test]
    fn error_display() {
        let e = ConvertError {
            column: "a.b".into(),
            row: Some(3),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "column `a.b`, row 3: bad");
        let e = ConvertError {
            column: String::new(),
            row: None,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "bad");
        let long = one_error("INT64", json!("9".repeat(500)));
        assert!(long.message.len() < 120, "{}", long.message);
    }

    /// The complete row from the reference (every type as BigQuery sends it), plus BIGNUMERIC,
    /// GEOGRAPHY, INTERVAL and a second row of NULLs.
    #[test]
    fn every_type_as_bigquery_sends_it() {
        let response = json!({
            "kind": "bigquery#queryResponse",
            "schema": {"fields": [
                {"name": "i", "type": "INTEGER", "mode": "NULLABLE"},
                {"name": "f", "type": "FLOAT", "mode": "NULLABLE"},
                {"name": "b", "type": "BOOLEAN", "mode": "NULLABLE"},
                {"name": "s", "type": "STRING", "mode": "NULLABLE"},
                {"name": "byt", "type": "BYTES", "mode": "NULLABLE"},
                {"name": "d", "type": "DATE", "mode": "NULLABLE"},
                {"name": "dt", "type": "DATETIME", "mode": "NULLABLE"},
                {"name": "t", "type": "TIME", "mode": "NULLABLE"},
                {"name": "ts", "type": "TIMESTAMP", "mode": "NULLABLE"},
                {"name": "n", "type": "NUMERIC", "mode": "NULLABLE"},
                {"name": "arr", "type": "INTEGER", "mode": "REPEATED"},
                {"name": "st", "type": "RECORD", "mode": "NULLABLE", "fields": [
                    {"name": "a", "type": "INTEGER", "mode": "NULLABLE"},
                    {"name": "b", "type": "STRING", "mode": "NULLABLE"}
                ]},
                {"name": "j", "type": "JSON", "mode": "NULLABLE"},
                {"name": "nul", "type": "INTEGER", "mode": "NULLABLE"},
                {"name": "bn", "type": "BIGNUMERIC", "mode": "NULLABLE"},
                {"name": "g", "type": "GEOGRAPHY", "mode": "NULLABLE"},
                {"name": "iv", "type": "INTERVAL", "mode": "NULLABLE"}
            ]},
            "rows": [
                {"f":[{"v":"1"},{"v":"1.5"},{"v":"true"},{"v":"s"},{"v":"YWI="},{"v":"2024-01-02"},
                      {"v":"2024-01-02T03:04:05.123456"},{"v":"04:05:06.500000"},{"v":"1.704164645123456E9"},
                      {"v":"1.25"},{"v":[{"v":"1"},{"v":"2"}]},{"v":{"f":[{"v":"1"},{"v":"x"}]}},
                      {"v":"{\"a\":1}"},{"v":null},{"v":"-0.5"},{"v":"POINT(1 2)"},{"v":"1-2 3 4:5:6.5"}]},
                {"f":[{"v":null},{"v":null},{"v":null},{"v":null},{"v":null},{"v":null},{"v":null},
                      {"v":null},{"v":null},{"v":null},{"v":[]},{"v":null},{"v":null},{"v":null},
                      {"v":null},{"v":null},{"v":null}]}
            ],
            "totalRows": "2",
            "jobComplete": true
        });
        let fields: Vec<BqField> =
            serde_json::from_value(response["schema"]["fields"].clone()).expect("fields");
        let mut conv = RowsToArrow::new(&fields).expect("schema");
        conv.push_page(response["rows"].as_array().expect("rows"))
            .expect("push");
        let batch = conv.flush().expect("flush");
        assert_eq!((batch.num_rows(), batch.num_columns()), (2, 17));

        let c = |name: &str| batch.column_by_name(name).expect(name).clone();
        assert_eq!(c("i").as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(c("f").as_primitive::<Float64Type>().value(0), 1.5);
        assert!(c("b").as_boolean().value(0));
        assert_eq!(c("s").as_string::<i32>().value(0), "s");
        assert_eq!(c("byt").as_binary::<i32>().value(0), b"ab");
        assert_eq!(c("d").as_primitive::<Date32Type>().value(0), 19_724);
        assert_eq!(
            c("dt").as_primitive::<TimestampMicrosecondType>().value(0),
            1_704_164_645_123_456
        );
        assert_eq!(
            c("t").as_primitive::<Time64MicrosecondType>().value(0),
            14_706_500_000
        );
        assert_eq!(
            c("ts").as_primitive::<TimestampMicrosecondType>().value(0),
            1_704_164_645_123_456
        );
        assert_eq!(
            c("n").as_primitive::<Decimal128Type>().value(0),
            1_250_000_000
        );
        let arr = c("arr");
        let arr = arr.as_list::<i32>();
        assert_eq!(arr.value_offsets(), &[0, 2, 2]);
        assert_eq!(
            arr.values().as_primitive::<Int64Type>().values().to_vec(),
            vec![1, 2]
        );
        let st = c("st");
        let st = st.as_struct();
        assert_eq!(st.column(0).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(st.column(1).as_string::<i32>().value(0), "x");
        assert_eq!(c("j").as_string::<i32>().value(0), "{\"a\":1}");
        assert!(c("nul").is_null(0));
        assert_eq!(
            c("bn").as_primitive::<Decimal256Type>().value(0),
            i256::from_string(&format!("-5{}", "0".repeat(37))).expect("i256")
        );
        assert_eq!(c("g").as_string::<i32>().value(0), "POINT(1 2)");
        assert_eq!(c("iv").as_string::<i32>().value(0), "1-2 3 4:5:6.5");

        // Row 1: NULL everywhere, except the array, which BigQuery sends as [].
        for (i, column) in batch.columns().iter().enumerate() {
            if batch.schema().field(i).name() == "arr" {
                assert!(column.is_valid(1));
            } else {
                assert!(column.is_null(1), "{}", batch.schema().field(i).name());
            }
        }
        assert_eq!(
            batch.schema().field_with_name("g").expect("g").metadata()[BIGQUERY_TYPE_KEY],
            "GEOGRAPHY"
        );
    }
}
