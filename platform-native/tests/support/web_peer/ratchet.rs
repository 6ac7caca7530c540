//! The web client's Double Ratchet, weaknesses included (PROTOCOL §4).
//!
//! The SDK's own ratchet (`quickchat_core::ratchet::RatchetState`) fixes the web client's
//! three weaknesses; a peer that behaves like the web app must not. So the KDFs and key
//! types are core's (they are the same algorithm), but the steps are written here as the
//! web client takes them:
//!
//! 1. no skipped-key lookup before the DH step, and `previousChainLength` is ignored;
//! 2. the state is changed in place before the box is opened, so a message that fails to
//!    open still leaves the chain advanced (the caller saves that state);
//! 3. skipped keys pile up without bound across chains; one step may skip at most 1000.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use quickchat_core::encoding::b64_encode;
use quickchat_core::hazmat::{ChainKey, MessageKey, RootKey};
use quickchat_core::keys::{KeyPair, PublicKey};
use quickchat_core::rand_core::CryptoRng;
use quickchat_core::ratchet::{Header, NONCE_LEN};
use serde::Serialize;

/// The most keys one decryption may skip (the web client's `MAX_SKIP`).
pub(crate) const MAX_SKIP: u32 = 1000;

/// Why the web ratchet refused a message. The texts are the web client's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WebRatchetError {
    /// The box did not open under the key the (possibly corrupted) chain gave.
    #[error("authentication failed")]
    Authentication,
    /// More than [`MAX_SKIP`] keys would be skipped.
    #[error("Exceeded maximum skip limit")]
    TooManySkipped,
    /// A DH step is needed but the session has no ratchet key pair (a responder that has
    /// never sent, seeing a second new ratchet key).
    #[error("no local ratchet key pair for a DH step")]
    NoRatchetKeyPair,
    /// Nothing to send with: no sending chain and no peer ratchet key.
    #[error("session cannot send: no sending chain and no remote ratchet key")]
    CannotSend,
    /// The ciphertext cannot hold a nonce.
    #[error("ciphertext shorter than a nonce")]
    TooShort,
    /// A low-order ratchet key (the web client would compute an all-zero secret; core's
    /// X25519 refuses it, and no test sends one to this peer).
    #[error("low-order ratchet key")]
    LowOrderKey,
}

/// One session's ratchet state, field for field the web client's `RatchetEngine`.
#[derive(Clone)]
pub(crate) struct WebRatchet {
    root_key: RootKey,
    sending_chain_key: Option<ChainKey>,
    receiving_chain_key: Option<ChainKey>,
    ratchet_key_pair: Option<KeyPair>,
    remote_ratchet_key: Option<PublicKey>,
    sending_chain_length: u32,
    receiving_chain_length: u32,
    previous_sending_chain_length: u32,
    /// `"<base64 ratchet key>:<n>"` → key, in insertion order (a JavaScript `Map`).
    skipped: Vec<(String, MessageKey)>,
}

impl std::fmt::Debug for WebRatchet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counters and public keys only: the chain and root keys are secrets.
        f.debug_struct("WebRatchet")
            .field(
                "ratchet_key",
                &self.ratchet_key_pair.as_ref().map(KeyPair::public),
            )
            .field("remote_ratchet_key", &self.remote_ratchet_key)
            .field("sending_chain_length", &self.sending_chain_length)
            .field("receiving_chain_length", &self.receiving_chain_length)
            .field(
                "previous_sending_chain_length",
                &self.previous_sending_chain_length,
            )
            .field("skipped", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

impl WebRatchet {
    /// The initiator after X3DH: `(RK, CKs) = KDF_RK(SK, 0)` and a fresh ratchet key pair.
    pub(crate) fn initiator<R: CryptoRng + ?Sized>(shared_secret: &[u8; 32], rng: &mut R) -> Self {
        let (root_key, chain_key) = RootKey::from_shared_secret(shared_secret);
        let mut state = Self::empty(root_key);
        state.sending_chain_key = Some(chain_key);
        state.ratchet_key_pair = Some(KeyPair::generate(rng));
        state
    }

    /// The responder on a first message: `(RK, CKr) = KDF_RK(SK, 0)`, `DHr` from the header.
    pub(crate) fn responder(shared_secret: &[u8; 32], remote_ratchet_key: PublicKey) -> Self {
        let (root_key, chain_key) = RootKey::from_shared_secret(shared_secret);
        let mut state = Self::empty(root_key);
        state.receiving_chain_key = Some(chain_key);
        state.remote_ratchet_key = Some(remote_ratchet_key);
        state
    }

    fn empty(root_key: RootKey) -> Self {
        Self {
            root_key,
            sending_chain_key: None,
            receiving_chain_key: None,
            ratchet_key_pair: None,
            remote_ratchet_key: None,
            sending_chain_length: 0,
            receiving_chain_length: 0,
            previous_sending_chain_length: 0,
            skipped: Vec::new(),
        }
    }

    /// Seals `plaintext`: a sending step first when there is no sending chain (one 32-byte
    /// draw), then a 24-byte nonce draw. Returns the header and `nonce ‖ tag ‖ box`.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<(Header, Vec<u8>), WebRatchetError> {
        if self.sending_chain_key.is_none() {
            let remote = self.remote_ratchet_key.ok_or(WebRatchetError::CannotSend)?;
            self.previous_sending_chain_length = self.sending_chain_length;
            let pair = KeyPair::generate(rng);
            let (root_key, chain_key) = self.root_key.ratchet(
                &pair
                    .secret()
                    .diffie_hellman(&remote)
                    .map_err(|_| WebRatchetError::LowOrderKey)?,
            );
            self.root_key = root_key;
            self.sending_chain_key = Some(chain_key);
            self.ratchet_key_pair = Some(pair);
            self.sending_chain_length = 0;
        }
        let (Some(chain_key), Some(pair)) = (&self.sending_chain_key, &self.ratchet_key_pair)
        else {
            return Err(WebRatchetError::CannotSend);
        };
        let (message_key, next) = chain_key.step();
        let header = Header {
            ratchet_key: *pair.public(),
            previous_chain_length: self.previous_sending_chain_length,
            message_number: self.sending_chain_length,
        };
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let sealed = seal(&message_key, &nonce, plaintext);
        self.sending_chain_key = Some(next);
        self.sending_chain_length += 1;
        Ok((header, sealed))
    }

    /// Opens a message the web client's way: every change to the state happens before the
    /// box is opened and stays when it does not open.
    ///
    /// The steps are public so that [`super::WebPeer`] can also run them the way a
    /// JavaScript engine interleaves them when each KDF is an awaited promise; this method
    /// runs them back to back.
    pub(crate) fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        header: &Header,
        sealed: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, WebRatchetError> {
        if self.needs_dh_step(header) {
            self.dh_step(&header.ratchet_key, rng)?;
        }
        self.check_skip(header)?;
        while let Some(chain_key) = self.chain_key_to_skip(header)? {
            let (message_key, next) = chain_key.step();
            self.store_skipped(message_key, next)?;
        }
        let message_key = match self.take_skipped(header) {
            Some(key) => key,
            None => {
                let (message_key, next) = self.receiving_chain_key()?.step();
                self.advance_receiving(next);
                message_key
            }
        };
        open(&message_key, sealed)
    }

    /// Step 1: the header's ratchet key is not the one the receiving chain follows.
    pub(crate) fn needs_dh_step(&self, header: &Header) -> bool {
        self.remote_ratchet_key != Some(header.ratchet_key)
    }

    /// Step 2: the skip limit (`Nr + 1000 < n` fails).
    pub(crate) fn check_skip(&self, header: &Header) -> Result<(), WebRatchetError> {
        if u64::from(self.receiving_chain_length) + u64::from(MAX_SKIP)
            < u64::from(header.message_number)
        {
            return Err(WebRatchetError::TooManySkipped);
        }
        Ok(())
    }

    /// Step 3, the loop's test and read: while `Nr < n`, the chain key to derive the next
    /// skipped key from.
    pub(crate) fn chain_key_to_skip(
        &self,
        header: &Header,
    ) -> Result<Option<ChainKey>, WebRatchetError> {
        if self.receiving_chain_length < header.message_number {
            Ok(Some(self.receiving_chain_key()?))
        } else {
            Ok(None)
        }
    }

    /// Step 3, the loop's write: stash the key under `"<DHr>:<Nr>"` (as they are now),
    /// move the chain to `next`, `Nr += 1`.
    pub(crate) fn store_skipped(
        &mut self,
        message_key: MessageKey,
        next: ChainKey,
    ) -> Result<(), WebRatchetError> {
        let remote = self
            .remote_ratchet_key
            .ok_or(WebRatchetError::Authentication)?;
        let name = format!("{}:{}", remote.to_base64(), self.receiving_chain_length);
        self.remember(name, message_key);
        self.receiving_chain_key = Some(next);
        self.receiving_chain_length += 1;
        Ok(())
    }

    /// Step 4: the stashed key for the header's `(ratchetKey, n)`, removed, if there is one.
    pub(crate) fn take_skipped(&mut self, header: &Header) -> Option<MessageKey> {
        let name = format!(
            "{}:{}",
            header.ratchet_key.to_base64(),
            header.message_number
        );
        let index = self.skipped.iter().position(|(k, _)| *k == name)?;
        Some(self.skipped.remove(index).1)
    }

    /// Step 5, the read: the receiving chain key the message key is taken from.
    pub(crate) fn receiving_chain_key(&self) -> Result<ChainKey, WebRatchetError> {
        self.receiving_chain_key
            .clone()
            .ok_or(WebRatchetError::Authentication)
    }

    /// Step 5, the write: the chain moves to `next`, `Nr += 1`.
    pub(crate) fn advance_receiving(&mut self, next: ChainKey) {
        self.receiving_chain_key = Some(next);
        self.receiving_chain_length += 1;
    }

    /// A DH ratchet step on a new peer ratchet key (one 32-byte draw).
    pub(crate) fn dh_step<R: CryptoRng + ?Sized>(
        &mut self,
        remote: &PublicKey,
        rng: &mut R,
    ) -> Result<(), WebRatchetError> {
        let own = self
            .ratchet_key_pair
            .as_ref()
            .ok_or(WebRatchetError::NoRatchetKeyPair)?;
        self.previous_sending_chain_length = self.sending_chain_length;
        let (root_key, receiving) = self.root_key.ratchet(
            &own.secret()
                .diffie_hellman(remote)
                .map_err(|_| WebRatchetError::LowOrderKey)?,
        );
        self.receiving_chain_key = Some(receiving);
        self.receiving_chain_length = 0;
        self.remote_ratchet_key = Some(*remote);
        let pair = KeyPair::generate(rng);
        let (root_key, sending) = root_key.ratchet(
            &pair
                .secret()
                .diffie_hellman(remote)
                .map_err(|_| WebRatchetError::LowOrderKey)?,
        );
        self.root_key = root_key;
        self.sending_chain_key = Some(sending);
        self.ratchet_key_pair = Some(pair);
        self.sending_chain_length = 0;
        Ok(())
    }

    /// `Map.set`: a known name keeps its place and takes the new key.
    fn remember(&mut self, name: String, key: MessageKey) {
        match self.skipped.iter_mut().find(|(k, _)| *k == name) {
            Some(entry) => entry.1 = key,
            None => self.skipped.push((name, key)),
        }
    }

    /// Messages received in the current receiving chain (`Nr`).
    pub(crate) fn receiving_chain_length(&self) -> u32 {
        self.receiving_chain_length
    }

    /// Stashed message keys (never evicted, as in the web client).
    pub(crate) fn skipped_count(&self) -> usize {
        self.skipped.len()
    }

    /// The state as the web client serializes it (`JSON.stringify` of its fields).
    pub(crate) fn to_reference_json(&self) -> String {
        let key = |k: &[u8; 32]| b64_encode(k);
        let json = StateJson {
            root_key: key(self.root_key.as_bytes()),
            sending_chain_key: self.sending_chain_key.as_ref().map(|k| key(k.as_bytes())),
            receiving_chain_key: self.receiving_chain_key.as_ref().map(|k| key(k.as_bytes())),
            dh_ratchet_key_pair: self.ratchet_key_pair.as_ref().map(|p| PairJson {
                public_key: p.public().to_base64(),
                secret_key: key(p.secret().as_bytes()),
            }),
            dh_ratchet_remote_key: self.remote_ratchet_key.as_ref().map(PublicKey::to_base64),
            sending_chain_length: self.sending_chain_length,
            receiving_chain_length: self.receiving_chain_length,
            previous_sending_chain_length: self.previous_sending_chain_length,
            skipped_message_keys: self
                .skipped
                .iter()
                .map(|(name, k)| (name.clone(), key(k.as_bytes())))
                .collect(),
        };
        // Strings, integers and nulls only: serialization cannot fail.
        serde_json::to_string(&json).unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateJson {
    root_key: String,
    sending_chain_key: Option<String>,
    receiving_chain_key: Option<String>,
    dh_ratchet_key_pair: Option<PairJson>,
    dh_ratchet_remote_key: Option<String>,
    sending_chain_length: u32,
    receiving_chain_length: u32,
    previous_sending_chain_length: u32,
    skipped_message_keys: Vec<(String, String)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PairJson {
    public_key: String,
    secret_key: String,
}

/// NaCl `secretbox`: `nonce ‖ tag ‖ box`.
fn seal(key: &MessageKey, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XSalsa20Poly1305::new(key.as_bytes().into());
    let mut out = nonce.to_vec();
    // Sealing without associated data cannot fail.
    out.extend(
        cipher
            .encrypt(Nonce::from_slice(nonce), plaintext)
            .unwrap_or_default(),
    );
    out
}

/// Opens `nonce ‖ tag ‖ box` (step 6 of a decryption).
pub(crate) fn open(key: &MessageKey, sealed: &[u8]) -> Result<Vec<u8>, WebRatchetError> {
    if sealed.len() < NONCE_LEN {
        return Err(WebRatchetError::TooShort);
    }
    let (nonce, boxed) = sealed.split_at(NONCE_LEN);
    XSalsa20Poly1305::new(key.as_bytes().into())
        .decrypt(Nonce::from_slice(nonce), boxed)
        .map_err(|_| WebRatchetError::Authentication)
}
