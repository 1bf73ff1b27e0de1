//! TSIG (RFC 8945): keys, signing our queries, and verifying the primary's answer stream.
//!
//! Why our own code rather than hickory's verifier: RFC 8945 §5.3.1 lets a server leave up to 99
//! consecutive messages of a multi-message answer unsigned (older NSD and OpenDNSSEC sign every
//! 96th), and hickory rejects any unsigned message; it also re-decodes every message to find the
//! TSIG record. Here the message is parsed once by [`super::message`] (which records where the TSIG
//! RR starts) and the MAC is computed with ring's HMAC over slices of the received bytes, feeding
//! unsigned messages into a running HMAC so nothing is copied or kept.
//!
//! Interoperability with hickory's signer is covered by the tests; with BIND by the example
//! `examples/bind.rs`.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::hmac;

use super::message::{append_record, Message, Section, TsigRecord};
use super::name::Name;
use super::types::{class, rcode, rtype};

/// The fudge we put in our own signatures and the largest clock skew we accept (RFC 8945 §10
/// recommends 300 seconds).
pub const DEFAULT_FUDGE: u16 = 300;

/// The most fudge we grant a signer, whatever its TSIG says (the field goes up to 65,535 s, which
/// would let a recorded request be replayed for 18 hours).
pub const MAX_FUDGE: u16 = DEFAULT_FUDGE;

/// A MAC shorter than this is not checked at all (RFC 8945 §5.2.2.1: never fewer than 10 bytes);
/// between this and the algorithm's minimum it is checked, and answered with a signed BADTRUNC.
const MIN_CHECKED_MAC: usize = 10;

/// RFC 8945 §5.3.1: "a TSIG ... MUST be included on ... at least every 100'th envelope", so at
/// most 99 unsigned messages may follow each other.
pub const MAX_UNSIGNED_RUN: u32 = 99;

/// The TSIG MAC algorithms ring implements (RFC 8945 §6). HMAC-MD5 and HMAC-SHA224 are not
/// offered because ring has neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// The name as BIND's `tsig-keygen -a` takes it and writes it in `key` clauses.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm's domain name on the wire (RFC 8945 §6: `hmac-sha256.` etc.).
    pub fn wire_name(self) -> Name {
        // The names are fixed valid ASCII, so this cannot fail; fall back to the root to stay
        // panic-free by construction.
        Name::from_ascii(self.name()).unwrap_or_else(|_| Name::root())
    }

    fn from_wire_name(name: &Name) -> Option<Algorithm> {
        let s = name.to_string();
        s.trim_end_matches('.').parse().ok()
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// Full MAC length in bytes.
    pub fn output_len(self) -> usize {
        self.ring().digest_algorithm().output_len()
    }

    /// RFC 8945 §5.2.2.1: a truncated MAC must keep at least half the output and at least 10
    /// bytes; shorter ones are BADTRUNC.
    fn min_mac_len(self) -> usize {
        (self.output_len() / 2).max(10)
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Algorithm, String> {
        match s.trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha1" => Ok(Algorithm::HmacSha1),
            "hmac-sha256" => Ok(Algorithm::HmacSha256),
            "hmac-sha384" => Ok(Algorithm::HmacSha384),
            "hmac-sha512" => Ok(Algorithm::HmacSha512),
            "hmac-md5" | "hmac-md5.sig-alg.reg.int" | "hmac-sha224" => {
                Err(format!("TSIG algorithm `{s}` is not supported; use hmac-sha256 (or sha1/sha384/sha512)"))
            }
            _ => Err(format!("unknown TSIG algorithm `{s}`")),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A shared secret key. `Debug` does not show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    pub name: Name,
    pub algorithm: Algorithm,
    pub secret: Vec<u8>,
}

impl TsigKey {
    /// From the three values of a BIND `key "name" { algorithm …; secret "…"; };` clause.
    pub fn from_parts(name: &str, algorithm: &str, secret_base64: &str) -> Result<TsigKey, String> {
        let name = Name::from_ascii(name).map_err(|e| format!("TSIG key name: {e}"))?;
        let algorithm = algorithm.parse()?;
        let secret = data_encoding::BASE64
            .decode(secret_base64.trim().as_bytes())
            .map_err(|e| format!("TSIG secret of key `{name}` is not valid base64: {e}"))?;
        if secret.is_empty() {
            return Err(format!("TSIG secret of key `{name}` is empty"));
        }
        Ok(TsigKey { name, algorithm, secret })
    }

    fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(self.algorithm.ring(), &self.secret)
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a TSIG check failed. Sentences read after "primary 192.0.2.1:53 …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsigError {
    /// The peer refused our signature: RCODE NOTAUTH and/or a TSIG error (RFC 8945 §5.3.2).
    Rejected {
        key: Name,
        error: u16,
        /// For BADTIME, the peer's clock (RFC 8945 §5.2.3 puts it in Other Data).
        peer_time: Option<u64>,
    },
    /// A message that must be signed is not: the first answer to a signed query (RFC 8945 §5.3),
    /// or a request we require to be signed.
    Unsigned { key: Name, message: u32 },
    /// The transfer ended on an unsigned message (RFC 8945 §5.3.1: the last one must be signed).
    LastUnsigned { key: Name, message: u32 },
    /// More than 99 unsigned messages in a row.
    TooManyUnsigned { key: Name, message: u32 },
    /// Signed with another key or algorithm than ours.
    WrongKey { expected: Name, got: Name, algorithm: Name },
    /// A request signed with a key we do not know (we answer BADKEY).
    UnknownKey { got: Name, algorithm: Name },
    /// Signed for another query: the Original ID is not our query's ID.
    OriginalId { key: Name, message: u32, expected: u16, got: u16 },
    /// The MAC does not verify (we answer BADSIG).
    BadSig { key: Name, message: u32 },
    /// The MAC is shorter than RFC 8945 §5.2.2.1 allows, or longer than the algorithm's output.
    BadTrunc { key: Name, message: u32, len: usize },
    /// Signed too far from our clock (RFC 8945 §5.2.3).
    BadTime { key: Name, message: u32, signed: u64, now: u64, fudge: u16 },
    /// We could not produce a signature (message too large).
    Sign(String),
    /// An answer to a request we did not sign carries a TSIG record: no key
    /// can verify it, and BIND fails such a transfer too.
    SignedUnasked { key: Name, message: u32 },
}

impl TsigError {
    /// The TSIG error code to put in our reply to a request that failed verification
    /// (RFC 8945 §5.2): BADKEY, BADSIG, BADTIME or BADTRUNC; `None` if the request was unsigned.
    pub fn reply_error(&self) -> Option<u16> {
        match self {
            TsigError::UnknownKey { .. } | TsigError::WrongKey { .. } => Some(rcode::BADKEY),
            TsigError::BadSig { .. } => Some(rcode::BADSIG),
            TsigError::BadTime { .. } => Some(rcode::BADTIME),
            TsigError::BadTrunc { .. } => Some(rcode::BADTRUNC),
            _ => None,
        }
    }
}

impl fmt::Display for TsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TsigError::Rejected { key, error, peer_time: Some(t) } => write!(
                f,
                "rejected our TSIG key `{key}`: {} (its clock reads {t}, ours {}; check NTP)",
                rcode::name(*error),
                unix_now()
            ),
            TsigError::Rejected { key, error, .. } => {
                write!(f, "rejected our TSIG key `{key}`: {}", rcode::name(*error))
            }
            TsigError::Unsigned { key, message } => {
                write!(f, "sent message #{message} without TSIG although we expect key `{key}`")
            }
            TsigError::LastUnsigned { key, message } => {
                write!(f, "sent no TSIG on the last message (#{message}); key `{key}` must sign it")
            }
            TsigError::TooManyUnsigned { key, message } => write!(
                f,
                "sent {} messages without TSIG in a row up to #{message} (RFC 8945 allows 99, \
                 key `{key}`)",
                MAX_UNSIGNED_RUN + 1
            ),
            TsigError::WrongKey { expected, got, algorithm } => {
                write!(f, "signed with TSIG key `{got}` ({algorithm}) instead of our key `{expected}`")
            }
            TsigError::UnknownKey { got, algorithm } => {
                write!(f, "signed with TSIG key `{got}` ({algorithm}), which we do not know (BADKEY)")
            }
            TsigError::OriginalId { key, message, expected, got } => {
                write!(f, "signed message #{message} with key `{key}` for query ID {got}, ours was {expected}")
            }
            TsigError::BadSig { key, message } => write!(
                f,
                "sent message #{message} with a TSIG MAC that does not verify with key `{key}` \
                 (BADSIG: different secret, or the message was altered)"
            ),
            TsigError::BadTrunc { key, message, len } => write!(
                f,
                "sent message #{message} with a TSIG MAC of {len} bytes, not allowed for key \
                 `{key}` (BADTRUNC)"
            ),
            TsigError::BadTime { key, message, signed, now, fudge } => write!(
                f,
                "signed message #{message} with key `{key}` at time {signed}, {} s from our \
                 clock ({now}), beyond the fudge of {fudge} s (BADTIME; check NTP)",
                signed.abs_diff(*now)
            ),
            TsigError::Sign(why) => write!(f, "could not be sent a TSIG-signed message: {why}"),
            TsigError::SignedUnasked { key, message } => write!(
                f,
                "signed message {message} with key `{key}` although our request was not signed (no key is \
                 configured for this primary): refused"
            ),
        }
    }
}

impl std::error::Error for TsigError {}

/// Seconds since the Unix epoch, as TSIG's 48-bit Time Signed counts them.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The "TSIG Variables" of RFC 8945 §4.3.3, in canonical (lowercase, uncompressed) form.
struct Variables<'a> {
    key_name: &'a Name,
    algorithm: &'a Name,
    time_signed: u64,
    fudge: u16,
    error: u16,
    other: &'a [u8],
}

impl<'a> Variables<'a> {
    /// The variables a received TSIG RR carries (RFC 8945 §4.3.3).
    fn of(tsig: &'a super::message::TsigRecord) -> Variables<'a> {
        Variables {
            key_name: &tsig.key_name,
            algorithm: &tsig.algorithm,
            time_signed: tsig.time_signed,
            fudge: tsig.fudge,
            error: tsig.error,
            other: &tsig.other,
        }
    }

    fn digest(&self, ctx: &mut hmac::Context) {
        ctx.update(self.key_name.to_lowercase().as_wire());
        ctx.update(&class::ANY.to_be_bytes());
        ctx.update(&0u32.to_be_bytes());
        ctx.update(self.algorithm.to_lowercase().as_wire());
        digest_timers(ctx, self.time_signed, self.fudge);
        ctx.update(&self.error.to_be_bytes());
        ctx.update(&len16(self.other.len()).to_be_bytes());
        ctx.update(self.other);
    }
}

/// "TSIG Timers" (RFC 8945 §4.3.1): the 48-bit time and the fudge.
fn digest_timers(ctx: &mut hmac::Context, time_signed: u64, fudge: u16) {
    ctx.update(&time_signed.to_be_bytes()[2..]);
    ctx.update(&fudge.to_be_bytes());
}

/// A MAC as a digest component: its 2-byte size, then the MAC (RFC 8945 §4.3.1 Request MAC and
/// §5.3.1 Prior MAC).
fn digest_mac(ctx: &mut hmac::Context, mac: &[u8]) {
    ctx.update(&len16(mac.len()).to_be_bytes());
    ctx.update(mac);
}

fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Digests a received signed message as RFC 8945 §4.3.2 wants it: without the TSIG RR, ARCOUNT
/// one less, and the Original ID in place of the ID (§5.4.1: a forwarder may have changed it).
fn digest_stripped(ctx: &mut hmac::Context, bytes: &[u8], tsig_offset: usize, original_id: u16) -> bool {
    let (Some(header), Some(body)) = (bytes.get(..12), bytes.get(12..tsig_offset)) else {
        return false;
    };
    let mut h = [0u8; 12];
    h.copy_from_slice(header);
    h[..2].copy_from_slice(&original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([h[10], h[11]]).saturating_sub(1);
    h[10..].copy_from_slice(&arcount.to_be_bytes());
    ctx.update(&h);
    ctx.update(body);
    true
}

/// Constant-time comparison of a received (possibly truncated) MAC with the leading bytes of the
/// computed one, so the timing does not reveal how many bytes matched.
fn mac_matches(computed: &[u8], received: &[u8]) -> bool {
    if received.len() > computed.len() {
        return false;
    }
    let diff = computed.iter().zip(received).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(diff) == 0
}

/// Signs a message we built (its ARCOUNT not yet counting the TSIG): computes the MAC over
/// `prior_mac` (the request MAC when signing a response), the message and the TSIG variables, and
/// appends the TSIG RR. Returns the MAC.
fn sign(
    msg: &mut Vec<u8>,
    key: &TsigKey,
    prior_mac: Option<&[u8]>,
    now: u64,
    error: u16,
    other: &[u8],
) -> Result<Vec<u8>, TsigError> {
    let id = super::message::message_id(msg).ok_or_else(|| TsigError::Sign("no header".into()))?;
    let algorithm = key.algorithm.wire_name();
    let key_name = key.name.to_lowercase();
    let hkey = key.hmac_key();
    let mut ctx = hmac::Context::with_key(&hkey);
    if let Some(prior) = prior_mac {
        digest_mac(&mut ctx, prior);
    }
    ctx.update(msg);
    Variables { key_name: &key_name, algorithm: &algorithm, time_signed: now, fudge: DEFAULT_FUDGE, error, other }
        .digest(&mut ctx);
    let mac = ctx.sign().as_ref().to_vec();
    append_tsig(msg, &key_name, &algorithm, now, &mac, id, error, other)?;
    Ok(mac)
}

#[allow(clippy::too_many_arguments)]
fn append_tsig(
    msg: &mut Vec<u8>,
    key_name: &Name,
    algorithm: &Name,
    now: u64,
    mac: &[u8],
    original_id: u16,
    error: u16,
    other: &[u8],
) -> Result<(), TsigError> {
    let mut rdata = Vec::with_capacity(algorithm.as_wire().len() + 16 + mac.len() + other.len());
    rdata.extend_from_slice(algorithm.as_wire());
    rdata.extend_from_slice(&now.to_be_bytes()[2..]);
    rdata.extend_from_slice(&DEFAULT_FUDGE.to_be_bytes());
    rdata.extend_from_slice(&len16(mac.len()).to_be_bytes());
    rdata.extend_from_slice(mac);
    rdata.extend_from_slice(&original_id.to_be_bytes());
    rdata.extend_from_slice(&error.to_be_bytes());
    rdata.extend_from_slice(&len16(other.len()).to_be_bytes());
    rdata.extend_from_slice(other);
    append_record(msg, Section::Additional, key_name, rtype::TSIG, class::ANY, 0, &rdata)
        .map_err(|e| TsigError::Sign(e.into_owned()))
}

/// Signs a query we are about to send (RFC 8945 §5.1) and returns the MAC, which the first
/// answer's MAC covers (§5.3).
pub fn sign_request(msg: &mut Vec<u8>, key: &TsigKey, now: u64) -> Result<Vec<u8>, TsigError> {
    sign(msg, key, None, now, 0, &[])
}

/// Verifies the answer stream to a query we signed (RFC 8945 §5.3.1), one message at a time.
///
/// Order of checks per message, so the operator gets the most telling reason:
/// 1. A TSIG error field or an unsigned NOTAUTH: the primary rejected our key (§5.3.2).
/// 2. Unsigned: allowed after the first message for up to 99 messages, digested into the running
///    MAC; an unsigned *first* message is only accepted if it is an error reply (REFUSED,
///    NOTIMP, …), which carries no data and is better reported by its RCODE.
/// 3. Key name and algorithm.
/// 4. The MAC (with the Original ID), then the time against our clock with the fudge (§5.2.3
///    puts the time check after the MAC so forged packets cannot probe clocks).
pub struct StreamVerifier {
    request_id: u16,
    key: TsigKey,
    hkey: hmac::Key,
    algorithm: Name,
    /// Running digest since the last signed message: prior MAC plus unsigned messages.
    running: hmac::Context,
    messages: u32,
    unsigned_run: u32,
    last_signed: bool,
}

impl StreamVerifier {
    /// `request_mac` is what [`sign_request`] returned, `request_id` the ID of our query: the
    /// primary signs its answers with that ID as Original ID (RFC 8945 §4.2), and the MAC is
    /// recomputed with the Original ID from each TSIG RR, whatever the header says (§5.4.1).
    pub fn new(key: &TsigKey, request_mac: &[u8], request_id: u16) -> StreamVerifier {
        let hkey = key.hmac_key();
        let mut running = hmac::Context::with_key(&hkey);
        digest_mac(&mut running, request_mac);
        StreamVerifier {
            request_id,
            key: key.clone(),
            algorithm: key.algorithm.wire_name(),
            hkey,
            running,
            messages: 0,
            unsigned_run: 0,
            last_signed: false,
        }
    }

    /// Checks the next answer message against the current wall clock.
    pub fn verify(&mut self, bytes: &[u8], parsed: &Message) -> Result<(), TsigError> {
        self.verify_at(bytes, parsed, unix_now())
    }

    /// [`StreamVerifier::verify`] with an explicit clock (seconds since the epoch).
    pub fn verify_at(&mut self, bytes: &[u8], parsed: &Message, now: u64) -> Result<(), TsigError> {
        self.messages += 1;
        let key_name = &self.key.name;
        let Some(tsig) = &parsed.tsig else {
            let code = parsed.header.rcode();
            if code == rcode::NOTAUTH {
                return Err(TsigError::Rejected { key: key_name.clone(), error: code, peer_time: None });
            }
            // The first answer to a signed request must be signed, an error
            // answer too (RFC 8945 §5.3, §5.4): an unsigned REFUSED or NOTIMP
            // is not acted on (it could be anyone's, and a NOTIMP would turn
            // an IXFR into an AXFR). NOTAUTH above is the peer refusing our key.
            if self.messages == 1 {
                return Err(TsigError::Unsigned { key: key_name.clone(), message: 1 });
            }
            self.unsigned_run += 1;
            if self.unsigned_run > MAX_UNSIGNED_RUN {
                return Err(TsigError::TooManyUnsigned { key: key_name.clone(), message: self.messages });
            }
            self.running.update(bytes);
            self.last_signed = false;
            return Ok(());
        };
        if tsig.error != 0 {
            let peer_time = (tsig.error == rcode::BADTIME && tsig.other.len() == 6)
                .then(|| tsig.other.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)));
            return Err(TsigError::Rejected { key: key_name.clone(), error: tsig.error, peer_time });
        }
        if !tsig.key_name.eq_ignore_case(key_name) || !tsig.algorithm.eq_ignore_case(&self.algorithm) {
            return Err(TsigError::WrongKey {
                expected: key_name.clone(),
                got: tsig.key_name.clone(),
                algorithm: tsig.algorithm.clone(),
            });
        }
        let len = tsig.mac.len();
        if len > self.key.algorithm.output_len() || len < self.key.algorithm.min_mac_len() {
            return Err(TsigError::BadTrunc { key: key_name.clone(), message: self.messages, len });
        }
        let mut ctx = std::mem::replace(&mut self.running, hmac::Context::with_key(&self.hkey));
        if !digest_stripped(&mut ctx, bytes, tsig.offset, tsig.original_id) {
            return Err(TsigError::BadSig { key: key_name.clone(), message: self.messages });
        }
        if self.messages == 1 {
            Variables::of(tsig).digest(&mut ctx);
        } else {
            digest_timers(&mut ctx, tsig.time_signed, tsig.fudge);
        }
        if !mac_matches(ctx.sign().as_ref(), &tsig.mac) {
            return Err(TsigError::BadSig { key: key_name.clone(), message: self.messages });
        }
        if tsig.original_id != self.request_id {
            return Err(TsigError::OriginalId {
                key: key_name.clone(),
                message: self.messages,
                expected: self.request_id,
                got: tsig.original_id,
            });
        }
        let fudge = tsig.fudge.min(MAX_FUDGE);
        if tsig.time_signed.abs_diff(now) > u64::from(fudge) {
            return Err(TsigError::BadTime {
                key: key_name.clone(),
                message: self.messages,
                signed: tsig.time_signed,
                now,
                fudge,
            });
        }
        digest_mac(&mut self.running, &tsig.mac);
        self.unsigned_run = 0;
        self.last_signed = true;
        Ok(())
    }

    /// Call after the last message: RFC 8945 §5.3.1 requires it to be signed, otherwise the
    /// records after the last signed message are unauthenticated.
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.last_signed {
            Ok(())
        } else {
            Err(TsigError::LastUnsigned { key: self.key.name.clone(), message: self.messages })
        }
    }
}

/// Verifies a signed request we received (a NOTIFY, RFC 8945 §5.2) and returns the key it was
/// signed with and its MAC, which our signed reply must cover.
///
/// The checks run in the RFC's order: key and algorithm (BADKEY), the MAC (BADSIG), the time
/// against our clock with the signer's fudge bounded to [`MAX_FUDGE`] (BADTIME), the MAC's
/// truncation (BADTRUNC). On error, [`RequestError::append_tsig`] writes the reply's TSIG: unsigned
/// for BADKEY and BADSIG, signed for BADTIME and BADTRUNC (§5.3.2).
pub fn verify_request<'k>(
    lookup: impl FnOnce(&Name) -> Option<&'k TsigKey>,
    bytes: &[u8],
    parsed: &Message,
    now: u64,
) -> Result<(&'k TsigKey, Vec<u8>), RequestError<'k>> {
    let Some(tsig) = &parsed.tsig else {
        return Err(RequestError::unsigned(TsigError::Unsigned { key: Name::root(), message: 1 }));
    };
    let unknown = || {
        RequestError::unsigned(TsigError::UnknownKey { got: tsig.key_name.clone(), algorithm: tsig.algorithm.clone() })
    };
    let key = lookup(&tsig.key_name).ok_or_else(unknown)?;
    if Algorithm::from_wire_name(&tsig.algorithm) != Some(key.algorithm) {
        return Err(unknown());
    }
    let len = tsig.mac.len();
    let bad_sig = || RequestError::unsigned(TsigError::BadSig { key: key.name.clone(), message: 1 });
    if len > key.algorithm.output_len() || len < MIN_CHECKED_MAC {
        return Err(bad_sig());
    }
    let mut ctx = hmac::Context::with_key(&key.hmac_key());
    let ok = digest_stripped(&mut ctx, bytes, tsig.offset, tsig.original_id);
    Variables::of(tsig).digest(&mut ctx);
    if !ok || !mac_matches(ctx.sign().as_ref(), &tsig.mac) {
        return Err(bad_sig());
    }
    // The MAC verified: from here on, errors are answered signed.
    let signed = |error| RequestError { error, signer: Some((key, tsig.mac.clone(), tsig.time_signed)) };
    let fudge = tsig.fudge.min(MAX_FUDGE);
    if tsig.time_signed.abs_diff(now) > u64::from(fudge) {
        return Err(signed(TsigError::BadTime {
            key: key.name.clone(),
            message: 1,
            signed: tsig.time_signed,
            now,
            fudge,
        }));
    }
    if len < key.algorithm.min_mac_len() {
        return Err(signed(TsigError::BadTrunc { key: key.name.clone(), message: 1, len }));
    }
    Ok((key, tsig.mac.clone()))
}

/// Why a signed request failed verification, and how to answer it (RFC 8945 §5.3.2).
#[derive(Debug)]
pub struct RequestError<'k> {
    pub error: TsigError,
    /// When the MAC verified (BADTIME, BADTRUNC): the key, the request's MAC and Time Signed,
    /// for a signed reply.
    signer: Option<(&'k TsigKey, Vec<u8>, u64)>,
}

impl RequestError<'_> {
    fn unsigned(error: TsigError) -> Self {
        RequestError { error, signer: None }
    }

    /// The TSIG error of the reply: BADKEY, BADSIG, BADTIME or BADTRUNC.
    pub fn reply_error(&self) -> u16 {
        self.error.reply_error().unwrap_or(rcode::BADSIG)
    }

    /// Appends the reply's TSIG to `response` (RCODE NOTAUTH, set by the caller). BADKEY and
    /// BADSIG: unsigned, an empty MAC. BADTIME: signed with the request's key, its Time Signed
    /// (so the client can check the reply against its own clock) and our clock in Other Data
    /// (§5.2.3). BADTRUNC: signed. Our fudge, never the sender's.
    pub fn append_tsig(&self, response: &mut Vec<u8>, request: &TsigRecord, now: u64) -> Result<(), TsigError> {
        let code = self.reply_error();
        match &self.signer {
            Some((key, mac, time_signed)) => {
                let (time, other) = if code == rcode::BADTIME {
                    (*time_signed, now.to_be_bytes()[2..].to_vec())
                } else {
                    (now, Vec::new())
                };
                sign(response, key, Some(mac), time, code, &other).map(|_| ())
            }
            None => append_unsigned_tsig_error(response, &request.key_name, &request.algorithm, code, now),
        }
    }
}

impl fmt::Display for RequestError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RequestError<'_> {}

/// The bytes the TSIG RR we append with `key` adds to a message (no error, no Other Data).
pub fn signature_len(key: &TsigKey) -> usize {
    key.name.as_wire().len() + 10 + key.algorithm.wire_name().as_wire().len() + 16 + key.algorithm.output_len()
}

/// Signs a single-message response (RFC 8945 §5.3): the MAC covers the request's MAC, the
/// response and the TSIG variables. `response` must not contain a TSIG yet.
pub fn sign_response(key: &TsigKey, request_mac: &[u8], response: &[u8], now: u64) -> Result<Vec<u8>, TsigError> {
    let mut msg = response.to_vec();
    sign(&mut msg, key, Some(request_mac), now, 0, &[])?;
    Ok(msg)
}

/// Signs the messages of a multi-message answer to a signed request (an
/// outgoing AXFR or IXFR, RFC 8945 §5.3.1): the first MAC covers the request
/// MAC, the message and the TSIG variables; each later one the prior MAC, the
/// message and the timers. Every message is signed (the RFC allows gaps of up
/// to 99; signing all costs one HMAC per 64 KiB).
pub struct StreamSigner {
    key: TsigKey,
    prior: Vec<u8>,
    first: bool,
}

impl StreamSigner {
    pub fn new(key: &TsigKey, request_mac: &[u8]) -> StreamSigner {
        StreamSigner { key: key.clone(), prior: request_mac.to_vec(), first: true }
    }

    /// The bytes a TSIG RR adds to a message: room to keep free in each one.
    pub fn overhead(&self) -> usize {
        signature_len(&self.key)
    }

    /// Appends the TSIG RR to the next message of the stream.
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) -> Result<(), TsigError> {
        let mac = if self.first {
            sign(msg, &self.key, Some(&self.prior), now, 0, &[])?
        } else {
            let id = super::message::message_id(msg).ok_or_else(|| TsigError::Sign("no header".into()))?;
            let mut ctx = hmac::Context::with_key(&self.key.hmac_key());
            digest_mac(&mut ctx, &self.prior);
            ctx.update(msg);
            digest_timers(&mut ctx, now, DEFAULT_FUDGE);
            let mac = ctx.sign().as_ref().to_vec();
            append_tsig(msg, &self.key.name.to_lowercase(), &self.key.algorithm.wire_name(), now, &mac, id, 0, &[])?;
            mac
        };
        self.first = false;
        self.prior = mac;
        Ok(())
    }
}

/// Appends the unsigned TSIG RR of an error reply (RFC 8945 §5.2: BADKEY and BADSIG replies carry
/// a TSIG with an empty MAC and the error; the caller sets RCODE NOTAUTH).
pub fn append_unsigned_tsig_error(
    response: &mut Vec<u8>,
    key_name: &Name,
    algorithm: &Name,
    error: u16,
    now: u64,
) -> Result<(), TsigError> {
    let id = super::message::message_id(response).ok_or_else(|| TsigError::Sign("no header".into()))?;
    append_tsig(response, key_name, algorithm, now, &[], id, error, &[])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::super::message::{build_query, parse_message};
    use super::*;
    use hickory_proto::op::{Message as HMessage, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
    use hickory_proto::rr::{Name as HName, RData, Record as HRecord, RecordType, TSigResponseContext, TSigner};
    use std::net::Ipv4Addr;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_700_000_000;

    fn key() -> TsigKey {
        TsigKey {
            name: Name::from_ascii("xfr-key").unwrap_or_else(|_| Name::root()),
            algorithm: Algorithm::HmacSha256,
            secret: SECRET.to_vec(),
        }
    }

    fn hsigner(secret: &[u8]) -> TSigner {
        let name = HName::from_ascii("xfr-key.").unwrap_or_else(|e| panic!("{e}"));
        TSigner::new(secret.to_vec(), TsigAlgorithm::HmacSha256, name, 300).unwrap_or_else(|e| panic!("{e}"))
    }

    fn answer(id: u16, n: u8) -> HMessage {
        let mut m = HMessage::new(id, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(
            HName::from_ascii("example.test.").unwrap_or_else(|e| panic!("{e}")),
            RecordType::AXFR,
        ));
        let owner = HName::from_ascii(format!("h{n}.example.test.")).unwrap_or_else(|e| panic!("{e}"));
        m.add_answer(HRecord::from_rdata(owner, 60, RData::A(Ipv4Addr::new(10, 0, 0, n).into())));
        m
    }

    fn to_vec(m: &HMessage) -> Vec<u8> {
        m.to_vec().unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse(b: &[u8]) -> Message {
        parse_message(b).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Our signed query, verified by hickory the way a server would.
    fn signed_query() -> (Vec<u8>, Vec<u8>) {
        let zone = Name::from_ascii("example.test").unwrap_or_else(|_| Name::root());
        let mut q = build_query(4242, &zone, rtype::AXFR, None);
        let mac = sign_request(&mut q, &key(), NOW).unwrap_or_else(|e| panic!("{e}"));
        (q, mac)
    }

    /// A response signed by hickory as the first message of a stream.
    fn hickory_first(id: u16, request_mac: &[u8], secret: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut m = answer(id, 1);
        let unsigned = to_vec(&m);
        let sig = TSigResponseContext::new(id, NOW, hsigner(secret), request_mac.to_vec(), None)
            .sign(&unsigned)
            .unwrap_or_else(|e| panic!("{e}"));
        let mac = sig.data.mac.clone();
        m.set_signature(sig);
        (to_vec(&m), mac)
    }

    /// A follow-on message signed per RFC 8945 §5.3.1 with hickory's raw HMAC: prior MAC, the
    /// unsigned messages in between, this message, timers.
    fn follow_on(id: u16, n: u8, prior_mac: &[u8], unsigned: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let mut m = answer(id, n);
        let body = to_vec(&m);
        let mut tbs = Vec::new();
        tbs.extend_from_slice(&(prior_mac.len() as u16).to_be_bytes());
        tbs.extend_from_slice(prior_mac);
        for u in unsigned {
            tbs.extend_from_slice(u);
        }
        tbs.extend_from_slice(&body);
        tbs.extend_from_slice(&NOW.to_be_bytes()[2..]);
        tbs.extend_from_slice(&300u16.to_be_bytes());
        let mac = hsigner(SECRET).sign(&tbs).unwrap_or_else(|e| panic!("{e}"));
        let signer = hsigner(SECRET);
        let tsig = hickory_proto::rr::rdata::tsig::TSIG::new(
            TsigAlgorithm::HmacSha256,
            NOW,
            300,
            mac.clone(),
            id,
            None,
            Vec::new(),
        );
        m.set_signature(Box::new(hickory_proto::rr::rdata::tsig::make_tsig_record(signer.signer_name().clone(), tsig)));
        (to_vec(&m), mac)
    }

    #[test]
    fn our_signed_query_verifies_with_hickory() {
        let (q, mac) = signed_query();
        let (hmac, time, _) = hsigner(SECRET).verify_message_byte(&q, None, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hmac, mac);
        assert_eq!(time, NOW);
    }

    #[test]
    fn a_stream_we_sign_verifies_message_by_message_and_its_first_mac_matches_hickory() {
        let (_, req_mac) = signed_query();
        let mut signer = StreamSigner::new(&key(), &req_mac);
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        let (_, hickory_mac) = hickory_first(4242, &req_mac, SECRET);
        for n in 1..=3u8 {
            let mut m = to_vec(&answer(4242, n));
            let before = m.len();
            signer.sign(&mut m, NOW).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.len() - before, signer.overhead(), "overhead() is what a TSIG adds");
            let parsed = parse(&m);
            if n == 1 {
                assert_eq!(parsed.tsig.as_ref().map(|t| t.mac.clone()), Some(hickory_mac.clone()));
            }
            v.verify_at(&m, &parsed, NOW).unwrap_or_else(|e| panic!("message {n}: {e}"));
        }
        assert!(v.finish().is_ok());
    }

    #[test]
    fn a_hickory_signed_answer_verifies_and_finishes() {
        let (_, req_mac) = signed_query();
        let (a, _) = hickory_first(4242, &req_mac, SECRET);
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        v.verify_at(&a, &parse(&a), NOW + 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.finish().is_ok());
    }

    #[test]
    fn a_stream_with_an_unsigned_middle_message_verifies() {
        let (_, req_mac) = signed_query();
        let (m1, mac1) = hickory_first(4242, &req_mac, SECRET);
        let m2 = to_vec(&answer(4242, 2));
        let (m3, _) = follow_on(4242, 3, &mac1, std::slice::from_ref(&m2));
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        for m in [&m1, &m2, &m3] {
            v.verify_at(m, &parse(m), NOW).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(v.finish().is_ok());
    }

    #[test]
    fn a_stream_ending_on_an_unsigned_message_fails_at_finish() {
        let (_, req_mac) = signed_query();
        let (m1, _) = hickory_first(4242, &req_mac, SECRET);
        let m2 = to_vec(&answer(4242, 2));
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        v.verify_at(&m1, &parse(&m1), NOW).unwrap_or_else(|e| panic!("{e}"));
        v.verify_at(&m2, &parse(&m2), NOW).unwrap_or_else(|e| panic!("{e}"));
        let err = v.finish().unwrap_err();
        assert_eq!(err.to_string(), "sent no TSIG on the last message (#2); key `xfr-key.` must sign it");
    }

    #[test]
    fn an_unsigned_message_left_out_of_the_digest_breaks_the_chain() {
        let (_, req_mac) = signed_query();
        let (m1, mac1) = hickory_first(4242, &req_mac, SECRET);
        let m2 = to_vec(&answer(4242, 2));
        // Signed as if m2 had not been sent.
        let (m3, _) = follow_on(4242, 3, &mac1, &[]);
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        v.verify_at(&m1, &parse(&m1), NOW).unwrap_or_else(|e| panic!("{e}"));
        v.verify_at(&m2, &parse(&m2), NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(v.verify_at(&m3, &parse(&m3), NOW), Err(TsigError::BadSig { message: 3, .. })));
    }

    #[test]
    fn an_answer_signed_for_another_query_id_is_refused() {
        let (_, req_mac) = signed_query();
        let (a, _) = hickory_first(4243, &req_mac, SECRET);
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        assert!(matches!(
            v.verify_at(&a, &parse(&a), NOW),
            Err(TsigError::OriginalId { expected: 4242, got: 4243, .. })
        ));
    }

    #[test]
    fn a_tampered_byte_is_a_bad_signature() {
        let (_, req_mac) = signed_query();
        let (mut a, _) = hickory_first(4242, &req_mac, SECRET);
        // The last byte of the A record's address, inside the signed part.
        let p = parse(&a);
        let tsig_at = p.tsig.as_ref().map(|t| t.offset).unwrap_or(0);
        a[tsig_at - 1] ^= 0x01;
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        let err = v.verify_at(&a, &parse(&a), NOW).unwrap_err();
        assert!(matches!(err, TsigError::BadSig { message: 1, .. }), "{err}");
        assert!(err.to_string().contains("does not verify with key `xfr-key.`"));
    }

    #[test]
    fn an_answer_signed_with_another_secret_is_a_bad_signature() {
        let (_, req_mac) = signed_query();
        let (a, _) = hickory_first(4242, &req_mac, b"another secret, same key name..");
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        assert!(matches!(v.verify_at(&a, &parse(&a), NOW), Err(TsigError::BadSig { .. })));
    }

    #[test]
    fn an_answer_signed_with_another_key_name_is_reported_as_such() {
        let (_, req_mac) = signed_query();
        let (a, _) = hickory_first(4242, &req_mac, SECRET);
        let mut other = key();
        other.name = Name::from_ascii("other-key").unwrap_or_else(|_| Name::root());
        let mut v = StreamVerifier::new(&other, &req_mac, 4242);
        let err = v.verify_at(&a, &parse(&a), NOW).unwrap_err();
        assert_eq!(err.to_string(), "signed with TSIG key `xfr-key.` (hmac-sha256.) instead of our key `other-key.`");
    }

    #[test]
    fn a_first_answer_without_tsig_is_refused() {
        let (_, req_mac) = signed_query();
        let a = to_vec(&answer(4242, 1));
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        assert!(matches!(v.verify_at(&a, &parse(&a), NOW), Err(TsigError::Unsigned { message: 1, .. })));
    }

    #[test]
    fn an_unsigned_badkey_reply_reads_as_a_rejected_key() {
        let (q, req_mac) = signed_query();
        // What a server sends for an unknown key: NOTAUTH, TSIG with error BADKEY and no MAC.
        let mut r = q[..q.len()].to_vec();
        let p = parse(&q);
        r.truncate(p.tsig.as_ref().map(|t| t.offset).unwrap_or(r.len()));
        r[10..12].copy_from_slice(&0u16.to_be_bytes());
        r[2] |= 0x80;
        r[3] = (r[3] & 0xf0) | rcode::NOTAUTH as u8;
        append_unsigned_tsig_error(&mut r, &key().name, &Algorithm::HmacSha256.wire_name(), rcode::BADKEY, NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        let err = v.verify_at(&r, &parse(&r), NOW).unwrap_err();
        assert_eq!(err.to_string(), "rejected our TSIG key `xfr-key.`: BADKEY");
        // And without any TSIG at all, the NOTAUTH still says so.
        let mut bare = r.clone();
        bare.truncate(parse(&r).tsig.as_ref().map(|t| t.offset).unwrap_or(0));
        bare[10..12].copy_from_slice(&0u16.to_be_bytes());
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        let err = v.verify_at(&bare, &parse(&bare), NOW).unwrap_err();
        assert_eq!(err.to_string(), "rejected our TSIG key `xfr-key.`: NOTAUTH");
    }

    #[test]
    fn a_signature_outside_the_fudge_is_badtime_after_the_mac_checks() {
        let (_, req_mac) = signed_query();
        let (a, _) = hickory_first(4242, &req_mac, SECRET);
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        let err = v.verify_at(&a, &parse(&a), NOW + 301).unwrap_err();
        assert!(matches!(err, TsigError::BadTime { .. }), "{err}");
        assert!(err.to_string().contains("301 s from our clock"), "{err}");
    }

    #[test]
    fn a_hundredth_unsigned_message_in_a_row_is_refused() {
        let (_, req_mac) = signed_query();
        let (m1, _) = hickory_first(4242, &req_mac, SECRET);
        let u = to_vec(&answer(4242, 2));
        let pu = parse(&u);
        let mut v = StreamVerifier::new(&key(), &req_mac, 4242);
        v.verify_at(&m1, &parse(&m1), NOW).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..99 {
            v.verify_at(&u, &pu, NOW).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(matches!(v.verify_at(&u, &pu, NOW), Err(TsigError::TooManyUnsigned { message: 101, .. })));
    }

    #[test]
    fn a_signed_notify_is_verified_and_our_reply_verifies_with_hickory() {
        // hickory signs a NOTIFY as BIND would.
        let mut n = HMessage::new(777, MessageType::Query, OpCode::Notify);
        n.add_query(Query::query(
            HName::from_ascii("example.test.").unwrap_or_else(|e| panic!("{e}")),
            RecordType::SOA,
        ));
        let mut verifier = n
            .finalize(&hsigner(SECRET), NOW)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no verifier"));
        let bytes = to_vec(&n);
        let keys = [key()];
        let (k, mac) =
            verify_request(|name| keys.iter().find(|k| k.name.eq_ignore_case(name)), &bytes, &parse(&bytes), NOW)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.name, key().name);
        let reply = super::super::message::build_response(&parse(&bytes), 0);
        let signed = sign_response(k, &mac, &reply, NOW).unwrap();
        verifier.verify(&signed).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_notify_with_an_unknown_key_asks_for_badkey() {
        let mut n = HMessage::new(778, MessageType::Query, OpCode::Notify);
        n.add_query(Query::query(
            HName::from_ascii("example.test.").unwrap_or_else(|e| panic!("{e}")),
            RecordType::SOA,
        ));
        n.finalize(&hsigner(SECRET), NOW).unwrap_or_else(|e| panic!("{e}"));
        let bytes = to_vec(&n);
        let err = verify_request(|_| None, &bytes, &parse(&bytes), NOW).unwrap_err();
        assert_eq!(err.reply_error(), rcode::BADKEY);
    }

    #[test]
    fn algorithms_parse_from_bind_names() {
        assert_eq!("hmac-sha256".parse(), Ok(Algorithm::HmacSha256));
        assert_eq!("HMAC-SHA512.".parse(), Ok(Algorithm::HmacSha512));
        assert!("hmac-md5".parse::<Algorithm>().unwrap_err().contains("not supported"));
        let k = TsigKey::from_parts("k", "hmac-sha1", "c2VjcmV0").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.secret, b"secret");
        assert!(!format!("{k:?}").contains("c2VjcmV0"));
        assert!(TsigKey::from_parts("k", "hmac-sha1", "!!").is_err());
    }
}
