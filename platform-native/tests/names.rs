//! Look-alike user names: a user whose name imitates a contact's is reported with
//! `Event::SuspiciousName` when it is looked up, and contacts resolve without the server.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::Event;
use quickchat_core::names::NameIssue;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_alike_of_a_contact_is_reported_when_resolved() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob_name = unique("bob");
    let fake_name = bob_name.replacen('o', "\u{043E}", 1);
    let bob = client_in(&server, &dir, "bob").await;
    bob.register(&bob_name, "secret123", None).await.unwrap();
    let fake = client_in(&server, &dir, "fake").await;
    fake.register(&fake_name, "secret123", None).await.unwrap();

    let real = alice.find_user(&bob_name).await.unwrap();
    assert!(alice.check_name(&real).await.unwrap().is_empty());
    alice.remember_contact(&real).await.unwrap();
    assert_eq!(
        alice
            .find_known_user(&bob_name)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(real.id.clone())
    );
    assert_eq!(
        alice.contacts().await.unwrap().get(&real.id),
        Some(&bob_name)
    );

    let mut events = alice.events();
    let found = alice.find_user(&fake_name).await.unwrap();
    let (user_id, issues) = wait_for(&mut events, |e| match e {
        Event::SuspiciousName {
            user_id, issues, ..
        } => Some((user_id, issues)),
        _ => None,
    })
    .await;
    assert_eq!(user_id, found.id);
    assert!(issues.contains(&NameIssue::MixedScripts), "{issues:?}");
    assert!(
        issues.contains(&NameIssue::LooksLike {
            contact: bob_name.clone()
        }),
        "{issues:?}"
    );
}
