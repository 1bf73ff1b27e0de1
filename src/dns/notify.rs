//! NOTIFY (RFC 1996) received. A NOTIFY is an input: it is checked and then
//! only *schedules* a refresh through the engine (merged with one pending or
//! running, RFC 1996 §4.4). It never transfers anything itself. Rules, in order:
//! - not exactly one question of type SOA → FORMERR; a class other than IN → REFUSED;
//! - a zone we do not hold → NOTAUTH;
//! - a source address that is not one of the zone's primaries (any port,
//!   addresses compared in canonical form) → REFUSED;
//! - a TSIG that does not verify with that primary's key → NOTAUTH with the TSIG
//!   error: BADKEY/BADSIG unsigned; BADTIME (the sender's fudge bounded to
//!   300 s, our time in Other Data) and BADTRUNC signed (RFC 8945 §5.2, §5.3.2);
//! - unsigned while the primary requires signed NOTIFY → REFUSED;
//! - otherwise NOERROR, AA, the question echoed, signed when the request was.
//!   When the NOTIFY carries the new SOA and its serial is not newer than ours,
//!   no refresh is scheduled (BIND does the same).
//!
//! The checks read memory only (`store::notify_acl` and the serving view): a
//! NOTIFY costs no store round trip unless it is accepted. Refusals are logged
//! at most once per 10 s, with their count.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use super::{DnsServer, NotifyRefusal};
use crate::store::notify_acl::{canonical_ip, AclPrimary};
use crate::store::zones;
use crate::view::Serving;
use crate::wire::serial::Serial;
use crate::wire::tsig::{self, TsigKey};
use crate::wire::{self, class, rcode, rtype, Message, Name};
use crate::zone::name::normalize_zone_name;
use crate::zone::Notified;

impl DnsServer {
    /// A refusal: counted always, logged at most once per 10 s (with the
    /// number of refusals the line stands for), since anyone can send them.
    fn refuse(&self, msg: &Message, src: SocketAddr, zone: &str, why: NotifyRefusal, reason: &str) -> Vec<u8> {
        self.stats.count_refusal(why);
        let code = match why {
            NotifyRefusal::Malformed => rcode::FORMERR,
            NotifyRefusal::Class | NotifyRefusal::NotPrimary | NotifyRefusal::Unsigned => rcode::REFUSED,
            NotifyRefusal::UnknownZone | NotifyRefusal::Tsig => rcode::NOTAUTH,
        };
        if let Some(count) = self.notify_refused_log.tick() {
            tracing::warn!(zone, from = %src, rcode = %rcode::name(code), reason, count,
                "NOTIFY refused (count: refusals since the last such line)");
        }
        wire::build_response(msg, code)
    }

    pub(super) async fn notify(&self, msg: &Message, bytes: &[u8], src: SocketAddr) -> Vec<u8> {
        let [q] = msg.questions.as_slice() else {
            return self.refuse(msg, src, "-", NotifyRefusal::Malformed, "a NOTIFY needs exactly one question");
        };
        let qname = q.name.to_string();
        if q.qtype != rtype::SOA {
            return self.refuse(msg, src, &qname, NotifyRefusal::Malformed, "a NOTIFY question must be of type SOA");
        }
        if q.qclass != class::IN {
            return self.refuse(msg, src, &qname, NotifyRefusal::Class, "our zones are of class IN only");
        }
        let Ok(name) = normalize_zone_name(&qname) else {
            return self.refuse(msg, src, &qname, NotifyRefusal::UnknownZone, "not a zone name we could hold");
        };
        // From memory: no store round trip before the source is known to be a primary.
        let acl = self.engine.store.notify_acl.load();
        let Some(zone) = acl.zone(&name) else {
            return self.refuse(msg, src, &name, NotifyRefusal::UnknownZone, "we are not a secondary for this zone");
        };
        let ip = canonical_ip(src.ip());
        let from_primaries: Vec<&AclPrimary> = acl.primaries(zone).filter(|p| p.ip == Some(ip)).collect();
        if from_primaries.is_empty() {
            return self.refuse(msg, src, &name, NotifyRefusal::NotPrimary, "the source is not a primary of this zone");
        }

        // TSIG (RFC 8945): a signed NOTIFY must verify with one of those primaries' keys.
        let all_keys = self.engine.keys();
        let keys: Vec<&TsigKey> =
            from_primaries.iter().filter_map(|p| p.tsig_key.as_deref()).filter_map(|k| all_keys.get(k)).collect();
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
                        let mut reply = self.refuse(msg, src, &name, NotifyRefusal::Tsig, &format!("TSIG: {e}"));
                        let _ = e.append_tsig(&mut reply, t, now);
                        return reply;
                    }
                }
            }
            None => {
                if from_primaries.iter().all(|p| p.notify_requires_tsig) {
                    return self.refuse(msg, src, &name, NotifyRefusal::Unsigned, "the primary requires signed NOTIFY");
                }
                None
            }
        };

        let hint = msg.answers.iter().find(|r| r.rtype == rtype::SOA).and_then(|r| r.soa_serial());
        self.accept(zone.id, &name, &q.name, src, hint).await;
        let reply = wire::build_response(msg, rcode::NOERROR);
        match signed_by {
            Some((key, mac)) => tsig::sign_response(key, &mac, &reply, tsig::unix_now()).unwrap_or(reply),
            None => reply,
        }
    }

    async fn accept(&self, id: i64, zone: &str, apex: &Name, src: SocketAddr, hint: Option<u32>) {
        self.stats.notify_accepted.fetch_add(1, Ordering::Relaxed);
        // What we serve now, from the serving view (no store read).
        let ours = self.engine.views.get(id, apex).and_then(|slot| match slot.serving() {
            Serving::Ok(v) => Some(v.serial),
            Serving::NoCopy | Serving::Expired => None,
        });
        let stale = match (hint, ours) {
            (Some(h), Some(ours)) => !Serial(h).is_newer_than(Serial(ours)),
            _ => false,
        };
        // Schedule first, record after: the refresh does not need the record,
        // and the NOTIFY → new version path saves a store round trip.
        if stale {
            tracing::info!(zone, from = %src, serial = ?hint, ours = ?ours,
                "NOTIFY accepted; its serial is not newer than ours, no refresh");
            let from = src.to_string();
            if let Err(e) = self.engine.store.call(move |c| zones::record_notify(c, id, &from, hint)).await {
                tracing::error!(zone, error = %e, "cannot record a NOTIFY");
            }
        } else {
            tracing::info!(zone, from = %src, serial = ?hint, "NOTIFY accepted; refresh scheduled");
            // The refresh records the NOTIFY in its first transaction.
            self.engine.notified(id, Notified { from: src, serial: hint });
        }
    }
}
