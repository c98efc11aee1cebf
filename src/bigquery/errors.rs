//! BigQuery failures as typed `bq_error`s with a hint, and the retry policy: only what
//! BigQuery itself calls transient (429, 5xx, a refused connection) is tried again.

use std::time::Duration;

use gcp_bigquery_client::error::BQError;

use crate::deadline::Deadline;
use crate::error::{BqErrorKind, ErrorType, RunError};

pub(super) fn bq_error(kind: BqErrorKind, message: impl Into<String>, hint: &str) -> RunError {
    RunError::bq(kind, message).hint(hint)
}

/// Retry on 429, 5xx and connection failures only, with exponential backoff; anything
/// else (a bad query, missing access) fails at once.
pub(super) async fn with_retries<T, F, Fut>(mut call: F, deadline: &Deadline) -> Result<T, BQError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BQError>>,
{
    let mut delay = Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        match call().await {
            // Waiting counts against the run's budget: no wait that would outlast it.
            Err(e) if attempt < RETRIES && retryable(&e) && delay < deadline.remaining() => {
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

/// Whether BigQuery named `reason` among the error's reasons.
fn has_reason(error: &gcp_bigquery_client::error::ResponseError, reason: &str) -> bool {
    error
        .error
        .errors
        .iter()
        .any(|e| e.get("reason").is_some_and(|r| r == reason))
}

/// A client error as a `bq_error` with a kind and a hint (a timeout is a `timeout`).
pub(super) fn translate(alias: &str, e: &BQError) -> RunError {
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
                BqErrorKind::AuthFailed,
                "refresh the credentials (gcloud auth application-default login)",
            ),
            (403, _) => (
                BqErrorKind::Forbidden,
                "the account needs bigquery.jobs.create on the billing project and read access to the tables",
            ),
            (404, _) => (
                BqErrorKind::NotFound,
                "check the project, dataset and table names",
            ),
            (400, _) if has_reason(error, "bytesBilledLimitExceeded") => (
                BqErrorKind::BytesBilledLimit,
                "the job would bill more than its max_bytes_billed cap: make the alias scan less (filter on partition or cluster columns, select fewer columns), or raise max_bytes_billed on the alias, in the plan's limits or in bigquery.max_bytes_billed",
            ),
            (400, _)
                if error
                    .error
                    .message
                    .to_lowercase()
                    .contains("response too large") =>
            {
                (
                    BqErrorKind::ResponseTooLarge,
                    "narrow the WHERE clause, aggregate, or select fewer columns",
                )
            }
            (400, _) => (
                BqErrorKind::BadRequest,
                "fix the alias's SQL; BigQuery's message says where",
            ),
            _ => (BqErrorKind::Upstream, "BigQuery failed; retry later"),
        },
        BQError::RequestError(_) => (
            BqErrorKind::Upstream,
            "check the network or bigquery.endpoint; BigQuery could not be reached",
        ),
        BQError::AuthError(_) | BQError::YupAuthError(_) | BQError::NoToken => {
            (BqErrorKind::AuthFailed, "check the credentials")
        }
        _ => (BqErrorKind::Upstream, "BigQuery failed; retry later"),
    };
    let message = match e {
        BQError::ResponseError { error } => error.error.message.clone(),
        other => other.to_string(),
    };
    bq_error(kind, format!("alias `{alias}`: BigQuery: {message}"), hint).detail("alias", alias)
}
