//! [`TestServer`]: start, stop and restart the server in-process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::jwt::JwtKey;
use crate::config::{Config, Database};
use crate::db::{self, Db, users};
use crate::error::{DbError, ServerError};
use crate::hooks::Hooks;
use crate::state::{AppState, Shared};
use crate::ws::hub::{Hub, QueueLimits};

/// How long stopping waits for open requests and sockets before cutting them off.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running (or stopped) server with its own database.
///
/// Dropping it stops the server without waiting and deletes a temporary database; call
/// [`stop`](TestServer::stop) to wait until every socket is closed and the port is free.
pub struct TestServer {
    config: Config,
    /// The configured secret, or the random one drawn at start; kept across restarts.
    jwt_secret: String,
    hooks: Arc<Hooks>,
    addr: SocketAddr,
    db_path: PathBuf,
    running: Option<Running>,
    // Declared last: the directory goes after the server that uses it.
    _temp_dir: Option<TempDir>,
}

struct Running {
    state: AppState,
    serve: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Opens the database (creating it if needed), binds the address and starts serving.
    pub async fn start(config: Config) -> Result<TestServer, ServerError> {
        let (db_path, temp_dir) = match &config.database {
            Database::Temporary => {
                let dir = tempfile::Builder::new()
                    .prefix("quickchat-testserver-")
                    .tempdir()
                    .map_err(ServerError::TempDir)?;
                (dir.path().join("chat.db"), Some(dir))
            }
            Database::File(path) => (path.clone(), None),
        };
        let jwt_secret = match &config.jwt_secret {
            Some(secret) => secret.clone(),
            None => random_secret()?,
        };
        let hooks = Arc::new(Hooks::new(config.history_delay));
        let (running, addr) = launch(&config, &jwt_secret, &hooks, config.bind, &db_path).await?;
        Ok(TestServer {
            config,
            jwt_secret,
            hooks,
            addr,
            db_path,
            running: Some(running),
            _temp_dir: temp_dir,
        })
    }

    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, the base of the REST API (which lives under `/api`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://HOST:PORT/ws`, the WebSocket endpoint.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The configuration the server was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the server is serving (not stopped).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Stops serving: every WebSocket gets a close frame (1001) and its connection is
    /// dropped, open HTTP requests finish, the port is released and the database is
    /// closed. Does nothing if already stopped.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            shut_down(running).await;
            tracing::info!(addr = %self.addr, "stopped");
        }
    }

    /// Stops the server if it runs, then starts it again on the same address and port with
    /// the same database, so that clients reconnecting to the old URL reach it and find
    /// their data.
    pub async fn restart(&mut self) -> Result<(), ServerError> {
        self.stop().await;
        let (running, _) = launch(
            &self.config,
            &self.jwt_secret,
            &self.hooks,
            self.addr,
            &self.db_path,
        )
        .await?;
        self.running = Some(running);
        Ok(())
    }

    /// Gives the user named `username` the `admin` role, as the backend's operators do with
    /// a database update. Works whether the server runs or not.
    pub async fn make_admin(&self, username: &str) -> Result<(), ServerError> {
        let name = username.to_owned();
        let changed = match &self.running {
            Some(running) => running
                .state
                .db
                .call(move |c| users::make_admin(c, &name).map_err(DbError::from))
                .await
                .map_err(|source| self.database_error(source))?,
            None => {
                let path = self.db_path.clone();
                return tokio::task::spawn_blocking(move || make_admin_in(&path, &name))
                    .await
                    .map_err(|e| self.database_error(DbError::Thread(std::io::Error::other(e))))?;
            }
        };
        if changed == 0 {
            return Err(ServerError::UnknownUser(username.to_owned()));
        }
        Ok(())
    }

    /// How many WebSocket `message` frames carrying a `messageId` each sender's
    /// authenticated sockets sent, by (sender user id, `messageId`), since the server was
    /// first started (restarts included). Every frame counts, including duplicates the
    /// database refused (which the backend still relays, PROTOCOL §7 quirk 5) and frames
    /// refused for other reasons; REST `POST /api/messages` does not count.
    pub fn message_frame_counts(&self) -> HashMap<(String, String), usize> {
        self.hooks.message_frame_counts()
    }

    /// The `(sender user id, messageId, count)` of every message sent more than once over
    /// WebSocket (see [`message_frame_counts`](TestServer::message_frame_counts)), sorted.
    /// Empty when every message id went out exactly once.
    pub fn duplicate_message_frames(&self) -> Vec<(String, String, usize)> {
        let mut duplicates: Vec<_> = self
            .hooks
            .message_frame_counts()
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|((sender, id), count)| (sender, id, count))
            .collect();
        duplicates.sort();
        duplicates
    }

    /// Drops every open socket authenticated as `user_id` at once, as a network failure
    /// seen from the server: no close frame, nothing queued is written. Returns once each
    /// socket's close handler has run (the user is offline, as announced to the others).
    /// Does nothing for a user with no socket or a stopped server.
    pub async fn disconnect_user(&self, user_id: &str) {
        let Some(running) = &self.running else { return };
        for done in running.state.hub.drop_user(user_id) {
            done.cancelled().await;
        }
    }

    /// Holds back each `GET /api/messages/{peer}` answer by `delay` after the history was
    /// read, from now on (zero turns it off); kept across restarts. See
    /// [`Config::with_history_delay`].
    pub fn set_history_delay(&self, delay: Duration) {
        self.hooks.set_history_delay(delay);
    }

    /// Holds back the echo of each `message` frame to its sender by `delay` (the message is
    /// stored and relayed first), as a loaded backend or a slow network would; zero turns it
    /// off. The socket's next frames wait behind it. Kept across restarts.
    pub fn set_echo_delay(&self, delay: Duration) {
        self.hooks.set_echo_delay(delay);
    }

    fn database_error(&self, source: DbError) -> ServerError {
        ServerError::Database {
            path: self.db_path.clone(),
            source,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.state.shutdown.cancel();
            running.serve.abort();
        }
    }
}

/// Gives the user named `username` the `admin` role in the database at `db_path`, without
/// a server (what the binary's `make-admin` command does).
pub fn make_admin_in(db_path: &Path, username: &str) -> Result<(), ServerError> {
    let database_error = |source: DbError| ServerError::Database {
        path: db_path.to_owned(),
        source,
    };
    let conn = db::open_connection(db_path).map_err(database_error)?;
    let changed =
        users::make_admin(&conn, username).map_err(|e| database_error(DbError::from(e)))?;
    if changed == 0 {
        return Err(ServerError::UnknownUser(username.to_owned()));
    }
    Ok(())
}

/// A 256-bit secret from the operating system's CSPRNG.
fn random_secret() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ServerError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Binds, opens the database and spawns the server.
async fn launch(
    config: &Config,
    jwt_secret: &str,
    hooks: &Arc<Hooks>,
    bind: SocketAddr,
    db_path: &Path,
) -> Result<(Running, SocketAddr), ServerError> {
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| ServerError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr: bind, source })?;
    let db = Db::open(db_path).map_err(|source| ServerError::Database {
        path: db_path.to_owned(),
        source,
    })?;
    let state = AppState::new(Shared {
        db,
        hub: Hub::with_presence_fanout(config.presence_fanout),
        jwt: JwtKey::new(jwt_secret),
        bcrypt_cost: config.bcrypt_cost,
        quirks: config.quirks.clone(),
        max_body_bytes: config.max_body_bytes,
        max_ws_message_bytes: config.max_ws_message_bytes,
        ws_queue_limits: QueueLimits {
            frames: config.max_ws_queue_frames,
            bytes: config.max_ws_queue_bytes,
        },
        hooks: hooks.clone(),
        shutdown: CancellationToken::new(),
        connections: TaskTracker::new(),
    });
    let app = crate::http::router(state.clone());
    let signal = state.shutdown.clone();
    // Small frames go out at once: Nagle's algorithm would hold each reply back for the
    // peer's delayed acknowledgement (tens of milliseconds per request-response).
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
    });
    let serve = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { signal.cancelled().await })
            .await
    });
    tracing::info!(%addr, db = %db_path.display(), "listening");
    Ok((Running { state, serve }, addr))
}

/// Stops one run of the server and waits for it.
async fn shut_down(running: Running) {
    let Running { state, mut serve } = running;
    state.shutdown.cancel();
    if tokio::time::timeout(STOP_GRACE, &mut serve).await.is_err() {
        tracing::warn!("HTTP connections still open after the grace period; cutting them off");
        serve.abort();
        let _ = serve.await;
    }
    state.connections.close();
    if tokio::time::timeout(STOP_GRACE, state.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("WebSocket connections still open after the grace period");
    }
    state.db.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn servers_can_be_shared_between_tasks() {
        assert_send_sync::<TestServer>();
        assert_send_sync::<ServerError>();
        assert_send_sync::<Config>();
    }
}
