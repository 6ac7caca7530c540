//! Logging in to an account whose published identity is another store's (the account is in
//! use on another device): refused without changing anything, unless the caller asks to
//! replace the keys.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::ClientError;
use quickchat_core::keys::Fingerprint;
use quickchat_core::store::Store;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_cannot_take_over_the_account_without_asking() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let name = unique("alice");
    let phone = client_in(&server, &dir, "phone").await;
    phone.register(&name, "secret123", None).await.unwrap();
    let phone_fingerprint = phone.fingerprint().await.unwrap();

    // A fresh store (the laptop) while the phone's keys are published: refused, and the
    // laptop's store is left without keys or login.
    let laptop = client_in(&server, &dir, "laptop").await;
    let refused = laptop.login(&name, "secret123").await.unwrap_err();
    match &refused {
        ClientError::KeysInUseElsewhere {
            username,
            published_fingerprint,
            this_store_has_keys,
        } => {
            assert_eq!(username, &name);
            assert_eq!(published_fingerprint, &phone_fingerprint.grouped());
            assert!(!this_store_has_keys);
        }
        other => panic!("expected KeysInUseElsewhere, got {other}"),
    }
    let text = refused.to_string();
    assert!(
        text.contains("in use on another device") && text.contains("could no longer decrypt"),
        "{text}"
    );
    assert!(laptop.current_user().is_none());
    assert!(laptop.store().identity().await.unwrap().is_none());

    // The phone itself logs in again without trouble: the published keys are its own.
    phone.logout().await.unwrap();
    phone.login(&name, "secret123").await.unwrap();

    // Replacing on purpose: the laptop's identity is published from then on.
    laptop
        .login_replacing_keys(&name, "secret123")
        .await
        .unwrap();
    let laptop_fingerprint = laptop.fingerprint().await.unwrap();
    assert_ne!(laptop_fingerprint, phone_fingerprint);
    // Its signed prekey has an id the account never published (the phone's were 1 and
    // 2..=101), so web peers, which notice new keys only by a new id, start over.
    let status = laptop
        .api()
        .prekey_status(&token_of(&laptop).await)
        .await
        .unwrap();
    assert_eq!(status.signed_prekey_key_id, Some(102));
    let observer = registered(&server, &dir, "observer").await;
    let published = observer.peer_fingerprint(&id(&laptop)).await.unwrap();
    assert_eq!(published, laptop_fingerprint);

    // Now the phone is the one whose keys are not published: refused, with its own keys
    // named as such.
    phone.logout().await.unwrap();
    match phone.login(&name, "secret123").await.unwrap_err() {
        ClientError::KeysInUseElsewhere {
            published_fingerprint,
            this_store_has_keys,
            ..
        } => {
            assert_eq!(
                Fingerprint::parse(&published_fingerprint).unwrap(),
                laptop_fingerprint
            );
            assert!(this_store_has_keys);
        }
        other => panic!("expected KeysInUseElsewhere, got {other}"),
    }
}
