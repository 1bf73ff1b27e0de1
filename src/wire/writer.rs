//! Writing responses: RRsets appended whole or not at all, within a size
//! limit, with name compression (RFC 1035 §4.1.4).
//!
//! Owner names are compressed against everything written before; names inside
//! RDATA only for the RFC 1035 types whose RDATA may be compressed (NS, CNAME,
//! SOA, PTR, MX, MB, MG, MR, MINFO: RFC 3597 §4); every other type's RDATA is
//! copied as it is (DNAME and SRV must not be compressed: RFC 6672 §2.5, RFC
//! 2782).

use super::message::{skip_uncompressed_name, Section};
use super::name::Name;
use super::types::rtype;

/// The RRset did not fit in the size limit; nothing of it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Names (suffixes) remembered for compression; more are written but not
/// pointed to. An answer rarely has more than a few dozen.
const MAX_TARGETS: usize = 128;

pub struct MessageWriter {
    buf: Vec<u8>,
    limit: usize,
    /// Offsets in `buf` where a name (or a suffix of one) starts.
    names: [u16; MAX_TARGETS],
    /// The uncompressed length of each of those names: only a name of the
    /// same length can be the same name, so most are passed over without
    /// walking them.
    name_lens: [u8; MAX_TARGETS],
    n_names: usize,
    /// For large messages (transfers): every suffix written, by the hash of
    /// its lower-case form, instead of the bounded list above.
    index: Option<Box<Indexed>>,
}

/// The suffix index and the per-name work lists it is searched with (kept
/// to be cleared, not allocated or zeroed, per name).
struct Indexed {
    map: SuffixIndex,
    starts: Vec<usize>,
    hashes: Vec<u64>,
}

/// Suffix hash → offset; the keys are hashes already.
type SuffixIndex = std::collections::HashMap<u64, u16, std::hash::BuildHasherDefault<Passthrough>>;

#[derive(Default)]
struct Passthrough(u64);

impl std::hash::Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// FNV-1a, lower-cased, of every suffix of an uncompressed name at once:
/// `hashes[i]` is that of the suffix starting at `starts[i]`, the labels
/// hashed from the root up (each suffix's hash continues its parent's), so
/// a name of L labels costs one pass over its bytes, not L; the labels'
/// starts go in `starts`.
fn suffix_hashes(wire: &[u8], starts: &mut Vec<usize>, hashes: &mut Vec<u64>) {
    starts.clear();
    let mut pos = 0usize;
    while let Some(&len) = wire.get(pos) {
        if len == 0 {
            break;
        }
        starts.push(pos);
        pos += 1 + usize::from(len);
    }
    hashes.clear();
    hashes.resize(starts.len(), 0);
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (&s, slot) in starts.iter().zip(hashes.iter_mut()).rev() {
        let e = (s + 1 + usize::from(wire[s])).min(wire.len());
        for &b in &wire[s..e] {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        *slot = h;
    }
}

/// Whether the name at `off` in `buf` (pointers followed) equals the
/// uncompressed `wire`, ignoring ASCII case.
fn same_name(buf: &[u8], mut off: usize, wire: &[u8]) -> bool {
    let mut pos = 0usize;
    for _ in 0..256 {
        let Some(&len) = buf.get(off) else { return false };
        if len & 0xc0 == 0xc0 {
            let Some(&lo) = buf.get(off + 1) else { return false };
            off = (usize::from(len & 0x3f) << 8) | usize::from(lo);
            continue;
        }
        let n = usize::from(len);
        if wire.get(pos) != Some(&len) {
            return false;
        }
        if n == 0 {
            return true;
        }
        match (buf.get(off + 1..off + 1 + n), wire.get(pos + 1..pos + 1 + n)) {
            // Equal bytes first: names in a zone's data are mostly written alike.
            (Some(a), Some(b)) if a == b || a.eq_ignore_ascii_case(b) => {}
            _ => return false,
        }
        off += 1 + n;
        pos += 1 + n;
    }
    false
}

impl MessageWriter {
    /// A message with `header` (its counts are kept by the writer) and one
    /// question, echoed as received (case included).
    pub fn new(id: u16, flags: u16, question: Option<(&Name, u16, u16)>, limit: usize) -> MessageWriter {
        // Most answers are small: start within the allocator's fast sizes.
        MessageWriter::with(id, flags, question, limit, limit.min(512), None)
    }

    /// A writer for large messages of many names (zone transfers): every name
    /// written is a compression target, found by hash.
    pub fn new_indexed(id: u16, flags: u16, question: Option<(&Name, u16, u16)>, limit: usize) -> MessageWriter {
        let index = Some(Box::new(Indexed {
            map: SuffixIndex::with_capacity_and_hasher(4096, Default::default()),
            starts: Vec::with_capacity(16),
            hashes: Vec::with_capacity(16),
        }));
        MessageWriter::with(id, flags, question, limit, limit, index)
    }

    fn with(
        id: u16,
        flags: u16,
        question: Option<(&Name, u16, u16)>,
        limit: usize,
        capacity: usize,
        index: Option<Box<Indexed>>,
    ) -> MessageWriter {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0, u8::from(question.is_some()), 0, 0, 0, 0, 0, 0]);
        let mut w = MessageWriter {
            buf,
            limit: limit.max(12),
            names: [0; MAX_TARGETS],
            name_lens: [0; MAX_TARGETS],
            n_names: 0,
            index,
        };
        w.write_question(question);
        w
    }

    fn write_question(&mut self, question: Option<(&Name, u16, u16)>) {
        if let Some((name, qtype, qclass)) = question {
            self.write_name(name.as_wire(), true);
            self.buf.extend_from_slice(&qtype.to_be_bytes());
            self.buf.extend_from_slice(&qclass.to_be_bytes());
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() <= 12
    }

    /// Lowers the limit (to keep room for an OPT record written last).
    pub fn reserve(&mut self, bytes: usize) {
        self.limit = self.limit.saturating_sub(bytes).max(12);
    }

    /// Raises the limit again by what [`MessageWriter::reserve`] kept.
    pub fn unreserve(&mut self, bytes: usize) {
        self.limit += bytes;
    }

    pub fn set_flags(&mut self, set: u16) {
        let f = u16::from_be_bytes([self.buf[2], self.buf[3]]) | set;
        self.buf[2..4].copy_from_slice(&f.to_be_bytes());
    }

    pub fn set_rcode(&mut self, rcode: u8) {
        self.buf[3] = (self.buf[3] & 0xf0) | (rcode & 0x0f);
    }

    fn count_at(section: Section) -> usize {
        match section {
            Section::Answer => 6,
            Section::Authority => 8,
            _ => 10,
        }
    }

    pub fn count(&self, section: Section) -> u16 {
        let at = Self::count_at(section);
        u16::from_be_bytes([self.buf[at], self.buf[at + 1]])
    }

    fn bump(&mut self, section: Section, n: u16) {
        let at = Self::count_at(section);
        let c = self.count(section).saturating_add(n);
        self.buf[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }

    /// Writes a name, compressed against earlier names when `compress`; adds
    /// its suffixes to the table.
    fn write_name(&mut self, wire: &[u8], compress: bool) {
        if compress && self.index.is_some() {
            return self.write_name_indexed(wire);
        }
        // Where the name ends (its root label included), so that each
        // suffix's length is known.
        let mut end = 0usize;
        while let Some(&len) = wire.get(end) {
            end += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        let end = end.min(wire.len());
        let mut pos = 0usize;
        while let Some(&len) = wire.get(pos) {
            if len == 0 {
                self.buf.push(0);
                break;
            }
            let suffix_len = (end - pos).min(usize::from(u8::MAX)) as u8;
            if compress {
                let suffix = &wire[pos..];
                let found = (0..self.n_names).find(|&i| {
                    self.name_lens[i] == suffix_len && same_name(&self.buf, usize::from(self.names[i]), suffix)
                });
                if let Some(i) = found {
                    let p = 0xc000 | self.names[i];
                    self.buf.extend_from_slice(&p.to_be_bytes());
                    break;
                }
            }
            let at = self.buf.len();
            if at < 0x3fff && self.n_names < MAX_TARGETS {
                self.names[self.n_names] = at as u16;
                self.name_lens[self.n_names] = suffix_len;
                self.n_names += 1;
            }
            let end = (pos + 1 + usize::from(len)).min(wire.len());
            self.buf.extend_from_slice(&wire[pos..end]);
            pos = end;
        }
    }

    /// [`MessageWriter::write_name`] against the suffix index: the longest
    /// suffix already written becomes a pointer; each label written before it
    /// is registered.
    fn write_name_indexed(&mut self, wire: &[u8]) {
        let Some(ix) = self.index.as_mut() else { return };
        let Indexed { map: index, starts, hashes } = &mut **ix;
        suffix_hashes(wire, starts, hashes);
        for (&pos, &h) in starts.iter().zip(hashes.iter()) {
            if let Some(&off) = index.get(&h) {
                if same_name(&self.buf, usize::from(off), &wire[pos..]) {
                    self.buf.extend_from_slice(&(0xc000 | off).to_be_bytes());
                    return;
                }
            }
            let at = self.buf.len();
            if at < 0x3fff {
                index.entry(h).or_insert(at as u16);
            }
            let end = (pos + 1 + usize::from(wire[pos])).min(wire.len());
            self.buf.extend_from_slice(&wire[pos..end]);
        }
        self.buf.push(0);
    }

    fn write_rdata(&mut self, rt: u16, rdata: &[u8]) {
        let names_first = |n: usize, fixed_before: usize| -> Option<([(usize, usize); 2], usize)> {
            // (start, end) of each leading name after `fixed_before` bytes.
            let mut spans = [(0, 0); 2];
            let mut p = fixed_before;
            for span in spans.iter_mut().take(n) {
                let e = skip_uncompressed_name(rdata, p)?;
                *span = (p, e);
                p = e;
            }
            Some((spans, n))
        };
        let layout = match rt {
            rtype::NS | rtype::CNAME | rtype::PTR | rtype::MB | rtype::MG | rtype::MR => names_first(1, 0),
            rtype::SOA | rtype::MINFO => names_first(2, 0),
            rtype::MX => names_first(1, 2),
            _ => None,
        };
        match layout {
            Some((spans, n)) => {
                let mut copied = 0;
                for &(s, e) in &spans[..n] {
                    self.buf.extend_from_slice(&rdata[copied..s]);
                    self.write_name(&rdata[s..e], true);
                    copied = e;
                }
                self.buf.extend_from_slice(&rdata[copied..]);
            }
            None => self.buf.extend_from_slice(rdata),
        }
    }

    /// Appends a whole RRset to `section`, or nothing if it does not fit.
    /// `owner_wire` equal to the question's name compresses to it, so the
    /// question's case shows (RFC 1034 §4.1 case echo).
    pub fn rrset<'a>(
        &mut self,
        section: Section,
        owner_wire: &[u8],
        rt: u16,
        class: u16,
        ttl: u32,
        rdatas: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), Full> {
        let mark = (self.buf.len(), self.n_names);
        let mut n = 0u16;
        for rd in rdatas {
            self.write_name(owner_wire, true);
            self.buf.extend_from_slice(&rt.to_be_bytes());
            self.buf.extend_from_slice(&class.to_be_bytes());
            self.buf.extend_from_slice(&ttl.to_be_bytes());
            let len_at = self.buf.len();
            self.buf.extend_from_slice(&[0, 0]);
            self.write_rdata(rt, rd);
            let rdlen = (self.buf.len() - len_at - 2) as u16;
            self.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
            n += 1;
            if self.buf.len() > self.limit {
                self.buf.truncate(mark.0);
                self.n_names = mark.1;
                if let Some(ix) = self.index.as_mut() {
                    ix.map.retain(|_, off| usize::from(*off) < mark.0);
                }
                return Err(Full);
            }
        }
        self.bump(section, n);
        Ok(())
    }

    /// Appends an OPT record (RFC 6891 §6.1.2) to the additional section,
    /// ignoring the limit (its room was reserved).
    pub fn opt(&mut self, udp_size: u16, ext_rcode: u8, do_bit: bool, options: &[u8]) {
        self.buf.push(0);
        self.buf.extend_from_slice(&rtype::OPT.to_be_bytes());
        self.buf.extend_from_slice(&udp_size.to_be_bytes());
        self.buf.push(ext_rcode);
        self.buf.push(0);
        self.buf.extend_from_slice(&(if do_bit { 0x8000u16 } else { 0 }).to_be_bytes());
        self.buf.extend_from_slice(&(options.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(options);
        self.bump(Section::Additional, 1);
    }

    /// Drops every record (keeps header and question) and sets TC.
    pub fn truncate_to_question(&mut self, question_end: usize) {
        self.buf.truncate(question_end);
        let kept = self.names[..self.n_names].iter().filter(|&&o| usize::from(o) < question_end).count();
        self.n_names = kept;
        if let Some(ix) = self.index.as_mut() {
            ix.map.retain(|_, off| usize::from(*off) < question_end);
        }
        for at in [6, 8, 10] {
            self.buf[at..at + 2].copy_from_slice(&[0, 0]);
        }
        self.set_flags(0x0200);
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{class, parse_message};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    #[test]
    fn the_indexed_writer_compresses_every_repeated_name_and_parses_back() {
        let q = name("Zone.test");
        let mut plain = MessageWriter::new(7, 0x8400, Some((&q, rtype::AXFR, class::IN)), 65_535);
        let mut indexed = MessageWriter::new_indexed(7, 0x8400, Some((&q, rtype::AXFR, class::IN)), 65_535);
        let owners: Vec<Name> = (0..300).map(|i| name(&format!("h{}.sub{}.zone.test", i % 150, i % 3))).collect();
        for w in [&mut plain, &mut indexed] {
            for o in &owners {
                w.rrset(Section::Answer, o.as_wire(), rtype::NS, class::IN, 60, [o.as_wire()]).expect("fits");
            }
        }
        let (p, i) = (plain.finish(), indexed.finish());
        assert!(i.len() < p.len(), "past 128 names the index still compresses ({} vs {})", i.len(), p.len());
        let (mp, mi) = (parse_message(&p).expect("plain"), parse_message(&i).expect("indexed"));
        assert_eq!(mi.answers.len(), 300);
        for (a, b) in mp.answers.iter().zip(&mi.answers) {
            assert_eq!((&a.owner, &a.rdata), (&b.owner, &b.rdata));
        }
        // The repeated names (the second 150) are a pointer each: owner 2
        // bytes, RDATA 2 bytes.
        assert!(i.len() < 12 + 13 + 150 * 40 + 150 * (2 + 10 + 2), "{}", i.len());
    }

    #[test]
    fn names_are_compressed_and_the_question_case_is_echoed() {
        let q = name("WWW.Example.test");
        let mut w = MessageWriter::new(7, 0x8400, Some((&q, rtype::CNAME, class::IN)), 512);
        let target = name("web.example.test");
        w.rrset(Section::Answer, name("www.example.test").as_wire(), rtype::CNAME, class::IN, 60, [target.as_wire()])
            .expect("fits");
        let mx = [&[0u8, 10][..], name("mail.example.test").as_wire()].concat();
        w.rrset(Section::Answer, target.as_wire(), rtype::MX, class::IN, 60, [&mx[..]]).expect("fits");
        let bytes = w.finish();
        // Header 12, question 22, CNAME: owner pointer 2 + 10 + RDATA "web"+pointer 6,
        // MX: owner pointer 2 + 10 + RDATA preference 2 + "mail"+pointer 7.
        assert_eq!(bytes.len(), 12 + 22 + 18 + 21, "{bytes:?}");
        let m = parse_message(&bytes).expect("parses");
        assert_eq!(m.answers[0].owner.as_wire(), q.as_wire(), "owner points at the question");
        // Compression is case-insensitive (RFC 4343 §4.1): the suffix takes the question's case.
        assert!(m.answers[0].rdata.eq_ignore_ascii_case(target.as_wire()));
        assert!(m.answers[1].rdata.eq_ignore_ascii_case(&mx));
    }

    #[test]
    fn an_rrset_that_does_not_fit_leaves_nothing_behind() {
        let q = name("big.example.test");
        let mut w = MessageWriter::new(1, 0x8400, Some((&q, rtype::TXT, class::IN)), 100);
        let txt = [60u8; 61];
        let r = w.rrset(Section::Answer, q.as_wire(), rtype::TXT, class::IN, 60, [&txt[..], &txt[..]]);
        assert_eq!(r, Err(Full));
        assert_eq!(w.count(Section::Answer), 0);
        assert_eq!(w.len(), 12 + 22);
    }
}
