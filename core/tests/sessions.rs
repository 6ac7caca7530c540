//! Session policies of the engine: second first messages, simultaneous starts, replays,
//! identity changes, one-time prekey use, and what never reaches `Debug`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use engines::*;
use futures_executor::block_on;
use quickchat_core::encoding::b64_encode;
use quickchat_core::protocol::rest::{AuthResponse, LoginRequest, RegisterRequest};
use quickchat_core::session::{SessionConfig, SessionError};
use quickchat_core::store::Store;
use quickchat_core::transport::HttpResponse;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Sessions this engine starts mix in the bundle's one-time prekey (DH4).
fn with_dh4() -> SessionConfig {
    SessionConfig {
        one_time_prekey_use: quickchat_core::x3dh::OneTimePrekeyUse::WhenAvailable,
        ..SessionConfig::default()
    }
}

#[test]
fn sending_needs_a_session_and_a_known_signed_prekey() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut alice = engine("alice", &mut rng);
    let err = block_on(async { alice.encrypt("bob", "hi", 0, &mut rng).await.map(|_| ()) });
    assert_eq!(
        err,
        Err(SessionError::NoSession {
            peer_id: "bob".into()
        })
    );
    let mut bob = engine("bob", &mut rng);
    let mut stale = bundle(&bob, 0);
    if let Some(spk) = stale.signed_prekey.as_mut() {
        // A bundle naming a signed prekey id Bob never had:
        spk.id = 77;
    }
    // X3DH checks the signature over the key, not the id, so this bundle is accepted...
    block_on(alice.start_session("bob", &stale, 0, &mut rng)).unwrap();
    let wire = send(&mut alice, "bob", "hello", &mut rng);
    // ...and Bob says clearly which prekey he lacks.
    assert!(matches!(
        receive(&mut bob, "alice", &wire, &mut rng),
        Err(SessionError::UnknownSignedPrekey { id: 77, .. })
    ));
}

#[test]
fn a_replayed_first_message_does_not_restart_the_session() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut alice = engine("alice", &mut rng);
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let first = send(&mut alice, "bob", "one", &mut rng);
    let got = receive(&mut bob, "alice", &first, &mut rng).unwrap();
    assert!(got.new_session);
    let reply = send(&mut bob, "alice", "two", &mut rng);
    assert_eq!(
        receive(&mut alice, "bob", &reply, &mut rng)
            .unwrap()
            .plaintext,
        "two"
    );
    let before = sessions_json(&bob, "alice");
    // History catch-up hands Bob the first message again.
    let again = receive(&mut bob, "alice", &first, &mut rng);
    assert!(again.is_err(), "a replay must not decrypt twice");
    assert_eq!(sessions_json(&bob, "alice"), before);
    let next = send(&mut alice, "bob", "three", &mut rng);
    assert_eq!(
        receive(&mut bob, "alice", &next, &mut rng)
            .unwrap()
            .plaintext,
        "three"
    );
}

#[test]
fn the_one_time_prekey_is_used_once() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut alice = engine_with("alice", &mut rng, with_dh4());
    let mut bob = engine("bob", &mut rng);
    let b = bundle(&bob, 0);
    let otk_id = b.one_time_prekey.unwrap().id;
    block_on(alice.start_session("bob", &b, 0, &mut rng)).unwrap();
    let first = send(&mut alice, "bob", "one", &mut rng);
    assert!(first.contains(&format!("\"usedOneTimePrekeyId\":{otk_id}")));
    receive(&mut bob, "alice", &first, &mut rng).unwrap();
    assert!(
        block_on(bob.store().one_time_prekey(otk_id))
            .unwrap()
            .is_none()
    );
    // Carol reuses the same bundle (the backend would not hand it out twice): her first
    // message cannot open, since the secret is gone, and Bob says so.
    let mut carol = engine_with("carol", &mut rng, with_dh4());
    block_on(carol.start_session("bob", &b, 0, &mut rng)).unwrap();
    let from_carol = send(&mut carol, "bob", "me too", &mut rng);
    assert!(matches!(
        receive(&mut bob, "carol", &from_carol, &mut rng),
        Err(SessionError::UnknownOneTimePrekey { id, .. }) if id == otk_id
    ));
    // By default a session starts as the web client starts it: no one-time prekey.
    let mut dave = engine("dave", &mut rng);
    block_on(dave.start_session("bob", &bundle(&bob, 1), 0, &mut rng)).unwrap();
    let from_dave = send(&mut dave, "bob", "plain x3dh", &mut rng);
    assert!(!from_dave.contains("usedOneTimePrekeyId"));
    receive(&mut bob, "dave", &from_dave, &mut rng).unwrap();
}

#[test]
fn a_second_first_message_starts_a_new_session_and_late_old_messages_still_open() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut alice = engine("alice", &mut rng);
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let first = send(&mut alice, "bob", "old 1", &mut rng);
    let late = send(&mut alice, "bob", "old 2", &mut rng);
    receive(&mut bob, "alice", &first, &mut rng).unwrap();

    // Alice starts over (say, after a reset on her side of the session).
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let fresh = send(&mut alice, "bob", "new 1", &mut rng);
    let got = receive(&mut bob, "alice", &fresh, &mut rng).unwrap();
    assert!(got.new_session);
    assert_eq!(got.plaintext, "new 1");
    // The old session's late message still opens (from the previous sessions).
    assert_eq!(
        receive(&mut bob, "alice", &late, &mut rng)
            .unwrap()
            .plaintext,
        "old 2"
    );
    // Bob answers; Alice reads it on her new session...
    let reply = send(&mut bob, "alice", "answer", &mut rng);
    assert_eq!(
        receive(&mut alice, "bob", &reply, &mut rng)
            .unwrap()
            .plaintext,
        "answer"
    );
    // ...and the conversation goes on.
    let more = send(&mut alice, "bob", "new 2", &mut rng);
    assert_eq!(
        receive(&mut bob, "alice", &more, &mut rng)
            .unwrap()
            .plaintext,
        "new 2"
    );
}

#[test]
fn simultaneous_starts_converge() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut alice = engine("alice", &mut rng);
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    block_on(bob.start_session("alice", &bundle(&alice, 0), 0, &mut rng)).unwrap();
    let from_alice = send(&mut alice, "bob", "hi bob", &mut rng);
    let from_bob = send(&mut bob, "alice", "hi alice", &mut rng);
    assert_eq!(
        receive(&mut bob, "alice", &from_alice, &mut rng)
            .unwrap()
            .plaintext,
        "hi bob"
    );
    assert_eq!(
        receive(&mut alice, "bob", &from_bob, &mut rng)
            .unwrap()
            .plaintext,
        "hi alice"
    );
    for round in 0..3 {
        let a = send(&mut alice, "bob", &format!("a{round}"), &mut rng);
        assert_eq!(
            receive(&mut bob, "alice", &a, &mut rng).unwrap().plaintext,
            format!("a{round}")
        );
        let b = send(&mut bob, "alice", &format!("b{round}"), &mut rng);
        assert_eq!(
            receive(&mut alice, "bob", &b, &mut rng).unwrap().plaintext,
            format!("b{round}")
        );
    }
}

#[test]
fn identity_changes_are_reported_and_block_sending_after_verification() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let mut alice = engine("alice", &mut rng);
    let bob = engine("bob", &mut rng);
    assert_eq!(
        block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap(),
        None
    );
    block_on(alice.set_verified("bob", true)).unwrap();

    // Bob reinstalls: a new identity under the same user id.
    let mut bob2 = engine("bob", &mut rng);
    let change = block_on(alice.start_session("bob", &bundle(&bob2, 0), 0, &mut rng))
        .unwrap()
        .expect("the change is reported");
    assert!(change.was_verified);
    assert_eq!(change.previous_key, bob.identity().public().dh);
    assert_eq!(change.new_key, bob2.identity().public().dh);
    let refused = block_on(async { alice.encrypt("bob", "hi", 0, &mut rng).await.map(|_| ()) });
    assert_eq!(
        refused,
        Err(SessionError::UnacceptedIdentityChange {
            peer_id: "bob".into()
        })
    );
    block_on(alice.accept_identity("bob")).unwrap();
    let wire = send(&mut alice, "bob", "hi again", &mut rng);
    assert_eq!(
        receive(&mut bob2, "alice", &wire, &mut rng)
            .unwrap()
            .plaintext,
        "hi again"
    );
}

#[test]
fn an_unverified_peer_changing_keys_is_reported_on_receipt() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut alice = engine("alice", &mut rng);
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let first = send(&mut alice, "bob", "one", &mut rng);
    assert_eq!(
        receive(&mut bob, "alice", &first, &mut rng)
            .unwrap()
            .identity_change,
        None
    );
    // Alice reinstalls and writes again.
    let mut alice2 = engine("alice", &mut rng);
    block_on(alice2.start_session("bob", &bundle(&bob, 1), 0, &mut rng)).unwrap();
    let again = send(&mut alice2, "bob", "new me", &mut rng);
    let got = receive(&mut bob, "alice", &again, &mut rng).unwrap();
    assert_eq!(got.plaintext, "new me");
    let change = got.identity_change.expect("reported");
    assert!(!change.was_verified);
    assert_ne!(change.previous_fingerprint(), change.new_fingerprint());
    // Not verified before, so Bob may answer.
    let reply = send(&mut bob, "alice", "welcome back", &mut rng);
    assert_eq!(
        receive(&mut alice2, "bob", &reply, &mut rng)
            .unwrap()
            .plaintext,
        "welcome back"
    );
}

#[test]
fn debug_output_never_contains_secrets() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let mut alice = engine("alice", &mut rng);
    let mut bob = engine("bob", &mut rng);
    block_on(alice.start_session("bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let wire = send(&mut alice, "bob", "one", &mut rng);
    receive(&mut bob, "alice", &wire, &mut rng).unwrap();
    let sessions = block_on(bob.store().peer_sessions("alice"))
        .unwrap()
        .unwrap();
    let identity = block_on(bob.store().identity()).unwrap().unwrap();
    // The login's password and token, as the REST layer carries them.
    let (password, token) = ("pw-hunter2-secret", "eyJ.token-secret.sig");
    let register = RegisterRequest {
        username: "bob".into(),
        password: password.into(),
        avatar: None,
    };
    let login = LoginRequest {
        username: "bob".into(),
        password: password.into(),
    };
    let answer = AuthResponse {
        user: serde_json::from_value(serde_json::json!({"id": "u1", "username": "bob"})).unwrap(),
        token: token.into(),
    };
    let response = HttpResponse {
        status: 200,
        body: serde_json::to_string(&answer).unwrap(),
    };
    let shown = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        sessions,
        identity,
        bob,
        block_on(bob.store().signed_prekeys()).unwrap(),
        block_on(bob.store().one_time_prekeys()).unwrap(),
        register,
        login,
        answer,
        response
    );
    assert!(!shown.contains(password), "Debug printed a password");
    assert!(!shown.contains(token), "Debug printed a token");
    assert!(shown.contains("Password(<redacted>)"), "{shown}");
    // Every secret this account holds, in the two forms it could leak in.
    let ratchet = serde_json::to_value(&sessions.current.ratchet).unwrap();
    let mut secrets = vec![
        ratchet["rootKey"].as_str().unwrap().to_string(),
        ratchet["receivingChainKey"].as_str().unwrap().to_string(),
        b64_encode(identity.identity.seed()),
    ];
    for spk in block_on(bob.store().signed_prekeys()).unwrap() {
        secrets.push(b64_encode(spk.prekey.pair().secret().as_bytes()));
    }
    for otk in block_on(bob.store().one_time_prekeys()).unwrap() {
        secrets.push(b64_encode(otk.prekey.pair().secret().as_bytes()));
    }
    for secret in &secrets {
        assert!(!shown.contains(secret.as_str()), "Debug printed a secret");
        let bytes = quickchat_core::encoding::b64_decode("s", secret).unwrap();
        assert!(
            !shown.contains(&format!("{bytes:?}")),
            "Debug printed secret bytes"
        );
        assert!(
            !shown.contains(&hex::encode(&bytes)),
            "Debug printed secret hex"
        );
    }
    assert!(shown.contains("<redacted>"));
}
