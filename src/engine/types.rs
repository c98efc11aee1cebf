//! Arrow types to DuckDB column types (for registering aliases), and parameter values to
//! DuckDB values (for binding `$name`).
//!
//! Time zones: a BigQuery `TIMESTAMP` (Arrow timestamp with a zone, always UTC) is registered
//! as a plain DuckDB `TIMESTAMP` holding the UTC wall-clock value, like `DATETIME`. DuckDB
//! is built without its ICU extension here, and without ICU a `TIMESTAMPTZ` column has no
//! `date_trunc`, no `+ INTERVAL` and no cast to `DATE`; a `TIMESTAMP` has those and
//! `strftime`, and its values mean UTC. Outputs show these timestamps without a zone.

use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, NaiveDate};

use crate::params::ParamValue;

/// `CREATE TEMP TABLE "alias" (...)` for an Arrow schema.
pub(super) fn create_table_sql(alias: &str, schema: &SchemaRef) -> Result<String, String> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            Ok(format!(
                "{} {}",
                quote_ident(f.name()),
                duck_type(f.data_type())?
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(format!(
        "CREATE TEMP TABLE {} ({})",
        quote_ident(alias),
        columns.join(", ")
    ))
}

/// Columns DuckDB cannot hold exactly become text: DuckDB decimals stop at 38 digits, so a
/// BigQuery BIGNUMERIC (Decimal256, 76 digits) is kept as its exact decimal string.
pub(super) fn duckdb_compatible(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let wide = |t: &DataType| matches!(t, DataType::Decimal256(_, _));
    if !schema.fields().iter().any(|f| wide(f.data_type())) {
        return Ok((schema.clone(), batches));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if wide(f.data_type()) {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let target = std::sync::Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ));
    let converted = batches
        .into_iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .map(|c| {
                    if wide(c.data_type()) {
                        arrow::compute::cast(c, &DataType::Utf8)
                    } else {
                        Ok(c.clone())
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            RecordBatch::try_new(target.clone(), columns).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((target, converted))
}

/// A double-quoted identifier; embedded quotes are doubled, so any column name is safe.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn duck_type(t: &DataType) -> Result<String, String> {
    Ok(match t {
        DataType::Null => "INTEGER".to_owned(),
        DataType::Boolean => "BOOLEAN".to_owned(),
        DataType::Int8 => "TINYINT".to_owned(),
        DataType::Int16 => "SMALLINT".to_owned(),
        DataType::Int32 => "INTEGER".to_owned(),
        DataType::Int64 => "BIGINT".to_owned(),
        DataType::UInt8 => "UTINYINT".to_owned(),
        DataType::UInt16 => "USMALLINT".to_owned(),
        DataType::UInt32 => "UINTEGER".to_owned(),
        DataType::UInt64 => "UBIGINT".to_owned(),
        DataType::Float16 | DataType::Float32 => "FLOAT".to_owned(),
        DataType::Float64 => "DOUBLE".to_owned(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".to_owned(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BLOB".to_owned(),
        DataType::Date32 | DataType::Date64 => "DATE".to_owned(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".to_owned(),
        // With or without a zone: see the module docs. The appender reinterprets the zoned
        // Arrow values (UTC instants) as they are.
        DataType::Timestamp(TimeUnit::Second, _) => "TIMESTAMP_S".to_owned(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => "TIMESTAMP_MS".to_owned(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => "TIMESTAMP".to_owned(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => "TIMESTAMP_NS".to_owned(),
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL".to_owned(),
        DataType::Decimal128(p, s) if *p <= 38 => format!("DECIMAL({p},{s})"),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("{}[]", duck_type(f.data_type())?)
        }
        DataType::Struct(fields) => {
            let inner = fields
                .iter()
                .map(|f: &std::sync::Arc<Field>| {
                    Ok(format!(
                        "{} {}",
                        quote_ident(f.name()),
                        duck_type(f.data_type())?
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            format!("STRUCT({})", inner.join(", "))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP({}, {})",
                duck_type(kv[0].data_type())?,
                duck_type(kv[1].data_type())?
            ),
            other => return Err(format!("unsupported map layout {other}")),
        },
        DataType::Dictionary(_, value) => duck_type(value)?,
        other => {
            return Err(format!(
                "the Arrow type {other} has no DuckDB equivalent here"
            ));
        }
    })
}

/// A DuckDB value for a typed parameter.
pub(super) fn duck_value(v: &ParamValue) -> duckdb::types::Value {
    use duckdb::types::Value;
    match v {
        ParamValue::String(s) => Value::Text(s.clone()),
        ParamValue::Integer(i) => Value::BigInt(*i),
        ParamValue::Number(f) => Value::Double(*f),
        ParamValue::Boolean(b) => Value::Boolean(*b),
        ParamValue::Date(d) => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let days = d.num_days_from_ce() - epoch.num_days_from_ce();
            Value::Date32(days)
        }
        ParamValue::Timestamp(t) => Value::Timestamp(
            duckdb::types::TimeUnit::Microsecond,
            t.and_utc().timestamp_micros(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Fields, Schema};

    use super::*;

    #[test]
    fn bignumeric_columns_are_kept_as_exact_text() {
        use arrow::array::{Array, Decimal256Array};
        use arrow::datatypes::i256;
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new(
            "big",
            DataType::Decimal256(76, 38),
            true,
        )]));
        let big = Decimal256Array::from(vec![Some(i256::from_i128(12_345)), None])
            .with_precision_and_scale(76, 38)
            .unwrap();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(big)]).unwrap();
        let (schema, batches) = duckdb_compatible(&schema, vec![batch]).unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
        let text = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        assert_eq!(text.value(0), "0.00000000000000000000000000000000012345");
        assert!(text.is_null(1));
    }

    #[test]
    fn nested_arrow_types_become_duckdb_types() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a\"b", DataType::Int64, true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
            Field::new(
                "s",
                DataType::Struct(Fields::from(vec![Field::new(
                    "x",
                    DataType::Decimal128(38, 9),
                    true,
                )])),
                true,
            ),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        assert_eq!(
            create_table_sql("t", &schema).unwrap(),
            r#"CREATE TEMP TABLE "t" ("a""b" BIGINT, "tags" VARCHAR[], "s" STRUCT("x" DECIMAL(38,9)), "ts" TIMESTAMP)"#
        );
    }
}
