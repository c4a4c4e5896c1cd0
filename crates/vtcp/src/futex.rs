//! Room in the process's futex hash for the threads the blocking API
//! parks.
//!
//! A thread blocked in [`TcpStream::read`](crate::TcpStream), `write`,
//! `accept` or `connect` parks on a futex of its own. Since Linux 6.16 a
//! process's private futexes hash into a table of its own, sized by the
//! CPUs (16 slots on a 2-CPU machine), so with thousands of threads
//! parked every wake walks a chain of hundreds: measured with 10,000
//! echo connections (`vtcp-lab bench echo`), 34 % of the machine's time
//! went into `futex_wake`, and 8,121 round trips/s became 50,989 with the
//! table at 16,384 slots. As more threads park, the table is grown
//! (`prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, n)`), once per
//! doubling, to at least twice their number. It only ever grows; on older
//! kernels, or elsewhere than Linux, nothing happens.
//!
//! A program that sizes the table itself, or wants the library to leave
//! process-wide settings alone, turns this off with
//! [`set_futex_hash_growth`] before its threads park.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Whether the table may be grown ([`set_futex_hash_growth`]).
static GROWTH: AtomicBool = AtomicBool::new(true);

/// Lets the blocking API grow the process's futex hash as threads park
/// (`true`, the default: see the module's measurements) or never touch it
/// (`false`: `prctl(PR_FUTEX_HASH)` is never called from then on). A
/// process-wide setting, as the table is; returns the previous one.
pub fn set_futex_hash_growth(on: bool) -> bool {
    GROWTH.swap(on, Ordering::Relaxed)
}

/// Threads parked by the blocking API, in all stacks of the process.
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// The number of parked threads at which the table grows next.
static NEXT: AtomicUsize = AtomicUsize::new(FIRST);

/// Below this many parked threads the kernel's own table serves.
const FIRST: usize = 256;

/// The most slots asked for.
const MOST: usize = 1 << 20;

/// Counts a thread about to park (and grows the table when due); the
/// guard counts it out.
pub(crate) fn parking() -> Parked {
    let n = PARKED.fetch_add(1, Ordering::Relaxed) + 1;
    let next = NEXT.load(Ordering::Relaxed);
    if n >= next
        && GROWTH.load(Ordering::Relaxed)
        && NEXT
            .compare_exchange(next, next * 2, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        grow((4 * next).next_power_of_two().min(MOST));
    }
    Parked
}

/// A parked thread, counted until it is dropped.
pub(crate) struct Parked;

impl Drop for Parked {
    fn drop(&mut self) {
        PARKED.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(target_os = "linux")]
fn grow(slots: usize) {
    /// `PR_FUTEX_HASH` and `PR_FUTEX_HASH_SET_SLOTS` (Linux 6.16,
    /// include/uapi/linux/prctl.h); the libc crate has no names for them
    /// yet.
    const PR_FUTEX_HASH: libc::c_int = 78;
    const PR_FUTEX_HASH_SET_SLOTS: libc::c_ulong = 1;
    #[allow(
        unsafe_code,
        reason = "prctl has no safe wrapper for PR_FUTEX_HASH; it takes integers only"
    )]
    // SAFETY: prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, slots, 0, 0)
    // passes no pointer and changes only the size of this process's
    // futex hash; a kernel without it returns EINVAL, which is ignored
    // (the table stays as it was).
    let _ = unsafe {
        libc::prctl(
            PR_FUTEX_HASH,
            PR_FUTEX_HASH_SET_SLOTS,
            slots as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
}

#[cfg(not(target_os = "linux"))]
fn grow(_: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Turned off, parking past the threshold grows nothing (the
    /// threshold, which moves only when the table grows, stays); turned
    /// back on, it grows again. (The one test here that parks, so the
    /// process-wide counts are its own.)
    #[test]
    fn growth_turned_off_leaves_the_table_alone() {
        let before = NEXT.load(Ordering::Relaxed);
        assert!(set_futex_hash_growth(false));
        let guards: Vec<_> = (0..before + 1).map(|_| parking()).collect();
        assert_eq!(NEXT.load(Ordering::Relaxed), before);
        drop(guards);
        assert!(!set_futex_hash_growth(true));
        let guards: Vec<_> = (0..before + 1).map(|_| parking()).collect();
        assert!(NEXT.load(Ordering::Relaxed) >= 2 * before);
        drop(guards);
    }
}
