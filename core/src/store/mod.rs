//! The storage seam: what core reads and writes, and an in-memory implementation.
//!
//! Reads are one method per kind of record. Every write goes through
//! [`Store::commit`] as one [`WriteBatch`] that the platform applies atomically (one redb
//! write transaction, one IndexedDB transaction), so a received message and the ratchet state
//! it advanced are saved together or not at all.

pub mod binary;
mod memory;
mod records;
pub mod sealing;

use async_trait::async_trait;

pub use memory::MemoryStore;
pub use records::{
    AccountMeta, ContentKind, Conversation, Direction, IdentityRecord, KnownIdentity, MessageQuery,
    MessageRecord, MessageStatus, OneTimePrekeyRecord, SavedLogin, ScanProgress,
    SignedPrekeyRecord,
};

use crate::platform::{MaybeSend, MaybeSync};
use crate::session::PeerSessions;

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database itself failed.
    #[error("storage failed while {context}: {detail}")]
    Backend {
        /// What was being done.
        context: String,
        /// What the database reported.
        detail: String,
    },
    /// A record exists but cannot be read (damaged, or written by an unknown version).
    #[error("stored {what} is damaged: {detail}")]
    Corrupt {
        /// Which record.
        what: String,
        /// Why it cannot be read.
        detail: String,
    },
    /// The passphrase does not open this store.
    #[error("wrong passphrase for this store")]
    WrongPassphrase,
    /// The store is already open, in this process or another; close it there first.
    #[error("the store {what} is already open (in this process or another); close it first")]
    InUse {
        /// Which store (its path, for a file).
        what: String,
    },
}

/// One write.
#[derive(Clone, Debug)]
pub enum StoreOp {
    /// Set the account's identity.
    PutIdentity(IdentityRecord),
    /// Set the prekey bookkeeping.
    PutAccountMeta(AccountMeta),
    /// Add or replace a signed prekey.
    PutSignedPrekey(SignedPrekeyRecord),
    /// Forget a signed prekey.
    DeleteSignedPrekey(u32),
    /// Add or replace a one-time prekey.
    PutOneTimePrekey(OneTimePrekeyRecord),
    /// Forget a one-time prekey (used by a first message).
    DeleteOneTimePrekey(u32),
    /// Add or replace a peer's sessions.
    PutSessions(PeerSessions),
    /// Forget a peer's sessions.
    DeleteSessions(String),
    /// Add or replace what is known of a peer's identity.
    PutKnownIdentity(KnownIdentity),
    /// Add or replace a message.
    PutMessage(MessageRecord),
    /// Forget a message (a pending group message replaced by the backend's copy, whose
    /// id the backend chose).
    DeleteMessage(String),
    /// Forget every key, session and known identity (E2EE reset); messages stay.
    ClearKeys,
}

/// How soon a committed batch must be on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchDurability {
    /// On disk when the commit returns (a received message and its session, an outgoing
    /// message before it is sent).
    #[default]
    Immediate,
    /// Atomic and visible at once, but may reach the disk with a later commit: for
    /// bookkeeping that the next catch-up would restore anyway (delivery statuses), and for
    /// writes whose loss the protocol survives (a session's next state after a message it
    /// received: lost, the message would open once more). [`Store::settled`] waits for them.
    Relaxed,
}

/// Writes applied together or not at all.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    ops: Vec<StoreOp>,
    durability: BatchDurability,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write.
    pub fn push(&mut self, op: StoreOp) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// The writes, in order.
    pub fn ops(&self) -> &[StoreOp] {
        &self.ops
    }

    /// Takes the writes out.
    pub fn into_ops(self) -> Vec<StoreOp> {
        self.ops
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Marks the batch as not needing to be on disk before the commit returns.
    pub fn relaxed(mut self) -> Self {
        self.durability = BatchDurability::Relaxed;
        self
    }

    /// How soon the batch must be on disk.
    pub fn durability(&self) -> BatchDurability {
        self.durability
    }
}

/// Persistent state of one account on one device.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait Store: MaybeSend + MaybeSync {
    /// The account's identity, if one was made or imported.
    async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError>;
    /// Prekey bookkeeping.
    async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError>;
    /// One signed prekey.
    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError>;
    /// All signed prekeys, by id.
    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError>;
    /// One one-time prekey.
    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError>;
    /// All one-time prekeys, by id.
    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError>;
    /// A peer's sessions.
    async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError>;
    /// The peers with sessions.
    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError>;
    /// What is known of a peer's identity.
    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError>;
    /// One message.
    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;
    /// Messages matching `query`, oldest first.
    async fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError>;
    /// Every conversation with stored messages and the timestamp of its latest one (ms),
    /// the most recent first. Catch-up orders known peers by it on every connect; a store
    /// with an index by conversation answers without opening each message.
    async fn conversation_activity(&self) -> Result<Vec<(Conversation, i64)>, StoreError> {
        let mut latest: std::collections::BTreeMap<Conversation, i64> =
            std::collections::BTreeMap::new();
        for message in self.messages(&MessageQuery::default()).await? {
            let at = latest.entry(message.conversation).or_insert(i64::MIN);
            *at = (*at).max(message.timestamp);
        }
        Ok(by_recency(latest))
    }
    /// Applies every write of `batch` atomically.
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError>;
    /// Resolves once every batch committed before is durable, relaxed ones included (see
    /// [`BatchDurability::Relaxed`]), or with why one could not be written. A store that
    /// writes every batch before its commit returns has nothing to wait for.
    async fn settled(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Conversations and their latest timestamps, the most recent first (ties by conversation).
pub fn by_recency(
    latest: impl IntoIterator<Item = (Conversation, i64)>,
) -> Vec<(Conversation, i64)> {
    let mut list: Vec<(Conversation, i64)> = latest.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

/// Forwards every [`Store`] method through a pointer type, so an engine can own an `Arc`
/// of a store (or borrow one) while other parts of the client use it too.
macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
        #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
        impl<S: Store + ?Sized> Store for $ty {
            async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
                (**self).identity().await
            }
            async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError> {
                (**self).account_meta().await
            }
            async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError> {
                (**self).signed_prekey(id).await
            }
            async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError> {
                (**self).signed_prekeys().await
            }
            async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError> {
                (**self).one_time_prekey(id).await
            }
            async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError> {
                (**self).one_time_prekeys().await
            }
            async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
                (**self).peer_sessions(peer_id).await
            }
            async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
                (**self).session_peer_ids().await
            }
            async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
                (**self).known_identity(peer_id).await
            }
            async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
                (**self).message(id).await
            }
            async fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
                (**self).messages(query).await
            }
            async fn conversation_activity(&self) -> Result<Vec<(Conversation, i64)>, StoreError> {
                (**self).conversation_activity().await
            }
            async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
                (**self).commit(batch).await
            }
            async fn settled(&self) -> Result<(), StoreError> {
                (**self).settled().await
            }
        }
    )*};
}

forward_store!(&S, std::sync::Arc<S>, Box<S>);
// In the browser, where nothing is `Send`, the platform keeps an `Rc` of its store to close
// it (and let go of its cross-tab lock) while the client still owns it.
#[cfg(target_arch = "wasm32")]
forward_store!(std::rc::Rc<S>);
