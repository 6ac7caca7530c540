//! Fingerprints, verification through the backend, identity changes, E2EE reset and
//! prekey upkeep, on real sockets.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::{ClientConfig, ClientError, Event};
use quickchat_core::session::SessionError;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprints_agree_and_verification_lives_on_the_backend() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let bob_fp = bob.fingerprint().await.unwrap();
    assert_eq!(alice.peer_fingerprint(&id(&bob)).await.unwrap(), bob_fp);
    assert_eq!(bob_fp.grouped().split(' ').count(), 12);

    let before = alice.verification(&id(&bob)).await.unwrap();
    assert!(!before.verified);
    let verified = alice.verify_peer(&id(&bob), Some("qr_code")).await.unwrap();
    assert_eq!(verified, bob_fp);
    let after = alice.verification(&id(&bob)).await.unwrap();
    assert!(after.verified);
    assert_eq!(after.method.as_deref(), Some("qr_code"));
    assert_eq!(after.verified_fingerprint.as_deref(), Some(bob_fp.as_str()));
    // The backend holds it, as the web client would read it.
    let status = alice
        .api()
        .verification(&token_of(&alice).await, &id(&bob))
        .await
        .unwrap();
    assert!(status.verified);

    alice.unverify_peer(&id(&bob)).await.unwrap();
    assert!(!alice.verification(&id(&bob)).await.unwrap().verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_peer_changing_keys_blocks_sending_until_accepted() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let mut alice_events = alice.events();
    let mut bob_events = bob.events();
    alice.send_text(&id(&bob), "hi").await.unwrap();
    next_message(&mut bob_events).await;
    alice.verify_peer(&id(&bob), Some("manual")).await.unwrap();
    let old = bob.fingerprint().await.unwrap();

    // Bob resets end-to-end encryption: new identity, published.
    bob.reset_e2ee().await.unwrap();
    let new = bob.fingerprint().await.unwrap();
    assert_ne!(old, new);
    // His next message starts a new session and carries the new identity.
    bob.send_text(&id(&alice), "new keys, same me")
        .await
        .unwrap();
    let change = wait_for(&mut alice_events, |e| match e {
        Event::IdentityChanged { change } => Some(change),
        _ => None,
    })
    .await;
    assert!(change.was_verified);
    assert_eq!(change.new_fingerprint(), new);
    assert_eq!(
        next_message(&mut alice_events).await.body,
        "new keys, same me"
    );

    let refused = alice.send_text(&id(&bob), "blocked").await.unwrap_err();
    assert!(
        matches!(
            refused,
            ClientError::Session(SessionError::UnacceptedIdentityChange { .. })
        ),
        "{refused}"
    );
    let status = alice.verification(&id(&bob)).await.unwrap();
    assert!(status.change_pending);
    assert!(
        !status.verified,
        "the old verification does not cover the new key"
    );

    alice.accept_identity(&id(&bob)).await.unwrap();
    alice.send_text(&id(&bob), "accepted").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.body, "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_prekeys_are_kept_topped_up() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let alice = registered(&server, &dir, "alice").await;
    let bob_jwt = token_of(&bob).await;
    let status = bob.api().prekey_status(&bob_jwt).await.unwrap();
    assert_eq!(status.one_time_prekey_count, 100);
    assert_eq!(status.signed_prekey_key_id, Some(1));

    // Bundle fetches (as the web client does before every send) burn Bob's prekeys.
    let alice_jwt = token_of(&alice).await;
    for _ in 0..85 {
        alice
            .api()
            .fetch_bundle(&alice_jwt, &id(&bob))
            .await
            .unwrap();
    }
    assert_eq!(
        bob.api()
            .prekey_status(&bob_jwt)
            .await
            .unwrap()
            .one_time_prekey_count,
        15
    );
    bob.maintain_prekeys().await.unwrap();
    assert_eq!(
        bob.api()
            .prekey_status(&bob_jwt)
            .await
            .unwrap()
            .one_time_prekey_count,
        100
    );
    // Sessions still start and decrypt after the top-up.
    let mut bob_events = bob.events();
    alice.send_text(&id(&bob), "after top-up").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.body, "after top-up");
    // Sending again does not fetch Bob's bundle again.
    let count = bob
        .api()
        .prekey_status(&bob_jwt)
        .await
        .unwrap()
        .one_time_prekey_count;
    alice.send_text(&id(&bob), "second").await.unwrap();
    next_message(&mut bob_events).await;
    assert_eq!(
        bob.api()
            .prekey_status(&bob_jwt)
            .await
            .unwrap()
            .one_time_prekey_count,
        count,
        "no bundle fetch per message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_publishes_the_next_free_prekey_ids_never_one_again() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let bob_jwt = token_of(&bob).await;
    let first = bob.api().prekey_status(&bob_jwt).await.unwrap();
    assert_eq!(first.signed_prekey_key_id, Some(1));

    // As the web client's resetE2EE: ids 1..=101 were used, so the new signed prekey is 102
    // and its one-time prekeys 103..=202; a second reset carries on from there.
    bob.reset_e2ee().await.unwrap();
    let after = bob
        .api()
        .prekey_status(&token_of(&bob).await)
        .await
        .unwrap();
    assert_eq!(after.signed_prekey_key_id, Some(102));
    bob.reset_e2ee().await.unwrap();
    let again = bob
        .api()
        .prekey_status(&token_of(&bob).await)
        .await
        .unwrap();
    assert_eq!(again.signed_prekey_key_id, Some(203));

    // A peer that fetches the bundle (as the web client does before every send) sees the new
    // id. The backend still hands out Bob's unused one-time prekeys from before the resets
    // (it has no way to delete them), whose private keys Bob no longer has.
    let alice = registered(&server, &dir, "alice").await;
    let bundle = alice
        .api()
        .fetch_bundle(&token_of(&alice).await, &id(&bob))
        .await
        .unwrap();
    assert_eq!(bundle.signed_prekey.as_ref().map(|s| s.key_id), Some(203));
    assert_eq!(bundle.one_time_prekey.as_ref().map(|p| p.key_id), Some(2));

    // Logging in again on the same store keeps the keys and the counter: nothing is
    // republished under an old id, and a third reset still carries on.
    let username = bob.current_user().unwrap().username;
    bob.logout().await.unwrap();
    bob.login(&username, "secret123").await.unwrap();
    let relogged = bob
        .api()
        .prekey_status(&token_of(&bob).await)
        .await
        .unwrap();
    assert_eq!(relogged.signed_prekey_key_id, Some(203));
    bob.reset_e2ee().await.unwrap();
    let third = bob
        .api()
        .prekey_status(&token_of(&bob).await)
        .await
        .unwrap();
    assert_eq!(third.signed_prekey_key_id, Some(304));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reset_a_new_peer_writing_first_is_read() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    bob.reset_e2ee().await.unwrap();
    let mut bob_events = bob.events();

    // Carol's bundle of Bob holds a stale one-time prekey (id 2, from before the reset). By
    // default a session is started as the web client starts it, without it: Bob reads her.
    let carol = registered(&server, &dir, "carol").await;
    carol
        .send_text(&id(&bob), "hello after your reset")
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut bob_events).await.body,
        "hello after your reset"
    );

    // A client told to mix one-time prekeys in gets the stale one; Bob says exactly why he
    // cannot read it instead of "authentication failed".
    let config = ClientConfig {
        session: quickchat_core::session::SessionConfig {
            one_time_prekey_use: quickchat_core::x3dh::OneTimePrekeyUse::WhenAvailable,
            ..Default::default()
        },
        ..fast_config()
    };
    let dave = client_with(&server, &dir, "dave", config).await;
    dave.register(&unique("dave"), "secret123", None)
        .await
        .unwrap();
    dave.connect_and_wait(WAIT).await.unwrap();
    dave.send_text(&id(&bob), "with DH4").await.unwrap();
    let reason = wait_for(&mut bob_events, |e| match e {
        Event::DecryptionFailed { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert!(reason.contains("names one-time prekey"), "{reason}");
}
