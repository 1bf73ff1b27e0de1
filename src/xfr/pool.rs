//! TCP connections to primaries, kept open for a few seconds after a
//! transfer so the next transfer from the same primary skips the handshake.
//!
//! RFC 5936 §4.1 lets one connection carry several transfers, and RFC 7766
//! §6.2.1 asks clients to reuse connections rather than open one per query.
//! BIND, Knot and NSD answer the next query on the same connection. When
//! thousands of small zones load at once (a new account, a catalog), the
//! connection set-up and tear-down cost both sides more than the transfers.
//!
//! A connection goes back here only after a complete answer with nothing
//! unread behind it. One that the primary closed, or that has stray bytes
//! waiting, is dropped when it is taken. A transfer on a reused connection
//! that ends before its first message is retried once on a new connection
//! (the primary may close an idle connection as we write to it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a connection waits for the next transfer (BIND closes an idle
/// client after `tcp-idle-timeout`, 30 s; we let go well before).
pub const IDLE: Duration = Duration::from_secs(3);

/// Idle connections kept per primary at most (the default transfers per
/// primary at once, `transfer.per_primary`, is 10).
const PER_PRIMARY: usize = 16;

struct Idle {
    stream: TcpStream,
    since: Instant,
}

static POOL: LazyLock<Mutex<HashMap<SocketAddr, Vec<Idle>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether a task is closing expired connections.
static SWEEPING: AtomicBool = AtomicBool::new(false);

fn pool() -> std::sync::MutexGuard<'static, HashMap<SocketAddr, Vec<Idle>>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// An open connection to `primary` that has waited less than [`IDLE`] and
/// has nothing to read (a closed one reads as the end, a stray answer as
/// data: both are dropped).
pub fn take(primary: SocketAddr) -> Option<TcpStream> {
    let mut pool = pool();
    let idle = pool.get_mut(&primary)?;
    let mut found = None;
    while let Some(c) = idle.pop() {
        if c.since.elapsed() >= IDLE {
            continue;
        }
        let mut probe = [0u8; 1];
        match c.stream.try_read(&mut probe) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                found = Some(c.stream);
                break;
            }
            _ => continue,
        }
    }
    if idle.is_empty() {
        pool.remove(&primary);
    }
    found
}

/// Keeps `stream` for the next transfer from `primary`.
pub fn put(primary: SocketAddr, stream: TcpStream) {
    {
        let mut pool = pool();
        let idle = pool.entry(primary).or_default();
        if idle.len() >= PER_PRIMARY {
            return;
        }
        idle.push(Idle { stream, since: Instant::now() });
    }
    if !SWEEPING.swap(true, Ordering::AcqRel) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweep());
        } else {
            SWEEPING.store(false, Ordering::Release);
        }
    }
}

/// Closes expired connections until none is left.
async fn sweep() {
    loop {
        tokio::time::sleep(IDLE).await;
        let mut pool = pool();
        pool.retain(|_, idle| {
            idle.retain(|c| c.since.elapsed() < IDLE);
            !idle.is_empty()
        });
        if pool.is_empty() {
            SWEEPING.store(false, Ordering::Release);
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn an_open_quiet_connection_is_reused_and_a_closed_or_chatty_one_is_not() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepted = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..3 {
            let c = TcpStream::connect(addr).await.unwrap();
            let (s, _) = listener.accept().await.unwrap();
            clients.push(c);
            accepted.push(s);
        }
        // 0: stays open and quiet; 1: closed by the server; 2: the server
        // wrote something nobody asked for.
        drop(accepted.remove(1));
        accepted[1].write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let quiet = clients[0].local_addr().unwrap();
        for c in clients {
            put(addr, c);
        }
        let got = take(addr).expect("the quiet connection");
        assert_eq!(got.local_addr().unwrap(), quiet);
        assert!(take(addr).is_none(), "nothing else is fit to reuse");
    }
}
