//! A BigQuery REST server for tests: DuckDB-backed (the local Parquet warehouse answers the
//! SQL), on 127.0.0.1 with an ephemeral port, speaking the wire format of bigquery.md §2:
//! jobs.query (and dry runs), jobs.getQueryResults with paging, jobs.cancel, named
//! parameters, BigQuery error bodies. It records every request for assertions and can
//! answer `jobComplete: false` first and fail with 5xx or latency on demand.
//!
//! REST rows are encoded page by page when a page is asked for, never for a job that is
//! only read through the Storage Read API. With `Faults::preencoded_pages` (benchmarks) an
//! identical query reuses the first one's result and every page and stream is encoded once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use da::params::ParamValue;
use da::source::local::LocalWarehouse;
use serde_json::{Value, json};

/// What the server does besides answering.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Sleep this long before answering jobs.query.
    pub latency: Duration,
    /// Answer the first poll of every job with `jobComplete: false`.
    pub incomplete_first: bool,
    /// Rows per page when the client asks for more.
    pub page_rows: usize,
    /// Answer jobs.query with this HTTP status (an error body).
    pub fail_status: Option<u16>,
    /// Answer the first this many jobs.query calls with 503, then normally.
    pub fail_first: usize,
    /// Sleep this long before answering getQueryResults (a slow job).
    pub poll_latency: Duration,
    /// Answer jobs.query with a 200 whose body is not JSON.
    pub malformed_json: bool,
    /// Answer every getQueryResults page request (one with a page token) with 500.
    pub fail_paging: bool,
    /// Answer `SELECT COUNT(*)` prechecks with this many rows fewer than the truth (at
    /// least 0): a result that grows between the COUNT and the fetch.
    pub count_shortfall: u64,
    /// Answer `SELECT COUNT(*)` prechecks with no rows at all.
    pub count_without_rows: bool,
    /// A `project.dataset.table` that jobs.insert dry runs add to `referencedTables`, as
    /// BigQuery does for a view in an allowed dataset that reads another dataset.
    pub extra_referenced_table: Option<String>,
    /// Refuse every Storage Read API session with PERMISSION_DENIED.
    pub read_session_denied: bool,
    /// Fail every ReadRows stream with UNAVAILABLE after this many messages.
    pub read_fail_after: Option<usize>,
    /// Serve from memory (benchmarks): an identical query (text and parameters) reuses the
    /// first one's result, and each REST page and Read API stream is encoded once and kept.
    pub preencoded_pages: bool,
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub body: Value,
    pub started: Instant,
    pub ended: Instant,
}

/// A query's result as DuckDB gave it, and what the server made of it on demand. Each job
/// has its own, except with `preencoded_pages`, where identical queries share one.
pub(crate) struct Answer {
    pub(crate) schema: Value,
    /// The result as DuckDB gave it: REST pages and the Read API are made from it.
    pub(crate) batches: Vec<RecordBatch>,
    rows: usize,
    /// What the query scans and bills: 8 bytes per value of its result (stable, and
    /// known up front).
    bytes: u64,
    /// `batches` as the Read API sends them, made on the first read session.
    pub(crate) read: OnceLock<RecordBatch>,
    /// Encoded `rows` arrays of REST pages by (int64 timestamps, start, end), kept with
    /// `preencoded_pages`.
    pages: Mutex<HashMap<(bool, usize, usize), Arc<str>>>,
    /// ReadRows messages by (stream, streams), kept with `preencoded_pages`.
    pub(crate) streams: Mutex<HashMap<(usize, usize), crate::bq_grpc::Messages>>,
}

pub(crate) struct Job {
    pub(crate) answer: Arc<Answer>,
    /// The rows REST answers instead of the result (the COUNT faults).
    rows_override: Option<Arc<Vec<Value>>>,
    /// TIMESTAMP cells as integer µs (the job asked for `useInt64Timestamp`).
    int64_ts: bool,
    polled: bool,
}

impl Job {
    fn total_rows(&self) -> usize {
        self.rows_override
            .as_ref()
            .map_or(self.answer.rows, |rows| rows.len())
    }
}

pub(crate) struct Inner {
    warehouse: LocalWarehouse,
    calls: AtomicUsize,
    pub(crate) faults: Faults,
    pub(crate) jobs: Mutex<HashMap<String, Job>>,
    pub(crate) seen: Mutex<Vec<Seen>>,
    /// Results by query text and parameters, kept with `preencoded_pages`.
    answers: Mutex<HashMap<String, Arc<Answer>>>,
    /// Queries run on DuckDB, and REST rows encoded as JSON, so far.
    queries_run: AtomicUsize,
    rest_rows_encoded: AtomicUsize,
}

pub struct BqServer {
    pub addr: SocketAddr,
    /// The Storage Read API's gRPC port (`bq_grpc.rs`).
    pub grpc_addr: SocketAddr,
    inner: Arc<Inner>,
    _runtime: tokio::runtime::Runtime,
}

impl BqServer {
    pub fn start(warehouse: &std::path::Path, faults: Faults) -> Self {
        let inner = Arc::new(Inner {
            warehouse: LocalWarehouse::new(warehouse),
            calls: AtomicUsize::new(0),
            faults,
            jobs: Mutex::default(),
            seen: Mutex::default(),
            answers: Mutex::default(),
            queries_run: AtomicUsize::new(0),
            rest_rows_encoded: AtomicUsize::new(0),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = Router::new()
            .route("/bigquery/v2/projects/{project}/queries", post(query))
            .route("/bigquery/v2/projects/{project}/jobs", post(insert))
            .route(
                "/bigquery/v2/projects/{project}/queries/{job}",
                get(results),
            )
            .route("/bigquery/v2/projects/{project}/jobs/{job}", get(job_get))
            .route(
                "/bigquery/v2/projects/{project}/jobs/{job}/cancel",
                post(cancel),
            )
            .with_state(inner.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        let grpc = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let grpc_addr = grpc.local_addr().unwrap();
        crate::bq_grpc::spawn(&runtime, grpc, inner.clone());
        Self {
            addr,
            grpc_addr,
            inner,
            _runtime: runtime,
        }
    }

    /// `host:port`, as BIGQUERY_EMULATOR_HOST wants it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `host:port` of the gRPC side, as BIGQUERY_STORAGE_EMULATOR_HOST wants it.
    pub fn grpc_host(&self) -> String {
        self.grpc_addr.to_string()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Queries run on DuckDB so far (dry runs included).
    pub fn queries_run(&self) -> usize {
        self.inner.queries_run.load(Ordering::SeqCst)
    }

    /// REST rows encoded as JSON so far (a page kept and served again counts once).
    pub fn rest_rows_encoded(&self) -> usize {
        self.inner.rest_rows_encoded.load(Ordering::SeqCst)
    }
}

fn error(status: u16, reason: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"code": status, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}], "status": "INVALID_ARGUMENT"}});
    (code, Json(body)).into_response()
}

/// Typed values of a request's `queryParameters`.
fn params_of(parameters: &Value) -> Vec<(String, ParamValue)> {
    let Some(list) = parameters.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|p| {
            let name = p["name"].as_str()?.to_owned();
            let text = p["parameterValue"]["value"].as_str()?;
            let kind = match p["parameterType"]["type"].as_str()? {
                "INT64" => da::plan::model::ParamType::Integer,
                "FLOAT64" => da::plan::model::ParamType::Number,
                "BOOL" => da::plan::model::ParamType::Boolean,
                "DATE" => da::plan::model::ParamType::Date,
                "TIMESTAMP" => da::plan::model::ParamType::Timestamp,
                _ => da::plan::model::ParamType::String,
            };
            Some((name, ParamValue::parse(kind, text).ok()?))
        })
        .collect()
}

async fn query(
    State(s): State<Arc<Inner>>,
    Path(project): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let started = Instant::now();
    tokio::time::sleep(s.faults.latency).await;
    let response = answer_query(&s, &project, &body).await;
    s.seen.lock().unwrap().push(Seen {
        path: format!("/projects/{project}/queries"),
        body,
        started,
        ended: Instant::now(),
    });
    response
}

/// The result of `sql` with `params`: run on DuckDB, or with `preencoded_pages` the one an
/// identical query already had.
async fn answer_for(s: &Inner, sql: &str, params: &Value) -> Result<Arc<Answer>, Response> {
    let key = format!("{sql}\u{0}{params}");
    if s.faults.preencoded_pages
        && let Some(answer) = s.answers.lock().unwrap().get(&key)
    {
        return Ok(answer.clone());
    }
    s.queries_run.fetch_add(1, Ordering::SeqCst);
    let warehouse = s.warehouse.clone();
    let (sql, typed) = (sql.to_owned(), params_of(params));
    let result = tokio::task::spawn_blocking(move || warehouse.run_sql("q", &sql, &typed))
        .await
        .unwrap()
        .map_err(|e| error(400, "invalidQuery", &e.message))?;
    let rows = usize::try_from(result.rows).unwrap();
    let answer = Arc::new(Answer {
        schema: schema_json(&result.schema),
        bytes: result.rows * 8 * result.schema.fields().len() as u64,
        batches: result.batches,
        rows,
        read: OnceLock::new(),
        pages: Mutex::default(),
        streams: Mutex::default(),
    });
    if s.faults.preencoded_pages {
        s.answers.lock().unwrap().insert(key, answer.clone());
    }
    Ok(answer)
}

/// Store a finished job under a new id (or `id`); returns the id.
fn store_job(s: &Inner, id: Option<&str>, job: Job) -> String {
    let mut jobs = s.jobs.lock().unwrap();
    let id = id.map_or_else(|| format!("job_{}", jobs.len()), str::to_owned);
    jobs.insert(id.clone(), job);
    id
}

async fn answer_query(s: &Arc<Inner>, project: &str, body: &Value) -> Response {
    if let Some(status) = s.faults.fail_status {
        return error(status, "backendError", "injected failure");
    }
    if s.faults.malformed_json {
        return (
            StatusCode::OK,
            "{\"kind\": \"bigquery#queryResponse\", \"jobComplete\": tr",
        )
            .into_response();
    }
    if s.calls.fetch_add(1, Ordering::SeqCst) < s.faults.fail_first {
        return error(503, "backendError", "injected transient failure");
    }
    let sql = body["query"].as_str().unwrap_or_default();
    let answer = match answer_for(s, sql, &body["queryParameters"]).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let bytes = answer.bytes;
    if body["dryRun"] == true {
        return Json(json!({"kind": "bigquery#queryResponse", "jobComplete": true, "schema": answer.schema, "totalBytesProcessed": bytes.to_string()})).into_response();
    }
    // BigQuery refuses a job that would bill more than its cap, before running it.
    let cap = body["maximumBytesBilled"]
        .as_str()
        .and_then(|c| c.parse::<u64>().ok());
    if let Some(cap) = cap.filter(|cap| bytes > *cap) {
        return error(
            400,
            "bytesBilledLimitExceeded",
            &format!("Query exceeded limit for bytes billed: {cap}. {bytes} or higher required."),
        );
    }
    // Clients that ask for it (the Python client does) get TIMESTAMP as integer µs.
    let int64_ts = body["formatOptions"]["useInt64Timestamp"] == true;
    let is_count = sql.starts_with("SELECT COUNT(*)");
    let rows_override = if is_count && s.faults.count_without_rows {
        Some(Arc::new(Vec::new()))
    } else if is_count && s.faults.count_shortfall > 0 {
        let truth = rows_between(&answer.batches, 0, 1, false);
        let truth: u64 = truth[0]["f"][0]["v"].as_str().unwrap().parse().unwrap();
        let told = truth.saturating_sub(s.faults.count_shortfall);
        Some(Arc::new(vec![json!({"f": [{"v": told.to_string()}]})]))
    } else {
        None
    };
    let job = Job {
        answer,
        rows_override,
        int64_ts,
        polled: false,
    };
    let job_id = store_job(s, None, job);
    let reference = json!({"projectId": project, "jobId": job_id});
    if s.faults.incomplete_first {
        return Json(json!({"kind": "bigquery#queryResponse", "jobReference": reference, "jobComplete": false})).into_response();
    }
    let max = body["maxResults"]
        .as_u64()
        .map_or(usize::MAX, |m| m as usize);
    json_body(page(s, &job_id, &reference, 0, max))
}

/// A JSON body already encoded.
fn json_body(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One page of a job's rows, encoded: the envelope, then the `rows` array (kept and
/// reused with `preencoded_pages`).
fn page(s: &Inner, job_id: &str, reference: &Value, start: usize, max: usize) -> String {
    let (answer, rows_override, int64_ts, total) = {
        let jobs = s.jobs.lock().unwrap();
        let job = &jobs[job_id];
        let rows = job.rows_override.clone();
        (job.answer.clone(), rows, job.int64_ts, job.total_rows())
    };
    let size = if s.faults.page_rows > 0 {
        max.min(s.faults.page_rows)
    } else {
        max
    };
    let end = start.saturating_add(size).min(total);
    let mut out = json!({"kind": "bigquery#getQueryResultsResponse", "jobReference": reference, "jobComplete": true, "schema": answer.schema, "totalRows": total.to_string(), "totalBytesProcessed": "0"});
    // `maxResults=0` asks for the job's state and size only: no rows, no page token.
    if end < total && size > 0 {
        out["pageToken"] = Value::String(end.to_string());
    }
    let mut body = out.to_string();
    if end > start {
        let rows = match &rows_override {
            Some(rows) => serde_json::to_string(&rows[start..end]).unwrap().into(),
            None => encoded_rows(s, &answer, int64_ts, start, end),
        };
        body.pop();
        body.push_str(",\"rows\":");
        body.push_str(&rows);
        body.push('}');
    }
    body
}

/// Rows `start..end` of `answer` as a JSON array, encoded once with `preencoded_pages`.
fn encoded_rows(s: &Inner, answer: &Answer, int64_ts: bool, start: usize, end: usize) -> Arc<str> {
    let key = (int64_ts, start, end);
    if let Some(rows) = answer.pages.lock().unwrap().get(&key) {
        return rows.clone();
    }
    s.rest_rows_encoded.fetch_add(end - start, Ordering::SeqCst);
    let rows = rows_between(&answer.batches, start, end, int64_ts);
    let rows: Arc<str> = serde_json::to_string(&rows).unwrap().into();
    if s.faults.preencoded_pages {
        answer.pages.lock().unwrap().insert(key, rows.clone());
    }
    rows
}

/// Rows `start..end` of `batches` as REST rows.
fn rows_between(batches: &[RecordBatch], start: usize, end: usize, int64_ts: bool) -> Vec<Value> {
    let mut rows = Vec::with_capacity(end - start);
    let mut offset = 0;
    for batch in batches {
        let (from, to) = (start.max(offset), end.min(offset + batch.num_rows()));
        if from < to {
            rows.extend(rows_json(&batch.slice(from - offset, to - from), int64_ts));
        }
        offset += batch.num_rows();
    }
    rows
}

async fn results(
    State(s): State<Arc<Inner>>,
    Path((project, job)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let started = Instant::now();
    tokio::time::sleep(s.faults.poll_latency).await;
    let reference = json!({"projectId": project, "jobId": job});
    let first_poll = {
        let mut jobs = s.jobs.lock().unwrap();
        let Some(entry) = jobs.get_mut(&job) else {
            return error(404, "notFound", "no such job");
        };
        !std::mem::replace(&mut entry.polled, true)
    };
    if s.faults.fail_paging && q.contains_key("pageToken") {
        return error(500, "backendError", "injected failure while paging");
    }
    let response = if s.faults.incomplete_first && first_poll && !q.contains_key("pageToken") {
        json!({"kind": "bigquery#getQueryResultsResponse", "jobReference": reference, "jobComplete": false}).to_string()
    } else {
        let start = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
        let max = q
            .get("maxResults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(usize::MAX);
        page(&s, &job, &reference, start, max)
    };
    s.seen.lock().unwrap().push(Seen {
        path: format!("/projects/{project}/queries/{job}"),
        body: json!(q),
        started,
        ended: Instant::now(),
    });
    json_body(response)
}

/// jobs.insert: the query runs at once and is stored like a jobs.query job.
async fn insert(
    State(s): State<Arc<Inner>>,
    Path(project): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let now = Instant::now();
    s.seen.lock().unwrap().push(Seen {
        path: format!("/projects/{project}/jobs"),
        body: body.clone(),
        started: now,
        ended: now,
    });
    let query = &body["configuration"]["query"];
    let sql = query["query"].as_str().unwrap_or_default();
    if body["configuration"]["dryRun"] == true {
        return dry_run_job(&s, &project, sql, &query["queryParameters"]).await;
    }
    let answer = match answer_for(&s, sql, &query["queryParameters"]).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let job = Job {
        answer,
        rows_override: None,
        int64_ts: false,
        polled: true,
    };
    let job_id = store_job(&s, body["jobReference"]["jobId"].as_str(), job);
    job_get(State(s), Path((project, job_id))).await
}

/// A jobs.insert dry run, answered as BigQuery does: no job is stored, and
/// `statistics.query` has the schema, the bytes and every table the query reads.
async fn dry_run_job(s: &Inner, project: &str, sql: &str, params: &Value) -> Response {
    let mut tables = referenced_tables(sql, project);
    if let Some(extra) = &s.faults.extra_referenced_table {
        let parts: Vec<&str> = extra.split('.').collect();
        tables.push(json!({"projectId": parts[0], "datasetId": parts[1], "tableId": parts[2]}));
    }
    let answer = match answer_for(s, sql, params).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let bytes = answer.bytes.to_string();
    Json(json!({
        "kind": "bigquery#job",
        "jobReference": {"projectId": project},
        "configuration": {"dryRun": true, "jobType": "QUERY", "query": {"query": ""}},
        "status": {"state": "DONE"},
        "statistics": {"creationTime": "0", "totalBytesProcessed": bytes,
                        "query": {"totalBytesProcessed": bytes, "schema": answer.schema,
                                  "statementType": "SELECT", "referencedTables": tables}}
    }))
    .into_response()
}

/// The tables a query names, as `{projectId, datasetId, tableId}`: a two-part name is in
/// the job's project; one-part names (CTEs) are not tables.
fn referenced_tables(sql: &str, project: &str) -> Vec<Value> {
    let dialect = sqlparser::dialect::BigQueryDialect {};
    let Ok(statements) = sqlparser::parser::Parser::parse_sql(&dialect, sql) else {
        return Vec::new();
    };
    let mut tables = Vec::new();
    let _ = sqlparser::ast::visit_relations(&statements, |name| {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(sqlparser::ast::ObjectNamePart::as_ident)
            .flat_map(|i| i.value.split('.').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        let table = match parts.as_slice() {
            [p, d, t] => json!({"projectId": p, "datasetId": d, "tableId": t}),
            [d, t] => json!({"projectId": project, "datasetId": d, "tableId": t}),
            _ => return std::ops::ControlFlow::<()>::Continue(()),
        };
        if !tables.contains(&table) {
            tables.push(table);
        }
        std::ops::ControlFlow::Continue(())
    });
    tables
}

/// jobs.get: every stored job is done (results are computed when the job is created).
async fn job_get(
    State(s): State<Arc<Inner>>,
    Path((project, job)): Path<(String, String)>,
) -> Response {
    let jobs = s.jobs.lock().unwrap();
    let Some(entry) = jobs.get(&job) else {
        return error(404, "notFound", "no such job");
    };
    let rows = entry.total_rows().to_string();
    let bytes = entry.answer.bytes.to_string();
    // Slot time: a stable stand-in, one slot-millisecond per row plus one.
    let slot_ms = (entry.total_rows() + 1).to_string();
    Json(json!({
        "kind": "bigquery#job",
        "id": format!("{project}:{job}"),
        "jobReference": {"projectId": project, "jobId": job},
        "configuration": {"jobType": "QUERY", "query": {"query": "",
            "destinationTable": {"projectId": project, "datasetId": "_da_results", "tableId": job}}},
        "status": {"state": "DONE"},
        "statistics": {"creationTime": "0", "startTime": "0", "endTime": "0", "totalBytesProcessed": bytes, "totalSlotMs": slot_ms,
                        "query": {"totalBytesProcessed": bytes, "totalBytesBilled": bytes, "totalSlotMs": slot_ms, "cacheHit": false, "statementType": "SELECT", "totalRows": rows}}
    }))
    .into_response()
}

async fn cancel(
    State(s): State<Arc<Inner>>,
    Path((project, job)): Path<(String, String)>,
) -> Response {
    let now = Instant::now();
    s.seen.lock().unwrap().push(Seen {
        path: format!("/projects/{project}/jobs/{job}/cancel"),
        body: Value::Null,
        started: now,
        ended: now,
    });
    Json(json!({"kind": "bigquery#jobCancelResponse", "job": {"jobReference": {"projectId": project, "jobId": job}, "status": {"state": "DONE"}}})).into_response()
}

fn bq_type(t: &DataType) -> &'static str {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "INTEGER",
        DataType::Float32 | DataType::Float64 => "FLOAT",
        DataType::Boolean => "BOOLEAN",
        // DuckDB sums integers into DECIMAL(38,0); BigQuery would say INT64.
        DataType::Decimal128(_, 0) => "INTEGER",
        DataType::Decimal128(_, _) => "NUMERIC",
        DataType::Date32 => "DATE",
        DataType::Time64(_) => "TIME",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP",
        DataType::Timestamp(_, None) => "DATETIME",
        DataType::Binary | DataType::LargeBinary => "BYTES",
        DataType::Struct(_) => "RECORD",
        _ => "STRING",
    }
}

/// A REST schema field; an ARRAY<T> is T with mode REPEATED, a STRUCT a RECORD.
fn field_json(name: &str, t: &DataType) -> Value {
    match t {
        DataType::List(inner) => {
            let mut f = field_json(name, inner.data_type());
            f["mode"] = json!("REPEATED");
            f
        }
        DataType::Struct(children) => {
            let fields: Vec<Value> = children
                .iter()
                .map(|c| field_json(c.name(), c.data_type()))
                .collect();
            json!({"name": name, "type": "RECORD", "mode": "NULLABLE", "fields": fields})
        }
        other => json!({"name": name, "type": bq_type(other), "mode": "NULLABLE"}),
    }
}

fn schema_json(schema: &SchemaRef) -> Value {
    let fields: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| field_json(f.name(), f.data_type()))
        .collect();
    json!({"fields": fields})
}

/// Cells encoded as BigQuery does: every scalar a string (bigquery.md §2.4).
fn rows_json(batch: &RecordBatch, int64_ts: bool) -> Vec<Value> {
    (0..batch.num_rows())
        .map(|row| {
            let cells: Vec<Value> = batch
                .columns()
                .iter()
                .map(|col| json!({"v": cell(col.as_ref(), row, int64_ts)}))
                .collect();
            json!({"f": cells})
        })
        .collect()
}

fn cell(col: &dyn Array, row: usize, int64_ts: bool) -> Value {
    if col.is_null(row) {
        return Value::Null;
    }
    let text = match col.data_type() {
        DataType::List(_) => {
            // BigQuery has no NULL arrays: a NULL list was answered above as null, and
            // items are cells of their own.
            let items = col.as_list::<i32>().value(row);
            return Value::Array(
                (0..items.len())
                    .map(|i| json!({"v": cell(items.as_ref(), i, int64_ts)}))
                    .collect(),
            );
        }
        DataType::Struct(_) => {
            let st = col.as_struct();
            let cells: Vec<Value> = st
                .columns()
                .iter()
                .map(|c| json!({"v": cell(c.as_ref(), row, int64_ts)}))
                .collect();
            return json!({"f": cells});
        }
        DataType::Binary => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(col.as_binary::<i32>().value(row))
        }
        DataType::Float64 => {
            let f = col
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row);
            match f {
                f if f.is_nan() => "NaN".to_owned(),
                f if f == f64::INFINITY => "Infinity".to_owned(),
                f if f == f64::NEG_INFINITY => "-Infinity".to_owned(),
                f => format!("{f:?}"),
            }
        }
        DataType::Timestamp(_, Some(_)) => {
            let micros = col
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(row);
            if int64_ts {
                return Value::String(micros.to_string());
            }
            format!(
                "{}.{:06}",
                micros.div_euclid(1_000_000),
                micros.rem_euclid(1_000_000)
            )
        }
        DataType::Timestamp(_, None) => arrow::util::display::array_value_to_string(col, row)
            .unwrap()
            .replace(' ', "T"),
        _ => arrow::util::display::array_value_to_string(col, row).unwrap(),
    };
    Value::String(text)
}
