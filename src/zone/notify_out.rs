//! NOTIFY out (RFC 1996 §3.6, §4.2): after each new version of a zone, its
//! downstreams (`[[downstream]]` entries with a `notify` target that cover the
//! zone) are told, so they transfer it at once instead of at their next
//! refresh.
//!
//! - One job per zone and target. A change while a job runs is merged into
//!   it: the newest serial is sent at once, even while an older one waits for
//!   its answer or its resend (which it replaces, with its tries counted
//!   afresh), and a NOTIFY acknowledged for an older serial is sent again for
//!   the newer one.
//! - Each NOTIFY carries the zone's SOA in the answer section (RFC 1996 §3.7)
//!   and is signed with the downstream's `tsig_key` when it has one (the
//!   answer must then verify). Unanswered, it is sent again after 1, 2, 4, 8 …
//!   seconds, `dns.transfer_out.notify_tries` times in all; an error answer
//!   (REFUSED, NOTAUTH, …) ends the job at once.
//! - All sends together keep to `dns.transfer_out.notify_rate` per second.
//! - The last outcome per target is kept in memory for the zone's status, and
//!   each NOTIFY's final outcome is counted for the metrics endpoint.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::downstreams::Downstreams;
use super::Keys;
use crate::config::TransferOutConfig;
use crate::wire::tsig::{self, StreamVerifier, TsigKey};
use crate::wire::{self, class, opcode, rcode, rtype, MessageWriter, Name, Section};

type ZoneId = i64;

/// The first wait for an answer; each retry waits twice as long.
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// The outcome of the last NOTIFY to one target, for the zone's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyOutcome {
    pub target: SocketAddr,
    pub serial: u32,
    /// `sending`, `acknowledged`, `refused` (an error answer) or `unanswered`.
    pub state: &'static str,
    /// Sends so far for this serial.
    pub tries: u32,
    pub error: Option<String>,
    /// Unix seconds of the last change.
    pub at: i64,
}

/// The SOA a NOTIFY announces.
#[derive(Debug, Clone)]
pub struct Announced {
    pub apex: Name,
    pub serial: u32,
    pub ttl: u32,
    pub soa: Vec<u8>,
}

/// How a NOTIFY (one serial to one target, with its retries) ended: the
/// labels of [`Notifier::sent`].
pub const SENT_OUTCOMES: [&str; 3] = ["acknowledged", "refused", "unanswered"];

struct Job {
    /// The newest version; the job's task sees each new one as it arrives.
    latest: tokio::sync::watch::Sender<Announced>,
    running: bool,
}

pub struct Notifier {
    downstreams: Arc<Downstreams>,
    /// What a config reload changes: the keys and `dns.transfer_out`'s NOTIFY limits.
    settings: arc_swap::ArcSwap<Settings>,
    next_send: tokio::sync::Mutex<Instant>,
    jobs: Mutex<HashMap<(ZoneId, SocketAddr), Job>>,
    outcomes: Mutex<HashMap<ZoneId, Vec<NotifyOutcome>>>,
    /// NOTIFYs that ended acknowledged, refused or unanswered ([`SENT_OUTCOMES`]).
    pub sent: [AtomicU64; 3],
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Settings {
    keys: Arc<Keys>,
    tries: u32,
    pace: Duration,
}

impl Settings {
    fn new(keys: Arc<Keys>, limits: TransferOutConfig) -> Arc<Settings> {
        Arc::new(Settings {
            keys,
            tries: limits.notify_tries,
            pace: Duration::from_secs(1) / limits.notify_rate.max(1),
        })
    }
}

impl Notifier {
    pub fn new(downstreams: Arc<Downstreams>, keys: Arc<Keys>, limits: TransferOutConfig) -> Notifier {
        Notifier {
            downstreams,
            settings: arc_swap::ArcSwap::new(Settings::new(keys, limits)),
            next_send: tokio::sync::Mutex::new(Instant::now()),
            jobs: Mutex::new(HashMap::new()),
            outcomes: Mutex::new(HashMap::new()),
            sent: Default::default(),
        }
    }

    /// The keys and limits of a reloaded config; NOTIFYs under way keep the
    /// key they began with.
    pub fn reconfigure(&self, keys: Arc<Keys>, limits: TransferOutConfig) {
        self.settings.store(Settings::new(keys, limits));
    }

    /// Where NOTIFYs for the zone go, each with its key.
    fn targets(&self, zone_id: ZoneId, zone: &str) -> Vec<(SocketAddr, Option<String>)> {
        let mut out: Vec<(SocketAddr, Option<String>)> = Vec::new();
        for d in self.downstreams.for_zone(zone_id, zone) {
            let Some(target) = d.notify else { continue };
            if !out.iter().any(|(t, _)| *t == target) {
                out.push((target, d.tsig_key.clone()));
            }
        }
        out
    }

    /// A new version of a zone is served: tell its downstreams.
    pub fn changed(self: &Arc<Self>, zone_id: ZoneId, zone: &str, announced: Announced) {
        for (target, key) in self.targets(zone_id, zone) {
            let start = {
                let mut jobs = lock(&self.jobs);
                let job = jobs.entry((zone_id, target)).or_insert_with(|| Job {
                    latest: tokio::sync::watch::Sender::new(announced.clone()),
                    running: false,
                });
                job.latest.send_replace(announced.clone());
                (!std::mem::replace(&mut job.running, true)).then(|| job.latest.subscribe())
            };
            if let Some(latest) = start {
                let me = self.clone();
                let zone = zone.to_string();
                tokio::spawn(async move { me.run(zone_id, zone, target, key, latest).await });
            }
        }
    }

    /// The zone was deleted: forget its outcomes and end its jobs.
    pub fn forget(&self, zone_id: ZoneId) {
        lock(&self.outcomes).remove(&zone_id);
        lock(&self.jobs).retain(|(z, _), _| *z != zone_id);
    }

    /// The last NOTIFY outcome per target of a zone.
    pub fn outcomes(&self, zone_id: ZoneId) -> Vec<NotifyOutcome> {
        lock(&self.outcomes).get(&zone_id).cloned().unwrap_or_default()
    }

    fn record(&self, zone_id: ZoneId, outcome: NotifyOutcome) {
        let mut all = lock(&self.outcomes);
        let list = all.entry(zone_id).or_default();
        match list.iter_mut().find(|o| o.target == outcome.target) {
            Some(o) => *o = outcome,
            None => list.push(outcome),
        }
    }

    /// Waits for this send's turn under `notify_rate`.
    async fn turn(&self) {
        let at = {
            let mut next = self.next_send.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.settings.load().pace;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }

    async fn run(
        self: Arc<Self>,
        zone_id: ZoneId,
        zone: String,
        target: SocketAddr,
        key_name: Option<String>,
        mut latest: tokio::sync::watch::Receiver<Announced>,
    ) {
        let key = key_name.as_ref().and_then(|k| self.settings.load().keys.get(k).cloned());
        let key = key.as_ref();
        'serial: loop {
            let announced = latest.borrow_and_update().clone();
            let mut outcome = NotifyOutcome {
                target,
                serial: announced.serial,
                state: "sending",
                tries: 0,
                error: None,
                at: crate::store::now_secs(),
            };
            let mut wait = FIRST_WAIT;
            let tries = self.settings.load().tries;
            for _ in 0..tries {
                outcome.state = "sending";
                outcome.tries += 1;
                outcome.at = crate::store::now_secs();
                self.record(zone_id, outcome.clone());
                self.turn().await;
                let sent = tokio::select! {
                    sent = send(target, &announced, key, wait) => sent,
                    // A newer version replaces this one at once, rather than
                    // after this one's answer or back-off.
                    newer = latest.changed() => match newer {
                        Ok(()) => continue 'serial,
                        Err(_) => return, // the zone was deleted
                    },
                };
                match sent {
                    Ok(()) => {
                        outcome.state = "acknowledged";
                        outcome.error = None;
                        break;
                    }
                    Err(Failure::Answered(why)) => {
                        outcome.state = "refused";
                        outcome.error = Some(why);
                        break;
                    }
                    Err(Failure::NoAnswer(why)) => {
                        outcome.state = "unanswered";
                        outcome.error = Some(why);
                        wait *= 2;
                    }
                }
            }
            outcome.at = crate::store::now_secs();
            if let Some(i) = SENT_OUTCOMES.iter().position(|s| *s == outcome.state) {
                self.sent[i].fetch_add(1, Ordering::Relaxed);
            }
            match outcome.state {
                "acknowledged" => {
                    tracing::debug!(zone, %target, serial = outcome.serial, tries = outcome.tries, "NOTIFY acknowledged")
                }
                _ => {
                    tracing::warn!(zone, %target, serial = outcome.serial, tries = outcome.tries, state = outcome.state,
                    error = outcome.error.as_deref().unwrap_or("-"), "NOTIFY to a downstream failed")
                }
            }
            self.record(zone_id, outcome);
            // A newer version arrived meanwhile: announce it too. Checked
            // under the jobs' lock, which `changed` holds to send one.
            let mut jobs = lock(&self.jobs);
            match latest.has_changed() {
                Ok(true) => continue,
                Ok(false) => {
                    if let Some(j) = jobs.get_mut(&(zone_id, target)) {
                        j.running = false;
                    }
                    return;
                }
                Err(_) => return, // the zone was deleted
            }
        }
    }
}

enum Failure {
    /// The downstream answered with an error: resending will not help.
    Answered(String),
    /// Nothing (valid) came back in time.
    NoAnswer(String),
}

/// The NOTIFY message: opcode NOTIFY, AA, the SOA question and the SOA.
fn message(id: u16, a: &Announced) -> Vec<u8> {
    let flags = (u16::from(opcode::NOTIFY) << 11) | 0x0400;
    let mut w = MessageWriter::new(id, flags, Some((&a.apex, rtype::SOA, class::IN)), 65_535);
    // Cannot fail: one SOA within 64 KiB.
    let _ = w.rrset(Section::Answer, a.apex.as_wire(), rtype::SOA, class::IN, a.ttl, [a.soa.as_slice()]);
    w.finish()
}

/// One NOTIFY to `target`, waiting `wait` for its answer.
async fn send(target: SocketAddr, a: &Announced, key: Option<&TsigKey>, wait: Duration) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::NoAnswer(format!("cannot send to {target}: {e}"));
    let local: SocketAddr = match target.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).await.map_err(io)?;
    sock.connect(target).await.map_err(io)?;
    let id: u16 = rand::random();
    let mut msg = message(id, a);
    let mac = match key {
        Some(k) => Some(
            tsig::sign_request(&mut msg, k, tsig::unix_now())
                .map_err(|e| Failure::NoAnswer(format!("cannot sign: {e}")))?,
        ),
        None => None,
    };
    sock.send(&msg).await.map_err(io)?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                // E.g. ICMP port unreachable: nothing listens yet. Keep the back-off.
                tokio::time::sleep_until(deadline).await;
                return Err(Failure::NoAnswer(format!("{target}: {e}")));
            }
            Err(_) => return Err(Failure::NoAnswer(format!("no answer from {target} within {} s", wait.as_secs()))),
        };
        let Ok(reply) = wire::parse_message(&buf[..n]) else { continue };
        if reply.header.id != id || !reply.header.is_response() || reply.header.opcode() != opcode::NOTIFY {
            continue;
        }
        if let (Some(k), Some(mac)) = (key, &mac) {
            let mut v = StreamVerifier::new(k, mac, id);
            if let Err(e) = v.verify(&buf[..n], &reply) {
                if reply.header.rcode() != rcode::NOERROR {
                    return Err(Failure::Answered(format!(
                        "{target} answered {}: {e}",
                        rcode::name(reply.header.rcode())
                    )));
                }
                continue; // an unverifiable answer is no answer (RFC 8945 §5.3)
            }
        }
        return match reply.header.rcode() {
            rcode::NOERROR => Ok(()),
            code => Err(Failure::Answered(format!("{target} answered {}", rcode::name(code)))),
        };
    }
}
