//! What every handler shares: the database, the WebSocket connection table, the token key
//! and the configuration that shapes behaviour.

use std::ops::Deref;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::jwt::JwtKey;
use crate::config::Quirks;
use crate::db::Db;
use crate::hooks::Hooks;
use crate::ws::hub::{Hub, QueueLimits};

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub(crate) struct Shared {
    pub db: Db,
    pub hub: Hub,
    pub jwt: JwtKey,
    pub bcrypt_cost: u32,
    pub quirks: Quirks,
    pub max_body_bytes: usize,
    pub max_ws_message_bytes: usize,
    /// How much may wait for one socket before it is dropped.
    pub ws_queue_limits: QueueLimits,
    /// Test observations and knobs, owned by the `TestServer` across restarts.
    pub hooks: Arc<Hooks>,
    /// Cancelled when the server stops: every WebSocket closes.
    pub shutdown: CancellationToken,
    /// The running WebSocket connections, awaited on stop.
    pub connections: TaskTracker,
}

impl AppState {
    /// Wraps the shared parts.
    pub(crate) fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
