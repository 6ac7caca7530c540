//! The connection: a background task that keeps the WebSocket up, or the loop itself.

use std::sync::Arc;
use std::time::Duration;

use quickchat_core::client::ClientError;
use tokio::task::JoinHandle;

use super::{Client, Error};

/// How long [`Client::close`] lets the connection loop stop by itself.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

impl Client {
    /// Starts keeping the WebSocket up in a background task (reconnecting with backoff)
    /// until [`Client::close`]. Does nothing if it is already running.
    pub fn connect(&self) {
        let mut task = self.lock_task();
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let inner = Arc::clone(&self.inner);
        *task = Some(tokio::spawn(async move { inner.core.run().await }));
    }

    /// [`Client::connect`], then waits until the socket is up and history caught up (or
    /// catch-up failed, which the next connection retries). Fails at once when the
    /// connection loop stops for good (e.g. the backend refuses the login).
    pub async fn connect_and_wait(&self, timeout: Duration) -> Result<(), Error> {
        let mut events = self.subscribe();
        if self.is_connected() {
            return Ok(());
        }
        self.connect();
        match tokio::time::timeout(timeout, events.until_ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Some(reason))) => Err(Error::Stopped(reason)),
            Ok(Err(None)) | Err(_) => Err(Error::Timeout("the connection")),
        }
    }

    /// Closes the socket and stops reconnecting; waits for the background task.
    pub async fn close(&self) {
        self.inner.core.shutdown().await;
        let task = self.lock_task().take();
        if let Some(mut task) = task {
            // A task that had not started yet when the stop was signalled does not see it:
            // give the loop a moment to stop by itself, then stop the task (dropping the
            // loop's future is a clean stop too).
            if tokio::time::timeout(CLOSE_GRACE, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
            self.inner.core.shutdown().await;
        }
    }

    /// The connection loop itself, on the calling task: keeps the WebSocket up until
    /// [`Client::shutdown`] (or logout). Returns `Ok` when shut down, `Err` when reconnecting
    /// cannot help (nobody logged in, or the backend refuses the user). Dropping the future
    /// is a clean stop too. [`Client::connect`] runs it on a background task instead.
    pub async fn run(&self) -> Result<(), ClientError> {
        self.core().run().await
    }

    /// Stops the connection loop and closes the socket, without waiting for the background
    /// task ([`Client::close`] waits).
    pub async fn shutdown(&self) {
        self.core().shutdown().await
    }

    /// Whether the WebSocket is up and authenticated.
    pub fn is_connected(&self) -> bool {
        self.core().is_connected()
    }

    fn lock_task(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<Result<(), ClientError>>>> {
        self.inner.lock_task()
    }
}
