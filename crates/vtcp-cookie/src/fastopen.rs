//! TCP Fast Open server cookies (RFC 7413 §4.1.2): a MAC of the client's
//! IP address under the listener's SYN-cookie secret, truncated to 8
//! octets. They share the secret and its rotation with the SYN cookies
//! ([`SynCookies::rotate`]): a cookie made under the current secret or
//! the one before it is valid (§4.1.2: "the server can change the secret
//! ... and accept cookies made with the previous one").
//!
//! A cookie binds only the client's address, as §4.1.2 recommends (the
//! client's port changes with every connection); an input byte apart from
//! the SYN cookies' inputs keeps the two MACs from ever being the same
//! computation.

use siphasher::sip::SipHasher24;
use vtcp_wire::FastOpenCookie;

use crate::SynCookies;

/// The length of the cookies this crate makes (RFC 7413 §4.1.1 allows 4
/// to 16; Linux and FreeBSD make 8).
pub const FAST_OPEN_COOKIE_LEN: usize = 8;

/// Marks the MAC input as a TFO cookie's (a SYN cookie's input ends with
/// an address length, at most 16, never this).
const DOMAIN: u8 = 0xf0;

impl SynCookies {
    fn fast_open_mac(hasher: &SipHasher24, client: &[u8]) -> FastOpenCookie {
        let client = &client[..client.len().min(16)];
        let mut input = [0u8; 18];
        input[..client.len()].copy_from_slice(client);
        input[client.len()] = client.len() as u8;
        input[client.len() + 1] = DOMAIN;
        let mac = hasher.hash(&input[..client.len() + 2]).to_be_bytes();
        FastOpenCookie::new(&mac).expect("8 octets is a valid cookie length")
    }

    /// The TFO cookie for a client at address `client` (4 octets for IPv4,
    /// 16 for IPv6), under the current secret.
    pub fn fast_open_cookie(&self, client: &[u8]) -> FastOpenCookie {
        Self::fast_open_mac(&self.current, client)
    }

    /// Whether `cookie` is the one the current secret, or the one before
    /// it, makes for `client` (RFC 7413 §4.1.2).
    pub fn check_fast_open_cookie(&self, client: &[u8], cookie: &FastOpenCookie) -> bool {
        let valid = |h: &SipHasher24| Self::fast_open_mac(h, client) == *cookie;
        valid(&self.current) || self.previous.as_ref().is_some_and(valid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 4] = [198, 18, 0, 1];
    const B: [u8; 4] = [198, 18, 0, 2];

    #[test]
    fn a_cookie_is_the_clients_under_the_secret() {
        let c = SynCookies::new([1; 16]);
        let cookie = c.fast_open_cookie(&A);
        assert_eq!(cookie.len(), FAST_OPEN_COOKIE_LEN);
        assert!(c.check_fast_open_cookie(&A, &cookie));
        // Another client, another secret, another length of address.
        assert!(!c.check_fast_open_cookie(&B, &cookie));
        assert!(!SynCookies::new([2; 16]).check_fast_open_cookie(&A, &cookie));
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&A);
        assert_ne!(c.fast_open_cookie(&v6), cookie);
        // A cookie with one bit changed is refused.
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(cookie.as_bytes());
        bytes[7] ^= 1;
        assert!(!c.check_fast_open_cookie(&A, &FastOpenCookie::new(&bytes).unwrap()));
    }

    #[test]
    fn the_previous_secret_is_accepted_until_the_next_rotation() {
        let mut c = SynCookies::new([1; 16]);
        let old = c.fast_open_cookie(&A);
        c.rotate([2; 16]);
        assert!(c.check_fast_open_cookie(&A, &old));
        let new = c.fast_open_cookie(&A);
        assert_ne!(new, old);
        assert!(c.check_fast_open_cookie(&A, &new));
        c.rotate([3; 16]);
        assert!(!c.check_fast_open_cookie(&A, &old));
        assert!(c.check_fast_open_cookie(&A, &new));
    }

    #[test]
    fn addresses_longer_than_ipv6_are_cut_not_a_panic() {
        let c = SynCookies::new([1; 16]);
        let long = [9u8; 40];
        assert_eq!(c.fast_open_cookie(&long), c.fast_open_cookie(&long[..16]));
        assert!(!c.check_fast_open_cookie(&[], &c.fast_open_cookie(&A)));
    }
}
