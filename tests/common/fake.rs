//! A small fake primary for faults BIND will not produce: it answers AXFR (and
//! IXFR, with the whole zone) over TCP with a zone of SOA + NS + `records` A
//! records, split over two messages, and breaks the stream the way the current
//! [`Fault`] says. SOA queries (UDP or TCP) get its current SOA.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secondaryd::wire::tsig::{self, TsigKey};
use secondaryd::wire::{self, Name, Section};

/// The key the fake primary signs with (the BIND tests' key).
pub fn test_key() -> TsigKey {
    TsigKey::from_parts(super::bind::KEY_NAME, "hmac-sha256", super::bind::KEY_SECRET).expect("test key")
}
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Close the connection after the first message.
    CloseAfterFirst,
    /// Send the first message, then nothing (keep the connection open).
    StallAfterFirst,
    /// The closing SOA has another serial than the opening one.
    WrongFinalSoa,
    /// One record's owner is outside the zone.
    OutOfZone,
    /// A frame of random bytes instead of the second message.
    Garbage,
    /// Sign the first message with the test key and leave the last unsigned
    /// (RFC 8945 §5.3.1 requires the last message to be signed).
    UnsignedLast,
    /// A good transfer whose last message comes [`SLOW_END`] after the first.
    SlowEnd,
    /// One more record, `bad.<zone>` of this type with this RDATA (a malformed one).
    Extra(u16, &'static [u8]),
    /// Every A record twice (the copy's owner in upper case), and the NS again
    /// as `NS1.<ZONE>`: duplicates, which are one record each (RFC 2181 §5).
    Duplicates,
    /// Sign the answer with the test key although the request was unsigned.
    SignUnasked,
    /// Answer REFUSED, unsigned, whatever the request (RFC 8945 §5.4 says a
    /// client ignores an unsigned answer to a signed request).
    UnsignedRefused,
}

/// How long [`Fault::SlowEnd`] holds the last message back (under the test
/// daemons' 2 s idle timeout).
pub const SLOW_END: Duration = Duration::from_millis(1500);

/// REFRESH, RETRY, EXPIRE, MINIMUM of the fake primaries' SOA, unless set.
const TIMERS: [u32; 4] = [3600, 600, 604_800, 300];

#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    pub serial: u32,
    pub records: usize,
    pub fault: Fault,
    /// REFRESH, RETRY, EXPIRE, MINIMUM of its SOA.
    pub timers: [u32; 4],
    /// The serial its SOA answers claim, when not `serial` (a primary that lies).
    pub soa_serial: Option<u32>,
}

pub struct FakePrimary {
    pub addr: SocketAddr,
    pub behaviour: Arc<Mutex<Behaviour>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakePrimary {
    pub async fn start(zone: &str, serial: u32, records: usize) -> FakePrimary {
        // TCP and UDP on the same port.
        let (listener, udp) = loop {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake primary");
            let addr = listener.local_addr().expect("addr");
            if let Ok(udp) = UdpSocket::bind(addr).await {
                break (listener, udp);
            }
        };
        let addr = listener.local_addr().expect("addr");
        let timers = TIMERS;
        let behaviour =
            Arc::new(Mutex::new(Behaviour { serial, records, fault: Fault::None, timers, soa_serial: None }));
        let zone = Name::from_ascii(zone).expect("zone name");
        let (b, z) = (behaviour.clone(), zone.clone());
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 512];
            while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                let current = *b.lock().expect("behaviour");
                if let Some(answer) = soa_answer(&buf[..n], &z, &current) {
                    let _ = udp.send_to(&answer, from).await;
                }
            }
        });
        let b = behaviour.clone();
        let task = tokio::spawn(async move {
            let _udp = AbortOnDrop(udp_task);
            while let Ok((sock, _)) = listener.accept().await {
                let current = *b.lock().expect("behaviour");
                tokio::spawn(serve(sock, zone.clone(), current));
            }
        });
        FakePrimary { addr, behaviour, task }
    }

    /// Makes its SOA answers claim `serial` (`None`: the zone's own serial).
    pub fn set_soa_serial(&self, serial: Option<u32>) {
        self.behaviour.lock().expect("behaviour").soa_serial = serial;
    }

    /// The SOA timers (REFRESH, RETRY, EXPIRE, MINIMUM) it serves from now on.
    pub fn set_timers(&self, timers: [u32; 4]) {
        self.behaviour.lock().expect("behaviour").timers = timers;
    }

    pub fn set(&self, serial: u32, fault: Fault) {
        let mut b = self.behaviour.lock().expect("behaviour");
        b.serial = serial;
        b.fault = fault;
    }

    pub fn set_records(&self, records: usize) {
        self.behaviour.lock().expect("behaviour").records = records;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for FakePrimary {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn soa_rdata(zone: &Name, serial: u32, timers: [u32; 4]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(Name::from_ascii(&format!("ns1.{zone}")).expect("mname").as_wire());
    r.extend_from_slice(Name::from_ascii(&format!("hostmaster.{zone}")).expect("rname").as_wire());
    for v in [serial, timers[0], timers[1], timers[2], timers[3]] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r
}

/// An answer header and our question (`qtype`) back.
fn message(id: u16, zone: &Name, qtype: u16) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x8400u16.to_be_bytes()); // QR, AA, NOERROR
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(zone.as_wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// The answer to an unsigned SOA query for the zone: its current SOA.
fn soa_answer(query: &[u8], zone: &Name, b: &Behaviour) -> Option<Vec<u8>> {
    let parsed = wire::parse_message(query).ok()?;
    let q = parsed.questions.first()?;
    if q.qtype != wire::rtype::SOA || q.name != *zone {
        return None;
    }
    let mut m = message(wire::message_id(query)?, zone, wire::rtype::SOA);
    add(&mut m, zone, wire::rtype::SOA, &soa_rdata(zone, b.soa_serial.unwrap_or(b.serial), b.timers));
    Some(m)
}

fn add(m: &mut Vec<u8>, owner: &Name, rt: u16, rdata: &[u8]) {
    wire::append_record(m, Section::Answer, owner, rt, 1, 300, rdata).expect("append record");
}

/// A message with its 2-byte length before it, as TCP carries it (RFC 1035 §4.2.2).
fn framed(m: &[u8]) -> Vec<u8> {
    let mut f = (m.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(m);
    f
}

/// One length-prefixed DNS message from a TCP stream (RFC 1035 §4.2.2).
async fn read_framed(sock: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    sock.read_exact(&mut len).await.ok()?;
    let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
    sock.read_exact(&mut q).await.ok()?;
    Some(q)
}

async fn serve(mut sock: TcpStream, zone: Name, b: Behaviour) {
    let Some(q) = read_framed(&mut sock).await else { return };
    let id = wire::message_id(&q).unwrap_or(0);
    if let Some(answer) = soa_answer(&q, &zone, &b) {
        let _ = sock.write_all(&framed(&answer)).await;
        return;
    }
    // AXFR, or IXFR answered with the whole zone (RFC 1995 §4 allows it).
    let qtype = match wire::parse_message(&q) {
        Ok(m) => m.questions.first().map_or(wire::rtype::AXFR, |q| q.qtype),
        Err(_) => wire::rtype::AXFR,
    };
    let request_mac = match wire::parse_message(&q) {
        Ok(parsed) if parsed.tsig.is_some() => {
            let key = test_key();
            tsig::verify_request(|_| Some(&key), &q, &parsed, tsig::unix_now()).ok().map(|(_, mac)| mac)
        }
        _ => None,
    };
    // We can sign a first message only; a good signed transfer is therefore one message.
    let split = request_mac.is_none() || b.fault == Fault::UnsignedLast;
    if b.fault == Fault::UnsignedRefused {
        let mut m = message(id, &zone, qtype);
        m[3] = (m[3] & 0xf0) | 5; // RCODE REFUSED
        let _ = sock.write_all(&framed(&m)).await;
        return;
    }
    let mut first = message(id, &zone, qtype);
    add(&mut first, &zone, wire::rtype::SOA, &soa_rdata(&zone, b.serial, b.timers));
    add(&mut first, &zone, wire::rtype::NS, Name::from_ascii(&format!("ns1.{zone}")).expect("ns").as_wire());
    let mut second = message(id, &zone, qtype);
    for i in 0..b.records {
        let owner = if b.fault == Fault::OutOfZone && i == 3 {
            Name::from_ascii("intruder.other.test.").expect("name")
        } else {
            Name::from_ascii(&format!("h{i}.{zone}")).expect("name")
        };
        let target = if i < b.records / 2 || !split { &mut first } else { &mut second };
        let rdata = [10, 0, (i / 250) as u8, (i % 250) as u8 + 1];
        add(target, &owner, wire::rtype::A, &rdata);
        if b.fault == Fault::Duplicates {
            let upper = Name::from_ascii(&owner.to_string().to_ascii_uppercase()).expect("name");
            add(&mut second, &upper, wire::rtype::A, &rdata);
        }
    }
    if b.fault == Fault::Duplicates {
        let ns = Name::from_ascii(&format!("NS1.{}", zone.to_string().to_ascii_uppercase())).expect("ns");
        add(&mut second, &zone, wire::rtype::NS, ns.as_wire());
    }
    if let Fault::Extra(rt, rdata) = b.fault {
        add(
            if split { &mut second } else { &mut first },
            &Name::from_ascii(&format!("bad.{zone}")).expect("name"),
            rt,
            rdata,
        );
    }
    let final_serial = if b.fault == Fault::WrongFinalSoa { b.serial + 1 } else { b.serial };
    add(
        if split { &mut second } else { &mut first },
        &zone,
        wire::rtype::SOA,
        &soa_rdata(&zone, final_serial, b.timers),
    );

    if let Some(mac) = &request_mac {
        first = tsig::sign_response(&test_key(), mac, &first, tsig::unix_now()).expect("sign the first message");
    } else if b.fault == Fault::SignUnasked {
        first = tsig::sign_response(&test_key(), &[], &first, tsig::unix_now()).expect("sign the first message");
    }
    if sock.write_all(&framed(&first)).await.is_err() {
        return;
    }
    match b.fault {
        Fault::CloseAfterFirst => return,
        Fault::StallAfterFirst => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        Fault::Garbage => {
            let junk: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
            let _ = sock.write_all(&framed(&junk)).await;
        }
        Fault::SlowEnd if split => {
            tokio::time::sleep(SLOW_END).await;
            let _ = sock.write_all(&framed(&second)).await;
        }
        _ if split => {
            let _ = sock.write_all(&framed(&second)).await;
        }
        _ => {}
    }
    let _ = sock.shutdown().await;
}

/// A primary for any zone: it answers an AXFR with SOA, NS, SOA after holding
/// the stream open for `hold`, and counts the transfers it serves at once.
pub struct CountingPrimary {
    pub addr: SocketAddr,
    /// The most transfers it was serving at one moment.
    pub peak: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingPrimary {
    pub async fn start(hold: Duration) -> CountingPrimary {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind counting primary");
        let addr = listener.local_addr().expect("addr");
        let peak = Arc::new(AtomicUsize::new(0));
        let active = Arc::new(AtomicUsize::new(0));
        let p = peak.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (peak, active) = (p.clone(), active.clone());
                tokio::spawn(async move {
                    let Some(q) = read_framed(&mut sock).await else { return };
                    let Some(zone) =
                        wire::parse_message(&q).ok().and_then(|m| m.questions.first().map(|q| q.name.clone()))
                    else {
                        return;
                    };
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(hold).await;
                    let mut m = message(wire::message_id(&q).unwrap_or(0), &zone, wire::rtype::AXFR);
                    let soa = soa_rdata(&zone, 1, TIMERS);
                    add(&mut m, &zone, wire::rtype::SOA, &soa);
                    add(
                        &mut m,
                        &zone,
                        wire::rtype::NS,
                        Name::from_ascii(&format!("ns1.{zone}")).expect("ns").as_wire(),
                    );
                    add(&mut m, &zone, wire::rtype::SOA, &soa);
                    // The stream ends with the last message: the count drops
                    // before the secondary can commit.
                    active.fetch_sub(1, Ordering::SeqCst);
                    let _ = sock.write_all(&framed(&m)).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        CountingPrimary { addr, peak, task }
    }
}

impl Drop for CountingPrimary {
    fn drop(&mut self) {
        self.task.abort();
    }
}
