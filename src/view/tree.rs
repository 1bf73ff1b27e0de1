//! Names in canonical order (RFC 4034 §6.1), with their RRsets, as a compact
//! sorted *base* plus a persistent *delta* of the names changed since.
//!
//! - A [`Key`] is a name rewritten so that plain byte comparison is the
//!   canonical DNS order and an ancestor's key is a prefix of its
//!   descendants' keys: labels from the root down, ASCII letters lowered, each
//!   label's bytes escaped (0x00 → 01 01, 0x01 → 01 02) and ended by 0x00.
//!   So `example.` < `a.example.` < `z.a.example.` < `b.example.`, and every
//!   name below `a.example.` sorts right after it: the closest encloser, the
//!   "is this an empty non-terminal" test and the NSEC predecessor are each
//!   one ordered search.
//! - A node is a name's RRsets, encoded in one byte string (see [`Node`]).
//! - [`Base`] holds every name of a version in four flat arrays (keys, nodes
//!   and their end offsets): about the zone's wire size, no allocation per name.
//!   A base of 32 names or more also has a hash index of its names and empty
//!   non-terminals (4 bytes a slot, at most half full), so the lookup of a
//!   name, or of a name that does not exist, costs a cache miss or two rather
//!   than an ordered search's twenty at a million names. The ordered search
//!   stays for what needs the order: NSEC predecessors, and names with a delta.
//!   A base of more than 20,000 names is served first and indexed after, on
//!   a thread of its own, so that building the index (about 0.2 s a million
//!   names) never delays an answer; until it is there, lookups search in order.
//! - [`Tree`] is a base and an `imbl::OrdMap` of the names changed since it
//!   was built (a node, or `None` for a deleted name). Cloning a tree and
//!   changing a few names costs those names, not the zone; [`Tree::compact`]
//!   folds the delta into a new base when it has grown.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use imbl::OrdMap;

use crate::wire::{rtype, same_rdata, Record};

/// A name in lookup form (see the module doc). Cheap to clone.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(Arc<[u8]>);

impl Key {
    pub fn from_wire(wire: &[u8]) -> Key {
        let mut out = Vec::with_capacity(wire.len() + 2);
        encode_key(wire, &mut out);
        Key(out.into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Key {
        Key(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut wire = Vec::new();
        decode_key(&self.0, &mut wire);
        match crate::wire::Name::from_wire(&wire) {
            Ok(n) => write!(f, "Key({n})"),
            Err(_) => write!(f, "Key({:?})", &self.0),
        }
    }
}

/// Appends the key of an uncompressed wire name (assumed well formed: it comes
/// from [`crate::wire::Name`]).
pub fn encode_key(wire: &[u8], out: &mut Vec<u8>) {
    let mut starts = [0u8; 128];
    let mut n = 0;
    let mut pos = 0usize;
    while let Some(&len) = wire.get(pos) {
        if len == 0 || n == starts.len() {
            break;
        }
        starts[n] = pos as u8;
        n += 1;
        pos += 1 + usize::from(len);
    }
    for &start in starts[..n].iter().rev() {
        let start = usize::from(start);
        let len = usize::from(wire[start]);
        for &b in wire.get(start + 1..start + 1 + len).unwrap_or_default() {
            let b = b.to_ascii_lowercase();
            if b <= 1 {
                out.push(1);
                out.push(b + 1);
            } else {
                out.push(b);
            }
        }
        out.push(0);
    }
}

/// The lower-case wire name of a key (no allocation and no scratch arrays:
/// it runs once per name of an outgoing transfer). A 0 byte in a key is
/// always a label's end (escaped bytes are stored as 1, b + 1), so the labels
/// are found from the end, which is the wire order.
pub fn decode_key(key: &[u8], out: &mut Vec<u8>) {
    let mut end = key.len();
    while end > 0 {
        // key[end - 1] is the terminator of the label before it.
        let stop = end - 1;
        // One backward walk finds the label's start and whether it has escapes.
        let (mut start, mut escaped) = (stop, false);
        while start > 0 && key[start - 1] != 0 {
            escaped |= key[start - 1] == 1;
            start -= 1;
        }
        let label = &key[start..stop];
        if !escaped {
            // Nothing escaped (the usual label): copied whole.
            out.push(label.len() as u8);
            out.extend_from_slice(label);
            end = start;
            continue;
        }
        let at = out.len();
        out.push(0);
        let mut j = 0;
        while j < label.len() {
            if label[j] == 1 {
                j += 1;
                out.push(label.get(j).copied().unwrap_or(1).saturating_sub(1));
            } else {
                out.push(label[j]);
            }
            j += 1;
        }
        out[at] = (out.len() - at - 1) as u8;
        end = start;
    }
    out.push(0);
}

/// The number of labels of a key (its 0x00 terminators).
pub fn key_labels(key: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < key.len() {
        match key[i] {
            0 => n += 1,
            1 => i += 1,
            _ => {}
        }
        i += 1;
    }
    n
}

/// The key of the ancestor with `labels` labels (a prefix of `key`).
pub fn key_ancestor(key: &[u8], labels: usize) -> &[u8] {
    if labels == 0 {
        return &key[..0];
    }
    let mut n = 0;
    let mut i = 0;
    while i < key.len() {
        match key[i] {
            0 => {
                n += 1;
                if n == labels {
                    return &key[..=i];
                }
            }
            1 => i += 1,
            _ => {}
        }
        i += 1;
    }
    key
}

/// Whether `key` is `ancestor` or below it.
pub fn key_is_below(key: &[u8], ancestor: &[u8]) -> bool {
    key.starts_with(ancestor)
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/// One name's RRsets, encoded:
/// `count:u16, { type:u16, covered:u16, ttl:u32, n:u16, { rdlen:u16, rdata }×n }×count`,
/// sorted by (type, covered). `covered` is the type an RRSIG RRset covers (RRSIGs
/// are grouped per covered type, RFC 4035 §2.2) and 0 for every other type.
#[derive(Clone, Copy)]
pub struct Node<'a>(pub &'a [u8]);

/// One RRset of a node.
#[derive(Clone, Copy)]
pub struct RRset<'a> {
    pub rtype: u16,
    pub covered: u16,
    pub ttl: u32,
    pub count: u16,
    records: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

impl<'a> Node<'a> {
    pub fn rrsets(self) -> RRsets<'a> {
        let count = be16(self.0, 0).unwrap_or(0);
        RRsets { buf: self.0, pos: 2, left: count }
    }

    /// The RRset of `rtype` (not RRSIG: see [`Node::sigs`]).
    pub fn get(self, rtype: u16) -> Option<RRset<'a>> {
        self.rrsets().find(|r| r.rtype == rtype && r.covered == 0)
    }

    /// The RRSIG RRset covering `covered`.
    pub fn sigs(self, covered: u16) -> Option<RRset<'a>> {
        self.rrsets().find(|r| r.rtype == rtype::RRSIG && r.covered == covered)
    }

    pub fn has(self, rtype: u16) -> bool {
        self.get(rtype).is_some()
    }

    pub fn is_empty(self) -> bool {
        be16(self.0, 0).unwrap_or(0) == 0
    }
}

pub struct RRsets<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for RRsets<'a> {
    type Item = RRset<'a>;
    fn next(&mut self) -> Option<RRset<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let b = self.buf;
        let p = self.pos;
        let rtype = be16(b, p)?;
        let covered = be16(b, p + 2)?;
        let ttl = b.get(p + 4..p + 8).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))?;
        let count = be16(b, p + 8)?;
        let start = p + 10;
        let mut end = start;
        for _ in 0..count {
            end += 2 + usize::from(be16(b, end)?);
        }
        let records = b.get(start..end)?;
        self.pos = end;
        Some(RRset { rtype, covered, ttl, count, records })
    }
}

impl<'a> RRset<'a> {
    pub fn rdatas(self) -> Rdatas<'a> {
        Rdatas { buf: self.records, left: self.count }
    }
}

pub struct Rdatas<'a> {
    buf: &'a [u8],
    left: u16,
}

impl<'a> Iterator for Rdatas<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let len = usize::from(be16(self.buf, 0)?);
        let rd = self.buf.get(2..2 + len)?;
        self.buf = &self.buf[2 + len..];
        Some(rd)
    }
}

/// A node being edited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeBuf {
    pub rrsets: Vec<OwnedRRset>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRRset {
    pub rtype: u16,
    pub covered: u16,
    pub ttl: u32,
    pub rdatas: Vec<Vec<u8>>,
}

/// The type an RRSIG's RDATA covers (its first two bytes), 0 for other types.
pub fn covered_type(rtype: u16, rdata: &[u8]) -> u16 {
    if rtype == rtype::RRSIG {
        be16(rdata, 0).unwrap_or(0)
    } else {
        0
    }
}

impl NodeBuf {
    pub fn decode(node: Node<'_>) -> NodeBuf {
        NodeBuf {
            rrsets: node
                .rrsets()
                .map(|r| OwnedRRset {
                    rtype: r.rtype,
                    covered: r.covered,
                    ttl: r.ttl,
                    rdatas: r.rdatas().map(<[u8]>::to_vec).collect(),
                })
                .collect(),
        }
    }

    /// Adds a record; a duplicate of one present (the same RDATA in canonical
    /// form, `wire::same_rdata`) is the same record (RFC 2181 §5) and changes
    /// nothing, its TTL included, as in the store. An RRset has one TTL (§5.2):
    /// the lowest of its records'. Whether it was added.
    pub fn add(&mut self, rtype: u16, ttl: u32, rdata: &[u8]) -> bool {
        let covered = covered_type(rtype, rdata);
        let at = self.rrsets.binary_search_by(|r| (r.rtype, r.covered).cmp(&(rtype, covered)));
        match at {
            Ok(i) => {
                let set = &mut self.rrsets[i];
                if set.rdatas.iter().any(|d| same_rdata(rtype, d, rdata)) {
                    return false;
                }
                set.rdatas.push(rdata.to_vec());
                set.ttl = set.ttl.min(ttl);
            }
            Err(i) => self.rrsets.insert(i, OwnedRRset { rtype, covered, ttl, rdatas: vec![rdata.to_vec()] }),
        }
        true
    }

    /// Removes a record; whether it was there.
    pub fn remove(&mut self, rtype: u16, rdata: &[u8]) -> bool {
        let covered = covered_type(rtype, rdata);
        let Ok(i) = self.rrsets.binary_search_by(|r| (r.rtype, r.covered).cmp(&(rtype, covered))) else {
            return false;
        };
        let set = &mut self.rrsets[i];
        let Some(j) = set.rdatas.iter().position(|d| same_rdata(rtype, d, rdata)) else {
            return false;
        };
        set.rdatas.remove(j);
        if set.rdatas.is_empty() {
            self.rrsets.remove(i);
        }
        true
    }

    /// Replaces (or, with no records, removes) the RRset of `rtype`.
    pub fn set(&mut self, rtype: u16, ttl: u32, rdatas: Vec<Vec<u8>>) {
        self.rrsets.retain(|r| !(r.rtype == rtype && r.covered == 0));
        if !rdatas.is_empty() {
            let i = self.rrsets.partition_point(|r| (r.rtype, r.covered) < (rtype, 0));
            self.rrsets.insert(i, OwnedRRset { rtype, covered: 0, ttl, rdatas });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.rrsets.len() as u16).to_be_bytes());
        for r in &self.rrsets {
            out.extend_from_slice(&r.rtype.to_be_bytes());
            out.extend_from_slice(&r.covered.to_be_bytes());
            out.extend_from_slice(&r.ttl.to_be_bytes());
            out.extend_from_slice(&(r.rdatas.len() as u16).to_be_bytes());
            for d in &r.rdatas {
                out.extend_from_slice(&(d.len() as u16).to_be_bytes());
                out.extend_from_slice(d);
            }
        }
    }

    pub fn to_bytes(&self) -> Arc<[u8]> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out.into()
    }
}

// ---------------------------------------------------------------------------------------------
// Base
// ---------------------------------------------------------------------------------------------

/// Every name of one version in canonical order, in flat arrays, with a
/// hash index of its names and empty non-terminals (see [`Base::seal`]).
#[derive(Default)]
pub struct Base {
    keys: Vec<u8>,
    key_ends: Vec<u32>,
    nodes: Vec<u8>,
    node_ends: Vec<u32>,
    /// The hash index, open addressing (linear probing, at most half full):
    /// `i + 1` for the name at index `i`, or for an empty non-terminal whose
    /// first descendant is at `i`, in the low [`Base::index_bits`] bits, and
    /// bits of the key's hash above them (so a miss seldom reads a key); 0
    /// for a free slot. Empty below [`HASHED_MIN`] names; not yet set while a
    /// large base waits for [`index_later`].
    slots: OnceLock<Vec<u32>>,
    /// Keyed per base (SipHash), so names chosen by a primary cannot be made
    /// to collide.
    hasher: std::collections::hash_map::RandomState,
}

/// Bases with fewer names are searched in order only: a few comparisons in
/// cache cost less than a hash. With more, an ordered search of a large zone
/// is a cache miss per step (twenty at a million names), and a lookup in the
/// index one or two; the index costs 8 bytes or so per name.
const HASHED_MIN: usize = if cfg!(test) { 1 } else { 32 };

/// Bases of up to this many names are indexed as they are built (a few
/// milliseconds); larger ones by [`index_later`], after they are served, so
/// a restart or a full transfer answers as soon as its names are in order.
const INLINE_INDEX_MAX: usize = if cfg!(test) { 8 } else { 20_000 };

/// Indexes `base` on the view indexing thread (one for the process, so many
/// large zones loading at once take their turns). Never on the caller's
/// thread, which may be the async runtime's: if the thread cannot start, the
/// base stays without an index and lookups search in order.
fn index_later(base: Arc<Base>) {
    static QUEUE: OnceLock<Option<std::sync::mpsc::Sender<Arc<Base>>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Base>>();
        let spawned = std::thread::Builder::new().name("view-index".into()).spawn(move || {
            for base in rx {
                base.index();
            }
        });
        spawned.ok().map(|_| tx)
    });
    if let Some(tx) = queue {
        let _ = tx.send(base);
    }
}

/// What the hash index says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    /// The name at this base index.
    Name(usize),
    /// An empty non-terminal: no records, names below it from this index on.
    Ent(usize),
    /// No such name, and no names below it.
    Absent,
}

impl Base {
    pub fn len(&self) -> usize {
        self.key_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    fn span(ends: &[u32], i: usize) -> (usize, usize) {
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        (start, ends[i] as usize)
    }

    pub fn key(&self, i: usize) -> &[u8] {
        let (a, b) = Self::span(&self.key_ends, i);
        &self.keys[a..b]
    }

    pub fn node(&self, i: usize) -> &[u8] {
        let (a, b) = Self::span(&self.node_ends, i);
        &self.nodes[a..b]
    }

    /// `Ok(i)` where `key` is, or `Err(i)` where it would go.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.search_in(key, 0, self.len())
    }

    /// [`Base::search`] within `lo..hi`, where the caller knows `key` lies.
    fn search_in(&self, key: &[u8], mut lo: usize, mut hi: usize) -> Result<usize, usize> {
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.key(mid).cmp(key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// [`Base::search`] for a key known to sort at or after index `from`
    /// and expected close to it: a galloping search (a wildcard right after
    /// its encloser costs a comparison or two, not a descent of the zone).
    fn search_near(&self, key: &[u8], from: usize) -> Result<usize, usize> {
        let (mut lo, mut step) = (from, 1usize);
        let mut hi = from;
        while hi < self.len() {
            match self.key(hi).cmp(key) {
                Ordering::Less => {
                    lo = hi + 1;
                    hi = hi.saturating_add(step);
                    step = step.saturating_mul(2);
                }
                Ordering::Equal => return Ok(hi),
                Ordering::Greater => return self.search_in(key, lo, hi),
            }
        }
        self.search_in(key, lo, self.len())
    }

    /// Bytes held, for the status and the memory benchmark.
    pub fn bytes(&self) -> usize {
        self.keys.capacity()
            + self.nodes.capacity()
            + 4 * (self.key_ends.capacity() + self.node_ends.capacity() + self.slots.get().map_or(0, Vec::capacity))
    }

    fn push(&mut self, key: &[u8], node: &[u8]) -> Result<(), String> {
        self.keys.extend_from_slice(key);
        self.nodes.extend_from_slice(node);
        let k = u32::try_from(self.keys.len()).map_err(|_| "zone too large for the view (4 GiB of names)")?;
        let n = u32::try_from(self.nodes.len()).map_err(|_| "zone too large for the view (4 GiB of data)")?;
        self.key_ends.push(k);
        self.node_ends.push(n);
        Ok(())
    }

    /// Ends the building: the arrays trimmed to size, and the hash index
    /// built now for a base of up to [`INLINE_INDEX_MAX`] names (a larger one
    /// waits for [`Tree::index_later`]).
    fn seal(&mut self) {
        self.keys.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.key_ends.shrink_to_fit();
        self.node_ends.shrink_to_fit();
        self.slots = OnceLock::new();
        if self.len() <= INLINE_INDEX_MAX {
            let _ = self.slots.set(self.build_slots());
        }
    }

    /// Builds the hash index now if it is not yet built (O(names)).
    pub fn index(&self) {
        self.slots.get_or_init(|| self.build_slots());
    }

    /// A large base whose index is still to be built.
    fn wants_index(&self) -> bool {
        self.len() >= HASHED_MIN && self.slots.get().is_none()
    }

    /// Bits of a slot that hold `index + 1`; the rest hold hash bits.
    fn index_bits(&self) -> u32 {
        u32::BITS - (self.len() as u32).leading_zeros()
    }

    /// The hash index of every name and every empty non-terminal. In
    /// canonical order a name's subtree follows it, so an ancestor of the
    /// name at `i` is new at `i` exactly when it is not an ancestor of (or)
    /// the name before: an empty non-terminal, entered with its first
    /// descendant.
    fn build_slots(&self) -> Vec<u32> {
        // Room for at least 4 bits of hash beside the index (zones below 2^28 names).
        if self.len() < HASHED_MIN || self.len() >= 1 << 28 {
            return Vec::new();
        }
        let entries: usize = (0..self.len()).map(|i| self.new_keys(i).count()).sum();
        let mut slots = vec![0u32; (2 * entries).next_power_of_two()];
        let mask = slots.len() - 1;
        for i in 0..self.len() {
            for k in self.new_keys(i) {
                let (mut at, tag) = self.place(k, mask);
                while slots[at] != 0 {
                    at = (at + 1) & mask;
                }
                slots[at] = tag | (i as u32 + 1);
            }
        }
        slots
    }

    /// The keys entered in the index for base index `i`: its name, then
    /// those of its ancestors (nearest first) that the name before it is not
    /// below.
    fn new_keys(&self, i: usize) -> impl Iterator<Item = &[u8]> {
        let key = self.key(i);
        let before = if i == 0 { None } else { Some(self.key(i - 1)) };
        let mut end = Some(key.len());
        std::iter::from_fn(move || {
            let e = end?;
            let k = &key[..e];
            if e < key.len() && before.is_some_and(|b| key_is_below(b, k)) {
                end = None;
                return None;
            }
            // The next ancestor: the key up to the end of its previous label
            // (the root's key is empty).
            end = if e == 0 { None } else { Some(key[..e - 1].iter().rposition(|&b| b == 0).map_or(0, |p| p + 1)) };
            Some(k)
        })
    }

    /// Whether base index `i` is what the index holds for `key`: the name
    /// itself, or the first name below the empty non-terminal `key`.
    fn verify(&self, key: &[u8], i: usize) -> Hit {
        let at = self.key(i);
        if at == key {
            Hit::Name(i)
        } else if key_is_below(at, key) && (i == 0 || !key_is_below(self.key(i - 1), key)) {
            Hit::Ent(i)
        } else {
            Hit::Absent
        }
    }

    /// The first slot of `key` (the hash's low bits) and its tag (high bits,
    /// in place above the index).
    fn place(&self, key: &[u8], mask: usize) -> (usize, u32) {
        let h = self.hasher.hash_one(key);
        ((h as usize) & mask, ((h >> 32) as u32) << self.index_bits())
    }

    fn lookup(&self, slots: &[u32], key: &[u8]) -> Hit {
        let mask = slots.len() - 1;
        let index_mask = (1u32 << self.index_bits()) - 1;
        let (mut at, tag) = self.place(key, mask);
        while slots[at] != 0 {
            let v = slots[at];
            if v & !index_mask == tag {
                match self.verify(key, ((v & index_mask) - 1) as usize) {
                    Hit::Absent => {}
                    hit => return hit,
                }
            }
            at = (at + 1) & mask;
        }
        Hit::Absent
    }

    /// The hash index's answer for `key`; `None` for a base without one.
    fn hashed(&self, key: &[u8]) -> Option<Hit> {
        let slots = self.slots.get().filter(|s| !s.is_empty())?;
        Some(self.lookup(slots, key))
    }

    fn indexed(&self) -> bool {
        self.slots.get().is_some_and(|s| !s.is_empty())
    }

    /// The index of the name `key`.
    fn find(&self, key: &[u8]) -> Option<usize> {
        match self.hashed(key) {
            Some(Hit::Name(i)) => Some(i),
            Some(_) => None,
            None => self.search(key).ok(),
        }
    }
}

/// Collects the records of a full zone into a [`Base`].
///
/// While the records come in canonical order with each name's records
/// together (as BIND sends an AXFR, and as the store hands back what it was
/// given), they go straight into the base, a name at a time: the view is
/// ready when the last record is, and nothing is held twice. The first record
/// out of order moves everything into an arena of entries (no allocation per
/// record) that [`Builder::finish`] sorts.
#[derive(Default)]
pub struct Builder {
    /// The streaming base and the name being filled (empty key: none yet).
    base: Base,
    current: Vec<u8>,
    node: NodeBuf,
    streamed: usize,
    /// Out-of-order input: every record as an arena entry.
    unsorted: bool,
    arena: Vec<u8>,
    starts: Vec<u32>,
    scratch: Vec<u8>,
    encoded: Vec<u8>,
}

impl Builder {
    pub fn push(&mut self, r: &Record) -> Result<(), String> {
        self.push_parts(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata)
    }

    pub fn push_parts(&mut self, owner_wire: &[u8], rt: u16, ttl: u32, rdata: &[u8]) -> Result<(), String> {
        self.scratch.clear();
        encode_key(owner_wire, &mut self.scratch);
        if !self.unsorted {
            if self.streamed > 0 && self.scratch == self.current {
                self.node.add(rt, ttl, rdata);
                self.streamed += 1;
                return Ok(());
            }
            if self.streamed == 0 || self.scratch > self.current {
                self.flush_node()?;
                std::mem::swap(&mut self.current, &mut self.scratch);
                self.node.add(rt, ttl, rdata);
                self.streamed += 1;
                return Ok(());
            }
            self.go_unsorted()?;
            self.scratch.clear();
            encode_key(owner_wire, &mut self.scratch);
        }
        let key = std::mem::take(&mut self.scratch);
        let r = self.push_entry(&key, rt, ttl, rdata);
        self.scratch = key;
        r
    }

    /// Appends the name being filled to the streaming base.
    fn flush_node(&mut self) -> Result<(), String> {
        if self.streamed == 0 || self.node.is_empty() {
            return Ok(());
        }
        self.encoded.clear();
        self.node.encode(&mut self.encoded);
        self.base.push(&self.current, &self.encoded)?;
        self.node.rrsets.clear();
        Ok(())
    }

    /// Moves what was streamed into the arena (once, when input turns out of order).
    fn go_unsorted(&mut self) -> Result<(), String> {
        self.flush_node()?;
        self.unsorted = true;
        let base = std::mem::take(&mut self.base);
        for i in 0..base.len() {
            for set in Node(base.node(i)).rrsets() {
                for rd in set.rdatas() {
                    self.push_entry(base.key(i), set.rtype, set.ttl, rd)?;
                }
            }
        }
        Ok(())
    }

    /// Entry: `keylen:u16, key, type:u16, covered:u16, ttl:u32, rdlen:u16, rdata`.
    fn push_entry(&mut self, key: &[u8], rt: u16, ttl: u32, rdata: &[u8]) -> Result<(), String> {
        let start = u32::try_from(self.arena.len()).map_err(|_| "zone too large for the view (4 GiB)")?;
        let a = &mut self.arena;
        a.extend_from_slice(&(key.len() as u16).to_be_bytes());
        a.extend_from_slice(key);
        a.extend_from_slice(&rt.to_be_bytes());
        a.extend_from_slice(&covered_type(rt, rdata).to_be_bytes());
        a.extend_from_slice(&ttl.to_be_bytes());
        a.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        a.extend_from_slice(rdata);
        self.starts.push(start);
        Ok(())
    }

    /// Records pushed.
    pub fn len(&self) -> usize {
        if self.unsorted {
            self.starts.len()
        } else {
            self.streamed
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entry(arena: &[u8], start: u32) -> Entry<'_> {
        let s = start as usize;
        let klen = usize::from(be16(arena, s).unwrap_or(0));
        let key = &arena[s + 2..s + 2 + klen];
        let p = s + 2 + klen;
        let rtype = be16(arena, p).unwrap_or(0);
        let covered = be16(arena, p + 2).unwrap_or(0);
        let ttl = u32::from_be_bytes([arena[p + 4], arena[p + 5], arena[p + 6], arena[p + 7]]);
        let rdlen = usize::from(be16(arena, p + 8).unwrap_or(0));
        let rdata = &arena[p + 10..p + 10 + rdlen];
        Entry { key, rtype, covered, ttl, rdata }
    }

    /// Sorts and groups into a base. Input already in canonical order (as BIND
    /// sends an AXFR) costs one pass.
    pub fn finish(mut self) -> Result<Base, String> {
        if !self.unsorted {
            self.flush_node()?;
            let mut base = self.base;
            base.seal();
            return Ok(base);
        }
        let Builder { arena, mut starts, .. } = self;
        let order = |a: &u32, b: &u32| {
            let (x, y) = (Self::entry(&arena, *a), Self::entry(&arena, *b));
            x.key.cmp(y.key).then(x.rtype.cmp(&y.rtype)).then(x.covered.cmp(&y.covered))
        };
        if !starts.is_sorted_by(|a, b| order(a, b) != Ordering::Greater) {
            starts.sort_by(order);
        }
        let mut base = Base::default();
        let mut node = NodeBuf::default();
        let mut encoded = Vec::new();
        let mut current: Option<&[u8]> = None;
        for &s in &starts {
            let e = Self::entry(&arena, s);
            if current != Some(e.key) {
                if let Some(k) = current {
                    encoded.clear();
                    node.encode(&mut encoded);
                    base.push(k, &encoded)?;
                    node.rrsets.clear();
                }
                current = Some(e.key);
            }
            node.add(e.rtype, e.ttl, e.rdata);
        }
        if let Some(k) = current {
            encoded.clear();
            node.encode(&mut encoded);
            base.push(k, &encoded)?;
        }
        base.seal();
        Ok(base)
    }
}

struct Entry<'a> {
    key: &'a [u8],
    rtype: u16,
    covered: u16,
    ttl: u32,
    rdata: &'a [u8],
}

// ---------------------------------------------------------------------------------------------
// Tree: base + delta
// ---------------------------------------------------------------------------------------------

/// A base and the names changed since (see the module doc).
#[derive(Clone, Default)]
pub struct Tree {
    base: Arc<Base>,
    delta: OrdMap<Key, Option<Arc<[u8]>>>,
}

impl Tree {
    pub fn new(base: Base) -> Tree {
        Tree { base: Arc::new(base), delta: OrdMap::new() }
    }

    /// Has the base's hash index built on the indexing thread if it is
    /// still to be built (see [`INLINE_INDEX_MAX`]).
    pub fn index_later(&self) {
        if self.base.wants_index() {
            index_later(self.base.clone());
        }
    }

    /// The node of `key`, if the name has records.
    pub fn get(&self, key: &[u8]) -> Option<Node<'_>> {
        if let Some(d) = self.delta.get(key) {
            return d.as_deref().map(Node);
        }
        self.base.find(key).map(|i| Node(self.base.node(i)))
    }

    /// [`Tree::get`] and [`Tree::exists`] in one ordered search,
    /// for the descent of a lookup. Every base key before index `from` must
    /// sort before `key` (0, or the [`Probe::next`] of an ancestor's probe).
    pub fn probe(&self, key: &[u8], from: usize) -> Probe<'_> {
        let len = self.base.len();
        if self.delta.is_empty() {
            match self.base.hashed(key) {
                Some(Hit::Name(i)) => return Probe { node: Some(Node(self.base.node(i))), exists: true, next: i + 1 },
                Some(Hit::Ent(i)) => return Probe { node: None, exists: true, next: i },
                // Nothing searches below a name that does not exist.
                Some(Hit::Absent) => return Probe { node: None, exists: false, next: from },
                None => {}
            }
        }
        let found = self.base.search_in(key, from.min(len), len);
        if !self.delta.is_empty() {
            // The delta may shadow what the base says: the general way.
            let node = match self.delta.get(key) {
                Some(d) => d.as_deref().map(Node),
                None => found.ok().map(|i| Node(self.base.node(i))),
            };
            let exists = node.is_some() || self.has_descendants(key);
            return Probe { node, exists, next: 0 };
        }
        match found {
            Ok(i) => Probe { node: Some(Node(self.base.node(i))), exists: true, next: i + 1 },
            Err(i) => Probe { node: None, exists: i < len && key_is_below(self.base.key(i), key), next: i },
        }
    }

    /// [`Tree::get`] for a key that sorts at or after base index `from`
    /// (a [`Probe::next`]) and is likely close to it: a wildcard `*` below the
    /// closest encloser sorts before most of its other children.
    pub fn get_near(&self, key: &[u8], from: usize) -> Option<Node<'_>> {
        if !self.delta.is_empty() || self.base.indexed() {
            return self.get(key);
        }
        self.base.search_near(key, from.min(self.base.len())).ok().map(|i| Node(self.base.node(i)))
    }

    /// [`Tree::get`] for the smallest key of the tree (a zone's apex, which
    /// sorts before every name below it): no search when the base has it first.
    pub fn get_first(&self, key: &[u8]) -> Option<Node<'_>> {
        if self.delta.is_empty() && !self.base.is_empty() && self.base.key(0) == key {
            return Some(Node(self.base.node(0)));
        }
        self.get(key)
    }

    /// The first name at or after `key`.
    pub fn seek_ge(&self, key: &[u8]) -> Option<(&[u8], Node<'_>)> {
        let mut bi = match self.base.search(key) {
            Ok(i) | Err(i) => i,
        };
        let mut di = self.delta.range::<_, [u8]>((std::ops::Bound::Included(key), std::ops::Bound::Unbounded));
        let mut d = di.next();
        loop {
            let b = (bi < self.base.len()).then(|| self.base.key(bi));
            match (b, d) {
                (None, None) => return None,
                (Some(bk), None) => return Some((bk, Node(self.base.node(bi)))),
                (Some(bk), Some((k, _))) if bk < k.as_bytes() => return Some((bk, Node(self.base.node(bi)))),
                (bk, Some((k, v))) => {
                    if bk == Some(k.as_bytes()) {
                        bi += 1; // shadowed by the delta
                    }
                    match v {
                        Some(n) => return Some((k.as_bytes(), Node(n))),
                        None => d = di.next(),
                    }
                }
            }
        }
    }

    /// The last name before `key`.
    pub fn seek_lt(&self, key: &[u8]) -> Option<(&[u8], Node<'_>)> {
        let mut bi = match self.base.search(key) {
            Ok(i) | Err(i) => i,
        };
        let mut di = self.delta.range::<_, [u8]>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(key)));
        let mut d = di.next_back();
        loop {
            let b = (bi > 0).then(|| self.base.key(bi - 1));
            match (b, d) {
                (None, None) => return None,
                (Some(bk), None) => return Some((bk, Node(self.base.node(bi - 1)))),
                (Some(bk), Some((k, _))) if bk > k.as_bytes() => return Some((bk, Node(self.base.node(bi - 1)))),
                (bk, Some((k, v))) => {
                    if bk == Some(k.as_bytes()) {
                        bi -= 1;
                    }
                    match v {
                        Some(n) => return Some((k.as_bytes(), Node(n))),
                        None => d = di.next_back(),
                    }
                }
            }
        }
    }

    /// Whether some name other than `key` itself lies below it.
    pub fn has_descendants(&self, key: &[u8]) -> bool {
        let mut probe = key.to_vec();
        // The smallest key strictly below `key`'s subtree start: key + one more byte.
        probe.push(0);
        self.seek_ge(&probe).is_some_and(|(k, _)| key_is_below(k, key))
    }

    /// Whether the name has records or names below it (an empty non-terminal).
    pub fn exists(&self, key: &[u8]) -> bool {
        self.get(key).is_some() || self.has_descendants(key)
    }

    /// Every name in order: the base and the delta merged in one pass.
    pub fn iter(&self) -> Iter<'_> {
        Iter { base: &self.base, bi: 0, delta: self.delta.iter().peekable() }
    }

    /// A tree with these names changed (`None`: the name has no records any more).
    pub fn with_changes(&self, changes: Vec<(Key, Option<NodeBuf>)>) -> Tree {
        let mut delta = self.delta.clone();
        for (k, node) in changes {
            let in_base = self.base.search(k.as_bytes()).is_ok();
            match node.filter(|n| !n.is_empty()) {
                Some(n) => {
                    delta.insert(k, Some(n.to_bytes()));
                }
                None if in_base => {
                    delta.insert(k, None);
                }
                None => {
                    delta.remove(k.as_bytes());
                }
            }
        }
        Tree { base: self.base.clone(), delta }
    }

    /// Names changed since the base was built.
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    pub fn base_len(&self) -> usize {
        self.base.len()
    }

    /// A tree with the same contents and an empty delta (O(zone)).
    pub fn compact(&self) -> Result<Tree, String> {
        let mut base = Base::default();
        for (k, n) in self.iter() {
            base.push(k, n.0)?;
        }
        base.seal();
        Ok(Tree::new(base))
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.base.bytes() + self.delta.len() * 96
    }
}

/// What [`Tree::probe`] found.
#[derive(Clone, Copy)]
pub struct Probe<'a> {
    /// The name's records, if it has any.
    pub node: Option<Node<'a>>,
    /// The name exists: it has records, or names below it (an empty non-terminal).
    pub exists: bool,
    /// Where a search for a name after this one (a descendant) may start
    /// in the base (0 when the tree has a delta).
    pub next: usize,
}

type DeltaIter<'a> = imbl::ordmap::Iter<'a, Key, Option<Arc<[u8]>>, imbl::shared_ptr::DefaultSharedPtr>;

/// The merged walk of [`Tree::iter`].
pub struct Iter<'a> {
    base: &'a Base,
    bi: usize,
    delta: std::iter::Peekable<DeltaIter<'a>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], Node<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let b = (self.bi < self.base.len()).then(|| self.base.key(self.bi));
            let d = self.delta.peek().map(|(k, _)| k.as_bytes());
            match (b, d) {
                (None, None) => return None,
                (Some(bk), None) => {
                    self.bi += 1;
                    return Some((bk, Node(self.base.node(self.bi - 1))));
                }
                (Some(bk), Some(dk)) if bk < dk => {
                    self.bi += 1;
                    return Some((bk, Node(self.base.node(self.bi - 1))));
                }
                (b, Some(dk)) => {
                    if b == Some(dk) {
                        self.bi += 1;
                    }
                    let (k, v) = self.delta.next()?;
                    if let Some(n) = v {
                        return Some((k.as_bytes(), Node(n)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Name;

    fn key(s: &str) -> Key {
        Key::from_wire(Name::from_ascii(s).expect("name").as_wire())
    }

    #[test]
    fn keys_sort_in_canonical_dns_order() {
        // RFC 4034 §6.1's example, in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let keys: Vec<Key> = names.iter().map(|n| key(n)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        // A label that is a prefix of another sorts first, even with 0x00 and 0x01 bytes.
        assert!(key("a.x.") < key("a\\000.x."));
        assert!(key("a\\000.x.") < key("a\\001.x."));
        assert!(key("a\\001.x.") < key("a\\002.x."));
        assert!(key("a\\000\\000.x.") < key("a\\001.x."));
    }

    #[test]
    fn keys_round_trip_to_lower_case_wire_names() {
        for n in ["www.Example.TEST.", "\\000\\001\\002.x.", ".", "a.b.c.d."] {
            let name = Name::from_ascii(n).expect("name");
            let mut wire = Vec::new();
            decode_key(key(n).as_bytes(), &mut wire);
            assert_eq!(wire, name.to_lowercase().as_wire(), "{n}");
            assert_eq!(key_labels(key(n).as_bytes()), name.label_count());
        }
        let k = key("a.b.example.");
        assert_eq!(key_ancestor(k.as_bytes(), 2), key("b.example.").as_bytes());
        assert!(key_is_below(k.as_bytes(), key("example.").as_bytes()));
        assert!(!key_is_below(key("ab.example.").as_bytes(), key("b.example.").as_bytes()));
    }

    fn tree(names: &[&str]) -> Tree {
        let mut b = Builder::default();
        for n in names.iter().rev() {
            b.push_parts(Name::from_ascii(n).expect("n").as_wire(), rtype::A, 60, &[1, 2, 3, 4]).expect("push");
        }
        Tree::new(b.finish().expect("finish"))
    }

    fn names(t: &Tree) -> Vec<String> {
        t.iter()
            .map(|(k, _)| {
                let mut w = Vec::new();
                decode_key(k, &mut w);
                Name::from_wire(&w).expect("wire").to_string()
            })
            .collect()
    }

    #[test]
    fn a_delta_shadows_the_base_and_searches_see_both() {
        let t = tree(&["example.", "a.example.", "c.example.", "e.example."]);
        let mut added = NodeBuf::default();
        added.add(rtype::TXT, 60, b"\x02hi");
        let t2 = t.with_changes(vec![(key("b.example."), Some(added.clone())), (key("c.example."), None)]);
        assert_eq!(names(&t), ["example.", "a.example.", "c.example.", "e.example."], "the old tree is unchanged");
        assert_eq!(names(&t2), ["example.", "a.example.", "b.example.", "e.example."]);
        assert!(t2.get(key("c.example.").as_bytes()).is_none());
        assert!(t2.get(key("b.example.").as_bytes()).is_some_and(|n| n.has(rtype::TXT)));
        let (k, _) = t2.seek_lt(key("d.example.").as_bytes()).expect("predecessor");
        assert_eq!(k, key("b.example.").as_bytes());
        let (k, _) = t2.seek_ge(key("c.example.").as_bytes()).expect("successor");
        assert_eq!(k, key("e.example.").as_bytes());
        assert_eq!(t2.delta_len(), 2);
        let c = t2.compact().expect("compact");
        assert_eq!(names(&c), names(&t2));
        assert_eq!(c.delta_len(), 0);
        // Deleting a name that only the delta had leaves no tombstone.
        let t3 = t2.with_changes(vec![(key("b.example."), None)]);
        assert_eq!(t3.delta_len(), 1);
    }

    #[test]
    fn empty_non_terminals_exist_and_descendants_are_found() {
        let t = tree(&["example.", "a.b.c.example.", "x.example."]);
        assert!(t.exists(key("b.c.example.").as_bytes()));
        assert!(t.exists(key("c.example.").as_bytes()));
        assert!(!t.exists(key("d.example.").as_bytes()));
        assert!(!t.exists(key("bc.example.").as_bytes()));
        assert!(!t.has_descendants(key("x.example.").as_bytes()));
    }

    #[test]
    fn a_probe_says_what_get_and_exists_say_with_or_without_a_delta() {
        let t = tree(&["example.", "a.example.", "b.c.example.", "*.d.example.", "x.d.example.", "z.example."]);
        let mut added = NodeBuf::default();
        added.add(rtype::TXT, 60, b"\x02hi");
        let shadowed = t.with_changes(vec![(key("e.c.example."), Some(added)), (key("b.c.example."), None)]);
        let probes = [
            "example.",
            "a.example.",
            "c.example.",
            "b.c.example.",
            "e.c.example.",
            "d.example.",
            "*.d.example.",
            "y.d.example.",
            "q.example.",
            "zz.example.",
            "a.a.example.",
        ];
        for t in [&t, &shadowed] {
            for n in probes {
                let k = key(n);
                for from in [0, 1] {
                    let p = t.probe(k.as_bytes(), if n == "example." { 0 } else { from });
                    assert_eq!(p.node.map(|n| n.0), t.get(k.as_bytes()).map(|n| n.0), "{n}");
                    assert_eq!(p.exists, t.exists(k.as_bytes()), "{n}");
                    assert_eq!(t.get_near(k.as_bytes(), 0).map(|n| n.0), t.get(k.as_bytes()).map(|n| n.0), "{n}");
                }
            }
            assert!(t.get_first(key("example.").as_bytes()).is_some());
        }
        // A search from an ancestor's probe: the wildcard below `d`.
        let d = t.probe(key("d.example.").as_bytes(), 0);
        assert!(d.exists && d.node.is_none());
        assert!(t.get_near(key("*.d.example.").as_bytes(), d.next).is_some());
        assert!(t.get_near(key("*.example.").as_bytes(), 1).is_none());
    }

    #[test]
    fn the_hash_index_says_what_the_ordered_search_says_for_names_empty_non_terminals_and_misses() {
        // Empty non-terminals at several depths, one above a name and one
        // below another name, a wildcard, and names that sort between them.
        let t = tree(&[
            "example.",
            "a.example.",
            "x.y.z.a.example.",
            "b.example.",
            "c.d.e.b.example.",
            "f.e.b.example.",
            "*.w.example.",
            "m.example.",
            "n.m.example.",
            "q.r.s.example.",
        ]);
        // Ten names: more than tests index inline, so the indexing thread does it.
        assert!(!t.base.indexed(), "not indexed before it is served");
        t.index_later();
        let waited = std::time::Instant::now();
        while !t.base.indexed() {
            assert!(waited.elapsed() < std::time::Duration::from_secs(10), "the indexing thread built no index");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut plain = Base::default();
        for i in 0..t.base.len() {
            plain.push(t.base.key(i), t.base.node(i)).expect("push");
        }
        let plain = Tree::new(plain);
        assert!(!plain.base.indexed(), "not indexed");
        let asked = [
            "example.",
            "a.example.",
            "z.a.example.",
            "y.z.a.example.",
            "x.y.z.a.example.",
            "q.x.y.z.a.example.",
            "b.example.",
            "e.b.example.",
            "d.e.b.example.",
            "c.d.e.b.example.",
            "f.e.b.example.",
            "g.e.b.example.",
            "w.example.",
            "*.w.example.",
            "v.w.example.",
            "m.example.",
            "n.m.example.",
            "o.m.example.",
            "s.example.",
            "r.s.example.",
            "q.r.s.example.",
            "zz.example.",
            "aa.example.",
            "com.",
            ".",
        ];
        for n in asked {
            let k = key(n);
            let (h, p) = (t.probe(k.as_bytes(), 0), plain.probe(k.as_bytes(), 0));
            assert_eq!(h.node.map(|n| n.0), p.node.map(|n| n.0), "{n}");
            assert_eq!(h.exists, p.exists, "{n}");
            if p.exists {
                assert_eq!(h.next, p.next, "{n}: where names below it start");
            }
            assert_eq!(t.get(k.as_bytes()).map(|n| n.0), plain.get(k.as_bytes()).map(|n| n.0), "{n}");
            assert_eq!(t.get_near(k.as_bytes(), 0).map(|n| n.0), plain.get(k.as_bytes()).map(|n| n.0), "{n}");
            assert_eq!(t.exists(k.as_bytes()), plain.exists(k.as_bytes()), "{n}");
        }
        // Every name and every empty non-terminal below the apex is entered once.
        let entered = t.base.slots.get().expect("index").iter().filter(|&&v| v != 0).count();
        // 10 names; e.b, d.e.b, z.a, y.z.a, w, r.s, s below the apex; the root above it.
        assert_eq!(entered, 10 + 7 + 1);
    }

    #[test]
    fn input_in_order_streams_and_a_late_record_out_of_order_still_lands_with_its_name() {
        let n = |s: &str| Name::from_ascii(s).expect("n");
        let mut b = Builder::default();
        for (owner, rd) in [("example.", 1u8), ("a.example.", 2), ("a.example.", 3), ("b.example.", 4)] {
            b.push_parts(n(owner).as_wire(), rtype::A, 60, &[10, 0, 0, rd]).expect("push");
        }
        assert!(!b.unsorted, "canonical order streams");
        b.push_parts(n("a.example.").as_wire(), rtype::A, 60, &[10, 0, 0, 5]).expect("push");
        assert!(b.unsorted);
        assert_eq!(b.len(), 5);
        let t = Tree::new(b.finish().expect("finish"));
        assert_eq!(names(&t), ["example.", "a.example.", "b.example."]);
        let a = t.get(key("a.example.").as_bytes()).and_then(|n| n.get(rtype::A)).expect("rrset");
        assert_eq!(a.count, 3);
    }

    #[test]
    fn records_whose_rdata_names_differ_only_in_case_are_one_and_either_spelling_deletes_it() {
        let n = |s: &str| Name::from_ascii(s).expect("n");
        let mut b = Builder::default();
        b.push_parts(n("example.").as_wire(), rtype::NS, 300, n("ns1.example.").as_wire()).expect("push");
        b.push_parts(n("EXAMPLE.").as_wire(), rtype::NS, 60, n("NS1.Example.").as_wire()).expect("push");
        // TXT is compared by its octets: these are two records.
        b.push_parts(n("example.").as_wire(), rtype::TXT, 300, b"\x01a").expect("push");
        b.push_parts(n("example.").as_wire(), rtype::TXT, 300, b"\x01A").expect("push");
        let t = Tree::new(b.finish().expect("finish"));
        let node = t.get(key("example.").as_bytes()).expect("node");
        let ns = node.get(rtype::NS).expect("rrset");
        assert_eq!((ns.count, ns.ttl), (1, 300), "the duplicate changes nothing, its TTL included");
        assert_eq!(node.get(rtype::TXT).map(|s| s.count), Some(2));
        let mut buf = NodeBuf::decode(node);
        assert!(buf.remove(rtype::NS, n("nS1.eXample.").as_wire()));
        assert!(!buf.remove(rtype::NS, n("ns1.example.").as_wire()), "one record, deleted once");
    }

    #[test]
    fn duplicate_records_are_one_and_an_rrset_has_the_lowest_ttl() {
        let mut b = Builder::default();
        let owner = Name::from_ascii("www.example.").expect("n");
        b.push_parts(owner.as_wire(), rtype::A, 300, &[1, 1, 1, 1]).expect("push");
        b.push_parts(owner.as_wire(), rtype::A, 60, &[2, 2, 2, 2]).expect("push");
        b.push_parts(owner.as_wire(), rtype::A, 300, &[1, 1, 1, 1]).expect("push");
        let t = Tree::new(b.finish().expect("finish"));
        let set = t.get(key("WWW.example.").as_bytes()).and_then(|n| n.get(rtype::A)).expect("rrset");
        assert_eq!(set.count, 2);
        assert_eq!(set.ttl, 60);
    }
}
