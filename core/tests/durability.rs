//! Which commits of the session engine may be written behind: `Prepared::relaxed` marks the
//! batch relaxed, an unmarked one stays immediate, and a store that writes at once has
//! nothing for `settled()` to wait for.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use std::sync::Mutex;

use async_trait::async_trait;
use engines::*;
use futures_executor::block_on;
use quickchat_core::account::create_account;
use quickchat_core::session::{PeerSessions, SessionConfig, SessionEngine};
use quickchat_core::store::{
    AccountMeta, BatchDurability, IdentityRecord, KnownIdentity, MemoryStore, MessageQuery,
    MessageRecord, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, WriteBatch,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// A memory store that records how durable each committed batch had to be.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    commits: Mutex<Vec<BatchDurability>>,
}

#[async_trait]
impl Store for Recording {
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
        self.inner.one_time_prekey(id).await
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
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.commits.lock().unwrap().push(batch.durability());
        self.inner.commit(batch).await
    }
}

#[test]
fn relaxed_marks_the_commit_and_the_rest_stay_immediate() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let store = Recording::default();
    block_on(create_account(&store, "alice", 0, &mut rng)).unwrap();
    let mut alice = block_on(SessionEngine::open(store, SessionConfig::default())).unwrap();
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let first = block_on(async {
        alice
            .encrypt("bob", "first", 0, &mut rng)
            .await?
            .commit()
            .await
    })
    .unwrap()
    .wire;
    receive(&mut bob, "alice", &first, &mut rng).unwrap();
    let answer = send(&mut bob, "alice", "answer", &mut rng);
    alice.store().commits.lock().unwrap().clear();

    let incoming = block_on(async {
        alice
            .decrypt("bob", &answer, 0, &mut rng)
            .await?
            .relaxed()
            .commit()
            .await
    })
    .unwrap();
    assert_eq!(incoming.plaintext, "answer");
    let next = block_on(async {
        alice
            .encrypt("bob", "next", 0, &mut rng)
            .await?
            .commit()
            .await
    })
    .unwrap()
    .wire;
    assert_eq!(
        *alice.store().commits.lock().unwrap(),
        [BatchDurability::Relaxed, BatchDurability::Immediate]
    );
    // The relaxed commit's state is the one the next message was sent from.
    assert_eq!(
        receive(&mut bob, "alice", &next, &mut rng)
            .unwrap()
            .plaintext,
        "next"
    );
    block_on(alice.store().settled()).unwrap();
}
