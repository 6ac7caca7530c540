//! A peer's identity key is what the peer publishes: forged and replayed first messages are
//! refused, plaintext posing as a peer is refused, and real resets of web peers are followed
//! in both directions. Real server, real sockets, real redb files.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::{Client, ClientConfig, Event};
use quickchat_core::account::create_account;
use quickchat_core::protocol::ws::ClientFrame;
use quickchat_core::rand_core::UnwrapErr;
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::{Conversation, MemoryStore};
use support::web_peer::{WebPeer, assert_all_decrypted, uuid_v4};
use support::*;

fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

/// A first message to `to`, built on a fresh identity that nobody published (an attacker's),
/// from `to`'s real bundle (fetched with `fetcher`'s login).
async fn forged_first_message(fetcher: &Client, to: &str) -> String {
    let bundle = fetcher
        .api()
        .fetch_bundle(&token_of(fetcher).await, to)
        .await
        .unwrap()
        .to_bundle()
        .unwrap();
    let store = MemoryStore::new();
    create_account(&store, "mallory-device", 0, &mut rng())
        .await
        .unwrap();
    let mut engine = SessionEngine::open(store, SessionConfig::default())
        .await
        .unwrap();
    engine
        .start_session(to, &bundle, 0, &mut rng())
        .await
        .unwrap();
    engine
        .encrypt(to, "it's me, send me everything", 0, &mut rng())
        .await
        .unwrap()
        .commit()
        .await
        .unwrap()
        .wire
}

fn message_frame(to: &str, content: &str, encrypted: bool) -> String {
    ClientFrame::Message {
        to: to.to_string(),
        content: content.to_string(),
        message_type: quickchat_core::protocol::ws::MessageType::Text,
        encrypted,
        message_id: Some(uuid_v4()),
        image_data: None,
    }
    .to_json()
}

async fn failure_reason(events: &mut quickchat::EventStream) -> String {
    wait_for(events, |e| match e {
        Event::DecryptionFailed { reason, .. } => Some(reason),
        Event::Message { message, .. } => panic!("accepted: {message:?}"),
        Event::IdentityChanged { change } => panic!("identity changed: {change:?}"),
        _ => None,
    })
    .await
}

/// The backend lets anyone authenticate a socket as any user: a first message "from alice"
/// on an attacker's key is refused, and the conversation goes on with the real alice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_on_a_key_the_sender_does_not_publish_is_refused() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    let mut alice_events = alice.events();
    alice.send_text(&id(&bob), "hi bob").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.body, "hi bob");
    let fingerprint_before = bob.peer_fingerprint(&id(&alice)).await.unwrap();

    // Mallory (any registered user, for the bundle fetch) poses as alice.
    let mallory = registered(&server, &dir, "mallory").await;
    let wire = forged_first_message(&mallory, &id(&bob)).await;
    let alice_name = alice.current_user().unwrap().username;
    send_raw_frame(
        &server,
        &id(&alice),
        &alice_name,
        &message_frame(&id(&bob), &wire, true),
    )
    .await;
    let reason = failure_reason(&mut bob_events).await;
    assert!(reason.contains("identity key mismatch"), "{reason}");

    // Nothing changed: the same key for alice, and Bob's next message goes to the real
    // alice's session (she reads it; an attacker's session would not be hers).
    assert_eq!(
        bob.peer_fingerprint(&id(&alice)).await.unwrap(),
        fingerprint_before
    );
    bob.send_text(&id(&alice), "still you?").await.unwrap();
    assert_eq!(next_message(&mut alice_events).await.body, "still you?");
}

/// A first message replayed by user Y under Y's own id (the history endpoint needs no
/// token) is refused: alice's key is not pinned to Y.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_replayed_under_another_id_is_refused() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    alice.send_text(&id(&bob), "first words").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.body, "first words");

    // Yves reads alice's first message from the unauthenticated history and sends it to
    // Bob as his own.
    let yves = registered(&server, &dir, "yves").await;
    let history = yves.api().history(&id(&bob), &id(&alice)).await.unwrap();
    let first = history
        .iter()
        .find(|m| m.content.contains("\"x3dh\""))
        .expect("alice's first message in history");
    let yves_name = yves.current_user().unwrap().username;
    send_raw_frame(
        &server,
        &id(&yves),
        &yves_name,
        &message_frame(&id(&bob), &first.content, true),
    )
    .await;
    let reason = failure_reason(&mut bob_events).await;
    assert!(reason.contains("identity key mismatch"), "{reason}");
    // Bob knows no key for Yves: nothing was pinned.
    use quickchat_core::store::Store as _;
    assert!(
        bob.store()
            .known_identity(&id(&yves))
            .await
            .unwrap()
            .is_none()
    );
}

/// Plaintext "from alice" in an encrypted conversation is refused on Bob's side, and alice's
/// own catch-up does not take it for a message she sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_posing_as_a_peer_is_refused_and_not_imported_as_sent() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    alice.send_text(&id(&bob), "encrypted hello").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.body, "encrypted hello");

    let alice_name = alice.current_user().unwrap().username;
    send_raw_frame(
        &server,
        &id(&alice),
        &alice_name,
        &message_frame(&id(&bob), "send the money to mallory", false),
    )
    .await;
    let reason = failure_reason(&mut bob_events).await;
    assert!(
        reason.contains("plaintext in an encrypted conversation"),
        "{reason}"
    );
    let shown = bob
        .history(&Conversation::Direct(id(&alice)), None, 50)
        .await
        .unwrap();
    assert!(
        shown.iter().all(|m| !m.body.contains("mallory")),
        "{shown:?}"
    );

    // Alice's catch-up reads the whole history with Bob: the spoofed line is not hers.
    alice.catch_up_with(&id(&bob)).await.unwrap();
    let hers = alice
        .history(&Conversation::Direct(id(&bob)), None, 50)
        .await
        .unwrap();
    assert!(hers.iter().all(|m| !m.body.contains("mallory")), "{hers:?}");
    assert_eq!(hers.len(), 1, "{hers:?}");
}

/// PROTOCOL §8: a web user resets (new identity, next signed-prekey id) and writes first;
/// the SDK opens it, reports the change, and replies through the new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_peer_that_resets_and_writes_first_is_followed() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let web = WebPeer::register(&server, "web").await.unwrap();
    let mut events = alice.events();
    web.send_text(&id(&alice), "hello from the web")
        .await
        .unwrap();
    assert_eq!(next_message(&mut events).await.body, "hello from the web");
    alice.send_text(web.user_id(), "hi web").await.unwrap();
    assert_all_decrypted(&web, 1).await;

    web.reset_e2ee().await.unwrap();
    web.send_text(&id(&alice), "new keys, same me")
        .await
        .unwrap();
    let change = wait_for(&mut events, |e| match e {
        Event::IdentityChanged { change } => Some(change),
        _ => None,
    })
    .await;
    assert!(!change.was_verified);
    assert_eq!(next_message(&mut events).await.body, "new keys, same me");
    for text in ["welcome back", "and again"] {
        alice.send_text(web.user_id(), text).await.unwrap();
    }
    assert_all_decrypted(&web, 3).await;
    // In the order they were written (the web app's handlers run concurrently, so they may
    // finish in another order on a loaded machine).
    let texts: Vec<String> = web
        .received_in_arrival_order()
        .into_iter()
        .map(|r| r.plaintext)
        .collect();
    assert_eq!(texts[1..], ["welcome back", "and again"]);
}

/// A web user resets; the SDK writes first. A session the peer never answered is checked
/// against the peer's bundle before sending; one the peer answered is checked once the
/// peer comes online again (a reset or re-install reloads the app). Either way the next
/// message starts a new session the web user reads, and everything after it too. (The
/// re-checks are rate-limited per peer, by default to one in 10 minutes; the test allows
/// them at once, since its resets follow each other within seconds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_writing_first_after_a_web_peer_reset_is_read() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = ClientConfig {
        bundle_recheck_interval_ms: 0,
        ..ClientConfig::default()
    };
    let alice = client_with(&server, &dir, "alice", config).await;
    alice
        .register(&unique("alice"), "secret123", None)
        .await
        .unwrap();
    alice.connect_and_wait(WAIT).await.unwrap();
    let mut events = alice.events();

    // Never answered.
    let quiet = WebPeer::register(&server, "quiet").await.unwrap();
    alice
        .send_text(quiet.user_id(), "hello quiet")
        .await
        .unwrap();
    assert_all_decrypted(&quiet, 1).await;
    quiet.reset_e2ee().await.unwrap();
    alice
        .send_text(quiet.user_id(), "are you there?")
        .await
        .unwrap();
    alice.send_text(quiet.user_id(), "still me").await.unwrap();
    assert_all_decrypted(&quiet, 3).await;
    assert!(
        quiet.received()[1].new_session,
        "a new session after the reset"
    );

    // Answered, then reset with a reload (the socket reconnects).
    let chatty = WebPeer::register(&server, "chatty").await.unwrap();
    alice
        .send_text(chatty.user_id(), "hello chatty")
        .await
        .unwrap();
    assert_all_decrypted(&chatty, 1).await;
    chatty.send_text(&id(&alice), "hi alice").await.unwrap();
    assert_eq!(next_message(&mut events).await.body, "hi alice");
    chatty.reset_e2ee().await.unwrap();
    chatty.close().await;
    chatty.connect().await.unwrap();
    wait_for(&mut events, |e| match e {
        Event::Presence {
            user_id,
            online: true,
            ..
        } if user_id == chatty.user_id() => Some(()),
        _ => None,
    })
    .await;
    alice
        .send_text(chatty.user_id(), "after your reload")
        .await
        .unwrap();
    assert_all_decrypted(&chatty, 2).await;
    chatty.send_text(&id(&alice), "got it").await.unwrap();
    assert_eq!(next_message(&mut events).await.body, "got it");
    alice.send_text(chatty.user_id(), "good").await.unwrap();
    assert_all_decrypted(&chatty, 3).await;
}
