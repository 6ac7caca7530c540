//! A per-peer budget for the work that failed decryptions force.
//!
//! A message costs nothing to forge but up to two thousand KDF steps and three X25519 to
//! refuse (about 12 X25519, 0.55 ms in a release build) (a new ratchet key with `previousChainLength` and `messageNumber` at the skip
//! limit), and that once per session held with the peer. Each peer has a token bucket in
//! KDF-step units ([`Work::units`]): a message that fails to decrypt spends what it cost
//! (at least [`CoolingConfig::failure_floor`]); the bucket refills at a steady rate. While
//! a peer's bucket is empty the peer is *cooling*: its messages are not parsed nor
//! decrypted, and get [`SessionError::Cooling`](super::SessionError::Cooling), which says
//! when to retry. Successful messages cost nothing, so a peer that writes normally never
//! cools, and the budget of one peer never touches another's.
//!
//! Time comes from the caller (milliseconds, any epoch), so tests drive it.

use std::collections::HashMap;

use crate::ratchet::Work;

/// The budget's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoolingConfig {
    /// Units a peer may spend on failed messages at once (the bucket's size).
    pub capacity: u64,
    /// Units given back per second.
    pub refill_per_second: u64,
    /// The least a failed message costs, whatever it derived (parsing and lookups are work
    /// too), so that a flood of cheap failures cools its sender as well.
    pub failure_floor: u64,
}

impl Default for CoolingConfig {
    /// 40,000 units at once (about fifteen maximal forgeries on one session, ~2,600 units
    /// each, or three against a peer with five sessions), 2,000 back per second: after the
    /// first burst a single peer can make this device derive for failed messages for about
    /// 0.5 ms per second (a unit is about a quarter of a microsecond in a release build).
    fn default() -> Self {
        Self {
            capacity: 40_000,
            refill_per_second: 2_000,
            failure_floor: 20,
        }
    }
}

/// Tokens are kept in thousandths of a unit, so a refill of `rate` units per second is
/// exactly `rate` of them per millisecond.
const MILLI: i128 = 1000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Thousandths of a unit; below zero when the last failure cost more than was left.
    tokens: i128,
    at_ms: i64,
}

/// Per-peer budgets of failed decryption work; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Cooling {
    config: CoolingConfig,
    peers: HashMap<String, Bucket>,
}

/// Buckets kept before full ones (the same as no bucket) are dropped.
const PRUNE_ABOVE: usize = 1024;

impl Cooling {
    /// Budgets with these settings.
    pub fn new(config: CoolingConfig) -> Self {
        Self {
            config,
            peers: HashMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &CoolingConfig {
        &self.config
    }

    fn capacity(&self) -> i128 {
        i128::from(self.config.capacity) * MILLI
    }

    /// The peer's tokens at `now_ms` (a clock going backwards refills nothing).
    fn tokens(&self, peer_id: &str, now_ms: i64) -> i128 {
        match self.peers.get(peer_id) {
            None => self.capacity(),
            Some(bucket) => {
                let elapsed = i128::from(now_ms.saturating_sub(bucket.at_ms).max(0));
                let refill = elapsed * i128::from(self.config.refill_per_second);
                (bucket.tokens + refill).min(self.capacity())
            }
        }
    }

    /// Whether a message from the peer may be decrypted at `now_ms`: `Err` holds how many
    /// milliseconds until it may.
    pub fn admit(&self, peer_id: &str, now_ms: i64) -> Result<(), u64> {
        let tokens = self.tokens(peer_id, now_ms);
        // Admitted while at least one whole unit is left.
        if tokens >= MILLI {
            return Ok(());
        }
        let rate = i128::from(self.config.refill_per_second.max(1));
        // Until the bucket holds one whole unit again.
        let missing = MILLI - tokens;
        let wait = (missing + rate - 1) / rate;
        Err(u64::try_from(wait).unwrap_or(u64::MAX))
    }

    /// Whether the peer is cooling at `now_ms`.
    pub fn is_cooling(&self, peer_id: &str, now_ms: i64) -> bool {
        self.admit(peer_id, now_ms).is_err()
    }

    /// Records the outcome of an admitted message and the work it cost: a failure spends
    /// its work (at least the floor) from the peer's budget; a success spends nothing.
    pub fn settle(&mut self, peer_id: &str, now_ms: i64, succeeded: bool, work: Work) {
        if succeeded {
            return;
        }
        let cost = i128::from(work.units().max(self.config.failure_floor)) * MILLI;
        // One expensive failure may overdraw the bucket down to minus its size: the peer
        // then waits in proportion to what it made this device compute.
        let tokens = (self.tokens(peer_id, now_ms) - cost).max(-self.capacity());
        self.peers.insert(
            peer_id.to_string(),
            Bucket {
                tokens,
                at_ms: now_ms,
            },
        );
        if self.peers.len() > PRUNE_ABOVE {
            let full = self.capacity();
            let config = self.config;
            self.peers.retain(|_, bucket| {
                let elapsed = i128::from(now_ms.saturating_sub(bucket.at_ms).max(0));
                bucket.tokens + elapsed * i128::from(config.refill_per_second) < full
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(chain_steps: u32) -> Work {
        Work { chain_steps, dh: 0 }
    }

    fn small() -> Cooling {
        Cooling::new(CoolingConfig {
            capacity: 100,
            refill_per_second: 10,
            failure_floor: 5,
        })
    }

    #[test]
    fn failures_spend_in_proportion_until_the_peer_cools() {
        let mut cooling = small();
        assert_eq!(cooling.admit("x", 0), Ok(()));
        cooling.settle("x", 0, false, steps(60));
        assert_eq!(cooling.admit("x", 0), Ok(()));
        cooling.settle("x", 0, false, steps(40));
        // 100 spent of 100: one unit back takes 1/10 s.
        assert_eq!(cooling.admit("x", 0), Err(100));
        assert!(cooling.is_cooling("x", 99));
        assert_eq!(cooling.admit("x", 100), Ok(()));
    }

    #[test]
    fn successes_cost_nothing_and_failures_cost_at_least_the_floor() {
        let mut cooling = small();
        for _ in 0..1000 {
            cooling.settle("x", 0, true, steps(2000));
        }
        assert_eq!(cooling.admit("x", 0), Ok(()));
        for _ in 0..19 {
            cooling.settle("x", 0, false, Work::default());
        }
        assert_eq!(cooling.admit("x", 0), Ok(()));
        cooling.settle("x", 0, false, Work::default());
        assert!(cooling.is_cooling("x", 0));
    }

    #[test]
    fn an_expensive_failure_overdraws_and_waits_in_proportion() {
        let mut cooling = small();
        cooling.settle("x", 0, false, steps(150));
        // -50 units: 51 units back at 10 per second.
        assert_eq!(cooling.admit("x", 0), Err(5100));
        // The overdraft stops at minus the capacity.
        cooling.settle("x", 0, false, steps(10_000));
        assert_eq!(cooling.admit("x", 0), Err(10_100));
        assert_eq!(cooling.admit("x", 10_100), Ok(()));
    }

    #[test]
    fn peers_have_separate_budgets() {
        let mut cooling = small();
        cooling.settle("x", 0, false, steps(500));
        assert!(cooling.is_cooling("x", 0));
        assert_eq!(cooling.admit("y", 0), Ok(()));
    }

    #[test]
    fn refill_stops_at_capacity_and_ignores_a_clock_going_back() {
        let mut cooling = small();
        cooling.settle("x", 1_000, false, steps(100));
        assert!(cooling.is_cooling("x", 0));
        // A long quiet time refills only up to the capacity.
        cooling.settle("x", 1_000_000, false, steps(99));
        assert_eq!(cooling.admit("x", 1_000_000), Ok(()));
        cooling.settle("x", 1_000_000, false, steps(1));
        assert!(cooling.is_cooling("x", 1_000_000));
    }

    #[test]
    fn full_buckets_are_pruned() {
        let mut cooling = small();
        for i in 0..=PRUNE_ABOVE {
            cooling.settle(&format!("p{i}"), 0, false, steps(5));
        }
        cooling.settle("late", 1_000, false, steps(5));
        assert_eq!(cooling.peers.len(), 1);
        assert_eq!(cooling.admit("p0", 1_000), Ok(()));
    }
}
