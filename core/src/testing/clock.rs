//! A [`Clock`] whose time moves only when the test moves it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;

use crate::transport::Clock;

/// Virtual time for deterministic tests: `now_ms` returns what the test set, and a
/// `sleep_ms` ends only once [`ManualClock::advance`] (or [`ManualClock::set`]) moved time
/// past its deadline. Clones share one time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    inner: Arc<Mutex<ClockState>>,
}

#[derive(Debug, Default)]
struct ClockState {
    now: i64,
    /// Pending sleeps by id: their deadline and the waker of their last poll.
    sleepers: BTreeMap<u64, (i64, Option<Waker>)>,
    next_id: u64,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        let clock = Self::default();
        clock.lock().now = start_ms;
        clock
    }

    /// Moves time forward by `millis` and wakes every sleep whose deadline passed.
    pub fn advance(&self, millis: u64) {
        let to = self
            .now_ms()
            .saturating_add(i64::try_from(millis).unwrap_or(i64::MAX));
        self.set(to);
    }

    /// Sets the time (it may go back: a wall clock can) and wakes every sleep whose
    /// deadline passed.
    pub fn set(&self, now_ms: i64) {
        let wakers: Vec<Waker> = {
            let mut state = self.lock();
            state.now = now_ms;
            state
                .sleepers
                .values_mut()
                .filter(|(deadline, _)| *deadline <= now_ms)
                .filter_map(|(_, waker)| waker.take())
                .collect()
        };
        // Woken outside the lock: a waker may poll right away on some executors.
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The earliest deadline among the sleeps in progress, if any: where a test that
    /// "lets time pass" should move the clock next.
    pub fn next_deadline(&self) -> Option<i64> {
        self.lock().sleepers.values().map(|(d, _)| *d).min()
    }

    /// How many sleeps are in progress.
    pub fn sleepers(&self) -> usize {
        self.lock().sleepers.len()
    }

    fn lock(&self) -> MutexGuard<'_, ClockState> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.lock().now
    }

    async fn sleep_ms(&self, millis: u64) {
        let id = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            let deadline = state
                .now
                .saturating_add(i64::try_from(millis).unwrap_or(i64::MAX));
            state.sleepers.insert(id, (deadline, None));
            id
        };
        Sleep {
            clock: self.clone(),
            id,
        }
        .await;
    }
}

/// One pending sleep; forgets itself when dropped (a `select!` that took another branch).
struct Sleep {
    clock: ManualClock,
    id: u64,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.clock.lock();
        let now = state.now;
        match state.sleepers.get_mut(&self.id) {
            Some((deadline, _)) if *deadline <= now => {
                state.sleepers.remove(&self.id);
                Poll::Ready(())
            }
            Some((_, waker)) => {
                *waker = Some(cx.waker().clone());
                Poll::Pending
            }
            None => Poll::Ready(()),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.clock.lock().sleepers.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn a_sleep_ends_only_when_time_passes_its_deadline() {
        let clock = ManualClock::new(1_000);
        let mut sleep = Box::pin(clock.sleep_ms(500));
        assert!(sleep.as_mut().now_or_never().is_none());
        assert_eq!(clock.next_deadline(), Some(1_500));
        clock.advance(499);
        assert!(sleep.as_mut().now_or_never().is_none());
        clock.advance(1);
        assert!(sleep.as_mut().now_or_never().is_some());
        assert_eq!(clock.sleepers(), 0);
        assert_eq!(clock.now_ms(), 1_500);
    }

    #[test]
    fn a_dropped_sleep_is_forgotten() {
        let clock = ManualClock::new(0);
        let mut sleep = Box::pin(clock.sleep_ms(10));
        assert!(sleep.as_mut().now_or_never().is_none());
        drop(sleep);
        assert_eq!(clock.next_deadline(), None);
    }
}
