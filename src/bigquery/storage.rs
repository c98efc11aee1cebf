//! The Storage Read API fast path: a finished query job's destination table read as Arrow
//! over gRPC (`CreateReadSession`, then `ReadRows` on every stream at once), instead of
//! REST pages of JSON. Batches arrive LZ4-compressed in Arrow IPC and are decoded by
//! arrow's own reader; the row and memory limits hold batch by batch, as on REST.
//!
//! A session that cannot be created (permission denied, an endpoint without gRPC, no
//! access token) is not an error: the same finished job is read through REST pages and the
//! run's report says why. A stream that fails midway is a `bq_error`: nothing partial is
//! registered.

use arrow::buffer::Buffer;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamDecoder;
use arrow::record_batch::RecordBatch;
use gcp_bigquery_client::google::cloud::bigquery::storage::v1 as pb;
use pb::arrow_serialization_options::CompressionCodec;
use pb::big_query_read_client::BigQueryReadClient;
use pb::read_rows_response::Rows;
use pb::read_session::table_read_options::OutputFormatSerializationOptions;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::arrow::BqField;
use super::errors::bq_error;
use super::{BigQuerySource, within_fetch_limits};
use crate::config::ReadApi;
use crate::error::{BqErrorKind, RunError};
use crate::source::{Fetched, batches_bytes};
use crate::validate::CheckedAlias;

const GOOGLE_ENDPOINT: &str = "https://bigquerystorage.googleapis.com";
/// Streams asked for per session; BigQuery may give fewer (small tables get one).
const MAX_STREAMS: i32 = 4;
/// BigQuery sends responses of up to 128 MiB.
const MAX_MESSAGE: usize = 128 * 1024 * 1024;

/// What one stream reader hands back: a decoded batch tagged with its stream's position,
/// or why the stream failed.
type Piece = Result<(usize, RecordBatch), String>;

impl BigQuerySource {
    /// Whether to read `alias` through the Read API: by configuration, and for `auto` by
    /// the row count its precheck found.
    pub(super) fn wants_read_api(&self, alias: &CheckedAlias) -> bool {
        match self.opts.read_api {
            ReadApi::Never => false,
            ReadApi::Always => true,
            ReadApi::Auto => self
                .counts
                .lock()
                .ok()
                .and_then(|c| c.get(alias.name()).copied())
                .is_some_and(|rows| rows >= self.opts.read_api_min_rows),
        }
    }

    /// Run the alias as a job, then read its destination table as Arrow; REST pages of
    /// the same job when no read session can be had.
    pub(super) async fn fetch_read_api(&self, alias: &CheckedAlias) -> Result<Fetched, RunError> {
        let (job_id, fields) = self.finished_job(alias).await?;
        let target = self.arrow_schema(alias, &fields)?;
        let read = async {
            match self.open_session(&job_id).await {
                Ok(session) => self.read_session(alias, session, &target).await,
                Err(why) => {
                    let mut fetched = self.fetch_rest(alias, Some(&job_id)).await?;
                    fetched.warnings.push(format!(
                        "alias `{}`: read through REST, the BigQuery Storage Read API was not available ({why})",
                        alias.name()
                    ));
                    Ok(fetched)
                }
            }
        };
        let deadline = &self.opts.deadline;
        let outcome = tokio::select! {
            result = read => Some(result),
            () = tokio::time::sleep(deadline.remaining()) => None,
            () = self.until_cancelled() => None,
        };
        // The job is finished: nothing to cancel, the streams end when dropped.
        outcome.unwrap_or_else(|| Err(self.stopped(alias, None)))
    }

    /// Run the alias's query to completion without downloading a row: its id and schema.
    async fn finished_job(&self, alias: &CheckedAlias) -> Result<(String, Vec<BqField>), RunError> {
        let (job_id, _, fields) = self.run_without_rows(alias).await?;
        Ok((job_id, fields))
    }

    /// jobs.get for the destination table, then a read session on it. Every failure is a
    /// reason to fall back to REST, said in words.
    async fn open_session(&self, job_id: &str) -> Result<Session, String> {
        let token = self
            .grpc_auth
            .access_token()
            .await
            .map_err(|e| format!("no access token: {e}"))?;
        let job = self
            .client
            .job()
            .get_job(&self.opts.project, job_id, self.opts.location.as_deref())
            .await
            .map_err(|e| format!("jobs.get failed: {e}"))?;
        let Some(table) = job
            .configuration
            .and_then(|c| c.query)
            .and_then(|q| q.destination_table)
        else {
            return Err(format!("job {job_id} names no destination table"));
        };
        let table = format!(
            "projects/{}/datasets/{}/tables/{}",
            table.project_id, table.dataset_id, table.table_id
        );
        let mut client = connect(self.opts.storage_endpoint.as_deref()).await?;
        let request = pb::CreateReadSessionRequest {
            parent: format!("projects/{}", self.opts.project),
            read_session: Some(pb::ReadSession {
                table: table.clone(),
                data_format: pb::DataFormat::Arrow.into(),
                read_options: Some(pb::read_session::TableReadOptions {
                    output_format_serialization_options: Some(
                        OutputFormatSerializationOptions::ArrowSerializationOptions(
                            pb::ArrowSerializationOptions {
                                buffer_compression: CompressionCodec::Lz4Frame.into(),
                            },
                        ),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            max_stream_count: MAX_STREAMS,
            preferred_min_stream_count: 0,
        };
        let request = authorized(request, &token, &format!("read_session.table={table}"))?;
        let session = client
            .create_read_session(request)
            .await
            .map_err(|s| format!("CreateReadSession: {:?}: {}", s.code(), s.message()))?
            .into_inner();
        Ok(Session {
            client,
            session,
            token,
        })
    }

    /// Every stream of the session read at once; batches land in stream order, so the
    /// table's order is kept. Limits are checked as batches arrive; a refusal drops the
    /// readers, which ends their streams.
    async fn read_session(
        &self,
        alias: &CheckedAlias,
        Session {
            client,
            session,
            token,
        }: Session,
        target: &SchemaRef,
    ) -> Result<Fetched, RunError> {
        let failed = |why: String| {
            bq_error(
                BqErrorKind::Upstream,
                format!("alias `{}`: Storage Read API: {why}", alias.name()),
                "retry; if it persists, set bigquery.read_api: never and report it",
            )
        };
        let schema = match session.schema {
            Some(pb::read_session::Schema::ArrowSchema(s)) => s.serialized_schema,
            _ => return Err(failed("the read session has no Arrow schema".to_owned())),
        };
        let (tx, mut rx) = mpsc::channel::<Piece>(8);
        let mut readers = JoinSet::new();
        for (index, stream) in session.streams.into_iter().enumerate() {
            let reader = StreamReader {
                client: client.clone(),
                token: token.clone(),
                stream: stream.name,
                schema: schema.clone(),
                index,
            };
            readers.spawn(reader.run(tx.clone()));
        }
        drop(tx);
        let mut parts: Vec<(usize, RecordBatch)> = Vec::new();
        let (mut rows, mut bytes) = (0u64, 0u64);
        while let Some(piece) = rx.recv().await {
            let (index, batch) = piece.map_err(&failed)?;
            let batch = conform(batch, target).map_err(&failed)?;
            rows += batch.num_rows() as u64;
            bytes += batch.get_array_memory_size() as u64;
            within_fetch_limits(alias, rows, bytes)?;
            parts.push((index, batch));
        }
        readers.abort_all();
        parts.sort_by_key(|(index, _)| *index);
        let batches: Vec<RecordBatch> = parts.into_iter().map(|(_, b)| b).collect();
        Ok(Fetched {
            schema: target.clone(),
            rows,
            bytes: batches_bytes(&batches),
            batches,
            jobs: Vec::new(),
            cached: false,
            warnings: Vec::new(),
        })
    }
}

/// A read session and what reads it.
struct Session {
    client: BigQueryReadClient<Channel>,
    session: pb::ReadSession,
    token: String,
}

/// One `ReadRows` stream, decoded where it is read (decoding runs beside the others).
struct StreamReader {
    client: BigQueryReadClient<Channel>,
    token: String,
    stream: String,
    schema: Vec<u8>,
    index: usize,
}

impl StreamReader {
    async fn run(self, tx: mpsc::Sender<Piece>) {
        if let Err(why) = self.read(&tx).await {
            let _ = tx.send(Err(why)).await;
        }
    }

    async fn read(mut self, tx: &mpsc::Sender<Piece>) -> Result<(), String> {
        let mut decoder = StreamDecoder::new();
        let mut schema = Buffer::from_vec(self.schema);
        decoder
            .decode(&mut schema)
            .map_err(|e| format!("unreadable Arrow schema: {e}"))?;
        let request = pb::ReadRowsRequest {
            read_stream: self.stream.clone(),
            offset: 0,
        };
        let routing = format!("read_stream={}", self.stream);
        let request = authorized(request, &self.token, &routing)?;
        let status = |s: tonic::Status| format!("ReadRows: {:?}: {}", s.code(), s.message());
        let mut responses = self
            .client
            .read_rows(request)
            .await
            .map_err(status)?
            .into_inner();
        while let Some(response) = responses.message().await.map_err(status)? {
            let Some(Rows::ArrowRecordBatch(batch)) = response.rows else {
                continue;
            };
            let mut buffer = Buffer::from_vec(batch.serialized_record_batch);
            while !buffer.is_empty() {
                let decoded = decoder
                    .decode(&mut buffer)
                    .map_err(|e| format!("unreadable Arrow batch: {e}"))?;
                if let Some(decoded) = decoded
                    && tx.send(Ok((self.index, decoded))).await.is_err()
                {
                    // The fetch stopped (a limit, an error elsewhere): stop reading.
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// A channel to Google's endpoint (TLS) or an emulator's (`http://host:port`).
async fn connect(endpoint: Option<&str>) -> Result<BigQueryReadClient<Channel>, String> {
    let url = endpoint.unwrap_or(GOOGLE_ENDPOINT).to_owned();
    let mut builder = Endpoint::from_shared(url.clone())
        .map_err(|e| format!("bad endpoint {url}: {e}"))?
        .connect_timeout(std::time::Duration::from_secs(10));
    if url.starts_with("https://") {
        builder = builder
            .tls_config(ClientTlsConfig::new().with_enabled_roots())
            .map_err(|e| format!("TLS: {e}"))?;
    }
    let channel = builder
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    Ok(BigQueryReadClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// A request with the bearer token and Google's routing header.
fn authorized<T>(message: T, token: &str, routing: &str) -> Result<tonic::Request<T>, String> {
    let mut request = tonic::Request::new(message);
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| "the access token is not valid in a header".to_owned())?;
    let routing = routing
        .parse()
        .map_err(|_| "the table name is not valid in a header".to_owned())?;
    request.metadata_mut().insert("authorization", bearer);
    request
        .metadata_mut()
        .insert("x-goog-request-params", routing);
    Ok(request)
}

/// A batch in the REST path's schema (the same BigQuery types, so the same DuckDB
/// values): columns already of the right type are kept as they are, others cast.
fn conform(batch: RecordBatch, target: &SchemaRef) -> Result<RecordBatch, String> {
    if batch.num_columns() != target.fields().len() {
        return Err(format!(
            "{} columns arrived, the query has {}",
            batch.num_columns(),
            target.fields().len()
        ));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                arrow::compute::cast(column, field.data_type())
                    .map_err(|e| format!("column `{}`: {e}", field.name()))
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    RecordBatch::try_new(target.clone(), columns).map_err(|e| e.to_string())
}
