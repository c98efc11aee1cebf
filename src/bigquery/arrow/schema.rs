//! BigQuery schema → Arrow schema: the type and mode of each field, and the Arrow field
//! (with the BigQuery type in its metadata) that its values are built into.

use std::collections::HashMap;
use std::sync::Arc;

use ::arrow::array::builder::{BooleanBufferBuilder, NullBufferBuilder};
use ::arrow::datatypes::{DataType, Field, FieldRef};

use super::buffers::{BoolValues, ByteValues, Prim, StructValues, Values};
use super::cells::show;
use super::{BIGQUERY_TYPE_KEY, BqField, ConvertError};

pub(super) const NUMERIC_PRECISION: u8 = 38;
pub(super) const NUMERIC_SCALE: i8 = 9;
pub(super) const BIGNUMERIC_PRECISION: u8 = 76;
pub(super) const BIGNUMERIC_SCALE: i8 = 38;

/// The BigQuery types, one per parse rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) fn parse(name: &str) -> Result<Self, String> {
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
    pub(super) fn name(self) -> &'static str {
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
pub(super) enum Mode {
    Nullable,
    Required,
    Repeated,
}

impl Mode {
    pub(super) fn parse(mode: Option<&str>) -> Result<Self, String> {
        match mode.map(str::to_ascii_uppercase).as_deref() {
            None | Some("NULLABLE") => Ok(Self::Nullable),
            Some("REQUIRED") => Ok(Self::Required),
            Some("REPEATED") => Ok(Self::Repeated),
            Some(other) => Err(format!("unknown mode {}", show(other))),
        }
    }
}

/// One schema field: its Arrow field plus the storage of the pending values.
pub(super) struct Column {
    pub(super) path: String,
    pub(super) kind: Kind,
    pub(super) mode: Mode,
    pub(super) field: FieldRef,
    /// The list's item field, for REPEATED columns.
    pub(super) item: Option<FieldRef>,
    /// List offsets into `values`, for REPEATED columns (starts as `[0]`).
    pub(super) offsets: Vec<i32>,
    /// The element values (the items, for REPEATED columns).
    pub(super) values: Values,
}

impl Column {
    pub(super) fn new(bq: &BqField, parent: &str) -> Result<Self, ConvertError> {
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::{field, record};
    use super::super::{RowsToArrow, arrow_schema};
    use super::*;
    use ::arrow::datatypes::TimeUnit;
    use serde_json::json;

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
}
