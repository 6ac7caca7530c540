//! The hooks tests use to observe and steer the server: message frame counts, dropping a
//! user's sockets, and delaying history answers. Also PROTOCOL §7 quirk 5 (duplicates are
//! relayed), which the counts are about.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use quickchat_testserver::{Config, Quirks, TestServer};
use serde_json::{Value, json};
use support::client::{Http, Ws};

fn message(to: &str, content: &str, id: &str) -> Value {
    json!({"type": "message", "payload": {
        "to": to, "content": content, "messageType": "text", "encrypted": false, "messageId": id
    }})
}

fn presence(id: &str, name: &str, online: bool) -> Value {
    json!({"type": "online", "payload": {"userId": id, "username": name, "online": online}})
}

async fn server_with(quirks: Quirks) -> TestServer {
    TestServer::start(Config::default().with_bcrypt_cost(4).with_quirks(quirks))
        .await
        .expect("server")
}

#[tokio::test]
async fn duplicates_are_refused_by_the_database_but_relayed_and_every_frame_is_counted() {
    let server = server_with(Quirks::faithful()).await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let (mut b, _) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    assert_eq!(a.next_json().await, Ok(presence(&bob, "bob", true)));

    a.send_json(&message(&bob, "first", "m1")).await;
    assert_eq!(
        a.next_json().await.expect("echo")["payload"]["status"],
        "delivered"
    );
    a.send_json(&message(&bob, "again", "m1")).await;
    assert_eq!(
        a.next_json().await.expect("refusal"),
        json!({"type": "error", "payload": {"message": "Invalid message format"}})
    );
    a.send_json(&message(&bob, "other", "m2")).await;
    assert_eq!(a.next_json().await.expect("echo")["payload"]["id"], "m2");

    // Bob gets the duplicate too, as sent, with status `sent`.
    let contents: Vec<Value> = [
        b.next_json().await.expect("m1"),
        b.next_json().await.expect("m1 again"),
        b.next_json().await.expect("m2"),
    ]
    .iter()
    .map(|f| {
        json!([
            f["payload"]["id"],
            f["payload"]["content"],
            f["payload"]["status"]
        ])
    })
    .collect();
    assert_eq!(
        contents,
        [
            json!(["m1", "first", "sent"]),
            json!(["m1", "again", "sent"]),
            json!(["m2", "other", "sent"])
        ]
    );
    assert!(b.barrier().await.is_empty());

    // The database kept the first.
    let history = http
        .get(&format!("/api/messages/{alice}?user={bob}"), None)
        .await
        .json();
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    assert_eq!(history[0]["content"], "first");

    let counts = server.message_frame_counts();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(counts[&(alice.clone(), "m1".to_owned())], 2);
    assert_eq!(counts[&(alice.clone(), "m2".to_owned())], 1);
    assert_eq!(
        server.duplicate_message_frames(),
        [(alice.clone(), "m1".to_owned(), 2)]
    );

    // Frames without a messageId, and frames of sockets that never authenticated, are
    // not counted.
    let mut stranger = Ws::connect(&server.ws_url()).await;
    stranger.send_json(&message(&bob, "who?", "m9")).await;
    assert_eq!(
        stranger.next_json().await.expect("refusal")["payload"]["message"],
        "Not authenticated"
    );
    a.send_json(&json!({"type": "message", "payload": {
        "to": bob, "content": "no id", "messageType": "text", "encrypted": false
    }}))
    .await;
    a.next_json().await.expect("echo");
    assert_eq!(server.message_frame_counts(), counts);
}

#[tokio::test]
async fn without_the_quirk_duplicates_are_not_relayed() {
    let server = server_with(Quirks::fixed()).await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    let (mut b, _) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    a.next_json().await.expect("bob online");
    a.send_json(&message(&bob, "first", "m1")).await;
    a.next_json().await.expect("echo");
    a.send_json(&message(&bob, "again", "m1")).await;
    assert_eq!(a.next_json().await.expect("refusal")["type"], "error");
    assert_eq!(
        b.next_json().await.expect("m1")["payload"]["content"],
        "first"
    );
    assert!(b.barrier().await.is_empty());
    // Counted all the same.
    assert_eq!(
        server.duplicate_message_frames(),
        [(alice, "m1".to_owned(), 2)]
    );
}

#[tokio::test]
async fn counts_survive_a_restart() {
    let mut server = server_with(Quirks::faithful()).await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    for _ in 0..2 {
        let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
        a.send_json(&message(&bob, "hi", "m1")).await;
        a.next_json().await.expect("echo or refusal");
        a.close().await;
        server.restart().await.expect("restart");
    }
    assert_eq!(
        server.duplicate_message_frames(),
        [(alice, "m1".to_owned(), 2)]
    );
}

#[tokio::test]
async fn disconnect_user_drops_every_socket_of_that_user_at_once() {
    let server = server_with(Quirks::faithful()).await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut b, _) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    let (mut a1, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", true)));
    // A second socket: the first is closed and, by the reconnect race, takes the table
    // entry of the second with it, yet the second stays open.
    let (mut a2, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    a1.closed().await.expect("old socket closed");
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", true)));
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", false)));

    server.disconnect_user(&alice).await;
    // Dropped, not closed: the connection ends without a close frame.
    let (before, code) = a2.closed().await.expect("the socket ends");
    assert_eq!(code, None, "{before:?}");
    // Its close handler ran before disconnect_user returned: bob was told.
    let told: Vec<Value> = b
        .barrier()
        .await
        .iter()
        .map(|t| serde_json::from_str(t).expect("JSON"))
        .collect();
    assert_eq!(told, [presence(&alice, "alice", false)]);

    // Bob is unaffected; a message to alice is stored and not relayed.
    b.send_json(&message(&alice, "later", "m1")).await;
    assert_eq!(
        b.next_json().await.expect("echo")["payload"]["status"],
        "sent"
    );
    // Nothing to drop: returns at once.
    server.disconnect_user(&alice).await;
    server.disconnect_user("nobody").await;
}

#[tokio::test]
async fn disconnect_user_on_the_usual_table_entry() {
    let server = server_with(Quirks::faithful()).await;
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut b, _) = Ws::connect_as(&server.ws_url(), &bob, "bob").await;
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    b.next_json().await.expect("alice online");
    server.disconnect_user(&alice).await;
    assert_eq!(a.closed().await.expect("ends").1, None);
    assert_eq!(b.next_json().await, Ok(presence(&alice, "alice", false)));
    // She can come back.
    let (_a, list) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    assert_eq!(list["payload"]["users"].as_array().map(Vec::len), Some(2));
}

/// Generous margins: the delay must cover the time to get the history read done and a
/// message stored on a loaded machine.
const DELAY: Duration = Duration::from_secs(6);
const HEAD_START: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_delay_answers_with_what_was_read_before_later_messages() {
    let server = TestServer::start(
        Config::default()
            .with_bcrypt_cost(4)
            .with_history_delay(DELAY),
    )
    .await
    .expect("server");
    assert_eq!(server.config().history_delay, DELAY);
    let http = Http::new(&server.base_url());
    let (alice, _) = http.register("alice").await;
    let (bob, _) = http.register("bob").await;
    let (mut a, _) = Ws::connect_as(&server.ws_url(), &alice, "alice").await;
    a.send_json(&message(&bob, "before", "m1")).await;
    a.next_json().await.expect("echo");

    let path = format!("/api/messages/{alice}?user={bob}");
    let fetch = {
        let (http, path) = (http.clone(), path.clone());
        tokio::spawn(async move { http.get(&path, None).await.json() })
    };
    tokio::time::sleep(HEAD_START).await;
    a.send_json(&message(&bob, "during", "m2")).await;
    a.next_json().await.expect("echo");
    assert!(
        !fetch.is_finished(),
        "the history answer came before a message stored after it was asked for"
    );
    let history = fetch.await.expect("fetch");
    let ids: Vec<&Value> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, [&json!("m1")]);

    // Turned off at runtime: answered at once, with both.
    server.set_history_delay(Duration::ZERO);
    let started = Instant::now();
    let history = tokio::time::timeout(DELAY, http.get(&path, None))
        .await
        .expect("no delay any more")
        .json();
    assert!(started.elapsed() < DELAY);
    assert_eq!(history.as_array().map(Vec::len), Some(2));

    // And on at runtime.
    server.set_history_delay(DELAY);
    let fetch = {
        let (http, path) = (http.clone(), path.clone());
        tokio::spawn(async move { http.get(&path, None).await.json() })
    };
    tokio::time::sleep(HEAD_START).await;
    a.send_json(&message(&bob, "during", "m3")).await;
    a.next_json().await.expect("echo");
    assert!(!fetch.is_finished());
    assert_eq!(
        fetch.await.expect("fetch").as_array().map(Vec::len),
        Some(2)
    );
}
