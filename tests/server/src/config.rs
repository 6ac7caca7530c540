//! How a server is started: address, database, secrets, costs, limits and quirks.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::auth::password::DEFAULT_BCRYPT_COST;

/// The JWT secret used when none is given. Fine for tests; set your own anywhere else.
pub const DEFAULT_JWT_SECRET: &str = "quickchat-testserver-insecure-secret";

/// Cloudflare's request body limit (100 MB) on the plans the backend runs on.
pub const DEFAULT_MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// Cloudflare's limit on a WebSocket message received by a Worker (1 MiB); a larger one
/// closes the socket with code 1009.
pub const DEFAULT_MAX_WS_MESSAGE_BYTES: usize = 1024 * 1024;

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
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            reconnect_race: true,
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
        }
    }
}

/// How to start a [`TestServer`](crate::TestServer).
///
/// `Config::default()` listens on an ephemeral port of 127.0.0.1 with a temporary database,
/// bcrypt cost 10 and every quirk on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Where the data lives.
    pub database: Database,
    /// The HS256 secret that signs tokens.
    pub jwt_secret: String,
    /// bcrypt's work factor for new passwords: 10 as on the backend. Each step halves the
    /// cost; 4 (the minimum) makes registering hundreds of users in a test fast.
    pub bcrypt_cost: u32,
    /// Largest accepted HTTP request body; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// Largest accepted WebSocket message; a larger one closes the socket with 1009.
    pub max_ws_message_bytes: usize,
    /// Which backend bugs to reproduce.
    pub quirks: Quirks,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            database: Database::Temporary,
            jwt_secret: DEFAULT_JWT_SECRET.to_owned(),
            bcrypt_cost: DEFAULT_BCRYPT_COST,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_ws_message_bytes: DEFAULT_MAX_WS_MESSAGE_BYTES,
            quirks: Quirks::default(),
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

    /// Signs tokens with `secret`.
    pub fn with_jwt_secret(mut self, secret: impl Into<String>) -> Self {
        self.jwt_secret = secret.into();
        self
    }

    /// Hashes passwords with bcrypt at `cost` (4..=31); use 4 in tests that register many
    /// users.
    pub fn with_bcrypt_cost(mut self, cost: u32) -> Self {
        self.bcrypt_cost = cost;
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

    /// Reproduces the given set of quirks.
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }
}
