//! X3DH initial key agreement, both sides (PROTOCOL §3).

use std::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keys::{
    DhOutput, IdentityKeyPair, IdentityPublic, KeyPair, OneTimePrekeyPublic, PublicKey, SecretKey,
    SignedPrekeyPublic, verify_signed_prekey,
};

const X3DH_INFO: &[u8] = b"WHATSAPP-CLONE-X3DH";

/// A peer's published prekey bundle, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrekeyBundle {
    /// The peer's identity keys.
    pub identity: IdentityPublic,
    /// The signed prekey, if the peer has one.
    pub signed_prekey: Option<SignedPrekeyPublic>,
    /// A one-time prekey, if the backend had one left.
    pub one_time_prekey: Option<OneTimePrekeyPublic>,
}

/// Whether the initiator mixes the bundle's one-time prekey into the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OneTimePrekeyUse {
    /// Use it when the bundle carries one (DH4); the reference client accepts this as a
    /// responder, and it gives the first message forward secrecy against a later theft of
    /// the signed prekey. **Unreliable against this backend**: a peer that resets its keys
    /// (the web app's reset, a re-install) leaves its unused old one-time prekeys on the
    /// backend, which hands them out first; the peer no longer holds their private keys, so
    /// a first message mixing one in cannot be decrypted.
    WhenAvailable,
    /// Never use it, exactly as the reference client initiates. The default, because of the
    /// stale one-time prekeys described above.
    #[default]
    Never,
}

/// Why X3DH could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X3dhError {
    /// The bundle has no signed prekey.
    #[error("Recipient is missing signed prekey")]
    MissingSignedPrekey,
    /// The signed prekey's signature does not verify.
    #[error("Invalid signed prekey signature")]
    InvalidSignature,
    /// A public key in the agreement is of low order, so one of the DHs gave the all-zero
    /// secret anyone can compute (RFC 7748 §6.1).
    #[error("refused a low-order {key} in the key agreement")]
    LowOrderKey {
        /// Which key.
        key: X3dhKey,
    },
}

/// The public keys X3DH does DH with, to name the one refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X3dhKey {
    /// The peer's identity DH key.
    IdentityKey,
    /// The signed prekey.
    SignedPrekey,
    /// The one-time prekey.
    OneTimePrekey,
    /// The initiator's ephemeral key.
    EphemeralKey,
}

impl fmt::Display for X3dhKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::IdentityKey => "identity key",
            Self::SignedPrekey => "signed prekey",
            Self::OneTimePrekey => "one-time prekey",
            Self::EphemeralKey => "ephemeral key",
        })
    }
}

/// X25519 that names the key when the output is all zeros.
fn dh(secret: &SecretKey, public: &PublicKey, key: X3dhKey) -> Result<DhOutput, X3dhError> {
    secret
        .diffie_hellman(public)
        .map_err(|_| X3dhError::LowOrderKey { key })
}

/// The 32-byte secret both sides derive.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SharedSecret([u8; 32]);

impl SharedSecret {
    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// What the initiator ends up with.
#[derive(Debug)]
pub struct Initiated {
    /// The agreed secret.
    pub shared_secret: SharedSecret,
    /// The ephemeral public key to send (`senderEphemeralKey`).
    pub ephemeral_public: PublicKey,
    /// Id of the signed prekey used (`usedSignedPrekeyId`).
    pub used_signed_prekey_id: u32,
    /// Id of the one-time prekey mixed in, if any (`usedOneTimePrekeyId`).
    pub used_one_time_prekey_id: Option<u32>,
}

/// Initiator side: checks the bundle, draws the ephemeral key (one 32-byte draw) and
/// derives the secret.
pub fn initiate<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PrekeyBundle,
    one_time_prekey_use: OneTimePrekeyUse,
    rng: &mut R,
) -> Result<Initiated, X3dhError> {
    let signed_prekey = bundle
        .signed_prekey
        .as_ref()
        .ok_or(X3dhError::MissingSignedPrekey)?;
    verify_signed_prekey(&bundle.identity.signing, signed_prekey)
        .map_err(|_| X3dhError::InvalidSignature)?;

    let one_time = match one_time_prekey_use {
        OneTimePrekeyUse::WhenAvailable => bundle.one_time_prekey,
        OneTimePrekeyUse::Never => None,
    };
    // Refused before the ephemeral draw, so a bad bundle costs no randomness; the DH
    // checks below stay as the RFC's own guard.
    for (public, key) in [
        (Some(&bundle.identity.dh), X3dhKey::IdentityKey),
        (Some(&signed_prekey.public), X3dhKey::SignedPrekey),
        (
            one_time.as_ref().map(|otk| &otk.public),
            X3dhKey::OneTimePrekey,
        ),
    ] {
        if public.is_some_and(PublicKey::is_low_order) {
            return Err(X3dhError::LowOrderKey { key });
        }
    }

    let ephemeral = KeyPair::generate(rng);
    let dh1 = dh(
        identity.dh().secret(),
        &signed_prekey.public,
        X3dhKey::SignedPrekey,
    )?;
    let dh2 = dh(
        ephemeral.secret(),
        &bundle.identity.dh,
        X3dhKey::IdentityKey,
    )?;
    let dh3 = dh(
        ephemeral.secret(),
        &signed_prekey.public,
        X3dhKey::SignedPrekey,
    )?;
    let dh4 = one_time
        .map(|otk| dh(ephemeral.secret(), &otk.public, X3dhKey::OneTimePrekey))
        .transpose()?;
    let shared_secret = derive(&[
        Some(dh1.as_bytes()),
        Some(dh2.as_bytes()),
        Some(dh3.as_bytes()),
        dh4.as_ref().map(|d| d.as_bytes()),
    ]);
    Ok(Initiated {
        shared_secret,
        ephemeral_public: *ephemeral.public(),
        used_signed_prekey_id: signed_prekey.id,
        used_one_time_prekey_id: one_time.map(|otk| otk.id),
    })
}

/// Responder side: the secret from a first message's `x3dh` header. `one_time_prekey` is
/// the private key named by `usedOneTimePrekeyId`, when it is still held. Refuses a
/// low-order sender identity or ephemeral key.
pub fn respond(
    identity: &IdentityKeyPair,
    signed_prekey: &SecretKey,
    one_time_prekey: Option<&SecretKey>,
    sender_identity_key: &PublicKey,
    sender_ephemeral_key: &PublicKey,
) -> Result<SharedSecret, X3dhError> {
    let dh1 = dh(signed_prekey, sender_identity_key, X3dhKey::IdentityKey)?;
    let dh2 = dh(
        identity.dh().secret(),
        sender_ephemeral_key,
        X3dhKey::EphemeralKey,
    )?;
    let dh3 = dh(signed_prekey, sender_ephemeral_key, X3dhKey::EphemeralKey)?;
    let dh4 = one_time_prekey
        .map(|otk| dh(otk, sender_ephemeral_key, X3dhKey::EphemeralKey))
        .transpose()?;
    Ok(derive(&[
        Some(dh1.as_bytes()),
        Some(dh2.as_bytes()),
        Some(dh3.as_bytes()),
        dh4.as_ref().map(|d| d.as_bytes()),
    ]))
}

fn derive(parts: &[Option<&[u8; 32]>]) -> SharedSecret {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * parts.len()));
    for part in parts.iter().flatten() {
        ikm.extend_from_slice(*part);
    }
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail.
    let _ = quickchat_primitives::hkdf_sha256(&[0u8; 32], &ikm, X3DH_INFO, &mut out);
    SharedSecret(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{OneTimePrekey, SignedPrekey, test_low_order_keys};
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::{Rng, SeedableRng};

    struct Bob {
        identity: IdentityKeyPair,
        signed: SignedPrekey,
        one_time: OneTimePrekey,
    }

    fn bob(rng: &mut ChaCha20Rng) -> Bob {
        let identity = IdentityKeyPair::generate(rng);
        let signed = SignedPrekey::generate(&identity, 1, 0, rng);
        let one_time = OneTimePrekey::generate(2, rng);
        Bob {
            identity,
            signed,
            one_time,
        }
    }

    fn bundle(bob: &Bob) -> PrekeyBundle {
        PrekeyBundle {
            identity: *bob.identity.public(),
            signed_prekey: Some(bob.signed.public()),
            one_time_prekey: Some(bob.one_time.public()),
        }
    }

    #[test]
    fn ordinary_keys_still_agree() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for _ in 0..16 {
            let alice = IdentityKeyPair::generate(&mut rng);
            let bob = bob(&mut rng);
            let init = initiate(
                &alice,
                &bundle(&bob),
                OneTimePrekeyUse::WhenAvailable,
                &mut rng,
            )
            .unwrap();
            let secret = respond(
                &bob.identity,
                bob.signed.pair().secret(),
                Some(bob.one_time.pair().secret()),
                &alice.public().dh,
                &init.ephemeral_public,
            )
            .unwrap();
            assert_eq!(secret, init.shared_secret);
        }
    }

    #[test]
    fn a_bundle_with_a_low_order_key_is_refused_before_any_draw() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let alice = IdentityKeyPair::generate(&mut rng);
        let bob = bob(&mut rng);
        for key in test_low_order_keys() {
            let mut bad_identity = bundle(&bob);
            bad_identity.identity.dh = key;
            // A validly signed low-order prekey: the signature is no defence.
            let mut bad_signed = bundle(&bob);
            bad_signed.signed_prekey = Some(SignedPrekeyPublic {
                id: 1,
                public: key,
                signature: bob.identity.sign(key.as_bytes()),
            });
            let mut bad_one_time = bundle(&bob);
            bad_one_time.one_time_prekey = Some(OneTimePrekeyPublic { id: 2, public: key });
            for (bundle, which) in [
                (&bad_identity, X3dhKey::IdentityKey),
                (&bad_signed, X3dhKey::SignedPrekey),
                (&bad_one_time, X3dhKey::OneTimePrekey),
            ] {
                let mut probe = rng.clone();
                let result = initiate(&alice, bundle, OneTimePrekeyUse::WhenAvailable, &mut rng);
                assert_eq!(
                    result.err(),
                    Some(X3dhError::LowOrderKey { key: which }),
                    "{key:?}"
                );
                // Nothing was drawn.
                assert_eq!(probe.next_u64(), rng.clone().next_u64());
            }
            // A one-time prekey the initiator does not use cannot hurt.
            assert!(initiate(&alice, &bad_one_time, OneTimePrekeyUse::Never, &mut rng).is_ok());
        }
    }

    #[test]
    fn a_low_order_sender_key_is_refused_by_the_responder() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let alice = IdentityKeyPair::generate(&mut rng);
        let bob = bob(&mut rng);
        let ephemeral = *KeyPair::generate(&mut rng).public();
        for key in test_low_order_keys() {
            for one_time in [None, Some(bob.one_time.pair().secret())] {
                let respond_with = |identity: &PublicKey, ephemeral: &PublicKey| {
                    respond(
                        &bob.identity,
                        bob.signed.pair().secret(),
                        one_time,
                        identity,
                        ephemeral,
                    )
                };
                assert_eq!(
                    respond_with(&key, &ephemeral).err(),
                    Some(X3dhError::LowOrderKey {
                        key: X3dhKey::IdentityKey
                    })
                );
                assert_eq!(
                    respond_with(&alice.public().dh, &key).err(),
                    Some(X3dhError::LowOrderKey {
                        key: X3dhKey::EphemeralKey
                    })
                );
            }
        }
    }

    #[test]
    fn each_dh_checks_its_own_output() {
        // Past the up-front bundle check, DH1–DH4 each refuse a zero output themselves.
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let secret = SecretKey::from_bytes([9; 32]);
        for key in test_low_order_keys() {
            for which in [
                X3dhKey::IdentityKey,
                X3dhKey::SignedPrekey,
                X3dhKey::OneTimePrekey,
                X3dhKey::EphemeralKey,
            ] {
                assert_eq!(
                    dh(&secret, &key, which).err(),
                    Some(X3dhError::LowOrderKey { key: which })
                );
            }
        }
        let ordinary = *KeyPair::generate(&mut rng).public();
        assert!(dh(&secret, &ordinary, X3dhKey::IdentityKey).is_ok());
    }
}
