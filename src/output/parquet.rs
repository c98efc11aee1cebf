//! Parquet via parquet's `ArrowWriter`. Every Arrow type survives: the Arrow schema is
//! stored in the file, so decimals, dates, zoned timestamps, lists and structs read back
//! exactly as they were written.

use std::io::Write;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

use super::{Error, Format};

/// Rows per row group. DuckDB's own Parquet writer uses the same number, and the writer
/// holds a whole row group in memory before flushing it, so this bounds memory to about
/// 1/8 of the library default (1Mi rows) while keeping row groups large enough to scan fast.
const MAX_ROW_GROUP_ROWS: usize = 122_880;

/// ZSTD level 3: zstd's own default, a good ratio at close to the speed of Snappy.
const ZSTD_LEVEL: i32 = 3;

/// Writes a complete Parquet file (footer included) to `out`.
pub(super) fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: impl Write + Send,
) -> Result<(), Error> {
    encode(schema, batches, out).map_err(|e| Error::encode(Format::Parquet, e))
}

/// The Parquet encoder with da's settings; `into_inner` finishes the file.
pub(super) fn writer<W: Write + Send>(
    schema: &SchemaRef,
    out: W,
) -> Result<ArrowWriter<W>, ParquetError> {
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        // Dictionaries only for top-level text and bytes, where repeats are common. Numbers,
        // dates and timestamps are mostly distinct: a row group of 8-byte values stays under
        // the 1 MiB dictionary limit, so the writer hashed every value into a dictionary as
        // big as the data, about half its time (docs/benchmarks.md, P3).
        .set_dictionary_enabled(false);
    for field in schema.fields() {
        if matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
        ) {
            properties = properties
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), true);
        }
    }
    ArrowWriter::try_new(out, schema.clone(), Some(properties.build()))
}

fn encode(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: impl Write + Send,
) -> Result<(), ParquetError> {
    let mut writer = writer(schema, out)?;
    for batch in batches {
        writer.write(batch)?;
    }
    // `into_inner` writes the footer and flushes parquet's own buffer.
    writer.into_inner()?.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::metadata::RowGroupMetaData;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::super::{fixture, write_file};
    use super::*;

    fn written(batches: &[RecordBatch]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        write_file(&path, Format::Parquet, &fixture::schema(), batches).unwrap();
        (dir, path)
    }

    #[test]
    fn parquet_reads_back_with_the_same_schema_and_data() {
        let batch = fixture::batch();
        let (_dir, path) = written(std::slice::from_ref(&batch));
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.schema(), &fixture::schema());
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(read, vec![batch]);
    }

    #[test]
    fn parquet_uses_zstd_page_v2_and_bounded_row_groups() {
        let rows = i64::try_from(MAX_ROW_GROUP_ROWS).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..=rows));
        let batch = RecordBatch::try_from_iter([("id", ids)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.parquet");
        write_file(&path, Format::Parquet, &batch.schema(), &[batch]).unwrap();

        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let metadata = reader.metadata();
        let groups: Vec<i64> = metadata
            .row_groups()
            .iter()
            .map(RowGroupMetaData::num_rows)
            .collect();
        assert_eq!(groups, vec![rows, 1]);
        let column = metadata.row_group(0).column(0);
        // The level is not stored in the file, only the codec.
        assert!(matches!(column.compression(), Compression::ZSTD(_)));
        assert_eq!(metadata.file_metadata().version(), 2);
    }

    #[test]
    fn an_empty_parquet_file_keeps_its_columns() {
        let (_dir, path) = written(&[]);
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.schema(), &fixture::schema());
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    }
}
