//! Output: the final result of a plan (Arrow batches from DuckDB) written as CSV, JSON,
//! NDJSON, Parquet or a terminal table.
//!
//! [`write`] encodes to any `Write` (stdout, a buffer, a file) and [`write_file`] adds the
//! file-level promises: parent folders are created, the file appears whole or not at all,
//! and its size and SHA-256 are known without reading it back ([`write_bytes`] gives raw
//! bytes, such as the run report, the same promises). This module never prints
//! and never decides *where* output goes; the caller hands it a writer or a path.
//!
//! How each format spells the awkward types (decimals, timestamps, nested values) is
//! documented on [`Format`], and pinned by the tests of each submodule.

mod atomic;
mod csv;
pub mod guard;
mod json;
mod parquet;
mod stream;
mod table;
mod text;

#[cfg(test)]
mod fixture;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

pub use atomic::{WrittenFile, write_bytes, write_file};
pub use stream::FileSet;

/// An output format.
///
/// Shared by the text formats (CSV, JSON, NDJSON, table):
/// - dates are `YYYY-MM-DD`; timestamps are ISO 8601 (`2026-01-02T03:04:05.123456`, with `Z`
///   or `+01:00` when the column has a time zone). Zone *names* such as `UTC` or
///   `Europe/Berlin` are shown as the same instant in UTC (`...Z`): arrow is built here
///   without a zone database and could not format them otherwise.
/// - decimals keep their exact digits and scale (`12.30`, `-0.05`).
/// - binary values are lowercase hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180 with a header row and `\n` line ends; NULL is an empty field (so NULL and
    /// an empty string look the same). Floats print as `1.5`, `NaN`, `inf`. Lists, structs
    /// and maps are written as JSON text in one cell, exactly as `Json` encodes them.
    Csv,
    /// One array of objects (`[]` when empty), NULL kept as an explicit `null`. Decimals are
    /// JSON *numbers* with their exact text (`12.30`), so nothing is rounded on the way out;
    /// a reader that parses numbers as doubles rounds them itself. NaN and ±Infinity have
    /// no JSON spelling and are written as `null`. Lists are arrays, structs and maps objects.
    Json,
    /// The objects of `Json`, one per line.
    Ndjson,
    /// Every Arrow type kept as is; ZSTD, Parquet 2.0 pages, row groups of 122,880 rows,
    /// dictionaries for text and bytes columns only.
    Parquet,
    /// An aligned text table for a terminal, NULL shown as `NULL`, control characters
    /// escaped, then a `(N rows)` footer (`(empty result)` under the header when empty).
    Table,
}

impl Format {
    /// The format named by a file extension: `.csv`, `.json`, `.ndjson`/`.jsonl`, `.parquet`
    /// (any case). `None` for anything else; `Table` is for terminals and has no extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The lowercase name, as used in flags, config and JSON (`"ndjson"`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
            Format::Table => "table",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why writing the result failed. Messages leave the cause to `source()`, so a caller can
/// print `error: ...` followed by `Caused by:` lines.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A batch does not fit the schema it was handed with: a bug upstream, not a user error.
    #[error(
        "result batch #{batch} does not match the result schema: {detail} \
         (this is a bug in da; please report it)"
    )]
    SchemaMismatch {
        /// 1-based position of the batch.
        batch: usize,
        /// What differs.
        detail: String,
    },

    /// The encoder refused a value or a column type.
    #[error(
        "could not encode the result as {format} \
         (if a column type is the problem, `parquet` keeps every type)"
    )]
    Encode {
        /// The format being written.
        format: Format,
        /// The encoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The destination refused bytes (disk full, closed pipe, ...).
    #[error(
        "could not write the {format} output \
         (check free space, or whether the reading program stopped early)"
    )]
    Io {
        /// The format being written.
        format: Format,
        /// The destination's error; its kind is kept (see [`Error::is_broken_pipe`]).
        #[source]
        source: io::Error,
    },

    /// The output path names no file (`/`, `..`, empty).
    #[error("`{}` is not a file path; name a file such as `out.csv`", path.display())]
    NotAFile {
        /// The path as given.
        path: PathBuf,
    },

    /// The folder for the output could not be created.
    #[error(
        "could not create the folder `{}` for the output \
         (check permissions, and that no file has that name)",
        path.display()
    )]
    CreateDir {
        /// The folder that could not be created.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The temporary file next to the output could not be created.
    #[error(
        "could not create a temporary file in `{}` (check that the folder is writable)",
        dir.display()
    )]
    CreateTemp {
        /// The destination's folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Encoding into the temporary file failed; `source` says how.
    #[error("could not write `{}`; any file already there is unchanged", path.display())]
    WriteFile {
        /// The destination.
        path: PathBuf,
        /// The encoding or I/O error.
        #[source]
        source: Box<Error>,
    },

    /// Writing or syncing the temporary file itself failed.
    #[error(
        "could not write `{}`; any file already there is unchanged \
         (check free space and permissions)",
        path.display()
    )]
    FileIo {
        /// The destination.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The finished temporary file could not be renamed over the output path.
    #[error(
        "could not move the finished output into place at `{}`; any file already there \
         is unchanged (check that the path is not a folder and that its folder is writable)",
        path.display()
    )]
    Persist {
        /// The destination.
        path: PathBuf,
        /// The rename's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// True when the destination was a pipe whose reader went away (`da ... | head`),
    /// which the CLI treats as success, as ripgrep does.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Io { source, .. } => source.kind() == io::ErrorKind::BrokenPipe,
            Error::WriteFile { source, .. } => source.is_broken_pipe(),
            _ => false,
        }
    }

    fn encode(format: Format, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Encode {
            format,
            source: Box::new(source),
        }
    }
}

/// Writes `batches` in `format` to `out` and flushes it. Returns the number of rows written.
///
/// Every batch must have the columns of `schema` (same names and types, in order); the
/// schema is what a result with no batches is written from (a CSV header, a table header,
/// an empty Parquet file that still has its columns).
///
/// `out` need not be `Send` (`&mut dyn Write`, a locked stdout). The Parquet encoder does
/// need a `Send` writer, so here it encodes the file in memory first and then copies it to
/// `out`; [`write_file`] streams Parquet straight to disk instead.
pub fn write(
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: impl Write,
) -> Result<u64, Error> {
    let batches = conform(schema, batches)?;
    guarded(format, out, |sink| encode(format, schema, &batches, sink))?;
    Ok(row_count(&batches))
}

/// [`write`] for a `Send` writer, which lets Parquet stream instead of being buffered.
fn write_streaming(
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: impl Write + Send,
) -> Result<u64, Error> {
    let batches = conform(schema, batches)?;
    guarded(format, out, |sink| match format {
        Format::Parquet => parquet::write(schema, &batches, sink),
        _ => encode(format, schema, &batches, sink),
    })?;
    Ok(row_count(&batches))
}

fn encode(
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    mut out: impl Write,
) -> Result<(), Error> {
    match format {
        Format::Csv => csv::write(schema, batches, out),
        Format::Json => json::write_array(batches, out),
        Format::Ndjson => json::write_lines(batches, out),
        Format::Table => table::write(schema, batches, out),
        Format::Parquet => {
            let mut file = Vec::new();
            parquet::write(schema, batches, &mut file)?;
            out.write_all(&file)
                .map_err(|source| Error::Io { format, source })
        }
    }
}

/// Runs `encode` against `out` wrapped in a [`Sink`], then flushes.
fn guarded<W: Write>(
    format: Format,
    out: W,
    encode: impl FnOnce(&mut Sink<W>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut sink = Sink::new(out);
    let written = encode(&mut sink)
        .and_then(|()| sink.flush().map_err(|source| Error::Io { format, source }));
    match (written, sink.error.take()) {
        // The encoders flatten I/O errors into their own types; report the sink's error
        // instead so a broken pipe stays recognisable.
        (Err(_), Some(source)) => Err(Error::Io { format, source }),
        (Err(error), None) => Err(error),
        (Ok(()), _) => Ok(()),
    }
}

fn row_count(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

/// Checks every batch against `schema` and returns them carrying exactly that schema, so
/// the encoders (Parquet in particular) see one schema throughout.
fn conform(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>, Error> {
    let conform_one = |index: usize, batch: &RecordBatch| {
        if batch.schema_ref() == schema {
            return Ok(batch.clone());
        }
        let mismatch = |detail: String| Error::SchemaMismatch {
            batch: index + 1,
            detail,
        };
        let (got, want) = (batch.schema_ref().fields(), schema.fields());
        if got.len() != want.len() {
            let (got, want) = (got.len(), want.len());
            return Err(mismatch(format!("it has {got} columns, the schema {want}")));
        }
        if let Some((got, want)) = got.iter().zip(want).find(|(g, w)| g.name() != w.name()) {
            return Err(mismatch(format!(
                "it has a column `{}` where the schema has `{}`",
                got.name(),
                want.name()
            )));
        }
        // `try_new` checks the column types and that non-nullable columns hold no NULLs.
        RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
            .map_err(|e| mismatch(e.to_string()))
    };
    batches
        .iter()
        .enumerate()
        .map(|(index, batch)| conform_one(index, batch))
        .collect()
}

/// Maps an arrow encoder error, keeping I/O errors as I/O errors.
fn arrow_error(format: Format, error: ArrowError) -> Error {
    match error {
        ArrowError::IoError(_, source) => Error::Io { format, source },
        error => Error::encode(format, error),
    }
}

/// Passes writes through and remembers the first I/O error of the destination.
///
/// arrow-csv and parquet turn I/O errors into strings inside their own error types; this
/// keeps the original kind (e.g. `BrokenPipe`) so [`write`] can report it as it was.
struct Sink<W> {
    inner: W,
    error: Option<io::Error>,
}

impl<W: Write> Sink<W> {
    fn new(inner: W) -> Self {
        Self { inner, error: None }
    }

    fn keep<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result
            && e.kind() != io::ErrorKind::Interrupted
            && self.error.is_none()
        {
            // `io::Error` is not `Clone`; kind and message are what callers look at.
            self.error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        result
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.inner.write(buf);
        self.keep(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.inner.flush();
        self.keep(result)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn format_from_path_reads_the_extension() {
        let cases = [
            ("out.csv", Some(Format::Csv)),
            ("OUT.CSV", Some(Format::Csv)),
            ("dir.v2/out.json", Some(Format::Json)),
            ("out.ndjson", Some(Format::Ndjson)),
            ("out.jsonl", Some(Format::Ndjson)),
            ("out.parquet", Some(Format::Parquet)),
            ("out.txt", None),
            ("out.csv.gz", None),
            ("out", None),
            (".csv", None),
            ("", None),
        ];
        for (path, expected) in cases {
            assert_eq!(Format::from_path(Path::new(path)), expected, "{path}");
        }
    }

    #[test]
    fn format_names_match_serde() {
        for format in [
            Format::Csv,
            Format::Json,
            Format::Ndjson,
            Format::Parquet,
            Format::Table,
        ] {
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{}\"", format.name()));
            assert_eq!(serde_json::from_str::<Format>(&json).unwrap(), format);
        }
    }

    #[test]
    fn write_returns_the_row_count() {
        let (schema, batch) = (fixture::schema(), fixture::batch());
        let rows = write(Format::Csv, &schema, &[batch.clone(), batch], io::sink()).unwrap();
        assert_eq!(rows, 2 * fixture::ROWS as u64);
    }

    #[test]
    fn a_batch_that_does_not_fit_the_schema_is_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let renamed =
            RecordBatch::try_from_iter([("y", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
                .unwrap();
        let retyped =
            RecordBatch::try_from_iter([("x", Arc::new(StringArray::from(vec!["1"])) as ArrayRef)])
                .unwrap();
        for (batch, detail) in [(renamed, "column `y`"), (retyped, "Utf8")] {
            let error = write(Format::Json, &schema, &[batch], io::sink()).unwrap_err();
            assert!(matches!(error, Error::SchemaMismatch { batch: 1, .. }));
            assert!(error.to_string().contains(detail), "{error}");
        }
    }

    #[test]
    fn any_writer_will_do_even_one_that_is_not_send() {
        let (schema, batch) = (fixture::schema(), fixture::batch());
        let mut buffer = Vec::new();
        {
            // `dyn Write` is not `Send`; Parquet is then encoded in memory and copied.
            let out: &mut dyn Write = &mut buffer;
            write(Format::Parquet, &schema, std::slice::from_ref(&batch), out).unwrap();
        }
        let mut streamed = Vec::new();
        write_streaming(Format::Parquet, &schema, &[batch], &mut streamed).unwrap();
        assert_eq!(buffer, streamed);
        assert!(buffer.starts_with(b"PAR1") && buffer.ends_with(b"PAR1"));
    }

    /// A writer standing for `da ... | head` after `head` has exited.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_reported_as_such_by_every_format() {
        let (schema, batch) = (fixture::schema(), fixture::batch());
        for format in [
            Format::Csv,
            Format::Json,
            Format::Ndjson,
            Format::Parquet,
            Format::Table,
        ] {
            let batches = std::slice::from_ref(&batch);
            let error = write(format, &schema, batches, ClosedPipe).unwrap_err();
            assert!(error.is_broken_pipe(), "{format}: {error:?}");
            let error = write_streaming(format, &schema, batches, ClosedPipe).unwrap_err();
            assert!(error.is_broken_pipe(), "{format} streamed: {error:?}");
        }
    }
}
