//! Serving the API on a listener with bounds, so that clients that open
//! connections and send nothing (or a byte at a time) cannot use up the
//! daemon's file descriptors or its attention:
//!
//! - at most `max_connections` connections at once; past that, new ones wait
//!   in the kernel's accept queue (they cost the daemon no descriptor);
//! - at most [`PER_CLIENT`] of them from one IP address (TCP): past that, the
//!   client's new connections are closed at once, so one address cannot take
//!   every place;
//! - a request's headers must arrive within [`HEADER_TIMEOUT`];
//! - a whole request, body and handler included, ends within
//!   [`REQUEST_TIMEOUT`] (a 503 otherwise);
//! - a kept-alive connection idle for [`HEADER_TIMEOUT`] is closed.

use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{watch, Semaphore};

use super::error::ApiError;

/// Time for a request's headers (and for the next request on a kept-alive
/// connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a whole request: reading its body and answering it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections of the TCP API at once. The Unix socket has its own bound.
pub const TCP_CONNECTIONS: usize = 256;
pub const UNIX_CONNECTIONS: usize = 256;
/// Connections of the TCP API at once from one IP address.
pub const PER_CLIENT: usize = 32;

/// The client address of a connection, for [`PER_CLIENT`] (`None`: no
/// per-client bound, as on the Unix socket).
pub trait ClientAddr {
    fn client_ip(&self) -> Option<std::net::IpAddr>;
}

impl ClientAddr for std::net::SocketAddr {
    fn client_ip(&self) -> Option<std::net::IpAddr> {
        Some(self.ip().to_canonical())
    }
}

impl ClientAddr for tokio::net::unix::SocketAddr {
    fn client_ip(&self) -> Option<std::net::IpAddr> {
        None
    }
}

/// Ends a request that takes longer than [`REQUEST_TIMEOUT`] with a 503.
pub async fn request_timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The request took longer than {} s and was stopped", REQUEST_TIMEOUT.as_secs()),
        )
        .into_response(),
    }
}

/// Serves `router` on `listener` until `shutdown` turns true; running
/// requests then finish (connections close after their answer).
pub async fn serve<L>(mut listener: L, router: Router, max_connections: usize, mut shutdown: watch::Receiver<bool>)
where
    L: Listener,
    L::Addr: ClientAddr,
{
    let slots = std::sync::Arc::new(Semaphore::new(max_connections.max(1)));
    let per_client: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> =
        Default::default();
    // Connections closed over PER_CLIENT: one log line per 10 s at most.
    let refused = crate::dns::RateLog::default();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stopped(&mut shutdown) => break,
        };
        let (io, addr) = tokio::select! {
            c = listener.accept() => c,
            _ = stopped(&mut shutdown) => break,
        };
        let client = addr.client_ip();
        if let Some(ip) = client {
            let mut open = per_client.lock().unwrap_or_else(|e| e.into_inner());
            let n = open.entry(ip).or_insert(0);
            if *n >= PER_CLIENT {
                drop(open);
                if let Some(count) = refused.tick() {
                    tracing::warn!(client = %ip, per_client = PER_CLIENT, count,
                        "API connections over the per-client bound closed (count: since the last such line)");
                }
                continue; // `io` is dropped: the connection is closed
            }
            *n += 1;
        }
        let counts = per_client.clone();
        let service = TowerToHyperService::new(router.clone());
        let mut stop = shutdown.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "API connection ended with an error");
                    }
                }
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
            if let Some(ip) = client {
                let mut open = counts.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(n) = open.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        open.remove(&ip);
                    }
                }
            }
        });
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// Until `shutdown` turns true (the guard `wait_for` gives is not held).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}
