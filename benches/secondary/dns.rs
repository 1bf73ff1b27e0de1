//! The DNS the harness speaks itself: SOA queries (one zone, or thousands at
//! once over one socket), NOTIFY, and single queries to compare a server's
//! answers with the primary's, all to 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use secondaryd::wire::{self, rcode, rtype, Name};
use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

pub fn name(zone: &str) -> Name {
    Name::from_ascii(zone).unwrap_or_else(|e| panic!("zone name {zone}: {e}"))
}

async fn socket(to: SocketAddr) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind(("127.0.0.1", 0)).await?;
    sock.connect(to).await?;
    Ok(sock)
}

/// The serial in a SOA answer, `None` for anything else (SERVFAIL while the
/// zone is not loaded, REFUSED, no SOA).
fn serial_of(msg: &wire::Message) -> Option<u32> {
    if msg.header.rcode() != rcode::NOERROR {
        return None;
    }
    msg.answers.iter().find(|r| r.rtype == rtype::SOA).and_then(|r| r.soa_serial())
}

/// The SOA serial `server` answers for `zone`; one query, resent every 100 ms
/// within `limit`.
pub async fn soa(server: SocketAddr, zone: &Name, limit: Duration) -> Option<u32> {
    let sock = socket(server).await.ok()?;
    let id: u16 = rand::random();
    let q = wire::build_query(id, zone, rtype::SOA, None);
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 4096];
    while Instant::now() < deadline {
        sock.send(&q).await.ok()?;
        let until = (Instant::now() + Duration::from_millis(100)).min(deadline);
        while let Ok(Ok(n)) = timeout_at(until, sock.recv(&mut buf)).await {
            if wire::message_id(&buf[..n]) == Some(id) {
                return wire::parse_message(&buf[..n]).ok().and_then(|m| serial_of(&m));
            }
        }
    }
    None
}

/// The serials `server` answers for many zones, over one socket, 256 queries
/// at a time, waiting at most 50 ms for the last answers of each batch (the
/// caller asks again for those that got none).
pub async fn soa_many(server: SocketAddr, zones: &[Name]) -> Vec<Option<u32>> {
    assert!(zones.len() <= 65_536, "ids are indices");
    let mut out = vec![None; zones.len()];
    let Ok(sock) = socket(server).await else { return out };
    let mut answered = vec![false; zones.len()];
    let mut buf = vec![0u8; 4096];
    let all: Vec<usize> = (0..zones.len()).collect();
    for chunk in all.chunks(256) {
        for &i in chunk {
            let _ = sock.send(&wire::build_query(i as u16, &zones[i], rtype::SOA, None)).await;
        }
        let until = Instant::now() + Duration::from_millis(50);
        let mut left = chunk.len();
        while left > 0 {
            // A refused port (the server is not listening yet) ends the wait too.
            let Ok(Ok(n)) = timeout_at(until, sock.recv(&mut buf)).await else { break };
            let Some(id) = wire::message_id(&buf[..n]) else { continue };
            let i = usize::from(id);
            if i < zones.len() && !answered[i] {
                answered[i] = true;
                left -= 1;
                out[i] = wire::parse_message(&buf[..n]).ok().and_then(|m| serial_of(&m));
            }
        }
    }
    out
}

/// Sends a NOTIFY for `zone` from 127.0.0.1 as a primary does (RFC 1996:
/// opcode 4, AA, one SOA question, and the new SOA in the answer section, as
/// RFC 1996 §3.7 allows and BIND, Knot and NSD send it; only its serial
/// matters to the receiver) and does not wait for the answer.
pub async fn notify(server: SocketAddr, zone: &Name, serial: u32) -> std::io::Result<()> {
    let sock = socket(server).await?;
    // The IXFR request's SOA (root names, the serial, zero timers) is the
    // same record; moved from the authority to the answer section.
    let mut m = wire::build_query(rand::random(), zone, rtype::SOA, Some(serial));
    let flags = (u16::from(wire::opcode::NOTIFY) << 11) | 0x0400;
    m[2..4].copy_from_slice(&flags.to_be_bytes());
    m[6..8].copy_from_slice(&1u16.to_be_bytes());
    m[8..10].copy_from_slice(&0u16.to_be_bytes());
    sock.send(&m).await?;
    // Keep the socket a moment so the acknowledgement is not met by an ICMP error.
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_millis(500), sock.recv(&mut buf)).await;
    });
    Ok(())
}

/// One query for `qname`/`qtype` (with EDNS and the DO bit when `dnssec_ok`),
/// resent every 200 ms within 1 s; the parsed answer.
pub async fn query(server: SocketAddr, qname: &Name, qtype: u16, dnssec_ok: bool) -> Option<wire::Message> {
    let sock = socket(server).await.ok()?;
    let id: u16 = rand::random();
    let mut q = wire::build_query(id, qname, qtype, None);
    if dnssec_ok {
        // ARCOUNT 1, then OPT: root owner, type 41, payload 1232, DO set.
        q[10..12].copy_from_slice(&1u16.to_be_bytes());
        q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf = vec![0u8; 65_535];
    while Instant::now() < deadline {
        sock.send(&q).await.ok()?;
        let until = (Instant::now() + Duration::from_millis(200)).min(deadline);
        while let Ok(Ok(n)) = timeout_at(until, sock.recv(&mut buf)).await {
            if wire::message_id(&buf[..n]) == Some(id) {
                return wire::parse_message(&buf[..n]).ok();
            }
        }
    }
    None
}
