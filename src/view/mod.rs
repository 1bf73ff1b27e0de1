//! The serving view: what queries (and, later, outgoing transfers) read.
//!
//! Answers never come from SQLite. Each zone has a [`ZoneSlot`] whose current
//! [`ZoneView`] is an immutable value behind one atomic pointer: a query loads
//! the pointer and answers from that version without taking a lock a writer
//! could hold; a commit builds the next view and swaps the pointer, so a query
//! sees the old or the new version, never a mix.
//!
//! A view holds the zone's names in canonical order ([`tree`]): a compact
//! sorted base (about the zone's wire size) plus a persistent delta of the
//! names changed since. An IXFR builds the next view from the previous one at
//! the cost of the diff; once the delta has grown to a fraction of the base,
//! [`ZoneView::compacted`] folds it into a new base (done by the zone engine
//! off the query path).
//!
//! Two trees share the base: `raw` is the primary's data, the one the next IXFR
//! applies to; `names` is what we publish, `raw` with the zone's NS settings
//! laid over a few names (computed by `zone::publish`). NSEC3 records live in a
//! tree of their own (RFC 5155 §7.2.8: their owner names are not names of the
//! zone), which also makes "the NSEC3 that covers this hash" one search.
//!
//! [`Views`] maps zone names to slots. It changes only when a zone is created
//! or deleted, and is itself a persistent map behind an atomic pointer.

pub mod tree;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::wire::{rtype, Name, Record};
use tree::{Builder, Key, Node, NodeBuf, Tree};

/// Above this share of the base's names in the delta, compaction pays.
const COMPACT_RATIO: usize = 8;
/// Deltas below this many names are never worth compacting.
const COMPACT_MIN: usize = 1024;

/// NSEC3 hashing parameters of a zone (RFC 5155 §4, from its NSEC3PARAM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nsec3Param {
    pub algorithm: u8,
    pub iterations: u16,
    pub salt: Vec<u8>,
}

impl Nsec3Param {
    /// Parses NSEC3PARAM RDATA; only flags 0 are usable by servers (§4.1.2).
    pub fn parse(rdata: &[u8]) -> Option<Nsec3Param> {
        let (&algorithm, rest) = rdata.split_first()?;
        let (&flags, rest) = rest.split_first()?;
        let iterations = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
        let salt_len = usize::from(*rest.get(2)?);
        let salt = rest.get(3..3 + salt_len)?.to_vec();
        (flags == 0 && rest.len() == 3 + salt_len).then_some(Nsec3Param { algorithm, iterations, salt })
    }
}

/// One version of one zone, as served.
#[derive(Clone)]
pub struct ZoneView {
    /// The apex, lower case.
    pub apex: Name,
    pub apex_key: Key,
    pub serial: u32,
    /// What we answer from.
    pub names: Tree,
    /// The primary's data (the next IXFR applies to it).
    raw: Tree,
    /// NSEC3 records and the RRSIGs over them, by owner.
    pub nsec3: Tree,
    /// Hashing parameters when the zone has NSEC3 records and an NSEC3PARAM.
    pub nsec3param: Option<Nsec3Param>,
}

/// Whether a record belongs to the NSEC3 tree.
fn is_nsec3(rt: u16, rdata: &[u8]) -> bool {
    rt == rtype::NSEC3 || tree::covered_type(rt, rdata) == rtype::NSEC3
}

/// Collects a full zone (in any order) into a view.
pub struct ViewBuilder {
    apex: Name,
    names: Builder,
    nsec3: Builder,
}

impl ViewBuilder {
    pub fn new(apex: &Name) -> ViewBuilder {
        ViewBuilder { apex: apex.to_lowercase(), names: Builder::default(), nsec3: Builder::default() }
    }

    pub fn push(&mut self, r: &Record) -> Result<(), String> {
        self.push_parts(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata)
    }

    pub fn push_parts(&mut self, owner_wire: &[u8], rt: u16, ttl: u32, rdata: &[u8]) -> Result<(), String> {
        if is_nsec3(rt, rdata) {
            self.nsec3.push_parts(owner_wire, rt, ttl, rdata)
        } else {
            self.names.push_parts(owner_wire, rt, ttl, rdata)
        }
    }

    pub fn len(&self) -> usize {
        self.names.len() + self.nsec3.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sorts and groups (CPU work: run it off the async runtime for big zones).
    pub fn finish(self) -> Result<ZoneView, String> {
        let names = Tree::new(self.names.finish()?);
        let nsec3 = Tree::new(self.nsec3.finish()?);
        Ok(ZoneView::from_trees(self.apex, names, nsec3))
    }
}

impl ZoneView {
    fn from_trees(apex: Name, raw: Tree, nsec3: Tree) -> ZoneView {
        let apex_key = Key::from_wire(apex.as_wire());
        let apex_node = raw.get(apex_key.as_bytes());
        let serial =
            apex_node.and_then(|n| n.get(rtype::SOA)).and_then(|s| s.rdatas().next()).and_then(soa_serial).unwrap_or(0);
        let nsec3param = if nsec3.base_len() + nsec3.delta_len() > 0 {
            apex_node.and_then(|n| n.get(rtype::NSEC3PARAM)).and_then(|s| s.rdatas().find_map(Nsec3Param::parse))
        } else {
            None
        };
        ZoneView { apex, apex_key, serial, names: raw.clone(), raw, nsec3, nsec3param }
    }

    /// The published apex SOA: its TTL and RDATA.
    pub fn apex_soa(&self) -> Option<(u32, &[u8])> {
        let set = self.names.get(self.apex_key.as_bytes())?.get(rtype::SOA)?;
        Some((set.ttl, set.rdatas().next()?))
    }

    /// Every published record, as a full transfer sends them (RFC 5936 §2.2):
    /// the apex SOA first, then every other record, names in DNS order, NSEC3
    /// owners last (owners as lower-case wire names). Stops at the first error
    /// `f` returns.
    pub fn for_each_record<E>(&self, mut f: impl FnMut(&[u8], u16, u32, &[u8]) -> Result<(), E>) -> Result<(), E> {
        if let Some((ttl, soa)) = self.apex_soa() {
            f(self.apex.as_wire(), rtype::SOA, ttl, soa)?;
        }
        let mut owner = Vec::with_capacity(crate::wire::MAX_NAME_LEN);
        for tree in [&self.names, &self.nsec3] {
            for (key, node) in tree.iter() {
                owner.clear();
                tree::decode_key(key, &mut owner);
                let at_apex = key == self.apex_key.as_bytes();
                for set in node.rrsets() {
                    if at_apex && set.rtype == rtype::SOA {
                        continue;
                    }
                    for rd in set.rdatas() {
                        f(&owner, set.rtype, set.ttl, rd)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The EXPIRE field of the apex SOA (RFC 1035 §3.3.13).
    pub fn apex_soa_expire(&self) -> Option<u32> {
        let (_, rdata) = self.apex_soa()?;
        let m = crate::wire::skip_uncompressed_name(rdata, 0)?;
        let r = crate::wire::skip_uncompressed_name(rdata, m)?;
        let e = rdata.get(r + 12..r + 16)?;
        Some(u32::from_be_bytes([e[0], e[1], e[2], e[3]]))
    }

    /// The primary's records at `name` (without the NS settings).
    pub fn raw_node(&self, name: &Name) -> Option<NodeBuf> {
        self.raw.get(Key::from_wire(name.as_wire()).as_bytes()).map(NodeBuf::decode)
    }

    /// The published node at `name`.
    pub fn node(&self, key: &[u8]) -> Option<Node<'_>> {
        self.names.get(key)
    }

    /// The next version: these IXFR steps applied to the primary's data
    /// (RFC 1995 §4: each step deletes, then adds). The NS settings must be
    /// laid over again ([`ZoneView::with_overlay`]). Fails when a deletion
    /// names a record we do not have. Also returns the adds that changed
    /// nothing (the record was there: RFC 2181 §5), as (step, index in its
    /// `added`), so the store keeps the steps as they took effect.
    pub fn with_diffs<'a>(
        &self,
        steps: impl IntoIterator<Item = (&'a [Record], &'a [Record])>,
    ) -> Result<(ZoneView, Vec<(usize, usize)>), String> {
        let mut names: HashMap<Key, NodeBuf> = HashMap::new();
        let mut nsec3: HashMap<Key, NodeBuf> = HashMap::new();
        let mut unchanged = Vec::new();
        for (step, (deleted, added)) in steps.into_iter().enumerate() {
            let deleted = deleted.iter().map(|r| (r, None));
            for (r, add) in deleted.chain(added.iter().enumerate().map(|(i, r)| (r, Some(i)))) {
                let (tree, work) =
                    if is_nsec3(r.rtype, &r.rdata) { (&self.nsec3, &mut nsec3) } else { (&self.raw, &mut names) };
                let key = Key::from_wire(r.owner.as_wire());
                let node = work
                    .entry(key)
                    .or_insert_with_key(|k| tree.get(k.as_bytes()).map(NodeBuf::decode).unwrap_or_default());
                if let Some(i) = add {
                    if !node.add(r.rtype, r.ttl, &r.rdata) {
                        unchanged.push((step, i));
                    }
                } else if !node.remove(r.rtype, &r.rdata) {
                    return Err(format!(
                        "the view has no `{} {}` to delete",
                        r.owner,
                        crate::wire::text::type_name(r.rtype)
                    ));
                }
            }
        }
        let raw = self.raw.with_changes(names.into_iter().map(|(k, n)| (k, Some(n))).collect());
        let nsec3 = self.nsec3.with_changes(nsec3.into_iter().map(|(k, n)| (k, Some(n))).collect());
        Ok((ZoneView::from_trees(self.apex.clone(), raw, nsec3), unchanged))
    }

    /// This version with the NS settings' replacement nodes laid over the
    /// primary's data (`None` = the name is not published).
    pub fn with_overlay(&self, overlay: Vec<(Key, Option<NodeBuf>)>) -> ZoneView {
        let names = self.raw.with_changes(overlay);
        ZoneView { names, ..self.clone() }
    }

    /// This version without the NS settings (the primary's data as published).
    pub fn without_overlay(self) -> ZoneView {
        ZoneView { names: self.raw.clone(), ..self }
    }

    /// Whether the delta has grown enough for [`ZoneView::compacted`] to pay.
    pub fn wants_compaction(&self) -> bool {
        let d = self.raw.delta_len().max(self.nsec3.delta_len());
        d >= COMPACT_MIN && d * COMPACT_RATIO >= self.raw.base_len()
    }

    /// The same version with its deltas folded into new bases (O(zone)); the
    /// overlay must be laid over again.
    pub fn compacted(&self) -> Result<ZoneView, String> {
        let raw = self.raw.compact()?;
        let nsec3 = self.nsec3.compact()?;
        Ok(ZoneView::from_trees(self.apex.clone(), raw, nsec3))
    }

    /// Records in the published view.
    pub fn record_count(&self) -> usize {
        let count = |t: &Tree| -> usize {
            t.iter().map(|(_, n)| n.rrsets().map(|r| usize::from(r.count)).sum::<usize>()).sum()
        };
        count(&self.names) + count(&self.nsec3)
    }

    /// Approximate bytes held by this version.
    pub fn bytes(&self) -> usize {
        self.raw.bytes() + self.names.delta_len() * 96 + self.nsec3.bytes()
    }
}

fn soa_serial(rdata: &[u8]) -> Option<u32> {
    let m = crate::wire::skip_uncompressed_name(rdata, 0)?;
    let r = crate::wire::skip_uncompressed_name(rdata, m)?;
    let s = rdata.get(r..r + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Where a zone stands for the query path.
pub enum Serving {
    /// Never loaded (or being loaded for the first time): SERVFAIL.
    NoCopy,
    /// Past its expire timer (RFC 1035 §3.3.13): SERVFAIL, data kept.
    Expired,
    Ok(Arc<ZoneView>),
}

/// One zone for the query path: its current view and whether it expired.
pub struct ZoneSlot {
    pub id: i64,
    pub name: Name,
    view: ArcSwapOption<ZoneView>,
    expired: AtomicBool,
    /// When the copy expires (Unix seconds), for EDNS EXPIRE answers
    /// (RFC 7314); 0: no expire timer (a zone we are the primary of).
    expires_at: AtomicI64,
}

impl ZoneSlot {
    pub fn serving(&self) -> Serving {
        if self.expired.load(Ordering::Acquire) {
            return Serving::Expired;
        }
        match self.view.load_full() {
            Some(v) => Serving::Ok(v),
            None => Serving::NoCopy,
        }
    }

    /// The current view, expired or not.
    pub fn view(&self) -> Option<Arc<ZoneView>> {
        self.view.load_full()
    }

    /// Makes `view` current (atomically for readers).
    pub fn publish(&self, view: ZoneView) {
        for names in [&view.names, &view.raw, &view.nsec3] {
            names.index_later();
        }
        self.view.store(Some(Arc::new(view)));
    }

    pub fn set_expired(&self, expired: bool) {
        self.expired.store(expired, Ordering::Release);
    }

    pub fn set_expires_at(&self, at: Option<i64>) {
        self.expires_at.store(at.unwrap_or(0), Ordering::Relaxed);
    }

    /// What EDNS EXPIRE answers for the zone at `now` (RFC 7314 §3): the
    /// seconds left before our copy expires, or, for a zone without an expire
    /// timer (we are its primary), the SOA EXPIRE of `view`.
    pub fn expire_remaining(&self, view: &ZoneView, now: i64) -> Option<u32> {
        match self.expires_at.load(Ordering::Relaxed) {
            0 => view.apex_soa_expire(),
            at => Some(u32::try_from((at - now).max(0)).unwrap_or(u32::MAX)),
        }
    }
}

/// FNV-1a: zone names are short and not attacker-chosen keys of this map
/// (only the operator adds zones), so a fast hash serves better than SipHash
/// on the per-query path.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Keys are shared (`Arc`), not boxed: an insert copies the nodes on its
/// path (the published map keeps the old ones), and copying a node with
/// boxed keys allocated each of its up to 32 keys again, which was 6% of
/// a zone creation's CPU at 10,000 zones.
type ZoneMap = imbl::GenericHashMap<
    Arc<[u8]>,
    Arc<ZoneSlot>,
    std::hash::BuildHasherDefault<Fnv>,
    imbl::shared_ptr::DefaultSharedPtr,
>;

/// Every zone we hold, by lower-case wire name of its apex.
#[derive(Default)]
pub struct Views {
    zones: ArcSwap<ZoneMap>,
    /// Serialises writers (zone create/delete); readers never take it.
    writer: Mutex<()>,
}

impl Views {
    pub fn new() -> Views {
        Views::default()
    }

    /// The zone that holds `qname`: its closest enclosing apex.
    pub fn find(&self, qname: &Name) -> Option<Arc<ZoneSlot>> {
        let zones = self.zones.load();
        if zones.is_empty() {
            return None;
        }
        let mut buf = [0u8; crate::wire::MAX_NAME_LEN];
        let src = qname.as_wire();
        let lower = &mut buf[..src.len()];
        lower.copy_from_slice(src);
        lower.make_ascii_lowercase();
        let mut wire: &[u8] = lower;
        loop {
            if let Some(z) = zones.get(wire) {
                return Some(z.clone());
            }
            let (&len, _) = wire.split_first()?;
            if len == 0 {
                return None;
            }
            wire = wire.get(1 + usize::from(len)..)?;
        }
    }

    /// The slot of a zone, created (without a copy) when absent.
    pub fn slot(&self, id: i64, name: &Name) -> Arc<ZoneSlot> {
        let lower = name.to_lowercase();
        if let Some(s) = self.zones.load().get(lower.as_wire()) {
            if s.id == id {
                return s.clone();
            }
        }
        let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = ZoneMap::clone(&self.zones.load());
        if let Some(s) = map.get(lower.as_wire()).filter(|s| s.id == id) {
            return s.clone();
        }
        let key: Arc<[u8]> = lower.as_wire().into();
        let slot = Arc::new(ZoneSlot {
            id,
            name: lower,
            view: ArcSwapOption::empty(),
            expired: AtomicBool::new(false),
            expires_at: AtomicI64::new(0),
        });
        map.insert(key, slot.clone());
        self.zones.store(Arc::new(map));
        slot
    }

    /// The slot of a zone we hold, without creating one.
    pub fn get(&self, id: i64, name: &Name) -> Option<Arc<ZoneSlot>> {
        self.zones.load().get(name.to_lowercase().as_wire()).filter(|s| s.id == id).cloned()
    }

    /// Stops serving a zone (it was deleted).
    pub fn remove(&self, name: &Name) {
        let lower = name.to_lowercase();
        let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = ZoneMap::clone(&self.zones.load());
        if map.remove(lower.as_wire()).is_some() {
            self.zones.store(Arc::new(map));
        }
    }

    pub fn len(&self) -> usize {
        self.zones.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::class;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn rec(owner: &str, rt: u16, rdata: &[u8]) -> Record {
        Record { owner: name(owner), rtype: rt, class: class::IN, ttl: 300, rdata: rdata.to_vec() }
    }

    fn soa(serial: u32) -> Vec<u8> {
        let mut d = name("ns1.example.test").as_wire().to_vec();
        d.extend(name("hostmaster.example.test").as_wire());
        for v in [serial, 3600, 600, 604800, 300] {
            d.extend(v.to_be_bytes());
        }
        d
    }

    fn view(records: &[Record]) -> ZoneView {
        let mut b = ViewBuilder::new(&name("Example.TEST"));
        for r in records {
            b.push(r).expect("push");
        }
        b.finish().expect("finish")
    }

    #[test]
    fn a_diff_makes_a_new_version_and_leaves_the_old_one_intact() {
        let v1 = view(&[
            rec("example.test", rtype::SOA, &soa(1)),
            rec("www.example.test", rtype::A, &[192, 0, 2, 1]),
            rec("old.example.test", rtype::A, &[192, 0, 2, 2]),
        ]);
        assert_eq!(v1.serial, 1);
        let deleted = [rec("example.test", rtype::SOA, &soa(1)), rec("old.example.test", rtype::A, &[192, 0, 2, 2])];
        let added = [rec("example.test", rtype::SOA, &soa(2)), rec("new.example.test", rtype::A, &[192, 0, 2, 3])];
        let (v2, unchanged) = v1.with_diffs([(&deleted[..], &added[..])]).expect("applies");
        assert!(unchanged.is_empty());
        // An add of a record the view has (in any case) changes nothing, and
        // says so: (step, index in its adds).
        let again = [rec("example.test", rtype::SOA, &soa(3)), rec("WWW.example.test", rtype::A, &[192, 0, 2, 1])];
        let (v3, unchanged) = v2.with_diffs([(&added[..1], &again[..])]).expect("applies");
        assert_eq!(unchanged, vec![(0, 1)]);
        assert_eq!((v3.serial, v3.record_count()), (3, 3));
        assert_eq!(v2.serial, 2);
        let has = |v: &ZoneView, n: &str| v.node(Key::from_wire(name(n).as_wire()).as_bytes()).is_some();
        assert!(has(&v1, "old.example.test") && !has(&v1, "new.example.test"));
        assert!(!has(&v2, "old.example.test") && has(&v2, "NEW.example.test"));
        assert_eq!(v2.record_count(), 3);
        let missing = [rec("gone.example.test", rtype::A, &[1, 1, 1, 1])];
        let e = v2.with_diffs([(&missing[..], &[][..])]).err().expect("mismatch");
        assert!(e.contains("gone.example.test"), "{e}");
        let c = v2.compacted().expect("compact");
        assert_eq!(c.record_count(), 3);
        assert_eq!(c.serial, 2);
    }

    #[test]
    fn nsec3_records_live_in_their_own_tree() {
        let mut sig = rtype::NSEC3.to_be_bytes().to_vec();
        sig.extend([8, 2, 0, 0, 1, 44]);
        let v = view(&[
            rec("example.test", rtype::SOA, &soa(1)),
            rec("example.test", rtype::NSEC3PARAM, &[1, 0, 0, 0, 0]),
            rec("abcdef.example.test", rtype::NSEC3, &[1, 0, 0, 0, 0, 1, 0]),
            rec("abcdef.example.test", rtype::RRSIG, &sig),
        ]);
        let k = Key::from_wire(name("abcdef.example.test").as_wire());
        assert!(v.node(k.as_bytes()).is_none());
        let n = v.nsec3.get(k.as_bytes()).expect("in the NSEC3 tree");
        assert!(n.has(rtype::NSEC3) && n.sigs(rtype::NSEC3).is_some());
        assert_eq!(v.nsec3param, Some(Nsec3Param { algorithm: 1, iterations: 0, salt: vec![] }));
    }

    #[test]
    fn the_closest_enclosing_zone_answers_for_a_name() {
        let views = Views::new();
        views.slot(1, &name("example.test"));
        views.slot(2, &name("sub.Example.test"));
        assert_eq!(views.find(&name("a.b.EXAMPLE.test")).map(|z| z.id), Some(1));
        assert_eq!(views.find(&name("x.sub.example.test")).map(|z| z.id), Some(2));
        assert_eq!(views.find(&name("example.test")).map(|z| z.id), Some(1));
        assert!(views.find(&name("test")).is_none());
        assert!(matches!(views.find(&name("example.test")).map(|z| z.serving()), Some(Serving::NoCopy)));
        views.remove(&name("SUB.example.test"));
        assert_eq!(views.find(&name("x.sub.example.test")).map(|z| z.id), Some(1));
    }
}
