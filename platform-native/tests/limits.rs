//! Caps on stored incoming content, over the test server: a peer's (or the server's)
//! oversized text, encrypted wire or image is stored refused — a short prefix and the
//! reason — never whole.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::ClientConfig;
use quickchat::{Client, Event, MessageRecord};
use quickchat_core::client::CatchUpScope;
use quickchat_core::client::limits::{KEPT_PREFIX, MAX_IMAGE_DATA, MAX_TEXT, MAX_WIRE};
use quickchat_core::protocol::rest::{AuthResponse, CreateGroupRequest, RegisterRequest};
use quickchat_core::protocol::ws::{ClientFrame, MessageType};
use quickchat_testserver::TestServer;
use support::{WAIT, client_with, id, registered, send_raw_frame, unique, wait_for};

/// A test server that takes WebSocket messages far over Cloudflare's 1 MiB (the backend
/// behind another proxy, or a hostile server, can send anything).
async fn server() -> TestServer {
    TestServer::start(
        quickchat_testserver::Config::default()
            .with_bcrypt_cost(4)
            .with_max_ws_message_bytes(32 << 20),
    )
    .await
    .expect("test server starts")
}

/// A user that exists on the backend only (no client, no keys).
async fn raw_user(client: &Client, name: &str) -> AuthResponse {
    client
        .api()
        .register(&RegisterRequest {
            username: unique(name),
            password: "secret123".into(),
            avatar: None,
        })
        .await
        .unwrap()
}

/// Sends a 1:1 message from `from` with a raw socket.
async fn raw_direct(
    server: &TestServer,
    from: &AuthResponse,
    to: &str,
    id: &str,
    content: String,
    encrypted: bool,
    image_data: Option<String>,
) {
    let frame = ClientFrame::Message {
        to: to.to_string(),
        content,
        message_type: if image_data.is_some() {
            MessageType::Image
        } else {
            MessageType::Text
        },
        encrypted,
        message_id: Some(id.to_string()),
        image_data,
    };
    send_raw_frame(server, &from.user.id, &from.user.username, &frame.to_json()).await;
}

/// Waits for the refusal of message `id` and returns it as stored.
async fn refused(client: &Client, events: &mut quickchat::EventStream, id: &str) -> MessageRecord {
    let reason = wait_for(events, |e| match e {
        Event::DecryptionFailed {
            message_id, reason, ..
        } if message_id == id => Some(reason),
        _ => None,
    })
    .await;
    assert!(reason.starts_with("refused"), "{reason}");
    let stored = client.message(id).await.unwrap().expect("stored");
    assert_refused(&stored);
    assert_eq!(stored.decrypt_error.as_deref(), Some(reason.as_str()));
    stored
}

fn assert_refused(stored: &MessageRecord) {
    assert_eq!(stored.body, "");
    assert_eq!(stored.image_data, None);
    let kept = stored.wire.as_deref().unwrap_or_default();
    assert!(kept.len() <= KEPT_PREFIX, "{} bytes kept", kept.len());
    let reason = stored.decrypt_error.as_deref().expect("a reason");
    assert!(reason.contains("limit"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_plaintext_is_stored_refused_with_a_prefix() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let mut events = bob.events();
    let mallory = raw_user(&bob, "mallory").await;
    let text = "a".repeat(MAX_TEXT + 1);
    raw_direct(
        &server,
        &mallory,
        &id(&bob),
        "big-text",
        text.clone(),
        false,
        None,
    )
    .await;
    let stored = refused(&bob, &mut events, "big-text").await;
    assert_eq!(stored.wire.as_deref(), Some(&text[..KEPT_PREFIX]));
    assert!(
        stored
            .decrypt_error
            .unwrap()
            .contains(&format!("{} bytes", MAX_TEXT + 1))
    );
    // A text at the cap is stored whole.
    let at_cap = "b".repeat(MAX_TEXT);
    raw_direct(
        &server,
        &mallory,
        &id(&bob),
        "cap-text",
        at_cap.clone(),
        false,
        None,
    )
    .await;
    let message = support::next_message(&mut events).await;
    assert_eq!(message.id, "cap-text");
    assert_eq!(bob.message("cap-text").await.unwrap().unwrap().body, at_cap);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_encrypted_wire_is_not_kept_whole() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let mut events = bob.events();
    let mallory = raw_user(&bob, "mallory").await;
    // Shaped like an envelope, so the backend flags it encrypted.
    let wire = format!(
        "{{\"header\":{{\"messageNumber\":0}},\"ciphertext\":\"{}\"}}",
        "A".repeat(MAX_WIRE)
    );
    raw_direct(
        &server,
        &mallory,
        &id(&bob),
        "big-wire",
        wire.clone(),
        true,
        None,
    )
    .await;
    let stored = refused(&bob, &mut events, "big-wire").await;
    assert!(stored.encrypted);
    assert_eq!(stored.wire.as_deref(), Some(&wire[..KEPT_PREFIX]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_image_is_dropped() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let mut events = bob.events();
    let mallory = raw_user(&bob, "mallory").await;
    let image = format!("data:image/png;base64,{}", "B".repeat(MAX_IMAGE_DATA + 1));
    raw_direct(
        &server,
        &mallory,
        &id(&bob),
        "big-image",
        "look".into(),
        false,
        Some(image),
    )
    .await;
    let stored = refused(&bob, &mut events, "big-image").await;
    assert_eq!(stored.wire.as_deref(), Some("look"));
    assert!(stored.decrypt_error.unwrap().contains("image"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_found_by_catch_up_is_stored_refused() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    // Mallory is a new peer: the default catch-up finds it only in the background directory
    // scan; catching up with every user finds it at once.
    let config = ClientConfig {
        catch_up: CatchUpScope::AllUsers,
        ..ClientConfig::default()
    };
    let bob = client_with(&server, &dir, "bob", config).await;
    bob.register(&unique("bob"), "secret123", None)
        .await
        .unwrap();
    bob.connect_and_wait(WAIT).await.unwrap();
    let mallory = raw_user(&bob, "mallory").await;
    let bob_id = id(&bob);
    let bob_name = bob.current_user().unwrap().username;
    bob.close().await;
    // While Bob is offline: a peer's oversized text, and one "Bob" sent from elsewhere.
    raw_direct(
        &server,
        &mallory,
        &bob_id,
        "offline-big",
        "c".repeat(MAX_TEXT + 1),
        false,
        None,
    )
    .await;
    let own = ClientFrame::Message {
        to: mallory.user.id.clone(),
        content: "d".repeat(MAX_TEXT + 1),
        message_type: MessageType::Text,
        encrypted: false,
        message_id: Some("own-big".into()),
        image_data: None,
    };
    send_raw_frame(&server, &bob_id, &bob_name, &own.to_json()).await;
    bob.connect_and_wait(WAIT).await.unwrap();
    let stored = bob
        .message("offline-big")
        .await
        .unwrap()
        .expect("caught up");
    assert_refused(&stored);
    // Plaintext "from Bob" that this device did not send is not imported at all (anyone
    // can send as anyone through the backend), however large.
    assert!(bob.message("own-big").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_group_message_is_stored_refused() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let mut events = bob.events();
    let mallory = raw_user(&bob, "mallory").await;
    let group = bob
        .api()
        .create_group(
            &mallory.user.id,
            &CreateGroupRequest {
                name: "big talk".into(),
                description: None,
                avatar: None,
                member_ids: vec![id(&bob)],
                settings: None,
            },
        )
        .await
        .unwrap();
    let text = "e".repeat(MAX_TEXT + 1);
    let frame = ClientFrame::GroupMessage {
        group_id: group.id.clone(),
        content: text.clone(),
        message_type: MessageType::Text,
        image_data: None,
    };
    send_raw_frame(
        &server,
        &mallory.user.id,
        &mallory.user.username,
        &frame.to_json(),
    )
    .await;
    let message = wait_for(&mut events, |e| match e {
        Event::GroupMessage { message, .. } if message.sender_id == mallory.user.id => {
            Some(message)
        }
        _ => None,
    })
    .await;
    assert_refused(&message);
    let stored = bob.message(&message.id).await.unwrap().expect("stored");
    assert_eq!(stored, message);
    assert_eq!(stored.wire.as_deref(), Some(&text[..KEPT_PREFIX]));
}
