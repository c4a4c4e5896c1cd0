//! Who waits on what: the facade's waiter registry, one for the blocking
//! and the async API.
//!
//! A waiter is a [`Waker`]: a task's (the async API), or one that unparks
//! a thread (the blocking API, [`thread_waker`]). Each waits on one
//! connection or one listener. The stack says which changed
//! ([`Stack::poll_event`](crate::Stack::poll_event)), and only their
//! waiters are woken: a segment wakes the threads and tasks of its own
//! connection, never every one of the stack (as a condition variable
//! shared by all would). Registration happens under the stack's lock,
//! after the waiter saw that it must wait; waking happens after the event
//! was taken under the same lock; a thread's park token keeps a wake that
//! comes between its unlock and its park.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Wake, Waker};

use crate::stack::{ConnKey, ListenerId, StackEvent};

/// What a waiter waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// A connection: data, room, the handshake, its end.
    Conn(ConnKey),
    /// A listener: a connection to accept.
    Listener(ListenerId),
}

impl Target {
    /// The target an event of the stack concerns.
    pub(crate) fn of(event: StackEvent) -> Self {
        match event {
            StackEvent::Conn(key, _) => Self::Conn(key),
            StackEvent::Acceptable(id) => Self::Listener(id),
        }
    }
}

/// The waiters of each target.
#[derive(Default)]
pub(crate) struct Waiters {
    by_target: HashMap<Target, Vec<Waker>>,
}

impl Waiters {
    /// `waker` waits on `target` (once, however often it registers).
    pub(crate) fn register(&mut self, target: Target, waker: &Waker) {
        let list = self.by_target.entry(target).or_default();
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
        }
    }

    /// Moves `target`'s waiters into `out`, to be woken once the lock is
    /// released.
    pub(crate) fn take(&mut self, target: Target, out: &mut Vec<Waker>) {
        if let Some(list) = self.by_target.remove(&target) {
            out.extend(list);
        }
    }

    /// Every waiter (the stack shuts down).
    pub(crate) fn take_all(&mut self, out: &mut Vec<Waker>) {
        out.extend(self.by_target.drain().flat_map(|(_, list)| list));
    }

    /// Forgets a connection's waiters (its last handle went).
    pub(crate) fn forget(&mut self, target: Target) {
        self.by_target.remove(&target);
    }
}

/// Unparks a thread.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
}

/// The waker of the calling thread: waking it unparks the thread. One per
/// thread, so registering it again is found by `will_wake`.
pub(crate) fn thread_waker() -> Waker {
    THREAD_WAKER.with(Waker::clone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn key(port: u16) -> ConnKey {
        ConnKey {
            local: SocketAddr::from(([198, 18, 0, 1], port)),
            remote: SocketAddr::from(([198, 18, 0, 2], 80)),
        }
    }

    #[test]
    fn a_target_wakes_its_own_waiters_once_each() {
        let mut w = Waiters::default();
        let me = thread_waker();
        w.register(Target::Conn(key(1)), &me);
        w.register(Target::Conn(key(1)), &me);
        w.register(Target::Conn(key(2)), &me);
        let mut out = Vec::new();
        w.take(Target::Conn(key(1)), &mut out);
        assert_eq!(out.len(), 1);
        w.take(Target::Conn(key(1)), &mut out);
        assert_eq!(out.len(), 1, "taken already");
        w.take_all(&mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn a_wake_before_the_park_is_not_lost() {
        let waker = thread_waker();
        let t = std::thread::spawn(move || waker.wake());
        t.join().unwrap();
        // The token is set: this returns at once. Were the wake lost, the
        // park would last the whole bound and the test fail (not hang).
        let bound = std::time::Duration::from_secs(60);
        let start = std::time::Instant::now();
        std::thread::park_timeout(bound);
        assert!(start.elapsed() < bound, "the wake before the park was lost");
    }
}
