//! The alias result cache: a wrapper around the real source that answers an alias from a
//! Parquet file when a fresh one exists, and stores what the real source fetched.
//!
//! An entry is `<dir>/<key>.parquet`, `key` the SHA-256 of the rendered BigQuery SQL, its
//! parameter values, the project and the location: any change is a different entry. An
//! entry is fresh while its file is younger than the alias's TTL. Entries are written
//! atomically; one that cannot be read is a miss, and is replaced by the next fetch.
//! A cached alias starts no job at all (not even a dry run), and still passes the row and
//! memory limits: the pipeline checks its rows and size like any other.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{AliasSource, Estimate, Fetched, Precheck, batches_bytes};
use crate::error::{ErrorType, RunError};
use crate::validate::CheckedAlias;

/// How a run uses the cache.
#[derive(Debug, Clone, Default)]
pub struct CachePolicy {
    pub dir: PathBuf,
    /// `--cache`: cache every alias, for this long unless the plan says otherwise.
    pub default_ttl: Option<Duration>,
    /// `--refresh`: ignore what is stored, fetch, and store again.
    pub refresh: bool,
    /// Part of every key: the billing project and job location.
    pub project: String,
    pub location: Option<String>,
}

/// The real source behind the cache.
pub struct CachedSource {
    inner: Box<dyn AliasSource>,
    policy: CachePolicy,
    /// Entries read for the aliases of this run (read once, at the first question).
    hits: Mutex<HashMap<String, Option<Fetched>>>,
}

impl CachedSource {
    pub fn new(inner: Box<dyn AliasSource>, policy: CachePolicy) -> Self {
        Self {
            inner,
            policy,
            hits: Mutex::default(),
        }
    }

    fn ttl(&self, alias: &CheckedAlias) -> Option<Duration> {
        alias.cache_ttl().or(self.policy.default_ttl)
    }

    fn path(&self, alias: &CheckedAlias) -> PathBuf {
        self.policy.dir.join(format!("{}.parquet", self.key(alias)))
    }

    /// SHA-256 over everything that decides an alias's rows.
    fn key(&self, alias: &CheckedAlias) -> String {
        let params: Vec<(&str, String)> = alias
            .params()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_text()))
            .collect();
        let identity = serde_json::json!({
            "sql": alias.sql(),
            "params": params,
            "project": self.policy.project,
            "location": self.policy.location,
        });
        Sha256::digest(identity.to_string().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The alias's fresh entry, read once per run; `None` when caching is off for it, the
    /// entry is missing, stale or unreadable, or `--refresh` was given.
    fn hit(&self, alias: &CheckedAlias) -> Option<Fetched> {
        let ttl = self.ttl(alias)?;
        if self.policy.refresh {
            return None;
        }
        let mut hits = self
            .hits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        hits.entry(alias.name().to_owned())
            .or_insert_with(|| read_fresh(&self.path(alias), ttl))
            .clone()
    }

    fn store(&self, alias: &CheckedAlias, data: &Fetched) {
        // Best effort: a full disk must not fail a run whose data is already here.
        let _ = std::fs::create_dir_all(&self.policy.dir);
        let _ = crate::output::write_file(
            &self.path(alias),
            crate::output::Format::Parquet,
            &data.schema,
            &data.batches,
        );
    }
}

impl AliasSource for CachedSource {
    fn label(&self) -> &'static str {
        self.inner.label()
    }

    fn estimate(&self, alias: &CheckedAlias) -> Result<Estimate, RunError> {
        match self.hit(alias) {
            // Nothing will be billed for it: no dry run either.
            Some(hit) => Ok(Estimate {
                schema: Some(hit.schema),
                bytes_processed: Some(0),
                count_bytes: Some(0),
                cached: true,
            }),
            None => self.inner.estimate(alias),
        }
    }

    fn precheck(&self, alias: &CheckedAlias, estimate: &Estimate) -> Result<Precheck, RunError> {
        match self.hit(alias) {
            Some(hit) => Ok(Precheck {
                rows: hit.rows,
                schema: hit.schema,
                bytes_processed: Some(0),
                jobs: Vec::new(),
            }),
            None => self.inner.precheck(alias, estimate),
        }
    }

    fn fetch(&self, alias: &CheckedAlias) -> Result<Fetched, RunError> {
        if let Some(hit) = self.hit(alias) {
            return Ok(hit);
        }
        let data = self.inner.fetch(alias)?;
        if self.ttl(alias).is_some() {
            self.store(alias, &data);
        }
        Ok(data)
    }
}

/// A fresh, readable entry, or `None`.
fn read_fresh(path: &Path, ttl: Duration) -> Option<Fetched> {
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())?;
    if age > ttl {
        return None;
    }
    let (schema, batches) = read_parquet(path).ok()?;
    Some(Fetched {
        rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
        bytes: batches_bytes(&batches),
        schema,
        batches,
        jobs: Vec::new(),
        cached: true,
        warnings: Vec::new(),
    })
}

fn read_parquet(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), RunError> {
    let fail = |e: &dyn std::fmt::Display| {
        RunError::new(
            ErrorType::QueryError,
            format!("cache entry {}: {e}", path.display()),
        )
    };
    let file = File::open(path).map_err(|e| fail(&e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| fail(&e))?
        .build()
        .map_err(|e| fail(&e))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(&e))?;
    Ok((schema, batches))
}

/// One stored entry, for `da cache ls`.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub key: String,
    pub bytes: u64,
    pub age_seconds: u64,
}

/// Every entry in `dir` (none when it does not exist), oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
        Err(e) => return Err(e),
    };
    for item in read {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let Some(key) = name
            .strip_suffix(".parquet")
            .filter(|k| !k.starts_with('.'))
        else {
            continue;
        };
        let meta = item.metadata()?;
        let age = meta
            .modified()
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        entries.push(Entry {
            key: key.to_owned(),
            bytes: meta.len(),
            age_seconds: age.as_secs(),
        });
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.age_seconds));
    Ok(entries)
}

/// Remove every entry in `dir`; returns how many there were.
pub fn clear(dir: &Path) -> std::io::Result<usize> {
    let entries = list(dir)?;
    for e in &entries {
        std::fs::remove_file(dir.join(format!("{}.parquet", e.key)))?;
    }
    Ok(entries.len())
}
