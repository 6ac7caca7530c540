//! Measures how many one-to-one messages per second the server relays, stores and echoes.
//!
//! ```text
//! cargo run --release -p quickchat-testserver --example throughput -- [PAIRS] [MESSAGES_PER_SENDER]
//! ```
//!
//! `PAIRS` senders (default 10) each push `MESSAGES_PER_SENDER` messages (default 2000) to
//! their own receiver as fast as the socket takes them; the run ends when every receiver
//! has every relay and every sender every echo. The same run with `typing` frames, which the
//! server relays without touching the database, is the baseline: the ratio between the two
//! is the cost of storing. Server and clients share this process and the machine's cores.

// A measuring tool: a failed unwrap aborts the measurement, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use quickchat_testserver::{Config, TestServer};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

async fn register(client: &reqwest::Client, base: &str, name: &str) -> String {
    let body = json!({"username": name, "password": "secret123"}).to_string();
    let reply = client
        .post(format!("{base}/api/auth/register"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("register");
    let reply: Value = serde_json::from_str(&reply.text().await.expect("body")).expect("JSON");
    reply["id"].as_str().expect("id").to_owned()
}

async fn connect(url: &str, id: &str, name: &str) -> Socket {
    let (mut ws, _) = connect_async(url).await.expect("connect");
    let auth = json!({"type": "auth", "payload": {"userId": id, "username": name}});
    ws.send(Message::text(auth.to_string()))
        .await
        .expect("auth");
    ws
}

/// Reads until `count` frames of type `kind` have arrived.
async fn drain(mut ws: Socket, kind: &'static str, count: usize) -> Socket {
    let needle = format!(r#"{{"type":"{kind}""#);
    let mut seen = 0;
    while seen < count {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with(needle.as_str()) => seen += 1,
            Some(Ok(_)) => {}
            other => panic!("socket ended early: {other:?}"),
        }
    }
    ws
}

/// One run: returns the elapsed time for `pairs × per_sender` frames of `kind`.
async fn run(
    url: &str,
    users: &[(String, String)],
    pairs: usize,
    per_sender: usize,
    kind: &'static str,
) -> Duration {
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for p in 0..pairs {
        let (from, to) = (&users[2 * p], &users[2 * p + 1]);
        receivers.push(connect(url, &to.0, &to.1).await);
        senders.push((connect(url, &from.0, &from.1).await, to.0.clone()));
    }
    // Let the presence frames of the connections settle before timing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut receiving = Vec::new();
    for ws in receivers {
        receiving.push(tokio::spawn(drain(ws, kind, per_sender)));
    }
    let mut sending = Vec::new();
    for (ws, peer) in senders {
        sending.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let echoes = tokio::spawn(async move {
                let mut seen = 0;
                // Only messages are echoed to their sender.
                while kind == "message" && seen < per_sender {
                    match stream.next().await {
                        Some(Ok(Message::Text(t))) if t.starts_with(r#"{"type":"message""#) => seen += 1,
                        Some(Ok(_)) => {}
                        other => panic!("sender socket ended early: {other:?}"),
                    }
                }
                stream
            });
            for i in 0..per_sender {
                let frame = if kind == "message" {
                    json!({"type": "message", "payload": {"to": peer, "content": format!("message {i}"), "messageType": "text", "encrypted": false}})
                } else {
                    json!({"type": "typing", "payload": {"to": peer, "typing": i % 2 == 0}})
                };
                sink.feed(Message::text(frame.to_string())).await.expect("send");
            }
            sink.flush().await.expect("flush");
            (sink, echoes.await.expect("echoes"))
        }));
    }
    // Sockets stay open until every frame has arrived: closing one with unread data in
    // its receive buffer resets the connection and discards what the server has not read.
    let mut open = Vec::new();
    for task in receiving {
        open.push(task.await.expect("receiver"));
    }
    let mut open_senders = Vec::new();
    for task in sending {
        open_senders.push(task.await.expect("sender"));
    }
    let elapsed = started.elapsed();
    drop((open, open_senders));
    elapsed
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let pairs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let per_sender: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let server = TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("server");
    let client = reqwest::Client::new();
    let mut users = Vec::new();
    // Fresh users for each run: reconnecting the same ones would meet the reconnect race.
    for i in 0..4 * pairs {
        let name = format!("bench{i:03}");
        users.push((register(&client, &server.base_url(), &name).await, name));
    }
    let total = pairs * per_sender;
    let (first, second) = users.split_at(2 * pairs);
    let baseline = run(&server.ws_url(), first, pairs, per_sender, "typing").await;
    let messages = run(&server.ws_url(), second, pairs, per_sender, "message").await;
    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    println!("{pairs} senders x {per_sender} frames = {total} frames each run");
    println!(
        "typing (relay only, baseline): {:>8.0} frames/s  ({:.2?})",
        rate(baseline),
        baseline
    );
    println!(
        "message (store+relay+echo):    {:>8.0} msgs/s    ({:.2?})",
        rate(messages),
        messages
    );
    println!(
        "messages run at {:.2}x the baseline rate",
        rate(messages) / rate(baseline)
    );
}
