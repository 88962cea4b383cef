//! The request/response window of one IKE SA (RFC 7296 §2.3: we keep one request in flight),
//! message IDs (§2.2), retransmission of our request and the cache of our last response (§2.1).

use alloc::vec::Vec;
use vpn_core::time::Instant;

use crate::config::RetransmitConfig;
use crate::message::ExchangeType;

/// A request waiting for its response.
struct Outstanding {
    message_id: u32,
    /// Its exchange type: a response must carry the same (RFC 7296 §2.3).
    exchange: ExchangeType,
    datagrams: Vec<Vec<u8>>,
    sent: u32,
    next_at: Instant,
}

/// What the retransmission timer asks for.
pub(crate) enum Retransmit {
    /// Send these datagrams of the request again (RFC 7296 §2.1).
    Resend(Vec<Vec<u8>>),
    /// All tries are used up: the peer is gone (RFC 7296 §2.4).
    GiveUp,
}

/// Message IDs both ways, our request in flight and our cached response.
#[derive(Default)]
pub(crate) struct Window {
    /// The message ID of our next request (RFC 7296 §2.2).
    next_request_id: u32,
    /// The message ID of the peer's next new request (RFC 7296 §2.2).
    expected_request_id: u32,
    outstanding: Option<Outstanding>,
    /// Our last response and the request it answered (RFC 7296 §2.1).
    cached_response: Option<(u32, Vec<Vec<u8>>)>,
}

impl Window {
    /// The message ID our next request carries.
    pub(crate) fn next_request_id(&self) -> u32 {
        self.next_request_id
    }

    /// Our request `next_request_id()` of `exchange` went out as `datagrams`; it is retransmitted
    /// from `first_timeout` on until answered (RFC 7296 §2.1).
    pub(crate) fn sent_request(
        &mut self,
        exchange: ExchangeType,
        datagrams: Vec<Vec<u8>>,
        first_timeout: Instant,
    ) {
        let message_id = self.next_request_id;
        self.next_request_id = message_id.wrapping_add(1);
        self.outstanding =
            Some(Outstanding { message_id, exchange, datagrams, sent: 1, next_at: first_timeout });
    }

    /// A request that is not retransmitted went out: it still uses up its message ID.
    pub(crate) fn sent_oneshot(&mut self) {
        self.next_request_id = self.next_request_id.wrapping_add(1);
    }

    /// Our last request goes out again as `datagram` (a changed IKE_SA_INIT retry, RFC 7296
    /// §2.6, §1.2): same message ID and exchange, the retransmission schedule restarts.
    pub(crate) fn replace_request(&mut self, datagram: Vec<u8>, first_timeout: Instant) {
        let message_id = self.next_request_id.wrapping_sub(1);
        let exchange = self.outstanding.as_ref().map_or(ExchangeType::IkeSaInit, |o| o.exchange);
        self.outstanding = Some(Outstanding {
            message_id,
            exchange,
            datagrams: alloc::vec![datagram],
            sent: 1,
            next_at: first_timeout,
        });
    }

    /// Whether a request of ours is in flight (the window is full, RFC 7296 §2.3).
    pub(crate) fn in_flight(&self) -> bool {
        self.outstanding.is_some()
    }

    /// Whether a response is the one we wait for: same message ID and exchange (RFC 7296 §2.3).
    pub(crate) fn response_matches(&self, message_id: u32, exchange: ExchangeType) -> bool {
        self.outstanding.as_ref().is_some_and(|o| o.message_id == message_id && o.exchange == exchange)
    }

    /// Our request is answered (or abandoned): the window is free and retransmission stops.
    pub(crate) fn take_outstanding(&mut self) {
        self.outstanding = None;
    }

    /// Our response to request `message_id` went out as `datagrams`: it is repeated to
    /// retransmissions of that request, and the peer's next request is `message_id + 1`
    /// (RFC 7296 §2.1, §2.2).
    pub(crate) fn cache_response(&mut self, message_id: u32, datagrams: Vec<Vec<u8>>) {
        self.expected_request_id = message_id.wrapping_add(1);
        self.cached_response = Some((message_id, datagrams));
    }

    /// The cached response when request `message_id` is a retransmission (RFC 7296 §2.1).
    pub(crate) fn retransmitted(&self, message_id: u32) -> Option<&[Vec<u8>]> {
        match &self.cached_response {
            Some((id, datagrams)) if *id == message_id => Some(datagrams),
            _ => None,
        }
    }

    /// Whether request `message_id` is the peer's next new one (RFC 7296 §2.2).
    pub(crate) fn is_expected(&self, message_id: u32) -> bool {
        message_id == self.expected_request_id
    }

    /// When our request is next retransmitted.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.outstanding.as_ref().map(|o| o.next_at)
    }

    /// The retransmission due at `now`, if any, with the next one scheduled (RFC 7296 §2.1:
    /// exponential back-off, a bounded number of tries).
    pub(crate) fn due(&mut self, now: Instant, schedule: &RetransmitConfig) -> Option<Retransmit> {
        let o = self.outstanding.as_mut()?;
        if o.next_at > now {
            return None;
        }
        if o.sent > schedule.tries {
            return Some(Retransmit::GiveUp);
        }
        o.next_at = now + schedule.timeout_after(o.sent);
        o.sent += 1;
        Some(Retransmit::Resend(o.datagrams.clone()))
    }
}
