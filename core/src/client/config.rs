//! Client settings.

use std::collections::HashSet;

use crate::prekey_care::PrekeyPolicy;
use crate::session::SessionConfig;

/// Reconnection delays: exponential from `initial_ms` to `max_ms`, each with up to
/// `jitter` (a fraction) added at random, retried without limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// First delay, ms.
    pub initial_ms: u64,
    /// Longest delay, ms.
    pub max_ms: u64,
    /// Random extra, as a fraction of the delay (0.0 to 1.0).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial_ms: 3_000,
            max_ms: 60_000,
            jitter: 0.25,
        }
    }
}

impl Backoff {
    /// The delay before reconnection attempt `attempt` (1 for the first), given a random
    /// fraction `random` in [0, 1).
    pub fn delay_ms(&self, attempt: u32, random: f64) -> u64 {
        let exponent = attempt.saturating_sub(1).min(32);
        let base = self
            .initial_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_ms);
        let extra = (base as f64 * self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0)) as u64;
        base.saturating_add(extra)
    }
}

/// Which users the history catch-up asks the backend about after each (re)connect.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CatchUpScope {
    /// Every user (`GET /api/users`): nothing sent while offline is missed, at one request
    /// per user, since the backend has no "messages since" query.
    #[default]
    AllUsers,
    /// Only peers with a session or local history: cheaper, but a first message from a new
    /// peer sent while offline is only seen once that peer writes again while online.
    KnownPeers,
    /// Only these peers (ids). An empty list catches up with nobody: for a short-lived
    /// client (a one-shot command) that calls [`Client::catch_up_with`](super::Client::catch_up_with)
    /// itself for the peers it needs — at least every peer it has pending messages to,
    /// so that one whose echo was lost is recognised and not sent twice.
    Only(Vec<String>),
}

/// How a client behaves.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Session settings (whether to mix in one-time prekeys).
    pub session: SessionConfig,
    /// Prekey upkeep.
    pub prekeys: PrekeyPolicy,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Send a heartbeat after this long without a frame from the backend, ms.
    pub keepalive_interval_ms: u64,
    /// Declare the socket dead when the heartbeat gets no frame back within this, ms.
    pub keepalive_timeout_ms: u64,
    /// Re-check prekeys on the backend this often while connected, ms.
    pub prekey_check_interval_ms: u64,
    /// Which users catch-up covers.
    pub catch_up: CatchUpScope,
    /// Peers to whom plaintext may be sent when they have published no keys. Empty by
    /// default: a peer without keys is an error, never a silent downgrade.
    pub plaintext_allowed: HashSet<String>,
    /// Keep the password in memory to log in again when the token expires; without it an
    /// expired token gives [`ClientError::SessionExpired`](super::ClientError::SessionExpired).
    pub remember_password: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            prekeys: PrekeyPolicy::default(),
            backoff: Backoff::default(),
            keepalive_interval_ms: 30_000,
            keepalive_timeout_ms: 10_000,
            prekey_check_interval_ms: 6 * 60 * 60 * 1000,
            catch_up: CatchUpScope::default(),
            plaintext_allowed: HashSet::new(),
            remember_password: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_3s_to_60s_with_bounded_jitter() {
        let b = Backoff::default();
        assert_eq!(b.delay_ms(1, 0.0), 3_000);
        assert_eq!(b.delay_ms(2, 0.0), 6_000);
        assert_eq!(b.delay_ms(5, 0.0), 48_000);
        assert_eq!(b.delay_ms(6, 0.0), 60_000);
        assert_eq!(b.delay_ms(1000, 0.0), 60_000);
        assert_eq!(b.delay_ms(1, 0.999), 3_749);
        assert!(b.delay_ms(40, 0.5) <= 75_000);
    }
}
