//! Sessions with peers and the logic that drives them over a [`Store`](crate::store::Store).
//!
//! Policies, where the reference client's are weak:
//! - **No bundle fetch per message.** A session is started once from a bundle and kept; the
//!   reference refetches before every send, which burns the peer's one-time prekeys.
//! - **Signed-prekey rotation does not restart sessions.** A peer's new signed prekey only
//!   matters for the next session; an existing ratchet continues.
//! - **A second first message** (the peer reinstalled, reset, or both sides started at
//!   once) starts a new current session; the old one is kept among up to
//!   [`MAX_PREVIOUS_SESSIONS`] previous sessions, which are tried for messages the current
//!   one cannot open, and a previous session that opens a message becomes current again.
//! - **Identity changes are never silent.** A peer whose identity key changes is reported
//!   ([`IdentityChange`]); if the user had verified the old key, sending is refused until
//!   the new key is accepted or verified.

pub mod binary;
mod cooling;
mod device;
mod engine;
mod recent;
mod record;
mod reservation;
mod trust;

pub use cooling::{Cooling, CoolingConfig};
pub use device::{Device, DeviceError};
pub use engine::{
    Incoming, Outgoing, Prepared, SessionConfig, SessionEngine, SessionError, SessionSummary,
};
pub use record::{MAX_PREVIOUS_SESSIONS, PeerSessions, Session, SessionOrigin};
pub use trust::IdentityChange;
