//! A kept-alive HTTP/1.1 connection to secondaryd's control socket, for the
//! API rows: many requests on one connection, as a bulk client sends them.

use std::path::Path;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::util::R;

pub struct ApiConn {
    sender: SendRequest<Full<Bytes>>,
}

impl ApiConn {
    pub async fn unix(socket: &Path) -> R<ApiConn> {
        let stream =
            tokio::net::UnixStream::connect(socket).await.map_err(|e| format!("connect {}: {e}", socket.display()))?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(ApiConn { sender })
    }

    /// One request; the status and the body's bytes (not parsed: a link's
    /// answer lists every zone of the primary, and parsing 10,000 names per
    /// call would measure this client).
    pub async fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> R<(u16, Bytes, Duration)> {
        let t0 = Instant::now();
        let mut b = Request::builder().method(method).uri(path).header("host", "localhost");
        let payload = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let req = b.body(Full::new(payload)).map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self.sender.send_request(req).await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, bytes, t0.elapsed()))
    }

    /// Like [`ApiConn::call`], an error unless the status is 2xx.
    pub async fn ok(&mut self, method: &str, path: &str, body: Option<&Value>) -> R<Duration> {
        let (status, bytes, took) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            return Err(format!("{method} {path}: {status} {}", String::from_utf8_lossy(&bytes)));
        }
        Ok(took)
    }
}
