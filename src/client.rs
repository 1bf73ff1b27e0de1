//! A small client of the control API, over the Unix socket or TCP (with a
//! bearer token), plain or HTTPS. `secondaryctl` and the integration tests
//! use it; answers are read into the shapes of [`crate::model`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Data, ErrorBody, List};

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
    Connect {
        endpoint: String,
        error: std::io::Error,
    },
    Tls {
        endpoint: String,
        error: std::io::Error,
    },
    Http(String),
    /// The answer is not the shape [`crate::model`] says it has.
    Shape {
        status: u16,
        error: String,
    },
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
            ClientError::Shape { status, error } => {
                write!(f, "unexpected answer from secondaryd (HTTP {status}): {error}")
            }
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

    /// The body as `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        T::deserialize(&self.body).map_err(|e| ClientError::Shape { status: self.status, error: e.to_string() })
    }

    /// What `{"data": …}` holds.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        self.json::<Data<T>>().map(|d| d.data)
    }

    /// A page of a list: `{"data": […], "pagination": …}`.
    pub fn page<T: DeserializeOwned>(&self) -> Result<List<T>, ClientError> {
        self.json()
    }

    /// The error body of a failed call, if it is one.
    pub fn error(&self) -> Option<ErrorBody> {
        ErrorBody::deserialize(&self.body).ok()
    }

    /// The error message of a failed call, with the field errors spelled out.
    pub fn error_message(&self) -> String {
        let Some(error) = self.error() else {
            return format!("request failed (HTTP {})", self.status);
        };
        let mut msg = error.message;
        for (field, problems) in &error.errors {
            for p in problems {
                if !msg.contains(p.as_str()) {
                    msg.push_str(&format!("\n  {field}: {p}"));
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
        self.send(method, path, body).await
    }

    /// Like [`Client::request`], with any serializable body (a request of [`crate::model`]).
    pub async fn send<B: Serialize + ?Sized>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ClientError> {
        self.connection().send(method, path, body).await
    }

    /// Like [`Client::request`] with the body as given (tests send malformed JSON with it).
    pub async fn request_raw(&self, method: &str, path: &str, body: Option<String>) -> Result<Response, ClientError> {
        self.connection().send_raw(method, path, body).await
    }

    pub async fn get(&self, path: &str) -> Result<Response, ClientError> {
        self.request("GET", path, None).await
    }

    /// A connection that is kept open between requests (HTTP/1.1 keep-alive),
    /// for many requests in a row; it connects on the first one.
    pub fn connection(&self) -> Connection {
        Connection { client: self.clone(), sender: None }
    }

    async fn handshake(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let connect_err = |error| ClientError::Connect { endpoint: self.endpoint.to_string(), error };
        match &self.endpoint {
            Endpoint::Unix(path) => handshake(tokio::net::UnixStream::connect(path).await.map_err(connect_err)?).await,
            Endpoint::Tcp { addr, .. } => {
                handshake(tokio::net::TcpStream::connect(addr).await.map_err(connect_err)?).await
            }
            Endpoint::Https { addr, tls, .. } => {
                let stream = tokio::net::TcpStream::connect(addr).await.map_err(connect_err)?;
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                let stream = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|error| ClientError::Tls { endpoint: self.endpoint.to_string(), error })?;
                handshake(stream).await
            }
        }
    }
}

/// One connection to the API, reused request after request; when the daemon
/// has closed it in between, the next request opens a new one. A request
/// whose answer was cut off is not sent again.
pub struct Connection {
    client: Client,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub async fn send<B: Serialize + ?Sized>(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ClientError> {
        let body = body.map(serde_json::to_string).transpose().map_err(|e| ClientError::Http(e.to_string()))?;
        self.send_raw(method, path, body).await
    }

    pub async fn send_raw(&mut self, method: &str, path: &str, body: Option<String>) -> Result<Response, ClientError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("accept", "application/json");
        if let Endpoint::Tcp { token: Some(t), .. } | Endpoint::Https { token: Some(t), .. } = &self.client.endpoint {
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
        let open = match self.sender.take() {
            Some(mut s) => s.ready().await.is_ok().then_some(s),
            None => None,
        };
        let mut sender = match open {
            Some(s) => s,
            None => self.client.handshake().await?,
        };
        let resp = sender.send_request(req).await.map_err(|e| ClientError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let store_steps =
            resp.headers().get("x-store-steps").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let bytes = resp.into_body().collect().await.map_err(|e| ClientError::Http(e.to_string()))?.to_bytes();
        self.sender = Some(sender);
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Response { status, body, store_steps })
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
