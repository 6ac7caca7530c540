//! Records for store tests: deterministic, and varied enough to exercise every field.

use crate::keys::{IdentityKeyPair, OneTimePrekey, PublicKey, SignedPrekey};
use crate::rand_core::SeedableRng;
use crate::ratchet::RatchetState;
use crate::session::{PeerSessions, Session, SessionOrigin};
use crate::store::{
    AccountMeta, ContentKind, Conversation, Direction, IdentityRecord, KnownIdentity,
    MessageRecord, MessageStatus, OneTimePrekeyRecord, SavedLogin, SignedPrekeyRecord,
};
use rand_chacha::ChaCha20Rng;

/// The time the fixtures are made at (ms since the epoch).
pub const NOW: i64 = 1_800_000_000_000;

/// A deterministic generator for the fixtures.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// An identity record with fresh keys.
pub fn identity(rng: &mut ChaCha20Rng) -> IdentityRecord {
    IdentityRecord {
        user_id: "me-id".into(),
        identity: IdentityKeyPair::generate(rng),
        created_at: NOW,
    }
}

/// Account metadata whose prekey counter is at `next`, with a saved login.
pub fn account_meta(next: u32) -> AccountMeta {
    AccountMeta {
        next_prekey_id: next,
        current_signed_prekey_id: Some(1),
        last_upload_at: Some(NOW + 5),
        login: Some(SavedLogin {
            user_id: "me-id".into(),
            username: "me".into(),
            token: "header.payload.signature".into(),
            expires_at: NOW + 86_400_000,
        }),
        ..AccountMeta::default()
    }
}

/// A signed prekey record.
pub fn signed_prekey(
    identity: &IdentityRecord,
    id: u32,
    uploaded: bool,
    rng: &mut ChaCha20Rng,
) -> SignedPrekeyRecord {
    SignedPrekeyRecord {
        prekey: SignedPrekey::generate(&identity.identity, id, NOW + i64::from(id), rng),
        uploaded,
        retired_at: (!uploaded).then_some(NOW + 1),
    }
}

/// A one-time prekey record.
pub fn one_time_prekey(id: u32, uploaded: bool, rng: &mut ChaCha20Rng) -> OneTimePrekeyRecord {
    OneTimePrekeyRecord {
        prekey: OneTimePrekey::generate(id, rng),
        uploaded,
    }
}

fn public_key(rng: &mut ChaCha20Rng) -> PublicKey {
    IdentityKeyPair::generate(rng).public().dh
}

/// A session whose ratchet has sent `sent` messages and holds some skipped keys, so its
/// serialized form is realistic.
fn session(rng: &mut ChaCha20Rng, responder: bool, at: i64) -> Session {
    let secret = [9u8; 32];
    let mut alice = RatchetState::initiator(&secret, rng);
    let ratchet = if responder {
        let alice_key = *alice
            .ratchet_public_key()
            .expect("initiator has a ratchet key");
        let mut bob = RatchetState::responder(&secret, alice_key);
        // Bob reads the third message first: two keys are stashed. Then he replies.
        let mut sent = Vec::new();
        for i in 0..3u8 {
            sent.push(alice.encrypt(&[i; 40], rng).expect("encrypt"));
        }
        let last = sent.last().expect("sent");
        bob.decrypt(&last.header, &last.ciphertext, rng)
            .expect("decrypt");
        bob.encrypt(b"reply", rng).expect("encrypt");
        bob
    } else {
        alice.encrypt(b"first", rng).expect("encrypt");
        alice
    };
    Session {
        ratchet,
        remote_identity_key: public_key(rng),
        pending_x3dh: None,
        origin: if responder {
            SessionOrigin::Responded {
                sender_ephemeral_key: Some(public_key(rng)),
                initiator_ratchet_key: None,
            }
        } else {
            SessionOrigin::Initiated {
                remote_signed_prekey_id: 7,
            }
        },
        created_at: at,
        updated_at: at + 1,
    }
}

/// A peer's sessions: a current one and `previous` older ones.
pub fn peer_sessions(peer: &str, previous: usize, rng: &mut ChaCha20Rng) -> PeerSessions {
    PeerSessions {
        peer_id: peer.into(),
        current: session(rng, false, NOW),
        previous: (0..previous)
            .map(|i| session(rng, true, NOW - 1000 * i as i64))
            .collect(),
    }
}

/// A known identity of `peer`, verified or not.
pub fn known_identity(peer: &str, verified: bool, rng: &mut ChaCha20Rng) -> KnownIdentity {
    let identity = IdentityKeyPair::generate(rng);
    KnownIdentity {
        peer_id: peer.into(),
        identity_key: identity.public().dh,
        signing_key: Some(identity.public().signing),
        first_seen: NOW,
        verified,
        unaccepted_change_from: verified.then(|| public_key(rng)),
    }
}

/// A message record.
pub fn message(
    id: &str,
    conversation: Conversation,
    timestamp: i64,
    status: MessageStatus,
    body: &str,
) -> MessageRecord {
    MessageRecord {
        id: id.into(),
        conversation,
        sender_id: "me-id".into(),
        direction: if status == MessageStatus::Read {
            Direction::Incoming
        } else {
            Direction::Outgoing
        },
        body: body.into(),
        kind: ContentKind::Text,
        image_data: None,
        timestamp,
        status,
        encrypted: true,
        read_at: None,
        wire: (status == MessageStatus::Pending).then(|| format!("{{\"wire\":\"{id}\"}}")),
        decrypt_error: None,
    }
}

/// The direct conversation with `peer`.
pub fn direct(peer: &str) -> Conversation {
    Conversation::Direct(peer.into())
}

/// The conversation of group `id`.
pub fn group(id: &str) -> Conversation {
    Conversation::Group(id.into())
}
