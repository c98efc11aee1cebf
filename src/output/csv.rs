//! CSV via arrow-csv: a header row, RFC 4180 quoting (fields holding `,` `"` CR or LF are
//! quoted, quotes doubled), `\n` line ends, NULL as an empty field.
//!
//! arrow-csv refuses nested columns, so lists, structs and maps are first turned into
//! string columns holding each value's JSON text (see `json::cells`); the CSV quoting
//! then applies to that text like any other string.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::csv::WriterBuilder;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

use super::{Error, Format, arrow_error, json, text};

/// Writes the header and every row. With no batches the header is still written, from
/// `schema`, so an empty result is still a valid CSV file with its columns.
pub(super) fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: impl Write,
) -> Result<(), Error> {
    let empty;
    let batches = if batches.is_empty() {
        empty = [RecordBatch::new_empty(schema.clone())];
        &empty[..]
    } else {
        batches
    };
    let mut writer = writer(out);
    for batch in batches {
        let flat = flatten(batch).map_err(|e| arrow_error(Format::Csv, e))?;
        writer
            .write(&flat)
            .map_err(|e| arrow_error(Format::Csv, e))?;
    }
    Ok(())
}

/// The CSV encoder: a header row, then the rows.
pub(super) fn writer<W: Write>(out: W) -> arrow::csv::Writer<W> {
    WriterBuilder::new().with_header(true).build(out)
}

/// The batch with zones made printable and every nested column replaced by its JSON text.
pub(super) fn flatten(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let batch = text::printable(batch)?;
    let schema = batch.schema_ref();
    if !schema.fields().iter().any(|f| f.data_type().is_nested()) {
        return Ok(batch);
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if field.data_type().is_nested() {
            columns.push(Arc::new(json::cells(field, column)?));
            fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
        } else {
            columns.push(column.clone());
            fields.push(field.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use arrow::compute::cast;
    use arrow::csv::ReaderBuilder;
    use arrow::datatypes::TimeUnit;

    use super::super::{fixture, write};
    use super::*;

    fn csv_text() -> String {
        let mut out = Vec::new();
        write(
            Format::Csv,
            &fixture::schema(),
            &[fixture::batch()],
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_and_spells_every_cell_as_specified() {
        let expected = concat!(
            "id,score,name,flag,amount,day,at,at_utc,blob,tags,point\n",
            "1,1.5,plain,true,12.30,2026-01-02,2026-01-02T03:04:05.123456,",
            "2026-01-02T03:04:05.123456Z,dead,\"[1,2]\",\"{\"\"a\"\":1,\"\"b\"\":\"\"x\"\"}\"\n",
            // Quotes doubled, the newline kept inside the quoted field, NaN spelled out.
            "2,NaN,\"comma, \"\"quoted\"\"\nsecond line\",false,-0.05,1970-01-01,",
            "1970-01-01T00:00:00,1970-01-01T00:00:00Z,,[],",
            "\"{\"\"a\"\":null,\"\"b\"\":\"\"y,\\\"\"z\\\"\"\"\"}\"\n",
            "3,inf,\"carriage\rreturn\",true,0.00,1999-12-31,1999-12-31T23:59:59,",
            "1999-12-31T23:59:59Z,78,\"[3,null]\",\"{\"\"a\"\":3,\"\"b\"\":null}\"\n",
            ",,,,,,,,,,\n",
        );
        assert_eq!(csv_text(), expected);
    }

    #[test]
    fn csv_reads_back_into_the_same_flat_columns() {
        let batch = fixture::batch();
        let flat = [
            "id", "score", "name", "flag", "amount", "day", "at", "at_utc",
        ];
        // The reader is told the flat columns' types, except that it cannot resolve the zone
        // name `UTC` and reads that column as `+00:00`; the rest are read as plain text.
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        let read_schema = Schema::new(
            batch
                .schema()
                .fields()
                .iter()
                .map(|f| match f.name().as_str() {
                    "at_utc" => f.as_ref().clone().with_data_type(utc.clone()),
                    name if flat.contains(&name) => f.as_ref().clone(),
                    _ => Field::new(f.name(), DataType::Utf8, true),
                })
                .collect::<Vec<_>>(),
        );
        let text = csv_text();
        let mut reader = ReaderBuilder::new(Arc::new(read_schema))
            .with_header(true)
            .build(text.as_bytes())
            .unwrap();
        let read = reader.next().unwrap().unwrap();
        assert!(reader.next().is_none());
        assert_eq!(read.num_rows(), fixture::ROWS);
        for name in flat {
            let (mut read, mut expected) = (
                read.column_by_name(name).unwrap().clone(),
                batch.column_by_name(name).unwrap().clone(),
            );
            if name == "at_utc" {
                // The same instants, whatever the zone label.
                read = cast(&read, &DataType::Int64).unwrap();
                expected = cast(&expected, &DataType::Int64).unwrap();
            }
            // Compared as text because NaN != NaN.
            assert_eq!(
                format!("{read:?}"),
                format!("{expected:?}"),
                "column {name}"
            );
        }
    }

    #[test]
    fn empty_csv_is_the_header_alone() {
        let mut out = Vec::new();
        let rows = write(Format::Csv, &fixture::schema(), &[], &mut out).unwrap();
        assert_eq!(rows, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,score,name,flag,amount,day,at,at_utc,blob,tags,point\n"
        );
    }
}
