//! The settings of [`RedbStore::open_with`](super::RedbStore::open_with).

use quickchat_core::store::sealing::KdfStrength;

/// When a commit reaches the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is on disk (fsync) when [`Store::commit`](quickchat_core::store::Store::commit) returns: a received message
    /// and the ratchet state it advanced survive a crash or power loss from then on. The
    /// default, and what a messaging client must use.
    #[default]
    Immediate,
    /// Commits are atomic and visible at once but reach the disk only with the next
    /// immediate commit, [`RedbStore::flush`](super::RedbStore::flush), or a clean close; a crash or power loss may
    /// lose the most recent ones (never half of one). For bulk imports that can be redone.
    Deferred,
}

/// Settings for [`RedbStore::open_with`](super::RedbStore::open_with).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// KDF cost of a new store.
    pub kdf: KdfStrength,
    /// When commits reach the disk.
    pub durability: Durability,
    /// Whether opening an existing store verifies the checksum of every page first (on a
    /// scratch overlay: writes go to memory, so a damaged file is refused unchanged). Costs
    /// one read of the whole file (a few ms for 10,000 messages); default `true`.
    pub verify_on_open: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            kdf: KdfStrength::default(),
            durability: Durability::default(),
            verify_on_open: true,
        }
    }
}

impl StoreOptions {
    /// The defaults: recommended KDF, immediate durability, verification on open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether opening verifies every page's checksum first.
    pub fn verify_on_open(mut self, verify: bool) -> Self {
        self.verify_on_open = verify;
        self
    }

    /// Sets the KDF cost of a new store.
    pub fn kdf(mut self, kdf: KdfStrength) -> Self {
        self.kdf = kdf;
        self
    }

    /// Sets when commits reach the disk.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}
