//! Two and three clients on real sockets against the test server, with real redb files.

mod support;

use quickchat::{Conversation, Event, MessageStatus};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_encrypted_messages_both_ways() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let mut alice_events = alice.events();
    let mut bob_events = bob.events();

    let sent = alice.send_text(&id(&bob), "Hello Bob 👋").await.unwrap();
    assert!(sent.encrypted);
    let got = next_message(&mut bob_events).await;
    assert_eq!(got.body, "Hello Bob 👋");
    assert!(got.encrypted);
    assert_eq!(got.id, sent.id);
    assert_eq!(got.sender_id, id(&alice));

    // Alice's copy moves on from pending once the backend echoes it.
    let status = wait_for(&mut alice_events, |e| match e {
        Event::MessageStatus { message_id, status } if message_id == sent.id => Some(status),
        _ => None,
    })
    .await;
    assert!(status >= MessageStatus::Sent);

    bob.send_text(&id(&alice), "Hi Alice").await.unwrap();
    let reply = next_message(&mut alice_events).await;
    assert_eq!(reply.body, "Hi Alice");
    assert!(reply.encrypted);

    // The backend only ever saw ciphertext.
    let history = alice.api().history(&id(&bob), &id(&alice)).await.unwrap();
    assert_eq!(history.len(), 2);
    for stored in &history {
        assert!(stored.encrypted.0, "flagged encrypted by the backend");
        assert!(!stored.content.contains("Hello Bob") && !stored.content.contains("Hi Alice"));
    }

    // Both histories hold both messages, decrypted.
    let local = bob
        .history(&Conversation::Direct(id(&alice)), None, 10)
        .await
        .unwrap();
    let bodies: Vec<&str> = local.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["Hello Bob 👋", "Hi Alice"]);
    alice.close().await;
    bob.close().await;
}
