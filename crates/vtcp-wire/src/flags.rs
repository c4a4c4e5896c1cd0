use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign, Not};

/// The control bits of a TCP header (RFC 9293 §3.1, RFC 3168 §6.1).
///
/// Holds the 12 bits that follow the data offset: the eight classic flags,
/// the AE bit (formerly NS, RFC 3540) and the three reserved bits, so that
/// a parsed header re-encodes to the identical bytes. [`Flags::bits`]
/// matches tshark's `tcp.flags` field.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u16);

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Flags {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Self::from_bits_truncate(u.arbitrary()?))
    }
}

impl Flags {
    /// No more data from sender.
    pub const FIN: Self = Self(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: Self = Self(0x002);
    /// Reset the connection.
    pub const RST: Self = Self(0x004);
    /// Push function.
    pub const PSH: Self = Self(0x008);
    /// Acknowledgment field is significant.
    pub const ACK: Self = Self(0x010);
    /// Urgent pointer field is significant.
    pub const URG: Self = Self(0x020);
    /// ECN-Echo (RFC 3168).
    pub const ECE: Self = Self(0x040);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: Self = Self(0x080);
    /// Accurate-ECN bit, formerly the ECN nonce sum NS (RFC 3540).
    pub const AE: Self = Self(0x100);
    /// Every bit the field can hold, reserved ones included.
    pub const ALL: Self = Self(0xfff);

    /// No flag set.
    #[inline]
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Flags from the 12-bit field; higher bits are dropped.
    #[inline]
    pub const fn from_bits_truncate(bits: u16) -> Self {
        Self(bits & Self::ALL.0)
    }

    /// The 12-bit field.
    #[inline]
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Every bit of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Some bit of `other` is set in `self`.
    #[inline]
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// No bit is set.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Sets the bits of `other`.
    #[inline]
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Clears the bits of `other`.
    #[inline]
    pub fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }
}

impl BitOr for Flags {
    type Output = Self;
    #[inline]
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    #[inline]
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Flags {
    type Output = Self;
    #[inline]
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl Not for Flags {
    type Output = Self;
    #[inline]
    fn not(self) -> Self {
        Self(!self.0 & Self::ALL.0)
    }
}

/// tcpdump's letters, in tcpdump's order (`print-tcp.c`).
const LETTERS: [(Flags, char); 9] = [
    (Flags::FIN, 'F'),
    (Flags::SYN, 'S'),
    (Flags::RST, 'R'),
    (Flags::PSH, 'P'),
    (Flags::ACK, '.'),
    (Flags::URG, 'U'),
    (Flags::ECE, 'E'),
    (Flags::CWR, 'W'),
    (Flags::AE, 'e'),
];

impl fmt::Display for Flags {
    /// tcpdump's notation: `S`, `S.`, `P.`, `F.`, `R`, `.`; `none` when
    /// empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (flag, letter) in LETTERS {
            if self.contains(flag) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({self} {:#05x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcpdump_notation() {
        extern crate alloc;
        use alloc::string::ToString;
        assert_eq!((Flags::SYN | Flags::ACK).to_string(), "S.");
        assert_eq!((Flags::PSH | Flags::ACK).to_string(), "P.");
        assert_eq!((Flags::FIN | Flags::ACK).to_string(), "F.");
        assert_eq!((Flags::RST | Flags::ACK).to_string(), "R.");
        assert_eq!(Flags::ACK.to_string(), ".");
        assert_eq!(Flags::empty().to_string(), "none");
    }

    #[test]
    fn set_operations() {
        let mut f = Flags::SYN;
        f.insert(Flags::ACK);
        assert!(f.contains(Flags::SYN | Flags::ACK));
        assert!(f.intersects(Flags::ACK | Flags::FIN));
        f.remove(Flags::SYN);
        assert_eq!(f, Flags::ACK);
        assert_eq!(Flags::from_bits_truncate(0xffff), Flags::ALL);
        assert_eq!(!Flags::ALL, Flags::empty());
        assert_eq!((Flags::ALL & Flags::ACK), Flags::ACK);
    }

    /// Every operation against the same operation on the 12-bit field,
    /// for pairs of values that share some bits, all, or none.
    #[test]
    fn operations_match_the_bit_field() {
        let values = [0x000, 0x001, 0x012, 0x018, 0x0f0, 0x111, 0x800, 0xfff];
        for a in values {
            for b in values {
                let (fa, fb) = (Flags(a), Flags(b));
                assert_eq!((fa | fb).bits(), a | b, "{a:#x} | {b:#x}");
                assert_eq!((fa & fb).bits(), a & b, "{a:#x} & {b:#x}");
                let mut or = fa;
                or |= fb;
                assert_eq!(or.bits(), a | b, "{a:#x} |= {b:#x}");
                assert_eq!(fa.contains(fb), a & b == b, "{a:#x} contains {b:#x}");
                assert_eq!(fa.intersects(fb), a & b != 0, "{a:#x} meets {b:#x}");
            }
            assert_eq!((!Flags(a)).bits(), !a & 0xfff, "!{a:#x}");
            assert_eq!(Flags(a).is_empty(), a == 0);
        }
    }

    #[test]
    fn debug_shows_the_letters_and_the_field() {
        extern crate alloc;
        assert_eq!(
            alloc::format!("{:?}", Flags::SYN | Flags::ACK | Flags::AE),
            "Flags(S.e 0x112)"
        );
        assert_eq!(alloc::format!("{:?}", Flags::empty()), "Flags(none 0x000)");
    }

    /// The generator reads the field as a `u16` does and drops the bits
    /// above 12.
    #[cfg(feature = "arbitrary")]
    #[test]
    fn arbitrary_reads_a_truncated_field() {
        use arbitrary::{Arbitrary, Unstructured};
        for bytes in [[0x12, 0x00], [0xff, 0xff], [0x34, 0x01]] {
            let flags = Flags::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
            let raw = u16::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
            assert_eq!(flags.bits(), raw & 0xfff);
            assert!(!flags.is_empty());
        }
    }
}
