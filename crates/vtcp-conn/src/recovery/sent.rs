//! The sent-segment log: every segment in flight, in sequence order, with
//! when it was (last) sent and what the peer said of it. RACK (RFC 8985)
//! reads time from it; the send buffer's scoreboard stays the authority on
//! octets, this log on segments.
//!
//! Entries cover `[SND.UNA, SND.MAX)` without gaps or overlaps, each at
//! most one segment long when first sent; a retransmission smaller than
//! its entry (the MSS fell) splits it. Cumulative ACKs drop entries from
//! the front. The octets marked lost and not sent again are counted, so
//! that RACK's `pipe` costs nothing to ask.

use std::collections::VecDeque;
use std::time::Duration;

use vtcp_seq::Seq;

use crate::rate::{Newest, TxSnapshot};

/// One segment in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Its first octet.
    pub(crate) start: Seq,
    /// One past its last octet.
    pub(crate) end: Seq,
    /// When it was last sent.
    pub(crate) xmit: Duration,
    /// It was sent more than once.
    pub(crate) retransmitted: bool,
    /// The peer SACKed it.
    pub(crate) sacked: bool,
    /// Deemed lost and not sent again since.
    pub(crate) lost: bool,
}

impl Sent {
    fn len(&self) -> u32 {
        self.end.distance_from(self.start)
    }
}

/// What one ACK delivered, for RACK: the segments newly acknowledged or
/// SACKed, summed up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// The delivered segment sent last (RACK.xmit_ts and RACK.end_seq come
    /// from it): its send time, end and whether it was retransmitted.
    pub(crate) latest: Option<(Duration, Seq, bool)>,
    /// The highest end among the delivered segments (for RACK.fack).
    pub(crate) highest_end: Option<Seq>,
    /// The lowest end among the delivered segments sent only once: below
    /// RACK.fack, it was delivered out of order (RFC 8985 §6.2 step 3).
    pub(crate) lowest_original_end: Option<Seq>,
    /// Segments newly SACKed.
    pub(crate) sacked: u32,
    /// The delivered segment that gives the ACK's rate sample, when
    /// [`track_rates`](Self::track_rates) asks for it.
    pub(crate) newest: Option<Newest>,
    /// Delivery rates are estimated: find [`newest`](Self::newest).
    pub(crate) track_rates: bool,
}

impl Delivered {
    /// `s` was delivered; `tx` is its snapshot when rates are tracked.
    #[inline]
    fn note(&mut self, s: &Sent, tx: Option<&TxSnapshot>) {
        let newer = match self.latest {
            None => true,
            Some((t, end, _)) => s.xmit > t || (s.xmit == t && s.end.after(end)),
        };
        if newer {
            self.latest = Some((s.xmit, s.end, s.retransmitted));
        }
        if self.highest_end.is_none_or(|h| s.end.after(h)) {
            self.highest_end = Some(s.end);
        }
        if !s.retransmitted && self.lowest_original_end.is_none_or(|l| s.end.before(l)) {
            self.lowest_original_end = Some(s.end);
        }
        if self.track_rates
            && let Some(&tx) = tx
        {
            let candidate = Newest {
                tx,
                sent: s.xmit,
                retransmitted: s.retransmitted,
            };
            if self.newest.is_none_or(|n| candidate.newer_than(&n)) {
                self.newest = Some(candidate);
            }
        }
    }
}

/// The log, allocated at the first segment of data sent: an idle
/// connection carries a pointer, a connection that sent data keeps its
/// log (see [`Log`]). Empty and absent are the same log.
#[derive(Clone, Debug, Default)]
pub(crate) struct SentLog(Option<Box<Log>>);

impl SentLog {
    /// Segments held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |l| l.len())
    }

    /// Octets marked lost and not sent again.
    #[inline]
    pub(crate) fn lost_bytes(&self) -> u64 {
        self.0.as_ref().map_or(0, |l| l.lost_bytes)
    }

    /// Octets SACKed.
    #[inline]
    pub(crate) fn sacked_bytes(&self) -> u64 {
        self.0.as_ref().map_or(0, |l| l.sacked_bytes)
    }

    /// See [`Log::on_sent`]; the log is allocated here.
    #[inline]
    pub(crate) fn on_sent(&mut self, seq: Seq, len: usize, now: Duration, tx: Option<TxSnapshot>) {
        if len == 0 {
            return;
        }
        self.0
            .get_or_insert_with(Box::default)
            .on_sent(seq, len, now, tx);
    }

    /// See [`Log::on_ack`].
    #[inline]
    pub(crate) fn on_ack(&mut self, una: Seq, delivered: &mut Delivered) {
        if let Some(l) = &mut self.0 {
            l.on_ack(una, delivered);
        }
    }

    /// See [`Log::on_sack`].
    #[inline]
    pub(crate) fn on_sack(&mut self, left: Seq, right: Seq, delivered: &mut Delivered) {
        if let Some(l) = &mut self.0 {
            l.on_sack(left, right, delivered);
        }
    }

    /// See [`Log::on_timeout`].
    pub(crate) fn on_timeout(&mut self) {
        if let Some(l) = &mut self.0 {
            l.on_timeout();
        }
    }

    /// See [`Log::clear_lost`].
    pub(crate) fn clear_lost(&mut self) {
        if let Some(l) = &mut self.0 {
            l.clear_lost();
        }
    }

    /// See [`Log::detect_losses`].
    pub(crate) fn detect_losses(
        &mut self,
        rack_xmit: Duration,
        rack_end: Seq,
        rtt: Duration,
        reo_wnd: Duration,
        now: Duration,
    ) -> (u64, Option<Duration>) {
        match &mut self.0 {
            Some(l) => l.detect_losses(rack_xmit, rack_end, rtt, reo_wnd, now),
            None => (0, None),
        }
    }

    /// See [`Log::first_lost`].
    pub(crate) fn first_lost(&self) -> Option<(Seq, usize)> {
        self.0.as_ref().and_then(|l| l.first_lost())
    }

    /// See [`Log::last_unsacked`].
    pub(crate) fn last_unsacked(&self) -> Option<(Seq, usize)> {
        self.0.as_ref().and_then(|l| l.last_unsacked())
    }
}

/// The log's entries and counts.
#[derive(Clone, Debug, Default)]
struct Log {
    entries: VecDeque<Sent>,
    /// Each entry's delivery totals when it was (last) sent, for its rate
    /// sample, index for index with `entries`; empty while no rates are
    /// tracked, so that a log for RACK alone carries no snapshots.
    tx: VecDeque<TxSnapshot>,
    /// Octets in entries marked lost (and not SACKed).
    lost_bytes: u64,
    /// Octets in entries SACKed.
    sacked_bytes: u64,
}

impl Log {
    /// Segments held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Octets marked lost and not sent again.
    #[cfg(test)]
    pub(crate) fn lost_bytes(&self) -> u64 {
        self.lost_bytes
    }

    /// Octets SACKed.
    #[cfg(test)]
    pub(crate) fn sacked_bytes(&self) -> u64 {
        self.sacked_bytes
    }

    /// The index of the entry holding `seq`, if any.
    fn find(&self, seq: Seq) -> Option<usize> {
        let i = self.entries.partition_point(|e| e.end.before_eq(seq));
        self.entries
            .get(i)
            .is_some_and(|e| seq.in_range(e.start, e.end))
            .then_some(i)
    }

    /// Splits the entry holding `at` so that an entry starts there.
    fn split_at(&mut self, at: Seq) {
        if let Some(i) = self.find(at) {
            let e = self.entries[i];
            if e.start != at {
                self.entries[i].end = at;
                self.entries.insert(i + 1, Sent { start: at, ..e });
                if let Some(&t) = self.tx.get(i) {
                    self.tx.insert(i + 1, t);
                }
            }
        }
    }

    /// `len` octets at `seq` went out at `now` with the delivery totals
    /// `tx` (while rates are tracked): new data appended, or data already
    /// in the log sent again (after a timeout went back, or a
    /// retransmission).
    pub(crate) fn on_sent(&mut self, seq: Seq, len: usize, now: Duration, tx: Option<TxSnapshot>) {
        if len == 0 {
            return;
        }
        // Rates are tracked for a connection's life or never (its
        // controller paces or not): with them, every entry has its
        // snapshot.
        debug_assert!(tx.is_none() || self.tx.len() == self.entries.len());
        let end = seq + len as u32;
        let mut new_from = seq;
        if let Some(last_end) = self.entries.back().map(|l| l.end)
            && seq.before(last_end)
        {
            self.on_resent(seq, end.min_seq(last_end), now, tx);
            new_from = last_end;
        }
        if new_from.before(end) {
            self.entries.push_back(Sent {
                start: new_from,
                end,
                xmit: now,
                retransmitted: false,
                sacked: false,
                lost: false,
            });
            if let Some(t) = tx {
                self.tx.push_back(t);
            }
        }
        self.debug_check();
    }

    fn on_resent(&mut self, start: Seq, end: Seq, now: Duration, tx: Option<TxSnapshot>) {
        self.split_at(start);
        self.split_at(end);
        let Some(mut i) = self.find(start) else {
            return;
        };
        while let Some(e) = self.entries.get_mut(i)
            && e.start.before(end)
        {
            if e.lost {
                e.lost = false;
                self.lost_bytes -= u64::from(e.len());
            }
            e.xmit = now;
            e.retransmitted = true;
            if let (Some(t), Some(slot)) = (tx, self.tx.get_mut(i)) {
                *slot = t;
            }
            i += 1;
        }
    }

    /// The cumulative ACK reached `una`: the entries below it are
    /// delivered and leave the log.
    pub(crate) fn on_ack(&mut self, una: Seq, delivered: &mut Delivered) {
        while let Some(e) = self.entries.front_mut() {
            if e.end.before_eq(una) {
                let e = *e;
                self.entries.pop_front();
                let tx = self.tx.pop_front();
                self.forget(&e);
                if !e.sacked {
                    delivered.note(&e, tx.as_ref());
                }
            } else {
                if e.start.before(una) {
                    // Part of a segment: the rest stays.
                    let cut = u64::from(una.distance_from(e.start));
                    if e.lost {
                        self.lost_bytes -= cut;
                    }
                    if e.sacked {
                        self.sacked_bytes -= cut;
                    }
                    e.start = una;
                }
                break;
            }
        }
        self.debug_check();
    }

    fn forget(&mut self, e: &Sent) {
        if e.lost {
            self.lost_bytes -= u64::from(e.len());
        }
        if e.sacked {
            self.sacked_bytes -= u64::from(e.len());
        }
    }

    /// A SACK block `[left, right)`: the entries wholly inside it are
    /// delivered.
    pub(crate) fn on_sack(&mut self, left: Seq, right: Seq, delivered: &mut Delivered) {
        let mut i = self.entries.partition_point(|e| e.end.before_eq(left));
        while let Some(e) = self.entries.get_mut(i)
            && e.start.before(right)
        {
            if !e.sacked && e.start.after_eq(left) && e.end.before_eq(right) {
                e.sacked = true;
                let len = u64::from(e.len());
                self.sacked_bytes += len;
                if e.lost {
                    e.lost = false;
                    self.lost_bytes -= len;
                }
                delivered.sacked += 1;
                let e = *e;
                delivered.note(&e, self.tx.get(i));
            }
            i += 1;
        }
        self.debug_check();
    }

    /// After a timeout (RFC 6675 §5.1, RFC 8985 §6.3): SACKs are not
    /// trusted any more and nothing is marked lost (everything from
    /// SND.UNA is sent again in order).
    pub(crate) fn on_timeout(&mut self) {
        for e in &mut self.entries {
            e.sacked = false;
            e.lost = false;
        }
        self.lost_bytes = 0;
        self.sacked_bytes = 0;
    }

    /// A reduction was undone (RFC 3708, RFC 3522): what was marked lost
    /// was not; SACK marks stay.
    pub(crate) fn clear_lost(&mut self) {
        for e in &mut self.entries {
            e.lost = false;
        }
        self.lost_bytes = 0;
    }

    /// RFC 8985 §6.2 step 5, RACK_detect_loss: every segment sent before
    /// RACK's (`rack_xmit`, `rack_end`), neither delivered nor lost already,
    /// whose time `xmit + rtt + reo_wnd` has passed is lost. Returns the
    /// octets newly marked lost and, for the rest that would be, when the
    /// earliest of them is due (the reordering timer).
    ///
    /// The walk is in sequence order and stops at RACK.end_seq: a segment
    /// beyond it was sent later, unless it is a retransmission, which the
    /// timeout or a tail loss probe repairs instead (Linux keeps a list in
    /// sending order for that case).
    pub(crate) fn detect_losses(
        &mut self,
        rack_xmit: Duration,
        rack_end: Seq,
        rtt: Duration,
        reo_wnd: Duration,
        now: Duration,
    ) -> (u64, Option<Duration>) {
        let mut newly = 0;
        let mut due: Option<Duration> = None;
        for e in &mut self.entries {
            if !e.start.before(rack_end) {
                break;
            }
            if e.sacked || e.lost {
                continue;
            }
            let sent_before = e.xmit < rack_xmit || (e.xmit == rack_xmit && e.end.before(rack_end));
            if !sent_before {
                continue;
            }
            let deadline = e.xmit + rtt + reo_wnd;
            if deadline <= now {
                e.lost = true;
                newly += u64::from(e.len());
            } else {
                due = Some(due.map_or(deadline, |d| d.min(deadline)));
            }
        }
        self.lost_bytes += newly;
        self.debug_check();
        (newly, due)
    }

    /// The first segment marked lost: the next retransmission.
    pub(crate) fn first_lost(&self) -> Option<(Seq, usize)> {
        if self.lost_bytes == 0 {
            return None;
        }
        self.entries
            .iter()
            .find(|e| e.lost)
            .map(|e| (e.start, e.len() as usize))
    }

    /// The last segment in flight not SACKed (what a tail loss probe sends
    /// again when there is no new data).
    pub(crate) fn last_unsacked(&self) -> Option<(Seq, usize)> {
        self.entries
            .iter()
            .rev()
            .find(|e| !e.sacked)
            .map(|e| (e.start, e.len() as usize))
    }

    fn debug_check(&self) {
        #[cfg(debug_assertions)]
        {
            let mut lost = 0;
            let mut sacked = 0;
            debug_assert!(
                self.tx.is_empty() || self.tx.len() == self.entries.len(),
                "snapshots out of step with the entries"
            );
            for (i, e) in self.entries.iter().enumerate() {
                debug_assert!(e.start.before(e.end), "an empty entry");
                debug_assert!(!(e.lost && e.sacked), "lost and SACKed");
                if let Some(next) = self.entries.get(i + 1) {
                    debug_assert_eq!(e.end, next.start, "a gap or an overlap");
                }
                if e.lost {
                    lost += u64::from(e.len());
                }
                if e.sacked {
                    sacked += u64::from(e.len());
                }
            }
            debug_assert_eq!(lost, self.lost_bytes);
            debug_assert_eq!(sacked, self.sacked_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::{Arbitrary, Gen, quickcheck};

    use super::*;

    /// An operation on the log, in units the model can follow.
    #[derive(Clone, Debug)]
    enum Op {
        /// New data of this length.
        Send(u8),
        /// Resend octets [a, a + len) of what is in flight.
        Resend(u8, u8),
        /// SACK [a, b) of what is in flight.
        Sack(u8, u8),
        /// ACK up to this far into what is in flight.
        Ack(u8),
        /// Time passes; RACK as of the latest delivery marks losses.
        Detect(u8),
        Timeout,
    }

    impl Arbitrary for Op {
        fn arbitrary(g: &mut Gen) -> Self {
            match u8::arbitrary(g) % 6 {
                0 | 1 => Self::Send(u8::arbitrary(g) % 50 + 1),
                2 => Self::Resend(u8::arbitrary(g), u8::arbitrary(g) % 40 + 1),
                3 => Self::Sack(u8::arbitrary(g), u8::arbitrary(g)),
                4 => Self::Ack(u8::arbitrary(g)),
                _ if bool::arbitrary(g) => Self::Detect(u8::arbitrary(g)),
                _ => Self::Timeout,
            }
        }
    }

    /// Per octet: (last sent, lost, SACKed), from SND.UNA on.
    #[derive(Default)]
    struct Model {
        una: u32,
        octets: Vec<(u64, bool, bool)>,
    }

    quickcheck! {
        // The log's counts against a per-octet model: lost and SACKed
        // octets agree after every operation, and every lost octet was
        // sent before the time RACK used and at least rtt ago.
        fn the_log_agrees_with_a_per_octet_model(ops: Vec<Op>) -> bool {
            let mut log = Log::default();
            let mut m = Model::default();
            let base = Seq(4_000_000_000);
            let mut now = 0u64;
            let ms = Duration::from_millis;
            let rtt = 10u64;
            for op in ops {
                now += 1;
                let nxt = m.una + m.octets.len() as u32;
                match op {
                    Op::Send(n) => {
                        log.on_sent(base + nxt, usize::from(n), ms(now), None);
                        m.octets.extend((0..n).map(|_| (now, false, false)));
                    }
                    Op::Resend(a, n) if !m.octets.is_empty() => {
                        let a = usize::from(a) % m.octets.len();
                        let b = (a + usize::from(n)).min(m.octets.len());
                        log.on_sent(base + (m.una + a as u32), b - a, ms(now), None);
                        for o in &mut m.octets[a..b] {
                            *o = (now, false, o.2);
                        }
                        // The log resends whole entries' parts: a SACKed
                        // octet stays SACKed, a lost one is not lost.
                    }
                    Op::Sack(a, b) if !m.octets.is_empty() => {
                        let (a, b) = (usize::from(a.min(b)), usize::from(a.max(b)));
                        let a = a % m.octets.len();
                        let b = b.min(m.octets.len());
                        if a < b {
                            let mut d = Delivered::default();
                            log.on_sack(base + (m.una + a as u32), base + (m.una + b as u32), &mut d);
                            // The model SACKs whole entries only, as the
                            // log does: ask the log which.
                            for (i, o) in m.octets.iter_mut().enumerate() {
                                let seq = base + (m.una + i as u32);
                                let e = log.entries[log.find(seq).unwrap()];
                                if e.sacked {
                                    o.2 = true;
                                    o.1 = false;
                                }
                            }
                        }
                    }
                    Op::Ack(k) if !m.octets.is_empty() => {
                        let k = usize::from(k).min(m.octets.len());
                        let mut d = Delivered::default();
                        log.on_ack(base + (m.una + k as u32), &mut d);
                        m.octets.drain(..k);
                        m.una += k as u32;
                    }
                    Op::Detect(t) => {
                        now += u64::from(t);
                        let rack_xmit = now.saturating_sub(u64::from(t) / 2);
                        let (_, _) = log.detect_losses(ms(rack_xmit), base + nxt, ms(rtt), ms(0), ms(now));
                        for (i, o) in m.octets.iter_mut().enumerate() {
                            let e = log.entries[log.find(base + (m.una + i as u32)).unwrap()];
                            let should = !o.2 && o.0 < rack_xmit && o.0 + rtt <= now;
                            if should && !e.lost {
                                return false;
                            }
                            if e.lost && !(o.0 + rtt <= now || o.1) {
                                return false;
                            }
                            o.1 = e.lost;
                        }
                    }
                    Op::Timeout => {
                        log.on_timeout();
                        for o in &mut m.octets {
                            o.1 = false;
                            o.2 = false;
                        }
                    }
                    _ => {}
                }
                let lost = m.octets.iter().filter(|o| o.1).count() as u64;
                let sacked = m.octets.iter().filter(|o| o.2).count() as u64;
                if log.lost_bytes() != lost || log.sacked_bytes() != sacked {
                    return false;
                }
                let covered: u32 = log.entries.iter().map(Sent::len).sum();
                if covered as usize != m.octets.len() {
                    return false;
                }
            }
            true
        }
    }

    #[test]
    fn delivery_reports_the_segment_sent_last_and_reordering() {
        let ms = Duration::from_millis;
        let mut log = SentLog::default();
        for i in 0..4u32 {
            log.on_sent(Seq(i * 100), 100, ms(u64::from(i)), None);
        }
        // The third segment SACKed first, then the second: the second was
        // delivered below the highest end seen (reordering).
        let mut d = Delivered::default();
        log.on_sack(Seq(200), Seq(300), &mut d);
        assert_eq!(d.latest, Some((ms(2), Seq(300), false)));
        assert_eq!((d.sacked, log.sacked_bytes()), (1, 100));
        // RACK from the third: the first two were sent before it.
        let (lost, due) = log.detect_losses(ms(2), Seq(300), ms(10), ms(0), ms(10));
        assert_eq!((lost, due), (100, Some(ms(11))));
        assert_eq!(log.first_lost(), Some((Seq(0), 100)));
        // Resending the first clears its mark.
        log.on_sent(Seq(0), 100, ms(12), None);
        assert_eq!((log.lost_bytes(), log.first_lost()), (0, None));
        let mut d = Delivered::default();
        log.on_ack(Seq(300), &mut d);
        assert_eq!(log.len(), 1);
        assert_eq!(
            d.latest,
            Some((ms(12), Seq(100), true)),
            "the resent one, sent last"
        );
        assert_eq!(log.last_unsacked(), Some((Seq(300), 100)));
    }

    /// RFC 8985 §6.2 step 3 looks for a segment sent only once and
    /// delivered below RACK.fack: of what an ACK delivers, the lowest end
    /// of such segments, a retransmission left out (its delivery says
    /// nothing of reordering).
    #[test]
    fn delivery_reports_the_lowest_end_of_segments_sent_once() {
        let ms = Duration::from_millis;
        let mut log = SentLog::default();
        for i in 0..3u32 {
            log.on_sent(Seq(i * 100), 100, ms(u64::from(i)), None);
        }
        // The first sent again; an ACK then covers it and the second.
        log.on_sent(Seq(0), 100, ms(10), None);
        let mut d = Delivered::default();
        log.on_ack(Seq(200), &mut d);
        assert_eq!(d.lowest_original_end, Some(Seq(200)));
        assert_eq!(d.highest_end, Some(Seq(200)));
    }

    /// Of segments sent at the same instant that one ACK delivers, the
    /// latest (for RACK) is the one that ends highest, whatever the order
    /// of the SACK blocks (a receiver puts the newest first, RFC 2018 §4).
    #[test]
    fn of_segments_sent_together_the_latest_delivered_ends_highest() {
        let ms = Duration::from_millis;
        let mut log = SentLog::default();
        for i in 0..4u32 {
            log.on_sent(Seq(i * 100), 100, ms(5), None);
        }
        let mut d = Delivered::default();
        log.on_sack(Seq(300), Seq(400), &mut d);
        log.on_sack(Seq(100), Seq(200), &mut d);
        assert_eq!(d.latest, Some((ms(5), Seq(400), false)));
    }
}
