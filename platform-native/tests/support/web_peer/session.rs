//! One web-client session with a peer: its ratchet, the signed-prekey id it was built on
//! (what the web client compares before every send), and the `x3dh` block its first
//! message still has to carry.

use quickchat_core::envelope::{Envelope, X3dhHeader};
use quickchat_core::keys::{IdentityKeyPair, SecretKey};
use quickchat_core::rand_core::CryptoRng;
use quickchat_core::ratchet::Header;
use quickchat_core::x3dh::{self, OneTimePrekeyUse, PrekeyBundle, X3dhError};

use super::ratchet::{WebRatchet, WebRatchetError};

/// Why the web peer could not read a message (what `failures()` records).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WebFailure {
    /// No session with the sender and the message has no `x3dh` block.
    #[error("no session")]
    NoSession,
    /// The ratchet refused it.
    #[error(transparent)]
    Ratchet(#[from] WebRatchetError),
    /// A first message names a signed prekey this install does not hold.
    #[error("no signed prekey {0}")]
    UnknownSignedPrekey(u32),
    /// The bundle fetch a first message waits for failed.
    #[error("bundle fetch failed: {0}")]
    BundleFetch(String),
    /// The content is not an encrypted message.
    #[error("invalid encrypted message: {0}")]
    Envelope(String),
    /// The content is not UTF-8 once decrypted.
    #[error("plaintext is not UTF-8")]
    NotUtf8,
}

/// A session as the web client keeps it.
#[derive(Clone, Debug)]
pub(crate) struct WebSession {
    ratchet: WebRatchet,
    remote_signed_prekey_id: u32,
    pending_x3dh: Option<X3dhHeader>,
}

impl WebSession {
    /// X3DH as initiator the web client's way (the one-time prekey is never mixed in), then
    /// the initiator's ratchet. Draws: the ephemeral key, then the ratchet key.
    pub(crate) fn initiate<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        bundle: &PrekeyBundle,
        rng: &mut R,
    ) -> Result<Self, X3dhError> {
        let initiated = x3dh::initiate(identity, bundle, OneTimePrekeyUse::Never, rng)?;
        let ratchet = WebRatchet::initiator(initiated.shared_secret.as_bytes(), rng);
        Ok(Self {
            ratchet,
            remote_signed_prekey_id: initiated.used_signed_prekey_id,
            pending_x3dh: Some(X3dhHeader {
                sender_identity_key: identity.public().dh,
                sender_ephemeral_key: initiated.ephemeral_public,
                used_signed_prekey_id: initiated.used_signed_prekey_id,
                used_one_time_prekey_id: None,
            }),
        })
    }

    /// The responder's session from a first message: X3DH with the signed prekey the
    /// message names and, when given, DH4 with the one-time prekey (the caller passes it only
    /// when it still holds it). `remote_signed_prekey_id` is the peer's signed-prekey id
    /// from the bundle the web client fetches on a first message.
    pub(crate) fn accept(
        identity: &IdentityKeyPair,
        signed_prekey: &SecretKey,
        one_time_prekey: Option<&SecretKey>,
        x3dh: &X3dhHeader,
        header: &Header,
        remote_signed_prekey_id: u32,
    ) -> Self {
        let secret = x3dh::respond(
            identity,
            signed_prekey,
            one_time_prekey,
            &x3dh.sender_identity_key,
            &x3dh.sender_ephemeral_key,
        )
        .expect("no test sends the web peer a low-order key");
        Self {
            ratchet: WebRatchet::responder(secret.as_bytes(), header.ratchet_key),
            remote_signed_prekey_id,
            pending_x3dh: None,
        }
    }

    /// The `x3dh` block the next message will carry (a new initiator session's first).
    pub(crate) fn pending_x3dh(&self) -> Option<&X3dhHeader> {
        self.pending_x3dh.as_ref()
    }

    /// Encrypts `text`; the session's first message carries the `x3dh` block.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        text: &str,
        rng: &mut R,
    ) -> Result<Envelope, WebRatchetError> {
        let (header, ciphertext) = self.ratchet.encrypt(text.as_bytes(), rng)?;
        Ok(Envelope {
            header,
            ciphertext,
            x3dh: self.pending_x3dh.take(),
        })
    }

    /// Decrypts in place (a failure leaves the ratchet as the web client leaves it).
    pub(crate) fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        envelope: &Envelope,
        rng: &mut R,
    ) -> Result<String, WebFailure> {
        let plaintext = self
            .ratchet
            .decrypt(&envelope.header, &envelope.ciphertext, rng)?;
        text(plaintext)
    }

    /// The peer's signed-prekey id this session was built on.
    pub(crate) fn remote_signed_prekey_id(&self) -> u32 {
        self.remote_signed_prekey_id
    }

    /// The ratchet.
    pub(crate) fn ratchet(&self) -> &WebRatchet {
        &self.ratchet
    }

    /// The ratchet, to run its decryption steps one at a time.
    pub(crate) fn ratchet_mut(&mut self) -> &mut WebRatchet {
        &mut self.ratchet
    }
}

/// The decrypted bytes as the text the app shows.
pub(crate) fn text(plaintext: Vec<u8>) -> Result<String, WebFailure> {
    String::from_utf8(plaintext).map_err(|_| WebFailure::NotUtf8)
}
