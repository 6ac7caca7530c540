//! The backend's protocol: REST models (PROTOCOL §6), WebSocket frames (§7) and a typed
//! REST client over any [`Transport`](crate::transport::Transport).
//!
//! Response models are lenient (unknown fields ignored, nullable fields optional) so that a
//! backend adding a field does not break clients; request models serialize exactly the
//! fields the backend reads.

mod api;
mod flag;
pub mod limits;
mod password;
pub mod rest;
pub mod ws;

pub use api::{Api, ApiError};
pub use flag::IntFlag;
pub use password::Password;
