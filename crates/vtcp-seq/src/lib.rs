//! TCP sequence-number arithmetic.
//!
//! TCP numbers every octet with a 32-bit sequence number that wraps around
//! (RFC 9293 §3.4). Comparing two such numbers is *serial-number
//! arithmetic* (RFC 1982): `a` is before `b` when `b` lies less than 2^31
//! ahead of `a` around the circle.
//!
//! This crate gives that arithmetic a type, [`Seq`], and free functions
//! on plain `u32`s ([`seq_before`], [`seq_before_eq`],
//! [`seq_after`], [`seq_after_eq`], [`seq_in_range`],
//! [`seq_in_range_inclusive`]).
//!
//! # The distance of exactly 2^31
//!
//! RFC 1982 §3.2 leaves the comparison of two numbers exactly 2^31 apart
//! undefined. This crate follows the RFC's definition to the letter: neither
//! number is before the other, neither is after, and they are not equal.
//! [`Seq`]'s [`PartialOrd`] returns `None` for such a pair. This keeps
//! `seq_before(a, b)` and `seq_before(b, a)` from ever both being true
//! (the Linux `before()` macro answers `true` to both), so the ordering is
//! antisymmetric for every pair.
//!
//! ```
//! use vtcp_seq::{Seq, seq_before, seq_in_range};
//!
//! let near_wrap = Seq(u32::MAX - 10);
//! let after_wrap = near_wrap + 20;
//! assert_eq!(after_wrap, Seq(9));
//! assert!(near_wrap < after_wrap);
//! assert_eq!(after_wrap - near_wrap, 20);
//! assert!(seq_before(u32::MAX, 0));
//! assert!(seq_in_range(5, u32::MAX - 1, 10));
//!
//! // Exactly half the space apart: incomparable.
//! let half = Seq(0) + (1 << 31);
//! assert_eq!(Seq(0).partial_cmp(&half), None);
//! assert!(!seq_before(0, 1 << 31) && !seq_before(1 << 31, 0));
//! ```
#![no_std]
#![forbid(unsafe_code)]

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// Half of the sequence space: the distance at which comparisons stop being
/// defined (RFC 1982 §3.2).
pub const HALF_SPACE: u32 = 1 << 31;

/// A TCP sequence number (RFC 9293 §3.4).
///
/// Addition and subtraction wrap modulo 2^32. Ordering is RFC 1982 serial
/// ordering, which is not a total order: see the [crate docs](crate) for
/// the distance of exactly 2^31.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Seq(pub u32);

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Seq {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        u.arbitrary().map(Self)
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        <u32 as arbitrary::Arbitrary<'a>>::size_hint(depth)
    }
}

impl Seq {
    /// Creates a sequence number from its wire value.
    #[inline]
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The wire value.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// How far `self` lies ahead of `earlier`, modulo 2^32.
    ///
    /// This is the number of octets from `earlier` up to `self` when
    /// `earlier` is not after `self`.
    #[inline]
    pub const fn distance_from(self, earlier: Self) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// `self` comes strictly before `other`.
    #[inline]
    pub const fn before(self, other: Self) -> bool {
        seq_before(self.0, other.0)
    }

    /// `self` comes before `other` or equals it.
    #[inline]
    pub const fn before_eq(self, other: Self) -> bool {
        seq_before_eq(self.0, other.0)
    }

    /// `self` comes strictly after `other`.
    #[inline]
    pub const fn after(self, other: Self) -> bool {
        seq_after(self.0, other.0)
    }

    /// `self` comes after `other` or equals it.
    #[inline]
    pub const fn after_eq(self, other: Self) -> bool {
        seq_after_eq(self.0, other.0)
    }

    /// `self` lies in the half-open range `[lo, hi)`.
    #[inline]
    pub const fn in_range(self, lo: Self, hi: Self) -> bool {
        seq_in_range(self.0, lo.0, hi.0)
    }

    /// `self` lies in the closed range `[lo, hi]`.
    #[inline]
    pub const fn in_range_inclusive(self, lo: Self, hi: Self) -> bool {
        seq_in_range_inclusive(self.0, lo.0, hi.0)
    }

    /// The later of two sequence numbers; `self` when they are equal or
    /// incomparable.
    #[inline]
    #[must_use]
    pub const fn max_seq(self, other: Self) -> Self {
        if self.before(other) { other } else { self }
    }

    /// The earlier of two sequence numbers; `self` when they are equal or
    /// incomparable.
    #[inline]
    #[must_use]
    pub const fn min_seq(self, other: Self) -> Self {
        if other.before(self) { other } else { self }
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seq({})", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for Seq {
    #[inline]
    fn from(value: u32) -> Self {
        Self(value)
    }
}

impl From<Seq> for u32 {
    #[inline]
    fn from(value: Seq) -> Self {
        value.0
    }
}

impl PartialOrd for Seq {
    /// RFC 1982 §3.2 serial ordering; `None` at a distance of exactly 2^31.
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match other.0.wrapping_sub(self.0) {
            0 => Some(Ordering::Equal),
            HALF_SPACE => None,
            d if d < HALF_SPACE => Some(Ordering::Less),
            _ => Some(Ordering::Greater),
        }
    }
}

impl Add<u32> for Seq {
    type Output = Self;
    #[inline]
    fn add(self, rhs: u32) -> Self {
        Self(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for Seq {
    #[inline]
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for Seq {
    type Output = Self;
    #[inline]
    fn sub(self, rhs: u32) -> Self {
        Self(self.0.wrapping_sub(rhs))
    }
}

impl SubAssign<u32> for Seq {
    #[inline]
    fn sub_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_sub(rhs);
    }
}

impl Sub for Seq {
    type Output = i32;
    /// Signed distance `self - rhs`, as RFC 1982 reads it: positive when
    /// `self` is after `rhs`. At a distance of exactly 2^31 the result is
    /// `i32::MIN`.
    #[inline]
    fn sub(self, rhs: Self) -> i32 {
        self.0.wrapping_sub(rhs.0) as i32
    }
}

/// `a` is strictly before `b` (RFC 1982 §3.2): `b` lies 1 to 2^31 − 1
/// ahead of `a`.
#[inline]
pub const fn seq_before(a: u32, b: u32) -> bool {
    let ahead = b.wrapping_sub(a);
    ahead != 0 && ahead < HALF_SPACE
}

/// `a` is before `b` or equal to it.
#[inline]
pub const fn seq_before_eq(a: u32, b: u32) -> bool {
    b.wrapping_sub(a) < HALF_SPACE
}

/// `a` is strictly after `b`.
#[inline]
pub const fn seq_after(a: u32, b: u32) -> bool {
    seq_before(b, a)
}

/// `a` is after `b` or equal to it.
#[inline]
pub const fn seq_after_eq(a: u32, b: u32) -> bool {
    seq_before_eq(b, a)
}

/// `x` lies in the half-open range `[lo, hi)` of the sequence circle.
///
/// The range is the `hi - lo` (mod 2^32) numbers starting at `lo`; an empty
/// range (`lo == hi`) holds nothing. For ranges shorter than 2^31, the
/// only ones TCP uses, this agrees with
/// `seq_before_eq(lo, x) && seq_before(x, hi)`.
#[inline]
pub const fn seq_in_range(x: u32, lo: u32, hi: u32) -> bool {
    x.wrapping_sub(lo) < hi.wrapping_sub(lo)
}

/// `x` lies in the closed range `[lo, hi]` of the sequence circle.
///
/// For ranges shorter than 2^31 this agrees with
/// `seq_before_eq(lo, x) && seq_before_eq(x, hi)`.
#[inline]
pub const fn seq_in_range_inclusive(x: u32, lo: u32, hi: u32) -> bool {
    x.wrapping_sub(lo) <= hi.wrapping_sub(lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn wraps_around_the_top() {
        assert!(seq_before(u32::MAX, 0));
        assert!(seq_after(0, u32::MAX));
        assert!(seq_before(u32::MAX - 5, 5));
        assert_eq!(Seq(u32::MAX) + 1, Seq(0));
        assert_eq!(Seq(0) - 1, Seq(u32::MAX));
        assert_eq!(Seq(3) - Seq(u32::MAX - 2), 6);
        assert_eq!(Seq(u32::MAX - 2) - Seq(3), -6);
    }

    #[test]
    fn distance_of_exactly_half_the_space_is_incomparable() {
        for a in [0u32, 1, 12345, HALF_SPACE, u32::MAX] {
            let b = a.wrapping_add(HALF_SPACE);
            assert!(!seq_before(a, b) && !seq_before(b, a));
            assert!(!seq_after(a, b) && !seq_after(b, a));
            assert!(!seq_before_eq(a, b) && !seq_before_eq(b, a));
            assert!(!seq_after_eq(a, b) && !seq_after_eq(b, a));
            assert_eq!(Seq(a).partial_cmp(&Seq(b)), None);
            assert_eq!(Seq(b) - Seq(a), i32::MIN);
        }
        // One less than half the space is still ordered.
        assert!(seq_before(0, HALF_SPACE - 1));
        assert!(seq_after(0, HALF_SPACE + 1));
    }

    #[test]
    fn ranges() {
        assert!(seq_in_range(10, 10, 11));
        assert!(!seq_in_range(11, 10, 11));
        assert!(!seq_in_range(10, 10, 10));
        assert!(seq_in_range_inclusive(10, 10, 10));
        assert!(seq_in_range(0, u32::MAX, 1));
        assert!(seq_in_range_inclusive(1, u32::MAX, 1));
        assert!(!seq_in_range(2, u32::MAX, 1));
    }

    #[test]
    fn min_and_max() {
        assert_eq!(Seq(u32::MAX).max_seq(Seq(3)), Seq(3));
        assert_eq!(Seq(u32::MAX).min_seq(Seq(3)), Seq(u32::MAX));
        assert_eq!(Seq(7).max_seq(Seq(7)), Seq(7));
    }

    /// The model: the signed circular distance from `a` to `b`, `None` at
    /// exactly half the space.
    fn model(a: u32, b: u32) -> Option<i64> {
        let d = b.wrapping_sub(a);
        match d {
            HALF_SPACE => None,
            d if d < HALF_SPACE => Some(i64::from(d)),
            d => Some(i64::from(d) - (1i64 << 32)),
        }
    }

    quickcheck! {
        // Every comparison of `Seq` and every free function against the
        // model; near values too, so that both sides of each edge count.
        fn comparisons_agree_with_the_model(a: u32, b: u32, near: i8) -> bool {
            let b = if near % 2 == 0 { a.wrapping_add(near as u32) } else { b };
            let (x, y) = (Seq(a), Seq(b));
            let m = model(a, b);
            let before = m.is_some_and(|d| d > 0);
            let after = m.is_some_and(|d| d < 0);
            x.before(y) == before
                && x.after(y) == after
                && x.before_eq(y) == (before || a == b)
                && x.after_eq(y) == (after || a == b)
                && seq_before(a, b) == before
                && seq_after(a, b) == after
                && seq_before_eq(a, b) == (before || a == b)
                && seq_after_eq(a, b) == (after || a == b)
                && (x < y) == before
                && (x > y) == after
                && (x <= y) == (before || a == b)
        }

        // [lo, hi) and [lo, hi] against the model: the offset from lo
        // below the length.
        fn ranges_agree_with_the_model(x: u32, lo: u32, len: u16, step: u16) -> bool {
            // Half the cases near lo, where the range is.
            let x = if step.is_multiple_of(2) { lo.wrapping_add(u32::from(step)) } else { x };
            let hi = lo.wrapping_add(u32::from(len));
            let off = x.wrapping_sub(lo);
            let inside = off < u32::from(len);
            let inside_incl = off <= u32::from(len);
            Seq(x).in_range(Seq(lo), Seq(hi)) == inside
                && Seq(x).in_range_inclusive(Seq(lo), Seq(hi)) == inside_incl
                && seq_in_range(x, lo, hi) == inside
                && seq_in_range_inclusive(x, lo, hi) == inside_incl
        }

        // Arithmetic and conversions against u32's wrapping arithmetic.
        fn arithmetic_agrees_with_wrapping_u32(a: u32, n: u32) -> bool {
            let mut up = Seq(a);
            up += n;
            let mut down = Seq(a);
            down -= n;
            up == Seq(a.wrapping_add(n))
                && down == Seq(a.wrapping_sub(n))
                && Seq(a) + n == up
                && Seq(a) - n == down
                && Seq::from(a).get() == a
                && u32::from(Seq(a)) == a
                && Seq::new(a) == Seq(a)
        }
    }

    #[test]
    fn formats_as_its_number() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{:?}", Seq(42)), "Seq(42)");
        assert_eq!(format!("{}", Seq(4_000_000_000)), "4000000000");
        assert_eq!(format!("{:>5}", Seq(7)), "    7");
    }

    #[cfg(feature = "arbitrary")]
    #[test]
    fn arbitrary_takes_four_bytes() {
        use arbitrary::{Arbitrary, Unstructured};
        let mut u = Unstructured::new(&[1, 2, 3, 4, 5]);
        let s = Seq::arbitrary(&mut u).unwrap();
        assert_eq!(s.get(), u32::from_le_bytes([1, 2, 3, 4]));
        assert_eq!(u.len(), 1);
        assert_eq!(Seq::size_hint(0), (4, Some(4)));
    }

    quickcheck! {
        // Antisymmetry across the wrap: never both before each other.
        fn before_is_antisymmetric(a: u32, b: u32) -> bool {
            !(seq_before(a, b) && seq_before(b, a))
        }

        // Totality away from half the space: exactly one of <, =, >.
        fn trichotomy_off_half(a: u32, b: u32) -> bool {
            let n = [seq_before(a, b), a == b, seq_after(a, b)].iter().filter(|x| **x).count();
            if b.wrapping_sub(a) == HALF_SPACE { n == 0 } else { n == 1 }
        }

        // Translating both numbers by the same amount changes nothing.
        fn invariant_under_translation(a: u32, b: u32, k: u32) -> bool {
            let (ta, tb) = (a.wrapping_add(k), b.wrapping_add(k));
            seq_before(a, b) == seq_before(ta, tb)
                && seq_before_eq(a, b) == seq_before_eq(ta, tb)
                && seq_after(a, b) == seq_after(ta, tb)
                && Seq(a).partial_cmp(&Seq(b)) == Seq(ta).partial_cmp(&Seq(tb))
        }

        fn eq_variants_agree(a: u32, b: u32) -> bool {
            seq_before_eq(a, b) == (seq_before(a, b) || a == b)
                && seq_after_eq(a, b) == (seq_after(a, b) || a == b)
        }

        fn partial_ord_agrees_with_functions(a: u32, b: u32) -> bool {
            let (x, y) = (Seq(a), Seq(b));
            (x < y) == seq_before(a, b) && (x > y) == seq_after(a, b)
                && (x <= y) == seq_before_eq(a, b) && (x >= y) == seq_after_eq(a, b)
        }

        // For windows shorter than half the space, range membership is
        // exactly what the comparisons say.
        fn in_range_agrees_with_comparisons(x: u32, lo: u32, len: u32) -> bool {
            let len = len % HALF_SPACE;
            let hi = lo.wrapping_add(len);
            seq_in_range(x, lo, hi) == (seq_before_eq(lo, x) && seq_before(x, hi))
                && seq_in_range_inclusive(x, lo, hi) == (seq_before_eq(lo, x) && seq_before_eq(x, hi))
        }

        fn add_then_sub_is_identity(a: u32, k: u32) -> bool {
            (Seq(a) + k) - k == Seq(a) && (Seq(a) + k).distance_from(Seq(a)) == k
        }
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
