//! The test server's Storage Read API: `BigQueryRead` over gRPC (tonic) on a second
//! loopback port, serving the same DuckDB-backed job results as the REST side. A job's
//! destination table is `projects/P/datasets/_da_results/tables/<job_id>`; its rows go out
//! as LZ4-compressed Arrow IPC batches in BigQuery's Arrow types (the first response of a
//! stream also carries the Arrow schema, as BigQuery's does), over up to the streams
//! asked for (BigQuery's choice, here `DEFAULT_STREAMS`, when the client leaves it to the
//! server). Faults: a session refused with PERMISSION_DENIED, a stream failing midway.
//!
//! gcp-bigquery-client generates only the client; this is a hand-written server on tonic's
//! `server::Grpc` with the same prost messages.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow::record_batch::RecordBatch;
use gcp_bigquery_client::google::cloud::bigquery::storage::v1 as pb;
use serde_json::{Value, json};
use tonic::codegen::{BoxFuture, http, tokio_stream};
use tonic::{Request, Response, Status};

use crate::bq_server::{Answer, Inner, Seen};

const SERVICE: &str = "google.cloud.bigquery.storage.v1.BigQueryRead";
/// Rows per ReadRows response.
const ROWS_PER_MESSAGE: usize = 4096;
/// Streams in a session whose request leaves the number to the server (`max_stream_count`
/// 0, as the Python client asks): BigQuery picks; here it is the most `da` asks for.
const DEFAULT_STREAMS: usize = 4;

/// One stream's ReadRows responses, encoded (and kept with `preencoded_pages`).
pub(crate) type Messages = Arc<Vec<pb::ReadRowsResponse>>;

/// Serve `BigQueryRead` on `listener` from `inner`'s jobs.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    inner: Arc<Inner>,
) {
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(ReadService(inner))
            .serve_with_incoming(incoming),
    );
}

/// A job's result as BigQuery's Read API would send it.
pub(crate) struct ReadTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl ReadTable {
    /// DuckDB's batches cast to the Arrow types BigQuery uses for the REST schema's types
    /// (INT64 → Int64, NUMERIC → Decimal128(38, 9), TIMESTAMP → Timestamp(µs, UTC), ...).
    pub(crate) fn new(rest_schema: &Value, batches: &[RecordBatch]) -> Self {
        let fields: Vec<da::bigquery::arrow::BqField> =
            serde_json::from_value(rest_schema["fields"].clone()).unwrap();
        let schema = da::bigquery::arrow::arrow_schema(&fields).unwrap();
        let batches = batches
            .iter()
            .map(|b| {
                let columns = b
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(c, f)| arrow::compute::cast(c, f.data_type()).unwrap())
                    .collect();
                RecordBatch::try_new(schema.clone(), columns).unwrap()
            })
            .collect();
        Self { schema, batches }
    }
}

/// A job's table as one batch, converted once and kept with the job's result.
fn read_table(inner: &Inner, job: &str) -> Option<(Arc<Answer>, RecordBatch)> {
    let answer = inner.jobs.lock().unwrap().get(job)?.answer.clone();
    let table = answer
        .read
        .get_or_init(|| {
            let table = ReadTable::new(&answer.schema, &answer.batches);
            arrow::compute::concat_batches(&table.schema, &table.batches).unwrap()
        })
        .clone();
    Some((answer, table))
}

#[derive(Clone)]
struct ReadService(Arc<Inner>);

impl tonic::server::NamedService for ReadService {
    const NAME: &'static str = SERVICE;
}

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for ReadService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let inner = self.0.clone();
        let path = req.uri().path().to_owned();
        Box::pin(async move {
            let response = match path.strip_prefix(&format!("/{SERVICE}/")) {
                Some("CreateReadSession") => {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.unary(CreateSession(inner), req).await
                }
                Some("ReadRows") => {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.server_streaming(ReadRows(inner), req).await
                }
                _ => Status::unimplemented(format!("no method {path}")).into_http(),
            };
            Ok(response)
        })
    }
}

fn record(inner: &Inner, path: &str, body: Value, started: Instant) {
    inner.seen.lock().unwrap().push(Seen {
        path: path.to_owned(),
        body,
        started,
        ended: Instant::now(),
    });
}

struct CreateSession(Arc<Inner>);

impl tonic::server::UnaryService<pb::CreateReadSessionRequest> for CreateSession {
    type Response = pb::ReadSession;
    type Future = BoxFuture<Response<pb::ReadSession>, Status>;

    fn call(&mut self, request: Request<pb::CreateReadSessionRequest>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { create_session(&inner, &request) })
    }
}

fn create_session(
    inner: &Inner,
    request: &Request<pb::CreateReadSessionRequest>,
) -> Result<Response<pb::ReadSession>, Status> {
    let started = Instant::now();
    let auth = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let msg = request.get_ref();
    let session = msg.read_session.clone().unwrap_or_default();
    let compression = match session
        .read_options
        .as_ref()
        .and_then(|o| o.output_format_serialization_options)
    {
        Some(pb::read_session::table_read_options::OutputFormatSerializationOptions::ArrowSerializationOptions(o)) => o.buffer_compression,
        _ => 0,
    };
    record(
        inner,
        "/grpc/CreateReadSession",
        json!({"parent": msg.parent, "table": session.table, "data_format": session.data_format,
               "buffer_compression": compression, "max_stream_count": msg.max_stream_count, "authorization": auth}),
        started,
    );
    if inner.faults.read_session_denied {
        return Err(Status::permission_denied(
            "injected: the caller lacks bigquery.readsessions.create",
        ));
    }
    let job = session
        .table
        .rsplit_once("/tables/")
        .map(|(_, t)| t.to_owned())
        .unwrap_or_default();
    let Some((_, table)) = read_table(inner, &job) else {
        return Err(Status::not_found(format!("no table {}", session.table)));
    };
    let rows = table.num_rows();
    let asked = match usize::try_from(msg.max_stream_count).unwrap_or(0) {
        0 => DEFAULT_STREAMS,
        n => n,
    };
    let streams = asked.min(rows.div_ceil(ROWS_PER_MESSAGE).max(1));
    Ok(Response::new(pb::ReadSession {
        name: format!("{}/sessions/{job}", msg.parent),
        table: session.table.clone(),
        data_format: pb::DataFormat::Arrow.into(),
        streams: (0..streams)
            .map(|i| pb::ReadStream {
                name: format!("{}/sessions/{job}/streams/{i}/{streams}", msg.parent),
            })
            .collect(),
        schema: Some(pb::read_session::Schema::ArrowSchema(arrow_schema(
            &table.schema(),
        ))),
        estimated_row_count: i64::try_from(rows).unwrap(),
        ..Default::default()
    }))
}

struct ReadRows(Arc<Inner>);

type RowsStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ReadRowsResponse, Status>> + Send>>;

impl tonic::server::ServerStreamingService<pb::ReadRowsRequest> for ReadRows {
    type Response = pb::ReadRowsResponse;
    type ResponseStream = RowsStream;
    type Future = BoxFuture<Response<RowsStream>, Status>;

    fn call(&mut self, request: Request<pb::ReadRowsRequest>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            let messages = read_rows(&inner, &request.get_ref().read_stream)?;
            // An injected failure replaces message `k` and ends the stream.
            let fail = inner.faults.read_fail_after.filter(|k| *k < messages.len());
            let sent = fail.unwrap_or(messages.len());
            let items = (0..sent)
                .map(move |k| Ok(messages[k].clone()))
                .chain(fail.map(|_| Err(Status::unavailable("injected: the stream broke midway"))));
            Ok(Response::new(
                Box::pin(tokio_stream::iter(items)) as RowsStream
            ))
        })
    }
}

/// The messages of stream `i` of `n` (`.../sessions/<job>/streams/<i>/<n>`): the i-th
/// contiguous share of the rows.
fn read_rows(inner: &Inner, stream: &str) -> Result<Messages, Status> {
    let started = Instant::now();
    record(
        inner,
        "/grpc/ReadRows",
        json!({"read_stream": stream}),
        started,
    );
    let parts: Vec<&str> = stream.rsplit('/').take(4).collect();
    let (n, i, job) = match parts.as_slice() {
        [n, i, "streams", job] => (n.parse::<usize>(), i.parse::<usize>(), *job),
        _ => return Err(Status::invalid_argument(format!("bad stream {stream}"))),
    };
    let (Ok(n), Ok(i)) = (n, i) else {
        return Err(Status::invalid_argument(format!("bad stream {stream}")));
    };
    let job = job.rsplit_once("/sessions/").map_or(job, |(_, j)| j);
    let (answer, all) =
        read_table(inner, job).ok_or_else(|| Status::not_found(format!("no session for {job}")))?;
    if let Some(messages) = answer.streams.lock().unwrap().get(&(i, n)) {
        return Ok(messages.clone());
    }
    let messages = Arc::new(encode_share(&all, i, n));
    if inner.faults.preencoded_pages {
        answer
            .streams
            .lock()
            .unwrap()
            .insert((i, n), messages.clone());
    }
    Ok(messages)
}

/// The schema message alone (no end-of-stream marker), as BigQuery sends it.
fn arrow_schema(schema: &arrow::datatypes::Schema) -> pb::ArrowSchema {
    let mut writer = StreamWriter::try_new(Vec::new(), schema).unwrap();
    pb::ArrowSchema {
        serialized_schema: std::mem::take(writer.get_mut()),
    }
}

/// Share `i` of `n` of `all` as ReadRows responses of LZ4-compressed Arrow IPC batches;
/// the first also carries the schema, as BigQuery's does (the Python client reads it there).
fn encode_share(all: &RecordBatch, i: usize, n: usize) -> Vec<pb::ReadRowsResponse> {
    let share = all.num_rows().div_ceil(n);
    let start = (i * share).min(all.num_rows());
    let end = ((i + 1) * share).min(all.num_rows());
    let options = IpcWriteOptions::default()
        .try_with_compression(Some(CompressionType::LZ4_FRAME))
        .unwrap();
    let mut writer =
        StreamWriter::try_new_with_options(Vec::new(), &all.schema(), options).unwrap();
    writer.get_mut().clear();
    let mut messages = Vec::new();
    let mut offset = start;
    while offset < end {
        let len = ROWS_PER_MESSAGE.min(end - offset);
        writer.write(&all.slice(offset, len)).unwrap();
        messages.push(pb::ReadRowsResponse {
            schema: messages
                .is_empty()
                .then(|| pb::read_rows_response::Schema::ArrowSchema(arrow_schema(&all.schema()))),
            row_count: i64::try_from(len).unwrap(),
            rows: Some(pb::read_rows_response::Rows::ArrowRecordBatch(
                pb::ArrowRecordBatch {
                    serialized_record_batch: std::mem::take(writer.get_mut()),
                    ..Default::default()
                },
            )),
            ..Default::default()
        });
        offset += len;
    }
    messages
}
