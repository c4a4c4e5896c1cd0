//! A windowed max filter over a discrete clock.
//!
//! BBR keeps two running maxima over a window of "virtual time"
//! (draft-ietf-ccwg-bbr-06): `BBR.max_bw`, the largest delivery rate over
//! the current and the previous ProbeBW cycle (§5.5.3, §5.5.5, §5.5.6:
//! the clock is `BBR.cycle_count`, the window 2), and `BBR.extra_acked`,
//! the largest aggregation estimate over the last 10 packet-timed round
//! trips, or 1 in Startup (§5.5.9: the clock is `BBR.round_count`).
//!
//! Both clocks are small integers that only move forward, and both
//! windows are a handful of ticks, so the filter keeps one slot per tick
//! of the largest window: the maximum of the samples taken at that tick.
//! That is exact, where Kathleen Nichols' three-sample filter (Linux's
//! `minmax`, which the draft mentions) approximates, and it costs `N`
//! comparisons per sample. The model test below compares it with keeping
//! every sample.

/// The largest value seen at one tick of the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    time: u64,
    value: u64,
    used: bool,
}

/// The maximum of the samples of the last `window` ticks of a clock that
/// only moves forward, for windows of up to `N` ticks.
///
/// A sample at tick `t` counts while the clock reads less than
/// `t + window`: with a window of 2, the current tick and the one
/// before. A sample stamped earlier than one already taken counts as
/// taken at the later tick (the clock does not go back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WindowedMax<const N: usize> {
    slots: [Slot; N],
    /// The clock's reading at the latest sample.
    latest: u64,
}

impl<const N: usize> Default for WindowedMax<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> WindowedMax<N> {
    /// An empty filter (InitWindowedMaxFilter(value = 0, time = 0)): its
    /// maximum is zero.
    pub(crate) const fn new() -> Self {
        Self {
            slots: [Slot {
                time: 0,
                value: 0,
                used: false,
            }; N],
            latest: 0,
        }
    }

    /// The window clamped to what the filter can hold.
    fn clamp_window(window: u64) -> u64 {
        window.clamp(1, N as u64)
    }

    /// Takes `value` at tick `time` (UpdateWindowedMaxFilter) and returns
    /// the maximum over the last `window` ticks, this one included.
    pub(crate) fn update(&mut self, time: u64, value: u64, window: u64) -> u64 {
        let time = time.max(self.latest);
        self.latest = time;
        // N is at least one for any filter anyone builds; `max` keeps an
        // empty array from dividing by zero all the same.
        let n = (N as u64).max(1);
        if let Some(slot) = self.slots.get_mut((time % n) as usize) {
            if slot.used && slot.time == time {
                slot.value = slot.value.max(value);
            } else {
                *slot = Slot {
                    time,
                    value,
                    used: true,
                };
            }
        }
        self.get(window)
    }

    /// The maximum over the last `window` ticks up to the latest sample's;
    /// zero when none is that recent.
    pub(crate) fn get(&self, window: u64) -> u64 {
        let window = Self::clamp_window(window);
        self.slots
            .iter()
            .filter(|s| s.used && self.latest - s.time < window)
            .map(|s| s.value)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use quickcheck::{Arbitrary, Gen, quickcheck};
    use std::vec::Vec;

    /// One sample: how far the clock moves first, the value, the window.
    #[derive(Clone, Debug)]
    struct Sample {
        advance: u8,
        value: u64,
        window: u8,
    }

    impl Arbitrary for Sample {
        fn arbitrary(g: &mut Gen) -> Self {
            Self {
                // Mostly small steps (several samples per tick), now and
                // then a jump past the whole window.
                advance: match u8::arbitrary(g) % 8 {
                    0..=3 => 0,
                    4 | 5 => 1,
                    6 => 2,
                    _ => u8::arbitrary(g) % 16,
                },
                value: if bool::arbitrary(g) {
                    u64::arbitrary(g)
                } else {
                    u64::arbitrary(g) % 100
                },
                window: u8::arbitrary(g) % 12,
            }
        }
    }

    /// The naive model: every sample kept, the maximum taken over those
    /// of the window.
    fn model_max(samples: &[(u64, u64)], now: u64, window: u64) -> u64 {
        samples
            .iter()
            .filter(|(t, _)| now - t < window)
            .map(|&(_, v)| v)
            .max()
            .unwrap_or(0)
    }

    fn agrees_with_model<const N: usize>(samples: &[Sample]) -> bool {
        let mut filter = WindowedMax::<N>::new();
        let mut kept = Vec::new();
        let mut now = 0u64;
        for s in samples {
            now += u64::from(s.advance);
            let window = u64::from(s.window).clamp(1, N as u64);
            kept.push((now, s.value));
            let got = filter.update(now, s.value, u64::from(s.window));
            if got != model_max(&kept, now, window) || filter.get(window) != got {
                return false;
            }
        }
        true
    }

    quickcheck! {
        /// The filter's maximum is the naive model's after every sample,
        /// for the two sizes BBR uses and a one-slot filter.
        fn matches_the_keep_everything_model(samples: Vec<Sample>) -> bool {
            agrees_with_model::<2>(&samples)
                && agrees_with_model::<10>(&samples)
                && agrees_with_model::<1>(&samples)
        }
    }

    #[test]
    fn a_sample_lasts_its_window_then_goes() {
        let mut f = WindowedMax::<2>::new();
        assert_eq!(f.get(2), 0);
        assert_eq!(f.update(0, 100, 2), 100);
        assert_eq!(f.update(0, 50, 2), 100);
        // The next cycle: the first one's best still counts.
        assert_eq!(f.update(1, 60, 2), 100);
        // Two cycles on, it is out of the window.
        assert_eq!(f.update(2, 70, 2), 70);
        // A narrower window sees only the current tick.
        assert_eq!(f.get(1), 70);
        // A sample stamped in the past counts at the latest tick.
        assert_eq!(f.update(1, 80, 2), 80);
        assert_eq!(f.update(9, 1, 2), 1);
    }
}
