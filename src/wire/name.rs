//! Domain names in uncompressed wire form (RFC 1035 §3.1), compared without case (RFC 4343).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The longest name in wire form, including the root label (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// The longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// An absolute domain name in uncompressed wire form (length-prefixed labels ending with the root
/// label), case preserved as received.
///
/// Equality and hashing ignore ASCII case, as DNS name comparison does (RFC 4343 §3); use
/// [`Name::as_wire`] when the exact bytes matter. The invariants (labels ≤ 63 bytes, whole name ≤
/// 255 bytes, ends with the root label) are established by every constructor, so the accessors
/// never need to re-check them.
#[derive(Clone)]
pub struct Name(pub(super) Box<[u8]>);

/// Why a presentation-form or wire-form name was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NameError {}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name(Box::new([0u8]))
    }

    /// Parses presentation form (RFC 1035 §5.1): labels separated by dots, `\.` and `\X` for a
    /// literal character, `\DDD` for a byte in decimal; a trailing dot is optional because every
    /// name here is absolute. `.` alone is the root. `@` is not special (there is no origin).
    pub fn from_ascii(s: &str) -> Result<Name, NameError> {
        if s == "." {
            return Ok(Name::root());
        }
        if s.is_empty() {
            return Err(NameError("empty domain name".into()));
        }
        let bytes = s.as_bytes();
        let mut wire: Vec<u8> = Vec::with_capacity(bytes.len() + 2);
        let mut label_start = 0usize;
        wire.push(0);
        let mut i = 0;
        let mut label_len = 0usize;
        let mut ended_with_dot = false;
        while i < bytes.len() {
            let c = bytes[i];
            ended_with_dot = false;
            let byte = match c {
                b'.' => {
                    if label_len == 0 {
                        return Err(NameError(format!("empty label in domain name `{s}`")));
                    }
                    wire[label_start] = label_len as u8;
                    label_start = wire.len();
                    wire.push(0);
                    label_len = 0;
                    i += 1;
                    ended_with_dot = true;
                    continue;
                }
                b'\\' => {
                    let d = |k: usize| bytes.get(i + k).filter(|b| b.is_ascii_digit());
                    match (d(1), d(2), d(3)) {
                        (Some(a), Some(b), Some(c)) => {
                            let v = u32::from(a - b'0') * 100 + u32::from(b - b'0') * 10 + u32::from(c - b'0');
                            let v = u8::try_from(v)
                                .map_err(|_| NameError(format!("escape \\{v} in `{s}` is above 255")))?;
                            i += 4;
                            v
                        }
                        (Some(_), _, _) => {
                            return Err(NameError(format!("incomplete \\DDD escape in domain name `{s}`")))
                        }
                        _ => match bytes.get(i + 1) {
                            Some(&b) => {
                                i += 2;
                                b
                            }
                            None => return Err(NameError(format!("domain name `{s}` ends with a lone backslash"))),
                        },
                    }
                }
                other => {
                    i += 1;
                    other
                }
            };
            label_len += 1;
            if label_len > MAX_LABEL_LEN {
                return Err(NameError(format!("label longer than 63 bytes in domain name `{s}`")));
            }
            wire.push(byte);
        }
        if !ended_with_dot {
            wire[label_start] = label_len as u8;
            wire.push(0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError(format!("domain name `{s}` is longer than 255 bytes in wire form")));
        }
        Ok(Name(wire.into_boxed_slice()))
    }

    /// Takes an uncompressed wire-form name and checks it.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        let mut pos = 0usize;
        loop {
            let Some(&len) = wire.get(pos) else {
                return Err(NameError("wire-form name has no root label".into()));
            };
            if len == 0 {
                break;
            }
            if usize::from(len) > MAX_LABEL_LEN {
                return Err(NameError(format!("wire-form name has a label length byte {len:#04x}")));
            }
            pos += 1 + usize::from(len);
        }
        if pos + 1 != wire.len() || wire.len() > MAX_NAME_LEN {
            return Err(NameError("wire-form name has bytes after the root label or is too long".into()));
        }
        Ok(Name(wire.into()))
    }

    /// The uncompressed wire form, root label included.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// The labels, leftmost first, without the root label.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.0 }
    }

    /// The number of labels, not counting the root (so `www.example.` has 2, the root 0).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// Name equality ignoring ASCII case (RFC 4343 §3). Length bytes are ≤ 63, below `A`, so the
    /// whole wire form can be compared at once.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }

    /// Whether `self` is `zone` or below it, label-wise and ignoring case: `a.example.` is under
    /// `example.`, `aexample.` is not.
    pub fn is_subdomain_of(&self, zone: &Name) -> bool {
        self.suffix_offset(zone).is_some()
    }

    /// The byte offset in `self` where `zone` starts as a label-aligned suffix, if it does.
    fn suffix_offset(&self, zone: &Name) -> Option<usize> {
        let (me, z) = (&self.0[..], &zone.0[..]);
        if z.len() > me.len() {
            return None;
        }
        let want = me.len() - z.len();
        let mut pos = 0usize;
        while pos < want {
            pos += 1 + usize::from(me[pos]);
        }
        (pos == want && me[pos..].eq_ignore_ascii_case(z)).then_some(pos)
    }

    /// A copy with ASCII letters lowered, the canonical form of RFC 4034 §6.2 (used for TSIG).
    pub fn to_lowercase(&self) -> Name {
        Name(self.0.to_ascii_lowercase().into_boxed_slice())
    }

    /// Presentation form of the part below `origin`, without a trailing dot; `""` for the apex
    /// itself. A name that is not under `origin` is returned absolute, with its trailing dot, so
    /// the result is never ambiguous.
    pub fn relative_to(&self, origin: &Name) -> String {
        match self.suffix_offset(origin) {
            Some(0) => String::new(),
            Some(end) => {
                let mut s = String::with_capacity(end + 4);
                write_labels(&mut s, &self.0[..end], false);
                s
            }
            None => self.to_string(),
        }
    }
}

/// Iterator over the labels of a [`Name`].
pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.wire.split_first()?;
        if len == 0 {
            return None;
        }
        let (label, rest) = rest.split_at_checked(usize::from(len))?;
        self.wire = rest;
        Some(label)
    }
}

/// Appends the labels of `wire` (which may or may not end with the root label) in presentation
/// form, separated by dots, with a dot after the last one when `trailing_dot`.
fn write_labels(out: &mut String, wire: &[u8], trailing_dot: bool) {
    let mut labels = Labels { wire }.peekable();
    while let Some(label) = labels.next() {
        escape_label(out, label);
        if trailing_dot || labels.peek().is_some() {
            out.push('.');
        }
    }
}

/// RFC 1035 §5.1 escaping of one label: `\.` and `\\`, a backslash before the characters that are
/// special in master files (`"`, `(`, `)`, `;`, `@`, `$`), `\DDD` for bytes outside 0x21..=0x7e.
pub(crate) fn escape_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => push_ddd(out, b),
        }
    }
}

/// `\DDD` with exactly three decimal digits.
pub(crate) fn push_ddd(out: &mut String, b: u8) {
    out.push('\\');
    out.push(char::from(b'0' + b / 100));
    out.push(char::from(b'0' + (b / 10) % 10));
    out.push(char::from(b'0' + b % 10));
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        let mut s = String::with_capacity(self.0.len() + 4);
        write_labels(&mut s, &self.0, true);
        f.write_str(&s)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.eq_ignore_case(other)
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.iter() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::from_ascii(s)
    }
}
