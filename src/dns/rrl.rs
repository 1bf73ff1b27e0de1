//! Response rate limiting for UDP (as BIND's `rate-limit`, Knot's `rrl` and
//! NSD's `rrl-ratelimit` do): a spoofed-source flood cannot turn us into an
//! amplifier. Each client prefix (`ipv4_prefix` / `ipv6_prefix` bits) has a
//! token bucket of `responses_per_second`; a response beyond it is dropped,
//! except every `slip`-th one, which goes out truncated (TC, no records) so a
//! real client behind that prefix retries over TCP and still gets its answer.
//! `slip = 0` drops all of them, `slip = 1` truncates all of them. TCP is
//! never limited (its source address cannot be spoofed).
//!
//! The table is split into shards, each behind its own short lock (a lookup
//! and an arithmetic update), so workers rarely meet; it holds at most
//! `MAX_ENTRIES` prefixes and forgets idle ones first. Off by default.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::RateLimitConfig;

const SHARDS: usize = 16;
/// Prefixes tracked at most (all shards together).
const MAX_ENTRIES: usize = 1 << 16;

pub use crate::config::RateLimitConfig as RrlConfig;

/// What to do with one UDP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Send it truncated: header and question, TC set.
    Slip,
    Drop,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    limited: u32,
}

pub struct Rrl {
    /// A config reload may change it; buckets keep their tokens.
    cfg: arc_swap::ArcSwap<RateLimitConfig>,
    shards: Vec<Mutex<HashMap<u128, Bucket>>>,
    pub dropped: AtomicU64,
    pub slipped: AtomicU64,
}

impl Rrl {
    pub fn new(cfg: RateLimitConfig) -> Rrl {
        Rrl {
            cfg: arc_swap::ArcSwap::from_pointee(cfg),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            dropped: AtomicU64::new(0),
            slipped: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.cfg.load().responses_per_second > 0
    }

    /// The limits of a reloaded config.
    pub fn set_config(&self, cfg: RateLimitConfig) {
        self.cfg.store(std::sync::Arc::new(cfg));
    }

    /// The client's prefix as a number (the address family in the top bit).
    fn prefix(cfg: &RateLimitConfig, ip: IpAddr) -> u128 {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let bits = u32::from(cfg.ipv4_prefix.min(32));
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                u128::from(u32::from(v4) & mask)
            }
            IpAddr::V6(v6) => {
                let bits = u32::from(cfg.ipv6_prefix.min(128));
                let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                (u128::from(v6) & mask) | 1
            }
        }
    }

    /// Accounts one response to `ip` at `now`.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Verdict {
        let cfg = **self.cfg.load();
        if cfg.responses_per_second == 0 {
            return Verdict::Send;
        }
        let key = Self::prefix(&cfg, ip);
        let shard = &self.shards[(key as usize ^ (key >> 64) as usize) % SHARDS];
        let rate = f64::from(cfg.responses_per_second);
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES / SHARDS && !map.contains_key(&key) {
            // Forget the prefixes whose buckets are full again (idle a second or more).
            map.retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() * rate + b.tokens < rate);
            if map.len() >= MAX_ENTRIES / SHARDS {
                map.clear();
            }
        }
        let b = map.entry(key).or_insert(Bucket { tokens: rate, at: now, limited: 0 });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Verdict::Send;
        }
        b.limited = b.limited.wrapping_add(1);
        let slip = cfg.slip;
        if slip > 0 && b.limited.is_multiple_of(slip) {
            self.slipped.fetch_add(1, Ordering::Relaxed);
            Verdict::Slip
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rrl(rate: u32, slip: u32) -> Rrl {
        Rrl::new(RrlConfig { responses_per_second: rate, slip, ipv4_prefix: 24, ipv6_prefix: 56 })
    }

    #[test]
    fn a_prefix_over_its_rate_is_dropped_with_every_slipth_response_truncated() {
        let r = rrl(10, 2);
        let t = Instant::now();
        let ip: IpAddr = "127.0.0.9".parse().expect("ip");
        let verdicts: Vec<Verdict> = (0..20).map(|_| r.check(ip, t)).collect();
        assert!(verdicts[..10].iter().all(|v| *v == Verdict::Send));
        assert_eq!(&verdicts[10..14], &[Verdict::Drop, Verdict::Slip, Verdict::Drop, Verdict::Slip]);
        assert_eq!(r.dropped.load(Ordering::Relaxed), 5);
        assert_eq!(r.slipped.load(Ordering::Relaxed), 5);
        // The same /24 shares the bucket; another /24 does not.
        assert_ne!(r.check("127.0.0.200".parse().expect("ip"), t), Verdict::Send);
        assert_eq!(r.check("127.0.1.1".parse().expect("ip"), t), Verdict::Send);
        // A second later the bucket is full again.
        assert_eq!(r.check(ip, t + Duration::from_secs(1)), Verdict::Send);
    }

    #[test]
    fn off_by_default_and_slip_zero_drops_everything_over_the_rate() {
        let off = rrl(0, 2);
        let t = Instant::now();
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        assert!((0..1000).all(|_| off.check(ip, t) == Verdict::Send));
        let strict = rrl(1, 0);
        assert_eq!(strict.check(ip, t), Verdict::Send);
        assert!((0..10).all(|_| strict.check(ip, t) == Verdict::Drop));
    }
}
