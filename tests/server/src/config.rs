//! How a server is started: address, database, secrets, costs, limits and quirks.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::password::DEFAULT_BCRYPT_COST;

/// Cloudflare's request body limit (100 MB) on the plans the backend runs on.
pub const DEFAULT_MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// Cloudflare's limit on a WebSocket message received by a Worker (1 MiB); a larger one
/// closes the socket with code 1009.
pub const DEFAULT_MAX_WS_MESSAGE_BYTES: usize = 1024 * 1024;

/// How many frames may wait to be written to one WebSocket before the server drops it.
pub const DEFAULT_MAX_WS_QUEUE_FRAMES: usize = 4096;

/// How many bytes of frames may wait to be written to one WebSocket before the server
/// drops it (16 MiB: sixteen of the largest messages the platform accepts).
pub const DEFAULT_MAX_WS_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Where the server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A fresh database in a temporary directory, deleted when the
    /// [`TestServer`](crate::TestServer) is dropped. It survives
    /// [`restart`](crate::TestServer::restart).
    Temporary,
    /// A database file, created if missing, kept afterwards.
    File(PathBuf),
}

/// Backend behaviours that are bugs, reproduced by default so that the SDK is tested against
/// them. Turning one off gives the behaviour a correct backend would have, for tests that
/// want to isolate other effects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quirks {
    /// PROTOCOL §7 quirk 1. When a user authenticates on a new socket, the backend closes
    /// the old one, and the old socket's close handler then removes the *new* connection
    /// from the connection table and tells everyone the user went offline. With `false`, a
    /// closing socket removes only its own entry.
    pub reconnect_race: bool,
    /// PROTOCOL §7 quirk 5. A direct `message` whose `messageId` is already stored is refused
    /// by the database (the sender gets `error` `Invalid message format` and no echo) but is
    /// still relayed to the recipient. With `false`, a duplicate is refused and not relayed.
    pub duplicate_relay: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            reconnect_race: true,
            duplicate_relay: true,
        }
    }
}

impl Quirks {
    /// Every quirk reproduced (the default).
    pub fn faithful() -> Self {
        Quirks::default()
    }

    /// Every quirk that can be turned off, turned off.
    pub fn fixed() -> Self {
        Quirks {
            reconnect_race: false,
            duplicate_relay: false,
        }
    }
}

/// How to start a [`TestServer`](crate::TestServer).
///
/// `Config::default()` listens on an ephemeral port of 127.0.0.1 with a temporary database,
/// a random JWT secret, bcrypt cost 10 and every quirk on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Where the data lives.
    pub database: Database,
    /// The HS256 secret that signs tokens. `None` (the default): a random 256-bit secret,
    /// drawn from the operating system's CSPRNG when the [`TestServer`](crate::TestServer)
    /// starts and kept across its [`restart`](crate::TestServer::restart)s, so that nobody
    /// can forge tokens with a secret printed in the source.
    pub jwt_secret: Option<String>,
    /// bcrypt's work factor for new passwords: 10 as on the backend. Each step halves the
    /// cost; 4 (the minimum) makes registering hundreds of users in a test fast.
    pub bcrypt_cost: u32,
    /// Largest accepted HTTP request body; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// Largest accepted WebSocket message; a larger one closes the socket with 1009.
    pub max_ws_message_bytes: usize,
    /// Most frames waiting to be written to one socket; one more drops the connection
    /// (without a close frame, as a network failure), so that a peer that stops reading
    /// cannot make the server buffer without limit. Everyone else sees the usual close.
    pub max_ws_queue_frames: usize,
    /// Most bytes of frames waiting to be written to one socket; more drops it as above.
    pub max_ws_queue_bytes: usize,
    /// How long each `GET /api/messages/{peer}` answer is held back after the history was
    /// read (zero by default), to widen races between a history fetch and live messages in
    /// tests. [`TestServer::set_history_delay`](crate::TestServer::set_history_delay)
    /// changes it while running.
    pub history_delay: Duration,
    /// Which backend bugs to reproduce.
    pub quirks: Quirks,
    /// Whether a user coming or going is told to everyone online, and each new socket
    /// gets the list of everyone online (`true`, the backend's behaviour). **Not
    /// faithful when `false`**: each socket's online list names only its own user and
    /// nobody is told of others. For scale benches only: when thousands of users connect
    /// at once, the backend's presence traffic grows with the square of their number
    /// (10,000 users: 50 million announcements), and would be all such a bench measures.
    pub presence_fanout: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            database: Database::Temporary,
            jwt_secret: None,
            bcrypt_cost: DEFAULT_BCRYPT_COST,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_ws_message_bytes: DEFAULT_MAX_WS_MESSAGE_BYTES,
            max_ws_queue_frames: DEFAULT_MAX_WS_QUEUE_FRAMES,
            max_ws_queue_bytes: DEFAULT_MAX_WS_QUEUE_BYTES,
            history_delay: Duration::ZERO,
            quirks: Quirks::default(),
            presence_fanout: true,
        }
    }
}

impl Config {
    /// Listens on `bind` instead of an ephemeral loopback port.
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }

    /// Keeps the data in the database file at `path`.
    pub fn with_database_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Database::File(path.into());
        self
    }

    /// Signs tokens with `secret` instead of a random one (tokens then stay valid across
    /// servers started with the same secret).
    pub fn with_jwt_secret(mut self, secret: impl Into<String>) -> Self {
        self.jwt_secret = Some(secret.into());
        self
    }

    /// Hashes passwords with bcrypt at `cost` (4..=31); use 4 in tests that register many
    /// users.
    pub fn with_bcrypt_cost(mut self, cost: u32) -> Self {
        self.bcrypt_cost = cost;
        self
    }

    /// Tells presence to everyone (`true`, the default, as the backend does) or to nobody
    /// (`false`; see [`Config::presence_fanout`]: for scale benches only).
    pub fn with_presence_fanout(mut self, fanout: bool) -> Self {
        self.presence_fanout = fanout;
        self
    }

    /// Refuses HTTP bodies larger than `bytes` with 413.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Closes sockets that send a WebSocket message larger than `bytes`.
    pub fn with_max_ws_message_bytes(mut self, bytes: usize) -> Self {
        self.max_ws_message_bytes = bytes;
        self
    }

    /// Drops a socket once more than `frames` frames wait to be written to it.
    pub fn with_max_ws_queue_frames(mut self, frames: usize) -> Self {
        self.max_ws_queue_frames = frames;
        self
    }

    /// Drops a socket once more than `bytes` bytes of frames wait to be written to it.
    pub fn with_max_ws_queue_bytes(mut self, bytes: usize) -> Self {
        self.max_ws_queue_bytes = bytes;
        self
    }

    /// Holds back each `GET /api/messages/{peer}` answer by `delay` after reading the
    /// history.
    pub fn with_history_delay(mut self, delay: Duration) -> Self {
        self.history_delay = delay;
        self
    }

    /// Reproduces the given set of quirks.
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }
}
