//! Groups and administration with three clients on real sockets.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::{Conversation, Direction, Event, MessageStatus};
use quickchat_core::protocol::rest::{GroupSettings, UpdateGroupRequest};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_from_creation_to_leaving() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let carol = registered(&server, &dir, "carol").await;
    let (alice_id, bob_id, carol_id) = (id(&alice), id(&bob), id(&carol));
    let mut bob_events = bob.events();
    let mut alice_events = alice.events();

    let created = alice
        .create_group("Team", Some("desc"), std::slice::from_ref(&bob_id), None)
        .await
        .unwrap();
    assert_eq!(created.owner_id, alice_id);
    assert_eq!(created.settings, GroupSettings::default());
    let group = created.id.clone();

    let listed = bob.groups().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].role.as_deref(), Some("member"));
    assert_eq!(
        bob.group(&group).await.unwrap().user_role.as_deref(),
        Some("member")
    );
    assert!(carol.group(&group).await.unwrap_err().is_status(403));

    // Members may not change metadata (admins_only); the owner may.
    let rename = UpdateGroupRequest {
        name: Some("Renamed".into()),
        ..UpdateGroupRequest::default()
    };
    assert!(
        bob.update_group(&group, &rename)
            .await
            .unwrap_err()
            .is_status(403)
    );
    alice.update_group(&group, &rename).await.unwrap();
    assert_eq!(alice.group(&group).await.unwrap().name, "Renamed");

    // Live group messages, typing and reads.
    let sent = alice.send_group_text(&group, "hello group").await.unwrap();
    let got = wait_for(&mut bob_events, |e| match e {
        Event::GroupMessage { message, live } if message.body == "hello group" => {
            assert!(live);
            Some(message)
        }
        _ => None,
    })
    .await;
    assert_eq!(got.conversation, Conversation::Group(group.clone()));
    assert_eq!(got.sender_id, alice_id);
    assert!(!got.encrypted);
    // Alice's pending copy gives way to the backend's copy and id.
    let replaced = wait_for(&mut alice_events, |e| match e {
        Event::MessageReplaced { old_id, message } if old_id == sent.id => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(replaced.id, got.id);
    assert_eq!(replaced.status, MessageStatus::Delivered);
    let alice_copy = alice.message(&got.id).await.unwrap().unwrap();
    assert_eq!(alice_copy.direction, Direction::Outgoing);
    assert!(alice.message(&sent.id).await.unwrap().is_none());

    bob.set_group_typing(&group, true).await.unwrap();
    let (typing_group, typist) = wait_for(&mut alice_events, |e| match e {
        Event::GroupTyping {
            group_id, user_id, ..
        } => Some((group_id, user_id)),
        _ => None,
    })
    .await;
    assert_eq!((typing_group, typist), (group.clone(), bob_id.clone()));
    bob.mark_group_read(&group, &got.id).await.unwrap();
    let (read_id, reader) = wait_for(&mut alice_events, |e| match e {
        Event::GroupRead {
            message_id,
            user_id,
            ..
        } => Some((message_id, user_id)),
        _ => None,
    })
    .await;
    assert_eq!((read_id, reader), (got.id.clone(), bob_id.clone()));

    let png = "data:image/png;base64,iVBORw0KGgo=";
    alice.send_group_image(&group, png).await.unwrap();
    let image = wait_for(&mut bob_events, |e| match e {
        Event::GroupMessage { message, .. } if message.image_data.is_some() => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(image.image_data.as_deref(), Some(png));

    // Membership and roles.
    assert!(
        bob.add_group_members(&group, std::slice::from_ref(&carol_id))
            .await
            .unwrap_err()
            .is_status(403)
    );
    let added = alice
        .add_group_members(&group, &[carol_id.clone(), bob_id.clone()])
        .await
        .unwrap();
    assert_eq!(added.added, vec![carol_id.clone()]);
    alice
        .set_group_role(&group, &bob_id, "admin")
        .await
        .unwrap();
    assert!(
        bob.set_group_role(&group, &carol_id, "admin")
            .await
            .unwrap_err()
            .is_status(403)
    );
    assert!(
        alice
            .set_group_role(&group, &carol_id, "owner")
            .await
            .is_err()
    );
    let members = alice.group_members(&group).await.unwrap();
    let roles: Vec<(&str, &str)> = members
        .iter()
        .map(|m| (m.user_id.as_str(), m.role.as_str()))
        .collect();
    assert!(roles.contains(&(alice_id.as_str(), "owner")));
    assert!(roles.contains(&(bob_id.as_str(), "admin")));
    assert!(roles.contains(&(carol_id.as_str(), "member")));
    assert!(
        bob.remove_group_member(&group, &alice_id)
            .await
            .unwrap_err()
            .is_status(400)
    );
    bob.remove_group_member(&group, &carol_id).await.unwrap();

    // Invites.
    let invite = alice
        .create_invite(&group, Some(3_600_000), Some(1))
        .await
        .unwrap();
    carol.join_group(&invite.link_code).await.unwrap();
    assert!(
        carol
            .join_group(&invite.link_code)
            .await
            .unwrap_err()
            .is_status(400)
    );
    assert!(carol.join_group("nope").await.unwrap_err().is_status(404));
    let second = alice.create_invite(&group, None, None).await.unwrap();
    alice.revoke_invite(&group, &second.id).await.unwrap();
    assert!(carol.join_group(&second.link_code).await.is_err());

    // History with system messages, stored locally.
    let history = carol.group_history(&group, Some(50), None).await.unwrap();
    assert!(
        history
            .iter()
            .any(|m| m.kind == quickchat::ContentKind::System)
    );
    let bob_history = bob.group_history(&group, Some(50), None).await.unwrap();
    assert!(bob_history.iter().any(|m| m.body == "hello group"));
    assert!(
        bob_history
            .iter()
            .any(|m| m.kind == quickchat::ContentKind::System),
        "system messages are part of group history"
    );
    let local = bob
        .history(&Conversation::Group(group.clone()), None, 100)
        .await
        .unwrap();
    assert!(local.iter().any(|m| m.body == "hello group"));

    // Leaving.
    assert!(alice.leave_group(&group).await.unwrap_err().is_status(400));
    carol.leave_group(&group).await.unwrap();
    assert!(carol.groups().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_text_sent_offline_goes_out_once_reconnected() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let group = alice
        .create_group("Offline", None, &[id(&bob)], None)
        .await
        .unwrap()
        .id;
    alice.close().await;
    let queued = alice
        .send_group_text(&group, "written offline")
        .await
        .unwrap();
    assert_eq!(queued.status, MessageStatus::Pending);
    let mut bob_events = bob.events();
    alice.connect_and_wait(WAIT).await.unwrap();
    let got = wait_for(&mut bob_events, |e| match e {
        Event::GroupMessage { message, .. } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(got.body, "written offline");
    // Reconnecting once more does not send it again.
    alice.close().await;
    alice.connect_and_wait(WAIT).await.unwrap();
    let history = bob.group_history(&group, Some(50), None).await.unwrap();
    let copies = history
        .iter()
        .filter(|m| m.body == "written offline")
        .count();
    assert_eq!(copies, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_group_image_fails_and_is_not_sent_again() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&server, &dir, "alice").await;
    let bob = registered(&server, &dir, "bob").await;
    let admin = registered(&server, &dir, "admin").await;
    server
        .make_admin(&admin.current_user().unwrap().username)
        .await
        .unwrap();
    let group = alice
        .create_group("Pictures", None, &[id(&bob)], None)
        .await
        .unwrap()
        .id;
    let mut alice_events = alice.events();
    let png = "data:image/png;base64,iVBORw0KGgo=";
    // One image goes through: it gets the backend's id and leaves nothing in flight.
    let first = alice.send_group_image(&group, png).await.unwrap();
    wait_for(&mut alice_events, |e| match e {
        Event::MessageReplaced { old_id, .. } if old_id == first.id => Some(()),
        _ => None,
    })
    .await;
    admin
        .set_image_permission(&id(&alice), false)
        .await
        .unwrap();
    let refused = alice.send_group_image(&group, png).await.unwrap();
    let status = wait_for(&mut alice_events, |e| match e {
        Event::MessageStatus { message_id, status } if message_id == refused.id => Some(status),
        _ => None,
    })
    .await;
    assert_eq!(status, MessageStatus::Failed);
    let stored = alice.message(&refused.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Failed);
    // Reconnecting (which flushes the outbox) does not send the failed image again.
    alice.close().await;
    alice.connect_and_wait(WAIT).await.unwrap();
    let images = bob
        .group_history(&group, Some(50), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.image_data.is_some())
        .count();
    assert_eq!(images, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_through_the_raw_id_endpoints() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let admin = registered(&server, &dir, "admin").await;
    let carol = registered(&server, &dir, "carol").await;
    let carol_name = carol.current_user().unwrap().username;
    assert!(admin.admin_users().await.unwrap_err().is_status(403));
    server
        .make_admin(&admin.current_user().unwrap().username)
        .await
        .unwrap();
    let users = admin.admin_users().await.unwrap();
    assert!(users.iter().any(|u| u.id == id(&carol) && u.role == "user"));

    admin.set_user_role(&id(&carol), "admin").await.unwrap();
    assert!(admin.set_user_role(&id(&carol), "root").await.is_err());
    let users = admin.admin_users().await.unwrap();
    assert!(
        users
            .iter()
            .any(|u| u.id == id(&carol) && u.role == "admin")
    );

    // A disabled user is refused on send (and the socket closed), and on login.
    let mut carol_events = carol.events();
    admin.set_user_active(&id(&carol), false).await.unwrap();
    carol.send_text(&id(&admin), "still here?").await.unwrap();
    let message = wait_for(&mut carol_events, |e| match e {
        Event::ServerError { message } => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(
        message,
        "Your account has been disabled by an administrator."
    );
    let other = client_in(&server, &dir, "carol-elsewhere").await;
    let refused = other.login(&carol_name, "secret123").await.unwrap_err();
    assert!(refused.is_status(403), "{refused}");
    admin.set_user_active(&id(&carol), true).await.unwrap();
    // Enabled again, and the pending message goes out on the next connection.
    let sent = carol
        .history(&Conversation::Direct(id(&admin)), None, 10)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    let mut admin_events = admin.events();
    carol.close().await;
    carol.connect_and_wait(WAIT).await.unwrap();
    assert_eq!(next_message(&mut admin_events).await.body, "still here?");
}
