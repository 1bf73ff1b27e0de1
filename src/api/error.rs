//! API errors: every error is a JSON body `{"message": …, "errors": {field: […]}}`
//! with the status code DNSimple uses for the same situation.

use std::collections::BTreeMap;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::model::ErrorBody;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: BTreeMap<String, Vec<String>>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), errors: BTreeMap::new() }
    }

    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{kind} `{id}` not found"))
    }

    /// 400 with one field error; the message names the field too, so a client
    /// that shows only `message` still tells the user what to fix.
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        let problem = problem.into();
        let mut errors = BTreeMap::new();
        errors.insert(field.to_string(), vec![problem.clone()]);
        ApiError { status: StatusCode::BAD_REQUEST, message: format!("Validation failed: {field} {problem}"), errors }
    }

    /// 400 with several field errors collected during validation.
    pub fn validation(errors: BTreeMap<String, Vec<String>>) -> Self {
        let summary: Vec<String> =
            errors.iter().flat_map(|(f, ps)| ps.iter().map(move |p| format!("{f} {p}"))).collect();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("Validation failed: {}", summary.join("; ")),
            errors,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => ApiError::not_found(kind, &id),
            StoreError::Invalid { field, message } => ApiError::invalid(field, message),
            StoreError::InUse { message } => ApiError::new(StatusCode::CONFLICT, message),
            e @ StoreError::Unlinked { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            StoreError::Unavailable => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "secondaryd is shutting down"),
            e @ (StoreError::Db(_) | StoreError::Setup(_) | StoreError::Corrupt(_)) => {
                tracing::error!(error = %e, "store error while serving an API request");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error in the store; see the daemon's log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { message: self.message, errors: self.errors };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
