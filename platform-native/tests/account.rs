//! Registering, logging in and out, the saved login, and an expired or invalid token.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat::{ClientError, Event};
use quickchat_testserver::{Config, TestServer};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_logout_and_the_saved_login() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let name = unique("alice");
    let alice = client_in(&server, &dir, "alice").await;
    assert!(alice.current_user().is_none());
    assert!(matches!(
        alice.send_text("someone", "hi").await,
        Err(ClientError::NotLoggedIn)
    ));
    let short = alice.register("ab", "secret123", None).await.unwrap_err();
    assert_eq!(
        short.to_string(),
        "POST /api/auth/register failed with 400: Username must be at least 3 characters"
    );
    let me = alice
        .register(&name, "secret123", Some("🙂"))
        .await
        .unwrap();
    assert_eq!(me.username, name);
    let fingerprint = alice.fingerprint().await.unwrap();
    alice.close().await;
    drop(alice);

    // A restarted process finds the login and the same keys.
    let again = client_in(&server, &dir, "alice").await;
    assert_eq!(again.current_user(), Some(me.clone()));
    assert_eq!(again.fingerprint().await.unwrap(), fingerprint);
    again.connect_and_wait(WAIT).await.unwrap();
    again.logout().await.unwrap();
    assert!(again.current_user().is_none());
    assert!(!again.is_connected());
    drop(again);

    // Logged out: nothing restored, but logging in again keeps the device's keys.
    let third = client_in(&server, &dir, "alice").await;
    assert!(third.current_user().is_none());
    let wrong = third.login(&name, "wrong-pass").await.unwrap_err();
    assert!(wrong.is_status(401), "{wrong}");
    third.login(&name, "secret123").await.unwrap();
    assert_eq!(third.fingerprint().await.unwrap(), fingerprint);

    // This store belongs to Alice: another account cannot use it.
    let bob_name = unique("bob");
    let other = client_in(&server, &dir, "bob").await;
    other.register(&bob_name, "secret123", None).await.unwrap();
    drop(other);
    third.logout().await.unwrap();
    let err = third.login(&bob_name, "secret123").await.unwrap_err();
    assert!(
        matches!(err, ClientError::StoreBelongsToAnotherUser { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_token_is_renewed_with_the_password_or_reported_expired() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("server.db");
    let mut first = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_database_file(&db)
            .with_jwt_secret("first secret"),
    )
    .await
    .unwrap();
    let addr = first.addr();
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&first, &dir, "alice").await;
    first.stop().await;
    drop(first);

    // The backend's secret changes: every token it issued is now refused.
    let second = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_database_file(&db)
            .with_bind(addr)
            .with_jwt_secret("second secret"),
    )
    .await
    .unwrap();
    let old_token = token_of(&alice).await;
    alice
        .maintain_prekeys()
        .await
        .expect("renewed with the kept password");
    assert_ne!(token_of(&alice).await, old_token, "a new token was saved");
    alice.close().await;
    drop(alice);

    // A restored client has no password: when its token is refused again (a third
    // secret), the expiry is reported, not hidden.
    let mut second = second;
    second.stop().await;
    drop(second);
    let third = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_database_file(&db)
            .with_bind(addr)
            .with_jwt_secret("third secret"),
    )
    .await
    .unwrap();
    let restored = client_in(&third, &dir, "alice").await;
    let mut events = restored.events();
    let err = restored.maintain_prekeys().await.unwrap_err();
    assert!(matches!(err, ClientError::SessionExpired), "{err}");
    wait_for(&mut events, |e| {
        matches!(e, Event::SessionExpired).then_some(())
    })
    .await;
}
