//! `ixfr`: the AXFR/IXFR interpreter (`secondaryd::xfr::interpret`) fed
//! mutated sequences of answer messages for `example.test`.
//!
//! Input: a mode byte (bit 0: we asked for IXFR), the query ID (16 bits), our
//! serial (32 bits), then each message with a 16-bit length. A message that
//! does not parse ends the transfer, as in the client. Invariants: no panic;
//! a transfer that completes adds only records whose RDATA passes
//! `wire::text::check_rdata`, adds and deletes only records inside the zone, as many as
//! its outcome counts; a message after the end is refused.

use rand::rngs::StdRng;
use rand::Rng;
use secondaryd::wire::{self, text::check_rdata, Name};
use secondaryd::xfr::interpret::{Interpreter, Limits, Outcome, Progress, Request, Update};

use crate::mutate::{self, without_numbers};

pub struct Ixfr;

/// The header fields and the messages of an input.
fn split(input: &[u8]) -> Option<(u8, u16, u32, Vec<&[u8]>)> {
    let mode = *input.first()?;
    let id = u16::from_be_bytes([*input.get(1)?, *input.get(2)?]);
    let serial = u32::from_be_bytes(input.get(3..7)?.try_into().ok()?);
    let mut frames = Vec::new();
    let mut rest = &input[7..];
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + len).min(rest.len());
        frames.push(&rest[2..end]);
        rest = &rest[end..];
    }
    Some((mode, id, serial, frames))
}

fn join(mode: u8, id: u16, serial: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&serial.to_be_bytes());
    for f in frames {
        let f = &f[..f.len().min(65_535)];
        v.extend_from_slice(&(f.len() as u16).to_be_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// An error's kind (its variant) and its message without numbers or names.
fn kind(e: &impl std::fmt::Debug, text: &str) -> String {
    let d = format!("{e:?}");
    let variant: String = d.chars().take_while(|c| c.is_alphanumeric()).collect();
    let t = without_numbers(text);
    let t: String = t.chars().take(48).collect();
    format!("{variant}: {t}")
}

impl crate::Target for Ixfr {
    fn max_len(&self) -> usize {
        16_384
    }

    fn mutate(&mut self, rng: &mut StdRng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) -> bool {
        let Some((mut mode, mut id, mut serial, frames)) = split(input) else { return false };
        let mut frames: Vec<Vec<u8>> = frames.into_iter().map(<[u8]>::to_vec).collect();
        if frames.is_empty() {
            return false;
        }
        let others: Vec<Vec<u8>> = corpus
            .iter()
            .filter_map(|c| split(c).map(|(_, _, _, f)| f.into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>()))
            .flatten()
            .take(64)
            .collect();
        match rng.random_range(0..10u8) {
            0..=5 => {
                let i = rng.random_range(0..frames.len());
                mutate::mutate(rng, &mut frames[i], &others, 4096, 0);
            }
            6 => {
                let i = rng.random_range(0..frames.len());
                let f = frames[i].clone();
                frames.insert(rng.random_range(0..=frames.len()), f);
            }
            7 if frames.len() > 1 => {
                frames.remove(rng.random_range(0..frames.len()));
            }
            7 | 8 => {
                if !others.is_empty() {
                    let f = others[rng.random_range(0..others.len())].clone();
                    let at = rng.random_range(0..=frames.len());
                    frames.insert(at, f);
                }
            }
            _ => match rng.random_range(0..3u8) {
                0 => mode ^= 1,
                1 => id = if rng.random_bool(0.5) { id ^ 1 } else { rng.random() },
                _ => {
                    serial = match rng.random_range(0..4u8) {
                        0 => serial.wrapping_add(1),
                        1 => serial.wrapping_sub(1),
                        2 => serial.wrapping_add(0x8000_0000),
                        _ => rng.random(),
                    }
                }
            },
        }
        *input = join(mode, id, serial, &frames);
        true
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let Some((mode, id, serial, frames)) = split(input) else { return Ok("short".into()) };
        let zone = Name::from_ascii(crate::seeds::ZONE).map_err(|e| e.to_string())?;
        let request = if mode & 1 == 1 { Request::Ixfr { current_serial: serial } } else { Request::Axfr };
        let limits = Limits { max_records: 2_000, max_bytes: 1 << 20 };
        let mut it = Interpreter::new(zone.clone(), request, limits).with_query_id(id);
        let mut updates = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let msg = match wire::parse_message(frame) {
                Ok(m) => m,
                Err(e) => return Ok(format!("unparsed #{}: {}", i.min(3), kind(&e, &e.to_string()))),
            };
            match it.feed(msg, frame.len(), &mut updates) {
                Ok(Progress::More) => {}
                Err(e) => return Ok(format!("error #{}: {}", i.min(3), kind(&e, &e.to_string()))),
                Ok(Progress::Done(outcome)) => {
                    check_done(&zone, &outcome, &updates)?;
                    if let Some(next) = frames.get(i + 1).and_then(|f| wire::parse_message(f).ok()) {
                        if it.feed(next, 12, &mut updates).is_ok() {
                            return Err("a message after the end of the transfer was accepted".into());
                        }
                    }
                    let o = format!("{outcome:?}");
                    let o: String = o.chars().take_while(|c| c.is_alphanumeric()).collect();
                    return Ok(format!("done {o} after {} messages, {} updates", i.min(4), updates.len().min(8)));
                }
            }
        }
        Ok(format!("incomplete after {} messages", frames.len().min(4)))
    }
}

fn check_done(zone: &Name, outcome: &Outcome, updates: &[Update]) -> Result<(), String> {
    let mut adds = 0u64;
    let mut deletes = 0u64;
    for u in updates {
        let r = match u {
            Update::Add(r) => {
                adds += 1;
                r
            }
            Update::Delete(r) => {
                deletes += 1;
                r
            }
            _ => continue,
        };
        // Deletions are not checked (src/xfr/interpret.rs): they name a record we hold or match none.
        let added = matches!(u, Update::Add(_));
        if let (true, Err(e)) = (added, check_rdata(r.rtype, &r.rdata)) {
            return Err(format!("a record with malformed RDATA went through: {} ({e})", wire::text::record_to_line(r)));
        }
        if !r.owner.is_subdomain_of(zone) {
            return Err(format!("a record outside the zone went through: {}", wire::text::record_to_line(r)));
        }
    }
    match outcome {
        Outcome::Full { records, .. } if *records != adds => {
            Err(format!("a full transfer counts {records} records but added {adds}"))
        }
        Outcome::Incremental { deleted, added, .. } if *deleted + *added > deletes + adds => {
            Err(format!("an IXFR counts {deleted} deleted and {added} added, but emitted {deletes} and {adds}"))
        }
        _ => Ok(()),
    }
}
