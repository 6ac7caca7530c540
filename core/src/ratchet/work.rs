//! What a decryption made this device compute, so a peer's failed messages can be charged
//! for the work they forced.

use std::ops::AddAssign;

/// One X25519 (a DH or a key generation) counted in KDF chain steps. From the release
/// bench (`benches/hostile.rs`): a maximal forgery (2,000 chain steps and 2⅓ X25519) costs
/// about 12 X25519, so one X25519 is worth about 200 chain steps. A key generation (a third
/// of a DH with the precomputed tables) is counted as a whole one.
pub const DH_IN_CHAIN_STEPS: u64 = 200;

/// Derivation work done by a decryption attempt: KDF chain steps and X25519 operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Chain steps (`KDF_CK`, two HMAC-SHA256 each).
    pub chain_steps: u32,
    /// X25519 operations (DH or key generation).
    pub dh: u32,
}

impl Work {
    /// The work in chain-step units, an X25519 counting [`DH_IN_CHAIN_STEPS`].
    pub fn units(&self) -> u64 {
        u64::from(self.chain_steps) + u64::from(self.dh) * DH_IN_CHAIN_STEPS
    }

    pub(crate) fn add_steps(&mut self, steps: u32) {
        self.chain_steps = self.chain_steps.saturating_add(steps);
    }

    pub(crate) fn add_dh(&mut self) {
        self.dh = self.dh.saturating_add(1);
    }
}

impl AddAssign for Work {
    fn add_assign(&mut self, other: Work) {
        self.add_steps(other.chain_steps);
        self.dh = self.dh.saturating_add(other.dh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_weigh_dh_and_saturate() {
        let mut work = Work::default();
        work.add_steps(10);
        work.add_dh();
        assert_eq!(work.units(), 10 + DH_IN_CHAIN_STEPS);
        work += Work {
            chain_steps: u32::MAX,
            dh: 1,
        };
        assert_eq!(work.chain_steps, u32::MAX);
        assert_eq!(work.dh, 2);
    }
}
