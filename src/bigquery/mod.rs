//! The BigQuery backend: the real `gcp-bigquery-client` behind the `AliasSource` interface.
//!
//! Precheck = a dry run (schema, bytes processed) and `SELECT COUNT(*) FROM (<sql>) AS _cnt`;
//! fetch = jobs.query, then getQueryResults until the job is complete and every page is read
//! (`pages.rs`, over our own REST calls in `rest.rs`), each page converted to Arrow as it
//! arrives (`arrow/`), or the Storage Read API for large results (`storage.rs`). Typed
//! parameters travel as BigQuery named query parameters; every job carries labels for cost
//! attribution.

pub mod arrow;
mod credentials;
mod errors;
mod pages;
mod policy;
mod rest;
mod storage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gcp_bigquery_client::Client;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::query_parameter_type::QueryParameterType;
use gcp_bigquery_client::model::query_parameter_value::QueryParameterValue;
use gcp_bigquery_client::model::query_request::QueryRequest;
use serde_json::Value;

use self::arrow::BqField;
use self::credentials::CREDENTIALS_HINT;
pub use self::credentials::Credentials;
use self::errors::{bq_error, translate, with_retries};
use crate::config::PrecheckMode;
use crate::config::ReadApi;
use crate::deadline::Deadline;
use crate::error::{BqErrorKind, ErrorType, RunError};
use crate::params::ParamValue;
use crate::source::{AliasSource, Estimate, Fetched, JobStats, Precheck};
use crate::validate::CheckedAlias;

/// The REST API root when `bigquery.endpoint` does not name another.
const GOOGLE_V2_URL: &str = "https://bigquery.googleapis.com/bigquery/v2";

/// How to reach BigQuery.
#[derive(Debug, Clone)]
pub struct BigQueryOptions {
    pub project: String,
    pub location: Option<String>,
    /// Base URL including `/bigquery/v2`; `None` is Google's.
    pub endpoint: Option<String>,
    /// How to authenticate, found by `Credentials::discover`.
    pub credentials: Credentials,
    pub dry_run: bool,
    /// When it lists datasets, the alias query's dry run is a jobs.insert dry run and every
    /// table BigQuery says it reads must be in one of them (dry runs are then mandatory).
    pub policy: crate::validate::sql::BigQueryPolicy,
    /// Labels for every job (plan name, ...); the alias is added per job.
    pub labels: HashMap<String, String>,
    pub page_size: i32,
    /// The run's one time budget: every request gets only what is left, and running jobs
    /// are cancelled when it runs out or the run is cancelled (Ctrl-C, a dropped request).
    pub deadline: Deadline,
    /// When to read results through the Storage Read API (`storage.rs`).
    pub read_api: ReadApi,
    /// Rows from which `ReadApi::Auto` uses it.
    pub read_api_min_rows: u64,
    /// The Read API's gRPC endpoint (`http://host:port`); `None` is Google's.
    pub storage_endpoint: Option<String>,
}

/// The BigQuery alias source. Owns a small runtime: the pipeline is synchronous.
pub struct BigQuerySource {
    client: Client,
    /// The calls that return rows (`rest.rs`), on the client's HTTP client and credentials.
    rest: rest::Rest,
    opts: BigQueryOptions,
    runtime: tokio::runtime::Runtime,
    /// `precheck: job`: the finished job of each alias, whose pages the fetch reads.
    finished: std::sync::Mutex<HashMap<String, String>>,
    /// Tokens for the Storage Read API: the REST client's own authenticator.
    grpc_auth: Arc<dyn gcp_bigquery_client::auth::Authenticator>,
    /// Rows each alias's precheck counted, for `read_api: auto`.
    counts: std::sync::Mutex<HashMap<String, u64>>,
}

impl BigQuerySource {
    /// Build a client; credentials as Google's tools find them unless a token is given.
    pub fn new(opts: BigQueryOptions) -> Result<Self, RunError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| {
                bq_error(
                    BqErrorKind::NotConfigured,
                    format!("cannot start the HTTP runtime: {e}"),
                    "report this as a bug",
                )
            })?;
        let http = reqwest::Client::builder()
            // Each call is also bounded by what is left of the budget (`guarded`).
            .timeout(opts.deadline.remaining().max(Duration::from_secs(1)))
            .build()
            .map_err(|e| {
                bq_error(
                    BqErrorKind::NotConfigured,
                    format!("cannot build the HTTP client: {e}"),
                    "report this as a bug",
                )
            })?;
        let base = opts.endpoint.as_deref().unwrap_or(GOOGLE_V2_URL);
        let mut builder = gcp_bigquery_client::client_builder::ClientBuilder::new();
        builder.with_client(http.clone());
        builder.with_v2_base_url(base.trim_end_matches('/').to_owned());
        let (client, grpc_auth) = run_detached(&runtime, async {
            let auth = credentials::authenticator(&opts.credentials, &http).await?;
            let client = builder.build_from_authenticator(auth.clone()).await?;
            Ok::<_, BQError>((client, auth))
        })
        .map_err(|e| {
            bq_error(
                BqErrorKind::AuthFailed,
                format!("cannot use the Google credentials: {e}"),
                CREDENTIALS_HINT,
            )
        })?;
        let rest = rest::Rest::new(http, base, grpc_auth.clone()).ok_or_else(|| {
            bq_error(
                BqErrorKind::NotConfigured,
                format!("bigquery.endpoint `{base}` is not an http(s) URL"),
                "set bigquery.endpoint to the API root, e.g. http://127.0.0.1:9050/bigquery/v2",
            )
        })?;
        Ok(Self {
            client,
            rest,
            opts,
            runtime,
            finished: std::sync::Mutex::default(),
            grpc_auth,
            counts: std::sync::Mutex::default(),
        })
    }

    fn request(
        &self,
        alias: &CheckedAlias,
        sql: String,
        dry_run: bool,
        max_results: i32,
    ) -> QueryRequest {
        let mut labels = self.opts.labels.clone();
        labels.insert("alias".to_owned(), sanitize_label(alias.name()));
        let mut req = QueryRequest::new(sql);
        req.use_legacy_sql = false;
        req.dry_run = dry_run.then_some(true);
        // Every billed job carries the cap, so BigQuery itself refuses to bill more.
        if !dry_run {
            req.maximum_bytes_billed = Some(alias.max_bytes_billed().to_string());
        }
        req.location.clone_from(&self.opts.location);
        req.labels = Some(labels);
        req.max_results = Some(max_results);
        req.timeout_ms = Some(self.poll_ms());
        req.request_id = Some(request_id());
        if !alias.params().is_empty() {
            req.parameter_mode = Some("NAMED".to_owned());
            req.query_parameters = Some(
                alias
                    .params()
                    .iter()
                    .map(|(n, v)| query_parameter(n, v))
                    .collect(),
            );
        }
        req
    }

    /// How long BigQuery may hold one request open: at most 10 s, never past the budget.
    fn poll_ms(&self) -> i32 {
        let left = self.opts.deadline.remaining().as_millis();
        i32::try_from(left.clamp(1, 10_000)).unwrap_or(10_000)
    }

    /// One request (with retries), bounded by what is left of the run's time and stopped
    /// at once by a cancel. When either ends it, `job_id` (if known) is cancelled.
    async fn guarded<T, F, Fut>(
        &self,
        alias: &CheckedAlias,
        job_id: Option<&str>,
        call: F,
    ) -> Result<T, RunError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BQError>>,
    {
        let deadline = &self.opts.deadline;
        let outcome = tokio::select! {
            result = with_retries(call, deadline) => Some(result),
            () = tokio::time::sleep(deadline.remaining()) => None,
            () = self.until_cancelled() => None,
        };
        match outcome {
            Some(result) => result.map_err(|e| {
                let err = translate(alias.name(), &e);
                if err.error_type == ErrorType::BqError(BqErrorKind::BytesBilledLimit) {
                    err.detail("max_bytes_billed", alias.max_bytes_billed())
                } else {
                    err
                }
            }),
            None => {
                if let Some(job_id) = job_id {
                    self.cancel_job(job_id).await;
                }
                Err(self.stopped(alias, job_id))
            }
        }
    }
}

impl BigQuerySource {
    fn cancelled(&self) -> bool {
        self.opts.deadline.is_cancelled()
    }

    /// Resolves once the run is cancelled.
    async fn until_cancelled(&self) {
        while !self.cancelled() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Cancel a running job. Best effort: BigQuery may finish it anyway, and the run is
    /// already failing for a better reason than a failed cancel.
    async fn cancel_job(&self, job_id: &str) {
        let location = self.opts.location.as_deref();
        let cancel = self
            .client
            .job()
            .cancel_job(&self.opts.project, job_id, location);
        let _ = tokio::time::timeout(Duration::from_secs(5), cancel).await;
    }

    /// Why a query stopped before it finished: interrupted, or out of time.
    fn stopped(&self, alias: &CheckedAlias, job_id: Option<&str>) -> RunError {
        let phase = format!("alias `{}`", alias.name());
        let mut err = if self.cancelled() {
            RunError::interrupted(&phase)
        } else {
            self.opts.deadline.timeout(&phase)
        };
        err = err.detail("alias", alias.name());
        if let Some(job_id) = job_id {
            err = err.detail("job_id", job_id);
            err.message
                .push_str(&format!("; job {job_id} was cancelled"));
        }
        err
    }
}

/// A request id per logical request, so BigQuery de-duplicates a retried jobs.query.
fn request_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("da-{}-{nanos}-{n}", std::process::id())
}

/// Run a future on the source's runtime from any thread, including one that is already
/// inside another runtime (`da serve` runs the pipeline on a blocking thread).
fn run_detached<T: Send>(
    runtime: &tokio::runtime::Runtime,
    fut: impl std::future::Future<Output = T> + Send,
) -> T {
    std::thread::scope(|s| s.spawn(|| runtime.block_on(fut)).join())
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl AliasSource for BigQuerySource {
    fn label(&self) -> &'static str {
        "bigquery"
    }

    fn estimate(&self, alias: &CheckedAlias) -> Result<Estimate, RunError> {
        let policy = !self.opts.policy.allowed_datasets.is_empty();
        if !self.opts.dry_run && !policy {
            return Ok(Estimate::default());
        }
        run_detached(&self.runtime, async {
            let count_sql = wrap("SELECT COUNT(*) FROM", alias.sql(), "AS _cnt");
            let (query, count) = tokio::try_join!(
                async {
                    if policy {
                        self.dry_run_within_policy(alias).await
                    } else {
                        self.dry_run(alias, alias.sql().to_owned()).await
                    }
                },
                self.dry_run(alias, count_sql),
            )?;
            Ok(Estimate {
                schema: Some(self.arrow_schema(alias, &query.0)?),
                bytes_processed: query.1,
                count_bytes: count.1,
                cached: false,
            })
        })
    }

    fn precheck(&self, alias: &CheckedAlias, estimate: &Estimate) -> Result<Precheck, RunError> {
        run_detached(&self.runtime, async {
            if alias.precheck() == PrecheckMode::Job {
                let pre = self.precheck_job(alias, estimate).await?;
                self.remember_count(alias, pre.rows);
                return Ok(pre);
            }
            let (rows, count_job) = self.count(alias).await?;
            self.remember_count(alias, rows);
            let mut jobs = vec![self.job_stats(&count_job, "count").await];
            let schema = match &estimate.schema {
                Some(schema) => schema.clone(),
                // Without a dry run the shape comes from an empty page of the query itself.
                None => {
                    let shape = wrap("SELECT * FROM", alias.sql(), "AS _shape LIMIT 0");
                    let (page, job) = self.first_page(alias, shape, 0).await?;
                    jobs.push(self.job_stats(&job, "shape").await);
                    self.arrow_schema(alias, &page.schema.unwrap_or_default())?
                }
            };
            Ok(Precheck {
                rows,
                schema,
                bytes_processed: estimate.bytes_processed,
                jobs,
            })
        })
    }

    fn fetch(&self, alias: &CheckedAlias) -> Result<Fetched, RunError> {
        run_detached(&self.runtime, async {
            // A `precheck: job` alias already has its finished job: page it, no second scan.
            let has_finished_job = self
                .finished
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains_key(alias.name());
            if self.wants_read_api(alias) && !has_finished_job {
                self.fetch_read_api(alias).await
            } else {
                self.fetch_rest(alias, None).await
            }
        })
    }
}

impl BigQuerySource {
    /// Keep the precheck's row count for `read_api: auto`.
    fn remember_count(&self, alias: &CheckedAlias, rows: u64) {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(alias.name().to_owned(), rows);
    }
}

impl BigQuerySource {
    fn arrow_schema(
        &self,
        alias: &CheckedAlias,
        fields: &[BqField],
    ) -> Result<::arrow::datatypes::SchemaRef, RunError> {
        arrow::arrow_schema(fields).map_err(|e| {
            bq_error(
                BqErrorKind::Upstream,
                format!("alias `{}`: {e}", alias.name()),
                "select columns of supported types",
            )
        })
    }

    /// The result's schema and the bytes BigQuery would scan, without running `sql`.
    async fn dry_run(
        &self,
        alias: &CheckedAlias,
        sql: String,
    ) -> Result<(Vec<BqField>, Option<u64>), RunError> {
        let request = self.request(alias, sql, true, self.opts.page_size);
        let project = self.opts.project.as_str();
        let dry = self
            .guarded(alias, None, || self.rest.query(project, &request))
            .await?;
        let bytes = dry
            .total_bytes_processed
            .as_deref()
            .and_then(|b| b.parse().ok());
        Ok((dry.schema.unwrap_or_default(), bytes))
    }

    /// The alias's row count, from `SELECT COUNT(*)` around it. A count that cannot be read
    /// is an error, never "0 rows".
    async fn count(&self, alias: &CheckedAlias) -> Result<(u64, String), RunError> {
        let sql = wrap("SELECT COUNT(*) FROM", alias.sql(), "AS _cnt");
        let (page, job_id) = self.first_page(alias, sql, self.opts.page_size).await?;
        let rows: Option<Value> = serde_json::from_str(page.rows_json()).ok();
        let count = rows
            .as_ref()
            .and_then(|r| r.pointer("/0/f/0/v"))
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<u64>().ok());
        let count = count.ok_or_else(|| {
            bq_error(
                BqErrorKind::Upstream,
                format!(
                    "alias `{}`: BigQuery returned no readable row count",
                    alias.name()
                ),
                "retry; if it persists, report it",
            )
        })?;
        Ok((count, job_id))
    }

    /// Run the alias query as a job and wait for it to finish without downloading a row
    /// (`maxResults=0`): its id, row count and schema.
    async fn run_without_rows(
        &self,
        alias: &CheckedAlias,
    ) -> Result<(String, Option<String>, Vec<BqField>), RunError> {
        let (page, job_id) = self.first_page(alias, alias.sql().to_owned(), 0).await?;
        Ok((job_id, page.total_rows, page.schema.unwrap_or_default()))
    }

    /// `precheck: job`: run the alias query once and wait for it without downloading a row
    /// (`maxResults=0`); its row count and schema come from the finished job, and the job
    /// is kept for the fetch to page through.
    async fn precheck_job(
        &self,
        alias: &CheckedAlias,
        estimate: &Estimate,
    ) -> Result<Precheck, RunError> {
        let (job_id, total_rows, fields) = self.run_without_rows(alias).await?;
        let rows = total_rows
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
            .ok_or_else(|| {
                bq_error(
                    BqErrorKind::Upstream,
                    format!(
                        "alias `{}`: BigQuery returned no readable totalRows for job {job_id}",
                        alias.name()
                    ),
                    "retry; if it persists, report it",
                )
            })?;
        let jobs = vec![self.job_stats(&job_id, "query").await];
        self.finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(alias.name().to_owned(), job_id);
        Ok(Precheck {
            rows,
            schema: self.arrow_schema(alias, &fields)?,
            bytes_processed: estimate.bytes_processed,
            jobs,
        })
    }

    /// A finished job's statistics (jobs.get). Best effort: the report shows what BigQuery
    /// said, and a failed look-up leaves the numbers out rather than failing the run.
    async fn job_stats(&self, job_id: &str, purpose: &'static str) -> JobStats {
        let mut stats = JobStats {
            job_id: job_id.to_owned(),
            purpose,
            ..JobStats::default()
        };
        let get =
            self.client
                .job()
                .get_job(&self.opts.project, job_id, self.opts.location.as_deref());
        let wait = self.opts.deadline.remaining().min(Duration::from_secs(10));
        let Ok(Ok(job)) = tokio::time::timeout(wait, get).await else {
            return stats;
        };
        if let Some(q) = job.statistics.and_then(|s| s.query) {
            let num = |v: Option<String>| v.and_then(|v| v.parse::<u64>().ok());
            stats.bytes_processed = num(q.total_bytes_processed);
            stats.bytes_billed = num(q.total_bytes_billed);
            stats.cache_hit = q.cache_hit;
            stats.slot_ms = num(q.total_slot_ms);
        }
        stats
    }
}

/// The id of the job a jobs.query started; BigQuery always names it.
fn job_id_of(job_id: Option<String>) -> Result<String, RunError> {
    job_id.ok_or_else(|| {
        bq_error(
            BqErrorKind::Upstream,
            "BigQuery returned no job id for a query",
            "retry; if it persists, report it",
        )
    })
}

/// The row and memory limits, checked as pages arrive: a result that grew since the
/// COUNT (non-deterministic SQL, a table that grew) stops at `max_rows + 1` rows.
fn within_fetch_limits(alias: &CheckedAlias, rows: u64, bytes: u64) -> Result<(), RunError> {
    if rows > alias.max_rows() {
        return Err(RunError::new(
            ErrorType::RowLimit,
            format!(
                "alias `{}`: more than {} rows arrived during the fetch (the result grew since the precheck)",
                alias.name(),
                alias.max_rows()
            ),
        )
        .detail("alias", alias.name())
        .detail("count", rows)
        .detail("max", alias.max_rows())
        .hint("make the alias deterministic, filter it, or raise its max_rows within the instance limit"));
    }
    let mb = crate::source::mib(bytes);
    #[allow(clippy::cast_precision_loss)]
    if mb > alias.max_memory_mb() as f64 {
        return Err(RunError::new(
            ErrorType::MemoryLimit,
            format!(
                "alias `{}`: fetched data passed {} MiB during the fetch",
                alias.name(),
                alias.max_memory_mb()
            ),
        )
        .detail("alias", alias.name())
        .detail("max_memory_mb", alias.max_memory_mb())
        .hint("select fewer columns or rows, or raise max_memory_mb within the instance limit"));
    }
    Ok(())
}

/// `{head} (\n{sql}\n) {tail}`: the alias SQL on lines of its own, so a trailing `--` or
/// `#` comment ends before the wrapper's closing parenthesis.
fn wrap(head: &str, sql: &str, tail: &str) -> String {
    format!("{head} (\n{sql}\n) {tail}")
}

fn query_parameter(name: &str, value: &ParamValue) -> QueryParameter {
    let kind = match value {
        ParamValue::String(_) => "STRING",
        ParamValue::Integer(_) => "INT64",
        ParamValue::Number(_) => "FLOAT64",
        ParamValue::Boolean(_) => "BOOL",
        ParamValue::Date(_) => "DATE",
        ParamValue::Timestamp(_) => "TIMESTAMP",
    };
    QueryParameter {
        name: Some(name.to_owned()),
        parameter_type: Some(QueryParameterType {
            array_type: None,
            struct_types: None,
            r#type: kind.to_owned(),
        }),
        parameter_value: Some(QueryParameterValue {
            array_values: None,
            struct_values: None,
            value: Some(value.to_text()),
        }),
    }
}

/// BigQuery label values: lower case, `[a-z0-9_-]` only, at most 63 characters.
pub fn sanitize_label(value: &str) -> String {
    let mut out = String::new();
    for c in value.to_lowercase().chars() {
        let ok = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if ok {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches(['_', '-']).chars().take(63).collect()
}

#[cfg(test)]
mod tests {
    use super::sanitize_label;

    #[test]
    fn labels_are_sanitised_like_the_reference() {
        assert_eq!(sanitize_label("Traffic Plan!"), "traffic_plan");
        assert_eq!(sanitize_label("__x--"), "x");
        assert_eq!(sanitize_label(&"a".repeat(80)).len(), 63);
    }
}
