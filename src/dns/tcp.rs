//! The table of open TCP connections, so that no client can hold the server
//! (RFC 7766 §6.2, as BIND and Knot do it): at most `dns.tcp_connections` in
//! all and `dns.tcp_connections_per_client` per client address; when all the
//! slots are taken, a new connection closes the one idle for longest rather
//! than waiting (a connection is idle while it waits for its next request, busy
//! while it answers one or sends a transfer). Each connection also has a
//! lifetime, checked by its loop between messages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

pub(super) struct TcpConns {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    /// The limits (a config reload changes them; open connections over a
    /// lowered limit stay until they end).
    max: usize,
    per_client: usize,
    next_id: u64,
    conns: HashMap<u64, Entry>,
    per_ip: HashMap<IpAddr, usize>,
}

struct Entry {
    ip: IpAddr,
    /// Since when it waits for a request; `None` while busy.
    idle_since: Option<Instant>,
    close: Arc<Notify>,
}

/// Why a new connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Its address already has `dns.tcp_connections_per_client` open.
    PerClient,
    /// Every slot is taken and none is idle.
    Full,
}

/// One admitted connection's place in the table; dropping it frees the slot.
pub(super) struct Slot {
    conns: Arc<TcpConns>,
    id: u64,
    /// Notified when the connection is closed to make room for another.
    pub close: Arc<Notify>,
}

impl TcpConns {
    pub fn new(max: usize, per_client: usize) -> Arc<TcpConns> {
        let table = Table { max: max.max(1), per_client: per_client.max(1), ..Table::default() };
        Arc::new(TcpConns { table: Mutex::new(table) })
    }

    pub fn set_limits(&self, max: usize, per_client: usize) {
        let mut t = self.table();
        (t.max, t.per_client) = (max.max(1), per_client.max(1));
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection from `ip`; the second value is the address
    /// of the connection closed to make room, if one was.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<(Slot, Option<IpAddr>), Refused> {
        let mut t = self.table();
        if t.per_ip.get(&ip).copied().unwrap_or(0) >= t.per_client {
            return Err(Refused::PerClient);
        }
        let mut evicted = None;
        if t.conns.len() >= t.max {
            let oldest = t.conns.iter().filter_map(|(id, e)| Some((e.idle_since?, *id))).min().map(|(_, id)| id);
            let Some(victim) = oldest.and_then(|id| t.remove(id)) else {
                return Err(Refused::Full);
            };
            victim.close.notify_one();
            evicted = Some(victim.ip);
        }
        let id = t.next_id;
        t.next_id += 1;
        let close = Arc::new(Notify::new());
        t.conns.insert(id, Entry { ip, idle_since: Some(now), close: close.clone() });
        *t.per_ip.entry(ip).or_insert(0) += 1;
        Ok((Slot { conns: self.clone(), id, close }, evicted))
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.table().conns.len()
    }
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.conns.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&e.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&e.ip);
            }
        }
        Some(e)
    }
}

impl Slot {
    /// Marks the connection idle (waiting for a request; one already idle
    /// keeps its time) or busy.
    pub fn set_idle(&self, idle: bool) {
        let mut t = self.conns.table();
        if let Some(e) = t.conns.get_mut(&self.id) {
            e.idle_since = if idle { Some(e.idle_since.unwrap_or_else(Instant::now)) } else { None };
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conns.table().remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_full_table_closes_its_longest_idle_connection_and_a_client_gets_its_share_only() {
        let t0 = Instant::now();
        let conns = TcpConns::new(3, 2);
        let a = conns.admit(ip(1), t0).map(|(s, _)| s);
        let b = conns.admit(ip(1), t0 + Duration::from_secs(1)).map(|(s, _)| s);
        assert_eq!(conns.admit(ip(1), t0).err(), Some(Refused::PerClient));
        let c = conns.admit(ip(2), t0).map(|(s, _)| s);
        // b is busy; a was idle first: a is closed for d.
        if let Ok(b) = &b {
            b.set_idle(false);
        }
        let d = conns.admit(ip(3), t0 + Duration::from_secs(2));
        assert_eq!(d.as_ref().ok().and_then(|(_, evicted)| *evicted), Some(ip(1)));
        assert_eq!(conns.open(), 3);
        // The closed one is told, and its slot's drop changes nothing more.
        let a = a.unwrap_or_else(|_| panic!("a admitted"));
        let told = ready_soon(a.close.notified());
        assert!(told, "the evicted connection is told to close");
        drop(a);
        assert_eq!(conns.open(), 3);
        drop((b, c, d));
        assert_eq!(conns.open(), 0);
    }

    /// Whether a `Notified` is ready without waiting.
    fn ready_soon(n: tokio::sync::futures::Notified<'_>) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build();
        let Ok(rt) = rt else { return false };
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(50), n).await.is_ok() })
    }
}
