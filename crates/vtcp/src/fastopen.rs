//! TCP Fast Open in a stack (RFC 7413): its settings, and the client's
//! cookie cache, one entry per server IP address (§4.1.3), bounded, the
//! least recently used entry making room for a new one.
//!
//! What an entry holds: the server's cookie and MSS from its latest
//! SYN-ACK with a valid cookie, and, after TFO failed on the path (a
//! request answered with no cookie, data not acknowledged and no new
//! cookie, a SYN sent again, a reset: [`FastOpenOutcome::Failed`]), until
//! when TFO stays off to it (§4.1.3.1). While off, a connection opens with
//! the plain handshake and no TFO option, as FreeBSD's does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use vtcp_conn::FastOpenOutcome;
use vtcp_wire::FastOpenCookie;

/// TCP Fast Open's settings for a stack
/// ([`StackConfig::fast_open`](crate::StackConfig::fast_open)); both
/// sides are off by default.
///
/// Non-exhaustive: start from `default()` and set the fields you need.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FastOpenConfig {
    /// Client TFO: [`Stack::connect_fast_open`](crate::Stack::connect_fast_open)
    /// asks servers for cookies and sends data on the SYN with them.
    pub client: bool,
    /// Server TFO on every listener: cookie requests get a cookie, and
    /// SYNs with a valid one have their data taken at once.
    pub server: bool,
    /// RFC 7413 §5.1: a listener's TFO connections that have not
    /// completed their handshake, at most; a SYN with a valid cookie
    /// beyond it gets the plain handshake (its data dropped, sent again by
    /// the client after the handshake).
    pub max_pending: usize,
    /// Servers the client's cookie cache remembers, at most.
    pub cache_entries: usize,
    /// How long TFO stays off to a server after it failed there (RFC
    /// 7413 §4.1.3.1; FreeBSD's `path_disable_time`, 60 s).
    pub disable_for: Duration,
}

impl Default for FastOpenConfig {
    fn default() -> Self {
        Self {
            client: false,
            server: false,
            max_pending: 64,
            cache_entries: 1024,
            disable_for: Duration::from_secs(60),
        }
    }
}

/// What the cache knows of one server.
#[derive(Clone, Copy, Debug)]
struct Entry {
    cookie: Option<FastOpenCookie>,
    mss: Option<u16>,
    /// TFO is off to it until then.
    disabled_until: Option<Duration>,
    /// When it was last used or learned, for the least-recently-used
    /// eviction.
    used: u64,
}

/// What a client's SYN to a server carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// No TFO option: TFO is off to this server for now.
    Off,
    /// A cookie request (`None`), or the cookie and the server's MSS.
    Use(Option<FastOpenCookie>, Option<u16>),
}

/// The client's cookie cache (§4.1.3).
#[derive(Debug, Default)]
pub(crate) struct CookieCache {
    entries: HashMap<IpAddr, Entry>,
    /// A counter for the recency of entries.
    tick: u64,
}

impl CookieCache {
    /// What a SYN to `server` carries at `now`.
    pub(crate) fn plan(&mut self, server: IpAddr, now: Duration) -> Plan {
        self.tick += 1;
        let tick = self.tick;
        let Some(e) = self.entries.get_mut(&server) else {
            return Plan::Use(None, None);
        };
        e.used = tick;
        match e.disabled_until {
            Some(until) if now < until => Plan::Off,
            _ => {
                e.disabled_until = None;
                Plan::Use(e.cookie, e.mss)
            }
        }
    }

    /// Takes in what a handshake with `server` taught at `now`; the cache
    /// keeps at most `cap` servers.
    pub(crate) fn note(
        &mut self,
        server: IpAddr,
        outcome: FastOpenOutcome,
        now: Duration,
        config: &FastOpenConfig,
    ) {
        self.tick += 1;
        let tick = self.tick;
        if !self.entries.contains_key(&server) {
            if config.cache_entries == 0 {
                return;
            }
            while self.entries.len() >= config.cache_entries {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.used)
                    .map(|(ip, _)| *ip);
                match oldest {
                    Some(ip) => self.entries.remove(&ip),
                    None => break,
                };
            }
        }
        let e = self.entries.entry(server).or_insert(Entry {
            cookie: None,
            mss: None,
            disabled_until: None,
            used: tick,
        });
        e.used = tick;
        match outcome {
            FastOpenOutcome::NewCookie { cookie, mss } => {
                e.cookie = Some(cookie);
                e.mss = mss;
                e.disabled_until = None;
            }
            FastOpenOutcome::Failed => e.disabled_until = Some(now + config.disable_for),
            // The cookie cached stands; so does anything else.
            _ => {}
        }
        debug_assert!(self.entries.len() <= config.cache_entries.max(1));
    }

    /// Forgets every server.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Servers remembered.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([198, 18, 0, n])
    }

    fn cookie(n: u8) -> FastOpenCookie {
        FastOpenCookie::new(&[n; 8]).unwrap()
    }

    #[test]
    fn a_server_is_asked_then_sent_its_cookie_then_left_alone_after_a_failure() {
        let cfg = FastOpenConfig::default();
        let mut c = CookieCache::default();
        let t = Duration::from_secs(1);
        assert_eq!(c.plan(ip(1), t), Plan::Use(None, None));
        let learned = FastOpenOutcome::NewCookie {
            cookie: cookie(1),
            mss: Some(1400),
        };
        c.note(ip(1), learned, t, &cfg);
        assert_eq!(c.plan(ip(1), t), Plan::Use(Some(cookie(1)), Some(1400)));
        // Data acknowledged without a new cookie: the cookie stands.
        c.note(ip(1), FastOpenOutcome::Accepted, t, &cfg);
        assert_eq!(c.plan(ip(1), t), Plan::Use(Some(cookie(1)), Some(1400)));
        // A failure turns TFO off to it for `disable_for`, then back on
        // with the cookie kept.
        c.note(ip(1), FastOpenOutcome::Failed, t, &cfg);
        assert_eq!(c.plan(ip(1), t + Duration::from_secs(59)), Plan::Off);
        assert_eq!(c.plan(ip(2), t), Plan::Use(None, None), "others unaffected");
        assert_eq!(
            c.plan(ip(1), t + cfg.disable_for),
            Plan::Use(Some(cookie(1)), Some(1400))
        );
        // A failure with nothing cached yet is remembered too.
        c.note(ip(3), FastOpenOutcome::Failed, t, &cfg);
        assert_eq!(c.plan(ip(3), t), Plan::Off);
        c.clear();
        assert_eq!((c.len(), c.plan(ip(3), t)), (0, Plan::Use(None, None)));
    }

    #[test]
    fn the_least_recently_used_server_makes_room() {
        let mut cfg = FastOpenConfig {
            cache_entries: 3,
            ..FastOpenConfig::default()
        };
        let mut c = CookieCache::default();
        let t = Duration::ZERO;
        for n in 1..=3 {
            let learned = FastOpenOutcome::NewCookie {
                cookie: cookie(n),
                mss: None,
            };
            c.note(ip(n), learned, t, &cfg);
        }
        // 1 is used again, so 2 is the least recently used.
        c.plan(ip(1), t);
        let learned = FastOpenOutcome::NewCookie {
            cookie: cookie(4),
            mss: None,
        };
        c.note(ip(4), learned, t, &cfg);
        assert_eq!(c.len(), 3);
        assert_eq!(c.plan(ip(2), t), Plan::Use(None, None));
        assert_eq!(c.plan(ip(1), t), Plan::Use(Some(cookie(1)), None));
        // A cache of no entries remembers nothing.
        cfg.cache_entries = 0;
        let mut none = CookieCache::default();
        none.note(ip(1), FastOpenOutcome::Failed, t, &cfg);
        assert_eq!(none.len(), 0);
    }
}
