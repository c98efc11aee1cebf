//! A BigQuery REST server for tests: DuckDB-backed (the local Parquet warehouse answers the
//! SQL), on 127.0.0.1 with an ephemeral port, speaking the wire format of bigquery.md §2:
//! jobs.query (and dry runs), jobs.getQueryResults with paging, jobs.cancel, named
//! parameters, BigQuery error bodies. It records every request for assertions and can
//! answer `jobComplete: false` first and fail with 5xx or latency on demand.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
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
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub body: Value,
    pub started: Instant,
    pub ended: Instant,
}

pub(crate) struct Job {
    pub(crate) schema: Value,
    rows: Vec<Value>,
    /// The result as DuckDB gave it, for the Read API (`bq_grpc.rs`).
    pub(crate) batches: Vec<RecordBatch>,
    /// `batches` as the Read API sends them, made on the first read session.
    pub(crate) read: Option<RecordBatch>,
    polled: bool,
    /// What the job scanned and billed (the dry run's figure).
    bytes: u64,
}

pub(crate) struct Inner {
    warehouse: LocalWarehouse,
    calls: std::sync::atomic::AtomicUsize,
    pub(crate) faults: Faults,
    pub(crate) jobs: Mutex<HashMap<String, Job>>,
    pub(crate) seen: Mutex<Vec<Seen>>,
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
            calls: std::sync::atomic::AtomicUsize::new(0),
            faults,
            jobs: Mutex::default(),
            seen: Mutex::default(),
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
}

fn error(status: u16, reason: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"code": status, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}], "status": "INVALID_ARGUMENT"}});
    (code, Json(body)).into_response()
}

fn params_of(body: &Value) -> Vec<(String, ParamValue)> {
    let Some(list) = body["queryParameters"].as_array() else {
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
    if s.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < s.faults.fail_first {
        return error(503, "backendError", "injected transient failure");
    }
    let sql = body["query"].as_str().unwrap_or_default().to_owned();
    let params = params_of(body);
    let warehouse = s.warehouse.clone();
    let result = tokio::task::spawn_blocking(move || warehouse.run_sql("q", &sql, &params))
        .await
        .unwrap();
    let result = match result {
        Ok(r) => r,
        Err(e) => return error(400, "invalidQuery", &e.message),
    };
    let schema = schema_json(&result.schema);
    // What a query "scans": 8 bytes per value of its result (stable, and known up front).
    let bytes = result.rows * 8 * result.schema.fields().len() as u64;
    if body["dryRun"] == true {
        return Json(json!({"kind": "bigquery#queryResponse", "jobComplete": true, "schema": schema, "totalBytesProcessed": bytes.to_string()})).into_response();
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
    let mut rows: Vec<Value> = result
        .batches
        .iter()
        .flat_map(|b| rows_json(b, int64_ts))
        .collect();
    let is_count = body["query"]
        .as_str()
        .is_some_and(|q| q.starts_with("SELECT COUNT(*)"));
    if is_count && s.faults.count_without_rows {
        rows.clear();
    } else if is_count && s.faults.count_shortfall > 0 {
        let truth: u64 = rows[0]["f"][0]["v"].as_str().unwrap().parse().unwrap();
        let told = truth.saturating_sub(s.faults.count_shortfall);
        rows = vec![json!({"f": [{"v": told.to_string()}]})];
    }
    let job_id = format!("job_{}", s.jobs.lock().unwrap().len());
    let reference = json!({"projectId": project, "jobId": job_id});
    s.jobs.lock().unwrap().insert(
        job_id.clone(),
        Job {
            schema: schema.clone(),
            rows,
            batches: result.batches,
            read: None,
            polled: false,
            bytes,
        },
    );
    if s.faults.incomplete_first {
        return Json(json!({"kind": "bigquery#queryResponse", "jobReference": reference, "jobComplete": false})).into_response();
    }
    let max = body["maxResults"]
        .as_u64()
        .map_or(usize::MAX, |m| m as usize);
    Json(page(s, &job_id, reference, 0, max)).into_response()
}

fn page(s: &Inner, job_id: &str, reference: Value, start: usize, max: usize) -> Value {
    let jobs = s.jobs.lock().unwrap();
    let job = &jobs[job_id];
    let size = if s.faults.page_rows > 0 {
        max.min(s.faults.page_rows)
    } else {
        max
    };
    let end = (start + size).min(job.rows.len());
    let mut out = json!({"kind": "bigquery#getQueryResultsResponse", "jobReference": reference, "jobComplete": true, "schema": job.schema, "totalRows": job.rows.len().to_string(), "totalBytesProcessed": "0"});
    if end > start {
        out["rows"] = Value::Array(job.rows[start..end].to_vec());
    }
    // `maxResults=0` asks for the job's state and size only: no rows, no page token.
    if end < job.rows.len() && size > 0 {
        out["pageToken"] = Value::String(end.to_string());
    }
    out
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
        json!({"kind": "bigquery#getQueryResultsResponse", "jobReference": reference, "jobComplete": false})
    } else {
        let start = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
        let max = q
            .get("maxResults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(usize::MAX);
        page(&s, &job, reference, start, max)
    };
    s.seen.lock().unwrap().push(Seen {
        path: format!("/projects/{project}/queries/{job}"),
        body: json!(q),
        started,
        ended: Instant::now(),
    });
    Json(response).into_response()
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
    let sql = query["query"].as_str().unwrap_or_default().to_owned();
    let params = params_of(query);
    if body["configuration"]["dryRun"] == true {
        return dry_run_job(&s, &project, sql, params).await;
    }
    let warehouse = s.warehouse.clone();
    let result = match tokio::task::spawn_blocking(move || warehouse.run_sql("q", &sql, &params))
        .await
        .unwrap()
    {
        Ok(r) => r,
        Err(e) => return error(400, "invalidQuery", &e.message),
    };
    let rows: Vec<Value> = result
        .batches
        .iter()
        .flat_map(|b| rows_json(b, false))
        .collect();
    let bytes = result.rows * 8 * result.schema.fields().len() as u64;
    let job_id = body["jobReference"]["jobId"].as_str().map_or_else(
        || format!("job_{}", s.jobs.lock().unwrap().len()),
        str::to_owned,
    );
    s.jobs.lock().unwrap().insert(
        job_id.clone(),
        Job {
            schema: schema_json(&result.schema),
            rows,
            batches: result.batches,
            read: None,
            polled: true,
            bytes,
        },
    );
    job_get(State(s), Path((project, job_id))).await
}

/// A jobs.insert dry run, answered as BigQuery does: no job is stored, and
/// `statistics.query` has the schema, the bytes and every table the query reads.
async fn dry_run_job(
    s: &Inner,
    project: &str,
    sql: String,
    params: Vec<(String, ParamValue)>,
) -> Response {
    let mut tables = referenced_tables(&sql, project);
    if let Some(extra) = &s.faults.extra_referenced_table {
        let parts: Vec<&str> = extra.split('.').collect();
        tables.push(json!({"projectId": parts[0], "datasetId": parts[1], "tableId": parts[2]}));
    }
    let warehouse = s.warehouse.clone();
    let result = tokio::task::spawn_blocking(move || warehouse.run_sql("q", &sql, &params))
        .await
        .unwrap();
    let result = match result {
        Ok(r) => r,
        Err(e) => return error(400, "invalidQuery", &e.message),
    };
    let bytes = (result.rows * 8 * result.schema.fields().len() as u64).to_string();
    Json(json!({
        "kind": "bigquery#job",
        "jobReference": {"projectId": project},
        "configuration": {"dryRun": true, "jobType": "QUERY", "query": {"query": ""}},
        "status": {"state": "DONE"},
        "statistics": {"creationTime": "0", "totalBytesProcessed": bytes,
                        "query": {"totalBytesProcessed": bytes, "schema": schema_json(&result.schema),
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
    let rows = entry.rows.len().to_string();
    let bytes = entry.bytes.to_string();
    // Slot time: a stable stand-in, one slot-millisecond per row plus one.
    let slot_ms = (entry.rows.len() + 1).to_string();
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
