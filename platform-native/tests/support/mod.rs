//! Shared by the integration tests: a test server, clients on real redb files, and waiting
//! for events with a deadline.
#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use quickchat::store::{KdfStrength, StoreOptions};
use quickchat::{Client, ClientConfig, Event, EventStream};
use quickchat_testserver::{Config, TestServer};
use tempfile::TempDir;

pub(crate) mod web_peer;

/// How long any single wait may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A test server with fast password hashing.
pub(crate) async fn server() -> TestServer {
    TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("test server starts")
}

/// A client on a fresh redb file in `dir`.
pub(crate) async fn client_in(server: &TestServer, dir: &TempDir, name: &str) -> Client {
    client_with(server, dir, name, ClientConfig::default()).await
}

/// A client with settings.
pub(crate) async fn client_with(
    server: &TestServer,
    dir: &TempDir,
    name: &str,
    config: ClientConfig,
) -> Client {
    Client::builder()
        .server(server.base_url())
        .store_path(dir.path().join(format!("{name}.redb")))
        .passphrase(format!("{name} passphrase"))
        .store_options(StoreOptions::new().kdf(KdfStrength::InsecureForTests))
        .config(config)
        .build()
        .await
        .expect("client builds")
}

/// A user registered and connected, with a unique name.
pub(crate) async fn registered(server: &TestServer, dir: &TempDir, name: &str) -> Client {
    let client = client_in(server, dir, name).await;
    client
        .register(&unique(name), "secret123", None)
        .await
        .expect("register");
    client.connect_and_wait(WAIT).await.expect("connects");
    client
}

/// A user name no other test uses.
pub(crate) fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The user id of a signed-in client.
pub(crate) fn id(client: &Client) -> String {
    client.current_user().expect("signed in").user_id
}

/// Waits for the first event `pick` accepts, failing the test after [`WAIT`].
pub(crate) async fn wait_for<T>(
    events: &mut EventStream,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        while let Some(event) = events.next().await {
            if let Some(found) = pick(event) {
                return found;
            }
        }
        panic!("event stream ended")
    })
    .await
    .expect("timed out waiting for an event")
}

/// Waits for an incoming 1:1 message.
pub(crate) async fn next_message(events: &mut EventStream) -> quickchat::MessageRecord {
    wait_for(events, |e| match e {
        Event::Message { message, .. } => Some(message),
        _ => None,
    })
    .await
}

/// Sends one frame on a raw WebSocket authenticated as the given user, then closes it.
pub(crate) async fn send_raw_frame(
    server: &TestServer,
    user_id: &str,
    username: &str,
    frame: &str,
) {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("raw socket");
    let auth = quickchat_core::protocol::ws::ClientFrame::Auth {
        user_id: user_id.to_string(),
        username: username.to_string(),
    };
    socket.send(Message::text(auth.to_json())).await.unwrap();
    // The online list confirms the auth.
    socket.next().await.expect("online list").unwrap();
    socket.send(Message::text(frame.to_string())).await.unwrap();
    // The echo confirms the backend took it.
    socket.next().await.expect("echo").unwrap();
    socket.close(None).await.unwrap();
}

/// Settings that make reconnection and dead-socket detection quick enough for tests.
pub(crate) fn fast_config() -> ClientConfig {
    ClientConfig {
        backoff: quickchat_core::client::Backoff {
            initial_ms: 100,
            max_ms: 1_000,
            jitter: 0.1,
        },
        keepalive_interval_ms: 1_000,
        keepalive_timeout_ms: 1_000,
        ..ClientConfig::default()
    }
}

/// Reopens a client from its store file (as a restarted process would) and connects it.
pub(crate) async fn reopened(
    server: &TestServer,
    dir: &TempDir,
    name: &str,
    config: ClientConfig,
) -> Client {
    let client = client_with(server, dir, name, config).await;
    assert!(
        client.current_user().is_some(),
        "the login was restored from the store"
    );
    client.connect_and_wait(WAIT).await.expect("reconnects");
    client
}

/// A user registered and connected with [`fast_config`].
pub(crate) async fn registered_fast(server: &TestServer, dir: &TempDir, name: &str) -> Client {
    let client = client_with(server, dir, name, fast_config()).await;
    client
        .register(&unique(name), "secret123", None)
        .await
        .expect("register");
    client.connect_and_wait(WAIT).await.expect("connects");
    client
}

/// The JWT a signed-in client holds (read from its store, where the login is saved).
pub(crate) async fn token_of(client: &Client) -> String {
    use quickchat_core::store::Store;
    client
        .store()
        .account_meta()
        .await
        .expect("store")
        .and_then(|m| m.login)
        .expect("saved login")
        .token
}
