//! Outgoing zone transfers: AXFR (RFC 5936) and IXFR (RFC 1995) of the
//! published view, the one that answers queries, to the downstreams that
//! `[[downstream]]` allows.
//!
//! - Access is denied by default. A request is allowed when a `[[downstream]]`
//!   entry covers the client's address and the zone, and, when the entry names
//!   a `tsig_key`, the request is signed with that key. A signed request whose
//!   signature does not verify gets NOTAUTH with the TSIG error (RFC 8945
//!   §5.2); a client no entry allows gets REFUSED; each with one log line.
//! - A transfer reads one [`ZoneView`]: a version that commits meanwhile is
//!   the next transfer's, and the running one is never a mix.
//! - The messages (about 16 KiB, see [`MESSAGE_FILL`]; names compressed) are written on a blocking
//!   thread and handed to the connection through a short queue, so a large
//!   zone neither stalls the runtime's query work nor sits whole in memory.
//!   Every message of an answer to a signed request is signed (RFC 8945 §5.3.1).
//! - IXFR: a client whose serial is ours (or newer, RFC 1982) gets our SOA
//!   alone (RFC 1995 §2); an older one the journal's steps from its serial to
//!   ours, as the published zone has them (the apex SOA rewritten, records the
//!   NS settings replace left out; RFC 1995 §4 condensed form). When the
//!   journal does not reach back that far, or the NS settings changed since
//!   the client's copy (they change the published zone without a serial),
//!   the whole zone in AXFR form, as RFC 1995 §4 allows. Over UDP an IXFR gets our SOA alone, so the client comes
//!   back over TCP (RFC 1995 §2); an AXFR over UDP is a FORMERR (RFC 5936 §4.2).
//! - `dns.transfer_out` bounds the transfers running at once, in all and per
//!   client address; a request over either bound gets SERVFAIL (try later).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::DnsServer;
use crate::config::{DownstreamConfig, TransferOutConfig};
use crate::scheduler::Limit;
use crate::store::zonedata::{self, Diff};
use crate::view::{Serving, ZoneView};
use crate::wire::serial::Serial;
use crate::wire::tsig::{self, StreamSigner, TsigKey};
use crate::wire::{class, rcode, rtype, Message, MessageWriter, Name, Record, Section};
use crate::zone::publish::published_form;

/// The size a transfer's messages fill up to. Not the 64 KiB a message may
/// have: BIND's message parser (`dig`, a BIND secondary) spends time
/// quadratic in the names of one message, so a 1M-record AXFR in 64 KiB
/// messages costs `dig` three times the CPU it does in 16 KiB ones (Knot's
/// size, too). A larger record still goes alone in a message of up to 64 KiB.
const MESSAGE_FILL: usize = 16_384;
/// The largest message (its TCP length prefix is 16 bits).
const MESSAGE_LIMIT: usize = 65_535;
/// Messages queued between the thread that writes them and the connection.
const QUEUE: usize = 16;
/// Messages waiting in the queue are written together up to this many bytes.
const COALESCE: usize = 64 * 1024;
/// A downstream that reads nothing for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The access rules and limits of outgoing transfers.
pub struct TransferOut {
    slots: Limit,
    /// `dns.transfer_out.max_per_client` (a config reload changes it).
    max_per_client: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

/// One running transfer's share of the limits; released when dropped.
struct Running<'a> {
    out: &'a TransferOut,
    client: IpAddr,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut map = self.out.per_client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.client);
            }
        }
    }
}

/// Who may have a zone.
enum Access {
    /// Allowed; signed answers when the request was signed (key, request MAC).
    Allowed(Option<(TsigKey, Vec<u8>)>),
    Refused(String),
}

impl TransferOut {
    pub fn new(limits: TransferOutConfig) -> TransferOut {
        TransferOut {
            slots: Limit::new(limits.max_concurrent),
            max_per_client: AtomicUsize::new(limits.max_per_client),
            per_client: Mutex::new(HashMap::new()),
        }
    }

    /// The limits of a reloaded config; running transfers go on.
    pub fn set_limits(&self, limits: TransferOutConfig) {
        self.slots.resize(limits.max_concurrent);
        self.max_per_client.store(limits.max_per_client, Ordering::Relaxed);
    }

    /// Whether `client` may transfer `zone`, whose entries are `downstreams`,
    /// signed with `key` (a normalized key name) or unsigned.
    fn allows(downstreams: &[DownstreamConfig], client: IpAddr, zone: &str, key: Option<&str>) -> Result<(), String> {
        let client = canonical(client);
        let entries: Vec<&DownstreamConfig> = downstreams.iter().filter(|d| d.address.contains(&client)).collect();
        if entries.is_empty() {
            return Err(format!("no [[downstream]] allows {client} to transfer {zone}"));
        }
        if entries.iter().any(|d| d.tsig_key.is_none() || d.tsig_key.as_deref() == key) {
            return Ok(());
        }
        let wanted: Vec<&str> = entries.iter().filter_map(|d| d.tsig_key.as_deref()).collect();
        Err(match key {
            None => format!("{client} must sign its request with key `{}`", wanted.join("` or `")),
            Some(k) => {
                format!("{client} signed with key `{k}`, but its [[downstream]] wants `{}`", wanted.join("` or `"))
            }
        })
    }

    fn start(&self, client: IpAddr) -> Option<Running<'_>> {
        let slot = self.slots.semaphore().try_acquire_owned().ok()?;
        let mut map = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(client).or_insert(0);
        if *n >= self.max_per_client.load(Ordering::Relaxed) {
            return None;
        }
        *n += 1;
        Some(Running { out: self, client, _slot: slot })
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so IPv4 rules cover dual-stack sockets.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What a transfer sends.
#[derive(Debug)]
enum Plan {
    /// Our SOA alone: the client is up to date.
    SoaOnly,
    /// The whole zone between two SOAs.
    Full,
    /// The published zone's changes since the client's serial (RFC 1995 §4).
    Incremental(Vec<Diff>),
}

/// An allowed transfer, ready to stream.
struct Prepared {
    view: Arc<ZoneView>,
    plan: Plan,
    signer: Option<StreamSigner>,
    zone: String,
    zone_id: i64,
    /// An IXFR's serial, when it is older than ours.
    behind: Option<u32>,
    /// The OPT options of the first message, when the request had an OPT.
    edns: Option<Vec<u8>>,
}

/// What a finished transfer sent.
#[derive(Debug, Default)]
struct Sent {
    messages: u32,
    records: u64,
    bytes: u64,
}

impl DnsServer {
    fn refuse_transfer(&self, msg: &Message, src: SocketAddr, zone: &str, code: u16, reason: &str) -> Vec<u8> {
        self.stats.transfers_out_refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(zone, client = %src, rcode = %rcode::name(code), reason, "zone transfer refused");
        crate::wire::build_response(msg, code)
    }

    /// Checks the request's signature and the access rules.
    fn transfer_access(
        &self,
        msg: &Message,
        bytes: &[u8],
        src: SocketAddr,
        zone_id: i64,
        zone: &str,
    ) -> Result<Access, Vec<u8>> {
        let signed = match &msg.tsig {
            Some(t) => {
                let now = tsig::unix_now();
                let keys = self.engine.keys();
                let found = tsig::verify_request(|n: &Name| crate::zone::key_named(&keys, n), bytes, msg, now);
                match found {
                    Ok((key, mac)) => Some((key.clone(), mac)),
                    Err(e) => {
                        let mut reply = self.refuse_transfer(msg, src, zone, rcode::NOTAUTH, &format!("TSIG: {e}"));
                        let _ = e.append_tsig(&mut reply, t, now);
                        return Err(reply);
                    }
                }
            }
            None => None,
        };
        let key_name = signed.as_ref().map(|(k, _)| crate::config::normalize_key_name(&k.name.to_string()));
        let entries = self.engine.downstreams.for_zone(zone_id, zone);
        match TransferOut::allows(&entries, src.ip(), zone, key_name.as_deref()) {
            Ok(()) => Ok(Access::Allowed(signed)),
            Err(why) => Ok(Access::Refused(why)),
        }
    }

    /// Answers an AXFR or IXFR request on a TCP connection: one or more
    /// messages, or one error message. Returns whether the connection can go on.
    pub(super) async fn transfer_out(
        &self,
        msg: &Message,
        bytes: &[u8],
        src: SocketAddr,
        stream: &mut TcpStream,
    ) -> bool {
        let mut p = match self.prepare_transfer(msg, bytes, src) {
            Ok(p) => p,
            Err(reply) => return write_frame(stream, &reply).await,
        };
        let Some(running) = self.transfer_out.start(src.ip()) else {
            let r = self.refuse_transfer(
                msg,
                src,
                &p.zone,
                rcode::SERVFAIL,
                "too many transfers at once (dns.transfer_out)",
            );
            return write_frame(stream, &r).await;
        };
        if let Some(theirs) = p.behind {
            match self.journal_diffs(p.zone_id, &p.view, theirs).await {
                Ok(diffs) => p.plan = Plan::Incremental(diffs),
                Err(why) => {
                    tracing::debug!(zone = %p.zone, client = %src, serial = theirs, reason = %why, "IXFR answered with the whole zone")
                }
            }
        }
        let kind = match (&p.plan, msg.questions[0].qtype) {
            (_, rtype::AXFR) => "AXFR",
            (Plan::Full, _) => "IXFR→AXFR",
            _ => "IXFR",
        };
        let started = Instant::now();
        let (zone, serial) = (p.zone.clone(), p.view.serial);
        let result = self.stream_transfer(msg, p.edns, p.view, p.plan, p.signer, stream).await;
        drop(running);
        match result {
            Ok(sent) => {
                self.stats.transfers_out.fetch_add(1, Ordering::Relaxed);
                tracing::info!(zone = %zone, client = %src, r#type = kind, serial_from = ?p.behind, serial,
                    messages = sent.messages, records = sent.records, bytes = sent.bytes,
                    duration_ms = started.elapsed().as_millis() as u64, "transfer out finished");
                true
            }
            Err(e) => {
                self.stats.transfers_out_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(zone = %zone, client = %src, r#type = kind, serial, error = %e, "transfer out failed");
                false
            }
        }
    }

    /// The published zone's changes from serial `theirs` to the view's, from
    /// the journal (read on the store's reading connection), or why not.
    async fn journal_diffs(&self, zone_id: i64, view: &ZoneView, theirs: u32) -> Result<Vec<Diff>, String> {
        let ours = view.serial;
        if zone_id == crate::zone::catalog::CATALOG_ID {
            let catalog = self.engine.catalog.as_ref().ok_or("no catalog")?;
            return catalog
                .diffs(theirs, ours)
                .ok_or_else(|| format!("the catalog's journal does not reach back to {theirs}"));
        }
        if let Some(at) = self.engine.settings_serial(zone_id) {
            if !Serial(theirs).is_newer_than(Serial(at)) {
                return Err(format!("the NS settings changed at serial {at}, after the client's copy"));
            }
        }
        let settings = self.engine.settings(zone_id).await.map_err(|e| format!("cannot read the NS settings: {e}"))?;
        let apex = view.apex.clone();
        // Read and mapped to the published form on the reading thread: a long
        // journal is work the runtime should not do.
        let chain = self
            .engine
            .store
            .read(move |c| {
                let Some(steps) = zonedata::journal_chain(c, zone_id, theirs, ours)? else { return Ok(None) };
                let publish = |records: Vec<Record>| -> Result<Vec<Record>, String> {
                    let mut out = Vec::with_capacity(records.len());
                    for r in records {
                        if let Some(p) = published_form(&apex, &r, settings.as_deref())? {
                            out.push(p);
                        }
                    }
                    Ok(out)
                };
                Ok(Some(
                    steps
                        .into_iter()
                        .map(|d| {
                            Ok(Diff { from: d.from, to: d.to, deleted: publish(d.deleted)?, added: publish(d.added)? })
                        })
                        .collect::<Result<Vec<_>, String>>(),
                ))
            })
            .await;
        match chain {
            Ok(Some(diffs)) => diffs,
            Ok(None) => Err(format!("the journal does not reach back from {ours} to {theirs}")),
            Err(e) => Err(format!("cannot read the journal: {e}")),
        }
    }

    /// The view and plan of an allowed transfer, or the error reply.
    fn prepare_transfer(&self, msg: &Message, bytes: &[u8], src: SocketAddr) -> Result<Prepared, Vec<u8>> {
        let [q] = msg.questions.as_slice() else {
            return Err(self.refuse_transfer(
                msg,
                src,
                "-",
                rcode::FORMERR,
                "a transfer request needs exactly one question",
            ));
        };
        let zone = q.name.to_string().trim_end_matches('.').to_ascii_lowercase();
        let zone = if zone.is_empty() { ".".to_string() } else { zone };
        let slot = self.engine.views.find(&q.name).filter(|s| s.name.eq_ignore_case(&q.name));
        let Some(slot) = slot.filter(|_| q.qclass == class::IN) else {
            return Err(self.refuse_transfer(msg, src, &zone, rcode::NOTAUTH, "not a zone we serve"));
        };
        let signer = match self.transfer_access(msg, bytes, src, slot.id, &zone)? {
            Access::Allowed(signed) => signed.map(|(key, mac)| StreamSigner::new(&key, &mac)),
            Access::Refused(why) => return Err(self.refuse_transfer(msg, src, &zone, rcode::REFUSED, &why)),
        };
        let view = match slot.serving() {
            Serving::Ok(v) => v,
            Serving::NoCopy | Serving::Expired => {
                return Err(self.refuse_transfer(
                    msg,
                    src,
                    &zone,
                    rcode::SERVFAIL,
                    "no current copy of the zone (not loaded yet, or expired)",
                ))
            }
        };
        let (plan, behind) = match q.qtype {
            rtype::IXFR => match msg.authority.iter().find(|r| r.rtype == rtype::SOA).and_then(|r| r.soa_serial()) {
                Some(theirs) if !Serial(view.serial).is_newer_than(Serial(theirs)) => (Plan::SoaOnly, None),
                Some(theirs) => (Plan::Full, Some(theirs)),
                None => {
                    return Err(self.refuse_transfer(
                        msg,
                        src,
                        &zone,
                        rcode::FORMERR,
                        "an IXFR request needs the client's SOA in its authority section",
                    ))
                }
            },
            _ => (Plan::Full, None),
        };
        // EDNS (RFC 6891) in the first message when the request had it, with
        // EDNS EXPIRE when asked (RFC 7314 §3).
        let edns = msg.opt.as_ref().map(|_| {
            let mut options = Vec::new();
            let asked = crate::wire::edns_options(msg).any(|(code, _)| code == crate::wire::OPTION_EXPIRE);
            if let Some(remaining) = slot.expire_remaining(&view, crate::store::now_secs()).filter(|_| asked) {
                crate::wire::push_expire_option(&mut options, remaining);
            }
            options
        });
        Ok(Prepared { view, plan, signer, zone, zone_id: slot.id, behind, edns })
    }

    /// Writes the transfer's messages as the blocking thread makes them.
    async fn stream_transfer(
        &self,
        msg: &Message,
        edns: Option<Vec<u8>>,
        view: Arc<ZoneView>,
        plan: Plan,
        signer: Option<StreamSigner>,
        stream: &mut TcpStream,
    ) -> Result<Sent, String> {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
        let request = Request::of(msg, edns);
        let producer = tokio::task::spawn_blocking(move || produce(&view, plan, &request, signer, &tx));
        let mut written = 0u64;
        while let Some(mut frame) = rx.recv().await {
            // Messages already made go out in the same write: fewer system
            // calls, and fewer wake-ups of the thread making them.
            while frame.len() < COALESCE {
                match rx.try_recv() {
                    Ok(more) => frame.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&frame)).await {
                Ok(Ok(())) => written += frame.len() as u64,
                Ok(Err(e)) => return Err(format!("the client went away: {e}")),
                Err(_) => return Err(format!("the client read nothing for {} s", WRITE_TIMEOUT.as_secs())),
            }
        }
        let mut sent = producer.await.map_err(|e| format!("the transfer task failed: {e}"))??;
        sent.bytes = written;
        Ok(sent)
    }

    /// An IXFR over UDP: our SOA alone when the client may have the zone.
    pub(super) fn ixfr_udp(&self, msg: &Message, bytes: &[u8], src: SocketAddr) -> Vec<u8> {
        match self.prepare_transfer(msg, bytes, src) {
            Err(reply) => reply,
            Ok(Prepared { view, signer, edns, .. }) => {
                let request = Request::of(msg, edns);
                let mut w = request.writer(true, signer.as_ref().map_or(0, StreamSigner::overhead));
                if let Some((ttl, soa)) = view.apex_soa().map(|(t, s)| (t, s.to_vec())) {
                    let _ = w.rrset(Section::Answer, view.apex.as_wire(), rtype::SOA, class::IN, ttl, [soa.as_slice()]);
                }
                request.write_opt(&mut w);
                let mut out = w.finish();
                if let Some(mut s) = signer {
                    let _ = s.sign(&mut out, tsig::unix_now());
                }
                out
            }
        }
    }
}

async fn write_frame(stream: &mut TcpStream, reply: &[u8]) -> bool {
    let Some(frame) = super::tcp_frame(reply) else {
        tracing::error!(bytes = reply.len(), "a transfer message over 65,535 bytes; connection closed");
        return false;
    };
    matches!(tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&frame)).await, Ok(Ok(())))
}

/// What each message of the answer copies from the request.
struct Request {
    id: u16,
    flags: u16,
    qname: Name,
    qtype: u16,
    qclass: u16,
    /// The options of the first message's OPT (none without EDNS).
    edns: Option<Vec<u8>>,
}

impl Request {
    fn of(msg: &Message, edns: Option<Vec<u8>>) -> Request {
        let q = &msg.questions[0];
        // QR, AA, the opcode and RD copied (RFC 5936 §2.2.1).
        let flags = 0x8000 | 0x0400 | (msg.header.flags & 0x7800) | (msg.header.flags & 0x0100);
        Request { id: msg.header.id, flags, qname: q.name.clone(), qtype: q.qtype, qclass: q.qclass, edns }
    }

    /// The first message's OPT record, in bytes.
    fn opt_len(&self) -> usize {
        self.edns.as_ref().map_or(0, |o| 11 + o.len())
    }

    /// A new message; the first one echoes the question (RFC 5936 §2.2.1)
    /// and keeps room for the OPT.
    fn writer(&self, first: bool, tsig_room: usize) -> MessageWriter {
        let question = first.then_some((&self.qname, self.qtype, self.qclass));
        let mut w = MessageWriter::new_indexed(self.id, self.flags, question, MESSAGE_LIMIT);
        w.reserve(tsig_room + if first { self.opt_len() } else { 0 });
        w
    }

    /// Ends the first message's records with its OPT (the room `writer` kept).
    fn write_opt(&self, w: &mut MessageWriter) {
        if let Some(options) = &self.edns {
            w.unreserve(self.opt_len());
            w.opt(crate::wire::QUERY_UDP_PAYLOAD, 0, false, options);
        }
    }
}

/// The messages of one transfer, as they fill up.
struct Producer<'a> {
    request: &'a Request,
    signer: Option<StreamSigner>,
    tx: &'a mpsc::Sender<Vec<u8>>,
    writer: MessageWriter,
    sent: Sent,
    /// The message being written is the first.
    first: bool,
}

impl Producer<'_> {
    fn room(&self) -> usize {
        self.signer.as_ref().map_or(0, StreamSigner::overhead)
    }

    fn record(&mut self, owner: &[u8], rt: u16, ttl: u32, rdata: &[u8]) -> Result<(), String> {
        if self.writer.rrset(Section::Answer, owner, rt, class::IN, ttl, [rdata]).is_err() {
            if self.writer.count(Section::Answer) == 0 {
                return Err(format!("a {} record of {} bytes does not fit in a message", rt, rdata.len()));
            }
            self.flush()?;
            self.writer
                .rrset(Section::Answer, owner, rt, class::IN, ttl, [rdata])
                .map_err(|_| format!("a {} record of {} bytes does not fit in a message", rt, rdata.len()))?;
        }
        self.sent.records += 1;
        if self.writer.len() >= MESSAGE_FILL {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the last message (unless the last record filled one).
    fn finish(mut self) -> Result<Sent, String> {
        if self.writer.count(Section::Answer) > 0 {
            self.flush()?;
        }
        Ok(self.sent)
    }

    /// Sends the message being written and starts the next.
    fn flush(&mut self) -> Result<(), String> {
        if std::mem::replace(&mut self.first, false) {
            self.request.write_opt(&mut self.writer);
        }
        let next = self.request.writer(false, self.room());
        let mut msg = std::mem::replace(&mut self.writer, next).finish();
        if let Some(s) = &mut self.signer {
            s.sign(&mut msg, tsig::unix_now()).map_err(|e| format!("cannot sign: {e}"))?;
        }
        let frame = super::tcp_frame(&msg).ok_or_else(|| format!("a message of {} bytes, over 65,535", msg.len()))?;
        self.sent.messages += 1;
        self.tx.blocking_send(frame).map_err(|_| "the client went away".to_string())
    }
}

/// Writes the transfer's messages into `tx` (on a blocking thread).
fn produce(
    view: &ZoneView,
    plan: Plan,
    request: &Request,
    signer: Option<StreamSigner>,
    tx: &mpsc::Sender<Vec<u8>>,
) -> Result<Sent, String> {
    let room = signer.as_ref().map_or(0, StreamSigner::overhead);
    let mut p =
        Producer { request, signer, tx, writer: request.writer(true, room), sent: Sent::default(), first: true };
    let (soa_ttl, soa) = view.apex_soa().map(|(t, s)| (t, s.to_vec())).ok_or("the zone has no SOA")?;
    let apex = view.apex.as_wire();
    match plan {
        Plan::SoaOnly => {
            p.record(apex, rtype::SOA, soa_ttl, &soa)?;
            return p.finish();
        }
        // The SOA first, every record, the SOA again.
        Plan::Full => view.for_each_record(|owner, rt, ttl, rd| p.record(owner, rt, ttl, rd))?,
        // Our SOA; each step: the old SOA, what it deletes, the new SOA, what it adds.
        Plan::Incremental(steps) => {
            p.record(apex, rtype::SOA, soa_ttl, &soa)?;
            for d in steps {
                for list in [&d.deleted, &d.added] {
                    let soa = list.iter().find(|r| r.rtype == rtype::SOA).ok_or("a journal step without its SOA")?;
                    p.record(soa.owner.as_wire(), soa.rtype, soa.ttl, &soa.rdata)?;
                    for r in list.iter().filter(|r| r.rtype != rtype::SOA) {
                        p.record(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata)?;
                    }
                }
            }
        }
    }
    p.record(apex, rtype::SOA, soa_ttl, &soa)?;
    p.finish()
}
