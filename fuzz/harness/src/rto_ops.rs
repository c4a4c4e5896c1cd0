//! The RTO estimator under arbitrary samples, timings and timeouts: the RTO
//! always within its bounds, SRTT within the samples seen (as the estimator
//! holds them: in nanoseconds below 2^64 − 1, 584 years, a longer sample
//! held as that).

use core::time::Duration;

use crate::Verdict;
use arbitrary::Arbitrary;
use vtcp_rto::{RtoConfig, RtoEstimator};
use vtcp_seq::Seq;

#[derive(Arbitrary, Debug)]
enum Event {
    Sample(u64),
    Weighted(u64, u32),
    Start(u32, u64),
    Ack(u32, u64),
    Invalidate,
    Backoff,
    Reset,
}

/// The longest time the estimator holds, in nanoseconds.
const HELD: u64 = u64::MAX - 1;

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: (u32, u32, Vec<Event>)| {
        let (min_ms, span_ms, events) = input;
        let mut config = RtoConfig::default();
        config.min = Duration::from_millis(u64::from(min_ms % 10_000));
        config.max =
            Duration::from_millis(u64::from(min_ms % 10_000) + u64::from(span_ms % 200_000));
        let mut rto = RtoEstimator::new(config);
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        for event in events {
            match event {
                Event::Sample(ns) => {
                    rto.sample(Duration::from_nanos(ns));
                    (lo, hi) = (lo.min(ns.min(HELD)), hi.max(ns.min(HELD)));
                }
                Event::Weighted(ns, n) => {
                    rto.sample_weighted(Duration::from_nanos(ns), n);
                    (lo, hi) = (lo.min(ns.min(HELD)), hi.max(ns.min(HELD)));
                }
                Event::Start(seq, t) => rto.start_timing(Seq(seq), Duration::from_nanos(t)),
                Event::Ack(seq, t) => {
                    rto.ack_received(Seq(seq), Duration::from_nanos(t));
                    // A timed sample may be anything the clock allows.
                    (lo, hi) = (0, u64::MAX);
                }
                Event::Invalidate => rto.invalidate_timing(),
                Event::Backoff => rto.backoff(),
                Event::Reset => {
                    rto.reset();
                    (lo, hi) = (u64::MAX, 0);
                }
            }
            let r = rto.rto();
            assert!(r >= config.min && r <= config.max.max(config.min), "{r:?}");
            if let Some(srtt) = rto.srtt() {
                let ns = srtt.as_nanos() as u64;
                assert!(lo <= ns && ns <= hi, "srtt {ns} outside [{lo}, {hi}]");
            }
        }
    })
}
