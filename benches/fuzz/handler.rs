//! `handler`: the DNS server's whole `handle` path, in process, over the
//! zones of [`seeds::zones`] (many types, a wildcard, delegations, DNAME, a
//! CNAME loop, a zone signed with NSEC, one without a copy).
//!
//! Input: a prefix byte (bit 0 TCP, bit 1 signed anew with the config's key,
//! bits 2-3 the source: 127.0.0.1, the zones' primary; 127.0.0.2; ::1) and
//! the message. Invariants: no panic; a reply has the request's ID and
//! parses; over UDP it fits the size limit (the client's EDNS size, at least
//! 512, at most `dns.max_udp_payload`; 512 without EDNS), and an error answer
//! (any RCODE but NOERROR and NXDOMAIN, extended RCODEs included, or any
//! answer to an opcode other than QUERY) without records from a zone and
//! without our TSIG is never larger than the request and echoes at most one
//! question (src/dns/mod.rs, `fit_udp_error`; src/dns/query.rs).

use std::net::SocketAddr;
use std::sync::Arc;

use secondaryd::config::Config;
use secondaryd::dns::{DnsServer, DnsStats};
use secondaryd::scheduler::Scheduler;
use secondaryd::store::{self, Store};
use secondaryd::wire::{self, opcode, rcode};
use secondaryd::zone::Engine;

use crate::seeds;

/// `dns.max_udp_payload` of the config.
pub const MAX_UDP: usize = 1232;

/// A daemon's parts, in process, on a store in a temp dir; nothing is bound
/// and the scheduler never runs, so no refresh reaches out.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub store: Store,
    pub engine: Arc<Engine>,
    pub stats: Arc<DnsStats>,
}

impl Daemon {
    pub fn new() -> Daemon {
        let dir = tempfile::tempdir().expect("a temp dir");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let toml = format!(
            "[store]\npath = \"fuzz.db\"\n[control]\nsocket = \"control.sock\"\n\
             [dns]\nlisten = [\"127.0.0.1:0\"]\nmax_udp_payload = {MAX_UDP}\nversion = \"fuzz\"\nidentity = \"fuzz-host\"\nnsid = \"fuzz-nsid\"\n\
             [transfer]\nallow_primaries = [\"127.0.0.0/8\", \"::1/128\"]\nallow_reserved_zones = true\n\
             [[tsig_key]]\nname = \"{}\"\nsecret = \"{}\"\n",
            seeds::KEY_NAME,
            seeds::KEY_SECRET
        );
        let config = Config::from_toml(&toml, "fuzz.toml", dir.path()).expect("the fuzz config");
        let config = Arc::new(config);
        let path = config.store_path.clone();
        let store = Store::open(&path).expect("open the store");
        let scheduler = Scheduler::new(config.transfer.concurrency);
        let engine = Engine::new(store.clone(), config.clone(), scheduler).expect("the engine");
        let extra = crate::text::corpus_records();
        let (store2, engine2) = (store.clone(), engine.clone());
        rt.block_on(async move {
            store2
                .call(move |c| {
                    let p = store::primaries::create(
                        c,
                        1,
                        store::primaries::NewPrimary {
                            name: "p1".into(),
                            ip: "127.0.0.1".into(),
                            // Nobody listens there; the scheduler does not run anyway.
                            port: 9,
                            tsig_key: None,
                            notify_requires_tsig: false,
                        },
                    )?;
                    for (zone, records) in seeds::zones(&extra) {
                        let z = store::zones::create(c, 1, zone, false)?;
                        store::primaries::link(c, 1, "p1", zone)?;
                        let serial = records[0].soa_serial().unwrap_or(1);
                        let committed = store::zonedata::Committed {
                            serial,
                            soa: [3600, 600, 604_800, 300],
                            primary: "p1".into(),
                            primary_id: p.id,
                            summary_json: "{}".into(),
                        };
                        store::zonedata::replace_small(c, z.id, &records, &committed)?;
                    }
                    store::zones::create(c, 1, seeds::NO_COPY, false)?;
                    store::primaries::link(c, 1, "p1", seeds::NO_COPY)?;
                    Ok(())
                })
                .await
                .expect("load the zones");
            engine2.load_views().await.expect("load the serving views");
        });
        let stats = Arc::new(DnsStats::new(engine.config().dns.rate_limit));
        Daemon { dir, rt, store, engine, stats }
    }
}

pub struct Handler {
    d: Daemon,
    server: Arc<DnsServer>,
    key: wire::tsig::TsigKey,
}

impl Handler {
    pub fn new() -> Handler {
        let d = Daemon::new();
        let server = DnsServer::new(d.engine.clone(), d.stats.clone());
        Handler { d, server, key: seeds::key() }
    }
}

fn source(prefix: u8) -> SocketAddr {
    match (prefix >> 2) & 3 {
        1 => SocketAddr::from(([127, 0, 0, 2], 5300)),
        2 => "[::1]:5300".parse().expect("an address"),
        _ => SocketAddr::from(([127, 0, 0, 1], 5300)),
    }
}

/// Where an uncompressed name at `pos` ends (a pointer ends it too).
fn name_end(buf: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *buf.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            0xc0..=0xff => return Some(pos + 2).filter(|&e| e <= buf.len()),
            _ => pos += 1 + usize::from(len),
        }
    }
}

/// The extended RCODE of a parsed reply.
fn ext_rcode(m: &wire::Message) -> u16 {
    let high = m.opt.as_ref().map_or(0, |o| (o.ttl >> 24) as u16);
    (high << 4) | (m.header.flags & 0x0f)
}

/// Checks one reply against its request (see the module's doc).
pub fn check(request: &[u8], reply: &[u8], tcp: bool) -> Result<String, String> {
    if reply.len() > 65_535 {
        return Err(format!("a reply of {} bytes, over 65,535", reply.len()));
    }
    if reply.get(..2) != request.get(..2) {
        return Err(format!("the reply's ID {:02x?} is not the request's {:02x?}", reply.get(..2), request.get(..2)));
    }
    let m = wire::parse_message(reply).map_err(|e| format!("our reply does not parse: {e}"))?;
    if !m.header.is_response() {
        return Err("the reply has QR clear".into());
    }
    let code = ext_rcode(&m);
    let op = m.header.opcode();
    let signed = m.tsig.as_ref().is_some_and(|t| !t.mac.is_empty());
    let has_records = !m.answers.is_empty() || !m.authority.is_empty();
    let error = op != opcode::QUERY || !matches!(code, rcode::NOERROR | rcode::NXDOMAIN);
    let types = |rs: &[wire::Record]| {
        let mut t: Vec<u16> = rs.iter().map(|r| r.rtype).collect();
        t.dedup();
        t.truncate(3);
        t
    };
    let sig = format!(
        "op{op} rc{code} q{:?} an{:?} ns{:?} qd{} an{} ns{} ar{} opt{} tsig{} tc{} aa{} {}",
        // Known types only: a random one is no new outcome.
        m.questions.first().map(|q| if matches!(q.qtype, 1..=66 | 99 | 249..=257) { q.qtype } else { 0 }),
        types(&m.answers),
        types(&m.authority),
        m.questions.len(),
        m.answers.len().min(3),
        m.authority.len().min(3),
        m.additional.len().min(3),
        u8::from(m.opt.is_some()),
        u8::from(m.tsig.is_some()),
        (m.header.flags >> 9) & 1,
        (m.header.flags >> 10) & 1,
        if tcp { "tcp" } else { "udp" }
    );
    if error && !signed && m.questions.len() > 1 {
        return Err(format!("an error answer (rcode {code}, opcode {op}) echoes {} questions", m.questions.len()));
    }
    if tcp {
        return Ok(sig);
    }
    let limit = match wire::parse_message(request) {
        Ok(q) => q.opt.as_ref().map_or(512, |o| usize::from(o.class).clamp(512, MAX_UDP.max(512))),
        Err(_) => 512,
    };
    if reply.len() > limit {
        return Err(format!("a UDP reply of {} bytes over the limit of {limit} ({sig})", reply.len()));
    }
    let exempt = signed || (op == opcode::QUERY && has_records);
    if error && !exempt && reply.len() > request.len() {
        return Err(format!(
            "a UDP error answer (rcode {code}, opcode {op}) of {} bytes to a request of {} ({sig})",
            reply.len(),
            request.len()
        ));
    }
    Ok(sig)
}

impl crate::Target for Handler {
    fn prefix(&self) -> usize {
        1
    }

    fn max_len(&self) -> usize {
        2048
    }

    fn mutate(&mut self, rng: &mut rand::rngs::StdRng, input: &mut Vec<u8>, _corpus: &[Vec<u8>]) -> bool {
        use rand::Rng;
        // Now and then, the question's name becomes a pointer into the header
        // (whose ID then reads as a label): names longer written out than in the query.
        if input.len() < 1 + 12 + 2 || !rng.random_bool(0.05) {
            return false;
        }
        let end = name_end(&input[1..], 12).unwrap_or(13);
        let target = rng.random_range(0..12u8);
        input.splice(1 + 12..1 + end, [0xc0, target]);
        if rng.random_bool(0.7) {
            let len = rng.random_range(1..=(11 - target.min(10)));
            input[1 + usize::from(target)] = len;
        }
        true
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let Some((&prefix, msg)) = input.split_first() else { return Ok("empty".into()) };
        let tcp = prefix & 1 != 0;
        let mut msg = msg.to_vec();
        if prefix & 2 != 0 && msg.len() >= 12 {
            // Signing needs a header; a second TSIG makes a FORMERR, which is fine too.
            let _ = wire::tsig::sign_request(&mut msg, &self.key, wire::tsig::unix_now());
        }
        let src = source(prefix);
        let server = self.server.clone();
        let reply = self.d.rt.block_on(async { server.handle(&msg, src, tcp).await });
        match reply {
            None => Ok(format!("dropped {}", if tcp { "tcp" } else { "udp" })),
            Some(r) => check(&msg, &r, tcp),
        }
    }

    fn stats(&self) -> String {
        let s = &self.d.stats;
        let o = std::sync::atomic::Ordering::Relaxed;
        format!(
            "NOTIFY accepted {}, refused {}; malformed {}; answered {:?}",
            s.notify_accepted.load(o),
            s.notify_refused_total(),
            s.malformed.load(o),
            s.answered.iter().map(|a| a.load(o)).collect::<Vec<_>>()
        )
    }
}
