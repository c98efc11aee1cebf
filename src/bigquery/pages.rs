//! Query results over REST: a job's first complete page, the pages after it, and the fetch,
//! in which pages download on the runtime while the previous one is converted to Arrow on a
//! blocking thread (a one-page channel between them), so the download of page N+1 overlaps
//! the conversion of page N and at most three pages of JSON are held at once.

use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use tokio::sync::mpsc;

use super::arrow::{self, BqField, RowsToArrow};
use super::errors::bq_error;
use super::rest::Page;
use super::{BigQuerySource, job_id_of, within_fetch_limits};
use crate::error::{BqErrorKind, RunError};
use crate::source::{Fetched, batches_bytes};
use crate::validate::CheckedAlias;

impl BigQuerySource {
    /// Start `sql` as a job and wait for its first complete page (`max_results` rows at
    /// most; 0 asks for the job's state, size and schema only). Returns the page and the job.
    pub(super) async fn first_page(
        &self,
        alias: &CheckedAlias,
        sql: String,
        max_results: i32,
    ) -> Result<(Page, String), RunError> {
        let project = self.opts.project.as_str();
        let request = self.request(alias, sql, false, max_results);
        let first = self
            .guarded(alias, None, || self.rest.query(project, &request))
            .await?;
        let job_id = job_id_of(first.job_id.clone())?;
        if first.complete {
            return Ok((first, job_id));
        }
        let page = self
            .complete_page(alias, &job_id, None, max_results)
            .await?;
        Ok((page, job_id))
    }

    /// getQueryResults on `job_id` until the job is complete: the page at `token` (the
    /// first page without one).
    pub(super) async fn complete_page(
        &self,
        alias: &CheckedAlias,
        job_id: &str,
        token: Option<String>,
        max_results: i32,
    ) -> Result<Page, RunError> {
        let project = self.opts.project.as_str();
        loop {
            let params = GetQueryResultsParameters {
                format_options: None,
                location: self.opts.location.clone(),
                max_results: Some(max_results),
                page_token: token.clone(),
                start_index: None,
                timeout_ms: Some(self.poll_ms()),
            };
            let page = self
                .guarded(alias, Some(job_id), || {
                    self.rest.results(project, job_id, &params)
                })
                .await?;
            if page.complete {
                return Ok(page);
            }
        }
    }

    /// The alias's rows as REST pages: of a new job, or of `job_id`'s finished one.
    pub(super) async fn fetch_rest(
        &self,
        alias: &CheckedAlias,
        job_id: Option<&str>,
    ) -> Result<Fetched, RunError> {
        // `precheck: job` left its finished job; the Read API's fallback names its own.
        let finished = job_id.map(str::to_owned).or_else(|| {
            self.finished
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(alias.name())
        });
        let (tx, rx) = mpsc::channel(1);
        let converter = tokio::task::spawn_blocking({
            let alias = alias.clone();
            move || convert_pages(&alias, rx)
        });
        let sent = self.send_pages(alias, finished, tx).await;
        // A converter that stopped (a limit) is why the pages stopped; otherwise the
        // download's own failure is the story.
        let converted = match converter.await {
            Ok(converted) => converted?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                return Err(bq_error(
                    BqErrorKind::Upstream,
                    format!("alias `{}`: the page converter stopped: {e}", alias.name()),
                    "retry",
                ));
            }
        };
        let new_job = sent?;
        let mut jobs = Vec::new();
        if let Some(job) = new_job {
            jobs.push(self.job_stats(&job, "fetch").await);
        }
        Ok(Fetched {
            schema: converted.schema,
            rows: converted.rows,
            bytes: batches_bytes(&converted.batches),
            batches: converted.batches,
            jobs,
            cached: false,
            warnings: Vec::new(),
        })
    }

    /// Download every page of the alias (a new job, or `finished`'s pages) into `tx`. When
    /// the converter hangs up (a limit), the job is cancelled. Returns the job it started.
    async fn send_pages(
        &self,
        alias: &CheckedAlias,
        finished: Option<String>,
        tx: mpsc::Sender<Page>,
    ) -> Result<Option<String>, RunError> {
        let page_size = self.opts.page_size;
        let (mut page, job_id, started) = match finished {
            // A finished job's pages: no second scan.
            Some(job_id) => {
                let page = self.complete_page(alias, &job_id, None, page_size).await?;
                (page, job_id, false)
            }
            None => {
                let (page, job_id) = self
                    .first_page(alias, alias.sql().to_owned(), page_size)
                    .await?;
                (page, job_id, true)
            }
        };
        loop {
            let token = page.page_token.clone();
            if tx.send(page).await.is_err() {
                // The converter refused a page: the job would run on for nothing.
                self.cancel_job(&job_id).await;
                break;
            }
            let Some(token) = token else { break };
            page = self
                .complete_page(alias, &job_id, Some(token), page_size)
                .await?;
        }
        Ok(started.then_some(job_id))
    }
}

/// What the converter made of the pages.
struct Converted {
    schema: ::arrow::datatypes::SchemaRef,
    batches: Vec<::arrow::record_batch::RecordBatch>,
    rows: u64,
}

/// Each page becomes an Arrow batch as it arrives, and the limits hold page by page, even
/// when the result grew since the precheck. Runs on a blocking thread.
fn convert_pages(
    alias: &CheckedAlias,
    mut rx: mpsc::Receiver<Page>,
) -> Result<Converted, RunError> {
    let convert = |e: arrow::ConvertError| {
        bq_error(
            BqErrorKind::Upstream,
            format!("alias `{}`: {e}", alias.name()),
            "report this with the column's type",
        )
    };
    let mut converter: Option<RowsToArrow> = None;
    let mut fields: Option<Vec<BqField>> = None;
    let mut batches = Vec::new();
    let (mut rows, mut bytes) = (0u64, 0u64);
    while let Some(page) = rx.blocking_recv() {
        if fields.is_none() {
            fields = page.schema.clone();
        }
        let conv = match converter.as_mut() {
            Some(c) => c,
            None => {
                let schema = fields.as_deref().unwrap_or_default();
                converter.insert(RowsToArrow::new(schema).map_err(convert)?)
            }
        };
        conv.push_rows_json(page.rows_json()).map_err(convert)?;
        let batch = conv.flush().map_err(convert)?;
        rows += batch.num_rows() as u64;
        bytes += batch.get_array_memory_size() as u64;
        batches.push(batch);
        within_fetch_limits(alias, rows, bytes)?;
    }
    let schema = match &converter {
        Some(c) => c.schema(),
        None => arrow::arrow_schema(&fields.unwrap_or_default()).map_err(convert)?,
    };
    Ok(Converted {
        schema,
        batches,
        rows,
    })
}
