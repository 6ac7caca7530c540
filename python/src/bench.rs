//! The bench's baseline: an echo bot written in Rust alone on the same client, so that the
//! bench can tell what the Python layer costs per message.

use futures::StreamExt;
use pyo3::prelude::*;
use quickchat::{ContentKind, Direction, Event};
use tokio::task::JoinSet;

use crate::client::NativeClient;
use crate::errors::from_client;

/// Answers the first `count` incoming text messages with their text, each reply on its own
/// task (as the Python bot's async handlers run); an awaitable of the replies sent.
#[pyfunction]
pub(crate) fn rust_echo_bot<'py>(
    py: Python<'py>,
    client: &NativeClient,
    count: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let client = client.client()?;
    let mut events = client.subscribe();
    crate::bridge::spawn(py, async move {
        let mut replies = JoinSet::new();
        let mut received = 0;
        while received < count {
            let Some(event) = events.next().await else {
                break;
            };
            if let Event::Message { message, .. } = event
                && message.direction == Direction::Incoming
                && message.kind == ContentKind::Text
            {
                received += 1;
                let client = client.clone();
                replies.spawn(async move {
                    client
                        .send_text(&message.sender_id, &message.body)
                        .await
                        .map(|_| ())
                });
            }
        }
        let mut sent = 0usize;
        while let Some(reply) = replies.join_next().await {
            if let Ok(result) = reply {
                result.map_err(from_client)?;
                sent += 1;
            }
        }
        Ok(sent)
    })
}
