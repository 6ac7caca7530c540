//! The web client's key material (PROTOCOL §2): an identity from a 32-byte seed, and signed
//! and one-time prekeys whose ids come from one counter that `resetE2EE` keeps.

use std::collections::BTreeMap;

use quickchat_core::keys::{IdentityKeyPair, OneTimePrekey, SecretKey, SignedPrekey};
use quickchat_core::protocol::rest::{OneTimePrekeyJson, SignedPrekeyUpload, UploadPrekeysRequest};
use quickchat_core::rand_core::CryptoRng;

/// One-time prekeys the web client keeps (`ONE_TIME_PREKEY_TARGET`).
pub(crate) const ONE_TIME_PREKEY_TARGET: u32 = 100;
/// One-time prekeys per upload request (`MAX_UPLOAD_PREKEYS`).
pub(crate) const MAX_UPLOAD_PREKEYS: usize = 50;

/// Identity, prekeys and the id counter of one web client install.
pub(crate) struct WebKeys {
    identity: IdentityKeyPair,
    /// Every signed prekey still held, by id (old ones stay: a first message may name one).
    signed: BTreeMap<u32, SignedPrekey>,
    current_signed: u32,
    one_time: BTreeMap<u32, OneTimePrekey>,
    next_id: u32,
}

impl std::fmt::Debug for WebKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebKeys")
            .field("fingerprint", &self.identity.fingerprint().as_str())
            .field("current_signed", &self.current_signed)
            .field("one_time", &self.one_time.len())
            .field("next_id", &self.next_id)
            .finish()
    }
}

impl WebKeys {
    /// A fresh install: identity, then the signed prekey and 100 one-time prekeys taking
    /// ids from `first_id` on (1 for a new install: signed prekey 1, one-time 2..101).
    pub(crate) fn generate<R: CryptoRng + ?Sized>(first_id: u32, now: i64, rng: &mut R) -> Self {
        let identity = IdentityKeyPair::generate(rng);
        let mut keys = Self {
            identity,
            signed: BTreeMap::new(),
            current_signed: first_id,
            one_time: BTreeMap::new(),
            next_id: first_id,
        };
        keys.fill(now, rng);
        keys
    }

    /// `resetE2EE`: a new identity, every prekey and the old identity gone, the counter
    /// kept, so the new signed prekey takes the next free id.
    pub(crate) fn reset<R: CryptoRng + ?Sized>(&mut self, now: i64, rng: &mut R) {
        let next_id = self.next_id;
        *self = Self::generate(next_id, now, rng);
    }

    fn fill<R: CryptoRng + ?Sized>(&mut self, now: i64, rng: &mut R) {
        let id = self.take_id();
        self.signed
            .insert(id, SignedPrekey::generate(&self.identity, id, now, rng));
        self.current_signed = id;
        for _ in 0..ONE_TIME_PREKEY_TARGET {
            let id = self.take_id();
            self.one_time.insert(id, OneTimePrekey::generate(id, rng));
        }
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The identity.
    pub(crate) fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// Id of the signed prekey currently published.
    pub(crate) fn signed_prekey_id(&self) -> u32 {
        self.current_signed
    }

    /// The private key of signed prekey `id`, if still held.
    pub(crate) fn signed_prekey_secret(&self, id: u32) -> Option<&SecretKey> {
        self.signed.get(&id).map(|spk| spk.pair().secret())
    }

    /// The private key of one-time prekey `id`, if still held.
    pub(crate) fn one_time_prekey_secret(&self, id: u32) -> Option<&SecretKey> {
        self.one_time.get(&id).map(|otk| otk.pair().secret())
    }

    /// The upload requests the web client makes for this material: the signed prekey and
    /// the first 50 one-time prekeys, then the rest 50 at a time with `signedPrekey: null`.
    pub(crate) fn upload_requests(&self) -> Vec<UploadPrekeysRequest> {
        let public = self.identity.public();
        let one_time: Vec<OneTimePrekeyJson> = self
            .one_time
            .values()
            .map(|otk| OneTimePrekeyJson::from(&otk.public()))
            .collect();
        let mut signed = self
            .signed
            .get(&self.current_signed)
            .map(|spk| SignedPrekeyUpload::from(&spk.public()));
        let mut requests = Vec::new();
        for chunk in one_time.chunks(MAX_UPLOAD_PREKEYS) {
            requests.push(UploadPrekeysRequest {
                identity_key: public.dh.to_base64(),
                signing_key: public.signing.to_base64(),
                fingerprint: self.identity.fingerprint().as_str().to_string(),
                signed_prekey: signed.take(),
                one_time_prekeys: Some(chunk.to_vec()),
            });
        }
        requests
    }
}
