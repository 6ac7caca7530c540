//! X25519 by AWS-LC (`aws-lc-rs`) on native targets.
//!
//! AWS-LC's key object is made once per private key, on first use, and kept: making it
//! computes the public key (a fixed-base multiplication, which `public_key` then returns for
//! free), so it must not be paid again on every DH. The raw bytes stay in dalek's zeroizing
//! holder, which also answers whenever AWS-LC fails: AWS-LC's only failure here is the
//! all-zero output of a low-order key, and dalek then gives the same refusal, so the two
//! backends cannot disagree on an error.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};

use super::portable;

/// A raw (unclamped) X25519 private key with its AWS-LC key object, made on first use.
/// AWS-LC wipes the object's memory when it frees it; the raw bytes are zeroized by dalek.
#[derive(Clone)]
pub(crate) struct Secret {
    raw: portable::Secret,
    /// `Some(None)` once AWS-LC has refused the key (it accepts every 32 bytes, so never in
    /// practice): dalek then does all the work.
    native: OnceLock<Option<Arc<PrivateKey>>>,
}

impl Secret {
    /// Wraps 32 private-key bytes, wiping the caller's copy.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            raw: portable::Secret::from_bytes(bytes),
            native: OnceLock::new(),
        }
    }

    /// The raw bytes.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        self.raw.as_bytes()
    }

    fn native(&self) -> Option<&PrivateKey> {
        self.native
            .get_or_init(|| {
                PrivateKey::from_private_key(&X25519, self.raw.as_bytes())
                    .ok()
                    .map(Arc::new)
            })
            .as_deref()
    }

    /// X25519 with the base point.
    pub(crate) fn public_key(&self) -> [u8; 32] {
        self.native_public_key()
            .unwrap_or_else(|| self.raw.public_key())
    }

    /// X25519 with `their_public`; `None` for the all-zero output of a low-order key.
    pub(crate) fn diffie_hellman(&self, their_public: &[u8; 32]) -> Option<[u8; 32]> {
        self.native_diffie_hellman(their_public)
            .or_else(|| self.raw.diffie_hellman(their_public))
    }

    /// AWS-LC's answer alone, without dalek's fallback.
    fn native_diffie_hellman(&self, their_public: &[u8; 32]) -> Option<[u8; 32]> {
        agreement::agree(
            self.native()?,
            UnparsedPublicKey::new(&X25519, their_public),
            (),
            |shared| <[u8; 32]>::try_from(shared).map_err(|_| ()),
        )
        .ok()
    }

    /// AWS-LC's public key alone, without dalek's fallback.
    fn native_public_key(&self) -> Option<[u8; 32]> {
        let public = self.native()?.compute_public_key().ok()?;
        <[u8; 32]>::try_from(public.as_ref()).ok()
    }
}

#[cfg(test)]
mod tests {
    //! AWS-LC against dalek, AWS-LC's answers taken alone (no fallback), so that any
    //! divergence fails: on random keys and on every edge of the u-coordinate encoding.
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::{Rng, SeedableRng};

    /// p = 2^255 − 19, little-endian, plus `k`.
    fn p_plus(k: u8) -> [u8; 32] {
        let mut u = [0xff; 32];
        u[31] = 0x7f;
        u[0] = 0xed + k;
        u
    }

    fn small(n: u8) -> [u8; 32] {
        let mut u = [0u8; 32];
        u[0] = n;
        u
    }

    /// Public keys at the edges: every low-order key, every non-canonical u (p .. 2^255 − 1),
    /// small u, 2^255 − 1 and 2^256 − 1, each also with bit 255 set.
    fn edge_publics(rng: &mut ChaCha20Rng) -> Vec<[u8; 32]> {
        let mut keys: Vec<[u8; 32]> = crate::keys::test_low_order_keys()
            .iter()
            .map(|k| *k.as_bytes())
            .collect();
        keys.extend((0..19).map(p_plus));
        keys.extend((0..=20).map(small));
        keys.push([0xff; 32]);
        let mut below_p = p_plus(0);
        below_p[0] = 0xec - 1;
        keys.push(below_p);
        for _ in 0..32 {
            let mut u = [0u8; 32];
            rng.fill_bytes(&mut u);
            keys.push(u);
        }
        let high: Vec<[u8; 32]> = keys
            .iter()
            .map(|k| {
                let mut k = *k;
                k[31] ^= 0x80;
                k
            })
            .collect();
        keys.extend(high);
        keys
    }

    fn edge_secrets(rng: &mut ChaCha20Rng) -> Vec<[u8; 32]> {
        let mut secrets = vec![[0u8; 32], [0xff; 32], [1; 32], small(8), p_plus(0)];
        for _ in 0..4 {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            secrets.push(s);
        }
        secrets
    }

    fn same_as_dalek(secret: &[u8; 32], public: &[u8; 32]) {
        let native = Secret::from_bytes(*secret);
        let reference = portable::Secret::from_bytes(*secret);
        assert_eq!(
            native.native_diffie_hellman(public),
            reference.diffie_hellman(public),
            "secret {secret:02x?} public {public:02x?}"
        );
        // And the dalek answer is the raw X25519 function's, zero output refused.
        let raw = x25519_dalek::x25519(*secret, *public);
        assert_eq!(
            reference.diffie_hellman(public),
            (raw != [0; 32]).then_some(raw)
        );
    }

    #[test]
    fn public_keys_match_dalek() {
        let mut rng = ChaCha20Rng::seed_from_u64(25519);
        let mut secrets = edge_secrets(&mut rng);
        for _ in 0..200 {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            secrets.push(s);
        }
        for secret in secrets {
            let native = Secret::from_bytes(secret);
            assert_eq!(
                native.native_public_key(),
                Some(portable::Secret::from_bytes(secret).public_key()),
                "{secret:02x?}"
            );
            assert_eq!(
                native.public_key(),
                x25519_dalek::x25519(secret, x25519_dalek::X25519_BASEPOINT_BYTES)
            );
        }
    }

    #[test]
    fn agreement_matches_dalek_on_edge_keys() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let publics = edge_publics(&mut rng);
        for secret in edge_secrets(&mut rng) {
            for public in &publics {
                same_as_dalek(&secret, public);
            }
        }
    }

    #[test]
    fn agreement_matches_dalek_on_random_keys() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        for _ in 0..300 {
            let mut secret = [0u8; 32];
            let mut public = [0u8; 32];
            rng.fill_bytes(&mut secret);
            rng.fill_bytes(&mut public);
            same_as_dalek(&secret, &public);
        }
    }

    #[test]
    fn low_order_keys_are_refused_by_aws_lc_itself() {
        let secret = Secret::from_bytes([0x42; 32]);
        for key in crate::keys::test_low_order_keys() {
            assert_eq!(secret.native_diffie_hellman(key.as_bytes()), None);
            assert_eq!(secret.diffie_hellman(key.as_bytes()), None);
        }
        assert!(secret.native.get().is_some_and(Option::is_some));
    }

    #[test]
    fn keys_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Secret>();
        send_sync::<crate::keys::KeyPair>();
    }

    #[test]
    fn clones_share_the_key_object_and_keep_the_bytes() {
        let secret = Secret::from_bytes([9; 32]);
        let public = secret.public_key();
        let clone = secret.clone();
        assert_eq!(clone.as_bytes(), &[9; 32]);
        assert_eq!(clone.public_key(), public);
        assert!(clone.native.get().is_some());
    }
}
