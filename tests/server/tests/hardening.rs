//! The test server's defences the backend lacks: bounded per-socket send queues, capped
//! body fields and a JWT secret nobody knows.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, KeyInit, Mac};
use quickchat_testserver::{Config, TestServer};
use serde_json::json;
use sha2::Sha256;
use support::client::Http;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// Generous bound against hangs only.
const HANG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_stops_reading_is_dropped_instead_of_buffered_without_limit() {
    let server = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_max_ws_queue_bytes(1024 * 1024),
    )
    .await
    .expect("server");
    let http = Http::new(&server.base_url());
    let (slow_id, _) = http.register("slow").await;
    let (flood_id, _) = http.register("flood").await;

    // The slow consumer authenticates and then never reads again.
    let (mut slow, _) = connect_async(server.ws_url()).await.expect("connect");
    slow.send(Message::text(
        json!({"type": "auth", "payload": {"userId": slow_id, "username": "slow"}}).to_string(),
    ))
    .await
    .expect("auth");

    let (flood, _) = connect_async(server.ws_url()).await.expect("connect");
    let (mut flood_tx, mut flood_rx) = flood.split();
    flood_tx
        .send(Message::text(
            json!({"type": "auth", "payload": {"userId": flood_id, "username": "flood"}})
                .to_string(),
        ))
        .await
        .expect("auth");
    let offline = json!({"type": "online", "payload": {
        "userId": slow_id, "username": "slow", "online": false
    }});
    let watcher = tokio::spawn(async move {
        while let Some(Ok(frame)) = flood_rx.next().await {
            if let Message::Text(text) = frame
                && serde_json::from_str::<serde_json::Value>(&text).ok() == Some(offline.clone())
            {
                return Some(flood_rx);
            }
        }
        None
    });

    // 256 KiB typing frames until the server gives up on the slow socket: far more than
    // the socket buffers and the 1 MiB queue hold together, unless it was dropped.
    let typing =
        json!({"type": "typing", "payload": {"to": slow_id, "typing": "t".repeat(256 * 1024)}})
            .to_string();
    let mut sent = 0usize;
    while !watcher.is_finished() {
        assert!(
            sent < 400,
            "100 MB relayed to a socket that does not read, and it is still connected"
        );
        flood_tx
            .send(Message::text(typing.clone()))
            .await
            .expect("the flooder stays connected");
        sent += 1;
        tokio::task::yield_now().await;
    }
    let mut flood_rx = tokio::time::timeout(HANG, watcher)
        .await
        .expect("no hang")
        .expect("watcher")
        .expect("everyone was told the slow user went offline");

    // The slow socket was dropped without a close frame: after what the socket buffers
    // held, it just ends.
    let ended = tokio::time::timeout(HANG, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Close(_))) => return false,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return true,
            }
        }
    })
    .await
    .expect("the slow socket ends");
    assert!(ended, "a dropped socket gets no close frame");

    // The flooder is unaffected: its next frame is still answered.
    flood_tx
        .send(Message::text("{barrier"))
        .await
        .expect("send");
    let answer = tokio::time::timeout(HANG, flood_rx.next())
        .await
        .expect("answer");
    assert!(
        matches!(answer, Some(Ok(Message::Text(ref t))) if t.contains("Invalid message format")),
        "{answer:?}"
    );
}

#[tokio::test]
async fn body_fields_over_their_caps_are_refused_with_400() {
    let server = TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("server");
    let http = Http::new(&server.base_url());

    let huge = "u".repeat(1024 * 1024);
    let reply = http
        .json(
            "POST",
            "/api/auth/register",
            None,
            &json!({"username": huge, "password": "secret123"}),
        )
        .await;
    assert_eq!(
        reply.status,
        400,
        "{}",
        &reply.text[..reply.text.len().min(200)]
    );
    assert_eq!(
        reply.json(),
        json!({"error": "username must be at most 64 characters"})
    );
    assert_eq!(http.get("/api/users", None).await.json(), json!([]));

    // At the cap, a name is fine.
    let at_cap = "u".repeat(quickchat_testserver::limits::MAX_USERNAME_CHARS);
    let (alice, _) = http.register(&at_cap).await;
    let alice = format!("Bearer {alice}");

    let reply = http
        .json(
            "POST",
            "/api/auth/register",
            None,
            &json!({"username": "bob", "password": "secret123", "avatar": "a".repeat(1024 * 1024)}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "avatar must be at most 262144 characters"})
    );

    let reply = http
        .json(
            "POST",
            "/api/groups",
            Some(&alice),
            &json!({"name": "g".repeat(1000), "memberIds": []}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "name must be at most 128 characters"})
    );
    assert_eq!(
        http.get("/api/groups", Some(&alice)).await.json(),
        json!([])
    );
}

/// The secret every server used before secrets were random; it is in the source history.
const OLD_PUBLIC_SECRET: &str = "quickchat-testserver-insecure-secret";

/// `token` re-signed with `secret`.
fn resign(token: &str, secret: &str) -> String {
    let (signing_input, _) = token.rsplit_once('.').expect("a JWT");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

#[tokio::test]
async fn tokens_forged_with_the_old_public_secret_are_refused() {
    let mut server = TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("server");
    let http = Http::new(&server.base_url());
    let (_, jwt) = http.register("alice").await;
    let jwt = format!("Bearer {jwt}");
    let status = "/api/users/prekeys/status";
    assert_eq!(http.get(status, Some(&jwt)).await.status, 200);
    let forged = resign(&jwt, OLD_PUBLIC_SECRET);
    assert_ne!(forged, jwt);
    assert_eq!(http.get(status, Some(&forged)).await.status, 401);

    // The random secret is the server's own: another server refuses the token...
    let other = TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("server");
    let other_http = Http::new(&other.base_url());
    other_http.register("alice").await;
    assert_eq!(other_http.get(status, Some(&jwt)).await.status, 401);
    // ...and it is kept across restarts, as a deployed backend keeps its secret.
    server.restart().await.expect("restart");
    assert_eq!(http.get(status, Some(&jwt)).await.status, 200);

    // A configured secret is used as given.
    let configured = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_jwt_secret("configured"),
    )
    .await
    .expect("server");
    let configured_http = Http::new(&configured.base_url());
    let (_, jwt) = configured_http.register("carol").await;
    assert_eq!(resign(&jwt, "configured"), jwt);
}
