//! Shared by the engine test suites: engines on in-memory stores, bundles as the backend
//! hands them out, and sending and receiving with everything committed.
#![allow(dead_code)]

use futures_executor::block_on;
use quickchat_core::account::create_account;
use quickchat_core::keys::OneTimePrekeyPublic;
use quickchat_core::session::{Incoming, SessionConfig, SessionEngine, SessionError};
use quickchat_core::store::{MemoryStore, Store};
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
    let spk = block_on(store.signed_prekey(1)).unwrap().unwrap();
    let otk = &block_on(store.one_time_prekeys()).unwrap()[one_time_index];
    PrekeyBundle {
        identity: *engine.identity().public(),
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
