//! Hostile peers: low-order X25519 keys anywhere in a session are refused and change
//! nothing, and a peer whose messages keep failing is cooled without touching others.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use engines::*;
use futures_executor::block_on;
use proptest::prelude::*;
use quickchat_core::envelope::Envelope;
use quickchat_core::keys::{KeyPair, PublicKey, SignedPrekeyPublic};
use quickchat_core::ratchet::RatchetError;
use quickchat_core::session::{Cooling, CoolingConfig, Incoming, SessionError};
use quickchat_core::store::Store;
use quickchat_core::x3dh::{X3dhError, X3dhKey};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn edit(wire: &str, change: impl FnOnce(&mut Envelope)) -> String {
    let mut envelope = Envelope::parse(wire).unwrap();
    change(&mut envelope);
    envelope.to_json()
}

/// The encodings X25519 maps to zero for every private key, written out byte by byte:
/// u = 0, 1, p − 1, p, p + 1 and the two points of order 8; then each with bit 255 set.
fn low_order_keys() -> Vec<PublicKey> {
    let hex_keys = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    ];
    hex_keys
        .iter()
        .flat_map(|text| {
            let bytes: [u8; 32] = hex::decode(text).unwrap().try_into().unwrap();
            let mut high = bytes;
            high[31] |= 0x80;
            [PublicKey::from_bytes(bytes), PublicKey::from_bytes(high)]
        })
        .collect()
}

#[test]
fn a_bundle_with_a_low_order_identity_or_signed_prekey_starts_no_session() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut alice = engine("alice", &mut rng);
    let bob = engine("bob", &mut rng);
    for key in low_order_keys() {
        let mut bad_identity = bundle(&bob, 0);
        bad_identity.identity.dh = key;
        let mut bad_signed = bundle(&bob, 0);
        bad_signed.signed_prekey = Some(SignedPrekeyPublic {
            id: 1,
            public: key,
            // Bob's own identity signs it: the signature is no defence.
            signature: bob.identity().sign(key.as_bytes()),
        });
        for (bundle, which) in [
            (bad_identity, X3dhKey::IdentityKey),
            (bad_signed, X3dhKey::SignedPrekey),
        ] {
            let result = block_on(alice.start_session("bob", &bundle, 0, &mut rng));
            assert_eq!(
                result,
                Err(SessionError::X3dh {
                    peer_id: "bob".into(),
                    source: X3dhError::LowOrderKey { key: which },
                }),
                "{key:?}"
            );
            assert!(!block_on(alice.has_session("bob")).unwrap());
            assert!(block_on(alice.known_identity("bob")).unwrap().is_none());
        }
    }
}

#[test]
fn a_first_message_with_a_low_order_key_is_refused_and_changes_nothing() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut alice = engine("alice", &mut rng);
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let first = send(&mut alice, "bob", "hello", &mut rng);
    let one_time_before = block_on(bob.store().one_time_prekeys()).unwrap().len();
    for key in low_order_keys() {
        let low_identity = edit(&first, |e| {
            if let Some(x3dh) = e.x3dh.as_mut() {
                x3dh.sender_identity_key = key;
            }
        });
        let low_ephemeral = edit(&first, |e| {
            if let Some(x3dh) = e.x3dh.as_mut() {
                x3dh.sender_ephemeral_key = key;
            }
        });
        let low_ratchet = edit(&first, |e| e.header.ratchet_key = key);
        for (wire, expected) in [
            (
                low_identity,
                SessionError::X3dh {
                    peer_id: "alice".into(),
                    source: X3dhError::LowOrderKey {
                        key: X3dhKey::IdentityKey,
                    },
                },
            ),
            (
                low_ephemeral,
                SessionError::X3dh {
                    peer_id: "alice".into(),
                    source: X3dhError::LowOrderKey {
                        key: X3dhKey::EphemeralKey,
                    },
                },
            ),
            (
                low_ratchet,
                SessionError::Decrypt {
                    peer_id: "alice".into(),
                    source: RatchetError::LowOrderKey,
                },
            ),
        ] {
            assert_eq!(receive(&mut bob, "alice", &wire, &mut rng), Err(expected));
            assert!(!block_on(bob.has_session("alice")).unwrap());
            assert!(block_on(bob.known_identity("alice")).unwrap().is_none());
            assert_eq!(
                block_on(bob.store().one_time_prekeys()).unwrap().len(),
                one_time_before
            );
        }
    }
    // The genuine first message still opens.
    assert_eq!(
        receive(&mut bob, "alice", &first, &mut rng)
            .unwrap()
            .plaintext,
        "hello"
    );
}

/// Alice and Bob after one message each way; Bob holds Alice's ratchet key.
fn established(seed: u64) -> (Engine, Engine, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut alice = engine("alice", &mut rng);
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let first = send(&mut alice, "bob", "one", &mut rng);
    receive(&mut bob, "alice", &first, &mut rng).unwrap();
    let reply = send(&mut bob, "alice", "two", &mut rng);
    receive(&mut alice, "bob", &reply, &mut rng).unwrap();
    (alice, bob, rng)
}

#[test]
fn a_ratchet_step_to_a_low_order_key_is_refused_on_both_sides() {
    let (mut alice, mut bob, mut rng) = established(3);
    let next = send(&mut alice, "bob", "three", &mut rng);
    let bob_before = sessions_json(&bob, "alice");
    for key in low_order_keys() {
        // A new ratchet key from Alice (Bob's receiving DH step).
        let forged = edit(&next, |e| e.header.ratchet_key = key);
        assert_eq!(
            receive(&mut bob, "alice", &forged, &mut rng),
            Err(SessionError::Decrypt {
                peer_id: "alice".into(),
                source: RatchetError::LowOrderKey,
            })
        );
        assert_eq!(sessions_json(&bob, "alice"), bob_before);
    }
    assert_eq!(
        receive(&mut bob, "alice", &next, &mut rng)
            .unwrap()
            .plaintext,
        "three"
    );
}

fn max_skip_forgery(valid: &str, rng: &mut ChaCha20Rng) -> String {
    edit(valid, |e| {
        e.header.ratchet_key = *KeyPair::generate(rng).public();
        e.header.previous_chain_length = 999;
        e.header.message_number = 999;
    })
}

fn batch(
    engine: &mut Engine,
    messages: &[(&str, &str)],
    now: i64,
    rng: &mut ChaCha20Rng,
    cooling: &mut Cooling,
) -> Vec<Result<Incoming, SessionError>> {
    let messages: Vec<(String, String)> = messages
        .iter()
        .map(|(peer, wire)| (peer.to_string(), wire.to_string()))
        .collect();
    block_on(async {
        engine
            .decrypt_batch_gated(&messages, now, rng, Some(cooling))
            .await?
            .commit()
            .await
    })
    .unwrap()
}

#[test]
fn a_peer_whose_forgeries_keep_failing_cools_and_others_are_unaffected() {
    let (mut alice, mut bob, mut rng) = established(4);
    let mut carol = engine("carol", &mut rng);
    block_on(carol.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let mut cooling = Cooling::new(CoolingConfig::default());
    let valid = send(&mut alice, "bob", "three", &mut rng);
    let bob_before = sessions_json(&bob, "alice");

    // Alice's forgeries, each forcing a DH step and ~2,000 chain steps, fail until her
    // budget is spent; then they are not even looked at.
    let mut now = 1_000;
    let mut failed = 0;
    loop {
        let forged = max_skip_forgery(&valid, &mut rng);
        match batch(&mut bob, &[("alice", &forged)], now, &mut rng, &mut cooling).remove(0) {
            Err(SessionError::Decrypt {
                source: RatchetError::Authentication,
                ..
            }) => failed += 1,
            Err(SessionError::Cooling { .. }) => break,
            other => panic!("unexpected {other:?}"),
        }
        assert!(failed < 100, "never cooled");
    }
    // 40,000 units at ~2,100 a forgery.
    assert!(
        (15..=25).contains(&failed),
        "{failed} forgeries before cooling"
    );
    assert!(cooling.is_cooling("alice", now));
    assert_eq!(sessions_json(&bob, "alice"), bob_before);

    // While Alice cools, Carol's first message opens; Alice's genuine one waits, unchanged.
    let from_carol = send(&mut carol, "bob", "hi bob", &mut rng);
    let results = batch(
        &mut bob,
        &[("alice", &valid), ("carol", &from_carol)],
        now,
        &mut rng,
        &mut cooling,
    );
    let retry_after_ms = match &results[0] {
        Err(SessionError::Cooling {
            peer_id,
            retry_after_ms,
        }) if peer_id == "alice" => *retry_after_ms,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(results[1].as_ref().unwrap().plaintext, "hi bob");
    assert_eq!(sessions_json(&bob, "alice"), bob_before);

    // Just before the budget allows, still cooling; then Alice's message opens.
    now += i64::try_from(retry_after_ms).unwrap();
    assert!(cooling.is_cooling("alice", now - 1));
    let results = batch(&mut bob, &[("alice", &valid)], now, &mut rng, &mut cooling);
    assert_eq!(results[0].as_ref().unwrap().plaintext, "three");
}

#[test]
fn ungated_batches_are_not_cooled() {
    let (mut alice, mut bob, mut rng) = established(5);
    let valid = send(&mut alice, "bob", "three", &mut rng);
    let forgeries: Vec<(String, String)> = (0..30)
        .map(|_| ("alice".to_string(), max_skip_forgery(&valid, &mut rng)))
        .chain(std::iter::once(("alice".to_string(), valid.clone())))
        .collect();
    let results = block_on(async {
        bob.decrypt_batch(&forgeries, 0, &mut rng)
            .await?
            .commit()
            .await
    })
    .unwrap();
    assert!(
        results[..30]
            .iter()
            .all(|r| matches!(r, Err(SessionError::Decrypt { .. })))
    );
    assert_eq!(results[30].as_ref().unwrap().plaintext, "three");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Ordinary keys are never taken for low-order ones: sessions from any seed work
    /// both ways across ratchet steps.
    #[test]
    fn ordinary_sessions_still_work(seed in any::<u64>()) {
        let (mut alice, mut bob, mut rng) = established(seed);
        for round in 0..3 {
            let a = send(&mut alice, "bob", &format!("a{round}"), &mut rng);
            prop_assert_eq!(receive(&mut bob, "alice", &a, &mut rng).unwrap().plaintext, format!("a{round}"));
            let b = send(&mut bob, "alice", &format!("b{round}"), &mut rng);
            prop_assert_eq!(receive(&mut alice, "bob", &b, &mut rng).unwrap().plaintext, format!("b{round}"));
        }
    }
}
