//! Writing a result batch by batch to several files at once, in one pass.
//!
//! A `FileSet` opens every output as a temporary file beside its destination, encodes each
//! batch into all of them as DuckDB produces it (memory does not grow with the result), and
//! only when the last batch is in does it fsync every file and rename each into place. A
//! failure or a dropped `FileSet` deletes the temporary files: the previous outputs stay.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ::parquet::arrow::ArrowWriter;
use arrow::csv::Writer as CsvWriter;
use arrow::datatypes::SchemaRef;
use arrow::json::writer::{JsonArray, LineDelimited, Writer as JsonWriter, WriterBuilder};
use arrow::record_batch::RecordBatch;

use super::atomic::{HashingWriter, Staged};
use super::{Error, Format, WrittenFile, arrow_error, csv, parquet, text};

type Out = BufWriter<HashingWriter<File>>;

/// The files of one result, written together.
pub struct FileSet {
    schema: SchemaRef,
    files: Vec<StreamingFile>,
}

struct StreamingFile {
    path: PathBuf,
    format: Format,
    staged: Staged,
    encoder: Encoder,
    rows: u64,
}

enum Encoder {
    Csv(Box<CsvWriter<Out>>),
    Json(JsonWriter<Out, JsonArray>),
    Ndjson(JsonWriter<Out, LineDelimited>),
    Parquet(Box<ArrowWriter<Out>>),
}

impl FileSet {
    /// Open a temporary file for every `(path, format)`; nothing is visible yet.
    pub fn create(outputs: &[(PathBuf, Format)], schema: &SchemaRef) -> Result<Self, Error> {
        let files = outputs
            .iter()
            .map(|(path, format)| StreamingFile::create(path, *format, schema))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            schema: schema.clone(),
            files,
        })
    }

    /// Encode one batch into every file.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        // Every encoder sees one schema throughout (Parquet checks it exactly).
        let batch = if batch.schema_ref() == &self.schema {
            batch.clone()
        } else {
            RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec()).map_err(|e| {
                Error::SchemaMismatch {
                    batch: 0,
                    detail: e.to_string(),
                }
            })?
        };
        for file in &mut self.files {
            file.write(&batch)?;
        }
        Ok(())
    }

    /// Finish every file, make each durable, then move all of them into place.
    pub fn finish(self) -> Result<Vec<WrittenFile>, Error> {
        let schema = self.schema;
        let finished = self
            .files
            .into_iter()
            .map(|f| f.finish(&schema))
            .collect::<Result<Vec<_>, _>>()?;
        // Renames last, back to back: a failure before them leaves every old file as it was.
        finished
            .into_iter()
            .map(|(staged, written)| staged.persist().map(|()| written))
            .collect()
    }
}

impl StreamingFile {
    fn create(path: &Path, format: Format, schema: &SchemaRef) -> Result<Self, Error> {
        let staged = Staged::create(path)?;
        let out = BufWriter::with_capacity(256 * 1024, HashingWriter::new(staged.handle()?));
        let encoder = match format {
            Format::Csv => Encoder::Csv(Box::new(csv::writer(out))),
            Format::Json => {
                Encoder::Json(WriterBuilder::new().with_explicit_nulls(true).build(out))
            }
            Format::Ndjson => {
                Encoder::Ndjson(WriterBuilder::new().with_explicit_nulls(true).build(out))
            }
            Format::Parquet => Encoder::Parquet(Box::new(
                parquet::writer(schema, out).map_err(|e| Error::encode(format, e))?,
            )),
            Format::Table => {
                return Err(Error::NotAFile {
                    path: path.to_path_buf(),
                });
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            format,
            staged,
            encoder,
            rows: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let format = self.format;
        let arrow = |e| arrow_error(format, e);
        match &mut self.encoder {
            Encoder::Csv(w) => w.write(&csv::flatten(batch).map_err(arrow)?).map_err(arrow),
            Encoder::Json(w) => w
                .write(&text::printable(batch).map_err(arrow)?)
                .map_err(arrow),
            Encoder::Ndjson(w) => w
                .write(&text::printable(batch).map_err(arrow)?)
                .map_err(arrow),
            Encoder::Parquet(w) => w.write(batch).map_err(|e| Error::encode(format, e)),
        }
        .map_err(|e| self.failed(e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Close the encoder, flush and fsync the temporary file; it is renamed later.
    fn finish(mut self, schema: &SchemaRef) -> Result<(Staged, WrittenFile), Error> {
        if self.rows == 0 && self.format == Format::Csv {
            // The header alone: an empty result is still a CSV file with its columns.
            self.write(&RecordBatch::new_empty(schema.clone()))?;
        }
        let format = self.format;
        let out = match self.encoder {
            Encoder::Csv(w) => Ok((*w).into_inner()),
            Encoder::Json(mut w) => w.finish().map(|()| w.into_inner()).and_then(|mut out| {
                // A trailing newline, so the file ends like any other text file.
                out.write_all(b"\n")?;
                Ok(out)
            }),
            Encoder::Ndjson(mut w) => w.finish().map(|()| w.into_inner()),
            Encoder::Parquet(w) => {
                return finish_out(
                    w.into_inner().map_err(|e| Error::encode(format, e)),
                    self.staged,
                    self.path,
                    format,
                    self.rows,
                );
            }
        }
        .map_err(|e| arrow_error(format, e));
        finish_out(out, self.staged, self.path, format, self.rows)
    }

    fn failed(&self, source: Error) -> Error {
        Error::WriteFile {
            path: self.path.clone(),
            source: Box::new(source),
        }
    }
}

/// Flush the buffered writer, read the byte count and hash, and fsync the file.
fn finish_out(
    out: Result<Out, Error>,
    staged: Staged,
    path: PathBuf,
    format: Format,
    rows: u64,
) -> Result<(Staged, WrittenFile), Error> {
    let wrap = |source: Error| Error::WriteFile {
        path: path.clone(),
        source: Box::new(source),
    };
    let hashing = out
        .map_err(wrap)?
        .into_inner()
        .map_err(|e| staged.io(e.into_error()))?;
    let (bytes, sha256) = hashing.finish();
    staged.sync()?;
    Ok((
        staged,
        WrittenFile {
            path,
            format,
            rows,
            bytes,
            sha256,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, write_file};
    use super::*;

    /// The fixture batch (every type, a NULL row) in two pieces.
    fn two_batches() -> (SchemaRef, Vec<RecordBatch>) {
        let batch = fixture::batch();
        let half = batch.num_rows() / 2;
        let rest = batch.num_rows() - half;
        (
            fixture::schema(),
            vec![batch.slice(0, half), batch.slice(half, rest)],
        )
    }

    /// Writing batch by batch gives the same bytes as writing the whole result at once,
    /// for every file format, so streaming changes memory use and nothing else.
    #[test]
    fn streamed_files_equal_files_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (schema, batches) = two_batches();
        let formats = [Format::Csv, Format::Json, Format::Ndjson, Format::Parquet];
        let outputs: Vec<(PathBuf, Format)> = formats
            .iter()
            .map(|f| (dir.path().join(format!("streamed.{}", f.name())), *f))
            .collect();
        let mut set = FileSet::create(&outputs, &schema).unwrap();
        for batch in &batches {
            set.write(batch).unwrap();
        }
        let written = set.finish().unwrap();
        for (file, format) in written.iter().zip(formats) {
            let whole = dir.path().join(format!("whole.{}", format.name()));
            let reference = write_file(&whole, format, &schema, &batches).unwrap();
            assert_eq!(file.rows, reference.rows, "{format}");
            assert_eq!(
                std::fs::read(&file.path).unwrap(),
                std::fs::read(&whole).unwrap(),
                "{format}"
            );
            assert_eq!(file.sha256, reference.sha256, "{format}");
        }
    }

    #[test]
    fn a_dropped_set_leaves_the_previous_files_and_no_stray() {
        let dir = tempfile::tempdir().unwrap();
        let (schema, batches) = two_batches();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, "old").unwrap();
        let mut set = FileSet::create(&[(path.clone(), Format::Csv)], &schema).unwrap();
        set.write(&batches[0]).unwrap();
        drop(set);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_empty_result_still_has_its_csv_header() {
        let dir = tempfile::tempdir().unwrap();
        let schema = fixture::schema();
        let path = dir.path().join("empty.csv");
        let set = FileSet::create(&[(path.clone(), Format::Csv)], &schema).unwrap();
        let written = set.finish().unwrap();
        assert_eq!(written[0].rows, 0);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
