//! The DuckDB side of a run: the analytics connection, registered aliases, the sandbox,
//! and the final step.
//!
//! The order is fixed by types: `Engine::open` attaches what the run may read, LOADs the
//! allow-listed extensions its `_remote_attach` rows name and then turns extension loading
//! off, aliases are registered on the open engine, `seal` turns external access off (except
//! for the analytics and extract folders, so views over Parquet files beside them keep
//! working) and locks the configuration, and only a `SealedEngine` runs SQL from the plan. A
//! validator miss therefore still cannot read a file outside those folders.
//!
//! DuckDB's allowed folders are readable *and writable*, so `SealedEngine::execute` runs
//! only text that DuckDB's own parser reads as exactly one SELECT: no COPY, EXPORT or ATTACH
//! can write beside the analytics file even if the validator let one through.

mod attach;
mod catalog;
pub mod snapshot;
mod tables;
mod types;
mod working;

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
pub use working::Working;

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
    /// Folders that stay readable after the seal: the analytics file's and the extracts'.
    allowed: Vec<String>,
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
    let text = readable(err.to_string());
    // DuckDB past `memory_limit` (or a worker past its cap) is a limit, not a bad query.
    if text.contains("Out of Memory") || text.contains("bad_alloc") {
        return RunError::new(ErrorType::MemoryLimit, format!("{context}: {text}"))
            .detail("original_error", text)
            .hint("the final step needed more memory than analytics.memory_limit (in da serve and da mcp, worker.memory_mb) allows: aggregate or filter earlier, make strings and lists smaller, or raise the limit");
    }
    RunError::new(ErrorType::QueryError, format!("{context}: {text}"))
        .detail("original_error", text)
}

/// DuckDB hands some errors over as its JSON error data (those raised while it exports
/// Arrow, e.g. `{"exception_type":"Out of Memory","exception_message":"..."}`); they read
/// like any other DuckDB error.
fn readable(text: String) -> String {
    let Ok(serde_json::Value::Object(data)) = serde_json::from_str::<serde_json::Value>(&text)
    else {
        return text;
    };
    let field = |name| data.get(name).and_then(serde_json::Value::as_str);
    match (field("exception_type"), field("exception_message")) {
        (Some(kind), Some(message)) => format!("{kind} Error: {message}"),
        _ => text,
    }
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
            allowed: allowed_directories(opts),
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
        // Re-attach was the only reason extensions could load; from here on nothing can,
        // not even between open and seal.
        engine
            .conn
            .execute_batch(STOP_EXTENSION_LOADING)
            .map_err(|e| query_error("cannot sandbox the DuckDB connection", &e))?;
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
    /// SQL does afterwards can read files outside the allowed folders, load extensions or
    /// change settings.
    ///
    /// The analytics file's folder and the extracts folder stay readable (DuckDB's
    /// `allowed_directories`), because views in those databases read Parquet files beside
    /// them. They must be set while external access is still on: DuckDB freezes them after.
    pub fn seal(self) -> Result<SealedEngine, RunError> {
        let mut sql = String::new();
        if !self.allowed.is_empty() {
            let list: Vec<String> = self
                .allowed
                .iter()
                .map(|d| attach::quote_literal(d))
                .collect();
            sql.push_str(&format!(
                "SET allowed_directories = [{}];\n",
                list.join(", ")
            ));
        }
        sql.push_str(
            "SET enable_external_access = false;
             SET allow_persistent_secrets = false;
             SET lock_configuration = true;",
        );
        self.conn
            .execute_batch(&sql)
            .map_err(|e| query_error("cannot sandbox the DuckDB connection", &e))?;
        Ok(SealedEngine {
            conn: self.conn,
            warnings: self.warnings,
        })
    }
}

/// Community extensions stay trusted at open (the setting can only be lowered while DuckDB
/// runs, and `LOAD bigquery` checks it), so that re-attach can LOAD them; nothing is ever
/// installed or autoloaded. [`STOP_EXTENSION_LOADING`] runs right after re-attach.
fn base_config(opts: &EngineOptions) -> duckdb::Result<Config> {
    Config::default()
        .enable_autoload_extension(false)?
        .with("autoinstall_known_extensions", "false")?
        .max_memory(&opts.memory_limit)?
        .threads(i64::from(opts.threads.max(1)))
}

/// After re-attach: no community or custom-repository extension is trusted any more, and
/// nothing loads or installs itself. (This DuckDB has no switch that turns `LOAD` off as a
/// whole; with external access off after the seal, only the statically linked extensions,
/// already loaded, still answer `LOAD`.)
const STOP_EXTENSION_LOADING: &str = "
    SET allow_community_extensions = false;
    SET allow_extension_repositories = 'forbidden';
    SET autoinstall_known_extensions = false;
    SET autoload_known_extensions = false;";

/// The folders that stay readable after the seal, as absolute paths (DuckDB would resolve a
/// relative one against its own working directory). DuckDB resolves symlinks on both sides
/// when it compares, so a link inside these folders cannot lead out of them.
fn allowed_directories(opts: &EngineOptions) -> Vec<String> {
    let analytics = opts.database.as_deref().and_then(|db| match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => Some(dir.to_owned()),
        _ => std::env::current_dir().ok(),
    });
    analytics
        .iter()
        .chain(opts.extracts.iter())
        .filter_map(|dir| std::path::absolute(dir).ok())
        .filter_map(|dir| dir.to_str().map(str::to_owned))
        .collect()
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

    /// Every table and view of the analytics database and the extracts, as
    /// `(name, database.schema.name)`.
    pub fn catalog_tables(&self) -> Result<Vec<(String, String)>, RunError> {
        tables::catalog(&self.conn)
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
        self.one_select(sql)?;
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

    /// Refuse anything but exactly one SELECT, as DuckDB parses it. `json_serialize_sql`
    /// (json extension) serializes SELECT statements only and lists every statement, so
    /// it answers both questions with DuckDB's parser rather than ours. This must come
    /// before `prepare`, which runs every statement but the last.
    fn one_select(&self, sql: &str) -> Result<(), RunError> {
        let refused = |why: &str| {
            RunError::new(ErrorType::QueryError, format!("query error: {why}"))
                .hint("the final step is one SELECT statement")
        };
        let json: String = self
            .conn
            .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
            .map_err(|e| query_error("query error", &e))?;
        let parsed: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| refused(&e.to_string()))?;
        if parsed["error"] == serde_json::Value::Bool(true) {
            // Text that does not parse runs nothing: `prepare` parses it all first and
            // reports the syntax error the usual way.
            if parsed["error_type"] == "parser" {
                return Ok(());
            }
            let message = parsed["error_message"].as_str().unwrap_or("not a SELECT");
            return Err(refused(message).detail("original_error", message));
        }
        match parsed["statements"].as_array().map(Vec::len) {
            Some(1) => Ok(()),
            _ => Err(refused("exactly one statement may run")),
        }
    }

    /// Run `sql` the way a checked final step runs (DuckDB's own one-SELECT check, the
    /// watchdog-free path), as if the validator had let it through. Only for tests that
    /// prove the engine holds on its own when the validator misses.
    #[doc(hidden)]
    pub fn execute_as_if_checked(&self, sql: &str, max_rows: u64) -> Result<QueryResult, RunError> {
        self.execute_sql(sql, &[], max_rows, None)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> EngineOptions {
        EngineOptions {
            database: None,
            extracts: None,
            memory_limit: "256MB".to_owned(),
            threads: 1,
            remote_attach: RemoteAttachPolicy {
                extensions: vec!["bigquery".to_owned()],
                token_envs: Vec::new(),
            },
        }
    }

    fn setting(conn: &Connection, name: &str) -> String {
        conn.query_row(
            &format!("SELECT current_setting('{name}')::VARCHAR"),
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn community_extensions_are_trusted_while_reattach_loads_and_not_after() {
        // Guards against `LOAD bigquery` being impossible: DuckDB only accepts a community
        // extension's signature while allow_community_extensions is on, and the setting can
        // never be turned back on once the connection is open.
        let conn = Connection::open_in_memory_with_flags(base_config(&options()).unwrap()).unwrap();
        assert_eq!(setting(&conn, "allow_community_extensions"), "true");
        assert_eq!(setting(&conn, "autoinstall_known_extensions"), "false");
        assert_eq!(setting(&conn, "autoload_known_extensions"), "false");

        let engine = Engine::open(&options(), &|_| None).unwrap();
        assert_eq!(setting(&engine.conn, "allow_community_extensions"), "false");
        assert_eq!(
            setting(&engine.conn, "allow_extension_repositories"),
            "forbidden"
        );
        assert!(
            engine
                .conn
                .execute_batch("SET allow_community_extensions = true")
                .is_err(),
            "one-way"
        );
    }

    #[test]
    fn the_allowed_folders_are_the_database_folder_and_the_extracts_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options();
        opts.database = Some(dir.path().join("db").join("analytics.duckdb"));
        opts.extracts = Some(dir.path().join("extracts"));
        let allowed = allowed_directories(&opts);
        for folder in ["db", "extracts"] {
            let folder = dir.path().join(folder).display().to_string();
            assert!(allowed.contains(&folder), "{allowed:?}");
        }
        assert!(
            allowed
                .iter()
                .all(|d| std::path::Path::new(d).is_absolute()),
            "{allowed:?}"
        );
        opts.database = Some(PathBuf::from("analytics.duckdb"));
        opts.extracts = None;
        assert_eq!(
            allowed_directories(&opts)[0],
            std::env::current_dir().unwrap().display().to_string()
        );
        assert!(
            allowed_directories(&options()).is_empty(),
            "in memory: no folder"
        );
    }
}
