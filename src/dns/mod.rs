//! The DNS listener: UDP and TCP on every `dns.listen` address. For now it
//! answers NOTIFY (RFC 1996); queries and XFR-out come later and get NOTIMP.
//!
//! A NOTIFY is an input: it is checked and then only *schedules* a refresh
//! through the engine (merged with one pending or running, RFC 1996 §4.4). It
//! never transfers anything itself. Rules, in order:
//! - unparseable packets and responses are dropped and counted, never answered;
//! - opcodes other than NOTIFY → NOTIMP;
//! - not exactly one question of type SOA → FORMERR;
//! - a zone we do not hold → NOTAUTH;
//! - a source address that is not one of the zone's primaries (any port) → REFUSED;
//! - a TSIG that does not verify with that primary's key → NOTAUTH with the TSIG
//!   error (BADKEY/BADSIG/BADTIME), unsigned (RFC 8945 §5.4.1);
//! - unsigned while the primary requires signed NOTIFY → REFUSED;
//! - otherwise NOERROR, AA, the question echoed, signed when the request was.
//!   When the NOTIFY carries the new SOA and its serial is not newer than ours,
//!   no refresh is scheduled (BIND does the same).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::store::zones::{self, Zone};
use crate::wire::serial::Serial;
use crate::wire::tsig::{self, TsigKey};
use crate::wire::{self, opcode, rcode, rtype, Message, Name};
use crate::zone::name::normalize_zone_name;
use crate::zone::Engine;

/// Open TCP connections at most; more wait to be accepted.
const MAX_TCP_CONNECTIONS: usize = 128;
/// A TCP client that sends nothing for this long is disconnected.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Counters for the status endpoint.
#[derive(Debug, Default)]
pub struct DnsStats {
    pub notify_accepted: AtomicU64,
    pub notify_refused: AtomicU64,
    pub malformed: AtomicU64,
    pub not_implemented: AtomicU64,
}

/// The bound sockets of one `dns.listen` address.
pub struct Listener {
    pub addr: SocketAddr,
    udp: UdpSocket,
    tcp: TcpListener,
}

/// Binds UDP and TCP on every address (before the daemon reports READY).
pub async fn bind(addrs: &[SocketAddr]) -> Result<Vec<Listener>, (SocketAddr, std::io::Error)> {
    let mut out = Vec::new();
    for &addr in addrs {
        let udp = bind_socket(addr, socket2::Type::DGRAM).and_then(|s| UdpSocket::from_std(s.into()));
        let udp = udp.map_err(|e| (addr, e))?;
        let tcp = bind_socket(addr, socket2::Type::STREAM)
            .and_then(|s| {
                s.listen(1024)?;
                Ok(s)
            })
            .and_then(|s| TcpListener::from_std(s.into()));
        let tcp = tcp.map_err(|e| (addr, e))?;
        out.push(Listener { addr, udp, tcp });
    }
    Ok(out)
}

/// A non-blocking socket bound to `addr`. IPv6 sockets are IPv6-only, so that
/// the default `["0.0.0.0:53", "[::]:53"]` binds both (on Linux a dual-stack
/// `[::]:53` would collide with `0.0.0.0:53`).
fn bind_socket(addr: SocketAddr, ty: socket2::Type) -> std::io::Result<socket2::Socket> {
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), ty, None)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if ty == socket2::Type::STREAM {
        s.set_reuse_address(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

pub struct DnsServer {
    engine: Arc<Engine>,
    pub stats: Arc<DnsStats>,
}

impl DnsServer {
    pub fn new(engine: Arc<Engine>, stats: Arc<DnsStats>) -> Arc<DnsServer> {
        Arc::new(DnsServer { engine, stats })
    }

    /// Serves the listeners until `shutdown` turns true.
    pub async fn serve(self: Arc<Self>, listeners: Vec<Listener>, shutdown: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        for l in listeners {
            tracing::info!(addr = %l.addr, "DNS listening (UDP and TCP) for NOTIFY");
            let (me, rx) = (self.clone(), shutdown.clone());
            tasks.spawn(me.serve_udp(l.udp, rx));
            let (me, rx) = (self.clone(), shutdown.clone());
            tasks.spawn(me.serve_tcp(l.tcp, rx));
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn serve_udp(self: Arc<Self>, sock: UdpSocket, mut shutdown: watch::Receiver<bool>) {
        let mut buf = vec![0u8; 65_535];
        loop {
            let (n, src) = tokio::select! {
                r = sock.recv_from(&mut buf) => match r {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::debug!(error = %e, "UDP receive error");
                        continue;
                    }
                },
                _ = shutdown.wait_for(|s| *s) => return,
            };
            if let Some(reply) = self.handle(&buf[..n], src).await {
                if let Err(e) = sock.send_to(&reply, src).await {
                    tracing::debug!(%src, error = %e, "cannot send a UDP reply");
                }
            }
        }
    }

    async fn serve_tcp(self: Arc<Self>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
        let mut conns = JoinSet::new();
        loop {
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let (stream, src) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::debug!(error = %e, "TCP accept error");
                        continue;
                    }
                },
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let me = self.clone();
            conns.spawn(async move {
                me.serve_connection(stream, src).await;
                drop(permit);
            });
            while conns.try_join_next().is_some() {}
        }
        conns.abort_all();
    }

    async fn serve_connection(&self, mut stream: TcpStream, src: SocketAddr) {
        loop {
            let mut len = [0u8; 2];
            match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
                Ok(Ok(_)) => {}
                _ => return,
            }
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut msg)).await {
                Ok(Ok(_)) => {}
                _ => return,
            }
            if let Some(reply) = self.handle(&msg, src).await {
                let mut frame = (reply.len() as u16).to_be_bytes().to_vec();
                frame.extend_from_slice(&reply);
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Answers one DNS message from `src`; `None` means drop it.
    pub async fn handle(&self, bytes: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
        let msg = match wire::parse_message(bytes) {
            Ok(m) if !m.header.is_response() => m,
            Ok(_) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%src, error = %e, "dropped a malformed DNS message");
                return None;
            }
        };
        if msg.header.opcode() != opcode::NOTIFY {
            self.stats.not_implemented.fetch_add(1, Ordering::Relaxed);
            return Some(wire::build_response(&msg, rcode::NOTIMP));
        }
        Some(self.notify(&msg, bytes, src).await)
    }

    fn refuse(&self, msg: &Message, src: SocketAddr, zone: &str, code: u16, reason: &str) -> Vec<u8> {
        self.stats.notify_refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(zone, from = %src, rcode = %rcode::name(code), reason, "NOTIFY refused");
        wire::build_response(msg, code)
    }

    async fn notify(&self, msg: &Message, bytes: &[u8], src: SocketAddr) -> Vec<u8> {
        let [q] = msg.questions.as_slice() else {
            return self.refuse(msg, src, "-", rcode::FORMERR, "a NOTIFY needs exactly one question");
        };
        let qname = q.name.to_string();
        if q.qtype != rtype::SOA {
            return self.refuse(msg, src, &qname, rcode::FORMERR, "a NOTIFY question must be of type SOA");
        }
        let Ok(name) = normalize_zone_name(&qname) else {
            return self.refuse(msg, src, &qname, rcode::NOTAUTH, "not a zone name we could hold");
        };
        let lookup = name.clone();
        let zone = match self.engine.store.call(move |c| zones::by_name(c, &lookup)).await {
            Ok(Some(z)) => z,
            Ok(None) => return self.refuse(msg, src, &name, rcode::NOTAUTH, "we are not a secondary for this zone"),
            Err(e) => {
                tracing::error!(zone = %name, error = %e, "cannot look up a zone for a NOTIFY");
                return wire::build_response(msg, rcode::SERVFAIL);
            }
        };
        let from_primaries: Vec<_> = zone.primaries.iter().filter(|p| same_ip(&p.ip, src.ip())).collect();
        if from_primaries.is_empty() {
            return self.refuse(msg, src, &name, rcode::REFUSED, "the source is not a primary of this zone");
        }

        // TSIG (RFC 8945): a signed NOTIFY must verify with one of those primaries' keys.
        let keys: Vec<&TsigKey> =
            from_primaries.iter().filter_map(|p| p.tsig_key.as_deref()).filter_map(|k| self.engine.key(k)).collect();
        let signed_by = match &msg.tsig {
            Some(t) => {
                let now = tsig::unix_now();
                match tsig::verify_request(
                    |n: &Name| keys.iter().copied().find(|k| k.name.eq_ignore_case(n)),
                    bytes,
                    msg,
                    now,
                ) {
                    Ok((key, mac)) => Some((key, mac)),
                    Err(e) => {
                        let code = e.reply_error().unwrap_or(rcode::BADSIG);
                        let mut reply = self.refuse(msg, src, &name, rcode::NOTAUTH, &format!("TSIG: {e}"));
                        let _ = tsig::append_unsigned_tsig_error(&mut reply, &t.key_name, &t.algorithm, code, now);
                        return reply;
                    }
                }
            }
            None => {
                if from_primaries.iter().all(|p| p.notify_requires_tsig) {
                    return self.refuse(msg, src, &name, rcode::REFUSED, "the primary requires signed NOTIFY");
                }
                None
            }
        };

        let hint = msg.answers.iter().find(|r| r.rtype == rtype::SOA).and_then(|r| r.soa_serial());
        self.accept(&zone, src, hint).await;
        let reply = wire::build_response(msg, rcode::NOERROR);
        match signed_by {
            Some((key, mac)) => tsig::sign_response(key, &mac, &reply, tsig::unix_now()).unwrap_or(reply),
            None => reply,
        }
    }

    async fn accept(&self, zone: &Zone, src: SocketAddr, hint: Option<u32>) {
        self.stats.notify_accepted.fetch_add(1, Ordering::Relaxed);
        let st = &zone.status;
        let stale = match (hint, st.serial) {
            (Some(h), Some(ours)) => !st.expired && !Serial(h).is_newer_than(Serial(ours)),
            _ => false,
        };
        let (id, from) = (zone.id, src.to_string());
        if let Err(e) = self.engine.store.call(move |c| zones::record_notify(c, id, &from, hint)).await {
            tracing::error!(zone = %zone.name, error = %e, "cannot record a NOTIFY");
        }
        if stale {
            tracing::info!(zone = %zone.name, from = %src, serial = ?hint, ours = ?st.serial,
                "NOTIFY accepted; its serial is not newer than ours, no refresh");
        } else {
            tracing::info!(zone = %zone.name, from = %src, serial = ?hint, "NOTIFY accepted; refresh scheduled");
            match (hint, st.serial) {
                (Some(h), Some(_)) if !st.expired => self.engine.notified(zone.id, h, src.ip()),
                _ => self.engine.request_refresh(zone.id, false),
            }
        }
    }
}

fn same_ip(stored: &str, src: IpAddr) -> bool {
    let src = match src {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    stored.parse::<IpAddr>().is_ok_and(|ip| ip == src)
}
