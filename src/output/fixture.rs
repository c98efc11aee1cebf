//! The one batch every format test writes: each column type `da` meets in practice, with
//! awkward values and a last row that is NULL in every column.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    Int64Builder, ListBuilder, StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

pub(super) const ROWS: usize = 4;

/// 2026-01-02T03:04:05.123456, 1970-01-01T00:00:00 and 1999-12-31T23:59:59 in µs.
const MICROS: [Option<i64>; ROWS] = [
    Some(1_767_323_045_123_456),
    Some(0),
    Some(946_684_799_000_000),
    None,
];

fn point_fields() -> Fields {
    Fields::from(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
    ])
}

pub(super) fn schema() -> SchemaRef {
    let item = Arc::new(Field::new_list_field(DataType::Int64, true));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("score", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("amount", DataType::Decimal128(12, 2), true),
        Field::new("day", DataType::Date32, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new(
            "at_utc",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("blob", DataType::Binary, true),
        Field::new("tags", DataType::List(item), true),
        Field::new("point", DataType::Struct(point_fields()), true),
    ]))
}

pub(super) fn batch() -> RecordBatch {
    let mut tags = ListBuilder::new(Int64Builder::new());
    tags.append_value([Some(1), Some(2)]);
    tags.append_value([]);
    tags.append_value([Some(3), None]);
    tags.append_null();

    let point = StructArray::new(
        point_fields(),
        vec![
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3), None])) as ArrayRef,
            Arc::new(StringArray::from(vec![
                Some("x"),
                Some("y,\"z\""),
                None,
                None,
            ])),
        ],
        Some(NullBuffer::from(vec![true, true, true, false])),
    );

    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3), None])),
        Arc::new(Float64Array::from(vec![
            Some(1.5),
            Some(f64::NAN),
            Some(f64::INFINITY),
            None,
        ])),
        Arc::new(StringArray::from(vec![
            Some("plain"),
            Some("comma, \"quoted\"\nsecond line"),
            Some("carriage\rreturn"),
            None,
        ])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            Some(true),
            None,
        ])),
        Arc::new(
            Decimal128Array::from(vec![Some(1230), Some(-5), Some(0), None])
                .with_precision_and_scale(12, 2)
                .expect("valid precision and scale"),
        ),
        Arc::new(Date32Array::from(vec![
            Some(20_455),
            Some(0),
            Some(10_956),
            None,
        ])),
        Arc::new(TimestampMicrosecondArray::from(MICROS.to_vec())),
        Arc::new(TimestampMicrosecondArray::from(MICROS.to_vec()).with_timezone("UTC")),
        Arc::new(BinaryArray::from(vec![
            Some(&b"\xde\xad"[..]),
            Some(&b""[..]),
            Some(&b"x"[..]),
            None,
        ])),
        Arc::new(tags.finish()),
        Arc::new(point),
    ];
    RecordBatch::try_new(schema(), columns).expect("the fixture matches its schema")
}
