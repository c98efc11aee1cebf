//! The DuckDB side of a run: the analytics connection, registered aliases, the sandbox,
//! and the final step.
//!
//! The order is fixed by types: `Engine::open` attaches what the run may read, aliases are
//! registered on the open engine, `seal` turns external access off and locks the
//! configuration, and only a `SealedEngine` runs SQL from the plan. A validator miss
//! therefore still cannot read a file.

mod attach;
mod catalog;
mod tables;
mod types;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use duckdb::{AccessMode, Config, Connection, InterruptHandle};

use crate::deadline::Deadline;
use crate::error::{ErrorType, RunError};
use crate::params::ParamValue;
use crate::validate::FinalStep;

pub use attach::RemoteAttachPolicy;
pub use catalog::{Catalog, Column, Database, Relation, RelationKind};

/// How to open the analytics database.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// DuckDB file opened read-only; `None` is an empty in-memory database.
    pub database: Option<PathBuf>,
    /// Folder of `<name>/extract.duckdb` files, attached read-only as `<name>`.
    pub extracts: Option<PathBuf>,
    pub memory_limit: String,
    pub threads: u32,
    pub remote_attach: RemoteAttachPolicy,
}

/// An analytics connection that can still attach and register data.
pub struct Engine {
    conn: Connection,
    /// Things that did not work but do not stop the run (an extract skipped, ...).
    pub warnings: Vec<String>,
}

/// A sandboxed connection: external access off, configuration locked.
pub struct SealedEngine {
    conn: Connection,
    pub warnings: Vec<String>,
}

/// Where a streamed result goes, batch by batch.
pub trait BatchSink {
    /// The result's schema, once, before any batch.
    fn start(&mut self, schema: &SchemaRef) -> Result<(), RunError>;
    /// One batch. `Ok(false)` stops the query: nothing more is wanted.
    fn batch(&mut self, batch: RecordBatch) -> Result<bool, RunError>;
}

/// Keeps the first `max_rows` rows of a result and notes whether there were more.
#[derive(Debug)]
pub struct Collect {
    max_rows: u64,
    result: QueryResult,
}

impl Collect {
    pub fn new(max_rows: u64) -> Self {
        Self {
            max_rows,
            result: QueryResult {
                schema: Arc::new(arrow::datatypes::Schema::empty()),
                batches: Vec::new(),
                rows: 0,
                truncated: false,
            },
        }
    }

    /// Whether it still wants rows (it has fewer than `max_rows` and saw no extra one).
    pub fn wants_more(&self) -> bool {
        !self.result.truncated
    }

    pub fn into_result(self) -> QueryResult {
        self.result
    }
}

impl BatchSink for Collect {
    fn start(&mut self, schema: &SchemaRef) -> Result<(), RunError> {
        self.result.schema = schema.clone();
        Ok(())
    }

    fn batch(&mut self, batch: RecordBatch) -> Result<bool, RunError> {
        let r = &mut self.result;
        if r.truncated {
            return Ok(false);
        }
        let n = batch.num_rows() as u64;
        if r.rows + n > self.max_rows {
            let keep = usize::try_from(self.max_rows - r.rows).unwrap_or(usize::MAX);
            r.batches.push(batch.slice(0, keep));
            r.rows = self.max_rows;
            r.truncated = true;
            return Ok(false);
        }
        r.rows += n;
        r.batches.push(batch);
        Ok(true)
    }
}

/// The final step's result, cut at the row limit.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: u64,
    /// More rows existed than the limit allowed.
    pub truncated: bool,
}

fn query_error(context: &str, err: &duckdb::Error) -> RunError {
    RunError::new(ErrorType::QueryError, format!("{context}: {err}"))
        .detail("original_error", err.to_string())
}

impl Engine {
    /// Open the analytics database read-only, attach extracts, re-attach remote sources.
    pub fn open(
        opts: &EngineOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, RunError> {
        let config = base_config(opts).map_err(|e| query_error("cannot configure DuckDB", &e))?;
        let conn = match &opts.database {
            Some(path) => {
                if !path.is_file() {
                    return Err(RunError::new(
                        ErrorType::QueryError,
                        format!("analytics database {} does not exist", path.display()),
                    )
                    .detail("path", path.display().to_string())
                    .hint("set analytics.database in the config, pass --db, or create the file"));
                }
                let config = config
                    .access_mode(AccessMode::ReadOnly)
                    .map_err(|e| query_error("cannot configure DuckDB", &e))?;
                Connection::open_with_flags(path, config).map_err(|e| {
                    query_error(
                        &format!("cannot open analytics database {}", path.display()),
                        &e,
                    )
                })?
            }
            None => Connection::open_in_memory_with_flags(config)
                .map_err(|e| query_error("cannot open DuckDB", &e))?,
        };
        let mut engine = Self {
            conn,
            warnings: Vec::new(),
        };
        if let Some(dir) = &opts.extracts {
            let attached = attach::attach_extracts(&engine.conn, dir, &mut engine.warnings);
            attach::reattach_remote(
                &engine.conn,
                &attached,
                &opts.remote_attach,
                env,
                &mut engine.warnings,
            );
        }
        Ok(engine)
    }

    /// Register an alias's Arrow data as a temporary table under its name.
    ///
    /// Temporary tables live in the connection's own catalog, which stays writable when the
    /// analytics file is read-only; they disappear with the connection.
    pub fn register(
        &self,
        alias: &str,
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<(), RunError> {
        tables::create(&self.conn, alias, schema)?;
        tables::append(&self.conn, alias, schema, batches)
    }

    /// Turn external access off and lock the configuration. One-way: nothing the plan's
    /// SQL does afterwards can read files, load extensions or change settings.
    pub fn seal(self) -> Result<SealedEngine, RunError> {
        self.conn
            .execute_batch(
                "SET enable_external_access = false;
                 SET allow_community_extensions = false;
                 SET autoinstall_known_extensions = false;
                 SET autoload_known_extensions = false;
                 SET allow_persistent_secrets = false;
                 SET lock_configuration = true;",
            )
            .map_err(|e| query_error("cannot sandbox the DuckDB connection", &e))?;
        Ok(SealedEngine {
            conn: self.conn,
            warnings: self.warnings,
        })
    }
}

fn base_config(opts: &EngineOptions) -> duckdb::Result<Config> {
    Config::default()
        .enable_autoload_extension(false)?
        .with("autoinstall_known_extensions", "false")?
        .with("allow_community_extensions", "false")?
        .max_memory(&opts.memory_limit)?
        .threads(i64::from(opts.threads.max(1)))
}

impl SealedEngine {
    /// The databases, tables, views and columns this connection can read.
    pub fn catalog(&self) -> Result<Catalog, RunError> {
        catalog::read(&self.conn, &self.warnings)
    }

    /// Create an empty table for an alias (from its dry-run schema), so the final step can
    /// be bound before any data is fetched; `append` fills it later.
    pub fn create_alias_table(&self, alias: &str, schema: &SchemaRef) -> Result<(), RunError> {
        tables::create(&self.conn, alias, schema)
    }

    /// Append an alias's data to the table `create_alias_table` made with the same schema.
    pub fn append_alias(
        &self,
        alias: &str,
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<(), RunError> {
        tables::append(&self.conn, alias, schema, batches)
    }

    /// Ask DuckDB to bind the final step (parse, resolve every name and type, plan) without
    /// running it: an unknown column, table or function, or a type mismatch, is found here.
    pub fn bind(&self, step: &FinalStep) -> Result<(), RunError> {
        self.conn
            .prepare(step.sql())
            .map(drop)
            .map_err(|e| query_error("the final sql does not bind", &e))
    }

    /// A handle that stops the running query from another thread (timeouts, Ctrl-C).
    pub fn interrupt_handle(&self) -> Arc<InterruptHandle> {
        self.conn.interrupt_handle()
    }

    /// Run the plan's final step, keeping at most `max_rows` rows (one more is fetched to
    /// know whether the result was truncated). The query is interrupted when the deadline
    /// passes or the run is cancelled.
    pub fn execute(
        &self,
        step: &FinalStep,
        max_rows: u64,
        deadline: Option<&Deadline>,
    ) -> Result<QueryResult, RunError> {
        self.execute_sql(step.sql(), step.params(), max_rows, deadline)
    }

    /// Run the plan's final step and hand its batches to `sink` as DuckDB produces them,
    /// so a result of any size passes through in constant memory.
    pub fn stream(
        &self,
        step: &FinalStep,
        deadline: Option<&Deadline>,
        sink: &mut dyn BatchSink,
    ) -> Result<(), RunError> {
        self.watched(deadline, || {
            self.stream_sql(step.sql(), step.params(), sink)
        })
    }

    /// Run SQL that was derived from checked input inside the crate (the local backend's
    /// DuckDB re-print of a checked alias). Not public: outside the crate only a
    /// `FinalStep` runs.
    pub(crate) fn execute_sql(
        &self,
        sql: &str,
        params: &[(String, ParamValue)],
        max_rows: u64,
        deadline: Option<&Deadline>,
    ) -> Result<QueryResult, RunError> {
        let mut collect = Collect::new(max_rows);
        self.watched(deadline, || self.stream_sql(sql, params, &mut collect))?;
        Ok(collect.into_result())
    }

    /// Run `work` under a watchdog that interrupts DuckDB when the deadline passes or the
    /// run is cancelled, and say which of the two stopped it.
    fn watched(
        &self,
        deadline: Option<&Deadline>,
        work: impl FnOnce() -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        let timer = deadline.map(|d| Watchdog::start(self.conn.interrupt_handle(), d.clone()));
        let result = work();
        match timer.map_or(Ended::Finished, Watchdog::stop) {
            Ended::Finished => result,
            Ended::TimedOut(d) => Err(d.timeout("the query")),
            Ended::Cancelled => Err(RunError::interrupted("the query")),
        }
    }

    fn stream_sql(
        &self,
        sql: &str,
        params: &[(String, ParamValue)],
        sink: &mut dyn BatchSink,
    ) -> Result<(), RunError> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| query_error("query error", &e))?;
        let values = bind_order(&stmt, params)?;
        let stream = stmt
            .stream_arrow(duckdb::params_from_iter(values.iter()))
            .map_err(|e| query_error("query error", &e))?;
        sink.start(&stream.get_schema())?;
        for batch in stream {
            let batch = batch.map_err(|e| query_error("query error", &e))?;
            if !sink.batch(batch)? {
                break;
            }
        }
        Ok(())
    }

    /// Run SQL with no validation at all. Only for tests that prove the sandbox holds
    /// on its own.
    #[doc(hidden)]
    pub fn execute_unvalidated(&self, sql: &str) -> Result<Vec<RecordBatch>, RunError> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| query_error("query error", &e))?;
        let arrow = stmt
            .query_arrow([])
            .map_err(|e| query_error("query error", &e))?;
        Ok(arrow.collect())
    }
}

/// Parameter values in the order the prepared statement numbers them.
fn bind_order(
    stmt: &duckdb::Statement<'_>,
    params: &[(String, ParamValue)],
) -> Result<Vec<duckdb::types::Value>, RunError> {
    (1..=stmt.parameter_count())
        .map(|i| {
            let name = stmt
                .parameter_name(i)
                .map_err(|e| query_error("query error", &e))?;
            let name = name.trim_start_matches('$');
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| types::duck_value(v))
                .ok_or_else(|| {
                    RunError::new(
                        ErrorType::QueryError,
                        format!("no value for parameter `${name}`"),
                    )
                    .hint("declare it under params:")
                })
        })
        .collect()
}

enum Ended {
    Finished,
    TimedOut(Deadline),
    Cancelled,
}

/// Interrupts a query when its deadline passes or the run is cancelled.
struct Watchdog {
    done: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<Ended>,
}

impl Watchdog {
    fn start(handle: Arc<InterruptHandle>, stop: Deadline) -> Self {
        let (done, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            loop {
                // Poll so that Ctrl-C is noticed quickly even with a distant deadline.
                let wait = stop.remaining().min(Duration::from_millis(50));
                match rx.recv_timeout(wait) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return Ended::Finished,
                }
                if stop.is_cancelled() {
                    handle.interrupt();
                    return Ended::Cancelled;
                }
                if stop.is_past() {
                    handle.interrupt();
                    return Ended::TimedOut(stop);
                }
            }
        });
        Self { done, thread }
    }

    /// Stop watching and say how the query ended.
    fn stop(self) -> Ended {
        let _ = self.done.send(());
        self.thread.join().unwrap_or(Ended::Finished)
    }
}
