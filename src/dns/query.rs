//! Queries (opcode QUERY): which zone, EDNS(0), the answer written within the
//! size limit, and the refusals.
//!
//! - Exactly one question, else FORMERR; OPT/TSIG/TKEY as a question type: FORMERR.
//! - EDNS (RFC 6891): an OPT in every answer to a query that had one; version
//!   above 0 → BADVERS; the UDP limit is the smaller of the client's size (512
//!   at least) and `dns.max_udp_payload`; without EDNS, 512 bytes (RFC 1035 §4.2.1).
//!   An answer or authority section that does not fit gets TC and only the
//!   question, so the client retries over TCP; additional records that do not
//!   fit are left out (RFC 2181 §9).
//! - A name in no zone of ours → REFUSED (no recursion; RA is never set); a
//!   zone without a copy yet, or expired → SERVFAIL; AXFR/IXFR never reach
//!   here (the listener hands them to `xfr_out`), and are REFUSED if they do.
//! - CHAOS TXT `version.bind`/`version.server` and `hostname.bind`/`id.server`
//!   answer `dns.version` and `dns.identity` when set, else REFUSED; NSID
//!   (RFC 5001) carries `dns.nsid` when set and asked for; EDNS EXPIRE
//!   (RFC 7314) answers a SOA query at a zone's apex that asks for it with the
//!   seconds left before our copy expires.
//! - DS at a zone apex is answered from the parent zone when we hold it (the
//!   DS RRset belongs to the parent side of the cut, RFC 4035 §3.1.4.1).
//!
//! Error answers carry at most the question and an OPT without options, so
//! they are no larger than the query that caused them, unless its name was
//! compressed (ours is written out): over UDP the listener's cut
//! (`fit_udp_error` in src/dns/mod.rs) has the last word.

use std::borrow::Cow;

use super::answer::{self, Answer, Item, Options};
use crate::view::{Serving, Views};
use crate::wire::{class, rcode, rtype, Message, MessageWriter, Name, Section};

/// What the query path needs of the config.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    pub max_udp_payload: u16,
    pub version: Option<String>,
    pub identity: Option<String>,
    pub nsid: Option<Vec<u8>>,
}

/// Outcome counters the listener keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answered(u16),
    Refused,
}

/// EDNS(0) of a query.
struct Edns {
    udp: u16,
    version: u8,
    dnssec_ok: bool,
    nsid: bool,
    /// The query asks for EDNS EXPIRE (RFC 7314).
    expire: bool,
    /// What the answer gives for it (SOA queries at a zone apex).
    expire_reply: Option<u32>,
}

fn edns(msg: &Message) -> Option<Edns> {
    let opt = msg.opt.as_ref()?;
    let version = ((opt.ttl >> 16) & 0xff) as u8;
    let dnssec_ok = opt.ttl & 0x8000 != 0;
    let (mut nsid, mut expire) = (false, false);
    for (code, _) in crate::wire::edns_options(msg) {
        nsid |= code == 3;
        expire |= code == crate::wire::OPTION_EXPIRE;
    }
    Some(Edns { udp: opt.class.max(512), version, dnssec_ok, nsid, expire, expire_reply: None })
}

/// Answers a parsed query; `tcp` lifts the size limit to 65,535. `room` bytes
/// of the limit are left free (for the TSIG of a signed answer).
pub fn respond(views: &Views, cfg: &QueryConfig, msg: &Message, tcp: bool, room: usize) -> (Vec<u8>, Outcome) {
    let h = &msg.header;
    // QR, the opcode, RD and CD copied; AA, TC, RA set below as they apply.
    let flags = 0x8000 | (h.flags & 0x7800) | (h.flags & 0x0100) | (h.flags & 0x0010);
    let mut edns = edns(msg);
    let limit = if tcp {
        65_535
    } else {
        match &edns {
            Some(e) => usize::from(e.udp.min(cfg.max_udp_payload).max(512)),
            None => 512,
        }
    }
    .saturating_sub(room);
    let [q] = msg.questions.as_slice() else {
        return error(h.id, flags, None, rcode::FORMERR, edns.as_ref(), cfg);
    };
    let question = Some((&q.name, q.qtype, q.qclass));
    if let Some(e) = &edns {
        if e.version > 0 {
            // BADVERS (16): the low 4 bits are 0, the upper 8 go in the OPT.
            return error(h.id, flags, question, 16, edns.as_ref(), cfg);
        }
    }
    if matches!(q.qtype, rtype::OPT | rtype::TSIG | 249) {
        return error(h.id, flags, question, rcode::FORMERR, edns.as_ref(), cfg);
    }
    if q.qclass == class::CH {
        return chaos(h.id, flags, q, edns.as_ref(), cfg);
    }
    if q.qclass != class::IN || matches!(q.qtype, rtype::AXFR | rtype::IXFR) {
        return error(h.id, flags, question, rcode::REFUSED, edns.as_ref(), cfg);
    }
    let slot = if q.qtype == rtype::DS {
        parent_for_ds(views, &q.name).or_else(|| views.find(&q.name))
    } else {
        views.find(&q.name)
    };
    let Some(slot) = slot else {
        return error(h.id, flags, question, rcode::REFUSED, edns.as_ref(), cfg);
    };
    let view = match slot.serving() {
        Serving::Ok(v) => v,
        Serving::NoCopy | Serving::Expired => return error(h.id, flags, question, rcode::SERVFAIL, edns.as_ref(), cfg),
    };
    if let Some(e) = edns.as_mut().filter(|e| e.expire && q.qtype == rtype::SOA && slot.name.eq_ignore_case(&q.name)) {
        e.expire_reply = slot.expire_remaining(&view, crate::store::now_secs());
    }
    let opts = Options {
        dnssec_ok: edns.as_ref().is_some_and(|e| e.dnssec_ok),
        recursion_desired: h.flags & 0x0100 != 0,
        minimal: !tcp && edns.as_ref().is_some_and(|e| e.udp <= 512),
    };
    let a = answer::answer(&view, q.name.as_wire(), q.qtype, &opts);
    let code = a.rcode;
    (render(h.id, flags, &q.name, q.qtype, q.qclass, a, limit, edns.as_ref(), cfg), Outcome::Answered(code))
}

/// The zone that holds the parent side of `name`'s cut, if `name` is the apex
/// of one of our zones and we hold its parent too.
fn parent_for_ds(views: &Views, name: &Name) -> Option<std::sync::Arc<crate::view::ZoneSlot>> {
    let own = views.find(name)?;
    if !own.name.eq_ignore_case(name) || name.is_root() {
        return None;
    }
    let wire = name.as_wire();
    let parent = Name::from_wire(&wire[1 + usize::from(wire[0])..]).ok()?;
    views.find(&parent)
}

fn opt_size(edns: Option<&Edns>, cfg: &QueryConfig, with_nsid: bool) -> usize {
    match edns {
        None => 0,
        Some(e) if with_nsid => {
            11 + if e.nsid { cfg.nsid.as_ref().map_or(0, |n| 4 + n.len()) } else { 0 }
                + if e.expire_reply.is_some() { 8 } else { 0 }
        }
        Some(_) => 11,
    }
}

fn write_opt(w: &mut MessageWriter, edns: Option<&Edns>, cfg: &QueryConfig, ext_rcode: u8, with_nsid: bool) {
    let Some(e) = edns else { return };
    let mut options = Vec::new();
    if with_nsid && e.nsid {
        if let Some(n) = &cfg.nsid {
            options.extend_from_slice(&3u16.to_be_bytes());
            options.extend_from_slice(&(n.len() as u16).to_be_bytes());
            options.extend_from_slice(n);
        }
    }
    if let Some(remaining) = e.expire_reply.filter(|_| with_nsid) {
        crate::wire::push_expire_option(&mut options, remaining);
    }
    w.opt(cfg.max_udp_payload, ext_rcode, e.dnssec_ok, &options);
}

fn error(
    id: u16,
    flags: u16,
    question: Option<(&Name, u16, u16)>,
    code: u16,
    edns: Option<&Edns>,
    cfg: &QueryConfig,
) -> (Vec<u8>, Outcome) {
    let mut w = MessageWriter::new(id, flags, question, 65_535);
    w.set_rcode((code & 0x0f) as u8);
    write_opt(&mut w, edns, cfg, (code >> 4) as u8, false);
    let outcome = if code == rcode::REFUSED { Outcome::Refused } else { Outcome::Answered(code) };
    (w.finish(), outcome)
}

fn chaos(id: u16, flags: u16, q: &crate::wire::Question, edns: Option<&Edns>, cfg: &QueryConfig) -> (Vec<u8>, Outcome) {
    let question = Some((&q.name, q.qtype, q.qclass));
    let lower = q.name.to_string().to_ascii_lowercase();
    let text = match lower.as_str() {
        "version.bind." | "version.server." => cfg.version.as_deref(),
        "hostname.bind." | "id.server." => cfg.identity.as_deref(),
        _ => None,
    };
    let Some(text) = text.filter(|_| matches!(q.qtype, rtype::TXT | rtype::ANY)) else {
        return error(id, flags, question, rcode::REFUSED, edns, cfg);
    };
    let mut rdata = Vec::with_capacity(text.len() + 1);
    for chunk in text.as_bytes().chunks(255) {
        rdata.push(chunk.len() as u8);
        rdata.extend_from_slice(chunk);
    }
    let mut w = MessageWriter::new(id, flags | 0x0400, question, 65_535);
    let _ = w.rrset(Section::Answer, q.name.as_wire(), rtype::TXT, class::CH, 0, [&rdata[..]]);
    write_opt(&mut w, edns, cfg, 0, true);
    (w.finish(), Outcome::Answered(rcode::NOERROR))
}

#[allow(clippy::too_many_arguments)]
fn render(
    id: u16,
    flags: u16,
    qname: &Name,
    qtype: u16,
    qclass: u16,
    a: Answer<'_>,
    limit: usize,
    edns: Option<&Edns>,
    cfg: &QueryConfig,
) -> Vec<u8> {
    let flags = if a.aa { flags | 0x0400 } else { flags };
    let mut w = MessageWriter::new(id, flags, Some((qname, qtype, qclass)), limit);
    let question_end = w.len();
    w.set_rcode((a.rcode & 0x0f) as u8);
    let reserve = opt_size(edns, cfg, true);
    w.reserve(reserve);
    let qwire = qname.as_wire();
    let write = |w: &mut MessageWriter, section: Section, it: &Item<'_>| {
        // The owner equal to the question's name points at it (its case echoed).
        let owner: Cow<'_, [u8]> =
            if it.owner.eq_ignore_ascii_case(qwire) { Cow::Borrowed(qwire) } else { Cow::Borrowed(&it.owner) };
        w.rrset(section, &owner, it.rtype, class::IN, it.ttl, it.rdatas())
    };
    let mut truncated = false;
    for (section, items) in [(Section::Answer, &a.answer), (Section::Authority, &a.authority)] {
        for it in items {
            if write(&mut w, section, it).is_err() {
                truncated = true;
                break;
            }
        }
        if truncated {
            break;
        }
    }
    if truncated {
        w.truncate_to_question(question_end);
    } else {
        for it in &a.additional {
            let _ = write(&mut w, Section::Additional, it);
        }
    }
    w.unreserve(reserve);
    write_opt(&mut w, edns, cfg, (a.rcode >> 4) as u8, true);
    w.finish()
}
