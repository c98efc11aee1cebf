//! HTTP errors: `{"error_type", "message", "details"}` with a status that fits the cause.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::{BqErrorKind, Error, ErrorType};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
    pub details: Value,
    /// Warnings gathered before the failure (extracts, re-attach).
    pub warnings: Vec<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
            details: Value::Object(Map::new()),
            warnings: Vec::new(),
            retry_after: None,
        }
    }

    pub fn internal(message: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// `{"error_type", "message", "details"}`, and `warnings` when there are any.
    pub fn body(&self) -> Value {
        let mut body = json!({"error_type": self.error_type, "message": self.message, "details": self.details});
        if !self.warnings.is_empty() {
            body["warnings"] = json!(self.warnings);
        }
        body
    }

    /// 429: every slot for queries is taken.
    pub fn busy() -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "the server is running its maximum of concurrent queries; retry shortly",
        );
        e.retry_after = Some(1);
        e
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Run(run) => {
                let status = match run.error_type {
                    ErrorType::RowLimit
                    | ErrorType::MemoryLimit
                    | ErrorType::QueryError
                    | ErrorType::CostLimit => StatusCode::BAD_REQUEST,
                    ErrorType::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    ErrorType::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
                    ErrorType::BqError(kind) => match kind {
                        BqErrorKind::BadRequest
                        | BqErrorKind::NotFound
                        | BqErrorKind::ResponseTooLarge
                        | BqErrorKind::BytesBilledLimit
                        | BqErrorKind::DatasetNotAllowed => StatusCode::BAD_REQUEST,
                        BqErrorKind::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
                        BqErrorKind::AuthFailed
                        | BqErrorKind::Forbidden
                        | BqErrorKind::Upstream => StatusCode::BAD_GATEWAY,
                    },
                };
                let mut details = run.details;
                if let Some(hint) = run.hint {
                    details.insert("hint".to_owned(), Value::String(hint));
                }
                Self {
                    status,
                    error_type: run.error_type.code(),
                    message: run.message,
                    details: Value::Object(details),
                    warnings: run.warnings,
                    retry_after: None,
                }
            }
            Error::InvalidPlan(report) | Error::InvalidConfig(report) => {
                let mut err = Self::new(
                    StatusCode::BAD_REQUEST,
                    "plan_invalid",
                    "the plan is invalid",
                );
                err.details = json!({ "diagnostics": report.diagnostics });
                err
            }
            Error::Usage(m) => Self::new(StatusCode::BAD_REQUEST, "bad_request", m),
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                other.error_type(),
                other.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RunError;

    fn status_of(error: RunError) -> StatusCode {
        ApiError::from(Error::Run(error)).status
    }

    #[test]
    fn run_errors_map_to_status_codes() {
        let plain = |t| status_of(RunError::new(t, "x"));
        let bq = |k| status_of(RunError::bq(k, "x"));
        assert_eq!(plain(ErrorType::RowLimit), StatusCode::BAD_REQUEST);
        assert_eq!(plain(ErrorType::MemoryLimit), StatusCode::BAD_REQUEST);
        assert_eq!(plain(ErrorType::QueryError), StatusCode::BAD_REQUEST);
        assert_eq!(plain(ErrorType::Timeout), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(bq(BqErrorKind::Upstream), StatusCode::BAD_GATEWAY);
        assert_eq!(bq(BqErrorKind::AuthFailed), StatusCode::BAD_GATEWAY);
        assert_eq!(bq(BqErrorKind::BadRequest), StatusCode::BAD_REQUEST);
        assert_eq!(
            bq(BqErrorKind::NotConfigured),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
