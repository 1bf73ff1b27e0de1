//! The DNS listener: UDP and TCP on every `dns.listen` address, each message
//! dispatched by opcode: QUERY to [`query`] (answers from the serving view,
//! never from SQLite) or, for AXFR and IXFR, to [`xfr_out`] (transfers to
//! downstreams), NOTIFY to [`notify`] (schedules a refresh), anything else
//! NOTIMP. Unparseable messages are answered FORMERR with the bare header
//! when the header is readable (never larger than the query), else dropped;
//! responses are dropped and counted. Error answers echo at most the first
//! question, and over UDP are never larger than the request.
//!
//! TCP (RFC 7766): several queries per connection, answered in order as each
//! is ready (answers need no I/O, so none waits behind another); a connection
//! idle for `dns.tcp_idle_timeout`, or open for `dns.tcp_max_lifetime`, is
//! closed; at most `dns.tcp_connections` are open at once, all addresses
//! together, and `dns.tcp_connections_per_client` per address; when all are
//! taken a new one closes the longest-idle ([`tcp`]).
//! UDP answers pass [`rrl`] (response rate limiting) when it is on.

pub mod answer;
mod notify;
pub mod query;
pub mod rrl;
mod tcp;
mod udp;
pub mod xfr_out;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::DnsConfig;
use crate::wire::{self, opcode, rcode, rtype};
use crate::zone::Engine;
use query::{Outcome, QueryConfig};

/// How often a rate-limited listener says so in the log, at most.
const RRL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Why a NOTIFY was not accepted (the checks of [`notify`], in order): a
/// fixed set, so the metrics endpoint has one series per reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyRefusal {
    /// Not exactly one question of type SOA (answered FORMERR).
    Malformed,
    /// A class other than IN.
    Class,
    /// A zone we do not hold (or a name no zone can have).
    UnknownZone,
    /// The source is not one of the zone's primaries.
    NotPrimary,
    /// The TSIG did not verify.
    Tsig,
    /// Unsigned, while the primary requires signed NOTIFY.
    Unsigned,
}

impl NotifyRefusal {
    pub const ALL: [NotifyRefusal; 6] = [
        NotifyRefusal::Malformed,
        NotifyRefusal::Class,
        NotifyRefusal::UnknownZone,
        NotifyRefusal::NotPrimary,
        NotifyRefusal::Tsig,
        NotifyRefusal::Unsigned,
    ];

    /// The metrics label (`reason="…"`).
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyRefusal::Malformed => "malformed",
            NotifyRefusal::Class => "class",
            NotifyRefusal::UnknownZone => "unknown_zone",
            NotifyRefusal::NotPrimary => "not_a_primary",
            NotifyRefusal::Tsig => "tsig",
            NotifyRefusal::Unsigned => "unsigned",
        }
    }
}

/// The RCODEs queries are counted by ([`DnsStats::answered`]), as the
/// metrics endpoint labels them.
pub const ANSWERED_RCODES: [&str; 7] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"];

/// Counters of the DNS listener, read by the status endpoint and the metrics
/// endpoint (atomics: counting costs a query no lock).
pub struct DnsStats {
    pub notify_accepted: AtomicU64,
    /// NOTIFYs refused, by [`NotifyRefusal`] (in the order of `NotifyRefusal::ALL`).
    pub notify_refused: [AtomicU64; 6],
    /// Messages that did not parse, and responses sent to us: dropped (or a bare FORMERR).
    pub malformed: AtomicU64,
    pub not_implemented: AtomicU64,
    /// Queries answered, by RCODE: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, other
    /// ([`ANSWERED_RCODES`]).
    pub answered: [AtomicU64; 7],
    /// Response rate limiting, with its drop and slip counters.
    pub rrl: rrl::Rrl,
    /// Outgoing transfers finished, refused (any error answer) and failed midway.
    pub transfers_out: AtomicU64,
    pub transfers_out_refused: AtomicU64,
    pub transfers_out_failed: AtomicU64,
}

impl DnsStats {
    pub fn new(rate_limit: crate::config::RateLimitConfig) -> DnsStats {
        DnsStats {
            notify_accepted: AtomicU64::new(0),
            notify_refused: Default::default(),
            malformed: AtomicU64::new(0),
            not_implemented: AtomicU64::new(0),
            answered: Default::default(),
            rrl: rrl::Rrl::new(rate_limit),
            transfers_out: AtomicU64::new(0),
            transfers_out_refused: AtomicU64::new(0),
            transfers_out_failed: AtomicU64::new(0),
        }
    }

    /// NOTIFYs refused for any reason.
    pub fn notify_refused_total(&self) -> u64 {
        self.notify_refused.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }

    fn count_refusal(&self, why: NotifyRefusal) {
        let i = NotifyRefusal::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.notify_refused[i].fetch_add(1, Ordering::Relaxed);
    }

    fn count_rcode(&self, code: u16) {
        let i = match code {
            0..=5 => usize::from(code),
            _ => 6,
        };
        self.answered[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// The bound sockets of one `dns.listen` address.
pub struct Listener {
    pub addr: SocketAddr,
    /// One socket per worker (SO_REUSEPORT: the kernel spreads the datagrams).
    udp: Vec<UdpSocket>,
    tcp: TcpListener,
}

/// Binds UDP (`udp_sockets` per address) and TCP on every address, before the
/// daemon reports READY.
pub async fn bind(addrs: &[SocketAddr], udp_sockets: usize) -> Result<Vec<Listener>, (SocketAddr, std::io::Error)> {
    let mut out = Vec::new();
    for &addr in addrs {
        let mut udp = Vec::new();
        // A port of 0 gets a new port per socket: only one then.
        let n = if addr.port() == 0 { 1 } else { udp_sockets.max(1) };
        for _ in 0..n {
            let s = bind_socket(addr, socket2::Type::DGRAM, n > 1).and_then(|s| UdpSocket::from_std(s.into()));
            udp.push(s.map_err(|e| (addr, e))?);
        }
        let tcp = bind_socket(addr, socket2::Type::STREAM, false)
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
fn bind_socket(addr: SocketAddr, ty: socket2::Type, reuse_port: bool) -> std::io::Result<socket2::Socket> {
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), ty, None)?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
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
    /// What a config reload changes in the answers and connections.
    settings: arc_swap::ArcSwap<Settings>,
    tcp_conns: Arc<tcp::TcpConns>,
    /// Connections closed at accept (per-client limit, or all slots busy), for the log.
    tcp_refused: RateLog,
    /// Refused NOTIFYs, for the log (anyone can send them).
    notify_refused_log: RateLog,
    transfer_out: xfr_out::TransferOut,
}

/// The `[dns]` settings read per query or connection.
struct Settings {
    query: QueryConfig,
    tcp_idle: Duration,
    tcp_lifetime: Duration,
}

impl Settings {
    fn new(d: &DnsConfig) -> Arc<Settings> {
        let query = QueryConfig {
            max_udp_payload: d.max_udp_payload,
            version: d.version.clone(),
            identity: d.identity.clone(),
            nsid: d.nsid.clone().map(String::into_bytes),
        };
        Arc::new(Settings { query, tcp_idle: d.tcp_idle_timeout, tcp_lifetime: d.tcp_max_lifetime })
    }
}

impl DnsServer {
    pub fn new(engine: Arc<Engine>, stats: Arc<DnsStats>) -> Arc<DnsServer> {
        let config = engine.config();
        let d = &config.dns;
        let tcp_conns = tcp::TcpConns::new(d.tcp_connections, d.tcp_connections_per_client);
        let transfer_out = xfr_out::TransferOut::new(d.transfer_out);
        Arc::new(DnsServer {
            engine,
            stats,
            settings: arc_swap::ArcSwap::new(Settings::new(d)),
            tcp_conns,
            tcp_refused: RateLog::default(),
            notify_refused_log: RateLog::default(),
            transfer_out,
        })
    }

    /// Puts a reloaded `[dns]` in force (all but `listen` and `workers`,
    /// which need a restart): answers, connection limits and timeouts,
    /// outgoing transfer limits, rate limiting. Open connections keep the
    /// timeouts they began with.
    pub fn reconfigure(&self, d: &DnsConfig) {
        self.settings.store(Settings::new(d));
        self.tcp_conns.set_limits(d.tcp_connections, d.tcp_connections_per_client);
        self.transfer_out.set_limits(d.transfer_out);
        self.stats.rrl.set_config(d.rate_limit);
    }

    /// Serves the listeners until `shutdown` turns true.
    pub async fn serve(self: Arc<Self>, listeners: Vec<Listener>, mut shutdown: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        // The UDP loops hold no state worth a goodbye: they are aborted at
        // shutdown rather than polling the shutdown signal on every datagram.
        let mut udp = JoinSet::new();
        for l in listeners {
            tracing::info!(addr = %l.addr, "DNS listening (UDP and TCP) for queries and NOTIFY");
            for sock in l.udp {
                udp.spawn(self.clone().serve_udp(sock));
            }
            let (me, rx) = (self.clone(), shutdown.clone());
            tasks.spawn(me.serve_tcp(l.tcp, rx));
        }
        let _ = shutdown.wait_for(|s| *s).await;
        udp.abort_all();
        while udp.join_next().await.is_some() {}
        while tasks.join_next().await.is_some() {}
    }

    /// One log line per [`RRL_LOG_EVERY`] at most while responses are being limited.
    fn note_rate_limited(&self, last: &mut Option<std::time::Instant>) {
        let now = std::time::Instant::now();
        if last.is_none_or(|t| now.duration_since(t) >= RRL_LOG_EVERY) {
            *last = Some(now);
            tracing::warn!(
                dropped = self.stats.rrl.dropped.load(Ordering::Relaxed),
                slipped = self.stats.rrl.slipped.load(Ordering::Relaxed),
                "response rate limiting is dropping UDP answers (totals since start)"
            );
        }
    }

    async fn serve_tcp(self: Arc<Self>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let mut conns = JoinSet::new();
        loop {
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
            let ip = crate::store::notify_acl::canonical_ip(src.ip());
            let slot = match self.tcp_conns.admit(ip, std::time::Instant::now()) {
                Ok((slot, evicted)) => {
                    if let Some(idle) = evicted {
                        tracing::debug!(client = %src, closed = %idle, "all TCP slots taken: the longest-idle connection closed");
                    }
                    slot
                }
                Err(why) => {
                    if let Some(count) = self.tcp_refused.tick() {
                        tracing::warn!(client = %src, reason = ?why, count,
                            "TCP connections closed at once (per-client limit, or every slot busy); count since the last line");
                    }
                    continue;
                }
            };
            // Answers and transfer messages go out as soon as they are
            // written: Nagle would hold a transfer's last, short segment back
            // for the client's delayed ACK (40 ms).
            let _ = stream.set_nodelay(true);
            let me = self.clone();
            conns.spawn(async move {
                let close = slot.close.clone();
                tokio::select! {
                    _ = me.serve_connection(stream, src, &slot) => {}
                    _ = close.notified() => {}
                }
            });
            while conns.try_join_next().is_some() {}
        }
        conns.abort_all();
    }

    async fn serve_connection(&self, mut stream: TcpStream, src: SocketAddr, slot: &tcp::Slot) {
        let opened = tokio::time::Instant::now();
        let (tcp_idle, tcp_lifetime) = {
            let s = self.settings.load();
            (s.tcp_idle, s.tcp_lifetime)
        };
        let closes_at = opened + tcp_lifetime;
        loop {
            // Idle (evictable) until a whole request is in; never past the lifetime.
            slot.set_idle(true);
            let deadline = (tokio::time::Instant::now() + tcp_idle).min(closes_at);
            let mut len = [0u8; 2];
            match tokio::time::timeout_at(deadline, stream.read_exact(&mut len)).await {
                Ok(Ok(_)) => {}
                _ => return,
            }
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            let deadline = (tokio::time::Instant::now() + tcp_idle).min(closes_at);
            match tokio::time::timeout_at(deadline, stream.read_exact(&mut msg)).await {
                Ok(Ok(_)) => {}
                _ => return,
            }
            slot.set_idle(false);
            if let Some(request) = transfer_request(&msg) {
                if self.transfer_out(&request, &msg, src, &mut stream).await {
                    continue;
                }
                return;
            }
            if let Some(reply) = self.handle(&msg, src, true).await {
                // Answers are built to fit; should one not, SERVFAIL rather than a broken stream.
                let frame = tcp_frame(&reply).or_else(|| {
                    tracing::error!(%src, bytes = reply.len(), "a TCP answer over 65,535 bytes; SERVFAIL sent instead");
                    tcp_frame(&wire::parse_message(&msg).ok().map(|m| wire::build_response(&m, rcode::SERVFAIL))?)
                });
                let Some(frame) = frame else { return };
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Answers one DNS message from `src`; `None` means drop it. Over UDP an
    /// error answer is never larger than the request ([`fit_udp_error`]).
    pub async fn handle(&self, bytes: &[u8], src: SocketAddr, tcp: bool) -> Option<Vec<u8>> {
        let reply = self.handle_message(bytes, src, tcp).await?;
        if tcp {
            Some(reply)
        } else {
            fit_udp_error(reply, bytes)
        }
    }

    async fn handle_message(&self, bytes: &[u8], src: SocketAddr, tcp: bool) -> Option<Vec<u8>> {
        let msg = match wire::parse_message(bytes) {
            Ok(m) if !m.header.is_response() => m,
            Ok(_) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%src, error = %e, "malformed DNS message");
                return formerr_header(bytes);
            }
        };
        match msg.header.opcode() {
            opcode::QUERY if !tcp && is_transfer(&msg) => {
                if msg.questions.first().is_some_and(|q| q.qtype == rtype::IXFR) {
                    Some(self.ixfr_udp(&msg, bytes, src))
                } else {
                    self.stats.transfers_out_refused.fetch_add(1, Ordering::Relaxed);
                    Some(wire::build_response(&msg, rcode::FORMERR))
                }
            }
            opcode::QUERY => {
                // A signed query (a downstream's SOA check) gets a signed answer.
                let keys = self.engine.keys();
                let signed = match &msg.tsig {
                    Some(t) => {
                        let now = wire::tsig::unix_now();
                        let lookup = |n: &wire::Name| crate::zone::key_named(&keys, n);
                        match wire::tsig::verify_request(lookup, bytes, &msg, now) {
                            Ok(found) => Some(found),
                            Err(e) => {
                                tracing::debug!(%src, error = %e, "signed query refused");
                                self.stats.count_rcode(rcode::NOTAUTH);
                                let mut reply = wire::build_response(&msg, rcode::NOTAUTH);
                                let _ = e.append_tsig(&mut reply, t, now);
                                return Some(reply);
                            }
                        }
                    }
                    None => None,
                };
                // The answer leaves room for our TSIG within the size limit.
                let room = signed.as_ref().map_or(0, |(key, _)| wire::tsig::signature_len(key));
                let (reply, outcome) = query::respond(&self.engine.views, &self.settings.load().query, &msg, tcp, room);
                match outcome {
                    Outcome::Answered(code) => self.stats.count_rcode(code),
                    Outcome::Refused => self.stats.count_rcode(rcode::REFUSED),
                }
                match signed {
                    Some((key, mac)) => {
                        Some(wire::tsig::sign_response(key, &mac, &reply, wire::tsig::unix_now()).unwrap_or(reply))
                    }
                    None => Some(reply),
                }
            }
            opcode::NOTIFY => Some(self.notify(&msg, bytes, src).await),
            _ => {
                self.stats.not_implemented.fetch_add(1, Ordering::Relaxed);
                Some(wire::build_response(&msg, rcode::NOTIMP))
            }
        }
    }
}

/// A message with its TCP length prefix (RFC 1035 §4.2.2); `None` for a
/// message over 65,535 bytes, which the prefix cannot count (sending it with
/// its length cut to 16 bits would desynchronise the stream).
fn tcp_frame(msg: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(msg.len()).ok()?;
    let mut frame = Vec::with_capacity(msg.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(msg);
    Some(frame)
}

/// A high-rate event's log lines, at most one per [`RRL_LOG_EVERY`]: each says
/// how many events it stands for.
#[derive(Default)]
pub(crate) struct RateLog {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    count: AtomicU64,
}

impl RateLog {
    /// Counts one event; `Some(events since the last line)` when a line may be logged now.
    pub(crate) fn tick(&self) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let now = std::time::Instant::now();
        // Never waits: another thread deciding right now stands for this event too.
        let Ok(mut last) = self.last.try_lock() else { return None };
        if last.is_some_and(|t| now.duration_since(t) < RRL_LOG_EVERY) {
            return None;
        }
        *last = Some(now);
        Some(self.count.swap(0, Ordering::Relaxed))
    }
}

/// Whether a message asks for a zone transfer (AXFR or IXFR).
fn is_transfer(msg: &wire::Message) -> bool {
    msg.header.opcode() == opcode::QUERY
        && msg.questions.len() == 1
        && msg.questions.iter().all(|q| matches!(q.qtype, rtype::AXFR | rtype::IXFR))
}

/// The parsed request when a TCP message asks for a zone transfer.
fn transfer_request(bytes: &[u8]) -> Option<wire::Message> {
    // Cheap test first: QDCOUNT 1 and the question's type, without a parse.
    if bytes.len() < 12 || bytes[2] & 0x80 != 0 || bytes[4..6] != [0, 1] {
        return None;
    }
    let end = wire::skip_uncompressed_name(bytes, 12)?;
    let qtype = u16::from_be_bytes([*bytes.get(end)?, *bytes.get(end + 1)?]);
    if !matches!(qtype, rtype::AXFR | rtype::IXFR) {
        return None;
    }
    wire::parse_message(bytes).ok().filter(is_transfer)
}

/// A reply cut to its header and question with TC set (a rate limiter's
/// "slip": the client retries over TCP).
fn truncated(reply: &[u8]) -> Option<Vec<u8>> {
    let qd = u16::from_be_bytes([*reply.get(4)?, *reply.get(5)?]);
    let mut end = 12;
    for _ in 0..qd {
        end = wire::skip_uncompressed_name(reply, end)? + 4;
    }
    let mut out = reply.get(..end)?.to_vec();
    out[2] |= 0x02;
    out[6..12].fill(0);
    Some(out)
}

/// The last word on an error answer over UDP: one that is larger than its
/// request (a reflection amplifier from any spoofed source) is cut to its
/// header and first question, or to the bare 12-byte header when even that
/// would be larger. An error of an extended RCODE (BADVERS: 0 in the header,
/// the rest in the OPT) keeps its OPT, without options, so it still says what
/// it is. Answers to queries (NOERROR, NXDOMAIN, or any with records from a
/// zone) are left alone (RRL is their limit), and so are answers we signed:
/// we sign only after the request's MAC verified, so their sender holds the
/// key.
///
/// The echoed question can be larger than the request's: a query's name may
/// be a compression pointer (into its own header, even), ours is written out.
fn fit_udp_error(reply: Vec<u8>, request: &[u8]) -> Option<Vec<u8>> {
    if reply.len() <= request.len() {
        return Some(reply);
    }
    let (flags, code) = (*reply.get(2)?, u16::from(*reply.get(3)? & 0x0f));
    let query = (flags >> 3) & 0x0f == opcode::QUERY;
    // An answer from a zone (a CNAME loop's SERVFAIL and a DNAME's YXDOMAIN carry records too).
    let has_records = reply.get(6..10).is_some_and(|c| c.iter().any(|&b| b != 0));
    if query && has_records {
        return Some(reply);
    }
    let parsed = wire::parse_message(&reply).ok();
    // The upper 8 bits of the RCODE (RFC 6891 §6.1.3), in the OPT's TTL.
    let ext_rcode = parsed.as_ref().and_then(|m| m.opt.as_ref()).map_or(0, |o| (o.ttl >> 24) as u8);
    if query && ext_rcode == 0 && matches!(code, rcode::NOERROR | rcode::NXDOMAIN) {
        return Some(reply);
    }
    if parsed.as_ref().is_some_and(|m| m.tsig.as_ref().is_some_and(|t| !t.mac.is_empty())) {
        return Some(reply);
    }
    // An extended RCODE's OPT, as the writer puts it: root owner, no options.
    let opt = parsed.as_ref().and_then(|m| m.opt.as_ref()).filter(|_| ext_rcode != 0).map(|o| {
        let mut b = vec![0u8];
        b.extend_from_slice(&wire::rtype::OPT.to_be_bytes());
        b.extend_from_slice(&o.class.to_be_bytes());
        b.extend_from_slice(&o.ttl.to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        b
    });
    let opt_len = opt.as_ref().map_or(0, Vec::len);
    let qd = u16::from_be_bytes([*reply.get(4)?, *reply.get(5)?]);
    let question_end = if qd == 0 { None } else { wire::skip_uncompressed_name(&reply, 12).map(|e| e + 4) };
    let mut out = match question_end.filter(|&e| e + opt_len <= request.len() && e <= reply.len()) {
        Some(end) => {
            let mut out = reply.get(..end)?.to_vec();
            out[4..6].copy_from_slice(&1u16.to_be_bytes());
            out
        }
        None => {
            let mut out = reply.get(..12)?.to_vec();
            out[4..6].fill(0);
            out
        }
    };
    out[6..12].fill(0);
    if let Some(opt) = opt.filter(|o| out.len() + o.len() <= request.len()) {
        out.extend_from_slice(&opt);
        out[10..12].copy_from_slice(&1u16.to_be_bytes());
    }
    (out.len() <= request.len()).then_some(out)
}

/// FORMERR for a request whose header is readable (RFC 1035 §4.1.1): the bare
/// 12-byte header, so never more than the request; `None` for a response or a
/// fragment shorter than a header.
fn formerr_header(bytes: &[u8]) -> Option<Vec<u8>> {
    let h = bytes.get(..12)?;
    if h[2] & 0x80 != 0 {
        return None;
    }
    let mut out = vec![0u8; 12];
    out[..2].copy_from_slice(&h[..2]);
    out[2] = 0x80 | (h[2] & 0x79);
    out[3] = rcode::FORMERR as u8;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tcp_framing_refuses_a_message_its_length_cannot_count() {
        assert_eq!(tcp_frame(&[7u8; 65_535]).map(|f| (f.len(), f[0], f[1])), Some((65_537, 0xff, 0xff)));
        assert!(tcp_frame(&vec![0u8; 65_536]).is_none(), "not sent with its length wrapped to 0");
    }

    #[test]
    fn an_oversized_error_answer_over_udp_is_cut_to_its_first_question_or_header() {
        let name = wire::Name::from_ascii("a-long-name.example.test").unwrap_or_else(|_| wire::Name::root());
        let request = wire::build_query(9, &name, rtype::A, None);
        let mut reply = request.clone();
        reply[2] |= 0x80 | (2 << 3); // a NOTIMP-like error, opcode 2
        reply[3] = rcode::NOTIMP as u8;
        reply.extend_from_slice(&[0u8; 40]);
        let cut = fit_udp_error(reply.clone(), &request).unwrap_or_default();
        assert_eq!(cut.len(), request.len());
        let cut = fit_udp_error(reply, &request[..20]).unwrap_or_default();
        assert_eq!((cut.len(), cut[5]), (12, 0));
    }

    /// Found by the fuzzer (`cargo bench --bench fuzz`, target handler): a
    /// query whose name is a pointer into its own header (`a.` from its ID)
    /// with EDNS version 1 got a BADVERS answer one byte larger than itself,
    /// the question written out; BADVERS has 0 in the header's RCODE, so the
    /// cut took it for NOERROR.
    #[test]
    fn a_badvers_answer_over_udp_is_never_larger_than_a_query_with_a_compressed_name() {
        let mut request = vec![0x01, b'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0xc0, 0x00, 0, 1, 0, 1];
        request.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0]);
        let msg = wire::parse_message(&request).expect("a query");
        assert_eq!(msg.questions[0].name.to_string(), "a.");
        let cfg = QueryConfig { max_udp_payload: 1232, version: None, identity: None, nsid: None };
        let views = crate::view::Views::new();
        let (reply, _) = query::respond(&views, &cfg, &msg, false, 0);
        assert_eq!(reply.len(), request.len() + 1, "the question is written out");
        let cut = fit_udp_error(reply, &request).expect("an answer");
        assert!(cut.len() <= request.len(), "{} bytes to a request of {}", cut.len(), request.len());
        let m = wire::parse_message(&cut).expect("the cut answer parses");
        let opt = m.opt.expect("BADVERS keeps its OPT");
        assert_eq!((m.header.flags & 0x0f, opt.ttl >> 24), (0, 1), "BADVERS is 16: 0 in the header, 1 in the OPT");
    }
}
