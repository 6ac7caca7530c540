//! A compact binary form of the key records (identity, account metadata, prekeys, known
//! identities) for stores, beside the JSON one their serde forms give.
//!
//! Why a second form: reading these records as JSON needs serde_json's parser and a
//! deserializer per record type, code that the browser's drop-in module would carry on every
//! page load only for records it reads once per session. This form is read and written by a
//! few small functions (and is about half the size, keys as raw bytes).
//!
//! Layout (see [`crate::codec`] for the pieces; `str` is a u32 length then UTF-8):
//!
//! ```text
//! record    = VERSION, kind, body                 (JSON starts with `{`, never VERSION)
//! identity  = str user id, key seed, i64 created
//! meta      = u32 next prekey id, opt<u32> current signed prekey id, opt<i64> last upload,
//!             opt<str user id, str username, str token, i64 expires> login,
//!             u32 count, count × (str, str) contacts, opt<i64> moved,
//!             opt<opt<str> after, opt<i64> finished> directory scan
//! signed    = u32 id, key secret, key public, 64 bytes signature, i64 created,
//!             flag uploaded, opt<i64> retired
//! one-time  = u32 id, key secret, key public, flag uploaded
//! known     = str peer id, key identity, opt<key> signing, i64 first seen, flag verified,
//!             opt<key> unaccepted change from
//! ```

use zeroize::Zeroizing;

use super::records::{
    AccountMeta, IdentityRecord, KnownIdentity, OneTimePrekeyRecord, SavedLogin, ScanProgress,
    SignedPrekeyRecord,
};
use crate::codec::{CodecError, KEY, Reader, Writer};
use crate::keys::{
    IdentityKeyPair, KeyPair, OneTimePrekey, SecretKey, SignedPrekey, SigningPublicKey,
};

/// First byte of the binary form (JSON starts with `{`).
pub const VERSION: u8 = 1;

/// A key record with a binary form.
pub trait BinaryRecord: Sized {
    /// The record's kind, its second byte: a record is never read as another kind.
    const KIND: u8;
    /// An upper bound of the encoded body's size.
    fn size_bound(&self) -> usize;
    /// Writes the body.
    #[doc(hidden)]
    fn write(&self, out: &mut Writer);
    /// Reads the body.
    #[doc(hidden)]
    fn read(input: &mut Reader<'_>) -> Result<Self, CodecError>;
}

/// The binary form of `record`, in a buffer zeroized on drop (it may hold private keys)
/// that never grows while written.
pub fn encode<T: BinaryRecord>(record: &T) -> Zeroizing<Vec<u8>> {
    let mut out = Writer::with_capacity(2 + record.size_bound());
    out.byte(VERSION);
    out.byte(T::KIND);
    record.write(&mut out);
    out.finish()
}

/// Reads a record of kind `T` in the binary form. A record in the JSON form gives
/// [`CodecError::JsonNotRead`]: stores convert those once (see [`is_json`]).
pub fn decode<T: BinaryRecord>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes {
        [b'{', ..] => Err(CodecError::JsonNotRead),
        [VERSION, kind, body @ ..] => {
            if *kind != T::KIND {
                return Err(CodecError::Invalid("record kind"));
            }
            let mut input = Reader::new(body);
            let record = T::read(&mut input)?;
            input.end()?;
            Ok(record)
        }
        [VERSION] | [] => Err(CodecError::Truncated),
        [other, ..] => Err(CodecError::UnknownVersion(*other)),
    }
}

/// Whether `bytes` is a record in the JSON form that stores wrote before this one.
pub fn is_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// A record in the JSON form (as stores wrote it before) in the binary form. Needs serde's
/// readers, which the browser's drop-in module goes without: it converts through the
/// importer module.
pub fn json_to_binary<T: BinaryRecord + serde::de::DeserializeOwned>(
    json: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CodecError> {
    let text = std::str::from_utf8(json).map_err(|e| CodecError::Json(e.to_string()))?;
    let record: T = serde_json::from_str(text).map_err(|e| CodecError::Json(e.to_string()))?;
    Ok(encode(&record))
}

const PAIR: usize = 2 * KEY;
const fn str_len(text: &str) -> usize {
    4 + text.len()
}

fn write_pair(out: &mut Writer, pair: &KeyPair) {
    out.key(pair.secret().as_bytes());
    out.key(pair.public().as_bytes());
}

fn read_pair(input: &mut Reader<'_>) -> Result<KeyPair, CodecError> {
    let secret = SecretKey::from_bytes(*input.key()?);
    let public = input.public()?;
    KeyPair::from_parts(secret, public).ok_or(CodecError::Invalid("key pair (halves do not match)"))
}

impl BinaryRecord for IdentityRecord {
    const KIND: u8 = 1;

    fn size_bound(&self) -> usize {
        str_len(&self.user_id) + KEY + 8
    }

    fn write(&self, out: &mut Writer) {
        out.str(&self.user_id);
        out.key(self.identity.seed());
        out.i64(self.created_at);
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            user_id: input.string("user id")?,
            identity: IdentityKeyPair::from_seed(*input.key()?),
            created_at: input.i64()?,
        })
    }
}

impl BinaryRecord for AccountMeta {
    const KIND: u8 = 2;

    fn size_bound(&self) -> usize {
        let login = self.login.as_ref().map_or(0, |l| {
            str_len(&l.user_id) + str_len(&l.username) + str_len(&l.token) + 8
        });
        let contacts: usize = self
            .contacts
            .iter()
            .map(|(k, v)| str_len(k) + str_len(v))
            .sum();
        let scan = self
            .directory_scan
            .as_ref()
            .map_or(0, |s| 1 + s.after.as_deref().map_or(0, str_len) + 1 + 8);
        4 + 5 + 9 + 1 + login + 4 + contacts + 9 + 1 + scan
    }

    fn write(&self, out: &mut Writer) {
        out.u32(self.next_prekey_id);
        out.opt(self.current_signed_prekey_id, Writer::u32);
        out.opt(self.last_upload_at, Writer::i64);
        out.opt(self.login.as_ref(), |out, login| {
            out.str(&login.user_id);
            out.str(&login.username);
            out.str(&login.token);
            out.i64(login.expires_at);
        });
        // A contact list longer than 4 billion cannot reach a store.
        out.u32(u32::try_from(self.contacts.len()).unwrap_or(u32::MAX));
        for (user_id, username) in &self.contacts {
            out.str(user_id);
            out.str(username);
        }
        out.opt(self.moved_at, Writer::i64);
        out.opt(self.directory_scan.as_ref(), |out, scan| {
            out.opt(scan.after.as_deref(), Writer::str);
            out.opt(scan.finished_at, Writer::i64);
        });
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, CodecError> {
        let next_prekey_id = input.u32()?;
        let current_signed_prekey_id = input.opt("signed prekey id flag", Reader::u32)?;
        let last_upload_at = input.opt("last upload flag", Reader::i64)?;
        let login = input.opt("login flag", |input| {
            Ok(SavedLogin {
                user_id: input.string("login user id")?,
                username: input.string("login username")?,
                token: input.string("login token")?,
                expires_at: input.i64()?,
            })
        })?;
        let count = input.u32()?;
        let mut contacts = std::collections::BTreeMap::new();
        for _ in 0..count {
            // Each entry takes at least 8 bytes: a count the record cannot hold ends here.
            let user_id = input.string("contact user id")?;
            contacts.insert(user_id, input.string("contact username")?);
        }
        let moved_at = input.opt("moved flag", Reader::i64)?;
        let directory_scan = input.opt("directory scan flag", |input| {
            Ok(ScanProgress {
                after: input.opt("scan position flag", |input| input.string("scan position"))?,
                finished_at: input.opt("scan end flag", Reader::i64)?,
            })
        })?;
        Ok(Self {
            next_prekey_id,
            current_signed_prekey_id,
            last_upload_at,
            login,
            contacts,
            moved_at,
            directory_scan,
        })
    }
}

impl BinaryRecord for SignedPrekeyRecord {
    const KIND: u8 = 3;

    fn size_bound(&self) -> usize {
        4 + PAIR + 64 + 8 + 1 + 9
    }

    fn write(&self, out: &mut Writer) {
        out.u32(self.prekey.id());
        write_pair(out, self.prekey.pair());
        out.raw(self.prekey.signature());
        out.i64(self.prekey.created_at());
        out.flag(self.uploaded);
        out.opt(self.retired_at, Writer::i64);
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, CodecError> {
        let id = input.u32()?;
        let pair = read_pair(input)?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(input.take(64)?);
        Ok(Self {
            prekey: SignedPrekey::from_parts(id, pair, signature, input.i64()?),
            uploaded: input.flag("uploaded flag")?,
            retired_at: input.opt("retired flag", Reader::i64)?,
        })
    }
}

impl BinaryRecord for OneTimePrekeyRecord {
    const KIND: u8 = 4;

    fn size_bound(&self) -> usize {
        4 + PAIR + 1
    }

    fn write(&self, out: &mut Writer) {
        out.u32(self.prekey.id());
        write_pair(out, self.prekey.pair());
        out.flag(self.uploaded);
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, CodecError> {
        let id = input.u32()?;
        Ok(Self {
            prekey: OneTimePrekey::from_parts(id, read_pair(input)?),
            uploaded: input.flag("uploaded flag")?,
        })
    }
}

impl BinaryRecord for KnownIdentity {
    const KIND: u8 = 5;

    fn size_bound(&self) -> usize {
        str_len(&self.peer_id) + KEY + 1 + KEY + 8 + 1 + 1 + KEY
    }

    fn write(&self, out: &mut Writer) {
        out.str(&self.peer_id);
        out.key(self.identity_key.as_bytes());
        out.opt(self.signing_key.as_ref(), |out, key| {
            out.key(key.as_bytes())
        });
        out.i64(self.first_seen);
        out.flag(self.verified);
        out.opt(self.unaccepted_change_from.as_ref(), |out, key| {
            out.key(key.as_bytes())
        });
    }

    fn read(input: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            peer_id: input.string("peer id")?,
            identity_key: input.public()?,
            signing_key: input.opt("signing key flag", |input| {
                Ok(SigningPublicKey::from_bytes(*input.key()?))
            })?,
            first_seen: input.i64()?,
            verified: input.flag("verified flag")?,
            unaccepted_change_from: input.opt("identity change flag", Reader::public)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PublicKey;
    use rand_core::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(11)
    }

    fn identity() -> IdentityRecord {
        IdentityRecord {
            user_id: "alice-é".into(),
            identity: IdentityKeyPair::generate(&mut rng()),
            created_at: -3,
        }
    }

    fn meta(full: bool) -> AccountMeta {
        if !full {
            return AccountMeta::default();
        }
        AccountMeta {
            next_prekey_id: u32::MAX,
            current_signed_prekey_id: Some(7),
            last_upload_at: Some(1_700_000_000_000),
            login: Some(SavedLogin {
                user_id: "u".into(),
                username: "alice".into(),
                token: "jwt.token.here".into(),
                expires_at: i64::MAX,
            }),
            contacts: [
                ("b".to_string(), "bob".to_string()),
                ("c".into(), String::new()),
            ]
            .into_iter()
            .collect(),
            moved_at: Some(5),
            directory_scan: Some(ScanProgress {
                after: Some("m".into()),
                finished_at: None,
            }),
        }
    }

    fn signed() -> SignedPrekeyRecord {
        let identity = IdentityKeyPair::generate(&mut rng());
        SignedPrekeyRecord {
            prekey: SignedPrekey::generate(&identity, 9, 1234, &mut rng()),
            uploaded: true,
            retired_at: Some(99),
        }
    }

    fn one_time() -> OneTimePrekeyRecord {
        OneTimePrekeyRecord {
            prekey: OneTimePrekey::generate(42, &mut rng()),
            uploaded: false,
        }
    }

    fn known(full: bool) -> KnownIdentity {
        let key = |b: u8| PublicKey::from_bytes([b; 32]);
        KnownIdentity {
            peer_id: "bob".into(),
            identity_key: key(1),
            signing_key: full.then(|| SigningPublicKey::from_bytes([2; 32])),
            first_seen: 10,
            verified: full,
            unaccepted_change_from: full.then(|| key(3)),
        }
    }

    /// Encodes, decodes, checks the bound, the JSON conversion and every damage.
    fn check<T>(record: &T)
    where
        T: BinaryRecord
            + PartialEq
            + std::fmt::Debug
            + serde::Serialize
            + serde::de::DeserializeOwned,
    {
        let bytes = encode(record);
        assert_eq!(&bytes[..2], &[VERSION, T::KIND]);
        assert!(bytes.len() <= bytes.capacity());
        assert_eq!(
            bytes.capacity(),
            2 + record.size_bound(),
            "the buffer never grew"
        );
        assert_eq!(decode::<T>(&bytes).as_ref(), Ok(record));
        let json = serde_json::to_vec(record).expect("json");
        assert!(is_json(&json));
        assert_eq!(decode::<T>(&json), Err(CodecError::JsonNotRead));
        assert_eq!(json_to_binary::<T>(&json).expect("converted"), bytes);
        for len in 0..bytes.len() {
            assert!(decode::<T>(&bytes[..len]).is_err(), "truncated to {len}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(decode::<T>(&longer), Err(CodecError::TrailingBytes(1)));
        for at in 0..bytes.len() {
            let mut damaged = bytes.to_vec();
            damaged[at] ^= 0x10;
            if let Ok(read) = decode::<T>(&damaged) {
                assert_ne!(&read, record, "byte {at}");
            }
        }
    }

    #[test]
    fn every_record_round_trips_and_damage_is_refused() {
        check(&identity());
        check(&meta(true));
        check(&meta(false));
        check(&signed());
        check(&one_time());
        check(&known(true));
        check(&known(false));
    }

    #[test]
    fn a_record_is_never_read_as_another_kind() {
        let bytes = encode(&one_time());
        assert_eq!(
            decode::<SignedPrekeyRecord>(&bytes),
            Err(CodecError::Invalid("record kind"))
        );
        assert_eq!(
            decode::<IdentityRecord>(&[9, 1]),
            Err(CodecError::UnknownVersion(9))
        );
        assert_eq!(decode::<IdentityRecord>(&[]), Err(CodecError::Truncated));
    }

    #[test]
    fn a_key_pair_whose_halves_do_not_match_is_refused() {
        let mut bytes = encode(&one_time()).to_vec();
        // The public half follows the id and the secret half.
        let at = 2 + 4 + KEY;
        bytes[at] ^= 1;
        assert_eq!(
            decode::<OneTimePrekeyRecord>(&bytes),
            Err(CodecError::Invalid("key pair (halves do not match)"))
        );
    }

    #[test]
    fn a_huge_contact_count_is_refused_without_allocating_for_it() {
        let mut bytes = encode(&meta(false)).to_vec();
        // next id (4), three absent options (3): then the contact count.
        let at = 2 + 4 + 3;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode::<AccountMeta>(&bytes), Err(CodecError::Truncated));
    }

    #[test]
    fn about_half_the_json() {
        let binary = encode(&signed()).len();
        let json = serde_json::to_vec(&signed()).expect("json").len();
        assert!(binary * 10 < json * 6, "{binary} vs {json}");
    }
}
