//! HTTP errors: `{"error_type", "message", "details"}` with a status that fits the cause.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorType};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: String,
    pub message: String,
    pub details: Value,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type: error_type.to_owned(),
            message: message.into(),
            details: Value::Object(Map::new()),
            retry_after: None,
        }
    }

    pub fn internal(message: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
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
                let kind = run
                    .details
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let status = match run.error_type {
                    ErrorType::RowLimit | ErrorType::MemoryLimit | ErrorType::QueryError => {
                        StatusCode::BAD_REQUEST
                    }
                    ErrorType::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    ErrorType::BqError => match kind.as_str() {
                        "bad_request" | "not_found" | "response_too_large" => {
                            StatusCode::BAD_REQUEST
                        }
                        "not_configured" => StatusCode::INTERNAL_SERVER_ERROR,
                        _ => StatusCode::BAD_GATEWAY,
                    },
                };
                let mut details = run.details;
                if let Some(hint) = run.hint {
                    details.insert("hint".to_owned(), Value::String(hint));
                }
                Self {
                    status,
                    error_type: run.error_type.code().to_owned(),
                    message: run.message,
                    details: Value::Object(details),
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
        let body = json!({"error_type": self.error_type, "message": self.message, "details": self.details});
        let mut response = (self.status, Json(body)).into_response();
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

    fn status_of(error_type: ErrorType, kind: Option<&str>) -> StatusCode {
        let mut e = RunError::new(error_type, "x");
        if let Some(k) = kind {
            e = e.detail("kind", k);
        }
        ApiError::from(Error::Run(e)).status
    }

    #[test]
    fn run_errors_map_to_status_codes() {
        assert_eq!(
            status_of(ErrorType::RowLimit, None),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(ErrorType::MemoryLimit, None),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(ErrorType::QueryError, None),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(ErrorType::Timeout, None),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            status_of(ErrorType::BqError, Some("upstream_error")),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status_of(ErrorType::BqError, Some("auth_failed")),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status_of(ErrorType::BqError, Some("bad_request")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(ErrorType::BqError, Some("not_configured")),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
