//! Property tests of the session engine over real ratchets: random conversations with
//! loss, duplication and reordering across DH steps, and tampering.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_executor::block_on;
use proptest::prelude::*;
use quickchat_core::ratchet::RatchetError;
use quickchat_core::session::SessionError;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

mod engines;

use engines::Engine;

struct Pair {
    alice: Engine,
    bob: Engine,
    rng: ChaCha20Rng,
}

fn pair(seed: u64) -> Pair {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = engines::engine("alice", &mut rng);
    let bob = engines::engine("bob", &mut rng);
    Pair { alice, bob, rng }
}

fn receive(
    engine: &mut Engine,
    peer: &str,
    wire: &str,
    rng: &mut ChaCha20Rng,
) -> Result<String, SessionError> {
    engines::receive(engine, peer, wire, rng).map(|incoming| incoming.plaintext)
}

#[derive(Debug, Clone)]
enum Action {
    /// Alice (true) or Bob (false) sends a message.
    Send(bool),
    /// Deliver the in-flight message picked by the index, in the direction given.
    Deliver(bool, usize),
    /// Deliver an already delivered message again.
    Duplicate(bool, usize),
    /// Lose an in-flight message.
    Drop(bool, usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => any::<bool>().prop_map(Action::Send),
        4 => (any::<bool>(), any::<usize>()).prop_map(|(d, i)| Action::Deliver(d, i)),
        1 => (any::<bool>(), any::<usize>()).prop_map(|(d, i)| Action::Duplicate(d, i)),
        1 => (any::<bool>(), any::<usize>()).prop_map(|(d, i)| Action::Drop(d, i)),
    ]
}

struct Flight {
    wire: String,
    text: String,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the network does, every message that arrives once decrypts to what was sent,
    /// every duplicate is refused without harm, and nothing lost blocks what follows.
    #[test]
    fn random_conversations_survive_loss_duplication_and_reordering(
        seed in any::<u64>(),
        actions in proptest::collection::vec(action(), 1..120),
    ) {
        let Pair { mut alice, mut bob, mut rng } = pair(seed);
        let bundle = engines::bundle(&bob, 0);
        block_on(alice.start_session("bob", &bundle, 0, &mut rng)).unwrap();
        // The first message must arrive first: without it Bob has no session.
        let first = engines::send(&mut alice, "bob", "hello", &mut rng);
        prop_assert_eq!(receive(&mut bob, "alice", &first, &mut rng).unwrap(), "hello");

        // In flight and delivered, per direction: index 0 = alice->bob, 1 = bob->alice.
        let mut in_flight: [Vec<Flight>; 2] = [Vec::new(), Vec::new()];
        let mut delivered: [Vec<String>; 2] = [vec![first], Vec::new()];
        let mut counter = 0u32;
        let dir = |from_alice: bool| usize::from(!from_alice);

        for action in actions {
            match action {
                Action::Send(from_alice) => {
                    counter += 1;
                    let text = format!("m{counter} {}", "x".repeat((counter % 7) as usize));
                    let wire = if from_alice {
                        engines::send(&mut alice, "bob", &text, &mut rng)
                    } else {
                        engines::send(&mut bob, "alice", &text, &mut rng)
                    };
                    in_flight[dir(from_alice)].push(Flight { wire, text });
                }
                Action::Deliver(from_alice, pick) => {
                    let queue = &mut in_flight[dir(from_alice)];
                    if queue.is_empty() { continue; }
                    let flight = queue.remove(pick % queue.len());
                    let got = if from_alice {
                        receive(&mut bob, "alice", &flight.wire, &mut rng)
                    } else {
                        receive(&mut alice, "bob", &flight.wire, &mut rng)
                    };
                    prop_assert_eq!(got.as_deref().ok(), Some(flight.text.as_str()), "{:?}", got);
                    delivered[dir(from_alice)].push(flight.wire);
                }
                Action::Duplicate(from_alice, pick) => {
                    let done = &delivered[dir(from_alice)];
                    if done.is_empty() { continue; }
                    let wire = done[pick % done.len()].clone();
                    let (receiver, peer) = if from_alice { (&mut bob, "alice") } else { (&mut alice, "bob") };
                    let before = engines::sessions_json(receiver, peer);
                    let got = receive(receiver, peer, &wire, &mut rng);
                    prop_assert!(got.is_err(), "a duplicate decrypted again");
                    prop_assert_eq!(engines::sessions_json(receiver, peer), before, "a duplicate changed the session");
                }
                Action::Drop(from_alice, pick) => {
                    let queue = &mut in_flight[dir(from_alice)];
                    if !queue.is_empty() {
                        queue.remove(pick % queue.len());
                    }
                }
            }
        }
        // Everything still in flight arrives late, in reverse order.
        for (d, queue) in in_flight.iter_mut().enumerate() {
            while let Some(flight) = queue.pop() {
                let got = if d == 0 {
                    receive(&mut bob, "alice", &flight.wire, &mut rng)
                } else {
                    receive(&mut alice, "bob", &flight.wire, &mut rng)
                };
                prop_assert_eq!(got.as_deref().ok(), Some(flight.text.as_str()), "late: {:?}", got);
            }
        }
    }

    /// A changed byte anywhere in a message is refused, leaves the session exactly as it
    /// was, and the genuine message still decrypts afterwards. Two places are exempt because
    /// the wire format does not authenticate them (see the `envelope` module):
    /// `previousChainLength`, and the ratchet key of a session's first message.
    #[test]
    fn tampering_is_refused_and_harmless(
        seed in any::<u64>(),
        turns in 0usize..4,
        position in any::<usize>(),
        replacement in 0x20u8..0x7f,
    ) {
        let Pair { mut alice, mut bob, mut rng } = pair(seed);
        let bundle = engines::bundle(&bob, 0);
        block_on(alice.start_session("bob", &bundle, 0, &mut rng)).unwrap();
        let mut wire = engines::send(&mut alice, "bob", "first", &mut rng);
        // A few turns so that the tampered message may come after DH steps.
        for turn in 0..turns {
            prop_assert!(receive(&mut bob, "alice", &wire, &mut rng).is_ok());
            let reply = engines::send(&mut bob, "alice", &format!("reply {turn}"), &mut rng);
            prop_assert!(receive(&mut alice, "bob", &reply, &mut rng).is_ok());
            wire = engines::send(&mut alice, "bob", &format!("turn {turn}"), &mut rng);
        }
        let expected = if turns == 0 { "first".to_string() } else { format!("turn {}", turns - 1) };

        let pn_digits = {
            let key = "\"previousChainLength\":";
            let start = wire.find(key).unwrap() + key.len();
            let len = wire[start..].bytes().take_while(u8::is_ascii_digit).count();
            start..start + len
        };
        let first_ratchet_key = if wire.contains("\"x3dh\"") {
            let key = "\"ratchetKey\":\"";
            let start = wire.find(key).unwrap() + key.len();
            start..start + 44
        } else {
            0..0
        };
        let candidates: Vec<usize> = (0..wire.len())
            .filter(|i| !pn_digits.contains(i) && !first_ratchet_key.contains(i))
            .collect();
        let index = candidates[position % candidates.len()];
        let mut bytes = wire.clone().into_bytes();
        prop_assume!(bytes[index] != replacement);
        bytes[index] = replacement;
        let tampered = String::from_utf8(bytes).unwrap();

        let has_session = block_on(bob.has_session("alice")).unwrap();
        let before = has_session.then(|| engines::sessions_json(&bob, "alice"));
        let got = receive(&mut bob, "alice", &tampered, &mut rng);
        prop_assert!(got.is_err(), "tampered byte {} ({:?}) decrypted", index, replacement as char);
        prop_assert_eq!(has_session, block_on(bob.has_session("alice")).unwrap());
        if let Some(before) = before {
            prop_assert_eq!(engines::sessions_json(&bob, "alice"), before);
        }
        prop_assert_eq!(receive(&mut bob, "alice", &wire, &mut rng).unwrap(), expected);
    }
}

#[test]
fn a_failed_commit_leaves_the_session_usable() {
    let Pair {
        mut alice,
        mut bob,
        mut rng,
    } = pair(7);
    let bundle = engines::bundle(&bob, 0);
    block_on(alice.start_session("bob", &bundle, 0, &mut rng)).unwrap();
    let first = engines::send(&mut alice, "bob", "one", &mut rng);
    let second = engines::send(&mut alice, "bob", "two", &mut rng);
    assert_eq!(receive(&mut bob, "alice", &first, &mut rng).unwrap(), "one");
    let before = engines::sessions_json(&bob, "alice");
    bob.store().fail_commits(true);
    assert!(matches!(
        receive(&mut bob, "alice", &second, &mut rng),
        Err(SessionError::Store(_))
    ));
    bob.store().fail_commits(false);
    assert_eq!(engines::sessions_json(&bob, "alice"), before);
    // Nothing was consumed by the failed attempt: the same message decrypts now.
    assert_eq!(
        receive(&mut bob, "alice", &second, &mut rng).unwrap(),
        "two"
    );
    assert!(matches!(
        receive(&mut bob, "alice", &second, &mut rng),
        Err(SessionError::Decrypt {
            source: RatchetError::DuplicateMessage { message_number: 1 },
            ..
        })
    ));
}

fn message_number(wire: &str) -> u32 {
    quickchat_core::envelope::Envelope::parse(wire)
        .unwrap()
        .header
        .message_number
}

/// The engine keeps the sessions it works on in memory; an operation that is not committed
/// (dropped, failed, or a bad message) must leave what the next operation sees exactly as
/// the store has it.
#[test]
fn uncommitted_or_failed_operations_leave_the_next_one_on_the_committed_state() {
    let Pair {
        mut alice,
        mut bob,
        mut rng,
    } = pair(11);
    let bundle = engines::bundle(&bob, 0);
    block_on(alice.start_session("bob", &bundle, 0, &mut rng)).unwrap();
    let first = engines::send(&mut alice, "bob", "one", &mut rng);
    assert_eq!(receive(&mut bob, "alice", &first, &mut rng).unwrap(), "one");

    // An encryption prepared and dropped: the next one takes the same message number.
    let dropped = block_on(alice.encrypt("bob", "dropped", 0, &mut rng))
        .unwrap()
        .value()
        .wire
        .clone();
    let second = engines::send(&mut alice, "bob", "two", &mut rng);
    assert_eq!(message_number(&dropped), message_number(&second));

    // An encryption whose commit failed: the same again.
    alice.store().fail_commits(true);
    let failed = block_on(async {
        let prepared = alice.encrypt("bob", "lost", 0, &mut rng).await?;
        let wire = prepared.value().wire.clone();
        prepared.commit().await.map(|_| wire)
    });
    assert!(matches!(failed, Err(SessionError::Store(_))));
    alice.store().fail_commits(false);
    let third = engines::send(&mut alice, "bob", "three", &mut rng);
    assert_eq!(message_number(&third), message_number(&second) + 1);

    // A decryption prepared and dropped changes nothing: the message opens afterwards.
    let prepared = block_on(bob.decrypt("alice", &second, 0, &mut rng)).unwrap();
    assert_eq!(prepared.value().plaintext, "two");
    drop(prepared);
    // A tampered message changes nothing either.
    let mut tampered = third.clone().into_bytes();
    let at = third.find("\"ciphertext\":\"").unwrap() + 16;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(receive(&mut bob, "alice", &tampered, &mut rng).is_err());

    // A batch: the tampered copy fails alone, the others open in order, once.
    let batch = vec![
        ("alice".to_string(), tampered.clone()),
        ("alice".to_string(), second.clone()),
        ("alice".to_string(), third.clone()),
        ("alice".to_string(), second.clone()),
    ];
    let results =
        block_on(async { bob.decrypt_batch(&batch, 0, &mut rng).await?.commit().await }).unwrap();
    assert!(results[0].is_err());
    assert_eq!(results[1].as_ref().unwrap().plaintext, "two");
    assert_eq!(results[2].as_ref().unwrap().plaintext, "three");
    assert!(matches!(
        results[3],
        Err(SessionError::Decrypt {
            source: RatchetError::DuplicateMessage { .. },
            ..
        })
    ));
    // The batch's state went to the cache and the store alike.
    assert!(matches!(
        receive(&mut bob, "alice", &third, &mut rng),
        Err(SessionError::Decrypt {
            source: RatchetError::DuplicateMessage { .. },
            ..
        })
    ));
    let reply = engines::send(&mut bob, "alice", "back", &mut rng);
    assert_eq!(
        receive(&mut alice, "bob", &reply, &mut rng).unwrap(),
        "back"
    );
    let fourth = engines::send(&mut alice, "bob", "four", &mut rng);
    assert_eq!(
        receive(&mut bob, "alice", &fourth, &mut rng).unwrap(),
        "four"
    );
}
