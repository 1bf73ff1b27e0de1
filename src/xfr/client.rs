//! The thin I/O around the sans-IO parts: a SOA query over UDP (TCP on truncation) and an
//! AXFR/IXFR over TCP.
//!
//! Everything protocol-specific lives in [`super::interpret`], [`super::tsig`] and
//! [`super::wire`]; this file only moves bytes, enforces time limits, and hands updates to the
//! storing task through a bounded channel with `send().await`, so a slow store slows the transfer
//! down (TCP flow control reaches the primary) instead of dropping data.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{timeout, timeout_at, Instant};
use tracing::debug;

use super::error::{Peer, QueryKind, XfrError};
use super::interpret::{Interpreter, Limits, Outcome, Progress, Request, Update};
use crate::wire::tsig::{sign_request, unix_now, StreamVerifier, TsigKey};
use crate::wire::{add_expire_request, build_query, class, opcode, parse_message, rtype, Message, Name, Record};

/// Updates are handed over in batches of about this many, to keep channel overhead per record
/// low while still streaming.
const BATCH: usize = 1024;

/// Time limits and size limits of one transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferOptions {
    pub connect_timeout: Duration,
    /// Longest wait for the next message (RFC 5936 §4.1 leaves this to the client).
    pub idle_timeout: Duration,
    /// Longest the whole transfer may take, including time spent waiting for the store to take
    /// updates.
    pub total_timeout: Duration,
    pub limits: Limits,
}

impl Default for TransferOptions {
    /// 10 s to connect, 30 s between messages, 2 h in all (BIND's `max-transfer-time-in` is
    /// 120 min), no size limits.
    fn default() -> TransferOptions {
        TransferOptions {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(2 * 3600),
            limits: Limits::NONE,
        }
    }
}

/// What a completed transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub outcome: Outcome,
    pub messages: u32,
    /// DNS message bytes received (without the 2-byte TCP length prefixes).
    pub bytes: u64,
    pub duration: Duration,
    /// The primary's remaining expire time for the zone (RFC 7314), when it
    /// gave one.
    pub edns_expire: Option<u32>,
}

/// The primary's SOA for the zone (RFC 1035 §3.3.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoaAnswer {
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
    pub record: Record,
    /// The primary's remaining expire time for the zone (RFC 7314): the SOA
    /// EXPIRE from the zone's primary, less from a secondary of it.
    pub edns_expire: Option<u32>,
}

/// Whether a query carries an OPT asking for EDNS EXPIRE (RFC 7314). Every
/// query does first; a primary that answers FORMERR or NOTIMP to it (one
/// that predates EDNS, RFC 6891 §7) is asked again without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edns {
    Expire,
    Off,
}

/// Whether an error is a primary refusing the EDNS query itself.
fn refuses_edns(e: &XfrError) -> bool {
    matches!(e, XfrError::Rcode { rcode: 1 | 4, message: 1, .. })
}

/// A fresh random query ID (RFC 5452 §9.2), from the OS generator.
fn random_id() -> u16 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 2];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // The OS generator does not fail in practice; the time's low bits are a weak but
        // harmless fallback over TCP, and over UDP the primary's answer is still checked.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        return (nanos ^ (nanos >> 16)) as u16;
    }
    u16::from_be_bytes(b)
}

/// Builds (and signs, with a key) a query; returns the bytes and the TSIG request MAC.
fn make_query(
    id: u16,
    zone: &Name,
    qtype: u16,
    ixfr_serial: Option<u32>,
    key: Option<&TsigKey>,
    primary: SocketAddr,
    edns: Edns,
) -> Result<(Vec<u8>, Option<Vec<u8>>), XfrError> {
    let mut q = build_query(id, zone, qtype, ixfr_serial);
    if edns == Edns::Expire {
        add_expire_request(&mut q);
    }
    let mac = match key {
        Some(k) => Some(
            sign_request(&mut q, k, unix_now())
                .map_err(|error| XfrError::Tsig { primary: Peer(Some(primary)), error })?,
        ),
        None => None,
    };
    Ok((q, mac))
}

/// Asks `primary` for the SOA of `zone` (the refresh check of RFC 1034 §4.3.5): over UDP, again
/// over TCP when the answer is truncated. The datagram is resent after a third and two thirds of
/// `timeout`, which bounds the whole query. The query asks for EDNS EXPIRE (RFC 7314), and again
/// without EDNS if the primary refuses EDNS.
pub async fn query_soa(
    primary: SocketAddr,
    zone: &Name,
    key: Option<&TsigKey>,
    timeout: Duration,
) -> Result<SoaAnswer, XfrError> {
    match query_soa_once(primary, zone, key, timeout, Edns::Expire).await {
        Err(e) if refuses_edns(&e) => {
            debug!(%primary, zone = %zone, "the primary refuses EDNS; asking for the SOA without it");
            query_soa_once(primary, zone, key, timeout, Edns::Off).await
        }
        r => r,
    }
}

async fn query_soa_once(
    primary: SocketAddr,
    zone: &Name,
    key: Option<&TsigKey>,
    timeout: Duration,
    edns: Edns,
) -> Result<SoaAnswer, XfrError> {
    let deadline = Instant::now() + timeout;
    let id = random_id();
    let (query, mac) = make_query(id, zone, rtype::SOA, None, key, primary, edns)?;
    let io = |error| XfrError::Io { primary, error };
    let local: SocketAddr =
        if primary.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let sock = UdpSocket::bind(local).await.map_err(io)?;
    sock.connect(primary).await.map_err(io)?;
    let mut buf = vec![0u8; 65535];
    for attempt in 1..=3u32 {
        sock.send(&query).await.map_err(io)?;
        let resend_at = Instant::now() + timeout / 3;
        let until = if attempt == 3 { deadline } else { resend_at.min(deadline) };
        loop {
            let n = match timeout_at(until, sock.recv(&mut buf)).await {
                Err(_) => break,
                Ok(r) => r.map_err(io)?,
            };
            let bytes = &buf[..n];
            // Anything without our ID is a stray datagram (or a spoof); keep waiting.
            if crate::wire::message_id(bytes) != Some(id) {
                continue;
            }
            let msg = parse_message(bytes).map_err(|error| XfrError::Malformed {
                primary: Peer(Some(primary)),
                message: 1,
                error,
            })?;
            if msg.header.tc() {
                debug!(%primary, zone = %zone, "SOA answer truncated, asking again over TCP");
                return timeout_at(deadline, query_soa_tcp(primary, zone, key, &query, mac, id))
                    .await
                    .map_err(|_| XfrError::SoaTimeout { primary, after: timeout })?;
            }
            return check_soa_answer(bytes, msg, zone, id, key, mac.as_deref()).map_err(|e| e.with_primary(primary));
        }
    }
    Err(XfrError::SoaTimeout { primary, after: timeout })
}

async fn query_soa_tcp(
    primary: SocketAddr,
    zone: &Name,
    key: Option<&TsigKey>,
    query: &[u8],
    mac: Option<Vec<u8>>,
    id: u16,
) -> Result<SoaAnswer, XfrError> {
    let io = |error| XfrError::Io { primary, error };
    let mut stream = TcpStream::connect(primary).await.map_err(|error| XfrError::Connect { primary, error })?;
    stream.write_all(&frame(query)?).await.map_err(io)?;
    let bytes = match read_frame(&mut stream, &mut Vec::new()).await {
        Ok(Some(b)) => b,
        Ok(None) => return Err(XfrError::Closed { primary, messages: 0 }),
        Err(e) => return Err(io(e)),
    };
    if bytes.is_empty() {
        return Err(XfrError::EmptyFrame { primary, messages: 0 });
    }
    let msg = parse_message(&bytes).map_err(|error| XfrError::Malformed {
        primary: Peer(Some(primary)),
        message: 1,
        error,
    })?;
    check_soa_answer(&bytes, msg, zone, id, key, mac.as_deref()).map_err(|e| e.with_primary(primary))
}

/// The sanity checks of a SOA answer: ours (ID, question), signed when we signed, NOERROR,
/// authoritative (AA, RFC 1035 §4.1.1), and holding the zone's SOA.
fn check_soa_answer(
    bytes: &[u8],
    msg: Message,
    zone: &Name,
    id: u16,
    key: Option<&TsigKey>,
    mac: Option<&[u8]>,
) -> Result<SoaAnswer, XfrError> {
    let h = msg.header;
    let peer = Peer(None);
    if !h.is_response() || h.opcode() != opcode::QUERY {
        return Err(XfrError::NotAnAnswer { primary: peer, message: 1, why: "that is not an answer to a QUERY" });
    }
    if h.id != id {
        return Err(XfrError::WrongId { primary: peer, message: 1, expected: id, got: h.id });
    }
    match (key, mac) {
        (Some(k), Some(mac)) => {
            let mut v = StreamVerifier::new(k, mac, id);
            v.verify(bytes, &msg)
                .and_then(|()| if h.rcode() == 0 { v.finish() } else { Ok(()) })
                .map_err(|error| XfrError::Tsig { primary: peer, error })?;
        }
        _ => unasked_signature(&msg, 1).map_err(|error| XfrError::Tsig { primary: peer, error })?,
    }
    if h.rcode() != 0 {
        return Err(XfrError::Rcode { primary: peer, query: QueryKind::Soa, rcode: h.rcode(), message: 1 });
    }
    match msg.questions.as_slice() {
        [q] if q.name == *zone && q.qtype == rtype::SOA && q.qclass == class::IN => {}
        _ => {
            return Err(XfrError::Question {
                primary: peer,
                message: 1,
                expected: format!("{zone} IN SOA"),
                got: msg
                    .questions
                    .iter()
                    .map(|q| format!("{} {}", q.name, crate::wire::text::type_name(q.qtype)))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
    if !h.aa() {
        return Err(XfrError::NotAuthoritative { primary: peer, zone: zone.clone() });
    }
    let edns_expire = crate::wire::expire_option(&msg);
    let record = msg
        .answers
        .into_iter()
        .find(|r| r.rtype == rtype::SOA && r.class == class::IN && r.owner == *zone)
        .ok_or_else(|| XfrError::NoSoa { primary: peer, zone: zone.clone() })?;
    let [serial, refresh, retry, expire, minimum] =
        record.soa_fields().ok_or_else(|| XfrError::NoSoa { primary: peer, zone: zone.clone() })?;
    Ok(SoaAnswer { serial, refresh, retry, expire, minimum, record, edns_expire })
}

/// An answer to an unsigned request must not be signed: nothing can verify
/// the signature, and taking the data as if unsigned would hide a primary
/// that expects a key we were not given.
fn unasked_signature(msg: &Message, message: u32) -> Result<(), crate::wire::tsig::TsigError> {
    match &msg.tsig {
        Some(t) => Err(crate::wire::tsig::TsigError::SignedUnasked { key: t.key_name.clone(), message }),
        None => Ok(()),
    }
}

/// Prefixes a message with its 2-byte length (RFC 1035 §4.2.2, RFC 7766 §8).
fn frame(msg: &[u8]) -> Result<Vec<u8>, XfrError> {
    let len = u16::try_from(msg.len()).map_err(|_| XfrError::TooManyBytes { limit: u64::from(u16::MAX) })?;
    let mut f = Vec::with_capacity(msg.len() + 2);
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(msg);
    Ok(f)
}

/// Reads one length-prefixed message; `Ok(None)` on a clean end of stream before the length.
async fn read_frame<R: tokio::io::AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    buf.resize(usize::from(u16::from_be_bytes(len)), 0);
    r.read_exact(buf).await?;
    Ok(Some(std::mem::take(buf)))
}

/// Transfers `zone` from `primary` (RFC 5936 AXFR, RFC 1995 IXFR) and sends the updates to `tx`
/// as they arrive, in batches, waiting for the receiver to take them.
///
/// The transfer is only valid when this returns `Ok`; on any error the caller discards what it
/// received. With `key`, the query is signed and every answer verified (RFC 8945 §5.3.1).
pub async fn transfer(
    primary: SocketAddr,
    zone: &Name,
    request: Request,
    key: Option<&TsigKey>,
    opts: &TransferOptions,
    tx: mpsc::Sender<Vec<Update>>,
) -> Result<Summary, XfrError> {
    let started = Instant::now();
    let mut stats = Stats::default();
    let deadline = started + opts.total_timeout;
    let mut result =
        timeout_at(deadline, run_transfer(primary, zone, request, key, opts, &tx, &mut stats, Edns::Expire)).await;
    if let Ok(Err(XfrError::Closed { .. } | XfrError::Io { .. })) = &result {
        if stats.reused && stats.messages == 0 {
            // The primary closed the kept connection as we asked: once more
            // on a new one.
            debug!(%primary, zone = %zone, "the kept connection was closed; asking on a new one");
            stats = Stats { fresh: true, ..Stats::default() };
            result =
                timeout_at(deadline, run_transfer(primary, zone, request, key, opts, &tx, &mut stats, Edns::Expire))
                    .await;
        }
    }
    if let Ok(Err(e)) = &result {
        // Refused at the first message: nothing was handed over yet.
        if refuses_edns(e) {
            debug!(%primary, zone = %zone, "the primary refuses EDNS; asking for the transfer without it");
            stats = Stats::default();
            result =
                timeout_at(deadline, run_transfer(primary, zone, request, key, opts, &tx, &mut stats, Edns::Off)).await;
        }
    }
    let outcome = match result {
        Ok(r) => r.map_err(|e| e.with_primary(primary))?,
        Err(_) => return Err(XfrError::TotalTimeout { primary, after: opts.total_timeout, messages: stats.messages }),
    };
    let summary = Summary {
        outcome,
        messages: stats.messages,
        bytes: stats.bytes,
        duration: started.elapsed(),
        edns_expire: stats.edns_expire,
    };
    debug!(%primary, zone = %zone, ?summary, "transfer finished");
    Ok(summary)
}

#[derive(Default)]
struct Stats {
    messages: u32,
    bytes: u64,
    /// The first EDNS EXPIRE of the answer's messages.
    edns_expire: Option<u32>,
    /// The connection was one kept from an earlier transfer (see [`super::pool`]).
    reused: bool,
    /// Take no kept connection.
    fresh: bool,
}

#[allow(clippy::too_many_arguments)]
async fn run_transfer(
    primary: SocketAddr,
    zone: &Name,
    request: Request,
    key: Option<&TsigKey>,
    opts: &TransferOptions,
    tx: &mpsc::Sender<Vec<Update>>,
    stats: &mut Stats,
    edns: Edns,
) -> Result<Outcome, XfrError> {
    let io = |error| XfrError::Io { primary, error };
    let kept = if stats.fresh { None } else { super::pool::take(primary) };
    stats.reused = kept.is_some();
    let stream = match kept {
        Some(s) => s,
        None => {
            let s = timeout(opts.connect_timeout, TcpStream::connect(primary))
                .await
                .map_err(|_| XfrError::ConnectTimeout { primary, after: opts.connect_timeout })?
                .map_err(|error| XfrError::Connect { primary, error })?;
            s.set_nodelay(true).map_err(io)?;
            s
        }
    };
    let id = random_id();
    let ixfr_serial = match request {
        Request::Ixfr { current_serial } => Some(current_serial),
        Request::Axfr => None,
    };
    let (query, mac) = make_query(id, zone, request.qtype(), ixfr_serial, key, primary, edns)?;
    let mut verifier = match (key, &mac) {
        (Some(k), Some(m)) => Some(StreamVerifier::new(k, m, id)),
        _ => None,
    };
    // Keep the write half open until we are done: some primaries stop sending on a half-close.
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(&frame(&query)?).await.map_err(io)?;
    debug!(%primary, zone = %zone, ?request, id, signed = key.is_some(), "transfer query sent");

    // Each message is read whole into `buf` (its length, then its bytes):
    // no buffer in between, so none to fill with zeros for every transfer
    // (64 KiB: 2% of the daemon's CPU while 10,000 small zones loaded), and
    // nothing read past the answer's end, so the connection can carry the
    // next transfer.
    let mut interp = Interpreter::new(zone.clone(), request, opts.limits).with_query_id(id);
    // Grown as records come: a small zone's transfer (most of them, when
    // thousands load at once) allocates for what it has, not for a batch.
    let mut pending: Vec<Update> = Vec::new();
    let mut buf = Vec::with_capacity(65535);
    loop {
        let read = timeout(opts.idle_timeout, read_frame(&mut rd, &mut buf)).await;
        let bytes = match read {
            Err(_) => return Err(XfrError::IdleTimeout { primary, after: opts.idle_timeout }),
            Ok(Ok(Some(b))) => b,
            Ok(Ok(None)) => return Err(XfrError::Closed { primary, messages: stats.messages }),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(XfrError::Closed { primary, messages: stats.messages })
            }
            Ok(Err(e)) => return Err(io(e)),
        };
        if bytes.is_empty() {
            return Err(XfrError::EmptyFrame { primary, messages: stats.messages });
        }
        stats.messages += 1;
        stats.bytes += bytes.len() as u64;
        let msg = parse_message(&bytes).map_err(|error| XfrError::Malformed {
            primary: Peer(Some(primary)),
            message: stats.messages,
            error,
        })?;
        match verifier.as_mut() {
            Some(v) => {
                v.verify(&bytes, &msg).map_err(|error| XfrError::Tsig { primary: Peer(Some(primary)), error })?
            }
            None => unasked_signature(&msg, stats.messages)
                .map_err(|error| XfrError::Tsig { primary: Peer(Some(primary)), error })?,
        }
        if stats.edns_expire.is_none() {
            stats.edns_expire = crate::wire::expire_option(&msg);
        }
        let progress = interp.feed(msg, bytes.len(), &mut pending)?;
        // Reuse the allocation for the next frame.
        buf = bytes;
        match progress {
            Progress::More => {
                if pending.len() >= BATCH {
                    let batch = std::mem::replace(&mut pending, Vec::with_capacity(2 * BATCH));
                    tx.send(batch).await.map_err(|_| XfrError::ReceiverGone)?;
                }
            }
            Progress::Done(outcome) => {
                // A NeedAxfr carries no data and may come from an unsigned error reply; the AXFR
                // that follows is verified on its own.
                if let (Some(v), false) = (&verifier, matches!(outcome, Outcome::NeedAxfr { .. })) {
                    v.finish().map_err(|error| XfrError::Tsig { primary: Peer(Some(primary)), error })?;
                }
                if !pending.is_empty() {
                    tx.send(pending).await.map_err(|_| XfrError::ReceiverGone)?;
                }
                // The answer is complete and nothing past it was read, so
                // the connection can carry the next transfer.
                if let Ok(stream) = rd.reunite(wr) {
                    super::pool::put(primary, stream);
                }
                return Ok(outcome);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::wire::tsig::{sign_response, Algorithm};
    use crate::wire::Header;
    use crate::xfr::interpret::tests::{a, answer_bytes, name, soa};
    use tokio::net::TcpListener;

    /// What the fake primary does after reading the query.
    enum Act {
        /// An answer with these records, carrying the query's ID.
        Answer(u16, Vec<Record>),
        /// The same, TSIG-signed as a single-message answer with the key.
        Signed(Vec<Record>, TsigKey),
        Raw(Vec<u8>),
        Stall,
    }

    /// Listens on a free port, serves one TCP connection with `acts`, then closes it.
    async fn fake_primary(acts: Vec<Act>) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let query = read_frame(&mut s, &mut Vec::new()).await.unwrap().unwrap();
            let q = parse_message(&query).unwrap();
            for act in acts {
                let mut bytes = match act {
                    Act::Answer(qtype, recs) => answer_bytes(qtype, 0, &recs),
                    Act::Signed(recs, key) => {
                        let mut b = answer_bytes(rtype::AXFR, 0, &recs);
                        b[..2].copy_from_slice(&q.header.id.to_be_bytes());
                        let mac = q.tsig.as_ref().map(|t| t.mac.clone()).unwrap_or_default();
                        sign_response(&key, &mac, &b, unix_now()).unwrap()
                    }
                    Act::Raw(b) => b,
                    Act::Stall => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        return;
                    }
                };
                if bytes.len() >= 2 {
                    bytes[..2].copy_from_slice(&q.header.id.to_be_bytes());
                }
                let mut f = (bytes.len() as u16).to_be_bytes().to_vec();
                f.extend_from_slice(&bytes);
                if s.write_all(&f).await.is_err() {
                    return;
                }
            }
        });
        addr
    }

    fn opts() -> TransferOptions {
        TransferOptions {
            connect_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_millis(300),
            total_timeout: Duration::from_secs(5),
            limits: Limits::NONE,
        }
    }

    async fn run(
        addr: SocketAddr,
        request: Request,
        key: Option<&TsigKey>,
    ) -> (Result<Summary, XfrError>, Vec<Update>) {
        let (tx, mut rx) = mpsc::channel(4);
        let collect = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(batch) = rx.recv().await {
                all.extend(batch);
            }
            all
        });
        let r = transfer(addr, &name("example.test"), request, key, &opts(), tx).await;
        (r, collect.await.unwrap())
    }

    #[tokio::test]
    async fn axfr_from_a_primary_arrives_complete_through_the_channel() {
        let mut big: Vec<Record> = (0..3000).map(|i| a(&format!("h{i}.example.test"), (i % 250) as u8)).collect();
        big.insert(0, soa(7));
        let tail = big.split_off(1500);
        let addr =
            fake_primary(vec![Act::Answer(rtype::AXFR, big), Act::Answer(rtype::AXFR, [tail, vec![soa(7)]].concat())])
                .await;
        let (r, updates) = run(addr, Request::Axfr, None).await;
        let s = r.unwrap();
        assert_eq!(s.outcome, Outcome::Full { serial: 7, records: 3001 });
        assert_eq!(s.messages, 2);
        assert_eq!(updates.len(), 3002);
        assert_eq!(updates[0], Update::BeginFull);
        assert_eq!(updates[1], Update::Add(soa(7)));
    }

    /// A primary of before EDNS (RFC 6891 §7): FORMERR to any query with an
    /// OPT, the zone to one without. Serves two connections.
    async fn pre_edns_primary() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = l.accept().await.unwrap();
                let query = read_frame(&mut s, &mut Vec::new()).await.unwrap().unwrap();
                let q = parse_message(&query).unwrap();
                let mut bytes = if q.opt.is_some() {
                    crate::wire::build_response(&q, crate::wire::rcode::FORMERR)
                } else {
                    answer_bytes(rtype::AXFR, 0, &[soa(7), a("a.example.test", 1), soa(7)])
                };
                bytes[..2].copy_from_slice(&q.header.id.to_be_bytes());
                let mut f = (bytes.len() as u16).to_be_bytes().to_vec();
                f.extend_from_slice(&bytes);
                let _ = s.write_all(&f).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_primary_that_refuses_edns_is_asked_again_without_it() {
        let (r, updates) = run(pre_edns_primary().await, Request::Axfr, None).await;
        let s = r.unwrap();
        assert_eq!(s.outcome, Outcome::Full { serial: 7, records: 2 });
        assert_eq!((s.messages, s.edns_expire), (1, None));
        assert_eq!(updates.len(), 3);
    }

    #[tokio::test]
    async fn the_expire_option_of_an_answer_is_kept_and_a_malformed_one_ignored() {
        let mut q = build_query(1, &name("example.test"), rtype::SOA, None);
        add_expire_request(&mut q);
        let parsed = parse_message(&q).unwrap();
        assert_eq!(crate::wire::edns_options(&parsed).collect::<Vec<_>>(), vec![(crate::wire::OPTION_EXPIRE, &[][..])]);
        assert_eq!(crate::wire::expire_option(&parsed), None, "a request carries no value");
        let with_value = |data: &[u8]| {
            let mut m = parsed.clone();
            let mut rdata = crate::wire::OPTION_EXPIRE.to_be_bytes().to_vec();
            rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
            rdata.extend_from_slice(data);
            m.opt.as_mut().unwrap().rdata = rdata;
            crate::wire::expire_option(&m)
        };
        assert_eq!(with_value(&86_400u32.to_be_bytes()), Some(86_400));
        assert_eq!(with_value(&[0, 1, 2]), None);
    }

    #[tokio::test]
    async fn a_primary_closing_mid_transfer_is_reported_with_the_message_count() {
        let addr = fake_primary(vec![Act::Answer(rtype::AXFR, vec![soa(7), a("a.example.test", 1)])]).await;
        let (r, _) = run(addr, Request::Axfr, None).await;
        assert_eq!(
            r.unwrap_err().to_string(),
            format!("primary {addr} closed the connection after 1 message, before the closing SOA")
        );
    }

    #[tokio::test]
    async fn a_silent_primary_hits_the_idle_timeout() {
        let addr = fake_primary(vec![Act::Answer(rtype::AXFR, vec![soa(7)]), Act::Stall]).await;
        let (r, _) = run(addr, Request::Axfr, None).await;
        assert_eq!(
            r.unwrap_err().to_string(),
            format!("timed out after 300 ms waiting for the next message from primary {addr}")
        );
    }

    #[tokio::test]
    async fn a_zero_length_frame_is_refused() {
        let addr = fake_primary(vec![Act::Raw(vec![])]).await;
        let (r, _) = run(addr, Request::Axfr, None).await;
        assert_eq!(r.unwrap_err().to_string(), format!("primary {addr} sent a frame of 0 bytes after 0 messages"));
    }

    #[tokio::test]
    async fn an_up_to_date_ixfr_ends_on_the_single_soa_without_waiting_for_close() {
        let addr = fake_primary(vec![Act::Answer(rtype::IXFR, vec![soa(7)]), Act::Stall]).await;
        let (r, updates) = run(addr, Request::Ixfr { current_serial: 7 }, None).await;
        assert_eq!(r.unwrap().outcome, Outcome::UpToDate { serial: 7 });
        assert!(updates.is_empty());
    }

    #[tokio::test]
    async fn a_refused_axfr_is_reported_with_its_rcode() {
        let mut refused = answer_bytes(rtype::AXFR, 5, &[]);
        refused[2] |= 0x80;
        let addr = fake_primary(vec![Act::Raw(refused)]).await;
        let (r, _) = run(addr, Request::Axfr, None).await;
        assert_eq!(r.unwrap_err().to_string(), format!("primary {addr} answered AXFR with REFUSED"));
    }

    #[tokio::test]
    async fn a_dropped_receiver_stops_the_transfer() {
        let addr = fake_primary(vec![Act::Answer(rtype::AXFR, vec![soa(7), a("a.example.test", 1), soa(7)])]).await;
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let r = transfer(addr, &name("example.test"), Request::Axfr, None, &opts(), tx).await;
        assert!(matches!(r, Err(XfrError::ReceiverGone)));
    }

    #[tokio::test]
    async fn a_signed_transfer_verifies_and_an_unsigned_one_is_refused() {
        let key = TsigKey { name: name("xfr-key"), algorithm: Algorithm::HmacSha256, secret: b"secret!".to_vec() };
        let zone = vec![soa(7), a("a.example.test", 1), soa(7)];
        let addr = fake_primary(vec![Act::Signed(zone.clone(), key.clone())]).await;
        let (r, _) = run(addr, Request::Axfr, Some(&key)).await;
        assert_eq!(r.unwrap().outcome, Outcome::Full { serial: 7, records: 2 });

        let addr = fake_primary(vec![Act::Answer(rtype::AXFR, zone)]).await;
        let (r, _) = run(addr, Request::Axfr, Some(&key)).await;
        assert_eq!(
            r.unwrap_err().to_string(),
            format!("primary {addr} sent message #1 without TSIG although we expect key `xfr-key.`")
        );
    }

    #[tokio::test]
    async fn connecting_to_a_closed_port_names_the_primary() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let (r, _) = run(addr, Request::Axfr, None).await;
        assert!(r.unwrap_err().to_string().starts_with(&format!("could not connect to primary {addr}: ")));
    }

    /// A UDP server that answers with TC set, and a TCP server on the same port with the SOA.
    #[tokio::test]
    async fn a_truncated_soa_answer_is_retried_over_tcp() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let udp = UdpSocket::bind(addr).await.unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, from) = udp.recv_from(&mut buf).await.unwrap();
            let mut h = Header {
                flags: 0x8600,
                ancount: 0,
                nscount: 0,
                arcount: 0,
                ..parse_message(&buf[..n]).unwrap().header
            };
            h.qdcount = 0;
            udp.send_to(&h.to_bytes(), from).await.unwrap();
        });
        let acts = vec![Act::Answer(rtype::SOA, vec![soa(2024)])];
        tokio::spawn(async move {
            let (mut s, _) = tcp.accept().await.unwrap();
            let q = read_frame(&mut s, &mut Vec::new()).await.unwrap().unwrap();
            let id = parse_message(&q).unwrap().header.id;
            for act in acts {
                if let Act::Answer(t, recs) = act {
                    let mut b = answer_bytes(t, 0, &recs);
                    b[..2].copy_from_slice(&id.to_be_bytes());
                    s.write_all(&frame(&b).unwrap()).await.unwrap();
                }
            }
        });
        let soa = query_soa(addr, &name("example.test"), None, Duration::from_secs(2)).await.unwrap();
        assert_eq!((soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum), (2024, 3600, 600, 86400, 300));
    }

    #[tokio::test]
    async fn an_unanswered_soa_query_times_out_with_a_sentence() {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let r = query_soa(addr, &name("example.test"), None, Duration::from_millis(300)).await;
        assert_eq!(
            r.unwrap_err().to_string(),
            format!("timed out after 300 ms waiting for primary {addr} to answer the SOA query")
        );
        drop(udp);
    }
}
