//! Users and presence, local history (pages, conversations, search) and event handlers,
//! on real sockets and real redb files.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use quickchat::{Conversation, Event};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_presence_and_lookup() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let mut alice_events = alice.events();
    let bob = registered(&server, &dir, "bob").await;
    let bob_name = bob.current_user().unwrap().username;

    let (who, online) = wait_for(&mut alice_events, |e| match e {
        Event::Presence {
            user_id, online, ..
        } => Some((user_id, online)),
        _ => None,
    })
    .await;
    assert_eq!((who.as_str(), online), (id(&bob).as_str(), true));
    assert!(alice.is_online(&id(&bob)));
    let online: Vec<String> = alice
        .online_users()
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    assert!(online.contains(&id(&bob)) && online.contains(&id(&alice)));

    let users = alice.users().await.unwrap();
    assert!(users.iter().any(|u| u.username == bob_name));
    assert_eq!(alice.find_user(&bob_name).await.unwrap().id, id(&bob));
    assert_eq!(alice.find_user(&id(&bob)).await.unwrap().username, bob_name);
    assert!(matches!(
        alice.find_user("nobody-at-all").await,
        Err(quickchat::ClientError::UnknownUser { .. })
    ));

    bob.close().await;
    let (who, online) = wait_for(&mut alice_events, |e| match e {
        Event::Presence {
            user_id, online, ..
        } => Some((user_id, online)),
        _ => None,
    })
    .await;
    assert_eq!((who.as_str(), online), (id(&bob).as_str(), false));
    assert!(!alice.is_online(&id(&bob)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_conversations_and_search() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let carol = registered(&server, &dir, "carol").await;
    let mut alice_events = alice.events();
    for i in 0..12 {
        bob.send_text(&id(&alice), &format!("bob says {i}"))
            .await
            .unwrap();
        // Distinct timestamps make the pages unambiguous.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    // Bob's messages are paced (a burst to one peer goes out spaced): all of them arrive
    // before Carol writes, so hers is the most recent.
    for _ in 0..12 {
        next_message(&mut alice_events).await;
    }
    carol
        .send_text(&id(&alice), "Carol's Needle")
        .await
        .unwrap();
    next_message(&mut alice_events).await;

    let with_bob = Conversation::Direct(id(&bob));
    let newest = alice.history(&with_bob, None, 5).await.unwrap();
    let bodies: Vec<String> = newest.iter().map(|m| m.body.clone()).collect();
    assert_eq!(
        bodies,
        (7..12).map(|i| format!("bob says {i}")).collect::<Vec<_>>()
    );
    let older = alice
        .history(&with_bob, Some(newest[0].timestamp), 5)
        .await
        .unwrap();
    let bodies: Vec<String> = older.iter().map(|m| m.body.clone()).collect();
    assert_eq!(
        bodies,
        (2..7).map(|i| format!("bob says {i}")).collect::<Vec<_>>()
    );
    let oldest = alice
        .history(&with_bob, Some(older[0].timestamp), 5)
        .await
        .unwrap();
    assert_eq!(oldest.len(), 2);

    let conversations = alice.conversations().await.unwrap();
    assert_eq!(conversations.len(), 2);
    assert_eq!(
        conversations[0].id,
        Conversation::Direct(id(&carol)),
        "most recent first"
    );
    assert_eq!(conversations[0].unread, 1);
    assert_eq!(conversations[1].unread, 12);
    assert_eq!(conversations[1].last_message.body, "bob says 11");

    let found = alice.search("needle", 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].body, "Carol's Needle");
    assert_eq!(alice.search("BOB SAYS 1", 10).await.unwrap().len(), 3);
    assert!(
        alice
            .search_in(&Conversation::Direct(id(&carol)), "bob says", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(alice.search("  ", 10).await.is_err());

    // Marking read is reflected in the list.
    let ids: Vec<String> = alice
        .history(&with_bob, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    alice.mark_read(&id(&bob), &ids).await.unwrap();
    let conversations = alice.conversations().await.unwrap();
    assert_eq!(conversations[1].unread, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_see_every_message_in_order() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = {
        let seen = Arc::clone(&seen);
        let bob = bob.clone();
        bob.clone().on_message(move |message| {
            let seen = Arc::clone(&seen);
            let bob = bob.clone();
            let done_tx = done_tx.clone();
            async move {
                // A handler may use the client: it answers.
                bob.send_text(&message.sender_id, &format!("got {}", message.body))
                    .await
                    .unwrap();
                seen.lock().unwrap().push(message.body);
                let _ = done_tx.send(());
            }
        })
    };
    let mut alice_events = alice.events();
    for i in 0..5 {
        alice.send_text(&id(&bob), &format!("n{i}")).await.unwrap();
    }
    for _ in 0..5 {
        tokio::time::timeout(WAIT, done_rx.recv()).await.unwrap();
    }
    assert_eq!(*seen.lock().unwrap(), ["n0", "n1", "n2", "n3", "n4"]);
    for i in 0..5 {
        assert_eq!(
            next_message(&mut alice_events).await.body,
            format!("got n{i}")
        );
    }
    handler.abort();
}
