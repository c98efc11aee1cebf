//! The BigQuery backend: the real `gcp-bigquery-client` behind the `AliasSource` interface.
//!
//! Precheck = a dry run (schema, bytes processed) and `SELECT COUNT(*) FROM (<sql>) AS _cnt`;
//! fetch = jobs.query, then getQueryResults until the job is complete and every page is read,
//! each page converted to Arrow as it arrives (`arrow.rs`). Typed parameters travel as
//! BigQuery named query parameters; every job carries labels for cost attribution.

pub mod arrow;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gcp_bigquery_client::Client;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::query_parameter_type::QueryParameterType;
use gcp_bigquery_client::model::query_parameter_value::QueryParameterValue;
use gcp_bigquery_client::model::query_request::QueryRequest;
use serde_json::Value;

use self::arrow::{BqField, RowsToArrow};
use crate::error::{ErrorType, RunError};
use crate::params::ParamValue;
use crate::source::{AliasSource, Fetched, Precheck, batches_bytes};
use crate::validate::CheckedAlias;

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
    /// Labels for every job (plan name, ...); the alias is added per job.
    pub labels: HashMap<String, String>,
    pub timeout: Duration,
    pub page_size: i32,
    /// Set by Ctrl-C (or a server's request timeout): running jobs are cancelled.
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
}

const CREDENTIALS_HINT: &str = "pass --credentials KEY.json, set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or put a token in DA_BIGQUERY_ACCESS_TOKEN";

/// Where a token comes from, found the way Google's own tools look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A bearer token used as is (`DA_BIGQUERY_ACCESS_TOKEN`, an emulator).
    Token(String),
    /// A service-account key file.
    ServiceAccount(std::path::PathBuf),
    /// A gcloud user credentials file (`gcloud auth application-default login`).
    AuthorizedUser(std::path::PathBuf),
    /// The GCE/GKE metadata server.
    MetadataServer,
}

impl Credentials {
    /// In order: a token; an explicit key file (flag or config, then
    /// `GOOGLE_APPLICATION_CREDENTIALS`); gcloud's application-default file; the metadata
    /// server, but only on Google Cloud (said by `GCE_METADATA_HOST` or the machine's DMI
    /// product name, as google-auth checks), so nothing is sent anywhere else.
    pub fn discover(
        token: Option<String>,
        file: Option<std::path::PathBuf>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, RunError> {
        if let Some(token) = token {
            return Ok(Self::Token(token));
        }
        let explicit = file.or_else(|| env("GOOGLE_APPLICATION_CREDENTIALS").map(Into::into));
        let gcloud = env("CLOUDSDK_CONFIG")
            .map(std::path::PathBuf::from)
            .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".config/gcloud")))
            .map(|dir| dir.join("application_default_credentials.json"))
            .filter(|p| p.is_file());
        if let Some(path) = explicit.or(gcloud) {
            return Self::from_file(path);
        }
        let on_gce = env("GCE_METADATA_HOST").is_some()
            || std::fs::read_to_string("/sys/class/dmi/id/product_name")
                .is_ok_and(|n| n.contains("Google"));
        if on_gce {
            return Ok(Self::MetadataServer);
        }
        Err(bq_error(
            "not_configured",
            "no Google credentials found",
            CREDENTIALS_HINT,
        ))
    }

    fn from_file(path: std::path::PathBuf) -> Result<Self, RunError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            bq_error(
                "auth_failed",
                format!("cannot read credentials file {shown}: {e}"),
                CREDENTIALS_HINT,
            )
        })?;
        let kind = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
        match kind.as_deref() {
            Some("service_account") => Ok(Self::ServiceAccount(path)),
            Some("authorized_user") => Ok(Self::AuthorizedUser(path)),
            other => Err(bq_error(
                "auth_failed",
                format!(
                    "credentials file {shown} is not a service-account key or gcloud user credentials (type: {})",
                    other.unwrap_or("missing")
                ),
                CREDENTIALS_HINT,
            )),
        }
    }
}

/// A bearer token that never changes.
#[derive(Clone)]
struct StaticToken(String);

#[async_trait::async_trait]
impl gcp_bigquery_client::auth::Authenticator for StaticToken {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok(self.0.clone())
    }
}

/// The BigQuery alias source. Owns a small runtime: the pipeline is synchronous.
pub struct BigQuerySource {
    client: Client,
    opts: BigQueryOptions,
    runtime: tokio::runtime::Runtime,
}

fn bq_error(kind: &str, message: impl Into<String>, hint: &str) -> RunError {
    RunError::new(ErrorType::BqError, message)
        .detail("kind", kind)
        .hint(hint)
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
                    "not_configured",
                    format!("cannot start the HTTP runtime: {e}"),
                    "report this as a bug",
                )
            })?;
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .build()
            .map_err(|e| {
                bq_error(
                    "not_configured",
                    format!("cannot build the HTTP client: {e}"),
                    "report this as a bug",
                )
            })?;
        let mut builder = gcp_bigquery_client::client_builder::ClientBuilder::new();
        builder.with_client(http);
        if let Some(endpoint) = &opts.endpoint {
            builder.with_v2_base_url(endpoint.trim_end_matches('/').to_owned());
        }
        let client = run_detached(&runtime, async {
            match &opts.credentials {
                Credentials::Token(token) => {
                    builder
                        .build_from_authenticator(Arc::new(StaticToken(token.clone())))
                        .await
                }
                Credentials::ServiceAccount(path) => {
                    builder
                        .build_from_service_account_key_file(&path.to_string_lossy())
                        .await
                }
                Credentials::AuthorizedUser(path) => {
                    builder.build_from_authorized_user_authenticator(path).await
                }
                Credentials::MetadataServer => builder.build_with_workload_identity(false).await,
            }
        })
        .map_err(|e| {
            bq_error(
                "auth_failed",
                format!("cannot use the Google credentials: {e}"),
                CREDENTIALS_HINT,
            )
        })?;
        Ok(Self {
            client,
            opts,
            runtime,
        })
    }

    fn request(&self, alias: &CheckedAlias, sql: String, dry_run: bool) -> QueryRequest {
        let mut labels = self.opts.labels.clone();
        labels.insert("alias".to_owned(), sanitize_label(&alias.name));
        let mut req = QueryRequest::new(sql);
        req.use_legacy_sql = false;
        req.dry_run = dry_run.then_some(true);
        req.location.clone_from(&self.opts.location);
        req.labels = Some(labels);
        req.max_results = Some(self.opts.page_size);
        req.timeout_ms = Some(10_000);
        req.request_id = Some(request_id());
        if !alias.params.is_empty() {
            req.parameter_mode = Some("NAMED".to_owned());
            req.query_parameters = Some(
                alias
                    .params
                    .iter()
                    .map(|(n, v)| query_parameter(n, v))
                    .collect(),
            );
        }
        req
    }

    /// Run a query to completion, handing every page of rows to `page`.
    async fn run_query(
        &self,
        alias: &CheckedAlias,
        sql: String,
        mut page: impl FnMut(&[BqField], &[Value]) -> Result<(), RunError>,
    ) -> Result<Vec<BqField>, RunError> {
        let deadline = Instant::now() + self.opts.timeout;
        let project = self.opts.project.as_str();
        let request = self.request(alias, sql, false);
        let first = with_retries(|| self.client.job().query(project, request.clone()))
            .await
            .map_err(|e| translate(&alias.name, &e))?;
        let job_id = first.job_reference.as_ref().and_then(|r| r.job_id.clone());
        let mut complete = first.job_complete.unwrap_or(false);
        let mut fields = if complete {
            Some(fields_of(first.schema.as_ref())?)
        } else {
            None
        };
        let mut token = first.page_token.clone().filter(|t| !t.is_empty());
        if let Some(f) = &fields {
            page(f, &rows_json(first.rows))?;
        }
        while !complete || token.is_some() {
            let Some(job_id) = job_id.as_deref() else {
                return Err(bq_error(
                    "upstream_error",
                    "BigQuery returned no job id for an unfinished query",
                    "retry; if it persists, report it",
                ));
            };
            if Instant::now() >= deadline || self.cancelled() {
                return Err(self.cancel_job(alias, job_id).await);
            }
            let params = GetQueryResultsParameters {
                format_options: None,
                location: self.opts.location.clone(),
                max_results: Some(self.opts.page_size),
                page_token: token.clone(),
                start_index: None,
                timeout_ms: Some(10_000),
            };
            let poll = with_retries(|| {
                self.client
                    .job()
                    .get_query_results(project, job_id, params.clone())
            });
            // A poll can wait for a long time: Ctrl-C must not wait with it.
            let next = tokio::select! {
                next = poll => next.map_err(|e| translate(&alias.name, &e))?,
                () = self.until_cancelled() => return Err(self.cancel_job(alias, job_id).await),
            };
            if !next.job_complete.unwrap_or(false) {
                continue;
            }
            if fields.is_none() {
                fields = Some(fields_of(next.schema.as_ref())?);
            }
            if let Some(f) = &fields {
                page(f, &rows_json(next.rows))?;
            }
            complete = true;
            token = next.page_token.filter(|t| !t.is_empty());
        }
        Ok(fields.unwrap_or_default())
    }
}

impl BigQuerySource {
    fn cancelled(&self) -> bool {
        self.opts.cancel.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Resolves once the run is cancelled.
    async fn until_cancelled(&self) {
        while !self.cancelled() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Cancel a running job (best effort: BigQuery may finish it anyway) and say why.
    async fn cancel_job(&self, alias: &CheckedAlias, job_id: &str) -> RunError {
        let location = self.opts.location.as_deref();
        let _ = self
            .client
            .job()
            .cancel_job(&self.opts.project, job_id, location)
            .await;
        let why = if self.cancelled() {
            "the run was interrupted"
        } else {
            "BigQuery did not finish in time"
        };
        RunError::new(
            ErrorType::Timeout,
            format!("alias `{}`: {why}; job {job_id} was cancelled", alias.name),
        )
        .detail("alias", alias.name.as_str())
        .detail("job_id", job_id)
    }
}

/// The REST schema as `BqField`s (the crate's types go through JSON once per query).
fn fields_of(
    schema: Option<&gcp_bigquery_client::model::table_schema::TableSchema>,
) -> Result<Vec<BqField>, RunError> {
    let fields = schema
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|s| s.get("fields").cloned())
        .unwrap_or(Value::Array(Vec::new()));
    serde_json::from_value(fields).map_err(|e| {
        bq_error(
            "upstream_error",
            format!("unreadable schema from BigQuery: {e}"),
            "report this",
        )
    })
}

/// Retry on 429, 5xx and connection failures only, with exponential backoff; anything
/// else (a bad query, missing access) fails at once.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, BQError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BQError>>,
{
    let mut delay = Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if attempt < RETRIES && retryable(&e) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Retries after the first attempt.
const RETRIES: u32 = 3;

fn retryable(e: &BQError) -> bool {
    match e {
        BQError::ResponseError { error } => error.error.code == 429 || error.error.code >= 500,
        // A timed-out request already used the run's whole time budget: no retry.
        BQError::RequestError(r) => r.is_connect(),
        _ => false,
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

/// Rows in the REST `{"f": [{"v": ...}]}` shape, moved out of the crate's types (no copy).
fn rows_json(rows: Option<Vec<gcp_bigquery_client::model::table_row::TableRow>>) -> Vec<Value> {
    rows.unwrap_or_default()
        .into_iter()
        .map(|row| {
            let cells: Vec<Value> = row
                .columns
                .unwrap_or_default()
                .into_iter()
                .map(|cell| serde_json::json!({ "v": cell.value }))
                .collect();
            serde_json::json!({ "f": cells })
        })
        .collect()
}

impl AliasSource for BigQuerySource {
    fn label(&self) -> &'static str {
        "bigquery"
    }

    fn precheck(&self, alias: &CheckedAlias) -> Result<Precheck, RunError> {
        run_detached(&self.runtime, async {
            let mut bytes_processed = None;
            let mut schema_fields: Option<Vec<BqField>> = None;
            if self.opts.dry_run {
                let request = self.request(alias, alias.sql.clone(), true);
                let dry =
                    with_retries(|| self.client.job().query(&self.opts.project, request.clone()))
                        .await
                        .map_err(|e| translate(&alias.name, &e))?;
                bytes_processed = dry
                    .total_bytes_processed
                    .as_deref()
                    .and_then(|b| b.parse().ok());
                schema_fields = dry
                    .schema
                    .and_then(|s| serde_json::to_value(s).ok())
                    .and_then(|s| s.get("fields").cloned())
                    .and_then(|f| serde_json::from_value(f).ok());
            }
            let mut count = 0u64;
            let count_sql = format!("SELECT COUNT(*) FROM ({}) AS _cnt", alias.sql);
            self.run_query(alias, count_sql, |_, rows| {
                if let Some(v) = rows
                    .first()
                    .and_then(|r| r.pointer("/f/0/v"))
                    .and_then(Value::as_str)
                {
                    count = v.parse().unwrap_or(0);
                }
                Ok(())
            })
            .await?;
            let fields = match schema_fields {
                Some(f) => f,
                // Without a dry run the shape comes from an empty page of the query itself.
                None => {
                    self.run_query(
                        alias,
                        format!("SELECT * FROM ({}) AS _shape LIMIT 0", alias.sql),
                        |_, _| Ok(()),
                    )
                    .await?
                }
            };
            let schema = arrow::arrow_schema(&fields).map_err(|e| {
                bq_error(
                    "upstream_error",
                    format!("alias `{}`: {e}", alias.name),
                    "select columns of supported types",
                )
            })?;
            Ok(Precheck {
                rows: count,
                schema,
                bytes_processed,
            })
        })
    }

    fn fetch(&self, alias: &CheckedAlias) -> Result<Fetched, RunError> {
        run_detached(&self.runtime, async {
            let mut converter: Option<RowsToArrow> = None;
            let mut batches = Vec::new();
            let convert = |e: arrow::ConvertError| {
                bq_error(
                    "upstream_error",
                    format!("alias `{}`: {e}", alias.name),
                    "report this with the column's type",
                )
            };
            // Each page becomes an Arrow batch as it arrives: memory stays one page of JSON.
            let fields = self
                .run_query(alias, alias.sql.clone(), |fields, rows| {
                    let conv = match converter.as_mut() {
                        Some(c) => c,
                        None => converter.insert(RowsToArrow::new(fields).map_err(convert)?),
                    };
                    conv.push_page(rows).map_err(convert)?;
                    batches.push(conv.flush().map_err(convert)?);
                    Ok(())
                })
                .await?;
            let schema = match &converter {
                Some(c) => c.schema(),
                None => arrow::arrow_schema(&fields).map_err(convert)?,
            };
            let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
            let bytes = batches_bytes(&batches);
            Ok(Fetched {
                schema,
                batches,
                rows,
                bytes,
            })
        })
    }
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

/// A client error as a `bq_error` with a kind and a hint (a timeout is a `timeout`).
fn translate(alias: &str, e: &BQError) -> RunError {
    if let BQError::RequestError(r) = e
        && r.is_timeout()
    {
        return RunError::new(
            ErrorType::Timeout,
            format!("alias `{alias}`: BigQuery did not answer within the time limit"),
        )
        .detail("alias", alias)
        .hint("raise remote_query.timeout_seconds, or make the alias cheaper");
    }
    let (kind, hint) = match e {
        BQError::ResponseError { error } => match (error.error.code, error.error.status.as_str()) {
            (401, _) => (
                "auth_failed",
                "refresh the credentials (gcloud auth application-default login)",
            ),
            (403, _) => (
                "forbidden",
                "the account needs bigquery.jobs.create on the billing project and read access to the tables",
            ),
            (404, _) => ("not_found", "check the project, dataset and table names"),
            (400, _)
                if error
                    .error
                    .message
                    .to_lowercase()
                    .contains("response too large") =>
            {
                (
                    "response_too_large",
                    "narrow the WHERE clause, aggregate, or select fewer columns",
                )
            }
            (400, _) => (
                "bad_request",
                "fix the alias's SQL; BigQuery's message says where",
            ),
            _ => ("upstream_error", "BigQuery failed; retry later"),
        },
        BQError::RequestError(_) => (
            "upstream_error",
            "check the network or bigquery.endpoint; BigQuery could not be reached",
        ),
        BQError::AuthError(_) | BQError::YupAuthError(_) | BQError::NoToken => {
            ("auth_failed", "check the credentials")
        }
        _ => ("upstream_error", "BigQuery failed; retry later"),
    };
    let message = match e {
        BQError::ResponseError { error } => error.error.message.clone(),
        other => other.to_string(),
    };
    bq_error(kind, format!("alias `{alias}`: BigQuery: {message}"), hint).detail("alias", alias)
}

#[cfg(test)]
mod tests {
    use super::sanitize_label;

    #[test]
    fn credentials_are_found_like_googles_tools_find_them() {
        use super::Credentials;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.json");
        std::fs::write(&key, r#"{"type": "service_account"}"#).unwrap();
        let user = dir
            .path()
            .join(".config/gcloud/application_default_credentials.json");
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        std::fs::write(&user, r#"{"type": "authorized_user"}"#).unwrap();
        let home = dir.path().display().to_string();
        let env = |name: &str| (name == "HOME").then(|| home.clone());
        assert_eq!(
            Credentials::discover(Some("t".into()), Some(key.clone()), &env).unwrap(),
            Credentials::Token("t".into())
        );
        assert_eq!(
            Credentials::discover(None, Some(key.clone()), &env).unwrap(),
            Credentials::ServiceAccount(key)
        );
        assert_eq!(
            Credentials::discover(None, None, &env).unwrap(),
            Credentials::AuthorizedUser(user)
        );
        let err =
            Credentials::discover(None, Some(dir.path().join("nope.json")), &env).unwrap_err();
        assert_eq!(err.details["kind"], "auth_failed");
        assert!(err.message.contains("nope.json"), "{}", err.message);
        let nothing = |_: &str| None;
        if !std::fs::read_to_string("/sys/class/dmi/id/product_name")
            .is_ok_and(|n| n.contains("Google"))
        {
            let err = Credentials::discover(None, None, &nothing).unwrap_err();
            assert_eq!(err.details["kind"], "not_configured");
        }
    }

    #[test]
    fn labels_are_sanitised_like_the_reference() {
        assert_eq!(sanitize_label("Traffic Plan!"), "traffic_plan");
        assert_eq!(sanitize_label("__x--"), "x");
        assert_eq!(sanitize_label(&"a".repeat(80)).len(), 63);
    }
}
