//! A small client of the control API, over the Unix socket or TCP (with a
//! bearer token), plain or HTTPS. `secondaryctl` and the integration tests use it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Where the API is. `Https` is the TCP API with `[control] tls_cert`: `tls`
/// trusts its CA ([`crate::tls::client_config`]), and its certificate must
/// name `addr`'s IP address.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp { addr: SocketAddr, token: Option<String> },
    Https { addr: SocketAddr, token: Option<String>, tls: Arc<rustls::ClientConfig> },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp { addr, .. } => write!(f, "http://{addr}"),
            Endpoint::Https { addr, .. } => write!(f, "https://{addr}"),
        }
    }
}

#[derive(Debug)]
pub enum ClientError {
    Connect { endpoint: String, error: std::io::Error },
    Tls { endpoint: String, error: std::io::Error },
    Http(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connect { endpoint, error } => {
                write!(f, "cannot reach secondaryd at {endpoint}: {error} (is the daemon running? see --socket)")
            }
            ClientError::Tls { endpoint, error } => {
                write!(f, "TLS handshake with secondaryd at {endpoint} failed: {error}")
            }
            ClientError::Http(e) => write!(f, "HTTP error talking to secondaryd: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// An API answer: the status and the JSON body (`Value::Null` when empty).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    /// The store work the request caused (`X-Store-Steps`: SQLite
    /// virtual-machine steps, to the nearest 16), when the server reports it.
    pub store_steps: Option<u64>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error message of a failed call, with the field errors spelled out.
    pub fn error_message(&self) -> String {
        let mut msg = self.body.get("message").and_then(Value::as_str).unwrap_or("request failed").to_string();
        if let Some(errors) = self.body.get("errors").and_then(Value::as_object) {
            for (field, problems) in errors {
                for p in problems.as_array().into_iter().flatten() {
                    let line = format!("{field}: {}", p.as_str().unwrap_or_default());
                    if !msg.contains(p.as_str().unwrap_or("\u{0}")) {
                        msg.push_str("\n  ");
                        msg.push_str(&line);
                    }
                }
            }
        }
        format!("{msg} (HTTP {})", self.status)
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    pub endpoint: Endpoint,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Self {
        Client { endpoint }
    }

    /// Sends one request on a fresh connection and reads the whole answer.
    pub async fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response, ClientError> {
        self.request_raw(method, path, body.map(|v| v.to_string())).await
    }

    /// Like [`Client::request`] with the body as given (tests send malformed JSON with it).
    pub async fn request_raw(&self, method: &str, path: &str, body: Option<String>) -> Result<Response, ClientError> {
        let connect_err = |error| ClientError::Connect { endpoint: self.endpoint.to_string(), error };
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("accept", "application/json");
        if let Endpoint::Tcp { token: Some(t), .. } | Endpoint::Https { token: Some(t), .. } = &self.endpoint {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        let payload = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(v)
            }
            None => Bytes::new(),
        };
        let req = builder.body(Full::new(payload)).map_err(|e| ClientError::Http(e.to_string()))?;
        let resp = match &self.endpoint {
            Endpoint::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await.map_err(connect_err)?;
                send(stream, req).await?
            }
            Endpoint::Tcp { addr, .. } => {
                let stream = tokio::net::TcpStream::connect(addr).await.map_err(connect_err)?;
                send(stream, req).await?
            }
            Endpoint::Https { addr, tls, .. } => {
                let stream = tokio::net::TcpStream::connect(addr).await.map_err(connect_err)?;
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                let stream = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|error| ClientError::Tls { endpoint: self.endpoint.to_string(), error })?;
                send(stream, req).await?
            }
        };
        Ok(resp)
    }

    pub async fn get(&self, path: &str) -> Result<Response, ClientError> {
        self.request("GET", path, None).await
    }
}

async fn send<S>(stream: S, req: Request<Full<Bytes>>) -> Result<Response, ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(|e| ClientError::Http(e.to_string()))?;
    let status = resp.status().as_u16();
    let store_steps = resp.headers().get("x-store-steps").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let bytes = resp.into_body().collect().await.map_err(|e| ClientError::Http(e.to_string()))?.to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok(Response { status, body, store_steps })
}
