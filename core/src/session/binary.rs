//! A compact binary form of [`PeerSessions`] for stores, beside the JSON one.
//!
//! A session record is rewritten with every message sent or received, so its size and the
//! cost of writing it show in every message's cost: this form is about a third of the JSON
//! (no field names, keys as raw bytes instead of base64) and is written without building
//! intermediate strings. [`decode`] reads both forms: a record that starts with `{` is JSON
//! (what stores wrote before), anything else must start with [`VERSION`].
//!
//! Layout (integers big-endian; `key` is 32 bytes; `opt<T>` is a byte 0 or 1, then `T` if 1):
//!
//! ```text
//! record   = VERSION, u32 len, peer id (UTF-8), session, u8 count, count × session
//! session  = ratchet, key remote identity, opt<x3dh>, origin, i64 created, i64 updated
//! ratchet  = key root, opt<key> sending chain, opt<key> receiving chain,
//!            opt<key secret, key public> ratchet key pair, opt<key> remote ratchet key,
//!            u32 sending length, u32 receiving length, u32 previous sending length,
//!            u32 count, count × (key ratchet key, u32 number, key message key)
//! x3dh     = key identity, key ephemeral, u32 signed prekey id, opt<u32> one-time prekey id
//! origin   = 0, u32 remote signed prekey id | 1, opt<key> sender ephemeral, opt<key> ratchet
//! ```

use zeroize::Zeroizing;

use super::record::{PeerSessions, Session, SessionOrigin};
use crate::codec::{CodecError, KEY, Reader, Writer};
use crate::envelope::X3dhHeader;
use crate::keys::{KeyPair, SecretKey};
use crate::ratchet::{ChainKey, MessageKey, RatchetState, RootKey, SkippedKeys};

/// First byte of the binary form (JSON starts with `{`).
pub const VERSION: u8 = 1;

/// Why a session record cannot be read.
pub type SessionCodecError = CodecError;

/// The binary form of `sessions`, in a buffer that is zeroized on drop (it holds private
/// keys). An upper bound of its size is computed first, so the buffer never grows (no stray
/// copies of secrets left unzeroized).
pub fn encode(sessions: &PeerSessions) -> Zeroizing<Vec<u8>> {
    let mut out = Writer::with_capacity(encoded_len(sessions));
    out.byte(VERSION);
    out.bytes_with_len(sessions.peer_id.as_bytes());
    out.session(&sessions.current);
    // At most MAX_PREVIOUS_SESSIONS (4) are ever kept.
    out.byte(u8::try_from(sessions.previous.len()).unwrap_or(u8::MAX));
    for session in sessions.previous.iter().take(usize::from(u8::MAX)) {
        out.session(session);
    }
    out.finish()
}

/// Reads a session record in either form (the JSON one only with the feature
/// `json-sessions`).
pub fn decode(bytes: &[u8]) -> Result<PeerSessions, SessionCodecError> {
    match bytes.first() {
        Some(b'{') => decode_json(bytes),
        Some(&VERSION) => {
            let mut input = Reader::new(&bytes[1..]);
            let peer_id = String::from_utf8(input.bytes_with_len()?.to_vec())
                .map_err(|_| SessionCodecError::Invalid("peer id"))?;
            let current = input.session()?;
            let count = input.byte()?;
            let mut previous = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                previous.push(input.session()?);
            }
            input.end()?;
            Ok(PeerSessions {
                peer_id,
                current,
                previous,
            })
        }
        Some(&other) => Err(SessionCodecError::UnknownVersion(other)),
        None => Err(SessionCodecError::Truncated),
    }
}

/// Whether `bytes` is a session record in the JSON form of older stores.
pub fn is_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

#[cfg(feature = "json-sessions")]
fn decode_json(bytes: &[u8]) -> Result<PeerSessions, SessionCodecError> {
    // Read as text: stores parse their other JSON records from `str`, and one serde_json
    // reader instead of two keeps the browser module smaller.
    std::str::from_utf8(bytes)
        .map_err(|e| SessionCodecError::Json(e.to_string()))
        .and_then(|text| {
            serde_json::from_str(text).map_err(|e| SessionCodecError::Json(e.to_string()))
        })
}

/// Without the feature `json-sessions` (the browser drop-in's module), the JSON form is not
/// read here: a store converts such records once, through code that has the reader.
#[cfg(not(feature = "json-sessions"))]
fn decode_json(_bytes: &[u8]) -> Result<PeerSessions, SessionCodecError> {
    Err(SessionCodecError::JsonNotRead)
}

fn encoded_len(sessions: &PeerSessions) -> usize {
    let session = |s: &Session| {
        let ratchet = KEY
            + 3 * (1 + KEY)
            + 1
            + 2 * KEY
            + 3 * 4
            + 4
            + s.ratchet.skipped.len() * (KEY + 4 + KEY);
        let x3dh = 1 + 2 * KEY + 4 + 1 + 4;
        let origin = 1 + 2 * (1 + KEY);
        ratchet + KEY + x3dh + origin + 16
    };
    1 + 4
        + sessions.peer_id.len()
        + session(&sessions.current)
        + 1
        + sessions.previous.iter().map(session).sum::<usize>()
}

impl Writer {
    fn session(&mut self, s: &Session) {
        self.ratchet(&s.ratchet);
        self.key(s.remote_identity_key.as_bytes());
        self.opt(s.pending_x3dh.as_ref(), |w, x| {
            w.key(x.sender_identity_key.as_bytes());
            w.key(x.sender_ephemeral_key.as_bytes());
            w.u32(x.used_signed_prekey_id);
            w.opt(x.used_one_time_prekey_id, Self::u32);
        });
        match &s.origin {
            SessionOrigin::Initiated {
                remote_signed_prekey_id,
            } => {
                self.byte(0);
                self.u32(*remote_signed_prekey_id);
            }
            SessionOrigin::Responded {
                sender_ephemeral_key,
                initiator_ratchet_key,
            } => {
                self.byte(1);
                self.opt(sender_ephemeral_key.as_ref(), |w, k| w.key(k.as_bytes()));
                self.opt(initiator_ratchet_key.as_ref(), |w, k| w.key(k.as_bytes()));
            }
        }
        self.i64(s.created_at);
        self.i64(s.updated_at);
    }

    fn ratchet(&mut self, r: &RatchetState) {
        self.key(r.root_key.as_bytes());
        self.opt(r.sending_chain_key.as_ref(), |w, k| w.key(k.as_bytes()));
        self.opt(r.receiving_chain_key.as_ref(), |w, k| w.key(k.as_bytes()));
        self.opt(r.ratchet_key_pair.as_ref(), |w, pair| {
            w.key(pair.secret().as_bytes());
            w.key(pair.public().as_bytes());
        });
        self.opt(r.remote_ratchet_key.as_ref(), |w, k| w.key(k.as_bytes()));
        self.u32(r.sending_chain_length);
        self.u32(r.receiving_chain_length);
        self.u32(r.previous_sending_chain_length);
        // The skipped keys are capped far below 4 billion.
        self.u32(u32::try_from(r.skipped.len()).unwrap_or(u32::MAX));
        for (ratchet_key, number, message_key) in r.skipped.iter() {
            self.key(ratchet_key.as_bytes());
            self.u32(number);
            self.key(message_key.as_bytes());
        }
    }
}

impl Reader<'_> {
    fn session(&mut self) -> Result<Session, SessionCodecError> {
        let ratchet = self.ratchet()?;
        let remote_identity_key = self.public()?;
        let pending_x3dh = self.opt("pending x3dh flag", |r| {
            Ok(X3dhHeader {
                sender_identity_key: r.public()?,
                sender_ephemeral_key: r.public()?,
                used_signed_prekey_id: r.u32()?,
                used_one_time_prekey_id: r.opt("one-time prekey flag", Self::u32)?,
            })
        })?;
        let origin = match self.byte()? {
            0 => SessionOrigin::Initiated {
                remote_signed_prekey_id: self.u32()?,
            },
            1 => SessionOrigin::Responded {
                sender_ephemeral_key: self.opt("sender ephemeral key flag", Self::public)?,
                initiator_ratchet_key: self.opt("initiator ratchet key flag", Self::public)?,
            },
            _ => return Err(SessionCodecError::Invalid("session origin")),
        };
        Ok(Session {
            ratchet,
            remote_identity_key,
            pending_x3dh,
            origin,
            created_at: self.i64()?,
            updated_at: self.i64()?,
        })
    }

    fn ratchet(&mut self) -> Result<RatchetState, SessionCodecError> {
        let root_key = RootKey::from_bytes(*self.key()?);
        let sending_chain_key = self.opt("sending chain flag", |r| {
            Ok(ChainKey::from_bytes(*r.key()?))
        })?;
        let receiving_chain_key = self.opt("receiving chain flag", |r| {
            Ok(ChainKey::from_bytes(*r.key()?))
        })?;
        let ratchet_key_pair = self.opt("ratchet key pair flag", |r| {
            let secret = SecretKey::from_bytes(*r.key()?);
            let public = r.public()?;
            KeyPair::from_parts(secret, public).ok_or(SessionCodecError::Invalid(
                "ratchet key pair (halves do not match)",
            ))
        })?;
        let remote_ratchet_key = self.opt("remote ratchet key flag", Self::public)?;
        let sending_chain_length = self.u32()?;
        let receiving_chain_length = self.u32()?;
        let previous_sending_chain_length = self.u32()?;
        let count = self.u32()?;
        // Each entry is 68 bytes: a count the record cannot hold is refused before anything
        // is allocated for it.
        let count = usize::try_from(count).map_err(|_| SessionCodecError::Truncated)?;
        if count.saturating_mul(2 * KEY + 4) > self.remaining() {
            return Err(SessionCodecError::Truncated);
        }
        let skipped = (0..count)
            .map(|_| {
                let ratchet_key = self.public()?;
                let number = self.u32()?;
                let message_key = MessageKey::from_bytes(*self.key()?);
                Ok(((ratchet_key, number), message_key))
            })
            .collect::<Result<SkippedKeys, SessionCodecError>>()?;
        Ok(RatchetState {
            root_key,
            sending_chain_key,
            receiving_chain_key,
            ratchet_key_pair,
            remote_ratchet_key,
            sending_chain_length,
            receiving_chain_length,
            previous_sending_chain_length,
            skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKeyPair;
    use rand_core::SeedableRng;

    /// Sessions with everything set: skipped keys, a pending X3DH header, both origins,
    /// a previous session, keys on both chains.
    fn sample() -> PeerSessions {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let secret = [9u8; 32];
        let mut alice = RatchetState::initiator(&secret, &mut rng);
        let key = *alice.ratchet_public_key().expect("ratchet key");
        let mut bob = RatchetState::responder(&secret, key);
        let mut sent = Vec::new();
        for i in 0..6u8 {
            sent.push(alice.encrypt(&[i; 40], &mut rng).expect("encrypt"));
        }
        // Bob opens the last one: five keys are skipped.
        let last = sent.last().expect("sent");
        bob.decrypt(&last.header, &last.ciphertext, &mut rng)
            .expect("decrypt");
        bob.encrypt(b"reply", &mut rng).expect("encrypt");
        let identity =
            |rng: &mut rand_chacha::ChaCha20Rng| IdentityKeyPair::generate(rng).public().dh;
        let current = Session {
            ratchet: bob,
            remote_identity_key: identity(&mut rng),
            pending_x3dh: Some(X3dhHeader {
                sender_identity_key: identity(&mut rng),
                sender_ephemeral_key: identity(&mut rng),
                used_signed_prekey_id: 3,
                used_one_time_prekey_id: Some(77),
            }),
            origin: SessionOrigin::Responded {
                sender_ephemeral_key: Some(identity(&mut rng)),
                initiator_ratchet_key: None,
            },
            created_at: -5,
            updated_at: 1_800_000_000_000,
        };
        let previous = Session {
            ratchet: alice,
            remote_identity_key: identity(&mut rng),
            pending_x3dh: None,
            origin: SessionOrigin::Initiated {
                remote_signed_prekey_id: u32::MAX,
            },
            created_at: 1,
            updated_at: 2,
        };
        PeerSessions {
            peer_id: "peer-é".into(),
            current,
            previous: vec![previous],
        }
    }

    #[test]
    fn round_trips_and_is_much_smaller_than_json() {
        let sessions = sample();
        assert!(sessions.current.ratchet.skipped.len() >= 5);
        let bytes = encode(&sessions);
        assert_eq!(bytes[0], VERSION);
        // Had the buffer grown, its capacity would exceed the upper bound it started with.
        assert_eq!(
            bytes.capacity(),
            encoded_len(&sessions),
            "the buffer never grew"
        );
        assert_eq!(decode(&bytes), Ok(sessions.clone()));
        assert_eq!(encode(&sessions), bytes, "deterministic");
        let json = serde_json::to_vec(&sessions).expect("json");
        assert!(
            bytes.len() * 2 < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
        // Records written as JSON are still read.
        assert_eq!(decode(&json), Ok(sessions));
    }

    #[test]
    fn damaged_records_are_refused_never_misread() {
        let sessions = sample();
        let bytes = encode(&sessions);
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(decode(&longer), Err(SessionCodecError::TrailingBytes(1)));
        assert_eq!(decode(&[9]), Err(SessionCodecError::UnknownVersion(9)));
        // A flipped bit anywhere: an error, or a record that differs (never the original
        // read from different bytes, never a panic).
        for at in 0..bytes.len() {
            let mut damaged = bytes.to_vec();
            damaged[at] ^= 0x10;
            if let Ok(read) = decode(&damaged) {
                assert_ne!(read, sessions, "byte {at}");
            }
        }
        // A huge skipped-key count is refused before allocating.
        let mut huge = Writer::with_capacity(0);
        huge.byte(VERSION);
        huge.bytes_with_len(b"p");
        huge.ratchet(&sessions.current.ratchet);
        let at = huge.len() - 4 - sessions.current.ratchet.skipped.len() * (2 * KEY + 4);
        let mut huge = huge.finish();
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode(&huge).is_err());
    }
}
