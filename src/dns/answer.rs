//! The authoritative answer from one zone's view: RFC 1034 §4.3.2 step 3,
//! with CNAME chains inside the zone (RFC 6604 rcodes), DNAME (RFC 6672),
//! wildcards (RFC 4592), referrals, negative answers (RFC 2308) and, for DO
//! queries, the RRSIGs and NSEC/NSEC3 proofs of RFC 4035 §3.1 and RFC 5155
//! §7.2, exactly as far as the transferred zone's own records allow (we never
//! sign).
//!
//! [`answer`] is sans-IO: it decides the sections as lists of RRsets;
//! `dns::query` writes them into a message within the size limit.
//!
//! Choices made as BIND 9.18 makes them at its defaults:
//! - `minimal-responses no-auth-recursive`: a positive answer to a query
//!   without RD carries the zone's NS RRset in the authority section (and
//!   their addresses in the additional section); with RD it does not.
//! - additional section: A and AAAA of the targets of NS, MX and SRV records
//!   in the answer (and of a referral's NS, glue below the cut included) when
//!   the zone has them.
//! - `minimal-any no`: ANY gets every RRset of the name.
//! - the SOA of a negative answer has the TTL min(SOA TTL, MINIMUM) (RFC 2308 §5).

use std::borrow::Cow;

use data_encoding::BASE32HEX_NOPAD;

use crate::view::tree::{decode_key, key_ancestor, key_labels, Key, Node, RRset};
use crate::view::ZoneView;
use crate::wire::{rcode, rtype, skip_uncompressed_name, MAX_NAME_LEN};

/// CNAME/DNAME links followed inside a zone at most (BIND: 16 restarts is its
/// `max-restarts` order of magnitude too).
const MAX_CHAIN: usize = 12;
/// How far back the NSEC "previous name with an NSEC" search walks (names
/// without NSEC: glue and other names below cuts).
const MAX_NSEC_WALK: usize = 4096;

/// One RRset to write: owner in wire form, its records.
#[derive(Clone)]
pub struct Item<'v> {
    pub owner: Cow<'v, [u8]>,
    pub rtype: u16,
    pub ttl: u32,
    data: ItemData<'v>,
}

#[derive(Clone)]
enum ItemData<'v> {
    /// An RRset of the view, borrowed.
    Set(RRset<'v>),
    /// One synthesised record (a DNAME's CNAME).
    One(Vec<u8>),
}

impl<'v> Item<'v> {
    /// The RDATA of each record.
    pub fn rdatas(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let (set, one) = match &self.data {
            ItemData::Set(s) => (Some(s.rdatas()), None),
            ItemData::One(d) => (None, Some(&d[..])),
        };
        set.into_iter().flatten().chain(one)
    }
}

impl std::fmt::Debug for Item<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item").field("owner", &self.owner).field("rtype", &self.rtype).field("ttl", &self.ttl).finish()
    }
}

/// The decided answer: rcode, AA, and the three sections in order.
#[derive(Debug, Default)]
pub struct Answer<'v> {
    pub rcode: u16,
    pub aa: bool,
    pub answer: Vec<Item<'v>>,
    pub authority: Vec<Item<'v>>,
    pub additional: Vec<Item<'v>>,
}

pub struct Options {
    pub dnssec_ok: bool,
    pub recursion_desired: bool,
    /// A positive answer gets neither authority NS nor additional records:
    /// BIND's choice for UDP queries whose EDNS size is 512 or less.
    pub minimal: bool,
}

/// Types answered from the node even when it holds a CNAME (RFC 4035 §2.5,
/// RFC 2535): the DNSSEC records and KEY may sit beside a CNAME.
fn at_cname(qtype: u16) -> bool {
    matches!(qtype, rtype::NSEC | rtype::RRSIG | rtype::KEY | rtype::SIG | rtype::NXT)
}

fn item<'v>(owner: Cow<'v, [u8]>, set: RRset<'v>) -> Item<'v> {
    Item { owner, rtype: set.rtype, ttl: set.ttl, data: ItemData::Set(set) }
}

fn wire_of(key: &[u8]) -> Vec<u8> {
    let mut w = Vec::with_capacity(key.len() + 2);
    decode_key(key, &mut w);
    w
}

struct Ctx<'v, 'o> {
    view: &'v ZoneView,
    opts: &'o Options,
    out: Answer<'v>,
    /// Names whose A/AAAA go in the additional section (wire, from the view's RDATA).
    targets: Vec<&'v [u8]>,
    /// RRsets already in the answer or authority section: (owner key as a
    /// range of `added_keys`, type, covered).
    added: Vec<(u32, u32, u16, u16)>,
    added_keys: Vec<u8>,
    /// A key being looked up (reused).
    scratch: Vec<u8>,
    /// The apex node (SOA, NS, DNSKEY), looked up once.
    apex_node: Option<Node<'v>>,
    /// The zone is signed (its apex has a DNSKEY): DNSSEC records go out with DO.
    secure: bool,
    qtype: u16,
}

enum Found<'v> {
    Exact(Node<'v>),
    /// An empty non-terminal.
    Ent,
    /// Synthesised from the wildcard `wild` (its key); the closest encloser
    /// is the qname's ancestor of `ce` labels.
    Wildcard {
        wild: Vec<u8>,
        node: Node<'v>,
        ce: usize,
    },
    /// The closest encloser is the qname's ancestor of `ce` labels.
    NxDomain {
        ce: usize,
    },
    /// Below (or at) the zone cut `cut`.
    Delegation {
        cut: Vec<u8>,
        node: Node<'v>,
    },
    /// Below the DNAME at `owner`.
    Dname {
        owner: Vec<u8>,
        node: Node<'v>,
    },
}

/// Finds what the zone has for `key` (a name at or below the apex): one
/// ordered search per label below the apex, each starting where its
/// parent's ended, which also says whether a missing name has names below
/// it (an empty non-terminal); then, for a name that does not exist, the
/// wildcard of its closest encloser, searched from where the encloser is.
fn find<'v>(view: &'v ZoneView, key: &[u8], qtype: u16) -> Found<'v> {
    let names = &view.names;
    let apex_labels = key_labels(view.apex_key.as_bytes());
    let labels = key_labels(key);
    let mut ce = apex_labels;
    let mut at_key = None;
    // Base index where the search for the next ancestor may start, and the
    // one for names below the closest encloser found so far.
    let (mut from, mut below_ce) = (0, 0);
    for depth in apex_labels + 1..=labels {
        let anc = key_ancestor(key, depth);
        let probe = names.probe(anc, from);
        match probe.node {
            Some(node) => {
                let at_qname = depth == labels;
                // DS, and the NSEC of a signed parent, at a cut belong to the
                // parent side (RFC 4035 §3.1.4.1, §2.3).
                let parent_side = at_qname && (qtype == rtype::DS || (qtype == rtype::NSEC && node.has(rtype::NSEC)));
                if node.has(rtype::NS) && !parent_side {
                    return Found::Delegation { cut: anc.to_vec(), node };
                }
                if !at_qname && node.has(rtype::DNAME) {
                    return Found::Dname { owner: anc.to_vec(), node };
                }
                if at_qname {
                    at_key = Some(node);
                }
            }
            None if probe.exists => {}
            None => break,
        }
        ce = depth;
        from = probe.next;
        below_ce = probe.next;
    }
    if ce == labels {
        let node = if labels == apex_labels { names.get_first(key) } else { at_key };
        return match node {
            Some(node) => Found::Exact(node),
            None => Found::Ent,
        };
    }
    let ce_key = key_ancestor(key, ce);
    let mut buf = [0u8; 2 * MAX_NAME_LEN + 2];
    let Some(wild) = buf.get_mut(..ce_key.len() + 2) else { return Found::NxDomain { ce } };
    let n = ce_key.len();
    wild[..n].copy_from_slice(ce_key);
    wild[n..].copy_from_slice(b"*\0");
    match names.get_near(wild, below_ce) {
        Some(node) => Found::Wildcard { wild: wild.to_vec(), node, ce },
        None => Found::NxDomain { ce },
    }
}

impl<'v> Ctx<'v, '_> {
    fn already(&self, owner_key: &[u8], rtype: u16, covered: u16) -> bool {
        self.added
            .iter()
            .any(|&(a, b, t, c)| t == rtype && c == covered && &self.added_keys[a as usize..b as usize] == owner_key)
    }

    fn register(&mut self, owner_key: &[u8], rtype: u16, covered: u16) {
        let a = self.added_keys.len() as u32;
        self.added_keys.extend_from_slice(owner_key);
        self.added.push((a, self.added_keys.len() as u32, rtype, covered));
    }

    fn add_target(&mut self, t: &'v [u8]) {
        if !self.targets.iter().any(|x| x.eq_ignore_ascii_case(t)) {
            self.targets.push(t);
        }
    }

    /// Adds an RRset (and its RRSIGs with DO) to the answer or authority section.
    fn put(&mut self, authority: bool, owner_key: &[u8], owner_wire: Cow<'v, [u8]>, node: Node<'v>, set: RRset<'v>) {
        if self.already(owner_key, set.rtype, set.covered) {
            return;
        }
        self.register(owner_key, set.rtype, set.covered);
        let sigs = if self.signed() && set.rtype != rtype::RRSIG && !self.already(owner_key, rtype::RRSIG, set.rtype) {
            node.sigs(set.rtype)
        } else {
            None
        };
        if sigs.is_some() {
            self.register(owner_key, rtype::RRSIG, set.rtype);
        }
        let section = if authority { &mut self.out.authority } else { &mut self.out.answer };
        if let Some(sigs) = sigs {
            section.push(item(owner_wire.clone(), set));
            section.push(item(owner_wire, sigs));
        } else {
            section.push(item(owner_wire, set));
        }
        match set.rtype {
            rtype::NS | rtype::MX | rtype::SRV => {
                let skip = match set.rtype {
                    rtype::MX => 2,
                    rtype::SRV => 6,
                    _ => 0,
                };
                for rd in set.rdatas() {
                    if let Some(end) = skip_uncompressed_name(rd, skip) {
                        self.add_target(&rd[skip..end]);
                    }
                }
            }
            _ => {}
        }
    }

    fn soa_negative(&mut self) {
        let apex = self.view.apex_key.as_bytes();
        let Some(node) = self.apex_node else { return };
        let Some(soa) = node.get(rtype::SOA) else { return };
        let minimum = soa
            .rdatas()
            .next()
            .and_then(|rd| rd.get(rd.len().checked_sub(4)?..))
            .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
        // BIND (`zero-no-soa-ttl`) gives the SOA of an NXDOMAIN answer to a SOA
        // query TTL 0, so that it is not cached in place of the zone's SOA.
        let nxdomain_soa = self.qtype == rtype::SOA && self.out.rcode == rcode::NXDOMAIN;
        let ttl = if nxdomain_soa { 0 } else { minimum.map_or(soa.ttl, |m| m.min(soa.ttl)) };
        let apex_wire: &'v [u8] = self.view.apex.as_wire();
        self.register(apex, rtype::SOA, 0);
        self.out.authority.push(Item { ttl, ..item(Cow::Borrowed(apex_wire), soa) });
        if self.signed() {
            if let Some(sigs) = node.sigs(rtype::SOA) {
                self.out.authority.push(Item { ttl, ..item(Cow::Borrowed(apex_wire), sigs) });
            }
        }
    }

    // ----- NSEC (RFC 4035 §3.1.3) -----

    fn nsec_at(&mut self, key: &[u8]) -> bool {
        let Some(node) = self.view.names.get(key) else { return false };
        let Some(set) = node.get(rtype::NSEC) else { return false };
        self.put(true, key, Cow::Owned(wire_of(key)), node, set);
        true
    }

    /// The NSEC whose owner is the closest name before `key` (it covers `key`).
    fn nsec_covering(&mut self, key: &[u8]) {
        let mut probe = key.to_vec();
        for _ in 0..MAX_NSEC_WALK {
            let Some((k, node)) = self.view.names.seek_lt(&probe) else { return };
            if let Some(set) = node.get(rtype::NSEC) {
                self.put(true, k, Cow::Owned(wire_of(k)), node, set);
                return;
            }
            probe = k.to_vec();
        }
    }

    // ----- NSEC3 (RFC 5155 §7.2) -----

    fn nsec3_key(&self, name_key: &[u8]) -> Option<Vec<u8>> {
        let param = self.view.nsec3param.as_ref()?;
        if param.algorithm != 1 {
            return None;
        }
        let wire = wire_of(name_key);
        let mut h = sha1(&[&wire, &param.salt]);
        for _ in 0..param.iterations {
            h = sha1(&[&h, &param.salt]);
        }
        let label = BASE32HEX_NOPAD.encode(&h).to_ascii_lowercase();
        let mut k = self.view.apex_key.as_bytes().to_vec();
        k.extend_from_slice(label.as_bytes());
        k.push(0);
        Some(k)
    }

    fn put_nsec3(&mut self, k: &[u8], node: Node<'v>) {
        if let Some(set) = node.get(rtype::NSEC3) {
            self.put(true, k, Cow::Owned(wire_of(k)), node, set);
        }
    }

    /// The NSEC3 whose owner hashes `name_key`, if the zone has one.
    fn nsec3_matching(&mut self, name_key: &[u8]) -> bool {
        let Some(h) = self.nsec3_key(name_key) else { return false };
        match self.view.nsec3.get(&h) {
            Some(node) => {
                self.put_nsec3(&h, node);
                true
            }
            None => false,
        }
    }

    /// The NSEC3 that covers the hash of `name_key` (wrapping around the chain).
    fn nsec3_covering(&mut self, name_key: &[u8]) {
        let Some(h) = self.nsec3_key(name_key) else { return };
        let found = self.view.nsec3.seek_lt(&h).or_else(|| {
            let mut last = self.view.apex_key.as_bytes().to_vec();
            last.push(0xff);
            self.view.nsec3.seek_lt(&last)
        });
        if let Some((k, node)) = found {
            self.put_nsec3(k, node);
        }
    }

    /// The closest provable encloser of `key` and the next closer name's cover
    /// (RFC 5155 §7.2.1); returns the encloser's key.
    fn nsec3_closest_encloser(&mut self, key: &[u8], from_labels: usize) -> Vec<u8> {
        let apex_labels = key_labels(self.view.apex_key.as_bytes());
        let mut depth = from_labels;
        loop {
            let anc = key_ancestor(key, depth).to_vec();
            if depth <= apex_labels || self.nsec3_key(&anc).is_some_and(|h| self.view.nsec3.get(&h).is_some()) {
                self.nsec3_matching(&anc);
                if depth < key_labels(key) {
                    self.nsec3_covering(key_ancestor(key, depth + 1));
                }
                return anc;
            }
            depth -= 1;
        }
    }

    fn signed(&self) -> bool {
        self.opts.dnssec_ok && self.secure
    }

    /// RFC 5155 §7.2.6: a wildcard answer carries the NSEC3 that covers the
    /// next closer name (one label below the closest encloser `ce`).
    fn nsec3_wildcard_answer(&mut self, key: &[u8], ce: &[u8]) {
        self.nsec3_covering(key_ancestor(key, key_labels(ce) + 1));
    }

    fn nsec3(&self) -> bool {
        self.view.nsec3param.is_some()
    }

    /// Proof that `key` does not exist and, when `wildcard_absent`, that no
    /// wildcard at its closest encloser `ce` does either.
    fn deny_name(&mut self, key: &[u8], ce: &[u8], wildcard_absent: bool) {
        if !self.signed() {
            return;
        }
        if self.nsec3() {
            let ce_found = self.nsec3_closest_encloser(key, key_labels(ce));
            if wildcard_absent {
                let mut wild = ce_found;
                wild.extend_from_slice(b"*\0");
                self.nsec3_covering(&wild);
            }
        } else {
            self.nsec_covering(key);
            if wildcard_absent {
                let mut wild = ce.to_vec();
                wild.extend_from_slice(b"*\0");
                self.nsec_covering(&wild);
            }
        }
    }

    /// Proof that `key` exists without the type asked (NODATA).
    fn deny_type(&mut self, key: &[u8]) {
        if !self.signed() {
            return;
        }
        if self.nsec3() {
            if !self.nsec3_matching(key) {
                self.nsec3_closest_encloser(key, key_labels(key));
            }
        } else if !self.nsec_at(key) {
            // An empty non-terminal: the NSEC before it covers it.
            self.nsec_covering(key);
        }
    }

    fn referral(&mut self, cut: &[u8], node: Node<'v>) {
        let cut_wire: Cow<'v, [u8]> = Cow::Owned(wire_of(cut));
        if let Some(ns) = node.get(rtype::NS) {
            // The NS RRset at a cut is not authoritative and not signed.
            if !self.already(cut, rtype::NS, 0) {
                self.register(cut, rtype::NS, 0);
                self.out.authority.push(item(cut_wire.clone(), ns));
                for rd in ns.rdatas() {
                    self.add_target(rd);
                }
            }
        }
        if !self.signed() {
            return;
        }
        if let Some(ds) = node.get(rtype::DS) {
            self.put(true, cut, cut_wire, node, ds);
        } else if self.nsec3() {
            if !self.nsec3_matching(cut) {
                self.nsec3_closest_encloser(cut, key_labels(cut));
            }
        } else {
            self.nsec_at(cut);
        }
    }

    /// A/AAAA (and their RRSIGs with DO) of the collected targets that the
    /// zone holds; names at or below a cut only as a referral's glue.
    fn additional(&mut self, glue: bool) {
        let targets = std::mem::take(&mut self.targets);
        let mut k = std::mem::take(&mut self.scratch);
        for &t in &targets {
            k.clear();
            crate::view::tree::encode_key(t, &mut k);
            if !crate::view::tree::key_is_below(&k, self.view.apex_key.as_bytes()) {
                continue;
            }
            // Glue may be below the cut; other targets only as authoritative data.
            let node = if glue {
                self.view.names.get(&k)
            } else {
                match find(self.view, &k, rtype::A) {
                    Found::Exact(node) => Some(node),
                    _ => None,
                }
            };
            let Some(node) = node else { continue };
            for rt in [rtype::A, rtype::AAAA] {
                if self.already(&k, rt, 0) {
                    continue;
                }
                if let Some(set) = node.get(rt) {
                    self.out.additional.push(item(Cow::Borrowed(t), set));
                    if self.signed() {
                        if let Some(sigs) = node.sigs(rt) {
                            self.out.additional.push(item(Cow::Borrowed(t), sigs));
                        }
                    }
                }
            }
        }
        self.scratch = k;
    }

    /// A referral's glue: the A/AAAA of its NS targets at or below the cut
    /// (an in-zone NS name elsewhere in the zone is not added, as BIND does).
    fn glue(&mut self, cut: &[u8]) {
        self.targets.retain(|t| crate::view::tree::key_is_below(Key::from_wire(t).as_bytes(), cut));
        self.additional(true);
    }

    /// The zone's own NS in the authority section of a positive answer to a
    /// query without RD (BIND's `minimal-responses no-auth-recursive`).
    fn authority_ns(&mut self) {
        // BIND adds no authority NS to DNSKEY and DS answers.
        if self.opts.recursion_desired || matches!(self.qtype, rtype::DNSKEY | rtype::DS) {
            return;
        }
        let apex: &'v [u8] = self.view.apex_key.as_bytes();
        if self.already(apex, rtype::NS, 0) {
            return;
        }
        let Some(node) = self.apex_node else { return };
        if let Some(ns) = node.get(rtype::NS) {
            let wire: &'v [u8] = self.view.apex.as_wire();
            self.put(true, apex, Cow::Borrowed(wire), node, ns);
        }
    }
}

fn sha1(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

/// `name` with its suffix `from` (a DNAME owner) replaced by `to` (RFC 6672 §2.2).
fn substitute(name: &[u8], from_len: usize, to: &[u8]) -> Option<Vec<u8>> {
    let keep = name.len().checked_sub(from_len)?;
    let mut out = name[..keep].to_vec();
    out.extend_from_slice(to);
    (out.len() <= MAX_NAME_LEN).then_some(out)
}

/// How one link of the chain ended.
enum Step<'v> {
    /// The type asked for (or ANY) was answered.
    Answered,
    /// A CNAME (or DNAME's synthesised CNAME) to follow.
    Follow(Cow<'v, [u8]>),
    /// NODATA or NXDOMAIN (the authority section says which).
    Negative,
}

/// The buffers an answer works in that borrow nothing from the view, kept
/// per thread from one query to the next: they are cleared, not allocated,
/// per query.
#[derive(Default)]
struct Buffers {
    added: Vec<(u32, u32, u16, u16)>,
    added_keys: Vec<u8>,
    scratch: Vec<u8>,
    key: Vec<u8>,
}

thread_local! {
    static BUFFERS: std::cell::Cell<Buffers> = std::cell::Cell::new(Buffers::default());
}

/// Answers `qname`/`qtype` (qname at or below the view's apex, lower case or
/// not) from `view`.
pub fn answer<'v>(view: &'v ZoneView, qname_wire: &'v [u8], qtype: u16, opts: &Options) -> Answer<'v> {
    let mut b = BUFFERS.take();
    let apex_node = view.names.get_first(view.apex_key.as_bytes());
    let secure = apex_node.is_some_and(|n| n.has(rtype::DNSKEY));
    let mut c = Ctx {
        view,
        opts,
        out: Answer { aa: true, answer: Vec::with_capacity(4), ..Answer::default() },
        targets: Vec::new(),
        added: std::mem::take(&mut b.added),
        added_keys: std::mem::take(&mut b.added_keys),
        scratch: std::mem::take(&mut b.scratch),
        apex_node,
        secure,
        qtype,
    };
    lookup(&mut c, qname_wire, qtype, &mut b.key);
    let Ctx { out, mut added, mut added_keys, mut scratch, .. } = c;
    added.clear();
    added_keys.clear();
    scratch.clear();
    b.key.clear();
    BUFFERS.set(Buffers { added, added_keys, scratch, key: b.key });
    out
}

/// The chain of lookups of [`answer`], into `c.out`; `k` holds each name's key.
fn lookup<'v>(c: &mut Ctx<'v, '_>, qname_wire: &'v [u8], qtype: u16, k: &mut Vec<u8>) {
    let view = c.view;
    let opts = c.opts;
    let mut name: Cow<'v, [u8]> = Cow::Borrowed(qname_wire);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut last = Step::Negative;
    for step in 0..=MAX_CHAIN {
        k.clear();
        crate::view::tree::encode_key(&name, k);
        let k: &[u8] = k;
        if !crate::view::tree::key_is_below(k, view.apex_key.as_bytes()) {
            // Left the zone: we do not recurse; the chain stops with what we have.
            last = Step::Negative;
            break;
        }
        if seen.iter().any(|s| s == k) {
            // A loop (BIND answers SERVFAIL, keeping the chain).
            c.out.rcode = rcode::SERVFAIL;
            return;
        }
        last = match find(view, k, qtype) {
            Found::Exact(node) => exact(c, k, name.clone(), node, None),
            Found::Wildcard { wild, node, ce } => {
                let step = exact(c, &wild, name.clone(), node, Some(k));
                match step {
                    // RFC 4035 §3.1.3.3, RFC 5155 §7.2.6: the name itself does not exist.
                    Step::Answered | Step::Follow(_) if c.signed() => {
                        if c.nsec3() {
                            c.nsec3_wildcard_answer(k, key_ancestor(k, ce));
                        } else {
                            c.nsec_covering(k);
                        }
                    }
                    // Wildcard NODATA (§3.1.3.4, RFC 5155 §7.2.5): plus qname's denial.
                    Step::Negative => c.deny_name(k, key_ancestor(k, ce), false),
                    _ => {}
                }
                step
            }
            Found::Ent => {
                c.soa_negative();
                c.deny_type(k);
                Step::Negative
            }
            Found::NxDomain { ce } => {
                c.out.rcode = rcode::NXDOMAIN;
                c.soa_negative();
                c.deny_name(k, key_ancestor(k, ce), true);
                Step::Negative
            }
            Found::Delegation { cut, node } => {
                if step == 0 {
                    c.out.aa = false;
                }
                c.referral(&cut, node);
                c.glue(&cut);
                return;
            }
            Found::Dname { owner, node } => match node.get(rtype::DNAME) {
                Some(dname) => {
                    let owner_wire = wire_of(&owner);
                    let owner_len = owner_wire.len();
                    c.put(false, &owner, Cow::Owned(owner_wire), node, dname);
                    let target = dname.rdatas().next().unwrap_or_default();
                    let Some(new) = substitute(&name, owner_len, target) else {
                        c.out.rcode = 6; // YXDOMAIN (RFC 6672 §2.2)
                        return;
                    };
                    // The synthesised CNAME is unsigned (RFC 6672 §5.3.1).
                    c.out.answer.push(Item {
                        owner: name.clone(),
                        rtype: rtype::CNAME,
                        ttl: dname.ttl,
                        data: ItemData::One(new.clone()),
                    });
                    if matches!(qtype, rtype::CNAME | rtype::ANY) {
                        Step::Answered
                    } else {
                        Step::Follow(Cow::Owned(new))
                    }
                }
                None => Step::Negative,
            },
        };
        match &last {
            Step::Follow(next) => {
                // A new name in the chain: the rcode is that of its last link (RFC 6604).
                c.out.rcode = rcode::NOERROR;
                seen.push(k.to_vec());
                name = next.clone();
            }
            _ => break,
        }
    }
    if matches!(last, Step::Answered) && !opts.minimal {
        c.authority_ns();
        if qtype != rtype::ANY {
            c.additional(false);
        }
    }
}

/// The answer at a node that exists (or a wildcard standing in for `qname`):
/// the RRset asked for, a CNAME to follow, or NODATA.
fn exact<'v>(
    c: &mut Ctx<'v, '_>,
    key: &[u8],
    name: Cow<'v, [u8]>,
    node: Node<'v>,
    wildcard_for: Option<&[u8]>,
) -> Step<'v> {
    let owner_key = wildcard_for.unwrap_or(key);
    let qtype = c.qtype;
    match qtype {
        rtype::ANY => {
            // BIND's `minimal-any no`: every RRset, the RRSIGs too (with or without DO).
            for set in node.rrsets().filter(|s| s.rtype != rtype::RRSIG) {
                c.put(false, owner_key, name.clone(), node, set);
            }
            for set in node.rrsets().filter(|s| s.rtype == rtype::RRSIG) {
                c.put(false, owner_key, name.clone(), node, set);
            }
            return Step::Answered;
        }
        rtype::RRSIG => {
            let sigs: Vec<_> = node.rrsets().filter(|s| s.rtype == rtype::RRSIG).collect();
            if !sigs.is_empty() {
                for s in sigs {
                    c.put(false, owner_key, name.clone(), node, s);
                }
                return Step::Answered;
            }
        }
        _ => {
            if let Some(set) = node.get(qtype) {
                c.put(false, owner_key, name.clone(), node, set);
                return Step::Answered;
            }
            if let Some(cname) = node.get(rtype::CNAME).filter(|_| !at_cname(qtype)) {
                c.put(false, owner_key, name, node, cname);
                return match cname.rdatas().next() {
                    Some(t) => Step::Follow(Cow::Borrowed(t)),
                    None => Step::Answered,
                };
            }
        }
    }
    // NODATA.
    c.soa_negative();
    if c.signed() {
        if c.nsec3() {
            if wildcard_for.is_some() {
                // RFC 5155 §7.2.5: the wildcard's own NSEC3 (the encloser proof comes from the caller).
                c.nsec3_matching(key);
            } else {
                c.deny_type(key);
            }
        } else {
            c.nsec_at(key);
        }
    }
    Step::Negative
}
