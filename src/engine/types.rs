//! Arrow types to DuckDB column types (for registering aliases), and parameter values to
//! DuckDB values (for binding `$name`).

use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
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
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".to_owned(),
        DataType::Timestamp(TimeUnit::Second, None) => "TIMESTAMP_S".to_owned(),
        DataType::Timestamp(TimeUnit::Millisecond, None) => "TIMESTAMP_MS".to_owned(),
        DataType::Timestamp(TimeUnit::Microsecond, None) => "TIMESTAMP".to_owned(),
        DataType::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP_NS".to_owned(),
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
            r#"CREATE TEMP TABLE "t" ("a""b" BIGINT, "tags" VARCHAR[], "s" STRUCT("x" DECIMAL(38,9)), "ts" TIMESTAMPTZ)"#
        );
    }
}
