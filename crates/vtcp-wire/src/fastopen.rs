//! The TCP Fast Open cookie option's value (RFC 7413 §4.1.1): a cookie
//! of 4 to 16 octets, an even number, or none (a cookie request).
//!
//! The option is kind 34; before it had a number, TFO used the shared
//! experimental kind 254 with the magic 0xF989 (RFC 6994), which is read
//! and written too. A TFO option whose cookie has a length §4.1.1 does not
//! allow is not a malformed header: the segment stands (RFC 7413 §4.1.3
//! leaves the cookie to the client's cache and §4.2.2 to the server's
//! check, as FreeBSD and Linux do), the option reads as
//! [`FastOpen::Invalid`] and, as a [`TcpOption`](crate::TcpOption),
//! as `Unknown` with its bytes.

use core::fmt;

use crate::WireError;

/// The fewest octets a cookie has (RFC 7413 §4.1.1).
pub const MIN_COOKIE_LEN: usize = 4;
/// The most octets a cookie has (RFC 7413 §4.1.1).
pub const MAX_COOKIE_LEN: usize = 16;
/// The magic after kind 254 and its length that marks the experimental
/// TFO option (RFC 6994 §3, RFC 7413 §4.1.1).
pub const FAST_OPEN_EXP_MAGIC: u16 = 0xF989;

/// A TCP Fast Open cookie: 4 to 16 octets, an even number (RFC 7413
/// §4.1.1). Made only by [`FastOpenCookie::new`], which checks that.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FastOpenCookie {
    len: u8,
    bytes: [u8; MAX_COOKIE_LEN],
}

impl FastOpenCookie {
    /// The cookie of `bytes`; [`WireError::BadCookieLength`] unless they
    /// are 4 to 16 octets, an even number.
    pub fn new(bytes: &[u8]) -> Result<Self, WireError> {
        let len = bytes.len();
        if !(MIN_COOKIE_LEN..=MAX_COOKIE_LEN).contains(&len) || !len.is_multiple_of(2) {
            return Err(WireError::BadCookieLength { len });
        }
        let mut cookie = Self {
            len: len as u8,
            bytes: [0; MAX_COOKIE_LEN],
        };
        cookie.bytes[..len].copy_from_slice(bytes);
        Ok(cookie)
    }

    /// The cookie's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// How many octets it has (4 to 16).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never: a cookie has at least 4 octets (a cookie request is
    /// [`FastOpen::Request`], not an empty cookie).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for FastOpenCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FastOpenCookie(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// What a segment's TCP Fast Open option said (RFC 7413 §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FastOpen {
    /// No cookie: a client asks for one (§4.1.2).
    Request,
    /// A cookie of a length §4.1.1 allows.
    Cookie(FastOpenCookie),
    /// A cookie of a length it does not allow: odd, or outside 4..=16
    /// octets (`len`, the octets after kind and length). A client ignores
    /// it (§4.1.3), a server treats it as an invalid cookie (§4.2.2).
    Invalid {
        /// The cookie's length in octets.
        len: u8,
    },
}

impl FastOpen {
    /// Reads the cookie part of an option (the octets after kind and
    /// length, and after the magic for the experimental kind).
    pub fn from_cookie_octets(octets: &[u8]) -> Self {
        if octets.is_empty() {
            return Self::Request;
        }
        FastOpenCookie::new(octets).map_or(
            Self::Invalid {
                len: octets.len().min(usize::from(u8::MAX)) as u8,
            },
            Self::Cookie,
        )
    }

    /// The cookie, when there is a valid one.
    pub fn cookie(&self) -> Option<FastOpenCookie> {
        match self {
            Self::Cookie(c) => Some(*c),
            _ => None,
        }
    }
}

/// The body of a kind-254 option that is the experimental TFO option:
/// its cookie octets, after the magic.
pub(crate) fn exp_cookie_octets(body: &[u8]) -> Option<&[u8]> {
    let (magic, rest) = body.split_at_checked(2)?;
    (magic == FAST_OPEN_EXP_MAGIC.to_be_bytes()).then_some(rest)
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for FastOpenCookie {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = 2 * u.int_in_range(MIN_COOKIE_LEN / 2..=MAX_COOKIE_LEN / 2)?;
        Self::new(u.bytes(len)?).map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_lengths_are_four_to_sixteen_and_even() {
        for len in 0..=40usize {
            let octets = [0xa5u8; 40];
            let made = FastOpenCookie::new(&octets[..len]);
            let allowed = (4..=16).contains(&len) && len.is_multiple_of(2);
            assert_eq!(made.is_ok(), allowed, "{len}");
            match made {
                Ok(c) => {
                    assert_eq!(c.as_bytes(), &octets[..len]);
                    assert_eq!(c.len(), len);
                    assert!(!c.is_empty());
                }
                Err(e) => assert_eq!(e, WireError::BadCookieLength { len }),
            }
            let read = FastOpen::from_cookie_octets(&octets[..len]);
            match len {
                0 => assert_eq!(read, FastOpen::Request),
                _ if allowed => assert_eq!(read.cookie().map(|c| c.len()), Some(len)),
                _ => assert_eq!(read, FastOpen::Invalid { len: len as u8 }),
            }
        }
    }

    #[test]
    fn the_experimental_option_needs_its_magic() {
        assert_eq!(exp_cookie_octets(&[0xf9, 0x89, 1, 2]), Some(&[1u8, 2][..]));
        assert_eq!(exp_cookie_octets(&[0xf9, 0x89]), Some(&[][..]));
        assert_eq!(exp_cookie_octets(&[0xf9, 0x88, 1, 2]), None);
        assert_eq!(exp_cookie_octets(&[0xf9]), None);
        let c = FastOpenCookie::new(&[0xde, 0xad, 0xbe, 0xef]).unwrap();
        assert_eq!(alloc::format!("{c:?}"), "FastOpenCookie(deadbeef)");
    }
}
