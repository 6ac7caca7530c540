//! Concurrency and bad input: many simultaneous clients, malformed frames, oversized
//! bodies and messages. The server must keep running, answer as the backend would, and
//! lose nothing it accepted. Every loop here is bounded; timeouts only bound failures.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use quickchat_testserver::{Config, TestServer};
use serde_json::{Value, json};
use support::client::{Http, Ws, fast_server};
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 200;
const MESSAGES_PER_CLIENT: usize = 10;

/// The peers client `i` writes to, in order: alternately its next and its seventh neighbour.
fn targets(i: usize) -> Vec<usize> {
    (0..MESSAGES_PER_CLIENT)
        .map(|k| (i + if k % 2 == 0 { 1 } else { 7 }) % CLIENTS)
        .collect()
}

#[derive(Default, Debug)]
struct Received {
    echoes: Vec<Value>,
    relays: Vec<Value>,
    errors: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_exchange_messages_without_loss() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let users: Vec<(String, String)> = stream::iter(0..CLIENTS)
        .map(|i| {
            let http = http.clone();
            async move {
                let name = format!("user{i:03}");
                (http.register(&name).await.0, name)
            }
        })
        .buffered(16)
        .collect()
        .await;

    // Everyone connects at once; each has its online list before anyone sends.
    let ws_url = server.ws_url();
    let sockets = futures_util::future::join_all(
        users
            .iter()
            .map(|(id, name)| Ws::connect_as(&ws_url, id, name)),
    )
    .await;

    let mut expected_relays = vec![0usize; CLIENTS];
    for i in 0..CLIENTS {
        for t in targets(i) {
            expected_relays[t] += 1;
        }
    }
    let mut tasks = Vec::new();
    for (i, (mut ws, _)) in sockets.into_iter().enumerate() {
        let peers: Vec<String> = targets(i).into_iter().map(|t| users[t].0.clone()).collect();
        let expect_relays = expected_relays[i];
        tasks.push(tokio::spawn(async move {
            let mut bad_frames = 0;
            for (k, peer) in peers.iter().enumerate() {
                ws.send_json(&json!({"type": "message", "payload": {
                    "to": peer, "content": format!("from {i} #{k}"), "messageType": "text",
                    "encrypted": false, "messageId": format!("c{i}-{k}")
                }}))
                .await;
                if k % 3 == 0 {
                    ws.send_text("{broken").await;
                    ws.send_text(r#"{"type":"no_such_type","payload":{}}"#)
                        .await;
                    bad_frames += 1;
                }
            }
            let mut got = Received::default();
            while got.echoes.len() < peers.len()
                || got.relays.len() < expect_relays
                || got.errors < bad_frames
            {
                let frame = ws
                    .next_json()
                    .await
                    .unwrap_or_else(|e| panic!("client {i}: {e:?} after {got:?}"));
                match frame["type"].as_str() {
                    Some("online") => {}
                    Some("error") => got.errors += 1,
                    Some("message") if frame["payload"]["from"] == frame["payload"]["to"] => {
                        panic!("nobody writes to themselves here: {frame}")
                    }
                    Some("message") if frame["payload"]["status"] == "delivered" => {
                        got.echoes.push(frame)
                    }
                    Some("message") => got.relays.push(frame),
                    _ => panic!("client {i}: unexpected {frame}"),
                }
            }
            (i, got, ws)
        }));
    }
    let outcome = tokio::time::timeout(
        Duration::from_secs(120),
        futures_util::future::join_all(tasks),
    )
    .await
    .expect("all clients finish");

    let mut relayed_ids = HashSet::new();
    for result in outcome {
        let (i, got, mut ws) = result.expect("client task");
        assert_eq!(got.errors, MESSAGES_PER_CLIENT.div_ceil(3), "client {i}");
        let echoed: Vec<&str> = got
            .echoes
            .iter()
            .map(|e| e["payload"]["id"].as_str().unwrap_or(""))
            .collect();
        let sent: Vec<String> = (0..MESSAGES_PER_CLIENT)
            .map(|k| format!("c{i}-{k}"))
            .collect();
        assert_eq!(
            echoed, sent,
            "client {i}: echoes in sending order, all delivered"
        );
        for relay in &got.relays {
            assert_eq!(relay["payload"]["to"], json!(users[i].0));
            assert_eq!(relay["payload"]["status"], "sent");
            assert!(relayed_ids.insert(relay["payload"]["id"].as_str().unwrap_or("").to_owned()));
        }
        let extra: Vec<String> = ws
            .barrier()
            .await
            .into_iter()
            .filter(|f| !f.contains(r#""type":"online""#))
            .collect();
        assert!(extra.is_empty(), "client {i}: unexpected {extra:?}");
    }
    assert_eq!(relayed_ids.len(), CLIENTS * MESSAGES_PER_CLIENT);

    // Everything is stored, as delivered, in order, with parallel readers.
    let pairs: HashSet<(usize, usize)> = (0..CLIENTS)
        .flat_map(|i| targets(i).into_iter().map(move |t| (i, t)))
        .collect();
    let histories: Vec<(usize, usize, Value)> = stream::iter(pairs)
        .map(|(i, t)| {
            let http = http.clone();
            let (me, peer) = (users[i].0.clone(), users[t].0.clone());
            async move {
                (
                    i,
                    t,
                    http.get(&format!("/api/messages/{peer}?user={me}"), None)
                        .await
                        .json(),
                )
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut stored: HashMap<String, Value> = HashMap::new();
    for (_, _, history) in histories {
        for m in history.as_array().expect("array") {
            stored.insert(m["id"].as_str().unwrap_or("").to_owned(), m.clone());
        }
    }
    assert_eq!(stored.len(), CLIENTS * MESSAGES_PER_CLIENT);
    assert!(stored.values().all(|m| m["status"] == "delivered"));
}

#[tokio::test]
async fn simultaneous_registrations_of_one_name_make_one_account() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let body = json!({"username": "same", "password": "secret123"});
    let replies = futures_util::future::join_all(
        (0..20).map(|_| http.json("POST", "/api/auth/register", None, &body)),
    )
    .await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses[0], 201);
    assert!(statuses[1..].iter().all(|s| *s == 409), "{statuses:?}");
    assert!(
        replies
            .iter()
            .filter(|r| r.status == 409)
            .all(|r| r.json() == json!({"error": "Username already taken"}))
    );
}

#[tokio::test]
async fn oversized_bodies_and_messages_are_refused_and_the_server_keeps_serving() {
    const LIMIT: usize = 64 * 1024;
    let config = Config::default()
        .with_bcrypt_cost(4)
        .with_max_body_bytes(LIMIT)
        .with_max_ws_message_bytes(LIMIT);
    let server = TestServer::start(config).await.expect("server");
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;

    let big = "x".repeat(LIMIT + 1);
    let reply = http
        .json(
            "POST",
            "/api/auth/register",
            None,
            &json!({"username": big, "password": "secret123"}),
        )
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply.json()["error"].is_string());
    let fits = "y".repeat(LIMIT - 200);
    let reply = http
        .json("POST", "/api/messages", None, &json!({"id": "big", "fromUser": alice, "toUser": bob, "content": fits, "timestamp": 1, "status": "sent"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let (mut b, _) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    a.next_json().await.expect("bob online");
    let frame = |content: &str| json!({"type": "message", "payload": {"to": alice, "content": content, "messageType": "text"}});
    b.send_json(&frame(&"z".repeat(LIMIT - 200))).await;
    let relayed = a.next_json().await.expect("relay");
    assert_eq!(
        relayed["payload"]["content"].as_str().map(str::len),
        Some(LIMIT - 200)
    );
    b.next_json().await.expect("echo");

    // Over the limit: the socket is closed with 1009 and nothing is stored or relayed.
    let _ = b
        .send_message(Message::text(frame(&"w".repeat(LIMIT + 1)).to_string()))
        .await;
    let (before, code) = b.closed().await.expect("closed");
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(code, Some(1009));
    assert_eq!(
        a.next_json().await.expect("bob offline")["payload"],
        json!({"userId": bob, "username": "bob", "online": false})
    );
    assert!(a.barrier().await.is_empty());
    let history = http
        .get(&format!("/api/messages/{bob}?user={alice}"), None)
        .await
        .json();
    assert_eq!(
        history.as_array().map(Vec::len),
        Some(2),
        "the big REST message and the one relayed"
    );
    assert_eq!(http.get("/api/users", None).await.status, 200);
}

#[tokio::test]
async fn default_limits_are_the_platforms() {
    let server = fast_server().await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    // A 2 MB body is fine over HTTP (the platform allows 100 MB)...
    let content = "p".repeat(2 * 1024 * 1024);
    let reply = http
        .json(
            "POST",
            "/api/messages",
            None,
            &json!({"id": "m", "fromUser": alice, "toUser": "x", "content": content}),
        )
        .await;
    assert_eq!(reply.status, 201);
    // ...but a WebSocket message over 1 MiB closes the socket.
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let frame =
        json!({"type": "message", "payload": {"to": "x", "content": "q".repeat(1024 * 1024)}});
    let _ = a.send_message(Message::text(frame.to_string())).await;
    let (_, code) = a.closed().await.expect("closed");
    assert_eq!(code, Some(1009));
}
