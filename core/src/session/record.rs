//! Session records as stored.

use serde::{Deserialize, Serialize};

use crate::envelope::X3dhHeader;
use crate::keys::PublicKey;
use crate::ratchet::{Header, RatchetState};

/// How many superseded sessions are kept per peer.
pub const MAX_PREVIOUS_SESSIONS: usize = 4;

/// How a session began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "camelCase")]
pub enum SessionOrigin {
    /// This device started it from the peer's bundle.
    #[serde(rename_all = "camelCase")]
    Initiated {
        /// Id of the peer's signed prekey used.
        remote_signed_prekey_id: u32,
    },
    /// The peer started it with a first message.
    #[serde(rename_all = "camelCase")]
    Responded {
        /// The first message's `senderEphemeralKey`, when known.
        sender_ephemeral_key: Option<PublicKey>,
        /// The first message's ratchet key, when known.
        initiator_ratchet_key: Option<PublicKey>,
    },
}

/// One ratchet session with a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The ratchet.
    pub ratchet: RatchetState,
    /// The peer's X25519 identity key the session was agreed with.
    pub remote_identity_key: PublicKey,
    /// For a session this device started and has not sent on yet: the `x3dh` block its
    /// first message carries.
    pub pending_x3dh: Option<X3dhHeader>,
    /// How it began.
    pub origin: SessionOrigin,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
}

impl Session {
    /// Whether a first message (`x3dh` and `header`) is the one that started this session,
    /// so that a replay of it (for instance from history catch-up) is not taken for a new
    /// session.
    pub fn started_by(&self, x3dh: &X3dhHeader, header: &Header) -> bool {
        match &self.origin {
            SessionOrigin::Initiated { .. } => false,
            SessionOrigin::Responded {
                sender_ephemeral_key,
                initiator_ratchet_key,
            } => {
                *sender_ephemeral_key == Some(x3dh.sender_ephemeral_key)
                    || (sender_ephemeral_key.is_none()
                        && *initiator_ratchet_key == Some(header.ratchet_key))
            }
        }
    }
}

/// A peer's sessions: the current one and a few superseded ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerSessions {
    /// The peer.
    pub peer_id: String,
    /// The session used to send.
    pub current: Session,
    /// Older sessions, newest first, tried when the current one cannot open a message.
    pub previous: Vec<Session>,
}

impl PeerSessions {
    /// Makes `session` current, keeping the old current one as the newest previous one.
    pub fn replace_current(&mut self, session: Session) {
        let old = std::mem::replace(&mut self.current, session);
        self.previous.insert(0, old);
        self.previous.truncate(MAX_PREVIOUS_SESSIONS);
    }

    /// Makes previous session `index` current again.
    pub fn promote(&mut self, index: usize) {
        if index < self.previous.len() {
            let session = self.previous.remove(index);
            self.replace_current(session);
        }
    }
}
