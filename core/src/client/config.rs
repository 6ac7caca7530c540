//! Client settings.

use std::collections::HashSet;

use crate::prekey_care::PrekeyPolicy;
use crate::session::{CoolingConfig, SessionConfig};

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
///
/// The backend has no "everything for me" query: the only way to see what arrived while
/// offline is one history request per peer (PROTOCOL §7). So catch-up reads the
/// conversations this store knows on every connect, and finds *new* peers with the
/// background [`DirectoryScan`] instead of asking about every registered user each time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CatchUpScope {
    /// Every user (`GET /api/users`) on every connect, before anything is sent: nothing
    /// sent while offline is missed, but every connect costs one request per registered
    /// user (10,000 users: 10,000 requests). Only for small servers.
    AllUsers,
    /// The default. Peers with a session or stored messages, the most recent conversation
    /// first, on every connect (what was pending to them is checked before it is resent);
    /// then, in the background and with bounded concurrency, the
    /// [`ClientConfig::directory_scan`] walks the whole user directory now and then to
    /// find first messages from peers this store never dealt with that arrived while it
    /// was offline (while connected they arrive live). Such a message is therefore seen up
    /// to [`DirectoryScan::interval_ms`] (plus the scan's own duration) late.
    #[default]
    KnownPeers,
    /// Only these peers (ids), and no directory scan. An empty list catches up with
    /// nobody: for a short-lived client (a one-shot command) that calls
    /// [`Client::catch_up_with`](super::Client::catch_up_with) itself for the peers it
    /// needs — at least every peer it has pending messages to, so that one whose echo was
    /// lost is recognised and not sent twice.
    Only(Vec<String>),
}

/// The background walk of the user directory that [`CatchUpScope::KnownPeers`] uses to find
/// messages from new peers: one history request per user this connection has not caught up
/// with yet, at most [`DirectoryScan::max_in_flight`] at once, in user-id order. Where it
/// got to is saved in the store after every step, so a restarted client continues the pass
/// instead of starting over. It never runs on the path of a send or a catch-up: it starts
/// [`DirectoryScan::start_after_ms`] after a connection caught up (a short-lived client is
/// gone by then) and runs between the frames the connection serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectoryScan {
    /// A new pass starts this long after the last one finished, ms (30 minutes by default).
    pub interval_ms: u64,
    /// A connection starts scanning only after it stayed up this long, ms.
    pub start_after_ms: u64,
    /// History requests in flight at once.
    pub max_in_flight: usize,
    /// Users per step: their histories are read, processed, and the position saved.
    pub step: usize,
    /// After a failed request the scan pauses this long, ms.
    pub retry_after_ms: u64,
}

impl Default for DirectoryScan {
    fn default() -> Self {
        Self {
            interval_ms: 30 * 60 * 1000,
            start_after_ms: 10_000,
            max_in_flight: 4,
            step: 64,
            retry_after_ms: 60_000,
        }
    }
}

/// How messages to one peer are paced, so that a peer handling messages the way the web app
/// does (PROTOCOL §8) reads them all: its handlers run concurrently and race on the chain
/// state, and the handler of a first message awaits a bundle fetch before it decrypts, so
/// a burst sent at once loses messages there. Pacing is per peer: conversations with other
/// peers are not slowed down, and nothing is lost by it (a waiting message is already saved
/// in the outbox).
///
/// The default costs throughput **per peer** only: at most 10 messages a second to one peer
/// (one per 100 ms), and after a session's first message the next waits until the backend
/// relayed the first one plus two seconds (about 2.1 s, once per session; the web app's
/// handler fetches a bundle before it decrypts a first message, which takes longer on a slow
/// network or device). A bot talking to
/// many peers at once is not slowed down by it. Use [`Pacing::off`] when every peer is an SDK
/// client (they decrypt in order) or for benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    /// Least time between two messages to the same peer, ms (0: no spacing).
    pub min_interval_ms: u64,
    /// After the backend echoed a first message (`x3dh`), the next message to that peer
    /// waits this much longer, ms: the web app decrypts a first message only after a bundle
    /// fetch. An answer from the peer ends the hold at once. 0 turns the hold off.
    pub after_first_message_ms: u64,
    /// The longest a first message holds the next ones when no echo comes, ms.
    pub first_message_max_hold_ms: u64,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            min_interval_ms: 100,
            after_first_message_ms: 2_000,
            first_message_max_hold_ms: 5_000,
        }
    }
}

impl Pacing {
    /// No pacing: everything goes out as soon as it is saved.
    pub fn off() -> Self {
        Self {
            min_interval_ms: 0,
            after_first_message_ms: 0,
            first_message_max_hold_ms: 0,
        }
    }

    /// Whether a first message holds the ones after it.
    pub(crate) fn holds_after_first_message(&self) -> bool {
        self.after_first_message_ms > 0 && self.first_message_max_hold_ms > 0
    }
}

/// What happens when a peer's identity key changes (a first message or a bundle with a key
/// other than the one known). In every case the new key is accepted only if it is the key
/// the peer **publishes** (its bundle, which only the peer's own login can change): a first
/// message built on any other key is refused and changes nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdentityChangePolicy {
    /// The default. A change to a key the user had not verified is accepted once the
    /// published bundle confirms it (an [`Event::IdentityChanged`](super::Event) reports
    /// it, and replies go through the new session); a change to a verified key holds
    /// sending until the app accepts or verifies the new key.
    ///
    /// Why this default: the web app (the peer most users have) gets a new identity on every
    /// reset or re-install and accepts every change silently; holding every unverified
    /// change would stop a bot's conversations with those users until its code reacts,
    /// while the bundle check already refuses what the backend's holes allow anyone to send
    /// (a socket authenticated as any user, an unauthenticated history). What is left is an
    /// attacker who holds the peer's password, which is what verification protects against.
    #[default]
    AcceptPublishedUnverified,
    /// Every change holds sending to the peer until the app accepts
    /// ([`Client::accept_identity`](super::Client::accept_identity)) or verifies the new key.
    HoldUntilAccepted,
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
    /// The background directory scan of [`CatchUpScope::KnownPeers`]; `None` turns it off
    /// (then a first message from a new peer sent while offline is seen only when that
    /// peer writes again while this client is online).
    pub directory_scan: Option<DirectoryScan>,
    /// Peers to whom plaintext may be sent when they have published no keys. Empty by
    /// default: a peer without keys is an error, never a silent downgrade.
    pub plaintext_allowed: HashSet<String>,
    /// Keep the password in memory to log in again when the token expires; without it an
    /// expired token gives [`ClientError::SessionExpired`](super::ClientError::SessionExpired).
    pub remember_password: bool,
    /// How messages to one peer are paced (for web peers; see [`Pacing`]).
    pub pacing: Pacing,
    /// What a peer's changed identity key does to sending.
    pub identity_changes: IdentityChangePolicy,
    /// A peer's bundle is fetched again to look for a reset (after a message from the peer
    /// fails to decrypt, or before sending on a session the peer never answered or has not
    /// used for [`ClientConfig::stale_session_ms`]) at most this often per peer, ms. Each
    /// fetch uses up one of the peer's one-time prekeys on the backend, so the default (10
    /// minutes) bounds that to 6 an hour per peer, and only while one of those conditions
    /// holds.
    pub bundle_recheck_interval_ms: u64,
    /// A session not used for this long is checked against the peer's bundle before the
    /// next send, ms.
    pub stale_session_ms: u64,
    /// The reconnection backoff starts again from its first delay only after a connection
    /// stayed up this long, ms: a server that drops every connection gets ever longer
    /// pauses, not a reconnect and a full catch-up every few seconds.
    pub healthy_connection_ms: u64,
    /// Per-peer budget for messages that fail to decrypt: a peer that spends it is
    /// *cooling*, and its messages wait (unstored, so catch-up retries them) until the
    /// budget refills. See [`Cooling`](crate::session::Cooling).
    pub cooling: CoolingConfig,
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
            directory_scan: Some(DirectoryScan::default()),
            plaintext_allowed: HashSet::new(),
            remember_password: true,
            pacing: Pacing::default(),
            identity_changes: IdentityChangePolicy::default(),
            bundle_recheck_interval_ms: 10 * 60 * 1000,
            stale_session_ms: 24 * 60 * 60 * 1000,
            healthy_connection_ms: 60_000,
            cooling: CoolingConfig::default(),
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
