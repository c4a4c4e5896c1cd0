//! Every congestion controller under arbitrary event sequences: never a
//! panic or overflow, the window never below one SMSS, ssthresh never below
//! two.
#![no_main]

use core::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vtcp_cc::{CongestionController, Cubic, HighSpeed, NewReno};
use vtcp_seq::Seq;

#[derive(Arbitrary, Debug)]
enum Event {
    Ack(u32),
    DupAck,
    FastRetransmit(u32, u32),
    ExitRecovery,
    Timeout(u32),
    RepeatedTimeout,
    Rtt(u32),
    Advance(u32),
    SetMss(u16),
}

fuzz_target!(|input: (u8, u16, Vec<Event>)| {
    let (which, mss, events) = input;
    let mss = u32::from(mss).max(1);
    let mut cc: Box<dyn CongestionController> = match which % 3 {
        0 => Box::new(NewReno::new(mss)),
        1 => Box::new(HighSpeed::new(mss)),
        _ => Box::new(Cubic::new(mss)),
    };
    let mut now = Duration::ZERO;
    for event in events {
        match event {
            Event::Ack(b) => cc.on_ack_at(b, now),
            Event::DupAck => cc.on_recovery_dup_ack(),
            Event::FastRetransmit(f, s) => cc.on_fast_retransmit(f, Seq(s)),
            Event::ExitRecovery => cc.exit_recovery(),
            Event::Timeout(f) => cc.on_timeout(f),
            Event::RepeatedTimeout => cc.on_repeated_timeout(),
            Event::Rtt(us) => cc.on_rtt_sample(Duration::from_micros(u64::from(us))),
            Event::Advance(us) => now += Duration::from_micros(u64::from(us)),
            Event::SetMss(m) => cc.set_mss(u32::from(m)),
        }
        let mss = cc.mss();
        assert!(cc.send_window() >= mss, "{cc:?}");
        assert!(
            cc.ssthresh() >= mss.saturating_mul(2).min(u32::MAX),
            "{cc:?}"
        );
    }
});
