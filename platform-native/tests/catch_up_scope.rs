//! `CatchUpScope::Only`: the connection catches up with the listed peers only (an empty
//! list: with nobody), and `catch_up_with` fetches the others on demand.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::{ClientConfig, Conversation};
use quickchat_core::client::CatchUpScope;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_listed_peers_are_caught_up_on_connect() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = registered(&server, &dir, "bob").await;
    let carol = registered(&server, &dir, "carol").await;
    let alice = client_in(&server, &dir, "alice").await;
    alice
        .register(&unique("alice"), "secret123", None)
        .await
        .unwrap();
    let alice_id = id(&alice);
    alice.close().await;
    drop(alice);

    // Both write while alice is offline.
    bob.send_text(&alice_id, "from bob").await.unwrap();
    carol.send_text(&alice_id, "from carol").await.unwrap();
    bob.close().await;
    carol.close().await;

    let config = ClientConfig {
        catch_up: CatchUpScope::Only(vec![id(&bob)]),
        ..ClientConfig::default()
    };
    let alice = reopened(&server, &dir, "alice", config).await;
    let with = |peer: &quickchat::Client| Conversation::Direct(id(peer));
    let from_bob = alice.history(&with(&bob), None, 10).await.unwrap();
    assert_eq!(from_bob.len(), 1);
    assert_eq!(from_bob[0].body, "from bob");
    assert!(
        alice
            .history(&with(&carol), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The others on demand.
    assert_eq!(alice.catch_up_with(&id(&carol)).await.unwrap(), 1);
    let from_carol = alice.history(&with(&carol), None, 10).await.unwrap();
    assert_eq!(from_carol[0].body, "from carol");
}
