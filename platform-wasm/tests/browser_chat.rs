//! Clients in the browser (headless Chromium) talking through the test server over real
//! WebSockets and fetch, each with its own encrypted IndexedDB store: encrypted messages both
//! ways, delivery status, typing, read receipts, presence, images, fingerprints, groups, the
//! outbox and catch-up across disconnections, reopening a store, and the reconnect race.
//!
//! Run: `scripts/wasm-test-browser.sh browser_chat` (it starts the server and bakes its URL
//! in as `QC_TEST_SERVER`).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::rc::Rc;

use futures::StreamExt;
use quickchat_core::client::{Backoff, ClientConfig, Event, EventStream};
use quickchat_core::store::{
    ContentKind, Conversation, Direction, MessageRecord, MessageStatus, Store,
};
use quickchat_wasm::api::client::CoreClient;
use quickchat_wasm::clock::WebClock;
use quickchat_wasm::rng::WebRng;
use quickchat_wasm::store::{IdbStore, KdfStrength};
use quickchat_wasm::transport::WebTransport;
use support::{sleep, unique, within};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const WAIT_MS: u32 = 20_000;

fn server() -> &'static str {
    // Baked in at build time: the browser has no environment.
    match option_env!("QC_TEST_SERVER") {
        Some(url) => url,
        None => panic!(
            "QC_TEST_SERVER is not set: run scripts/wasm-test-browser.sh, which starts the server"
        ),
    }
}

fn fast_config() -> ClientConfig {
    ClientConfig {
        backoff: Backoff {
            initial_ms: 100,
            max_ms: 1_000,
            jitter: 0.1,
        },
        keepalive_interval_ms: 2_000,
        keepalive_timeout_ms: 2_000,
        ..ClientConfig::default()
    }
}

/// One user in the page: a client over its own IndexedDB store, and its events.
struct Peer {
    client: Rc<CoreClient>,
    events: EventStream,
    database: String,
}

impl Peer {
    async fn open(database: &str) -> Self {
        let store = IdbStore::open(
            database,
            "browser test passphrase",
            KdfStrength::InsecureForTests,
        )
        .await
        .expect("store opens");
        let store: Box<dyn Store> = Box::new(store);
        let client = CoreClient::new(
            WebTransport::new(server()).expect("server URL"),
            store,
            WebClock,
            WebRng::System,
            fast_config(),
        );
        let events = client.subscribe();
        client.restore().await.expect("restore");
        Self {
            client: Rc::new(client),
            events,
            database: database.to_string(),
        }
    }

    async fn registered(name: &str) -> Self {
        let peer = Self::open(&unique(name)).await;
        peer.client
            .register(&unique(name).replace('-', "_"), "secret123", None)
            .await
            .expect("register");
        peer
    }

    fn id(&self) -> String {
        self.client.current_user().expect("signed in").user_id
    }

    /// Starts the connection loop and waits until connected and caught up.
    async fn connect(&mut self) {
        let client = Rc::clone(&self.client);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = client.run().await;
        });
        self.wait_for("catch-up", |e| {
            matches!(e, Event::CaughtUp { .. } | Event::CatchUpFailed { .. }).then_some(())
        })
        .await;
    }

    async fn disconnect(&mut self) {
        self.client.shutdown().await;
        self.wait_for("the stop", |e| {
            matches!(e, Event::Stopped { .. }).then_some(())
        })
        .await;
    }

    async fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(Event) -> Option<T>) -> T {
        let events = &mut self.events;
        within(WAIT_MS, what, async move {
            while let Some(event) = events.next().await {
                if let Some(found) = pick(event) {
                    return found;
                }
            }
            panic!("the event stream ended while waiting for {what}")
        })
        .await
    }

    async fn next_message(&mut self) -> (MessageRecord, bool) {
        self.wait_for("a message", |e| match e {
            Event::Message { message, live } => Some((message, live)),
            _ => None,
        })
        .await
    }

    async fn close(self) {
        self.client.shutdown().await;
        let database = self.database.clone();
        drop(self);
        // The store's connection closes with the client; the database goes.
        let _ = IdbStore::delete(&database).await;
    }
}

#[wasm_bindgen_test]
async fn two_clients_chat_through_the_server_over_websockets() {
    let mut alice = Peer::registered("alice").await;
    let mut bob = Peer::registered("bob").await;
    alice.connect().await;
    bob.connect().await;
    let (alice_id, bob_id) = (alice.id(), bob.id());

    // Encrypted text, both ways.
    let sent = alice
        .client
        .send_text(&bob_id, "hello bob 👋")
        .await
        .unwrap();
    assert!(sent.encrypted);
    let (got, live) = bob.next_message().await;
    assert!(live);
    assert_eq!(got.id, sent.id);
    assert_eq!(got.body, "hello bob 👋");
    assert!(got.encrypted);
    assert_eq!(got.sender_id, alice_id);
    let delivered = alice
        .wait_for("delivery", |e| match e {
            Event::MessageStatus { message_id, status } if message_id == sent.id => Some(status),
            _ => None,
        })
        .await;
    assert_eq!(delivered, MessageStatus::Delivered);

    let reply = bob.client.send_text(&alice_id, "hi alice").await.unwrap();
    let (got, _) = alice.next_message().await;
    assert_eq!(
        (got.id.as_str(), got.body.as_str()),
        (reply.id.as_str(), "hi alice")
    );

    // What travelled was ciphertext: the server's copy is the wire object, not the text.
    let stored = alice
        .client
        .api()
        .history(&bob_id, &alice_id)
        .await
        .unwrap();
    let on_server = stored.iter().find(|m| m.id == sent.id).unwrap();
    assert!(on_server.encrypted.0);
    assert!(!on_server.content.contains("hello bob"));
    assert!(on_server.content.contains("\"ciphertext\""));

    // Typing and read receipts.
    alice.client.set_typing(&bob_id, true).await.unwrap();
    let typing = bob
        .wait_for("typing", |e| match e {
            Event::Typing {
                user_id, typing, ..
            } if user_id == alice_id => Some(typing),
            _ => None,
        })
        .await;
    assert!(typing);
    bob.client
        .mark_read(&alice_id, std::slice::from_ref(&sent.id))
        .await
        .unwrap();
    let read = alice
        .wait_for("the read receipt", |e| match e {
            Event::MessagesRead { message_ids, by } => Some((message_ids, by)),
            _ => None,
        })
        .await;
    assert_eq!(read, (vec![sent.id.clone()], bob_id.clone()));
    assert_eq!(
        alice
            .client
            .message(&sent.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        MessageStatus::Read
    );

    // An image, as the web client sends it.
    let image = "data:image/png;base64,iVBORw0KGgo=";
    alice.client.send_image(&bob_id, image).await.unwrap();
    let (got, _) = bob.next_message().await;
    assert_eq!(got.kind, ContentKind::Image);
    assert_eq!(got.image_data.as_deref(), Some(image));

    // Fingerprints agree on both sides.
    assert_eq!(
        alice.client.peer_fingerprint(&bob_id).await.unwrap(),
        bob.client.fingerprint().await.unwrap()
    );
    let verified = alice
        .client
        .verify_peer(&bob_id, Some("qr_code"))
        .await
        .unwrap();
    let status = alice.client.verification(&bob_id).await.unwrap();
    assert!(status.verified);
    assert_eq!(status.current_fingerprint, verified);

    // A group.
    let group = alice
        .client
        .create_group("browser team", None, std::slice::from_ref(&bob_id), None)
        .await
        .unwrap();
    alice
        .client
        .send_group_text(&group.id, "hello group")
        .await
        .unwrap();
    let group_message = bob
        .wait_for("the group message", |e| match e {
            Event::GroupMessage { message, .. }
                if message.direction == Direction::Incoming && message.body == "hello group" =>
            {
                Some(message)
            }
            _ => None,
        })
        .await;
    assert_eq!(
        group_message.conversation,
        Conversation::Group(group.id.clone())
    );

    // Presence: bob leaves.
    assert!(alice.client.is_online(&bob_id));
    bob.disconnect().await;
    let online = alice
        .wait_for("bob going offline", |e| match e {
            Event::Presence {
                user_id, online, ..
            } if user_id == bob_id => Some(online),
            _ => None,
        })
        .await;
    assert!(!online);

    // Local history, in order.
    let history = alice
        .client
        .history(&Conversation::Direct(bob_id.clone()), None, 10)
        .await
        .unwrap();
    let bodies: Vec<&str> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["hello bob 👋", "hi alice", "📷 Image"]);
    alice.close().await;
    bob.close().await;
}

#[wasm_bindgen_test]
async fn the_outbox_and_catch_up_carry_messages_across_disconnections() {
    let mut alice = Peer::registered("alice").await;
    let mut bob = Peer::registered("bob").await;
    alice.connect().await;
    bob.connect().await;
    let bob_id = bob.id();
    alice.client.send_text(&bob_id, "first").await.unwrap();
    bob.next_message().await;

    // Bob is offline: the server only stores what alice sends.
    bob.disconnect().await;
    let stored = alice
        .client
        .send_text(&bob_id, "while you were away")
        .await
        .unwrap();
    let status = alice
        .wait_for("the echo", |e| match e {
            Event::MessageStatus { message_id, status } if message_id == stored.id => Some(status),
            _ => None,
        })
        .await;
    assert_eq!(status, MessageStatus::Sent);

    // Alice is offline too: her message waits in the outbox, saved.
    alice.disconnect().await;
    let queued = alice
        .client
        .send_text(&bob_id, "written offline")
        .await
        .unwrap();
    assert_eq!(queued.status, MessageStatus::Pending);
    assert_eq!(
        alice
            .client
            .message(&queued.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        MessageStatus::Pending
    );

    // Alice reconnects: the outbox goes out exactly once.
    alice.connect().await;
    alice
        .wait_for("the outbox", |e| match e {
            Event::MessageStatus { message_id, status }
                if message_id == queued.id && status >= MessageStatus::Sent =>
            {
                Some(())
            }
            _ => None,
        })
        .await;

    // Bob reconnects: catch-up brings both, in order, decrypted.
    bob.connect().await;
    let history = bob
        .client
        .history(&Conversation::Direct(alice.id()), None, 10)
        .await
        .unwrap();
    let bodies: Vec<&str> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["first", "while you were away", "written offline"]);
    let on_server = bob
        .client
        .api()
        .history(&alice.id(), &bob_id)
        .await
        .unwrap();
    assert_eq!(on_server.len(), 3, "nothing was sent twice");
    alice.close().await;
    bob.close().await;
}

#[wasm_bindgen_test]
async fn a_reopened_store_keeps_the_login_keys_and_sessions() {
    let mut alice = Peer::registered("alice").await;
    let mut bob = Peer::registered("bob").await;
    alice.connect().await;
    bob.connect().await;
    let (alice_id, bob_id) = (alice.id(), bob.id());
    alice.client.send_text(&bob_id, "before").await.unwrap();
    bob.next_message().await;
    let fingerprint = alice.client.fingerprint().await.unwrap();

    // The page goes away; a new one opens the same IndexedDB store.
    let database = alice.database.clone();
    alice.client.shutdown().await;
    drop(alice);
    sleep(100).await;
    let mut alice = Peer::open(&database).await;
    assert_eq!(alice.client.current_user().unwrap().user_id, alice_id);
    assert_eq!(alice.client.fingerprint().await.unwrap(), fingerprint);
    alice.connect().await;
    let sent = alice.client.send_text(&bob_id, "after").await.unwrap();
    let (got, _) = bob.next_message().await;
    assert_eq!((got.id, got.body), (sent.id, "after".to_string()));
    // The session continued: no new first message.
    let wire = bob.client.api().history(&alice_id, &bob_id).await.unwrap();
    let last = wire.last().unwrap();
    assert!(!last.content.contains("x3dh"));
    alice.close().await;
    bob.close().await;
}

#[wasm_bindgen(inline_js = r#"
export function authenticateElsewhere(url, userId, username) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', payload: { userId, username } }));
    socket.onmessage = () => { socket.close(); };
    socket.onclose = () => resolve();
    socket.onerror = () => reject(new Error('socket failed'));
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = authenticateElsewhere)]
    fn authenticate_elsewhere(url: &str, user_id: &str, username: &str) -> js_sys::Promise;
}

#[wasm_bindgen_test]
async fn the_client_reconnects_through_the_reconnect_race() {
    let mut alice = Peer::registered("alice").await;
    let mut bob = Peer::registered("bob").await;
    alice.connect().await;
    bob.connect().await;
    let (alice_id, bob_id) = (alice.id(), bob.id());
    let username = alice.client.current_user().unwrap().username;

    // Another socket authenticates as alice: the server closes alice's socket, and that
    // close then unregisters the other one (the backend's reconnect race).
    let ws_url = WebTransport::new(server())
        .unwrap()
        .websocket_url()
        .to_string();
    wasm_bindgen_futures::JsFuture::from(authenticate_elsewhere(&ws_url, &alice_id, &username))
        .await
        .unwrap();
    alice
        .wait_for("the disconnection", |e| {
            matches!(e, Event::Disconnected { .. }).then_some(())
        })
        .await;
    alice
        .wait_for("the reconnection", |e| {
            matches!(e, Event::Connected).then_some(())
        })
        .await;

    // Alice is really registered again: bob's live message reaches her.
    bob.client
        .send_text(&alice_id, "are you back?")
        .await
        .unwrap();
    let (got, _) = alice.next_message().await;
    assert_eq!(got.body, "are you back?");
    assert!(alice.client.is_online(&bob_id));
    alice.close().await;
    bob.close().await;
}
