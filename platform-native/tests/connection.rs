//! Catch-up, the outbox, restarts, forced drops and the reconnect race, on real sockets and
//! real redb files.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use quickchat::{ClientConfig, Conversation, Event, MessageStatus};
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_brings_what_was_missed_in_order_and_never_twice() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let (alice_id, bob_id) = (id(&alice), id(&bob));
    bob.close().await;
    drop(bob);

    // Bob is offline: the backend only stores these (and pushes nothing later).
    let mut alice_events = alice.events();
    for text in ["one", "two", "three"] {
        let sent = alice.send_text(&bob_id, text).await.unwrap();
        assert_eq!(sent.status, MessageStatus::Pending);
    }
    let mut settled = 0;
    while settled < 3 {
        wait_for(&mut alice_events, |e| match e {
            Event::MessageStatus {
                status: MessageStatus::Sent,
                ..
            } => Some(()),
            _ => None,
        })
        .await;
        settled += 1;
    }

    let bob = client_in(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    bob.connect_and_wait(WAIT).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(
            wait_for(&mut bob_events, |e| match e {
                Event::Message { message, live } => {
                    assert!(!live, "found by catch-up");
                    Some(message.body)
                }
                _ => None,
            })
            .await,
        );
    }
    assert_eq!(got, ["one", "two", "three"]);

    // Reconnecting again finds nothing new, and history holds each message once.
    bob.close().await;
    let mut bob_events = bob.events();
    bob.connect();
    let new = wait_for(&mut bob_events, |e| match e {
        Event::CaughtUp { new_messages } => Some(new_messages),
        _ => None,
    })
    .await;
    assert_eq!(new, 0);
    let history = bob
        .history(&Conversation::Direct(alice_id.clone()), None, 50)
        .await
        .unwrap();
    let bodies: Vec<&str> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two", "three"]);

    // Bob's catch-up told the backend they were delivered; Alice's catch-up sees that.
    alice.catch_up().await.unwrap();
    for message in alice
        .history(&Conversation::Direct(bob_id), None, 50)
        .await
        .unwrap()
    {
        assert_eq!(message.status, MessageStatus::Delivered, "{}", message.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_sent_while_offline_goes_out_once_connected_exactly_once() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    let alice = client_in(&server, &dir, "alice").await;
    alice
        .register(&unique("alice"), "secret123", None)
        .await
        .unwrap();
    // Never connected: both wait in the outbox.
    let first = alice.send_text(&id(&bob), "queued 1").await.unwrap();
    let second = alice.send_text(&id(&bob), "queued 2").await.unwrap();
    assert_eq!(first.status, MessageStatus::Pending);
    assert!(first.wire.is_some());
    alice.connect_and_wait(WAIT).await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.body, "queued 1");
    assert_eq!(next_message(&mut bob_events).await.body, "queued 2");
    // Nothing more arrives, and the backend stored each once.
    let extra =
        tokio::time::timeout(Duration::from_millis(500), next_message(&mut bob_events)).await;
    assert!(extra.is_err(), "a message arrived twice");
    let history = bob.api().history(&id(&alice), &id(&bob)).await.unwrap();
    let ids: Vec<&str> = history.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [first.id.as_str(), second.id.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closed_and_reopened_mid_conversation_continues_its_sessions() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    let mut alice_events = alice.events();
    alice.send_text(&id(&bob), "before").await.unwrap();
    next_message(&mut bob_events).await;
    bob.send_text(&id(&alice), "reply before").await.unwrap();
    next_message(&mut alice_events).await;

    let alice_id = id(&alice);
    alice.close().await;
    drop(alice);
    let alice = reopened(&server, &dir, "alice", quickchat::ClientConfig::default()).await;
    assert_eq!(id(&alice), alice_id);
    let mut alice_events = alice.events();
    let sent = alice.send_text(&id(&bob), "after reopening").await.unwrap();
    assert!(
        !sent.wire.as_ref().unwrap().contains("x3dh"),
        "the old session goes on"
    );
    assert_eq!(next_message(&mut bob_events).await.body, "after reopening");
    bob.send_text(&alice_id, "welcome back").await.unwrap();
    assert_eq!(next_message(&mut alice_events).await.body, "welcome back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_while_sending_loses_nothing_and_duplicates_nothing() {
    let mut server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered_fast(&server, &dir, "alice").await;
    let bob = registered_fast(&server, &dir, "bob").await;
    let mut bob_events = bob.events();
    let bob_id = id(&bob);

    let total = 40;
    let mut sent_ids = Vec::new();
    for i in 0..total {
        if i == 15 {
            server.stop().await;
        }
        if i == 30 {
            server.restart().await.unwrap();
        }
        let sent = alice.send_text(&bob_id, &format!("m{i}")).await.unwrap();
        sent_ids.push(sent.id);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut received = Vec::new();
    while received.len() < total {
        let message = next_message(&mut bob_events).await;
        received.push(message.id);
    }
    let unique_received: HashSet<&String> = received.iter().collect();
    assert_eq!(unique_received.len(), total, "no duplicates");
    assert_eq!(
        unique_received,
        sent_ids.iter().collect::<HashSet<_>>(),
        "everything arrived"
    );
    let extra =
        tokio::time::timeout(Duration::from_millis(800), next_message(&mut bob_events)).await;
    assert!(extra.is_err(), "a message arrived twice");
    let stored = bob.api().history(&id(&alice), &bob_id).await.unwrap();
    assert_eq!(stored.len(), total, "the backend stored each once");
    let local = bob
        .history(&Conversation::Direct(id(&alice)), None, 100)
        .await
        .unwrap();
    assert_eq!(local.len(), total);
    assert!(local.iter().all(|m| m.decrypt_error.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconnect_race_is_detected_and_what_was_missed_is_caught_up() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered_fast(&server, &dir, "alice").await;
    let bob = registered_fast(&server, &dir, "bob").await;
    let mut alice_events = alice.events();
    let me = alice.current_user().unwrap();

    // A second socket authenticates as Alice: the backend closes Alice's socket...
    let (mut raw, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let auth = quickchat_core::protocol::ws::ClientFrame::Auth {
        user_id: me.user_id.clone(),
        username: me.username.clone(),
    };
    raw.send(Message::text(auth.to_json())).await.unwrap();
    raw.next().await.unwrap().unwrap();
    wait_for(&mut alice_events, |e| {
        matches!(e, Event::Disconnected { .. }).then_some(())
    })
    .await;
    wait_for(&mut alice_events, |e| {
        matches!(e, Event::Connected).then_some(())
    })
    .await;
    // ...and when the second socket closes, its close handler unregisters Alice's new one.
    raw.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Bob writes while the backend believes Alice is gone: only stored.
    bob.send_text(&me.user_id, "did you get this?")
        .await
        .unwrap();

    // The heartbeat finds the zombie socket, the client reconnects and catches up.
    let reason = wait_for(&mut alice_events, |e| match e {
        Event::Disconnected { reason } => Some(reason),
        _ => None,
    })
    .await;
    assert!(reason.contains("heartbeat"), "{reason}");
    let message = next_message(&mut alice_events).await;
    assert_eq!(message.body, "did you get this?");
    assert!(alice.is_connected());
    // And live delivery works again.
    let mut alice_events = alice.events();
    bob.send_text(&me.user_id, "and this?").await.unwrap();
    assert_eq!(next_message(&mut alice_events).await.body, "and this?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passphrase_and_damaged_store_give_clear_errors_and_change_nothing() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    alice.close().await;
    drop(alice);
    let path = dir.path().join("alice.redb");
    let before = std::fs::read(&path).unwrap();

    let wrong = quickchat::Client::builder()
        .server(server.base_url())
        .store_path(&path)
        .passphrase("not the passphrase")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            quickchat::Error::Store(quickchat_core::store::StoreError::WrongPassphrase)
        ),
        "{wrong}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is untouched"
    );

    let damaged_path = dir.path().join("damaged.redb");
    let mut damaged = before.clone();
    let middle = damaged.len() / 2;
    for byte in &mut damaged[middle..middle + 64] {
        *byte ^= 0xff;
    }
    damaged.truncate(damaged.len() - 100);
    std::fs::write(&damaged_path, &damaged).unwrap();
    let err = quickchat::Client::builder()
        .server(server.base_url())
        .store_path(&damaged_path)
        .passphrase("alice passphrase")
        .build()
        .await;
    match err {
        Err(quickchat::Error::Store(
            e @ (quickchat_core::store::StoreError::Corrupt { .. }
            | quickchat_core::store::StoreError::Backend { .. }),
        )) => eprintln!("damaged store: {e}"),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a damaged store opened"),
    }
    assert_eq!(
        std::fs::read(&damaged_path).unwrap(),
        damaged,
        "nothing was rewritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_from_the_server_become_events_not_panics() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let registered_alice = registered(&server, &dir, "alice").await;
    let me = registered_alice.current_user().unwrap();
    registered_alice.close().await;
    drop(registered_alice);

    // A hostile WebSocket server on a real socket: it accepts the login, then misbehaves.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!("ws://{}", listener.local_addr().unwrap());
    let me_for_server = me.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let me = me_for_server.clone();
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let _auth = ws.next().await;
                let online = format!(
                    r#"{{"type":"online","payload":{{"users":[{{"userId":"{}","username":"{}","online":true}}]}}}}"#,
                    me.user_id, me.username
                );
                for frame in [
                    online.as_str(),
                    "{not json at all",
                    r#"{"type":"message","payload":{"id":42}}"#,
                    r#"{"type":"brand_new_type","payload":{}}"#,
                    r#"{"type":"message","payload":{"id":"m1","from":"peer","to":"me","content":"plain hello","timestamp":1,"status":"sent","type":"text","encrypted":false}}"#,
                ] {
                    ws.send(Message::text(frame.to_string())).await.unwrap();
                }
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    let client = quickchat::Client::builder()
        .server(server.base_url())
        .websocket_url(ws_url)
        .store_path(dir.path().join("alice.redb"))
        .passphrase("alice passphrase")
        .store_options(
            quickchat::store::StoreOptions::new()
                .kdf(quickchat::store::KdfStrength::InsecureForTests),
        )
        .build()
        .await
        .unwrap();
    let mut events = client.events();
    client.connect();
    let mut malformed = 0;
    let message = wait_for(&mut events, |e| match e {
        Event::MalformedFrame { .. } => {
            malformed += 1;
            None
        }
        Event::Message { message, .. } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(malformed, 2);
    assert_eq!(message.body, "plain hello");
    assert!(!message.encrypted);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_client_without_closing_it_releases_its_socket() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let mut alice_events = alice.events();
    let bob = registered(&server, &dir, "bob").await;
    let bob_id = id(&bob);
    wait_for(&mut alice_events, |e| match e {
        Event::Presence {
            user_id,
            online: true,
            ..
        } if user_id == bob_id => Some(()),
        _ => None,
    })
    .await;
    drop(bob);
    wait_for(&mut alice_events, |e| match e {
        Event::Presence {
            user_id,
            online: false,
            ..
        } if user_id == bob_id => Some(()),
        _ => None,
    })
    .await;
    // The store is released too (the stopped task lets go of it a moment later).
    let path = dir.path().join("bob.redb");
    let deadline = tokio::time::Instant::now() + WAIT;
    let again = loop {
        match quickchat::Client::builder()
            .server(server.base_url())
            .store_path(&path)
            .passphrase("bob passphrase")
            .build()
            .await
        {
            Ok(client) => break client,
            Err(quickchat::Error::Store(quickchat_core::store::StoreError::InUse { .. }))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("reopening failed: {e}"),
        }
    };
    assert_eq!(again.current_user().map(|u| u.user_id), Some(bob_id));
}

/// A server that drops every connection right after it is made gets ever longer pauses
/// (the backoff starts again only after a connection stayed healthy), not a reconnect and a
/// full catch-up every few seconds forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backoff_resets_only_after_a_healthy_connection() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = ClientConfig {
        healthy_connection_ms: 3_000,
        ..fast_config()
    };
    let alice = client_with(&server, &dir, "alice", config).await;
    alice
        .register(&unique("alice"), "secret123", None)
        .await
        .unwrap();
    let mut events = alice.events();
    alice.connect_and_wait(WAIT).await.unwrap();
    let alice_id = id(&alice);
    let mut attempts = Vec::new();
    for _ in 0..4 {
        server.disconnect_user(&alice_id).await;
        attempts.push(
            wait_for(&mut events, |e| match e {
                Event::Reconnecting { attempt, .. } => Some(attempt),
                _ => None,
            })
            .await,
        );
        wait_for(&mut events, |e| matches!(e, Event::Connected).then_some(())).await;
    }
    assert_eq!(attempts, [1, 2, 3, 4]);

    // Healthy for longer than `healthy_connection_ms`: the next drop starts from 1 again.
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    server.disconnect_user(&alice_id).await;
    let attempt = wait_for(&mut events, |e| match e {
        Event::Reconnecting { attempt, .. } => Some(attempt),
        _ => None,
    })
    .await;
    assert_eq!(attempt, 1);
}
