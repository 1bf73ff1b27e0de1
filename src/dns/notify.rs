//! NOTIFY (RFC 1996) received. A NOTIFY is an input: it is checked and then
//! only *schedules* a refresh through the engine (merged with one pending or
//! running, RFC 1996 §4.4). It never transfers anything itself. Rules, in order:
//! - not exactly one question of type SOA → FORMERR;
//! - a zone we do not hold → NOTAUTH;
//! - a source address that is not one of the zone's primaries (any port) → REFUSED;
//! - a TSIG that does not verify with that primary's key → NOTAUTH with the TSIG
//!   error: BADKEY/BADSIG unsigned; BADTIME (the sender's fudge bounded to
//!   300 s, our time in Other Data) and BADTRUNC signed (RFC 8945 §5.2, §5.3.2);
//! - unsigned while the primary requires signed NOTIFY → REFUSED;
//! - otherwise NOERROR, AA, the question echoed, signed when the request was.
//!   When the NOTIFY carries the new SOA and its serial is not newer than ours,
//!   no refresh is scheduled (BIND does the same).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

use super::DnsServer;
use crate::store::zones::{self, Zone};
use crate::wire::serial::Serial;
use crate::wire::tsig::{self, TsigKey};
use crate::wire::{self, rcode, rtype, Message, Name};
use crate::zone::name::normalize_zone_name;
use crate::zone::Notified;

impl DnsServer {
    fn refuse(&self, msg: &Message, src: SocketAddr, zone: &str, code: u16, reason: &str) -> Vec<u8> {
        self.stats.notify_refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(zone, from = %src, rcode = %rcode::name(code), reason, "NOTIFY refused");
        wire::build_response(msg, code)
    }

    pub(super) async fn notify(&self, msg: &Message, bytes: &[u8], src: SocketAddr) -> Vec<u8> {
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
                        let mut reply = self.refuse(msg, src, &name, rcode::NOTAUTH, &format!("TSIG: {e}"));
                        let _ = e.append_tsig(&mut reply, t, now);
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
        // Schedule first, record after: the refresh does not need the record,
        // and the NOTIFY → new version path saves a store round trip.
        if stale {
            tracing::info!(zone = %zone.name, from = %src, serial = ?hint, ours = ?st.serial,
                "NOTIFY accepted; its serial is not newer than ours, no refresh");
            let (id, from) = (zone.id, src.to_string());
            if let Err(e) = self.engine.store.call(move |c| zones::record_notify(c, id, &from, hint)).await {
                tracing::error!(zone = %zone.name, error = %e, "cannot record a NOTIFY");
            }
        } else {
            tracing::info!(zone = %zone.name, from = %src, serial = ?hint, "NOTIFY accepted; refresh scheduled");
            // The refresh records the NOTIFY in its first transaction.
            self.engine.notified(zone.id, Notified { from: src, serial: hint });
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
