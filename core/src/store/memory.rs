//! A [`Store`] in memory, for tests and for clients that keep nothing.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    AccountMeta, IdentityRecord, KnownIdentity, MessageQuery, MessageRecord, OneTimePrekeyRecord,
    SignedPrekeyRecord, Store, StoreError, StoreOp, WriteBatch,
};
use crate::session::PeerSessions;

#[derive(Default)]
struct Contents {
    identity: Option<IdentityRecord>,
    meta: Option<AccountMeta>,
    signed_prekeys: BTreeMap<u32, SignedPrekeyRecord>,
    one_time_prekeys: BTreeMap<u32, OneTimePrekeyRecord>,
    sessions: BTreeMap<String, PeerSessions>,
    identities: BTreeMap<String, KnownIdentity>,
    messages: BTreeMap<String, MessageRecord>,
}

/// An in-memory store. Commits are atomic; [`MemoryStore::fail_commits`] makes them fail,
/// so tests can check that a failed write leaves everything as it was.
#[derive(Default)]
pub struct MemoryStore {
    contents: Mutex<Contents>,
    failing: Mutex<bool>,
    commits: Mutex<u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `fail` is true, every commit fails and writes nothing.
    pub fn fail_commits(&self, fail: bool) {
        *lock(&self.failing) = fail;
    }

    /// The number of commits written so far: lets a test check what is written together.
    pub fn commit_count(&self) -> u64 {
        *lock(&self.commits)
    }

    fn contents(&self) -> MutexGuard<'_, Contents> {
        lock(&self.contents)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let contents = self.contents();
        f.debug_struct("MemoryStore")
            .field("has_identity", &contents.identity.is_some())
            .field("sessions", &contents.sessions.len())
            .field("messages", &contents.messages.len())
            .finish()
    }
}

// Nothing done under the lock can panic halfway through a change, so a poisoned lock
// still guards consistent contents.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl Store for MemoryStore {
    async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
        Ok(self.contents().identity.clone())
    }

    async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError> {
        Ok(self.contents().meta.clone())
    }

    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError> {
        Ok(self.contents().signed_prekeys.get(&id).cloned())
    }

    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError> {
        Ok(self.contents().signed_prekeys.values().cloned().collect())
    }

    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError> {
        Ok(self.contents().one_time_prekeys.get(&id).cloned())
    }

    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError> {
        Ok(self.contents().one_time_prekeys.values().cloned().collect())
    }

    async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        Ok(self.contents().sessions.get(peer_id).cloned())
    }

    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.contents().sessions.keys().cloned().collect())
    }

    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
        Ok(self.contents().identities.get(peer_id).cloned())
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self.contents().messages.get(id).cloned())
    }

    async fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        let contents = self.contents();
        let mut found: Vec<MessageRecord> = contents
            .messages
            .values()
            .filter(|m| query.matches(m))
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
        if let Some(limit) = query.limit {
            let skip = found.len().saturating_sub(limit);
            found.drain(..skip);
        }
        Ok(found)
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if *lock(&self.failing) {
            return Err(StoreError::Backend {
                context: "committing".into(),
                detail: "commit failure injected by the test".into(),
            });
        }
        if !batch.is_empty() {
            *lock(&self.commits) += 1;
        }
        // Applying an op cannot fail, so applying them one by one under the lock is atomic
        // for every reader.
        let mut guard = self.contents();
        let next = &mut *guard;
        for op in batch.into_ops() {
            match op {
                StoreOp::PutIdentity(r) => next.identity = Some(r),
                StoreOp::PutAccountMeta(r) => next.meta = Some(r),
                StoreOp::PutSignedPrekey(r) => {
                    next.signed_prekeys.insert(r.prekey.id(), r);
                }
                StoreOp::DeleteSignedPrekey(id) => {
                    next.signed_prekeys.remove(&id);
                }
                StoreOp::PutOneTimePrekey(r) => {
                    next.one_time_prekeys.insert(r.prekey.id(), r);
                }
                StoreOp::DeleteOneTimePrekey(id) => {
                    next.one_time_prekeys.remove(&id);
                }
                StoreOp::PutSessions(r) => {
                    next.sessions.insert(r.peer_id.clone(), r);
                }
                StoreOp::DeleteSessions(peer) => {
                    next.sessions.remove(&peer);
                }
                StoreOp::PutKnownIdentity(r) => {
                    next.identities.insert(r.peer_id.clone(), r);
                }
                StoreOp::PutMessage(r) => {
                    next.messages.insert(r.id.clone(), r);
                }
                StoreOp::DeleteMessage(id) => {
                    next.messages.remove(&id);
                }
                StoreOp::ClearKeys => {
                    next.identity = None;
                    next.meta = None;
                    next.signed_prekeys.clear();
                    next.one_time_prekeys.clear();
                    next.sessions.clear();
                    next.identities.clear();
                }
            }
        }
        Ok(())
    }
}
