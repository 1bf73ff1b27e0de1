//! Serial number arithmetic (RFC 1982), used for every comparison of SOA serials.
//!
//! SOA serials wrap around at 2^32, so `>` on `u32` gives the wrong answer near the wrap:
//! 4294967295 → 5 is an increase. RFC 1982 §3.2 defines `s1 < s2` when the forward distance from
//! s1 to s2 is below 2^31, and leaves the comparison undefined at a distance of exactly 2^31.

use std::cmp::Ordering;
use std::fmt;

/// A SOA serial compared with RFC 1982 arithmetic. `PartialOrd` returns `None` for the undefined
/// case (distance exactly 2^31), so `a > b` is false in both directions there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Serial(pub u32);

impl Serial {
    /// Whether `self` is newer than `other` (RFC 1982 §3.2 `s1 > s2`). Undefined comparisons are
    /// not newer, so a secondary never acts on an ambiguous serial.
    pub fn is_newer_than(self, other: Serial) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Greater)
    }
}

impl std::ops::Add<u32> for Serial {
    type Output = Serial;
    /// RFC 1982 §3.1 addition; `n` must be at most 2^31 − 1 to be meaningful.
    fn add(self, n: u32) -> Serial {
        Serial(self.0.wrapping_add(n))
    }
}

impl PartialOrd for Serial {
    fn partial_cmp(&self, other: &Serial) -> Option<Ordering> {
        const HALF: u32 = 1 << 31;
        let forward = other.0.wrapping_sub(self.0);
        match forward {
            0 => Some(Ordering::Equal),
            HALF => None,
            d if d < HALF => Some(Ordering::Less),
            _ => Some(Ordering::Greater),
        }
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn a_serial_that_wrapped_past_zero_is_newer() {
        assert!(Serial(5).is_newer_than(Serial(u32::MAX)));
        assert!(Serial(0).is_newer_than(Serial(u32::MAX)));
        assert!(!Serial(u32::MAX).is_newer_than(Serial(5)));
        assert!(Serial(u32::MAX - 5) < Serial(10));
        assert_eq!(Serial(u32::MAX - 5) + 20, Serial(14));
    }

    #[test]
    fn plain_increments_compare_as_expected() {
        assert!(Serial(2024010102).is_newer_than(Serial(2024010101)));
        assert!(!Serial(2024010101).is_newer_than(Serial(2024010101)));
        assert_eq!(Serial(7).partial_cmp(&Serial(7)), Some(std::cmp::Ordering::Equal));
    }

    #[test]
    fn a_distance_of_exactly_two_to_the_31_is_undefined_both_ways() {
        let (a, b) = (Serial(0), Serial(1 << 31));
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
        assert!(!a.is_newer_than(b) && !b.is_newer_than(a));
        // One less than that is still defined.
        assert!(Serial((1 << 31) - 1).is_newer_than(Serial(0)));
        assert!(Serial(0).is_newer_than(Serial((1 << 31) + 1)));
    }
}
