//! The stash of message keys for messages not yet received: bounded per step and in
//! total, oldest evicted first, in insertion order (which the reference format keeps).

use indexmap::IndexMap;

use super::MessageKey;
use crate::keys::PublicKey;

/// At most this many keys may be skipped by one message (the reference's limit).
pub const MAX_SKIP_PER_STEP: u32 = 1000;
/// At most this many skipped keys are kept per session; the oldest go first.
pub const MAX_SKIPPED_TOTAL: usize = 2000;

/// Skipped message keys, keyed by the chain's ratchet key and the message number.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SkippedKeys {
    keys: IndexMap<(PublicKey, u32), MessageKey>,
}

impl SkippedKeys {
    /// The key stored for a message, if any.
    pub fn get(&self, ratchet_key: &PublicKey, message_number: u32) -> Option<&MessageKey> {
        if self.keys.is_empty() {
            return None;
        }
        self.keys.get(&(*ratchet_key, message_number))
    }

    /// Forgets a key once it has been used.
    pub fn remove(&mut self, ratchet_key: &PublicKey, message_number: u32) {
        self.keys.shift_remove(&(*ratchet_key, message_number));
    }

    /// Adds keys, evicting the oldest beyond [`MAX_SKIPPED_TOTAL`].
    pub fn extend(&mut self, keys: impl IntoIterator<Item = ((PublicKey, u32), MessageKey)>) {
        self.keys.extend(keys);
        let overflow = self.keys.len().saturating_sub(MAX_SKIPPED_TOTAL);
        if overflow > 0 {
            self.keys.drain(..overflow);
        }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, u32, &MessageKey)> {
        self.keys.iter().map(|((key, n), mk)| (key, *n, mk))
    }
}

/// Collects keys as [`SkippedKeys::extend`] adds them (the oldest evicted beyond the bound).
impl FromIterator<((PublicKey, u32), MessageKey)> for SkippedKeys {
    fn from_iter<I: IntoIterator<Item = ((PublicKey, u32), MessageKey)>>(keys: I) -> Self {
        let mut skipped = SkippedKeys::default();
        skipped.extend(keys);
        skipped
    }
}

impl std::fmt::Debug for SkippedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SkippedKeys({} keys)", self.keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_beyond_the_bound() {
        let chain = PublicKey::from_bytes([1; 32]);
        let mut stash = SkippedKeys::default();
        stash.extend(
            (0..MAX_SKIPPED_TOTAL as u32 + 5)
                .map(|n| ((chain, n), MessageKey::from_bytes([(n % 251) as u8; 32]))),
        );
        assert_eq!(stash.len(), MAX_SKIPPED_TOTAL);
        assert!(stash.get(&chain, 4).is_none());
        assert!(stash.get(&chain, 5).is_some());
        assert_eq!(stash.iter().next().map(|(_, n, _)| n), Some(5));
        stash.remove(&chain, 5);
        assert!(stash.get(&chain, 5).is_none());
    }
}
