//! The mutation engine: a few random edits stacked on one input of the corpus
//! (bit flips, interesting bytes, inserted/deleted/duplicated ranges, splices,
//! 16-bit big-endian fields nudged, compression pointers planted).

use rand::rngs::StdRng;
use rand::Rng;

/// Bytes that sit on the edges of DNS fields: length 0, all ones, sign bits,
/// the compression-pointer tag.
const INTERESTING: [u8; 8] = [0, 0xff, 0x7f, 0x80, 0xc0, 1, 0x3f, 0x40];

/// 16-bit values at the edges of counts, lengths and types.
const INTERESTING16: [u16; 10] = [0, 1, 2, 0x00ff, 0x0100, 0x7fff, 0x8000, 0xffff, 512, 1232];

/// Applies 1 to 6 random mutations to `input`, drawing on `corpus` for
/// splices; the result is at most `max_len` bytes. `skip` leading bytes (a
/// target's own prefix) are offsets to which 16-bit header fields are relative.
pub fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, corpus: &[Vec<u8>], max_len: usize, skip: usize) {
    let rounds = 1 + rng.random_range(0..6usize).min(rng.random_range(0..6usize));
    for _ in 0..rounds {
        one(rng, input, corpus, skip);
    }
    input.truncate(max_len);
}

fn pos(rng: &mut StdRng, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        rng.random_range(0..len)
    }
}

fn one(rng: &mut StdRng, v: &mut Vec<u8>, corpus: &[Vec<u8>], skip: usize) {
    let len = v.len();
    match rng.random_range(0..13u8) {
        0 if len > 0 => {
            let i = pos(rng, len);
            v[i] ^= 1 << rng.random_range(0..8u8);
        }
        1 if len > 0 => {
            let i = pos(rng, len);
            v[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
        }
        2 if len > 0 => {
            let i = pos(rng, len);
            v[i] = rng.random();
        }
        3 => {
            // Insert 1..16 random or repeated bytes.
            let i = pos(rng, len + 1);
            let n = rng.random_range(1..=16usize);
            let fill: u8 = if rng.random_bool(0.5) { rng.random() } else { INTERESTING[rng.random_range(0..8)] };
            let bytes: Vec<u8> = (0..n).map(|_| if rng.random_bool(0.5) { fill } else { rng.random() }).collect();
            v.splice(i..i, bytes);
        }
        4 if len > 1 => {
            // Delete a range (short ones more often).
            let i = pos(rng, len);
            let cap = if rng.random_bool(0.8) { 8 } else { len };
            let n = 1 + pos(rng, (len - i).min(cap));
            v.drain(i..(i + n).min(len));
        }
        5 if len > 1 => {
            // Duplicate a range in place (repeated records, labels, options).
            let i = pos(rng, len);
            let n = 1 + pos(rng, (len - i).min(64));
            let chunk = v[i..i + n].to_vec();
            let at = pos(rng, len + 1);
            v.splice(at..at, chunk);
        }
        6 if !corpus.is_empty() => {
            // Splice: our head, another input's tail.
            let other = &corpus[pos(rng, corpus.len())];
            let cut = pos(rng, len + 1);
            let from = pos(rng, other.len() + 1);
            v.truncate(cut);
            v.extend_from_slice(&other[from..]);
        }
        7 if !corpus.is_empty() && len > 0 => {
            // Overwrite a range with one of another input.
            let other = &corpus[pos(rng, corpus.len())];
            if !other.is_empty() {
                let from = pos(rng, other.len());
                let n = 1 + pos(rng, (other.len() - from).min(32));
                let at = pos(rng, len);
                let end = (at + n).min(len);
                v[at..end].copy_from_slice(&other[from..from + (end - at)]);
            }
        }
        8 | 9 if len > 1 => {
            // A 16-bit big-endian field: the header's counts often, else anywhere.
            let i = if rng.random_bool(0.4) && len >= skip + 12 {
                skip + 2 * rng.random_range(2..6usize)
            } else {
                pos(rng, len - 1)
            };
            if i + 1 < len {
                let old = u16::from_be_bytes([v[i], v[i + 1]]);
                let new = match rng.random_range(0..4u8) {
                    0 => old.wrapping_add(rng.random_range(1..=16)),
                    1 => old.wrapping_sub(rng.random_range(1..=16)),
                    2 => INTERESTING16[rng.random_range(0..INTERESTING16.len())],
                    _ => rng.random(),
                };
                v[i..i + 2].copy_from_slice(&new.to_be_bytes());
            }
        }
        10 if len > 1 => {
            // A compression pointer, to somewhere early (often the header or the question).
            let i = pos(rng, len - 1);
            let target = if rng.random_bool(0.7) { rng.random_range(0..64u16) } else { rng.random_range(0..0x3fff) };
            let p = 0xc000 | target;
            v[i..i + 2].copy_from_slice(&p.to_be_bytes());
        }
        11 if len > 0 => {
            // A length byte set to reach past, or just short of, what follows.
            let i = pos(rng, len);
            let rest = (len - i).min(255) as u8;
            v[i] = match rng.random_range(0..3u8) {
                0 => rest,
                1 => rest.saturating_add(1),
                _ => rest.saturating_sub(1),
            };
        }
        _ => {
            // Truncate (messages cut short) or append random bytes.
            if len > 0 && rng.random_bool(0.5) {
                let at = pos(rng, len);
                v.truncate(at);
            } else {
                let n = rng.random_range(1..=8usize);
                v.extend((0..n).map(|_| rng.random::<u8>()));
            }
        }
    }
}

/// Printable form of a byte string for a finding (at most `max` bytes shown).
pub fn hex(v: &[u8], max: usize) -> String {
    let mut s: String = v.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if v.len() > max {
        s.push('…');
    }
    s
}

/// A stable 64-bit FNV-1a hash (names of finding files).
pub fn fnv(v: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in v {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// A message with its numbers replaced by `#`: an outcome signature that does
/// not grow with every offset or serial.
pub fn without_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(ch);
        }
    }
    out
}
