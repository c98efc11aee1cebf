//! Writing a file so that it appears whole or not at all.
//!
//! The output goes to a temporary file in the destination folder (same file system, so
//! the final rename is atomic), named `.<file name>.tmp<random>` so a crash leaves an
//! obvious stray. It is hashed and counted as it is written, fsynced, then renamed over the
//! destination. On any error the temporary file is removed and the destination is not
//! touched.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use sha2::{Digest, Sha256};

use super::{Error, Format, write_streaming};

/// What [`write_file`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WrittenFile {
    /// The destination, as given.
    pub path: PathBuf,
    /// The format written.
    pub format: Format,
    /// Rows written (not counting a header).
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// Writes `batches` in `format` to `path`, creating parent folders.
///
/// The data goes to a temporary file in the same folder, is fsynced, then renamed over
/// `path`. On any error the temporary file is removed and an existing file at `path` is
/// left untouched. A new file gets the usual permissions (`0o666` less the umask).
pub fn write_file(
    path: &Path,
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<WrittenFile, Error> {
    let (rows, bytes, sha256) = replace(path, |file| {
        let out = BufWriter::with_capacity(64 * 1024, file);
        write_streaming(format, schema, batches, out).map_err(|source| Error::WriteFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    })?;
    Ok(WrittenFile {
        path: path.to_path_buf(),
        format,
        rows,
        bytes,
        sha256,
    })
}

/// Writes `bytes` to `path` with the same promises as [`write_file`] (parent folders,
/// whole file or none): for small documents such as the run report.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    replace(path, |file| {
        file.write_all(bytes).map_err(|source| Error::FileIo {
            path: path.to_path_buf(),
            source,
        })
    })?;
    Ok(())
}

/// Creates the temporary file, lets `fill` write it, fsyncs it and renames it over `path`.
/// Returns what `fill` returned, the byte count and the SHA-256 of what it wrote.
fn replace<T>(
    path: &Path,
    fill: impl FnOnce(&mut HashingWriter<&mut File>) -> Result<T, Error>,
) -> Result<(T, u64, String), Error> {
    let mut staged = Staged::create(path)?;
    let mut hashing = HashingWriter::new(staged.temp.as_file_mut());
    let value = fill(&mut hashing)?;
    let (bytes, sha256) = hashing.finish();
    staged.sync()?;
    staged.persist()?;
    Ok((value, bytes, sha256))
}

/// A temporary file beside its destination, deleted when dropped unless persisted.
pub(super) struct Staged {
    path: PathBuf,
    dir: PathBuf,
    temp: tempfile::NamedTempFile,
}

impl Staged {
    /// Create the destination's folders and a temporary file in the same folder (so the
    /// final rename is atomic), named `.<file name>.tmp<random>`.
    pub(super) fn create(path: &Path) -> Result<Self, Error> {
        let not_a_file = || Error::NotAFile {
            path: path.to_path_buf(),
        };
        let file_name = path.file_name().ok_or_else(not_a_file)?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut prefix = OsString::from(".");
        prefix.push(file_name);
        prefix.push(".tmp");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        #[cfg(unix)]
        {
            // tempfile's default is 0o600, which would make results private to their writer.
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let temp = builder
            .tempfile_in(dir)
            .map_err(|source| Error::CreateTemp {
                dir: dir.to_path_buf(),
                source,
            })?;
        // Held until the file is closed: it tells the next run of the same output that this
        // temporary file belongs to a live run (`guard::remove_stale_temps`), so concurrent
        // runs do not delete each other's.
        temp.as_file().lock().map_err(|source| Error::CreateTemp {
            dir: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            temp,
        })
    }

    /// A second handle on the temporary file, for an encoder that owns its writer.
    pub(super) fn handle(&self) -> Result<File, Error> {
        self.temp
            .as_file()
            .try_clone()
            .map_err(|source| self.io(source))
    }

    /// Make the written bytes durable before they are renamed into place.
    pub(super) fn sync(&self) -> Result<(), Error> {
        self.temp
            .as_file()
            .sync_all()
            .map_err(|source| self.io(source))
    }

    /// Rename the temporary file over the destination.
    pub(super) fn persist(self) -> Result<(), Error> {
        // On failure `PersistError` hands the temporary file back; dropping it deletes it.
        self.temp.persist(&self.path).map_err(|e| Error::Persist {
            path: self.path.clone(),
            source: e.error,
        })?;
        sync_dir(&self.dir);
        Ok(())
    }

    pub(super) fn io(&self, source: io::Error) -> Error {
        Error::FileIo {
            path: self.path.clone(),
            source,
        }
    }
}

/// Makes the rename itself durable. Best effort: the file is complete and in place by now,
/// and some platforms and file systems cannot fsync a folder.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        dir.sync_all().ok();
    }
}

/// Counts and hashes the bytes on their way to the file, so the file is never read back.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Byte count and lowercase hex SHA-256 of everything written.
    pub(super) fn finish(self) -> (u64, String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = self.hasher.finalize();
        let mut hex = String::with_capacity(2 * digest.len());
        for byte in &digest {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        (self.bytes, hex)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        // Only what the file accepted: a short write is retried with the rest.
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};

    use super::super::fixture;
    use super::*;

    fn sha256_hex(bytes: &[u8]) -> String {
        let (_, hex) = {
            let mut hashing = HashingWriter::new(io::sink());
            hashing.write_all(bytes).unwrap();
            hashing.finish()
        };
        hex
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A batch whose only column is not in the fixture's schema.
    fn stray_batch() -> RecordBatch {
        let column: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        RecordBatch::try_from_iter([("other", column)]).unwrap()
    }

    #[test]
    fn sha256_is_the_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_format_reports_rows_bytes_and_hash_of_the_file_as_written() {
        let dir = tempfile::tempdir().unwrap();
        for format in [
            Format::Csv,
            Format::Json,
            Format::Ndjson,
            Format::Parquet,
            Format::Table,
        ] {
            let path = dir.path().join(format!("out.{format}"));
            let written =
                write_file(&path, format, &fixture::schema(), &[fixture::batch()]).unwrap();
            let bytes = fs::read(&path).unwrap();
            assert_eq!(written.path, path);
            assert_eq!(written.format, format);
            assert_eq!(written.rows, fixture::ROWS as u64, "{format}");
            assert_eq!(written.bytes, bytes.len() as u64, "{format}");
            assert_eq!(written.sha256, sha256_hex(&bytes), "{format}");
        }
    }

    #[test]
    fn an_existing_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(&path, "old contents\n").unwrap();
        write_file(&path, Format::Csv, &fixture::schema(), &[]).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "id,score,name,flag,amount,day,at,at_utc,blob,tags,point\n"
        );
        assert_eq!(entries(dir.path()), ["out.csv"]);
    }

    #[test]
    fn a_failed_write_leaves_the_existing_file_untouched_and_no_stray() {
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Csv, Format::Parquet] {
            let path = dir.path().join("keep.out");
            fs::write(&path, b"precious\n").unwrap();
            let error = write_file(
                &path,
                format,
                &fixture::schema(),
                &[fixture::batch(), stray_batch()],
            )
            .unwrap_err();
            let Error::WriteFile { source, .. } = &error else {
                panic!("{error:?}");
            };
            assert!(matches!(**source, Error::SchemaMismatch { batch: 2, .. }));
            assert!(error.to_string().contains("keep.out"), "{error}");
            assert_eq!(fs::read(&path).unwrap(), b"precious\n");
            assert_eq!(entries(dir.path()), ["keep.out"]);
        }
    }

    #[test]
    fn a_write_that_fails_halfway_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keep.csv");
        fs::write(&path, b"precious\n").unwrap();
        // Enough rows that bytes reach the temporary file before the bad value does.
        let good = TimestampMicrosecondArray::from_iter_values(0..20_000);
        let bad = TimestampMicrosecondArray::from(vec![i64::MAX]);
        let batches = [good, bad]
            .map(|at| RecordBatch::try_from_iter([("at", Arc::new(at) as ArrayRef)]).unwrap());
        let error = write_file(&path, Format::Csv, &batches[0].schema(), &batches).unwrap_err();
        let Error::WriteFile { source, .. } = &error else {
            panic!("{error:?}");
        };
        assert!(matches!(**source, Error::Encode { .. }), "{source:?}");
        assert_eq!(fs::read(&path).unwrap(), b"precious\n");
        assert_eq!(entries(dir.path()), ["keep.csv"]);
    }

    #[test]
    fn a_folder_in_the_way_is_an_error_and_leaves_no_stray() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        let error = write_file(&path, Format::Json, &fixture::schema(), &[]).unwrap_err();
        assert!(matches!(error, Error::Persist { .. }), "{error:?}");
        assert_eq!(entries(dir.path()), ["taken"]);
    }

    #[test]
    fn parent_folders_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c/out.ndjson");
        let written = write_file(
            &path,
            Format::Ndjson,
            &fixture::schema(),
            &[fixture::batch()],
        )
        .unwrap();
        assert_eq!(written.rows, fixture::ROWS as u64);
        assert_eq!(entries(&dir.path().join("a/b/c")), ["out.ndjson"]);
    }

    #[test]
    fn write_bytes_replaces_a_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/run.json");
        write_bytes(&path, b"{}\n").unwrap();
        write_bytes(&path, b"{\"ok\":true}\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{\"ok\":true}\n");
        assert_eq!(entries(&dir.path().join("reports")), ["run.json"]);
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let error =
            write_file(Path::new("/tmp/.."), Format::Csv, &fixture::schema(), &[]).unwrap_err();
        assert!(matches!(error, Error::NotAFile { .. }), "{error:?}");
        let error = write_bytes(Path::new("/"), b"").unwrap_err();
        assert!(matches!(error, Error::NotAFile { .. }), "{error:?}");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_readable_by_others_as_usual() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_file(&path, Format::Csv, &fixture::schema(), &[]).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        // Whatever the umask, the owner can write and the mode is not tempfile's 0o600
        // unless the umask itself says so.
        assert_eq!(mode & 0o600, 0o600);
        assert!(mode & 0o044 != 0 || umask_hides_reads(), "{mode:o}");
    }

    /// Reads the process umask from /proc (Linux); false elsewhere.
    #[cfg(unix)]
    fn umask_hides_reads() -> bool {
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
            })
            .is_some_and(|umask| umask & 0o044 == 0o044)
    }
}
