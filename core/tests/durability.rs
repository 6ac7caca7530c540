//! Which commits of the session engine may be written behind: `Prepared::relaxed` marks the
//! batch relaxed, an unmarked one stays immediate, and a store that writes at once has
//! nothing for `settled()` to wait for.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use std::sync::Mutex;

use engines::*;
use futures_executor::block_on;
use quickchat_core::account::create_account;
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::{BatchDurability, Store, WriteBatch};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// How durable each committed batch had to be.
#[derive(Default)]
struct CommitLog(Mutex<Vec<BatchDurability>>);

impl Hooks for CommitLog {
    fn committing(&self, batch: &WriteBatch) {
        self.0.lock().unwrap().push(batch.durability());
    }
}

/// A memory store that records how durable each committed batch had to be.
type Recording = Hooked<CommitLog>;

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
    alice.store().hooks.0.lock().unwrap().clear();

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
        *alice.store().hooks.0.lock().unwrap(),
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
