//! Request input: JSON bodies read field by field (so every problem names its
//! field and all of them are reported at once), and list query parameters.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::model::Pagination;
use crate::store::{Page, Sort, SortColumn};

/// The largest request body the API reads (axum's default limit, named here so
/// the error can say it). The largest real body, a zone's NS list or a
/// nameserver set, is a few kilobytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A request's body, read whole. Unlike axum's own `Bytes` extractor, a body
/// that cannot be read (too large, or the connection broke) is a JSON error
/// like every other answer of the API: 413 naming the limit, 400 otherwise.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(RawBody(bytes)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let mut err = ApiError::invalid("body", format!("is larger than the limit of {MAX_BODY_BYTES} bytes"));
                err.status = StatusCode::PAYLOAD_TOO_LARGE;
                Err(err)
            }
            Err(e) => Err(ApiError::invalid("body", format!("could not be read: {}", e.body_text()))),
        }
    }
}

/// A JSON object body being validated. Take the known fields, then call
/// [`Body::finish`]: unknown fields and every recorded problem become one 400.
pub struct Body {
    fields: Map<String, Value>,
    errors: BTreeMap<String, Vec<String>>,
}

impl Body {
    pub fn parse(bytes: &Bytes) -> Result<Body, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body { fields: Map::new(), errors: BTreeMap::new() });
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(fields)) => Ok(Body { fields, errors: BTreeMap::new() }),
            Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
            Err(e) => Err(ApiError::invalid("body", format!("is not valid JSON: {e}"))),
        }
    }

    /// The body plus the query string's parameters, for the endpoints whose
    /// parameters DNSimple's official clients send in the query string
    /// (`PUT …/link?zone=example.com` with no body). A parameter may come from
    /// either place or from both; when both give it, they must agree, or the
    /// request is a 400 naming the field (which one was meant is unknowable).
    pub fn parse_with_query(bytes: &Bytes, query: &HashMap<String, String>) -> Result<Body, ApiError> {
        let mut b = Body::parse(bytes)?;
        let mut given: Vec<(&String, &String)> = query.iter().collect();
        given.sort();
        for (name, value) in given {
            let from_query = Value::String(value.clone());
            match b.fields.get(name) {
                None => {
                    b.fields.insert(name.clone(), from_query);
                }
                Some(from_body) if *from_body == from_query => {}
                Some(from_body) => {
                    let problem = format!(
                        "is given twice with different values: {from_query} in the query string, {from_body} in the body"
                    );
                    b.error(name, problem);
                }
            }
        }
        Ok(b)
    }

    pub fn error(&mut self, field: &str, problem: impl Into<String>) {
        self.errors.entry(field.to_string()).or_default().push(problem.into());
    }

    /// Whether a problem has been recorded for `field` already.
    pub fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    /// A string field; `None` (with an error recorded when `required`) if absent, null or blank.
    pub fn string(&mut self, field: &str, required: bool) -> Option<String> {
        match self.fields.remove(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            Some(Value::String(_)) | Some(Value::Null) | None => {
                if required {
                    self.error(field, "can't be blank");
                }
                None
            }
            Some(other) => {
                self.error(field, format!("must be a string, got {}", kind(&other)));
                None
            }
        }
    }

    /// An integer field; `Ok(None)` if absent or null.
    pub fn integer(&mut self, field: &str) -> Option<i64> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => {
                self.error(field, format!("must be an integer, got {}", kind(&other)));
                None
            }
        }
    }

    /// An integer field that may also be given as a string of digits
    /// (`"port": "5301"`): DNSimple's official Node client declares the
    /// primary server's `port` a string, so its TypeScript users send one.
    pub fn integer_or_digits(&mut self, field: &str) -> Option<i64> {
        let Some(Value::String(s)) = self.fields.get(field) else {
            return self.integer(field);
        };
        let parsed = s.trim().parse::<i64>().map_err(|_| format!("must be an integer, got the string `{s}`"));
        self.fields.remove(field);
        match parsed {
            Ok(n) => Some(n),
            Err(problem) => {
                self.error(field, problem);
                None
            }
        }
    }

    /// A boolean field; `None` if absent or null.
    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(other) => {
                self.error(field, format!("must be true or false, got {}", kind(&other)));
                None
            }
        }
    }

    /// A string field of an update, where null clears: `None` if absent,
    /// `Some(None)` if null or blank, `Some(Some(s))` for a string.
    pub fn nullable_string(&mut self, field: &str) -> Option<Option<String>> {
        match self.fields.remove(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            Some(Value::String(s)) => Some(Some(s)),
            Some(other) => {
                self.error(field, format!("must be a string or null, got {}", kind(&other)));
                None
            }
        }
    }

    /// An array field; `None` if absent or null.
    pub fn array(&mut self, field: &str) -> Option<Vec<Value>> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                self.error(field, format!("must be an array, got {}", kind(&other)));
                None
            }
        }
    }

    /// An array of strings; an entry of another kind is an error naming it.
    pub fn string_list(&mut self, field: &str) -> Option<Vec<String>> {
        let items = self.array(field)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.into_iter().enumerate() {
            match v {
                Value::String(s) => out.push(s),
                other => self.error(field, format!("entry {} must be a string, got {}", i + 1, kind(&other))),
            }
        }
        Some(out)
    }

    /// An array of integers; an entry of another kind is an error naming it.
    pub fn integer_list(&mut self, field: &str) -> Option<Vec<i64>> {
        let items = self.array(field)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.into_iter().enumerate() {
            match v.as_i64() {
                Some(n) => out.push(n),
                None => self.error(field, format!("entry {} must be an integer, got {}", i + 1, kind(&v))),
            }
        }
        Some(out)
    }

    pub fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.fields.keys().cloned().collect();
        for field in unknown {
            self.error(&field, "is not a known field");
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// DNSimple's default and maximum page sizes.
pub const DEFAULT_PER_PAGE: u32 = 30;
pub const MAX_PER_PAGE: u32 = 100;

/// `page`, `per_page` and `sort` of a list request.
pub fn list_params(query: &HashMap<String, String>) -> Result<(Sort, Page), ApiError> {
    let number = |key: &str, default: u32, max: u32| -> Result<u32, ApiError> {
        match query.get(key) {
            None => Ok(default),
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(key, format!("must be an integer from 1 to {max}, got `{s}`"))),
            },
        }
    };
    let page =
        Page { page: number("page", 1, u32::MAX)?, per_page: number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)? };
    let sort = match query.get("sort").map(String::as_str) {
        None | Some("") => Sort::DEFAULT,
        Some(s) => parse_sort(s).ok_or_else(|| {
            ApiError::invalid("sort", format!("`{s}` is not one of id:asc, id:desc, name:asc, name:desc"))
        })?,
    };
    Ok((sort, page))
}

fn parse_sort(s: &str) -> Option<Sort> {
    let (col, dir) = s.split_once(':').unwrap_or((s, "asc"));
    let column = match col {
        "id" => SortColumn::Id,
        "name" => SortColumn::Name,
        _ => return None,
    };
    let descending = match dir {
        "asc" => false,
        "desc" => true,
        _ => return None,
    };
    Some(Sort { column, descending })
}

/// The `pagination` object of a list response.
pub fn pagination(page: Page, total: u64) -> Pagination {
    let per_page = u64::from(page.per_page);
    Pagination {
        current_page: page.page,
        per_page: page.per_page,
        total_entries: total,
        total_pages: total.div_ceil(per_page),
    }
}
