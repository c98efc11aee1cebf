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
//! can be rolled back: [`RowsToArrow::push_rows_json`] either appends the whole page or nothing.
//!
//! The parts: `schema` maps BigQuery fields to Arrow fields, `buffers` holds the pending
//! values of each column, `cells` parses the JSON cell texts, and `text` reads a page's rows
//! straight from the response text (the fast path; a page it declines is read again through
//! `serde_json::Value`, which names what is wrong).

mod buffers;
mod cells;
mod schema;
mod text;

use std::fmt;
use std::sync::Arc;

use ::arrow::datatypes::{Schema, SchemaRef};
use ::arrow::error::ArrowError;
use ::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde_json::Value;

use buffers::check_width;
use cells::{cell_value, record_cells};
use schema::Column;

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
    RowsToArrow::new(fields).map(|rows| rows.schema())
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
        let schema = Arc::new(Schema::new(
            columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
        ));
        Ok(Self {
            schema,
            columns,
            pending: 0,
            flushed: 0,
        })
    }

    /// The Arrow schema of every batch this converter builds.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Append one page given as the text of its `rows` JSON array.
    ///
    /// All or nothing: on error the rows of this page are dropped again and the rows of earlier
    /// pages stay pending.
    pub fn push_rows_json(&mut self, rows: &str) -> Result<(), ConvertError> {
        let start = self.pending;
        match self.append_rows_text(rows) {
            Ok(appended) => {
                self.pending = start + appended;
                Ok(())
            }
            Err(text::Declined) => {
                // The fast path gave up somewhere: start the page again on the path that
                // says what is wrong (or, for shapes only it accepts, converts the page).
                for column in &mut self.columns {
                    column.truncate(start);
                }
                let rows: Vec<Value> = serde_json::from_str(rows).map_err(|e| {
                    ConvertError::at(
                        "",
                        self.flushed + start,
                        format!("the page's rows are not a JSON array of rows: {e}"),
                    )
                })?;
                self.push_page(&rows)
            }
        }
    }

    /// Append one page of rows already parsed as JSON values; all or nothing, like
    /// [`Self::push_rows_json`].
    fn push_page(&mut self, rows: &[Value]) -> Result<(), ConvertError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ::arrow::array::{Array, ArrayRef, AsArray};
    use ::arrow::datatypes::{
        Date32Type, Decimal128Type, Decimal256Type, Float64Type, Int64Type, Time64MicrosecondType,
        TimestampMicrosecondType, i256,
    };
    use serde_json::json;

    pub(super) fn field(name: &str, kind: &str, mode: &str) -> BqField {
        BqField {
            name: name.to_string(),
            kind: kind.to_string(),
            mode: Some(mode.to_string()),
            fields: Vec::new(),
        }
    }

    pub(super) fn record(name: &str, mode: &str, fields: Vec<BqField>) -> BqField {
        BqField {
            fields,
            ..field(name, "RECORD", mode)
        }
    }

    /// Pushes a page the way the fetch does: as the text of its rows array.
    pub(super) fn push(conv: &mut RowsToArrow, rows: &[Value]) -> Result<(), ConvertError> {
        conv.push_rows_json(&serde_json::to_string(rows).expect("rows serialise"))
    }

    /// Converts single-column rows given as their `v` values.
    pub(super) fn column_of(kind: &str, values: &[Value]) -> Result<ArrayRef, ConvertError> {
        let mut conv = RowsToArrow::new(&[field("c", kind, "NULLABLE")])?;
        let rows: Vec<Value> = values.iter().map(|v| json!({"f": [{"v": v}]})).collect();
        push(&mut conv, &rows)?;
        Ok(conv.flush()?.column(0).clone())
    }

    pub(super) fn one_error(kind: &str, value: Value) -> ConvertError {
        column_of(kind, &[value]).expect_err("conversion should fail")
    }

    #[test]
    fn two_pages_then_flush_and_flush_twice() {
        let mut conv = RowsToArrow::new(&[
            field("n", "INTEGER", "NULLABLE"),
            field("s", "STRING", "NULLABLE"),
        ])
        .expect("schema");
        push(
            &mut conv,
            &[
                json!({"f": [{"v": "1"}, {"v": "a"}]}),
                json!({"f": [{"v": "2"}, {"v": null}]}),
            ],
        )
        .expect("page 1");
        push(&mut conv, &[json!({"f": [{"v": "3"}, {"v": "c"}]})]).expect("page 2");
        push(&mut conv, &[]).expect("empty page");
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

        push(&mut conv, &[json!({"f": [{"v": "4"}, {"v": "d"}]})]).expect("page 3");
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
        push(&mut conv, rows).expect("push");
        let batch = conv.flush().expect("flush");
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), arrow_schema(&fields).expect("schema"));
        assert_eq!(batch.num_columns(), 2);
    }

    #[test]
    fn schema_without_columns_keeps_row_count() {
        let mut conv = RowsToArrow::new(&[]).expect("schema");
        push(&mut conv, &[json!({"f": []}), json!({})]).expect("push");
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
            push(&mut conv, std::slice::from_ref(&good)).expect("good page");
            let err = push(&mut conv, &[good.clone(), bad.clone()]).expect_err("malformed");
            assert_eq!(err.column, column, "{bad} → {err}");
            assert_eq!(err.row, Some(2), "{bad} → {err}");
            assert!(!err.to_string().is_empty());
            // The failed page is rolled back; the earlier page stays and the converter still works.
            assert_eq!(conv.pending_rows(), 1);
            push(&mut conv, std::slice::from_ref(&good)).expect("after error");
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
                        let _ = push(&mut conv, &[row]);
                    }
                }
                conv.flush()
                    .expect("whatever was accepted builds a valid batch");
            }
        }
    }

    /// The text path (`text.rs`) and the `Value` path accept the same rows and build the
    /// same arrays: every odd cell, at every level, in every type and mode, one row at a time.
    #[test]
    fn text_path_and_value_path_agree() {
        let odd = [
            Value::Null,
            json!(1),
            json!(""),
            json!("1"),
            json!("1.5"),
            json!("true"),
            json!("2024-01-02"),
            json!("a\"b\u{e9}\\"),
            json!("YWI="),
            json!([]),
            json!([{"v": "1"}]),
            json!([{"v": null}]),
            json!({}),
            json!({"f": [{"v": "1"}]}),
        ];
        for mode in ["NULLABLE", "REQUIRED", "REPEATED"] {
            for kind in [
                "INT64", "FLOAT64", "NUMERIC", "BOOL", "STRING", "BYTES", "DATE",
            ] {
                let fields = [
                    field("c", kind, mode),
                    record("r", mode, vec![field("x", kind, mode)]),
                ];
                for v in &odd {
                    for row in [
                        json!({"f": [{"v": v}, {"v": null}]}),
                        json!({"f": [{"v": null}, {"v": {"f": [{"v": v}]}}]}),
                        json!({"f": [{"v": null}, {"v": [{"v": {"f": [{"v": v}]}}]}]}),
                        json!({"f": [{"v": v, "extra": 1}, {}]}),
                        v.clone(),
                    ] {
                        let mut text = RowsToArrow::new(&fields).expect("schema");
                        let mut value = RowsToArrow::new(&fields).expect("schema");
                        let by_text =
                            push(&mut text, std::slice::from_ref(&row)).and_then(|()| text.flush());
                        let by_value = value
                            .push_page(std::slice::from_ref(&row))
                            .and_then(|()| value.flush());
                        assert_eq!(by_text, by_value, "{kind} {mode}: {row}");
                    }
                }
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
    fn reference_response() -> Value {
        json!({
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
        })
    }

    /// The reference response converts to the expected value in every column.
    #[test]
    fn every_type_as_bigquery_sends_it() {
        let response = reference_response();
        let fields: Vec<BqField> =
            serde_json::from_value(response["schema"]["fields"].clone()).expect("fields");
        let mut conv = RowsToArrow::new(&fields).expect("schema");
        push(&mut conv, response["rows"].as_array().expect("rows")).expect("push");
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
