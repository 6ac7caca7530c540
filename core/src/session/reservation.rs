//! Sending chains reserved ahead on disk ([`SessionConfig::send_ahead`]).
//!
//! A message number must never go out twice: its key would seal two messages, and the web
//! client, which deletes a key once used, could open neither the second nor anything it
//! skipped. So before a message is given out, the stored state must have its sending chain
//! (`Ns`) past that message's number. Storing exactly `Ns` costs one write per message sent;
//! storing `Ns + r` (the chain key moved on r steps) lets the next r messages on that chain
//! go out with no write at all, as their numbers are all below what the disk holds. Here r
//! is the number of messages the chain already has, up to R: a chain of n messages costs
//! about log2(n) + n/R writes instead of n.
//!
//! A chain that a received message started (a DH step) is stored at `Ns = 1` before it has
//! sent anything, so the answer needs no write either.
//!
//! What it costs: when the stored state is used again after a crash (or by another process),
//! the chain resumes at the reserved number, and the receiver passes over at most r numbers
//! (it keeps their keys as skipped keys; the web client keeps them for good, hence the small
//! r on short chains; PROTOCOL §4 allows 1,000 per step). Within one
//! engine nothing is skipped: the real position is kept here, apart from the engine's cache
//! (which may drop a peer), and put back on any state read back from the store. That also
//! keeps `PN` true after the next DH step (an inflated `PN` would make an SDK peer keep keys
//! for messages that never existed).
//!
//! [`SessionConfig::send_ahead`]: super::SessionConfig::send_ahead

use std::collections::HashMap;

use super::record::{PeerSessions, Session};
use crate::keys::PublicKey;
use crate::ratchet::ChainKey;

/// One peer's reservation: its current sending chain as stored, and where it really is.
pub(crate) struct Reservation {
    /// The ratchet public key that names the chain (fresh for every chain).
    ratchet_key: PublicKey,
    /// `Ns` as stored: no message of this chain has gone out with this number or above.
    until: u32,
    /// The real chain key and `Ns`, to resume where the engine was on a state read back.
    chain_key: ChainKey,
    length: u32,
    /// The real time of the last change (the stored one lags while nothing is written).
    updated_at: i64,
}

impl Reservation {
    /// Whether `session`'s current sending chain is this one, at or below `until`.
    fn matches(&self, session: &Session) -> bool {
        session
            .ratchet
            .sending_chain()
            .is_some_and(|(key, _, length)| *key == self.ratchet_key && length <= self.until)
    }
}

/// The reservations the store holds, by peer: changed only once a commit was taken.
#[derive(Default)]
pub(crate) struct Reservations {
    by_peer: HashMap<String, Reservation>,
}

/// What an encryption does about the reservation of its peer.
pub(crate) struct Planned {
    /// The peer's reservation after the message, to record once committed.
    pub(crate) reservation: Reservation,
    /// Whether the stored state already covers the message (nothing to write).
    pub(crate) covered: bool,
}

impl Reservations {
    /// The reservation of `peer_id`, if one is recorded.
    pub(crate) fn get(&self, peer_id: &str) -> Option<&Reservation> {
        self.by_peer.get(peer_id)
    }

    /// Records reservations whose writes the store took.
    pub(crate) fn extend(&mut self, taken: HashMap<String, Reservation>) {
        self.by_peer.extend(taken);
    }

    /// Forgets a peer (its sessions were deleted).
    pub(crate) fn forget(&mut self, peer_id: &str) {
        self.by_peer.remove(peer_id);
    }

    /// Forgets every peer (the keys were cleared).
    pub(crate) fn clear(&mut self) {
        self.by_peer.clear();
    }

    /// Puts a state read from the store back at the real position of its sending chain,
    /// if it is the one reserved and the store holds it at the reserved number.
    pub(crate) fn restore(&self, sessions: &mut PeerSessions) {
        let Some(reservation) = self.by_peer.get(&sessions.peer_id) else {
            return;
        };
        let current = &mut sessions.current;
        let stored_as_reserved = current
            .ratchet
            .sending_chain()
            .is_some_and(|(key, _, length)| {
                *key == reservation.ratchet_key && length == reservation.until
            });
        if stored_as_reserved {
            current
                .ratchet
                .set_sending(reservation.chain_key.clone(), reservation.length);
            current.updated_at = current.updated_at.max(reservation.updated_at);
        }
    }
}

/// What to record for a message just encrypted on `session` (at `now`), given the peer's
/// reservation so far and whether the message changed more than the sending chain. `None`
/// when the session has no sending chain or `ahead` is 0.
pub(crate) fn plan(
    session: &Session,
    previous: Option<&Reservation>,
    only_the_chain_moved: bool,
    ahead: u32,
    now: i64,
) -> Option<Planned> {
    if ahead == 0 {
        return None;
    }
    let (key, chain_key, length) = session.ratchet.sending_chain()?;
    let covered = only_the_chain_moved && previous.is_some_and(|r| r.matches(session));
    // A chain is reserved ahead by as many messages as it already has (up to `ahead`):
    // writes thin out exponentially on a long chain, while a chain of one message, the
    // common case in a conversation, is stored as it is and leaves no gap after a crash.
    let until = match previous {
        Some(r) if covered => r.until,
        // Near the counter's end no reservation is made: the state is written as it is.
        _ => length
            .checked_add(ahead.min(length.saturating_sub(1)))
            .unwrap_or(length),
    };
    Some(Planned {
        reservation: Reservation {
            ratchet_key: *key,
            until,
            chain_key: chain_key.clone(),
            length,
            updated_at: now,
        },
        covered,
    })
}

/// What to record when a received message leaves `session` with a sending chain that has
/// sent nothing yet (a DH step made it): the chain stored at `Ns = 1`, so that the answer,
/// the common next message, finds its number already on disk and needs no write of its own.
/// `None` when the chain is already reserved, has sent, or `ahead` is 0.
pub(crate) fn for_fresh_chain(
    session: &Session,
    previous: Option<&Reservation>,
    ahead: u32,
    now: i64,
) -> Option<Reservation> {
    if ahead == 0 || previous.is_some_and(|r| r.matches(session)) {
        return None;
    }
    match session.ratchet.sending_chain()? {
        (key, chain_key, 0) => Some(Reservation {
            ratchet_key: *key,
            until: 1,
            chain_key: chain_key.clone(),
            length: 0,
            updated_at: now,
        }),
        _ => None,
    }
}

/// The state to store for `sessions`: its current sending chain moved on to the reserved
/// number when `reservation` is that chain's.
pub(crate) fn stored_form(
    sessions: &PeerSessions,
    reservation: Option<&Reservation>,
) -> PeerSessions {
    let mut stored = sessions.clone();
    if let Some(reservation) = reservation.filter(|r| r.matches(&sessions.current)) {
        stored.current.ratchet.skip_sending_to(reservation.until);
    }
    stored
}
