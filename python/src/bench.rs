//! The bench's baseline: an echo bot written in Rust alone on the same client, so that the
//! bench can tell what the Python layer costs per message.

use futures::{FutureExt, StreamExt};
use pyo3::prelude::*;
use quickchat::{ContentKind, Direction, Event};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::NativeClient;
use crate::errors::raise;

/// Replies sent and replies that failed so far.
type Progress = (usize, usize);

/// A running Rust echo bot: answers every incoming text message with its text, each reply
/// on its own task (as the Python bot's async handlers run), taking events in the same
/// batches as the Python package. Stops when dropped.
#[pyclass(frozen, module = "quickchat._quickchat")]
pub(crate) struct RustEchoBot {
    progress: watch::Receiver<Progress>,
    task: JoinHandle<()>,
}

/// Starts the bot on `client`'s events (subscribed now: nothing later is missed).
#[pyfunction]
pub(crate) fn rust_echo_bot(client: &NativeClient) -> PyResult<RustEchoBot> {
    let client = client.client()?;
    let mut events = client.subscribe();
    let (progress, watcher) = watch::channel((0, 0));
    let runtime = pyo3_async_runtimes::tokio::get_runtime();
    let task = runtime.spawn(async move {
        while let Some(first) = events.next().await {
            // Events are taken in batches as the Python package takes them (a millisecond
            // after the first, everything ready), so that both bots' replies share commits
            // alike and the bench compares the layers, not the batching.
            tokio::time::sleep(crate::events::GATHER).await;
            let mut batch = vec![first];
            while let Some(Some(event)) = events.next().now_or_never() {
                batch.push(event);
            }
            for event in batch {
                if let Event::Message { message, .. } = event
                    && message.direction == Direction::Incoming
                    && message.kind == ContentKind::Text
                {
                    let client = client.clone();
                    let progress = progress.clone();
                    tokio::spawn(async move {
                        let sent = client.send_text(&message.sender_id, &message.body).await;
                        progress.send_modify(|(ok, failed)| match sent {
                            Ok(_) => *ok += 1,
                            Err(_) => *failed += 1,
                        });
                    });
                }
            }
        }
    });
    Ok(RustEchoBot {
        progress: watcher,
        task,
    })
}

#[pymethods]
impl RustEchoBot {
    /// An awaitable that resolves once `count` replies went out (fails if one failed).
    fn wait_for<'py>(&self, py: Python<'py>, count: usize) -> PyResult<Bound<'py, PyAny>> {
        let mut progress = self.progress.clone();
        crate::bridge::spawn(py, async move {
            let (ok, failed) = *progress
                .wait_for(|(ok, failed)| ok + failed >= count || *failed > 0)
                .await
                .map_err(|_| raise("stopped".into(), "the echo bot stopped".into()))?;
            if failed > 0 {
                return Err(raise(
                    "send_failed".into(),
                    format!("{failed} replies failed"),
                ));
            }
            Ok(ok)
        })
    }

    /// Stops answering.
    fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for RustEchoBot {
    fn drop(&mut self) {
        self.task.abort();
    }
}
