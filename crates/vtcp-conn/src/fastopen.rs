//! What a handshake carries beyond a plain SYN, in one connection: data
//! on the peer's SYN, and TCP Fast Open's state (RFC 7413): what a
//! client's SYN carries (a cookie request, or a cookie and data) and what
//! its SYN-ACK taught, for the caller's cookie cache; the cookie a
//! server's SYN-ACK carries. The cookies themselves are made and checked
//! by the caller (a `Stack` holds the secret and the cache): the
//! connection only carries them. Boxed in the connection, which most
//! connections leave empty.

use vtcp_wire::FastOpenCookie;

/// What a client's TFO handshake taught about its server, for the
/// caller's cookie cache (RFC 7413 §4.1.3, §4.1.3.1): taken with
/// [`Conn::take_fast_open_outcome`](crate::Conn::take_fast_open_outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FastOpenOutcome {
    /// The SYN-ACK carried a valid cookie: cache it, with the server's
    /// MSS (§4.1.3), whether or not it took our SYN's data.
    NewCookie {
        /// The cookie.
        cookie: FastOpenCookie,
        /// The MSS option of the SYN-ACK.
        mss: Option<u16>,
    },
    /// The SYN's data was acknowledged and the SYN-ACK carried no new
    /// cookie: the cookie cached stays.
    Accepted,
    /// TFO did not work on this path: a cookie request answered with no
    /// valid cookie, data not acknowledged and no new cookie, the SYN
    /// retransmitted (its data and cookie dropped), or a reset. The client
    /// stops using TFO to this server for a while (§4.1.3.1).
    Failed,
}

/// A connection's SYN data and TFO state.
#[derive(Clone, Debug, Default)]
pub(crate) struct FastOpenState {
    /// Data that came on the peer's SYN, delivered once ESTABLISHED (or
    /// at once, from a TFO SYN with a valid cookie).
    pub(crate) peer_syn_data: Box<[u8]>,
    /// Client: our SYN asks for TFO. `Some(None)`: a cookie request;
    /// `Some(Some(cookie))`: the cookie, with data.
    pub(crate) client: Option<Option<FastOpenCookie>>,
    /// Client: the server's MSS cached with the cookie, which bounds the
    /// data our SYN carries.
    pub(crate) peer_mss: Option<u16>,
    /// Client: the data octets our SYN carried.
    pub(crate) syn_data: u32,
    /// Client: what the handshake taught, until the caller takes it.
    pub(crate) outcome: Option<FastOpenOutcome>,
    /// Server: the cookie our SYN-ACK carries (§4.1.2: for a request, or
    /// in place of an invalid cookie).
    pub(crate) reply_cookie: Option<FastOpenCookie>,
}

impl FastOpenState {
    /// The client's SYN was answered or given up: TFO is over for this
    /// connection, with what it taught.
    pub(crate) fn finish_client(&mut self, outcome: FastOpenOutcome) {
        if self.client.take().is_some() {
            self.outcome = Some(outcome);
        }
        self.syn_data = 0;
    }
}
