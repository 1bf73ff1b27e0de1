//! The control API: HTTP/1.1 + JSON in the shape of the DNSimple API v2
//! secondary-DNS endpoints (README: "Control API"), so that a DNSimple client works when
//! only its base URL changes.
//!
//! The same [`router`] is served on the Unix socket, where every account is
//! reachable ([`Access::All`]), and on the optional TCP listener, where a bearer
//! token grants exactly one account ([`Access::Account`]); another account's
//! paths answer 404 as if they did not exist. Handlers validate, write the
//! store, and (later) schedule zone events; they never transfer anything.
//! What they answer is built from the structs of [`crate::model`], the one
//! definition of the bodies that the client and `secondaryctl` read too.

mod custom_ns;
mod downstreams;
pub mod error;
pub mod input;
mod nameserver_sets;
mod primaries;
mod records;
pub mod serve;
mod status;
mod zone_ns;
mod zones;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use serde::Serialize;

use crate::config::{Config, Token};
use crate::model::{Account, Data, List, Pagination, Reloaded, Whoami};
use crate::store::Store;
use crate::zone::Engine;
use error::ApiError;

/// What the API handlers share.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    /// Runs zone events; handlers only schedule through it.
    pub engine: Arc<Engine>,
    /// NOTIFY counters of the DNS listener.
    pub dns: Arc<crate::dns::DnsStats>,
    /// Re-reads the config file (`POST /v2/reload`).
    pub reload: Arc<dyn Reload>,
}

/// A config reload, as the daemon does it (`daemon::Reloader`).
pub trait Reload: Send + Sync {
    fn reload(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reloaded, String>> + Send + '_>>;
}

impl App {
    /// The settings in force (a config reload swaps them).
    pub fn config(&self) -> Arc<Config> {
        self.engine.config()
    }
}

/// Which accounts a connection may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The Unix socket: its file mode is the access control.
    All,
    /// A TCP request with the bearer token of this account.
    Account(i64),
}

/// The account of a `/v2/{account}/…` request, checked against the caller's
/// [`Access`], plus the other path parameters.
pub struct Ctx {
    pub account: i64,
    /// Who asks: the Unix socket (every account) or an account's token.
    pub access: Access,
    params: Vec<(String, String)>,
}

impl Ctx {
    /// The TSIG keys this caller may name (`[[tsig_key]] account`).
    pub fn tsig_keys(&self, config: &Config) -> Vec<crate::config::TsigKeyConfig> {
        config.tsig_keys_for(match self.access {
            Access::All => None,
            Access::Account(a) => Some(a),
        })
    }
}

impl Ctx {
    /// A path parameter by name (always present for the routes that use it).
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid path: {e}")))?;
        let params: Vec<(String, String)> = raw.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        // A router without its access layer reaches no account (deny by
        // default): only unix_router and tcp_router set one.
        let Some(access) = parts.extensions.get::<Access>().copied() else {
            return Err(ApiError::not_found("Account", "?"));
        };
        let given = params.iter().find(|(k, _)| k == "account").map(|(_, v)| v.as_str()).unwrap_or("");
        let account = match given.parse::<i64>() {
            Ok(n) if n > 0 => n,
            _ => return Err(ApiError::not_found("Account", given)),
        };
        if let Access::Account(allowed) = access {
            if allowed != account {
                return Err(ApiError::not_found("Account", given));
            }
        }
        Ok(Ctx { account, access, params })
    }
}

/// The query string as a map; a malformed one is a 400, not a plain-text error.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|q| QueryMap(q.0))
            .map_err(|e| ApiError::invalid("query", e.body_text()))
    }
}

/// A success body: `{"data": …}`.
pub(crate) type One<T> = Json<Data<T>>;
/// A page of a list: `{"data": […], "pagination": …}`.
pub(crate) type Many<T> = Json<List<T>>;

pub(crate) fn data<T: Serialize>(value: T) -> One<T> {
    Json(Data { data: value })
}

pub(crate) fn listed<T: Serialize>(items: Vec<T>, pagination: Pagination) -> Many<T> {
    Json(List { data: items, pagination })
}

/// `GET /v2/whoami`: DNSimple clients call it to find their account id.
async fn whoami(Extension(access): Extension<Access>) -> One<Whoami> {
    let account = match access {
        Access::All => None,
        Access::Account(id) => Some(Account { id }),
    };
    data(Whoami { account, user: None })
}

/// `POST /v2/reload`: re-reads the config file (operators only: the Unix
/// socket). 200 with what changed; 422 with the reason when the file is
/// refused, the settings in force staying.
async fn reload(State(app): State<App>, Extension(access): Extension<Access>) -> Result<One<Reloaded>, ApiError> {
    if access != Access::All {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "Forbidden: only the Unix socket may reload the config"));
    }
    match app.reload.reload().await {
        Ok(report) => Ok(data(report)),
        Err(e) => {
            let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("config reload refused: {e}"));
            err.errors.insert("config".to_string(), vec![e]);
            Err(err)
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not found: no such API endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed on this endpoint")
}

/// All routes, without the access layer (see [`unix_router`] and [`tcp_router`]).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/v2/whoami", get(whoami))
        .route("/v2/status", get(status::show))
        .route("/v2/reload", post(reload))
        .route("/v2/{account}/secondary_dns/primaries", get(primaries::list).post(primaries::create))
        .route("/v2/{account}/secondary_dns/primaries/{id}", get(primaries::show).delete(primaries::remove))
        .route("/v2/{account}/secondary_dns/primaries/{id}/link", put(primaries::link))
        .route("/v2/{account}/secondary_dns/primaries/{id}/unlink", put(primaries::unlink))
        .route("/v2/{account}/secondary_dns/zones", post(zones::create))
        .route("/v2/{account}/zones", get(zones::list))
        .route("/v2/{account}/zones/{zone}", get(zones::show))
        .route("/v2/{account}/zones/{zone}/records", get(records::list))
        .route("/v2/{account}/zones/{zone}/file", get(records::file))
        .route("/v2/{account}/zones/{zone}/distribution", get(zones::distribution))
        .route("/v2/{account}/zones/{zone}/refresh", post(zones::refresh))
        .route("/v2/{account}/zones/{zone}/retransfer", post(zones::retransfer))
        .route("/v2/{account}/zones/{zone}/ns_records", get(zone_ns::show).put(zone_ns::update).delete(zone_ns::clear))
        .route("/v2/{account}/zones/{zone}/nameservers", get(zone_ns::nameservers))
        .route(
            "/v2/{account}/zones/{zone}/downstreams",
            get(downstreams::show).put(downstreams::update).delete(downstreams::clear),
        )
        .route("/v2/{account}/domains/{zone}", delete(zones::remove))
        .route("/v2/{account}/nameserver_sets", get(nameserver_sets::list).post(nameserver_sets::create))
        .route(
            "/v2/{account}/nameserver_sets/{id}",
            get(nameserver_sets::show).put(nameserver_sets::update).delete(nameserver_sets::remove),
        )
        .route("/v2/{account}/custom_ns", get(custom_ns::list).post(custom_ns::create))
        .route("/v2/{account}/custom_ns/{ns_name}", get(custom_ns::show).delete(custom_ns::remove))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(input::MAX_BODY_BYTES))
        .with_state(app)
}

/// The router of the Unix socket: every account.
pub fn unix_router(app: App) -> Router {
    router(app)
        .layer(Extension(Access::All))
        .layer(axum::middleware::from_fn(report_cost))
        .layer(axum::middleware::from_fn(serve::request_timeout))
}

/// The router of the TCP listener: a bearer token per request.
pub fn tcp_router(app: App) -> Router {
    let engine = app.engine.clone();
    router(app)
        .layer(axum::middleware::from_fn_with_state(engine, authenticate))
        .layer(axum::middleware::from_fn(report_cost))
        .layer(axum::middleware::from_fn(serve::request_timeout))
}

/// Adds what the request cost the store to its response: `X-Store-Steps`
/// (SQLite virtual-machine steps, to the nearest 16) and `Server-Timing: store;dur=`
/// (milliseconds on the store threads). The figures are the request's own, so
/// they say nothing of other accounts; they show whether a request's cost
/// grows with the number of zones (tests check it).
async fn report_cost(req: Request, next: Next) -> Response {
    let cost = Arc::new(crate::store::Cost::default());
    let mut resp = crate::store::TASK_COST.scope(cost.clone(), next.run(req)).await;
    let steps = cost.steps.load(std::sync::atomic::Ordering::Relaxed);
    let micros = cost.micros.load(std::sync::atomic::Ordering::Relaxed);
    let headers = resp.headers_mut();
    headers.insert("x-store-steps", header::HeaderValue::from(steps));
    if let Ok(v) = header::HeaderValue::from_str(&format!("store;dur={:.3}", micros as f64 / 1000.0)) {
        headers.insert("server-timing", v);
    }
    resp
}

/// Finds the request's account by its bearer token, among the tokens in
/// force (a reload that removes a token refuses its next request).
async fn authenticate(State(engine): State<Arc<Engine>>, mut req: Request, next: Next) -> Response {
    let config = engine.config();
    let tokens: &[Token] = &config.tokens;
    let presented = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token);
    let account = presented.and_then(|p| {
        // Compare against every token without early exit, so timing does not
        // reveal how much of a token matched.
        let mut found = None;
        for t in tokens.iter() {
            if constant_time_eq(t.secret.as_bytes(), p.as_bytes()) {
                found = Some(t.account);
            }
        }
        found
    });
    match account {
        Some(account) => {
            req.extensions_mut().insert(Access::Account(account));
            next.run(req).await
        }
        None => {
            let why = if presented.is_some() {
                "Authentication failed: unknown token"
            } else {
                "Authentication failed: send Authorization: Bearer <token>"
            };
            ApiError::new(StatusCode::UNAUTHORIZED, why).into_response()
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 3339 UTC timestamp, DNSimple's format (`2021-03-17T23:44:27Z`).
pub(crate) fn timestamp(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

pub(crate) fn opt_timestamp(secs: Option<i64>) -> Option<String> {
    secs.map(timestamp)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_matched_case_insensitively() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer   "), None);
    }
}
