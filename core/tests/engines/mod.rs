//! Shared by the engine test suites: engines on in-memory stores, bundles as the backend
//! hands them out, and sending and receiving with everything committed.
#![allow(dead_code)]

use futures_executor::block_on;
use quickchat_core::account::create_account;
use quickchat_core::keys::OneTimePrekeyPublic;
use quickchat_core::session::{Incoming, PeerSessions, SessionConfig, SessionEngine, SessionError};
use quickchat_core::store::{
    AccountMeta, Conversation, IdentityRecord, KnownIdentity, MemoryStore, MessageQuery,
    MessageRecord, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, WriteBatch,
};
use quickchat_core::x3dh::PrekeyBundle;
use rand_chacha::ChaCha20Rng;

pub(crate) type Engine = SessionEngine<MemoryStore>;

/// A fresh account's engine with the default settings.
pub(crate) fn engine(user: &str, rng: &mut ChaCha20Rng) -> Engine {
    engine_with(user, rng, SessionConfig::default())
}

/// A fresh account's engine with `config`.
pub(crate) fn engine_with(user: &str, rng: &mut ChaCha20Rng, config: SessionConfig) -> Engine {
    let store = MemoryStore::new();
    block_on(create_account(&store, user, 0, rng)).unwrap();
    block_on(SessionEngine::open(store, config)).unwrap()
}

/// A bundle as the backend would hand it out: the current signed prekey and the next
/// one-time prekey (which the backend then marks used).
pub(crate) fn bundle(engine: &Engine, one_time_index: usize) -> PrekeyBundle {
    let store = engine.store();
    let otk = &block_on(store.one_time_prekeys()).unwrap()[one_time_index];
    store_bundle(store, otk.prekey.id())
}

/// The bundle of the account in `store` with signed prekey 1 and one-time prekey
/// `one_time_id`.
pub(crate) fn store_bundle<S: Store>(store: &S, one_time_id: u32) -> PrekeyBundle {
    let identity = block_on(store.identity()).unwrap().unwrap();
    let spk = block_on(store.signed_prekey(1)).unwrap().unwrap();
    let otk = block_on(store.one_time_prekey(one_time_id))
        .unwrap()
        .unwrap();
    PrekeyBundle {
        identity: *identity.identity.public(),
        signed_prekey: Some(spk.prekey.public()),
        one_time_prekey: Some(OneTimePrekeyPublic {
            id: otk.prekey.id(),
            public: *otk.prekey.pair().public(),
        }),
    }
}

/// Encrypts and commits; the wire string.
pub(crate) fn send(engine: &mut Engine, peer: &str, text: &str, rng: &mut ChaCha20Rng) -> String {
    block_on(async { engine.encrypt(peer, text, 0, rng).await?.commit().await })
        .unwrap()
        .wire
}

/// Decrypts and commits.
pub(crate) fn receive(
    engine: &mut Engine,
    peer: &str,
    wire: &str,
    rng: &mut ChaCha20Rng,
) -> Result<Incoming, SessionError> {
    block_on(async { engine.decrypt(peer, wire, 0, rng).await?.commit().await })
}

/// A peer's stored sessions as JSON, to compare before and after.
pub(crate) fn sessions_json(engine: &Engine, peer: &str) -> String {
    serde_json::to_string(&block_on(engine.store().peer_sessions(peer)).unwrap()).unwrap()
}

/// What a [`Hooked`] store lets a test watch or hold up.
#[async_trait::async_trait]
pub(crate) trait Hooks: Send + Sync {
    /// After a single one-time prekey was read, before its answer is handed over.
    async fn one_time_prekey_read(&self) {}
    /// Before `batch` is committed.
    fn committing(&self, _batch: &WriteBatch) {}
}

/// A memory store that calls `hooks` on some of its calls; the store is `inner`'s.
#[derive(Default)]
pub(crate) struct Hooked<H> {
    pub(crate) inner: MemoryStore,
    pub(crate) hooks: H,
}

#[async_trait::async_trait]
impl<H: Hooks> Store for Hooked<H> {
    async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
        self.inner.identity().await
    }
    async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError> {
        self.inner.account_meta().await
    }
    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError> {
        self.inner.signed_prekey(id).await
    }
    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError> {
        self.inner.signed_prekeys().await
    }
    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError> {
        let read = self.inner.one_time_prekey(id).await;
        self.hooks.one_time_prekey_read().await;
        read
    }
    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError> {
        self.inner.one_time_prekeys().await
    }
    async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        self.inner.peer_sessions(peer_id).await
    }
    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        self.inner.session_peer_ids().await
    }
    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
        self.inner.known_identity(peer_id).await
    }
    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.inner.message(id).await
    }
    async fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        self.inner.messages(query).await
    }
    async fn conversation_activity(&self) -> Result<Vec<(Conversation, i64)>, StoreError> {
        self.inner.conversation_activity().await
    }
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.hooks.committing(&batch);
        self.inner.commit(batch).await
    }
}
