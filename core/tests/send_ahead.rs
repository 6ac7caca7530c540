//! `SessionConfig::send_ahead`: the stored sending chain is kept ahead of the last message
//! sent, so that most messages need no write, and yet no message number ever goes out
//! twice: not after a crash, not after a failed commit, not after the engine's cache lost
//! the peer, not when a received message rewrites the session in between.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use std::collections::HashSet;

use engines::*;
use futures_executor::block_on;
use proptest::prelude::*;
use quickchat_core::envelope::Envelope;
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::Store;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const AHEAD: u32 = 8;

fn config() -> SessionConfig {
    SessionConfig {
        send_ahead: AHEAD,
        ..SessionConfig::default()
    }
}

/// Alice (sending ahead) with a session to Bob (default settings), after her first message,
/// which Bob has opened.
fn pair(rng: &mut ChaCha20Rng) -> (Engine, Engine) {
    let mut alice = engine_with("alice", rng, config());
    let mut bob = engine("bob", rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, rng)).unwrap();
    let first = send(&mut alice, "bob", "first", rng);
    assert_eq!(
        receive(&mut bob, "alice", &first, rng).unwrap().plaintext,
        "first"
    );
    (alice, bob)
}

/// The `(ratchetKey, messageNumber, previousChainLength)` of a wire message.
fn header(wire: &str) -> (String, u32, u32) {
    let header = Envelope::parse(wire).unwrap().header;
    (
        format!("{:?}", header.ratchet_key),
        header.message_number,
        header.previous_chain_length,
    )
}

/// How many skipped message keys `engine` keeps for `peer`'s current session.
fn skipped_keys_kept(engine: &Engine, peer: &str) -> usize {
    block_on(engine.store().peer_sessions(peer))
        .unwrap()
        .unwrap()
        .current
        .ratchet
        .skipped_keys()
        .len()
}

/// The stored `Ns` of Alice's current session with Bob.
fn stored_ns(alice: &Engine) -> u32 {
    block_on(alice.store().peer_sessions("bob"))
        .unwrap()
        .unwrap()
        .current
        .ratchet
        .sending_chain_length()
}

#[test]
fn a_long_chain_is_written_rarely_and_always_ahead_of_what_went_out() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (mut alice, mut bob) = pair(&mut rng);
    // A chain of one message is stored as it is: a crash would leave no gap.
    assert_eq!(stored_ns(&alice), 1);
    let commits = alice.store().commit_count();
    let count = 100u32;
    for length in 2..=count + 1 {
        let wire = send(&mut alice, "bob", &format!("m{length}"), &mut rng);
        assert_eq!(header(&wire).1, length - 1, "no number passed over");
        let stored = stored_ns(&alice);
        assert!(
            stored >= length,
            "message {} went out with Ns {stored} stored",
            length - 1
        );
        assert!(
            stored - length <= AHEAD.min(length - 1),
            "Ns {stored} stored after {length} messages"
        );
        assert_eq!(
            receive(&mut bob, "alice", &wire, &mut rng)
                .unwrap()
                .plaintext,
            format!("m{length}")
        );
    }
    // Writes at 2, 4, 8, 16, then every 9th message (8 ahead): 4 + 10.
    let written = alice.store().commit_count() - commits;
    assert!(
        (u64::from(count / (AHEAD + 1))..=u64::from(5 + count / AHEAD)).contains(&written),
        "{written} commits for {count} messages"
    );
}

#[test]
fn a_second_message_is_written_with_one_number_ahead() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (mut alice, _bob) = pair(&mut rng);
    let commits = alice.store().commit_count();
    send(&mut alice, "bob", "second", &mut rng);
    assert_eq!(alice.store().commit_count(), commits + 1);
    assert_eq!(stored_ns(&alice), 3);
    send(&mut alice, "bob", "third", &mut rng);
    assert_eq!(
        alice.store().commit_count(),
        commits + 1,
        "covered: nothing written"
    );
    assert_eq!(stored_ns(&alice), 3);
}

#[test]
fn the_answer_to_a_received_message_needs_no_commit() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let (mut alice, mut bob) = pair(&mut rng);
    let b1 = send(&mut bob, "alice", "b1", &mut rng);
    receive(&mut alice, "bob", &b1, &mut rng).unwrap();
    // Her DH step started a chain that has sent nothing: it is stored at Ns = 1.
    assert_eq!(stored_ns(&alice), 1);
    let commits = alice.store().commit_count();
    let a1 = send(&mut alice, "bob", "a1", &mut rng);
    assert_eq!(header(&a1).1, 0);
    assert_eq!(
        alice.store().commit_count(),
        commits,
        "the answer was covered"
    );
    assert_eq!(
        receive(&mut bob, "alice", &a1, &mut rng).unwrap().plaintext,
        "a1"
    );

    // A crash after a receipt, before any answer: the answer goes out as number 1, which
    // Bob opens, passing over number 0.
    let b2 = send(&mut bob, "alice", "b2", &mut rng);
    receive(&mut alice, "bob", &b2, &mut rng).unwrap();
    let store = alice.into_store();
    let mut alice = block_on(SessionEngine::open(store, config())).unwrap();
    let a2 = send(&mut alice, "bob", "a2", &mut rng);
    assert_eq!(header(&a2).1, 1);
    assert_eq!(
        receive(&mut bob, "alice", &a2, &mut rng).unwrap().plaintext,
        "a2"
    );
}

#[test]
fn the_default_writes_every_message() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut alice = engine("alice", &mut rng);
    let bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let commits = alice.store().commit_count();
    for i in 0..5 {
        send(&mut alice, "bob", &format!("m{i}"), &mut rng);
    }
    assert_eq!(alice.store().commit_count(), commits + 5);
    assert_eq!(stored_ns(&alice), 5);
}

#[test]
fn after_a_crash_the_chain_resumes_past_every_number_sent() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (mut alice, mut bob) = pair(&mut rng);
    let mut sent = HashSet::new();
    sent.insert(0u32);
    for round in 0..4 {
        for i in 0..5 {
            let wire = send(&mut alice, "bob", &format!("r{round} m{i}"), &mut rng);
            let (_, number, _) = header(&wire);
            assert!(sent.insert(number), "number {number} went out twice");
            let opened = receive(&mut bob, "alice", &wire, &mut rng).unwrap();
            assert_eq!(opened.plaintext, format!("r{round} m{i}"));
        }
        // A crash: the engine and everything in its memory are gone; the store stays.
        let store = alice.into_store();
        alice = block_on(SessionEngine::open(store, config())).unwrap();
    }
    // Bob passed over at most AHEAD numbers at each crash and keeps only those keys.
    let kept = skipped_keys_kept(&bob, "alice");
    assert!(kept <= 4 * AHEAD as usize, "{kept} skipped keys kept");
    assert!(kept > 0, "the crashes did pass numbers over");
}

#[test]
fn a_state_read_back_within_one_engine_resumes_where_it_was() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (mut alice, mut bob) = pair(&mut rng);
    let second = send(&mut alice, "bob", "second", &mut rng);
    assert_eq!(header(&second).1, 1);
    // A forged message takes Bob's sessions out of Alice's cache and fails: the next
    // message reads them back from the store, which holds the chain 8 ahead.
    let mut forged = Envelope::parse(&second).unwrap();
    forged.ciphertext[30] ^= 1;
    assert!(receive(&mut alice, "bob", &forged.to_json(), &mut rng).is_err());
    let third = send(&mut alice, "bob", "third", &mut rng);
    assert_eq!(header(&third).1, 2, "no number passed over");
    for wire in [&second, &third] {
        receive(&mut bob, "alice", wire, &mut rng).unwrap();
    }
    // Bob answers; Alice's DH step tells him her true previous chain length.
    let answer = send(&mut bob, "alice", "answer", &mut rng);
    receive(&mut alice, "bob", &answer, &mut rng).unwrap();
    let next = send(&mut alice, "bob", "next", &mut rng);
    let (_, number, previous) = header(&next);
    assert_eq!((number, previous), (0, 3));
    receive(&mut bob, "alice", &next, &mut rng).unwrap();
    let kept = skipped_keys_kept(&bob, "alice");
    assert_eq!(kept, 0, "Bob keeps no key for a message that never existed");
}

#[test]
fn a_received_message_rewrites_the_session_with_its_chain_still_ahead() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (mut alice, mut bob) = pair(&mut rng);
    // Bob answers twice on one chain; Alice's DH step on the first starts her new chain.
    let b1 = send(&mut bob, "alice", "b1", &mut rng);
    let b2 = send(&mut bob, "alice", "b2", &mut rng);
    receive(&mut alice, "bob", &b1, &mut rng).unwrap();
    let a1 = send(&mut alice, "bob", "a1", &mut rng);
    let a2 = send(&mut alice, "bob", "a2", &mut rng);
    assert_eq!((header(&a1).1, header(&a2).1), (0, 1));
    assert_eq!(stored_ns(&alice), 3);
    // b2 needs no DH step: the session is rewritten with the same sending chain, which
    // must stay ahead of a2 on disk.
    receive(&mut alice, "bob", &b2, &mut rng).unwrap();
    assert_eq!(stored_ns(&alice), 3);
    let store = alice.into_store();
    let mut alice = block_on(SessionEngine::open(store, config())).unwrap();
    let a3 = send(&mut alice, "bob", "a3", &mut rng);
    assert_eq!(header(&a3).1, 3);
    for (wire, text) in [(&a1, "a1"), (&a2, "a2"), (&a3, "a3")] {
        assert_eq!(
            receive(&mut bob, "alice", wire, &mut rng)
                .unwrap()
                .plaintext,
            text
        );
    }
}

#[test]
fn a_failed_commit_reserves_nothing() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let (mut alice, mut bob) = pair(&mut rng);
    // The chain is stored at Ns = 1: the next message needs a write.
    let stored = stored_ns(&alice);
    alice.store().fail_commits(true);
    let failed = block_on(async {
        alice
            .encrypt("bob", "lost", 0, &mut rng)
            .await?
            .commit()
            .await
    });
    assert!(failed.is_err());
    alice.store().fail_commits(false);
    assert_eq!(stored_ns(&alice), stored);
    // The reservation the failed commit would have made is not taken for granted: the
    // next message writes again.
    let commits = alice.store().commit_count();
    let wire = send(&mut alice, "bob", "kept", &mut rng);
    assert_eq!(alice.store().commit_count(), commits + 1);
    assert!(stored_ns(&alice) > header(&wire).1);
    assert_eq!(
        receive(&mut bob, "alice", &wire, &mut rng)
            .unwrap()
            .plaintext,
        "kept"
    );
}

#[derive(Debug, Clone)]
enum Step {
    /// Alice (true) or Bob (false) sends a message.
    Send(bool),
    /// The in-flight message picked by the index arrives, in the direction given.
    Deliver(bool, usize),
    /// Alice (true) or Bob (false) crashes: her engine is opened again on her store.
    Crash(bool),
    /// A forged message makes the receiver's engine drop the peer from its cache.
    Forge(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => any::<bool>().prop_map(Step::Send),
        4 => (any::<bool>(), any::<usize>()).prop_map(|(d, i)| Step::Deliver(d, i)),
        1 => any::<bool>().prop_map(Step::Crash),
        1 => any::<bool>().prop_map(Step::Forge),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Both sides sending ahead, with crashes, dropped caches and any order of delivery:
    /// no (chain, number) ever goes out twice, and every message opens to what was sent.
    #[test]
    fn no_number_goes_out_twice_and_every_message_opens(
        seed in any::<u64>(),
        steps in proptest::collection::vec(step(), 1..100),
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut alice = engine_with("alice", &mut rng, config());
        let mut bob = engine_with("bob", &mut rng, config());
        block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
        let first = send(&mut alice, "bob", "first", &mut rng);
        prop_assert_eq!(receive(&mut bob, "alice", &first, &mut rng).unwrap().plaintext, "first");
        let mut sent = HashSet::new();
        sent.insert(header(&first));
        // In flight per direction: 0 = alice -> bob, 1 = bob -> alice.
        let mut in_flight: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
        let dir = |from_alice: bool| usize::from(!from_alice);
        for (i, step) in steps.into_iter().enumerate() {
            match step {
                Step::Send(from_alice) => {
                    let text = format!("m{i}");
                    let wire = if from_alice {
                        send(&mut alice, "bob", &text, &mut rng)
                    } else {
                        send(&mut bob, "alice", &text, &mut rng)
                    };
                    let (key, number, _) = header(&wire);
                    prop_assert!(sent.insert((key, number, 0)), "number {} went out twice", number);
                    in_flight[dir(from_alice)].push((wire, text));
                }
                Step::Deliver(from_alice, pick) => {
                    let queue = &mut in_flight[dir(from_alice)];
                    if queue.is_empty() { continue; }
                    let (wire, text) = queue.remove(pick % queue.len());
                    let got = if from_alice {
                        receive(&mut bob, "alice", &wire, &mut rng)
                    } else {
                        receive(&mut alice, "bob", &wire, &mut rng)
                    };
                    prop_assert_eq!(got.map(|g| g.plaintext).ok(), Some(text));
                }
                Step::Crash(which) => {
                    let engine = if which { &mut alice } else { &mut bob };
                    let user = if which { "alice" } else { "bob" };
                    let fresh = engine_with(user, &mut rng, config());
                    let old = std::mem::replace(engine, fresh);
                    *engine = block_on(SessionEngine::open(old.into_store(), config())).unwrap();
                }
                Step::Forge(to_alice) => {
                    let (engine, peer) = if to_alice { (&mut alice, "bob") } else { (&mut bob, "alice") };
                    let mut forged = Envelope::parse(&first).unwrap();
                    forged.x3dh = None;
                    forged.ciphertext[30] ^= 1;
                    prop_assert!(receive(engine, peer, &forged.to_json(), &mut rng).is_err());
                }
            }
        }
        for (d, queue) in in_flight.iter_mut().enumerate() {
            while let Some((wire, text)) = queue.pop() {
                let got = if d == 0 {
                    receive(&mut bob, "alice", &wire, &mut rng)
                } else {
                    receive(&mut alice, "bob", &wire, &mut rng)
                };
                prop_assert_eq!(got.map(|g| g.plaintext).ok(), Some(text), "late");
            }
        }
    }
}
