//! The local backend: alias SQL runs on DuckDB over Parquet files laid out
//! `<warehouse>/<dataset>/<table>.parquet`, so plans run with no Google credentials.
//!
//! BigQuery names (`project.dataset.table`, `dataset.table`) resolve to those files; `@name`
//! parameters become DuckDB prepared parameters (`$name`) bound as values, never SQL text. The SQL is re-printed from its syntax tree, so only
//! what DuckDB and BigQuery share runs here (documented in the README). Each alias gets its
//! own sealed in-memory DuckDB: the files are read by Rust, never by SQL.

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sqlparser::ast::{Expr, Ident, ObjectName, ObjectNamePart, Value, VisitMut, VisitorMut};
use sqlparser::dialect::BigQueryDialect;
use sqlparser::parser::Parser;

use super::{AliasSource, Estimate, Fetched, Precheck, batches_bytes};
use crate::deadline::Deadline;
use crate::dialect::is_identifier;
use crate::engine::{Engine, EngineOptions, QueryResult, RemoteAttachPolicy, SealedEngine};
use crate::error::{BqErrorKind, ErrorType, RunError};
use crate::params::ParamValue;
use crate::validate::CheckedAlias;

/// Parquet files standing in for BigQuery tables.
#[derive(Debug, Clone)]
pub struct LocalWarehouse {
    root: PathBuf,
    /// The run's budget: alias queries are interrupted when it ends, as the final step is.
    deadline: Option<Deadline>,
}

impl LocalWarehouse {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            deadline: None,
        }
    }

    /// Interrupt alias queries when `deadline` passes or the run is cancelled.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The file for a BigQuery table name, if the name has a dataset and table part.
    fn file_for(&self, parts: &[String]) -> Option<PathBuf> {
        let [.., dataset, table] = parts else {
            return None;
        };
        let safe = |s: &str| !s.is_empty() && !s.contains(['/', '\\']) && s != ".." && s != ".";
        (safe(dataset) && safe(table))
            .then(|| self.root.join(dataset).join(format!("{table}.parquet")))
    }

    /// Run BigQuery SQL with typed `@params` over the warehouse, unbounded. Used by the
    /// test BigQuery server, which answers REST calls from this same data; the SQL runs
    /// on its own sealed in-memory engine that holds nothing but the tables it names.
    pub fn run_sql(
        &self,
        name: &str,
        sql: &str,
        params: &[(String, ParamValue)],
    ) -> Result<QueryResult, RunError> {
        let query = AliasQuery { name, sql, params };
        let (engine, sql) = self.prepare(&query)?;
        engine.execute_sql(&sql, params, u64::MAX - 1, None)
    }

    /// A sealed engine holding the alias's tables, and the alias SQL rewritten for it.
    fn prepare(&self, alias: &AliasQuery<'_>) -> Result<(SealedEngine, String), RunError> {
        let mut statements = Parser::parse_sql(&BigQueryDialect {}, alias.sql).map_err(|e| {
            bq_error(
                BqErrorKind::BadRequest,
                alias,
                &format!("cannot parse: {e}"),
            )
        })?;
        let Some(statement) = statements.first_mut() else {
            return Err(bq_error(BqErrorKind::BadRequest, alias, "empty query"));
        };
        let mut rewriter = Rewriter {
            warehouse: self,
            tables: BTreeMap::new(),
            params: alias.params,
            missing: None,
        };
        let _ = statement.visit(&mut rewriter);
        if let Some((name, path)) = rewriter.missing {
            return Err(bq_error(
                BqErrorKind::NotFound,
                alias,
                &format!(
                    "table `{name}` is not in the local warehouse (looked for {})",
                    path.display()
                ),
            )
            .hint(format!(
                "add {} or point bigquery.local_warehouse at the right folder",
                path.display()
            )));
        }
        let engine = Engine::open(&local_engine_options(), &|_| None)?;
        for (file, table) in &rewriter.tables {
            let (schema, batches) = read_parquet(file).map_err(|why| {
                bq_error(
                    BqErrorKind::Upstream,
                    alias,
                    &format!("cannot read {}: {why}", file.display()),
                )
            })?;
            engine.register(table, &schema, batches)?;
        }
        Ok((engine.seal()?, statement.to_string()))
    }
}

fn local_engine_options() -> EngineOptions {
    EngineOptions {
        database: None,
        extracts: None,
        memory_limit: "1GB".to_owned(),
        threads: 1,
        remote_attach: RemoteAttachPolicy {
            extensions: Vec::new(),
            token_envs: Vec::new(),
        },
    }
}

/// The SQL of one alias and its parameter values: a checked alias, or the test
/// server's request.
struct AliasQuery<'a> {
    name: &'a str,
    sql: &'a str,
    params: &'a [(String, ParamValue)],
}

impl<'a> From<&'a CheckedAlias> for AliasQuery<'a> {
    fn from(alias: &'a CheckedAlias) -> Self {
        Self {
            name: alias.name(),
            sql: alias.sql(),
            params: alias.params(),
        }
    }
}

fn bq_error(kind: BqErrorKind, alias: &AliasQuery<'_>, message: &str) -> RunError {
    RunError::bq(
        kind,
        format!("alias `{}` (local backend): {message}", alias.name),
    )
    .detail("alias", alias.name)
    .detail("backend", "local")
}

fn read_parquet(
    path: &Path,
) -> Result<
    (
        arrow::datatypes::SchemaRef,
        Vec<arrow::record_batch::RecordBatch>,
    ),
    String,
> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| e.to_string())?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((schema, batches))
}

/// Rewrites table names to registered tables, `@params` to DuckDB's `$params`, backticks
/// to quotes.
struct Rewriter<'a> {
    warehouse: &'a LocalWarehouse,
    /// file → table name in the alias's engine
    tables: BTreeMap<PathBuf, String>,
    /// The values bound at execution: only their names reach the SQL text.
    params: &'a [(String, ParamValue)],
    missing: Option<(String, PathBuf)>,
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_relation(&mut self, name: &mut ObjectName) -> ControlFlow<()> {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(ObjectNamePart::as_ident)
            .flat_map(|i| i.value.split('.').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        if parts.len() < 2 {
            // A CTE or another name in scope: leave it.
            return ControlFlow::Continue(());
        }
        let Some(file) = self.warehouse.file_for(&parts) else {
            return ControlFlow::Continue(());
        };
        if !file.is_file() {
            self.missing.get_or_insert((parts.join("."), file));
            return ControlFlow::Continue(());
        }
        let next = format!("__bq_table_{}", self.tables.len());
        let table = self.tables.entry(file).or_insert(next).clone();
        *name = ObjectName::from(vec![Ident::new(table)]);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let name = match expr {
            Expr::Value(v) => match &v.value {
                Value::Placeholder(p) => p.strip_prefix('@'),
                _ => None,
            },
            // sqlparser's BigQuery dialect reads `@name` as an identifier.
            Expr::Identifier(ident) if ident.quote_style.is_none() => ident.value.strip_prefix('@'),
            _ => None,
        };
        if let Some(name) = name.filter(|n| self.binds(n)) {
            *expr = Expr::value(Value::Placeholder(format!("${name}")));
            return ControlFlow::Continue(());
        }
        match expr {
            Expr::Identifier(ident) => backtick_to_quote(ident),
            Expr::CompoundIdentifier(idents) => idents.iter_mut().for_each(backtick_to_quote),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl Rewriter<'_> {
    /// Whether `@name` is a parameter with a value; its name is an identifier, so `$name`
    /// is one DuckDB parameter token.
    fn binds(&self, name: &str) -> bool {
        is_identifier(name) && self.params.iter().any(|(n, _)| n == name)
    }
}

fn backtick_to_quote(ident: &mut Ident) {
    if ident.quote_style == Some('`') {
        ident.quote_style = Some('"');
    }
}

impl AliasSource for LocalWarehouse {
    fn label(&self) -> &'static str {
        "local"
    }

    fn estimate(&self, alias: &CheckedAlias) -> Result<Estimate, RunError> {
        let query = AliasQuery::from(alias);
        let (engine, sql) = self.prepare(&query)?;
        let shape = engine.execute_sql(
            &format!("SELECT * FROM (\n{sql}\n) AS _shape LIMIT 0"),
            query.params,
            0,
            self.deadline.as_ref(),
        )?;
        Ok(Estimate {
            schema: Some(shape.schema),
            bytes_processed: None,
            count_bytes: None,
            cached: false,
        })
    }

    fn precheck(&self, alias: &CheckedAlias, estimate: &Estimate) -> Result<Precheck, RunError> {
        let query = AliasQuery::from(alias);
        let (engine, sql) = self.prepare(&query)?;
        // The alias SQL stands on its own lines, so a trailing `--` comment cannot swallow
        // the wrapper's closing parenthesis.
        let count = engine.execute_sql(
            &format!("SELECT COUNT(*) AS n FROM (\n{sql}\n) AS _cnt"),
            query.params,
            1,
            self.deadline.as_ref(),
        )?;
        let rows = count
            .batches
            .first()
            .filter(|b| b.num_rows() == 1)
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .map(|a| a.value(0))
            })
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                bq_error(
                    BqErrorKind::Upstream,
                    &query,
                    "the row count could not be read",
                )
            })?;
        // The local estimate always has the schema; ask again only if it was not passed on.
        let schema = match &estimate.schema {
            Some(schema) => schema.clone(),
            None => self
                .estimate(alias)?
                .schema
                .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty())),
        };
        Ok(Precheck {
            rows,
            schema,
            bytes_processed: None,
            jobs: Vec::new(),
        })
    }

    fn fetch(&self, alias: &CheckedAlias) -> Result<Fetched, RunError> {
        let (engine, sql) = self.prepare(&AliasQuery::from(alias))?;
        // The precheck already bounded the rows; the +1 catches data that grew since.
        let max_rows = alias.max_rows();
        let result = engine.execute_sql(
            &sql,
            alias.params(),
            max_rows.saturating_add(1),
            self.deadline.as_ref(),
        )?;
        if result.truncated || result.rows > max_rows {
            return Err(RunError::new(
                ErrorType::RowLimit,
                format!(
                    "alias `{}` grew past {max_rows} rows while it was fetched",
                    alias.name()
                ),
            )
            .detail("alias", alias.name())
            .detail("max", max_rows));
        }
        let bytes = batches_bytes(&result.batches);
        Ok(Fetched {
            schema: result.schema,
            rows: result.rows,
            batches: result.batches,
            bytes,
            jobs: Vec::new(),
            cached: false,
            warnings: Vec::new(),
        })
    }
}
