//! What to do when a peer shows an identity key: trust on first use, report every change,
//! and hold back sending after a change to a key the user had verified.

use crate::keys::{Fingerprint, PublicKey, SigningPublicKey};
use crate::store::KnownIdentity;

/// A peer's identity key changed. Serializes with both fingerprints, which are what
/// people compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityChange {
    /// The peer.
    pub peer_id: String,
    /// The key known before.
    pub previous_key: PublicKey,
    /// The key now in use.
    pub new_key: PublicKey,
    /// Whether the user had verified the previous key; if so, sending to the peer is
    /// refused until the new key is accepted or verified.
    pub was_verified: bool,
}

impl IdentityChange {
    /// Fingerprint of the previous key.
    pub fn previous_fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.previous_key)
    }

    /// Fingerprint of the new key.
    pub fn new_fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.new_key)
    }
}

impl serde::Serialize for IdentityChange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("IdentityChange", 6)?;
        s.serialize_field("peerId", &self.peer_id)?;
        s.serialize_field("previousKey", &self.previous_key)?;
        s.serialize_field("newKey", &self.new_key)?;
        s.serialize_field("previousFingerprint", self.previous_fingerprint().as_str())?;
        s.serialize_field("newFingerprint", self.new_fingerprint().as_str())?;
        s.serialize_field("wasVerified", &self.was_verified)?;
        s.end()
    }
}

/// The outcome of seeing a peer's identity key.
pub(crate) enum Observation {
    /// Known and unchanged.
    Unchanged,
    /// Seen for the first time: remember it.
    FirstSeen(KnownIdentity),
    /// Different from the one known.
    Changed(KnownIdentity, IdentityChange),
}

impl Observation {
    /// The record to write, if any.
    pub(crate) fn record(&self) -> Option<&KnownIdentity> {
        match self {
            Observation::Unchanged => None,
            Observation::FirstSeen(record) | Observation::Changed(record, _) => Some(record),
        }
    }

    /// The change to report, if any.
    pub(crate) fn change(&self) -> Option<&IdentityChange> {
        match self {
            Observation::Changed(_, change) => Some(change),
            _ => None,
        }
    }
}

/// Compares `key` with what is known of `peer_id`.
pub(crate) fn observe(
    known: Option<&KnownIdentity>,
    peer_id: &str,
    key: PublicKey,
    signing_key: Option<SigningPublicKey>,
    now: i64,
    hold_unverified: bool,
) -> Observation {
    match known {
        None => Observation::FirstSeen(KnownIdentity {
            peer_id: peer_id.to_string(),
            identity_key: key,
            signing_key,
            first_seen: now,
            verified: false,
            unaccepted_change_from: None,
        }),
        Some(known) if known.identity_key == key => Observation::Unchanged,
        Some(known) => {
            let record = KnownIdentity {
                peer_id: peer_id.to_string(),
                identity_key: key,
                signing_key,
                first_seen: now,
                verified: false,
                // Keep pointing at the key the user verified (or, when every change holds
                // sending, the key last accepted), across further changes.
                unaccepted_change_from: if known.verified {
                    Some(known.identity_key)
                } else {
                    known
                        .unaccepted_change_from
                        .or(hold_unverified.then_some(known.identity_key))
                },
            };
            let change = IdentityChange {
                peer_id: peer_id.to_string(),
                previous_key: known.identity_key,
                new_key: key,
                was_verified: known.verified,
            };
            Observation::Changed(record, change)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(key: u8, verified: bool) -> KnownIdentity {
        KnownIdentity {
            peer_id: "p".into(),
            identity_key: PublicKey::from_bytes([key; 32]),
            signing_key: None,
            first_seen: 0,
            verified,
            unaccepted_change_from: None,
        }
    }

    #[test]
    fn first_use_is_trusted_and_recorded() {
        let o = observe(None, "p", PublicKey::from_bytes([1; 32]), None, 5, false);
        assert!(matches!(o, Observation::FirstSeen(ref r) if r.first_seen == 5 && !r.verified));
    }

    #[test]
    fn same_key_changes_nothing() {
        let k = known(1, true);
        assert!(matches!(
            observe(
                Some(&k),
                "p",
                PublicKey::from_bytes([1; 32]),
                None,
                5,
                false
            ),
            Observation::Unchanged
        ));
    }

    #[test]
    fn change_of_unverified_key_is_reported_not_blocking() {
        let k = known(1, false);
        let o = observe(
            Some(&k),
            "p",
            PublicKey::from_bytes([2; 32]),
            None,
            5,
            false,
        );
        let change = o.change().unwrap();
        assert!(!change.was_verified);
        assert_eq!(o.record().unwrap().unaccepted_change_from, None);
    }

    #[test]
    fn with_the_hold_policy_an_unverified_change_blocks_too() {
        let k = known(1, false);
        let o = observe(Some(&k), "p", PublicKey::from_bytes([2; 32]), None, 5, true);
        assert!(!o.change().unwrap().was_verified);
        assert_eq!(
            o.record().unwrap().unaccepted_change_from,
            Some(PublicKey::from_bytes([1; 32]))
        );
    }

    #[test]
    fn change_of_verified_key_blocks_until_accepted() {
        let k = known(1, true);
        let o = observe(
            Some(&k),
            "p",
            PublicKey::from_bytes([2; 32]),
            None,
            5,
            false,
        );
        assert!(o.change().unwrap().was_verified);
        let record = o.record().unwrap().clone();
        assert_eq!(
            record.unaccepted_change_from,
            Some(PublicKey::from_bytes([1; 32]))
        );
        assert!(!record.verified);
        // A further change still points at the verified key.
        let o2 = observe(
            Some(&record),
            "p",
            PublicKey::from_bytes([3; 32]),
            None,
            6,
            false,
        );
        assert_eq!(
            o2.record().unwrap().unaccepted_change_from,
            Some(PublicKey::from_bytes([1; 32]))
        );
    }
}
