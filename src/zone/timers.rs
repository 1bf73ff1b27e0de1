//! Timer arithmetic of a secondary zone (RFC 1034 §4.3.5, RFC 1996), as pure
//! functions of the clock reading and the SOA, so it is tested without waiting.
//!
//! - After a successful refresh: next refresh at `now + REFRESH`, the zone
//!   expires at `now + EXPIRE` (both clamped to the configured bounds), or
//!   sooner when the primary gave a smaller EDNS EXPIRE (RFC 7314). The
//!   refresh is pulled earlier by up to 10% (at most 5 minutes) of jitter, so
//!   zones loaded together do not refresh in lock-step, and never later than the
//!   SOA asks; never below `refresh_min` either.
//! - After a failure: retry after `RETRY · n` for the n-th failure in a row,
//!   capped at the larger of `RETRY` and 2 hours; a zone never loaded has no SOA
//!   and retries after 5·n² s (Knot's bootstrap back-off), capped at 2 hours.
//!   Either delay is then clamped to [`retry_min`, `retry_max`], and spread by
//!   up to 10% of jitter inside those bounds: later, unless that would pass
//!   `retry_max`, then earlier.
//!
//! Every delay these functions return lies within its configured bounds.

use crate::config::TransferConfig;

/// The cap of the growing retry interval (Knot: 2 h).
pub const BACKOFF_CAP_SECS: u64 = 7200;

/// The configured bounds, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Clamps {
    pub refresh: (u64, u64),
    pub retry: (u64, u64),
    pub expire: (u64, u64),
}

impl Clamps {
    pub fn from_config(t: &TransferConfig) -> Clamps {
        Clamps {
            refresh: (t.refresh_min.as_secs(), t.refresh_max.as_secs()),
            retry: (t.retry_min.as_secs(), t.retry_max.as_secs()),
            expire: (t.expire_min.as_secs(), t.expire_max.as_secs()),
        }
    }

    /// REFRESH, RETRY and EXPIRE in effect for a SOA's values.
    pub fn effective(&self, refresh: u32, retry: u32, expire: u32) -> (u64, u64, u64) {
        (
            u64::from(refresh).clamp(self.refresh.0, self.refresh.1),
            u64::from(retry).clamp(self.retry.0, self.retry.1),
            u64::from(expire).clamp(self.expire.0, self.expire.1),
        )
    }
}

/// The zone's timers after an event, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub next_refresh_at: i64,
    pub expires_at: Option<i64>,
}

/// `jitter` is a uniform random number in `[0, 1)`. `edns_expire` is the
/// primary's remaining expire time (RFC 7314), when it gave one: a primary
/// that is itself a secondary gives what is left of the zone's expiry, and a
/// copy of a copy must not outlive the original, so it bounds ours.
pub fn after_success(now: i64, soa: [u32; 4], clamps: &Clamps, jitter: f64, edns_expire: Option<u32>) -> Timers {
    let (refresh, _, expire) = clamps.effective(soa[0], soa[1], soa[2]);
    let expire = edns_expire.map_or(expire, |e| expire.min(u64::from(e)));
    // Earlier by up to a tenth (5 minutes at most), never below refresh_min.
    let earliest = refresh.saturating_sub((refresh / 10).min(300)).max(clamps.refresh.0);
    let next = refresh - ((refresh - earliest) as f64 * jitter) as u64;
    Timers { next_refresh_at: now + next.max(1) as i64, expires_at: Some(now + expire as i64) }
}

/// Seconds until the next try after the `failures`-th failure in a row.
pub fn retry_delay(soa: Option<[u32; 4]>, failures: u32, clamps: &Clamps, jitter: f64) -> u64 {
    let n = u64::from(failures.max(1));
    let (min, max) = clamps.retry;
    let base = match soa {
        Some(t) => {
            let (_, retry, _) = clamps.effective(t[0], t[1], t[2]);
            retry.saturating_mul(n).min(retry.max(BACKOFF_CAP_SECS))
        }
        None => n.saturating_mul(n).saturating_mul(5).min(BACKOFF_CAP_SECS),
    }
    .clamp(min, max);
    // A window a tenth of the delay wide, starting at it, moved down to end at
    // retry_max when it would pass it (and cut at retry_min).
    let spread = base / 10;
    let latest = base.saturating_add(spread).min(max);
    let earliest = latest.saturating_sub(spread).max(min);
    earliest + ((latest - earliest) as f64 * jitter) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIND_LIKE: Clamps = Clamps { refresh: (300, 2_419_200), retry: (500, 1_209_600), expire: (3600, 31_536_000) };

    #[test]
    fn success_plans_refresh_and_expiry_from_the_soa() {
        let t = after_success(1_000, [3600, 900, 604_800, 300], &BIND_LIKE, 0.0, None);
        assert_eq!(t, Timers { next_refresh_at: 4_600, expires_at: Some(605_800) });
    }

    #[test]
    fn an_edns_expire_shortens_the_expiry_but_never_lengthens_it() {
        let soa = [3600, 900, 604_800, 300];
        let t = after_success(1_000, soa, &BIND_LIKE, 0.0, Some(86_400));
        assert_eq!(t.expires_at, Some(87_400));
        // Below expire_min too: the original's expiry is what counts.
        assert_eq!(after_success(1_000, soa, &BIND_LIKE, 0.0, Some(60)).expires_at, Some(1_060));
        assert_eq!(after_success(1_000, soa, &BIND_LIKE, 0.0, Some(u32::MAX)).expires_at, Some(605_800));
    }

    #[test]
    fn silly_soa_timers_are_clamped() {
        let t = after_success(0, [1, 1, 5, 0], &BIND_LIKE, 0.0, None);
        assert_eq!(t.next_refresh_at, 300);
        assert_eq!(t.expires_at, Some(3600));
        let t = after_success(0, [u32::MAX, 1, u32::MAX, 0], &BIND_LIKE, 0.0, None);
        assert_eq!(t.next_refresh_at, 2_419_200);
    }

    #[test]
    fn jitter_pulls_the_refresh_earlier_by_at_most_a_tenth_and_five_minutes() {
        let t = after_success(0, [3600, 900, 604_800, 300], &BIND_LIKE, 0.999, None);
        assert!((3240..3600).contains(&t.next_refresh_at), "{t:?}");
        let t = after_success(0, [86_400, 900, 604_800, 300], &BIND_LIKE, 0.999, None);
        assert!(t.next_refresh_at >= 86_400 - 300, "{t:?}");
    }

    #[test]
    fn retries_grow_with_each_failure_and_stop_growing_at_the_cap() {
        let soa = Some([3600, 600, 604_800, 300]);
        let delays: Vec<u64> = (1..=20).map(|n| retry_delay(soa, n, &BIND_LIKE, 0.0)).collect();
        assert_eq!(&delays[..4], &[600, 1200, 1800, 2400]);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*delays.last().expect("delays"), BACKOFF_CAP_SECS);
    }

    #[test]
    fn a_zone_never_loaded_backs_off_quadratically() {
        let small = Clamps { refresh: (1, 100), retry: (1, 100), expire: (1, 100) };
        let delays: Vec<u64> = (1..=4).map(|n| retry_delay(None, n, &small, 0.0)).collect();
        assert_eq!(delays, vec![5, 20, 45, 80]);
        for jitter in [0.0, 0.5, 0.999] {
            let d = retry_delay(None, 1000, &small, jitter);
            assert!((90..=100).contains(&d), "retry_max caps the back-off (jitter below it): {d}");
        }
        assert_eq!(retry_delay(None, 1, &BIND_LIKE, 0.0), 500, "the retry floor applies");
        let roomy = Clamps { retry: (1, 100_000), ..small };
        assert_eq!(retry_delay(None, 1000, &roomy, 0.0), BACKOFF_CAP_SECS, "the 2 h cap below retry_max");
    }

    #[test]
    fn retry_max_caps_the_retry_delay_of_a_zone_with_a_soa() {
        let capped = Clamps { retry: (500, 1000), ..BIND_LIKE };
        let soa = Some([3600, 600, 604_800, 300]);
        assert_eq!(retry_delay(soa, 1, &capped, 0.0), 600);
        for jitter in [0.0, 0.5, 0.999] {
            let within = |d: u64| (900..=1000).contains(&d);
            let d = retry_delay(soa, 2, &capped, jitter);
            assert!(within(d), "RETRY · 2 = 1200 is over retry_max: {d}");
            let d = retry_delay(soa, 50, &capped, jitter);
            assert!(within(d), "{d}");
            let d = retry_delay(Some([3600, 5000, 604_800, 300]), 1, &capped, jitter);
            assert!(within(d), "a RETRY over retry_max too: {d}");
        }
    }

    #[test]
    fn jitter_never_takes_a_timer_outside_its_configured_bounds() {
        let bounds = [
            BIND_LIKE,
            Clamps { refresh: (300, 300), retry: (500, 1000), expire: (3600, 3600) },
            Clamps { refresh: (1, 10), retry: (1, 10), expire: (1, 10) },
            Clamps { refresh: (3000, 3500), retry: (7000, 7500), expire: (3600, 7200) },
        ];
        let soas = [None, Some([1, 1, 1, 0]), Some([3600, 600, 604_800, 300]), Some([u32::MAX; 4])];
        for c in &bounds {
            for soa in soas {
                for failures in [1, 2, 3, 10, 100, 10_000, u32::MAX] {
                    for jitter in [0.0, 0.25, 0.5, 0.999_999] {
                        let d = retry_delay(soa, failures, c, jitter);
                        assert!((c.retry.0..=c.retry.1).contains(&d), "retry {d} outside {:?}", c.retry);
                        if let Some(soa) = soa {
                            let t = after_success(0, soa, c, jitter, None);
                            assert!((c.refresh.0 as i64..=c.refresh.1 as i64).contains(&t.next_refresh_at), "{t:?}");
                            let e = t.expires_at.unwrap_or_default();
                            assert!((c.expire.0 as i64..=c.expire.1 as i64).contains(&e), "{t:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn jitter_still_spreads_retries_held_at_retry_max() {
        let capped = Clamps { retry: (500, 1000), ..BIND_LIKE };
        let soa = Some([3600, 600, 604_800, 300]);
        let low = retry_delay(soa, 5, &capped, 0.0);
        let high = retry_delay(soa, 5, &capped, 0.999);
        assert!(low < high && high <= 1000 && low >= 900, "{low} {high}");
    }
}
