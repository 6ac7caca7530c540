//! A protocol-faithful stand-in for the Quick Chat backend (a Cloudflare Worker with a
//! Durable Object and D1), for the SDK's tests, demos and local development.
//!
//! It speaks the REST API and the WebSocket protocol of `PROTOCOL.md` §6–7 with the
//! backend's status codes, error strings, field order and CORS headers, and reproduces the
//! backend's quirks by default (see [`Quirks`] and the crate's README). It deliberately
//! shares no code with the SDK: a protocol mistake made in both would hide itself.
//!
//! # In-process use
//!
//! ```no_run
//! use quickchat_testserver::{Config, TestServer};
//!
//! # async fn demo() -> Result<(), quickchat_testserver::ServerError> {
//! // Ephemeral port, temporary database, cheap bcrypt for a test that registers many users.
//! let mut server = TestServer::start(Config::default().with_bcrypt_cost(4)).await?;
//! let api = format!("{}/api", server.base_url()); // http://127.0.0.1:PORT/api
//! let ws = server.ws_url(); // ws://127.0.0.1:PORT/ws
//! # let _ = (api, ws);
//! server.restart().await?; // same port, same data; open sockets were closed
//! server.stop().await; // sockets closed, port released
//! # Ok(())
//! # }
//! ```

//! # Hooks for tests
//!
//! [`TestServer::message_frame_counts`] and [`TestServer::duplicate_message_frames`] count
//! the `message` frames each user sent per `messageId` (exactly-once checks);
//! [`TestServer::disconnect_user`] drops a user's sockets as a network failure would;
//! [`Config::with_history_delay`] and [`TestServer::set_history_delay`] hold history answers
//! back to widen races.
//!
//! # Defences the backend lacks
//!
//! Each socket's send queue is bounded ([`Config::with_max_ws_queue_frames`],
//! [`Config::with_max_ws_queue_bytes`]): a peer that stops reading is dropped instead of
//! buffered for without limit. REST body fields are capped ([`limits`]). Tokens are signed
//! with a random secret per [`TestServer`] unless [`Config::with_jwt_secret`] gives one.

mod auth;
mod clock;
mod config;
mod db;
mod error;
mod hooks;
mod http;
mod json;
pub mod limits;
mod routes;
mod server;
mod state;
mod ws;

pub use auth::password::DEFAULT_BCRYPT_COST;
pub use config::{
    Config, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_WS_MESSAGE_BYTES, DEFAULT_MAX_WS_QUEUE_BYTES,
    DEFAULT_MAX_WS_QUEUE_FRAMES, Database, Quirks,
};
pub use error::{DbError, ServerError};
pub use server::{TestServer, make_admin_in};

// The README, compiled as doctests, so its example cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;
