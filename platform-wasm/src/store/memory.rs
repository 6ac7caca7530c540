//! [`KeyMemoryStore`]: the drop-in's `storage: 'memory'`, a [`Store`] in memory that keeps
//! keys, sessions and known identities but no messages.
//!
//! Why not core's `MemoryStore`: the drop-in never reads or writes messages, yet through
//! the `Store` trait object core's store brought its whole history (message maps, the
//! query filter with its Unicode case folding) into the drop-in's module. This one answers
//! a message read or write with a store error, as the drop-in's IndexedDB store does, and
//! keeps each kind of record in a `Vec` sorted by key instead of a `BTreeMap` (a fraction
//! of the code per record type; a user has a few hundred records at most).

use std::cell::RefCell;

use async_trait::async_trait;
use quickchat_core::session::PeerSessions;
use quickchat_core::store::{
    AccountMeta, Conversation, IdentityRecord, KnownIdentity, MessageQuery, MessageRecord,
    OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, StoreOp, WriteBatch,
};

/// Records of one kind, sorted by key (what `BTreeMap` iteration gives).
struct Sorted<V> {
    items: Vec<V>,
    key: fn(&V) -> &str,
}

/// Prekeys are keyed by number: kept sorted by it, looked up by it.
struct ById<V> {
    items: Vec<V>,
    id: fn(&V) -> u32,
}

impl<V: Clone> Sorted<V> {
    fn new(key: fn(&V) -> &str) -> Self {
        Self {
            items: Vec::new(),
            key,
        }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.items
            .binary_search_by(|item| (self.key)(item).cmp(key))
    }

    fn get(&self, key: &str) -> Option<V> {
        self.find(key).ok().map(|at| self.items[at].clone())
    }

    fn put(&mut self, value: V) {
        match self.find((self.key)(&value)) {
            Ok(at) => self.items[at] = value,
            Err(at) => self.items.insert(at, value),
        }
    }

    fn delete(&mut self, key: &str) {
        if let Ok(at) = self.find(key) {
            self.items.remove(at);
        }
    }
}

impl<V: Clone> ById<V> {
    fn new(id: fn(&V) -> u32) -> Self {
        Self {
            items: Vec::new(),
            id,
        }
    }

    fn find(&self, id: u32) -> Result<usize, usize> {
        self.items.binary_search_by(|item| (self.id)(item).cmp(&id))
    }

    fn get(&self, id: u32) -> Option<V> {
        self.find(id).ok().map(|at| self.items[at].clone())
    }

    fn put(&mut self, value: V) {
        match self.find((self.id)(&value)) {
            Ok(at) => self.items[at] = value,
            Err(at) => self.items.insert(at, value),
        }
    }

    fn delete(&mut self, id: u32) {
        if let Ok(at) = self.find(id) {
            self.items.remove(at);
        }
    }
}

struct Contents {
    identity: Option<IdentityRecord>,
    meta: Option<AccountMeta>,
    signed_prekeys: ById<SignedPrekeyRecord>,
    one_time_prekeys: ById<OneTimePrekeyRecord>,
    sessions: Sorted<PeerSessions>,
    identities: Sorted<KnownIdentity>,
}

/// An in-memory store of keys and sessions (no messages). Commits are atomic: applying an
/// op cannot fail, and nothing else runs while a batch is applied (one thread, no `await`
/// inside).
pub struct KeyMemoryStore {
    contents: RefCell<Contents>,
}

impl Default for KeyMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for KeyMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyMemoryStore")
    }
}

impl KeyMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            contents: RefCell::new(Contents {
                identity: None,
                meta: None,
                signed_prekeys: ById::new(|r| r.prekey.id()),
                one_time_prekeys: ById::new(|r| r.prekey.id()),
                sessions: Sorted::new(|r| &r.peer_id),
                identities: Sorted::new(|r| &r.peer_id),
            }),
        }
    }
}

/// The answer to a message read or write: this store keeps none.
fn no_messages() -> StoreError {
    StoreError::Backend {
        context: "using message history".into(),
        detail: "the drop-in's memory store keeps no messages".into(),
    }
}

#[async_trait(?Send)]
impl Store for KeyMemoryStore {
    async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
        Ok(self.contents.borrow().identity.clone())
    }

    async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError> {
        Ok(self.contents.borrow().meta.clone())
    }

    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError> {
        Ok(self.contents.borrow().signed_prekeys.get(id))
    }

    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError> {
        Ok(self.contents.borrow().signed_prekeys.items.clone())
    }

    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError> {
        Ok(self.contents.borrow().one_time_prekeys.get(id))
    }

    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError> {
        Ok(self.contents.borrow().one_time_prekeys.items.clone())
    }

    async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        Ok(self.contents.borrow().sessions.get(peer_id))
    }

    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        let contents = self.contents.borrow();
        Ok(contents
            .sessions
            .items
            .iter()
            .map(|s| s.peer_id.clone())
            .collect())
    }

    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
        Ok(self.contents.borrow().identities.get(peer_id))
    }

    async fn message(&self, _id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Err(no_messages())
    }

    async fn messages(&self, _query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        Err(no_messages())
    }

    // What the default would give, without its aggregation over messages (code the drop-in's
    // module would carry for nothing).
    async fn conversation_activity(&self) -> Result<Vec<(Conversation, i64)>, StoreError> {
        Err(no_messages())
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        // Checked first, so a refused batch writes nothing.
        if batch
            .ops()
            .iter()
            .any(|op| matches!(op, StoreOp::PutMessage(_) | StoreOp::DeleteMessage(_)))
        {
            return Err(no_messages());
        }
        self.apply(batch);
        Ok(())
    }
}

impl KeyMemoryStore {
    /// Applies the batch's writes (a message's are ignored: the callers refuse them).
    pub(crate) fn apply(&self, batch: WriteBatch) {
        let mut contents = self.contents.borrow_mut();
        for op in batch.into_ops() {
            match op {
                StoreOp::PutIdentity(r) => contents.identity = Some(r),
                StoreOp::PutAccountMeta(r) => contents.meta = Some(r),
                StoreOp::PutSignedPrekey(r) => contents.signed_prekeys.put(r),
                StoreOp::DeleteSignedPrekey(id) => contents.signed_prekeys.delete(id),
                StoreOp::PutOneTimePrekey(r) => contents.one_time_prekeys.put(r),
                StoreOp::DeleteOneTimePrekey(id) => contents.one_time_prekeys.delete(id),
                StoreOp::PutSessions(r) => contents.sessions.put(r),
                StoreOp::DeleteSessions(peer) => contents.sessions.delete(&peer),
                StoreOp::PutKnownIdentity(r) => contents.identities.put(r),
                StoreOp::ClearKeys => {
                    contents.identity = None;
                    contents.meta = None;
                    contents.signed_prekeys.items.clear();
                    contents.one_time_prekeys.items.clear();
                    contents.sessions.items.clear();
                    contents.identities.items.clear();
                }
                StoreOp::PutMessage(_) | StoreOp::DeleteMessage(_) => {}
            }
        }
    }
}
