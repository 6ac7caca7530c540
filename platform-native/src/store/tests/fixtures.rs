//! Records for the tests: deterministic, and varied enough to exercise every field.

use quickchat_core::keys::{IdentityKeyPair, OneTimePrekey, PublicKey, SignedPrekey};
use quickchat_core::rand_core::SeedableRng;
use quickchat_core::ratchet::RatchetState;
use quickchat_core::session::{PeerSessions, Session, SessionOrigin};
use quickchat_core::store::{
    AccountMeta, ContentKind, Conversation, Direction, IdentityRecord, KnownIdentity,
    MessageRecord, MessageStatus, OneTimePrekeyRecord, SavedLogin, SignedPrekeyRecord,
};
use rand_chacha::ChaCha20Rng;

pub(super) const NOW: i64 = 1_800_000_000_000;

pub(super) fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub(super) fn identity(rng: &mut ChaCha20Rng) -> IdentityRecord {
    IdentityRecord {
        user_id: "me-id".into(),
        identity: IdentityKeyPair::generate(rng),
        created_at: NOW,
    }
}

pub(super) fn account_meta(next: u32) -> AccountMeta {
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

pub(super) fn signed_prekey(
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

pub(super) fn one_time_prekey(
    id: u32,
    uploaded: bool,
    rng: &mut ChaCha20Rng,
) -> OneTimePrekeyRecord {
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

pub(super) fn peer_sessions(peer: &str, previous: usize, rng: &mut ChaCha20Rng) -> PeerSessions {
    PeerSessions {
        peer_id: peer.into(),
        current: session(rng, false, NOW),
        previous: (0..previous)
            .map(|i| session(rng, true, NOW - 1000 * i as i64))
            .collect(),
    }
}

pub(super) fn known_identity(peer: &str, verified: bool, rng: &mut ChaCha20Rng) -> KnownIdentity {
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

pub(super) fn message(
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

pub(super) fn direct(peer: &str) -> Conversation {
    Conversation::Direct(peer.into())
}

pub(super) fn group(id: &str) -> Conversation {
    Conversation::Group(id.into())
}
