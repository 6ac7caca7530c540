//! What tests observe and steer in a running server, kept by the
//! [`TestServer`](crate::TestServer) so that it survives restarts: the `message` frames
//! received, and the delay of history answers.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Shared between the server's handlers and its [`TestServer`](crate::TestServer).
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    /// `message` frames received from authenticated sockets, by (sender id, `messageId`).
    message_frames: Mutex<HashMap<(String, String), usize>>,
    history_delay: Mutex<Duration>,
    echo_delay: Mutex<Duration>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hooks {
    /// Hooks with the configured history delay.
    pub(crate) fn new(history_delay: Duration) -> Self {
        Hooks {
            message_frames: Mutex::default(),
            history_delay: Mutex::new(history_delay),
            echo_delay: Mutex::default(),
        }
    }

    /// Counts one `message` frame of `sender` carrying `message_id`.
    pub(crate) fn count_message_frame(&self, sender: &str, message_id: &str) {
        *lock(&self.message_frames)
            .entry((sender.to_owned(), message_id.to_owned()))
            .or_default() += 1;
    }

    /// Every count so far.
    pub(crate) fn message_frame_counts(&self) -> HashMap<(String, String), usize> {
        lock(&self.message_frames).clone()
    }

    /// How long history answers are held back.
    pub(crate) fn history_delay(&self) -> Duration {
        *lock(&self.history_delay)
    }

    /// How long the echo of a `message` frame to its sender is held back.
    pub(crate) fn echo_delay(&self) -> Duration {
        *lock(&self.echo_delay)
    }

    /// Changes how long echoes are held back.
    pub(crate) fn set_echo_delay(&self, delay: Duration) {
        *lock(&self.echo_delay) = delay;
    }

    /// Changes how long history answers are held back.
    pub(crate) fn set_history_delay(&self, delay: Duration) {
        *lock(&self.history_delay) = delay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_counted_per_sender_and_id() {
        let hooks = Hooks::default();
        hooks.count_message_frame("a", "m1");
        hooks.count_message_frame("a", "m1");
        hooks.count_message_frame("b", "m1");
        let counts = hooks.message_frame_counts();
        assert_eq!(counts[&("a".to_owned(), "m1".to_owned())], 2);
        assert_eq!(counts[&("b".to_owned(), "m1".to_owned())], 1);
        assert_eq!(counts.len(), 2);
    }
}
