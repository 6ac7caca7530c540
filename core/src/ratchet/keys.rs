//! The ratchet's symmetric keys, one newtype per role so they cannot be mixed up, and the
//! two KDFs that produce them (PROTOCOL §4).

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keys::DhOutput;

const ROOT_INFO: &[u8] = b"WhatsAppCloneRootKey";

macro_rules! secret_key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps 32 key bytes (from storage or an import).
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The key's bytes (for persistence; never log them).
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_key_type!(
    /// The root key `RK`, advanced by every DH ratchet step.
    RootKey
);
secret_key_type!(
    /// A sending or receiving chain key `CK`.
    ChainKey
);
secret_key_type!(
    /// A message key `mk`: seals or opens exactly one message.
    MessageKey
);

impl RootKey {
    /// `KDF_RK`: HKDF-SHA256 with the root key as salt and the DH output as input; the
    /// first 32 bytes are the new root key, the last 32 the new chain key.
    pub fn ratchet(&self, dh: &DhOutput) -> (RootKey, ChainKey) {
        kdf_rk(&self.0, dh.as_bytes())
    }

    /// The first step of every session: `KDF_RK(SK, 32 zero bytes)`.
    pub fn from_shared_secret(shared_secret: &[u8; 32]) -> (RootKey, ChainKey) {
        kdf_rk(shared_secret, &[0u8; 32])
    }
}

fn kdf_rk(salt: &[u8; 32], ikm: &[u8; 32]) -> (RootKey, ChainKey) {
    let mut okm = Zeroizing::new([0u8; 64]);
    // 64 bytes is far below HKDF-SHA256's output limit, so expansion cannot fail.
    let _ = quickchat_primitives::hkdf_sha256(salt, ikm, ROOT_INFO, okm.as_mut());
    let mut root = [0u8; 32];
    let mut chain = [0u8; 32];
    root.copy_from_slice(&okm[..32]);
    chain.copy_from_slice(&okm[32..]);
    (RootKey(root), ChainKey(chain))
}

impl ChainKey {
    /// `KDF_CK`: the message key `HMAC(ck, 0x02)` and the next chain key `HMAC(ck, 0x01)`.
    pub fn step(&self) -> (MessageKey, ChainKey) {
        let (next, message) = quickchat_primitives::hmac_sha256_pair(&self.0, &[0x01], &[0x02]);
        (MessageKey(message), ChainKey(next))
    }
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    use super::*;

    #[test]
    fn chain_step_matches_plain_hmac() {
        let ck = ChainKey::from_bytes([5; 32]);
        let (mk, next) = ck.step();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[5; 32]).unwrap();
        mac.update(&[2]);
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(mk.as_bytes(), &expected);
        assert_ne!(next.as_bytes(), mk.as_bytes());
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", MessageKey::from_bytes([1; 32])),
            "MessageKey(<redacted>)"
        );
    }
}
