//! The native transport's resource bounds against misbehaving servers on 127.0.0.1: a
//! WebSocket flood (backpressure, not memory), an oversized WebSocket message, oversized and
//! endless REST bodies, and servers that accept a connection and never answer.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use quickchat::NetworkTimeouts;
use quickchat::transport::NativeTransport;
use quickchat::{Client, Event};
use quickchat_core::protocol::limits::{MAX_FRAME, MAX_LIST_RESPONSE, MAX_SMALL_RESPONSE};
use quickchat_core::protocol::{ApiError, Password};
use quickchat_core::transport::{Transport, TransportError};
use support::{WAIT, fast_config, registered, server, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// A listener on a free local port and the `http://` origin to reach it.
async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    (listener, origin)
}

/// Timeouts short enough that a test sees several of them within [`WAIT`].
fn short_timeouts() -> NetworkTimeouts {
    NetworkTimeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_millis(800),
        websocket_open: Duration::from_millis(500),
        websocket_send: Duration::from_millis(500),
        websocket_close: Duration::from_millis(500),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_flood_is_held_back_by_the_socket_not_buffered() {
    const FRAMES: usize = 4_000;
    const FRAME_LEN: usize = 16 << 10;
    let (listener, origin) = listener().await;
    let written = Arc::new(AtomicUsize::new(0));
    let stalled_at = Arc::new(AtomicUsize::new(usize::MAX));
    let server = {
        let written = Arc::clone(&written);
        let stalled_at = Arc::clone(&stalled_at);
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
            for i in 0..FRAMES {
                let mut text = format!("{i:08}");
                text.push_str(&"x".repeat(FRAME_LEN - text.len()));
                let sending = socket.send(Message::text(text));
                // A send that cannot finish for seconds means the client stopped reading:
                // the socket's buffers are full. (Without backpressure it never happens.)
                match tokio::time::timeout(Duration::from_secs(3), sending).await {
                    Ok(result) => result.unwrap(),
                    Err(_) => {
                        stalled_at
                            .compare_exchange(usize::MAX, i, Ordering::SeqCst, Ordering::SeqCst)
                            .ok();
                        // The frame is in the writer's buffer: get it out, then go on.
                        socket.flush().await.unwrap();
                    }
                }
                written.fetch_add(1, Ordering::SeqCst);
            }
            socket.close(None).await.ok();
        })
    };
    let transport = NativeTransport::new(&origin).unwrap();
    let mut socket = transport.connect_websocket().await.unwrap();
    // The client reads nothing until the server stalls.
    tokio::time::timeout(WAIT, async {
        while stalled_at.load(Ordering::SeqCst) == usize::MAX {
            assert!(
                written.load(Ordering::SeqCst) < FRAMES,
                "the server wrote all {FRAMES} frames to a client that read none of them: \
                 they were buffered in the client"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the server stalls once the client stops reading");
    let stalled = stalled_at.load(Ordering::SeqCst);
    eprintln!("the server stalled after {stalled} frames of {FRAME_LEN} bytes");
    assert!(stalled < FRAMES / 2, "stalled only after {stalled} frames");
    // Nothing is lost: reading on gets every frame, in order.
    for i in 0..FRAMES {
        let frame = tokio::time::timeout(WAIT, socket.stream.next_frame())
            .await
            .expect("next frame in time")
            .expect("socket open")
            .expect("a frame");
        assert_eq!(frame.len(), FRAME_LEN);
        assert_eq!(&frame[..8], format!("{i:08}"));
    }
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_message_over_the_cap_fails_the_socket() {
    let (listener, origin) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
        socket.send(Message::text("small")).await.unwrap();
        // One text message of MAX_FRAME + 1 MiB in 1 MiB fragments: no single frame is
        // over the cap, the message is.
        let chunk = vec![b'y'; 1 << 20];
        let parts = MAX_FRAME / chunk.len() + 1;
        for part in 0..parts {
            let opcode = if part == 0 {
                Data::Text
            } else {
                Data::Continue
            };
            let frame = Frame::message(chunk.clone(), OpCode::Data(opcode), part + 1 == parts);
            if socket.send(Message::Frame(frame)).await.is_err() {
                break;
            }
        }
        // Keep the socket until the client gives up on it.
        while let Some(Ok(_)) = socket.next().await {}
    });
    let transport = NativeTransport::new(&origin).unwrap();
    let mut socket = transport.connect_websocket().await.unwrap();
    let first = socket.stream.next_frame().await.unwrap().unwrap();
    assert_eq!(first, "small");
    let second = tokio::time::timeout(WAIT, socket.stream.next_frame())
        .await
        .expect("an answer in time");
    match second {
        Some(Err(TransportError::Io { detail })) => {
            assert!(detail.to_lowercase().contains("message"), "{detail}")
        }
        Some(Ok(text)) => panic!("a {}-byte message was accepted", text.len()),
        other => panic!("unexpected {other:?}"),
    }
    drop(socket);
    server.abort();
}

/// Answers every connection with `head` and then `body_chunk` over and over (for ever, or
/// `repeat` times).
async fn http_server(head: String, body_chunk: Vec<u8>, repeat: Option<usize>) -> String {
    let (listener, origin) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let head = head.clone();
            let chunk = body_chunk.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = tcp.read(&mut request).await;
                tcp.write_all(head.as_bytes()).await?;
                let mut sent = 0;
                while repeat.is_none_or(|n| sent < n) {
                    tcp.write_all(&chunk).await?;
                    sent += 1;
                }
                tcp.shutdown().await
            });
        }
    });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_rest_body_stops_at_the_cap_with_an_error() {
    // No length announced, a body that never ends.
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
    let origin = http_server(head.into(), vec![b' '; 64 << 10], None).await;
    let transport = NativeTransport::new(&origin).unwrap();
    let client = quickchat_core::protocol::Api::new(transport);
    let error = tokio::time::timeout(WAIT, client.users())
        .await
        .expect("fails in time")
        .unwrap_err();
    assert_eq!(
        error,
        ApiError::Transport(TransportError::ResponseTooLarge {
            path: "/api/users".into(),
            limit: MAX_LIST_RESPONSE,
        })
    );
    assert!(error.to_string().contains("/api/users"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_oversized_rest_body_is_refused_before_reading() {
    // 2 MiB announced for a key bundle (a small answer): refused on the header alone.
    let length = 2 * MAX_SMALL_RESPONSE;
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n");
    let origin = http_server(head, vec![b'{'; 1 << 10], Some(length >> 10)).await;
    let transport = NativeTransport::new(&origin).unwrap();
    let client = quickchat_core::protocol::Api::new(transport);
    let error = tokio::time::timeout(WAIT, client.fetch_bundle("jwt", "someone"))
        .await
        .expect("fails in time")
        .unwrap_err();
    assert!(
        matches!(
            error,
            ApiError::Transport(TransportError::ResponseTooLarge { limit, .. })
                if limit == MAX_SMALL_RESPONSE
        ),
        "{error:?}"
    );
}

/// A server that accepts connections and never says anything. Returns its origin and how
/// many connections it accepted so far.
async fn silent_server() -> (String, Arc<AtomicUsize>) {
    let (listener, origin) = listener().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    (origin, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_call_to_a_silent_server_times_out() {
    let (origin, _) = silent_server().await;
    let transport = NativeTransport::new(&origin)
        .unwrap()
        .with_timeouts(short_timeouts())
        .unwrap();
    let client = quickchat_core::protocol::Api::new(transport);
    let error = tokio::time::timeout(WAIT, client.users())
        .await
        .expect("the request's own timeout ends it")
        .unwrap_err();
    assert_eq!(
        error,
        ApiError::Transport(TransportError::Timeout {
            step: "the REST request",
            millis: 800,
        })
    );
    let login = quickchat_core::protocol::rest::LoginRequest {
        username: "someone".into(),
        password: Password::from("secret123"),
    };
    let error = tokio::time::timeout(WAIT, client.login(&login))
        .await
        .expect("the request's own timeout ends it")
        .unwrap_err();
    assert!(matches!(
        error,
        ApiError::Transport(TransportError::Timeout { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_upgrade_that_never_completes_times_out() {
    let (origin, _) = silent_server().await;
    let transport = NativeTransport::new(&origin)
        .unwrap()
        .with_timeouts(short_timeouts())
        .unwrap();
    let error = tokio::time::timeout(WAIT, transport.connect_websocket())
        .await
        .expect("the upgrade's own timeout ends it")
        .err()
        .expect("no socket");
    assert_eq!(
        error,
        TransportError::Timeout {
            step: "opening the WebSocket",
            millis: 500,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_when_the_websocket_upgrade_hangs() {
    // A user registered on a real server, then restarted against a silent one.
    let real = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = registered(&real, &dir, "alice").await;
    alice.close().await;
    drop(alice);
    let (silent, accepted) = silent_server().await;
    let client = Client::builder()
        .server(silent)
        .store_path(dir.path().join("alice.redb"))
        .passphrase("alice passphrase")
        .store_options(
            quickchat::store::StoreOptions::new()
                .kdf(quickchat::store::KdfStrength::InsecureForTests),
        )
        .config(fast_config())
        .network_timeouts(short_timeouts())
        .build()
        .await
        .unwrap();
    assert!(client.current_user().is_some());
    let mut events = client.events();
    let waiting = client.connect_and_wait(Duration::from_secs(3));
    let reasons = tokio::spawn(async move {
        let mut reasons = Vec::new();
        while reasons.len() < 2 {
            let reason = wait_for(&mut events, |e| match e {
                Event::Disconnected { reason } => Some(reason),
                _ => None,
            })
            .await;
            let attempt = wait_for(&mut events, |e| match e {
                Event::Reconnecting { attempt, .. } => Some(attempt),
                _ => None,
            })
            .await;
            assert_eq!(attempt as usize, reasons.len() + 1);
            reasons.push(reason);
        }
        reasons
    });
    assert!(matches!(waiting.await, Err(quickchat::Error::Timeout(_))));
    let reasons = reasons.await.unwrap();
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("opening the WebSocket timed out")),
        "{reasons:?}"
    );
    assert!(
        accepted.load(Ordering::SeqCst) >= 2,
        "each attempt opened a connection"
    );
    client.close().await;
}

/// A WebSocket server that completes the upgrade and then neither reads nor answers
/// anything (it holds the socket until the test ends).
async fn deaf_websocket_server() -> String {
    let (listener, origin) = listener().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(socket) = tokio_tungstenite::accept_async(tcp).await {
                held.push(socket);
            }
        }
    });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_to_a_server_that_stops_reading_times_out() {
    let origin = deaf_websocket_server().await;
    let transport = NativeTransport::new(&origin)
        .unwrap()
        .with_timeouts(short_timeouts())
        .unwrap();
    let mut socket = transport.connect_websocket().await.unwrap();
    let big = "z".repeat(1 << 20);
    let error = tokio::time::timeout(WAIT, async {
        loop {
            if let Err(e) = socket.sink.send(big.clone()).await {
                return e;
            }
        }
    })
    .await
    .expect("a send fails once the buffers are full");
    assert_eq!(
        error,
        TransportError::Timeout {
            step: "sending a WebSocket frame",
            millis: 500,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_with_a_server_that_never_answers_times_out() {
    let origin = deaf_websocket_server().await;
    let transport = NativeTransport::new(&origin)
        .unwrap()
        .with_timeouts(short_timeouts())
        .unwrap();
    let mut socket = transport.connect_websocket().await.unwrap();
    let error = tokio::time::timeout(WAIT, socket.sink.close())
        .await
        .expect("the close's own timeout ends it")
        .unwrap_err();
    assert_eq!(
        error,
        TransportError::Timeout {
            step: "closing the WebSocket",
            millis: 500,
        }
    );
}
