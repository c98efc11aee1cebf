//! `jobs.query` and `jobs.getQueryResults` over our own HTTP calls (the client crate's HTTP
//! client and authenticator), so that a page arrives as its response bytes: the envelope is
//! read once, and the rows stay text until `arrow::RowsToArrow::push_rows_json` reads them
//! straight into the column buffers. The crate's own calls parse every cell into a
//! `serde_json::Value` inside a `TableRow`, which cost most of the fetch's CPU.
//!
//! Failures are the crate's `BQError`s, so retries (`errors::with_retries`) and error kinds
//! (`errors::translate`) stay the same for every BigQuery call. Everything that carries no
//! rows (jobs.insert, jobs.get, jobs.cancel) stays on the crate.

use std::ops::Range;
use std::sync::Arc;

use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::error::{BQError, NestedResponseError, ResponseError};
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::query_request::QueryRequest;
use reqwest::Url;
use serde_json::value::RawValue;

use super::arrow::BqField;

/// The REST endpoints that return rows.
#[derive(Clone)]
pub(super) struct Rest {
    http: reqwest::Client,
    /// `…/bigquery/v2`, checked to be a URL with a path when the source is built.
    base: Url,
    auth: Arc<dyn Authenticator>,
}

/// One `jobs.query` or `jobs.getQueryResults` response: what the fetch needs from the
/// envelope, and the rows left as the text they arrived as.
pub(super) struct Page {
    body: bytes::Bytes,
    /// Where the `rows` array is in `body`; `None` when the page has none.
    rows: Option<Range<usize>>,
    pub(super) job_id: Option<String>,
    pub(super) complete: bool,
    pub(super) page_token: Option<String>,
    pub(super) total_rows: Option<String>,
    pub(super) total_bytes_processed: Option<String>,
    pub(super) schema: Option<Vec<BqField>>,
}

/// The envelope of both responses, rows borrowed as raw text.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(default)]
    job_reference: Option<JobReference>,
    #[serde(default)]
    job_complete: Option<bool>,
    #[serde(default)]
    page_token: Option<String>,
    #[serde(default)]
    total_rows: Option<String>,
    #[serde(default)]
    total_bytes_processed: Option<String>,
    #[serde(default)]
    schema: Option<Schema>,
    #[serde(borrow, default)]
    rows: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobReference {
    #[serde(default)]
    job_id: Option<String>,
}

#[derive(serde::Deserialize)]
struct Schema {
    #[serde(default)]
    fields: Vec<BqField>,
}

impl Rest {
    /// `base` is the v2 API root (`https://bigquery.googleapis.com/bigquery/v2` or an
    /// emulator's); `None` if it is not a URL that can have a path.
    pub(super) fn new(
        http: reqwest::Client,
        base: &str,
        auth: Arc<dyn Authenticator>,
    ) -> Option<Self> {
        let base = Url::parse(base.trim_end_matches('/')).ok()?;
        (!base.cannot_be_a_base()).then_some(Self { http, base, auth })
    }

    /// `jobs.query`: start `request` and return its first page.
    pub(super) async fn query(
        &self,
        project: &str,
        request: &QueryRequest,
    ) -> Result<Page, BQError> {
        let body = serde_json::to_vec(request)?;
        let call = self
            .http
            .post(self.url(&["projects", project, "queries"]))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.send(call).await
    }

    /// `jobs.getQueryResults`: a page of `job_id`'s rows (or its state while it runs).
    pub(super) async fn results(
        &self,
        project: &str,
        job_id: &str,
        params: &GetQueryResultsParameters,
    ) -> Result<Page, BQError> {
        let call = self
            .http
            .get(self.url(&["projects", project, "queries", job_id]))
            .query(params);
        self.send(call).await
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // `new` refused bases that cannot have a path, so this always extends it.
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    async fn send(&self, call: reqwest::RequestBuilder) -> Result<Page, BQError> {
        let token = self.auth.access_token().await?;
        let response = call.bearer_auth(token).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(response_error(status, &body));
        }
        Page::parse(body)
    }
}

impl Page {
    fn parse(body: bytes::Bytes) -> Result<Self, BQError> {
        let envelope: Envelope<'_> = serde_json::from_slice(&body)?;
        // The raw rows are a slice of `body`; keep where, so the page can own its bytes.
        let rows = envelope.rows.map(|raw| {
            let start = raw.get().as_ptr() as usize - body.as_ptr() as usize;
            start..start + raw.get().len()
        });
        Ok(Self {
            rows,
            job_id: envelope.job_reference.and_then(|r| r.job_id),
            complete: envelope.job_complete.unwrap_or(false),
            page_token: envelope.page_token.filter(|t| !t.is_empty()),
            total_rows: envelope.total_rows,
            total_bytes_processed: envelope.total_bytes_processed,
            schema: envelope.schema.map(|s| s.fields),
            body,
        })
    }

    /// The text of the page's `rows` array (`[]` when it has none).
    pub(super) fn rows_json(&self) -> &str {
        self.rows
            .as_ref()
            .and_then(|r| self.body.get(r.clone()))
            // The body parsed as JSON, so it is UTF-8, and the range is a whole value of it.
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("[]")
    }
}

/// A failed call as the crate reports it: BigQuery's JSON error, or the status and the
/// start of whatever else came back (a proxy's page, say).
fn response_error(status: reqwest::StatusCode, body: &[u8]) -> BQError {
    let error = serde_json::from_slice::<ResponseError>(body).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(body);
        let text: String = text.chars().take(200).collect();
        ResponseError {
            error: NestedResponseError {
                code: i64::from(status.as_u16()),
                errors: Vec::new(),
                message: format!("HTTP {status}: {text}"),
                status: String::new(),
            },
        }
    });
    BQError::ResponseError { error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_its_rows_as_text() {
        let body = br#"{"kind": "bigquery#queryResponse", "rows": [{"f": [{"v": "1"}]}] ,
            "jobReference": {"projectId": "p", "jobId": "j1"}, "jobComplete": true,
            "pageToken": "", "totalRows": "1", "schema": {"fields": [{"name": "a", "type": "INT64"}]}}"#;
        let page = Page::parse(bytes::Bytes::from_static(body)).expect("page");
        assert_eq!(page.rows_json(), r#"[{"f": [{"v": "1"}]}]"#);
        assert_eq!(page.job_id.as_deref(), Some("j1"));
        assert!(page.complete);
        assert_eq!(page.page_token, None, "an empty token is no next page");
        assert_eq!(page.schema.expect("schema")[0].name, "a");
        let empty = Page::parse(bytes::Bytes::from_static(b"{\"jobComplete\": false}")).unwrap();
        assert_eq!((empty.rows_json(), empty.complete), ("[]", false));
    }

    #[test]
    fn errors_keep_bigquerys_code_or_the_http_status() {
        let json = br#"{"error": {"code": 400, "message": "bad", "errors": [{"reason": "invalidQuery"}], "status": "INVALID_ARGUMENT"}}"#;
        let BQError::ResponseError { error } =
            response_error(reqwest::StatusCode::BAD_REQUEST, json)
        else {
            panic!("a response error");
        };
        assert_eq!(
            (error.error.code, error.error.message.as_str()),
            (400, "bad")
        );
        let BQError::ResponseError { error } =
            response_error(reqwest::StatusCode::BAD_GATEWAY, b"<html>proxy</html>")
        else {
            panic!("a response error");
        };
        assert_eq!(error.error.code, 502, "a 5xx stays retryable");
        assert!(
            error.error.message.contains("proxy"),
            "{}",
            error.error.message
        );
    }
}
