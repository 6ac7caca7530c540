//! The life of one socket: a reader that handles frames one at a time, a writer that drains
//! the socket's outbox, and the close handler.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;
use crate::ws::handlers::{self, Session};
use crate::ws::hub::{Outbox, OutboxReceiver, Outgoing};

/// How long a socket the server closed may take to answer the close frame before it is
/// dropped anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Runs a socket until it closes, then runs the close handler.
pub(super) async fn run(socket: WebSocket, state: AppState) {
    let (outbox, outgoing, close_requested) = Outbox::new(state.ws_queue_limits);
    let (sink, mut stream) = socket.split();
    let writer_done = CancellationToken::new();
    let mut writer = tokio::spawn(write(sink, outgoing, writer_done.clone()));
    let mut session = Session {
        connection: state.hub.next_connection_id(),
        outbox,
        user: None,
    };
    let finished = CancellationToken::new();
    state
        .hub
        .open_socket(session.connection, &session.outbox, finished.clone());
    let dropped_outbox = session.outbox.clone();
    // Once the server has asked for a close, the peer has CLOSE_GRACE to answer it.
    let close_timeout = async {
        close_requested.notified().await;
        tokio::time::sleep(CLOSE_GRACE).await;
    };
    tokio::pin!(close_timeout);
    let mut stopping = false;
    let mut dropped = false;
    loop {
        tokio::select! {
            () = dropped_outbox.dropped() => {
                dropped = true;
                break;
            }
            () = state.shutdown.cancelled() => {
                session.outbox.close(1001, "Server shutting down");
                stopping = true;
                break;
            }
            () = &mut close_timeout => break,
            incoming = stream.next() => match incoming {
                // After the server decided to close, frames still in flight are ignored.
                Some(Ok(_)) if session.outbox.is_closing() => {}
                Some(Ok(Message::Text(text))) => {
                    handlers::handle_text(&state, &mut session, text.as_str()).await;
                }
                Some(Ok(Message::Binary(_))) => handlers::handle_binary(&session),
                // Pings, pongs and the peer's close frame are answered by the protocol layer;
                // the stream ends after the closing handshake.
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    tracing::debug!(error = %err, "WebSocket read failed");
                    if is_too_large(&err) {
                        session.outbox.close(1009, "Message is too large");
                    }
                    break;
                }
                None => break,
            },
        }
    }
    if dropped {
        // Gone at once, as after a network failure: nothing more is written, and the
        // socket closes when both halves are dropped.
        writer.abort();
        drop(stream);
    }
    if !stopping && let Some(user) = &session.user {
        handlers::disconnected(&state, session.connection, user).await;
    }
    writer_done.cancel();
    // A peer that does not read can hold the writer in a flush: it gets the grace period.
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    state.hub.close_socket(session.connection);
    finished.cancel();
}

/// Whether a read failed because the peer sent a message over the configured limit.
fn is_too_large(err: &axum::Error) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Drains the outbox into the socket, batching what is queued into one flush.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut outgoing: OutboxReceiver,
    done: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            biased;
            item = outgoing.recv() => item,
            () = done.cancelled() => None,
        };
        let Some(mut item) = next else { break };
        loop {
            match item {
                Outgoing::Text(text) => {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Outgoing::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
            }
            match outgoing.try_recv() {
                Some(more) => item = more,
                None => break,
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}
