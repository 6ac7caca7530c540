//! The low-level protocol API: X3DH and the Double Ratchet on one session held in memory,
//! synchronous, with no store and no network — for applications that keep keys and state
//! themselves (and for measuring the engine without I/O). The wire format is the reference
//! web client's.
//!
//! Private keys cross this API as bytes and `toReferenceJson()` exports a session's secrets:
//! whoever uses it is responsible for keeping them. The drop-in and the full client never
//! let secrets out.

use quickchat_core::envelope::{Envelope, X3dhHeader};
use quickchat_core::keys::{IdentityKeyPair, KeyPair, SecretKey, SignedPrekey};
use quickchat_core::protocol::rest::{
    BundleResponse, BundleSignedPrekey, OneTimePrekeyJson, SignedPrekeyUpload,
};
use quickchat_core::ratchet::RatchetState;
use quickchat_core::x3dh;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::from_js;
use super::options::ParsedOptions;
use crate::error::{Error, Result};
use crate::rng::WebRng;

fn key32(bytes: &[u8], what: &'static str) -> Result<Zeroizing<[u8; 32]>> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::invalid(what, format!("{} bytes, expected 32", bytes.len())))?;
    Ok(Zeroizing::new(array))
}

/// An identity key pair held in WebAssembly memory (its seed goes in once).
#[wasm_bindgen]
pub struct Identity {
    inner: IdentityKeyPair,
}

#[wasm_bindgen]
impl Identity {
    /// The identity of a 32-byte seed (Ed25519 from the seed, X25519 with the seed as
    /// private key, as the web client derives them).
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: &[u8]) -> Result<Identity, JsValue> {
        Ok(Identity {
            inner: IdentityKeyPair::from_seed(*key32(seed, "identity seed")?),
        })
    }

    /// A new random identity.
    pub fn generate() -> Identity {
        Identity {
            inner: IdentityKeyPair::generate(&mut WebRng::System),
        }
    }

    /// The X25519 identity key (base64).
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> String {
        self.inner.public().dh.to_base64()
    }

    /// The Ed25519 signing key (base64).
    #[wasm_bindgen(getter, js_name = signingKey)]
    pub fn signing_key(&self) -> String {
        self.inner.public().signing.to_base64()
    }

    /// The fingerprint (60 upper-case hex characters).
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint().as_str().to_string()
    }
}

/// One Double Ratchet session in memory.
#[wasm_bindgen]
pub struct Ratchet {
    state: RatchetState,
    pending_x3dh: Option<X3dhHeader>,
    rng: WebRng,
}

#[wasm_bindgen]
impl Ratchet {
    /// Starts a session as initiator: X3DH with the peer's bundle (as
    /// `GET /api/users/{id}/prekeys` returns it; the signature is checked) and our identity,
    /// then the ratchet. The first message encrypted carries the `x3dh` block.
    /// Options: `oneTimePrekeys` (`"when-available"`, the default, or `"never"` as the web
    /// client does), `randomSource` (tests only).
    pub fn initiate(
        identity: &Identity,
        bundle: JsValue,
        options: JsValue,
    ) -> Result<Ratchet, JsValue> {
        let options = ParsedOptions::parse(&options)?;
        let mut rng = options.rng.clone();
        let identity = &identity.inner;
        let bundle: Option<BundleResponse> = from_js(&bundle, "bundle")?;
        let bundle = bundle
            .ok_or_else(|| Error::invalid("bundle", "missing"))?
            .to_bundle()
            .map_err(Error::from)?;
        let initiated = x3dh::initiate(identity, &bundle, options.one_time_prekeys()?, &mut rng)
            .map_err(|e| Error::invalid("bundle", e.to_string()))?;
        let state = RatchetState::initiator(initiated.shared_secret.as_bytes(), &mut rng);
        Ok(Ratchet {
            state,
            pending_x3dh: Some(X3dhHeader {
                sender_identity_key: identity.public().dh,
                sender_ephemeral_key: initiated.ephemeral_public,
                used_signed_prekey_id: initiated.used_signed_prekey_id,
                used_one_time_prekey_id: initiated.used_one_time_prekey_id,
            }),
            rng,
        })
    }

    /// Starts a session as responder from the peer's first message (the wire string, which
    /// carries `x3dh`), with our identity and the secrets of the prekeys it names.
    /// Decrypt the first message with the returned session.
    pub fn respond(
        identity: &Identity,
        signed_prekey_secret: &[u8],
        one_time_prekey_secret: Option<Vec<u8>>,
        first_message: &str,
        options: JsValue,
    ) -> Result<Ratchet, JsValue> {
        let options = ParsedOptions::parse(&options)?;
        let identity = &identity.inner;
        let envelope = Envelope::parse(first_message)
            .map_err(|e| Error::invalid("first message", e.to_string()))?;
        let x3dh = envelope
            .x3dh
            .ok_or_else(|| Error::invalid("first message", "it carries no x3dh block"))?;
        let signed = SecretKey::from_bytes(*key32(signed_prekey_secret, "signed prekey secret")?);
        let one_time = match one_time_prekey_secret {
            Some(bytes) if x3dh.used_one_time_prekey_id.is_some() => Some(SecretKey::from_bytes(
                *key32(&bytes, "one-time prekey secret")?,
            )),
            _ => None,
        };
        let shared = x3dh::respond(
            identity,
            &signed,
            one_time.as_ref(),
            &x3dh.sender_identity_key,
            &x3dh.sender_ephemeral_key,
        )
        .map_err(|e| Error::invalid("first message", e.to_string()))?;
        if envelope.header.ratchet_key.is_low_order() {
            return Err(Error::invalid("first message", "low-order ratchet key").into());
        }
        Ok(Ratchet {
            state: RatchetState::responder(shared.as_bytes(), envelope.header.ratchet_key),
            pending_x3dh: None,
            rng: options.rng,
        })
    }

    /// Encrypts `plaintext`: the wire string (the `content` of a message sent with
    /// `encrypted: true`).
    pub fn encrypt(&mut self, plaintext: &str) -> Result<String, JsValue> {
        let encrypted = self
            .state
            .encrypt(plaintext.as_bytes(), &mut self.rng)
            .map_err(|e| Error::invalid("session", e.to_string()))?;
        let envelope = Envelope {
            header: encrypted.header,
            ciphertext: encrypted.ciphertext,
            x3dh: self.pending_x3dh.take(),
        };
        Ok(envelope.to_json())
    }

    /// Decrypts a wire string. The session changes only if the message authenticates.
    pub fn decrypt(&mut self, wire: &str) -> Result<String, JsValue> {
        let envelope =
            Envelope::parse(wire).map_err(|e| Error::invalid("message", e.to_string()))?;
        let plaintext = self
            .state
            .decrypt(&envelope.header, &envelope.ciphertext, &mut self.rng)
            .map_err(|e| Error::Unsupported(format!("cannot decrypt: {e}")))?;
        String::from_utf8(plaintext).map_err(|_| Error::invalid("message", "not UTF-8 text").into())
    }

    /// The session in the reference client's `ratchetState` JSON (contains secrets).
    #[wasm_bindgen(js_name = toReferenceJson)]
    pub fn to_reference_json(&self) -> String {
        self.state.to_reference_json().to_string()
    }

    /// A session from the reference client's `ratchetState` JSON.
    #[wasm_bindgen(js_name = fromReferenceJson)]
    pub fn from_reference_json(json: &str, options: JsValue) -> Result<Ratchet, JsValue> {
        let options = ParsedOptions::parse(&options)?;
        let state = RatchetState::from_reference_json(json)
            .map_err(|e| Error::invalid("ratchet state", e.to_string()))?;
        Ok(Ratchet {
            state,
            pending_x3dh: None,
            rng: options.rng,
        })
    }
}

/// A bundle as `GET /api/users/{id}/prekeys` returns it, made from an identity and prekey
/// secrets (the signed prekey is signed here).
#[wasm_bindgen(js_name = prekeyBundle)]
pub fn prekey_bundle(
    identity: &Identity,
    signed_prekey_id: u32,
    signed_prekey_secret: &[u8],
    one_time_prekey_id: Option<u32>,
    one_time_prekey_secret: Option<Vec<u8>>,
) -> Result<JsValue, JsValue> {
    let identity = &identity.inner;
    let pair = KeyPair::from_secret(SecretKey::from_bytes(*key32(
        signed_prekey_secret,
        "signed prekey secret",
    )?));
    let signature = identity.sign(pair.public().as_bytes());
    let signed = SignedPrekey::from_parts(signed_prekey_id, pair, signature, 0);
    let upload = SignedPrekeyUpload::from(&signed.public());
    let one_time_prekey = match (one_time_prekey_id, one_time_prekey_secret) {
        (Some(id), Some(secret)) => {
            let pair =
                KeyPair::from_secret(SecretKey::from_bytes(*key32(&secret, "one-time prekey")?));
            Some(OneTimePrekeyJson {
                key_id: id,
                public_key: pair.public().to_base64(),
            })
        }
        _ => None,
    };
    let public = identity.public();
    let bundle = BundleResponse {
        identity_key: public.dh.to_base64(),
        signing_key: public.signing.to_base64(),
        fingerprint: Some(public.fingerprint().as_str().to_string()),
        signed_prekey: Some(BundleSignedPrekey {
            key_id: upload.key_id,
            public_key: upload.public_key,
            signature: upload.signature,
            created_at: None,
        }),
        one_time_prekey,
    };
    Ok(super::to_js(&bundle)?)
}
