//! Ratchet state and the encrypt / decrypt steps.

use std::fmt;

use rand_core::CryptoRng;

use super::secretbox::{self, NONCE_LEN, OpenError};
use super::{ChainKey, MAX_SKIP_PER_STEP, MessageKey, RootKey, SkippedKeys, Work};
use crate::keys::{KeyPair, PublicKey};

/// The ratchet header sent with every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The sender's current ratchet public key.
    pub ratchet_key: PublicKey,
    /// Length of the sender's previous sending chain (`PN`).
    pub previous_chain_length: u32,
    /// Number of this message in its chain (`N`).
    pub message_number: u32,
}

/// One sealed message: its header and `nonce ‖ tag ‖ ciphertext`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encrypted {
    /// The header.
    pub header: Header,
    /// The sealed bytes.
    pub ciphertext: Vec<u8>,
}

/// Why the ratchet refused to encrypt or decrypt. The state is unchanged in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatchetError {
    /// The message's key was already used (a duplicate) or discarded.
    #[error(
        "message {message_number} of this chain was already decrypted or its key was discarded"
    )]
    DuplicateMessage {
        /// The message number.
        message_number: u32,
    },
    /// The message would skip more keys than one step may.
    #[error(
        "Exceeded maximum skip limit: message {message_number} would skip {skipped} keys (limit {limit})"
    )]
    TooManySkipped {
        /// The message number.
        message_number: u32,
        /// How many keys it would skip.
        skipped: u64,
        /// The limit.
        limit: u32,
    },
    /// The ciphertext is too short to hold a nonce and a tag.
    #[error("ciphertext of {len} bytes is shorter than a nonce and a tag")]
    CiphertextTooShort {
        /// Length found.
        len: usize,
    },
    /// The message does not authenticate under the key this session derives for it: it was
    /// altered, or it belongs to another session.
    #[error("message authentication failed")]
    Authentication,
    /// The session cannot answer a new ratchet key: it has no ratchet key pair (a responder
    /// session that has never sent, receiving from an unknown chain).
    #[error("session has no ratchet key pair to follow the peer's new ratchet key")]
    NoRatchetKeyPair,
    /// The session has neither a sending chain nor a peer ratchet key to start one.
    #[error("session cannot send: no sending chain and no peer ratchet key")]
    CannotSend,
    /// A chain counter would overflow.
    #[error("chain counter overflow")]
    CounterOverflow,
    /// The peer's ratchet key is of low order: the DH step would give the all-zero secret
    /// anyone can compute (RFC 7748 §6.1).
    #[error("refused a low-order ratchet key")]
    LowOrderKey,
}

/// The full ratchet state of one session, field for field the reference client's.
#[derive(Clone, PartialEq, Eq)]
pub struct RatchetState {
    pub(crate) root_key: RootKey,
    pub(crate) sending_chain_key: Option<ChainKey>,
    pub(crate) receiving_chain_key: Option<ChainKey>,
    pub(crate) ratchet_key_pair: Option<KeyPair>,
    pub(crate) remote_ratchet_key: Option<PublicKey>,
    pub(crate) sending_chain_length: u32,
    pub(crate) receiving_chain_length: u32,
    pub(crate) previous_sending_chain_length: u32,
    pub(crate) skipped: SkippedKeys,
}

/// What a successful decryption changes, computed before the message is opened.
enum Change {
    /// A stashed key opened it: forget that key.
    UsedSkipped,
    /// Same receiving chain: advance it, stash the keys passed over.
    Advance {
        chain_key: ChainKey,
        length: u32,
        skipped: Vec<((PublicKey, u32), MessageKey)>,
    },
    /// A new peer ratchet key: the DH step and everything it replaces.
    DhStep(Box<DhStepChange>),
}

struct DhStepChange {
    root_key: RootKey,
    receiving_chain_key: ChainKey,
    receiving_chain_length: u32,
    sending_chain_key: ChainKey,
    ratchet_key_pair: KeyPair,
    remote_ratchet_key: PublicKey,
    previous_sending_chain_length: u32,
    skipped: Vec<((PublicKey, u32), MessageKey)>,
}

impl RatchetState {
    /// The initiator's state after X3DH: `(RK, CKs) = KDF_RK(SK, 0)` and a fresh ratchet key
    /// pair (one 32-byte draw).
    pub fn initiator<R: CryptoRng + ?Sized>(shared_secret: &[u8; 32], rng: &mut R) -> Self {
        let (root_key, chain_key) = RootKey::from_shared_secret(shared_secret);
        Self {
            root_key,
            sending_chain_key: Some(chain_key),
            receiving_chain_key: None,
            ratchet_key_pair: Some(KeyPair::generate(rng)),
            remote_ratchet_key: None,
            sending_chain_length: 0,
            receiving_chain_length: 0,
            previous_sending_chain_length: 0,
            skipped: SkippedKeys::default(),
        }
    }

    /// The responder's state on a first message: `(RK, CKr) = KDF_RK(SK, 0)` and the
    /// initiator's ratchet key from the message header.
    pub fn responder(shared_secret: &[u8; 32], remote_ratchet_key: PublicKey) -> Self {
        let (root_key, chain_key) = RootKey::from_shared_secret(shared_secret);
        Self {
            root_key,
            sending_chain_key: None,
            receiving_chain_key: Some(chain_key),
            ratchet_key_pair: None,
            remote_ratchet_key: Some(remote_ratchet_key),
            sending_chain_length: 0,
            receiving_chain_length: 0,
            previous_sending_chain_length: 0,
            skipped: SkippedKeys::default(),
        }
    }

    /// Seals `plaintext`: a sending DH step first if there is no sending chain (one
    /// 32-byte draw), then one 24-byte nonce draw.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Encrypted, RatchetError> {
        if self.sending_chain_key.is_none() {
            let remote = self.remote_ratchet_key.ok_or(RatchetError::CannotSend)?;
            let pair = KeyPair::generate(rng);
            let dh = pair
                .secret()
                .diffie_hellman(&remote)
                .map_err(|_| RatchetError::LowOrderKey)?;
            let (root_key, chain_key) = self.root_key.ratchet(&dh);
            self.previous_sending_chain_length = self.sending_chain_length;
            self.root_key = root_key;
            self.sending_chain_key = Some(chain_key);
            self.ratchet_key_pair = Some(pair);
            self.sending_chain_length = 0;
        }
        let next_length = self
            .sending_chain_length
            .checked_add(1)
            .ok_or(RatchetError::CounterOverflow)?;
        let (Some(chain_key), Some(pair)) = (&self.sending_chain_key, &self.ratchet_key_pair)
        else {
            return Err(RatchetError::CannotSend);
        };
        let (message_key, next_chain_key) = chain_key.step();
        let header = Header {
            ratchet_key: *pair.public(),
            previous_chain_length: self.previous_sending_chain_length,
            message_number: self.sending_chain_length,
        };
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let ciphertext = secretbox::seal(&message_key, &nonce, plaintext);
        self.sending_chain_key = Some(next_chain_key);
        self.sending_chain_length = next_length;
        Ok(Encrypted { header, ciphertext })
    }

    /// Opens a message. The state changes only if the message authenticates; on any error
    /// it is exactly as before. A DH step takes one 32-byte draw (even when the message then
    /// fails to authenticate).
    pub fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        header: &Header,
        ciphertext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, RatchetError> {
        self.decrypt_metered(header, ciphertext, rng, &mut Work::default())
    }

    /// As [`RatchetState::decrypt`], adding to `work` what the attempt derived, whether it
    /// succeeds or not. Headers that would skip too far, and low-order ratchet keys, are
    /// refused before anything is derived.
    pub fn decrypt_metered<R: CryptoRng + ?Sized>(
        &mut self,
        header: &Header,
        ciphertext: &[u8],
        rng: &mut R,
        work: &mut Work,
    ) -> Result<Vec<u8>, RatchetError> {
        if ciphertext.len() < NONCE_LEN + secretbox::TAG_LEN {
            return Err(RatchetError::CiphertextTooShort {
                len: ciphertext.len(),
            });
        }
        let (message_key, change) = self.plan(header, rng, work)?;
        let plaintext = secretbox::open(&message_key, ciphertext).map_err(|e| match e {
            OpenError::TooShort => RatchetError::CiphertextTooShort {
                len: ciphertext.len(),
            },
            OpenError::Forged => RatchetError::Authentication,
        })?;
        self.apply(header, change);
        Ok(plaintext)
    }

    /// Works out the message key and the change that opening the message would make,
    /// without touching `self`.
    fn plan<R: CryptoRng + ?Sized>(
        &self,
        header: &Header,
        rng: &mut R,
        work: &mut Work,
    ) -> Result<(MessageKey, Change), RatchetError> {
        let n = header.message_number;
        if let Some(key) = self.skipped.get(&header.ratchet_key, n) {
            return Ok((key.clone(), Change::UsedSkipped));
        }

        if let (Some(remote), Some(chain_key)) =
            (&self.remote_ratchet_key, &self.receiving_chain_key)
            && *remote == header.ratchet_key
        {
            if n < self.receiving_chain_length {
                return Err(RatchetError::DuplicateMessage { message_number: n });
            }
            let (message_key, chain_key, skipped) =
                walk_chain(chain_key, remote, self.receiving_chain_length, n, work)?;
            let length = n.checked_add(1).ok_or(RatchetError::CounterOverflow)?;
            return Ok((
                message_key,
                Change::Advance {
                    chain_key,
                    length,
                    skipped,
                },
            ));
        }

        // A new peer ratchet key. Everything that can refuse it without deriving comes
        // first: a hostile header then costs no work.
        let own_pair = self
            .ratchet_key_pair
            .as_ref()
            .ok_or(RatchetError::NoRatchetKeyPair)?;
        if header.ratchet_key.is_low_order() {
            return Err(RatchetError::LowOrderKey);
        }
        check_skip(n, 0)?;
        // Keep the old chain's keys the peer says it used.
        let mut skipped = Vec::new();
        if let (Some(remote), Some(chain_key)) =
            (&self.remote_ratchet_key, &self.receiving_chain_key)
            && header.previous_chain_length > self.receiving_chain_length
        {
            check_skip(header.previous_chain_length, self.receiving_chain_length)?;
            let mut key = chain_key.clone();
            for i in self.receiving_chain_length..header.previous_chain_length {
                let (message_key, next) = key.step();
                work.add_steps(1);
                skipped.push(((*remote, i), message_key));
                key = next;
            }
        }
        let low_order = |_| RatchetError::LowOrderKey;
        work.add_dh();
        let receiving_dh = own_pair
            .secret()
            .diffie_hellman(&header.ratchet_key)
            .map_err(low_order)?;
        let (root_key, receiving_chain_key) = self.root_key.ratchet(&receiving_dh);
        work.add_dh();
        let new_pair = KeyPair::generate(rng);
        work.add_dh();
        let sending_dh = new_pair
            .secret()
            .diffie_hellman(&header.ratchet_key)
            .map_err(low_order)?;
        let (root_key, sending_chain_key) = root_key.ratchet(&sending_dh);
        let (message_key, receiving_chain_key, new_skipped) =
            walk_chain(&receiving_chain_key, &header.ratchet_key, 0, n, work)?;
        skipped.extend(new_skipped);
        let receiving_chain_length = n.checked_add(1).ok_or(RatchetError::CounterOverflow)?;
        Ok((
            message_key,
            Change::DhStep(Box::new(DhStepChange {
                root_key,
                receiving_chain_key,
                receiving_chain_length,
                sending_chain_key,
                ratchet_key_pair: new_pair,
                remote_ratchet_key: header.ratchet_key,
                previous_sending_chain_length: self.sending_chain_length,
                skipped,
            })),
        ))
    }

    fn apply(&mut self, header: &Header, change: Change) {
        match change {
            Change::UsedSkipped => self
                .skipped
                .remove(&header.ratchet_key, header.message_number),
            Change::Advance {
                chain_key,
                length,
                skipped,
            } => {
                self.receiving_chain_key = Some(chain_key);
                self.receiving_chain_length = length;
                self.skipped.extend(skipped);
            }
            Change::DhStep(step) => {
                let step = *step;
                self.root_key = step.root_key;
                self.receiving_chain_key = Some(step.receiving_chain_key);
                self.receiving_chain_length = step.receiving_chain_length;
                self.sending_chain_key = Some(step.sending_chain_key);
                self.sending_chain_length = 0;
                self.ratchet_key_pair = Some(step.ratchet_key_pair);
                self.remote_ratchet_key = Some(step.remote_ratchet_key);
                self.previous_sending_chain_length = step.previous_sending_chain_length;
                self.skipped.extend(step.skipped);
            }
        }
    }

    /// The current ratchet public key, if the session has sent or can send.
    pub fn ratchet_public_key(&self) -> Option<&PublicKey> {
        self.ratchet_key_pair.as_ref().map(KeyPair::public)
    }

    /// The peer's current ratchet public key.
    pub fn remote_ratchet_key(&self) -> Option<&PublicKey> {
        self.remote_ratchet_key.as_ref()
    }

    /// Messages sent in the current sending chain (`Ns`).
    pub fn sending_chain_length(&self) -> u32 {
        self.sending_chain_length
    }

    /// Messages received in the current receiving chain (`Nr`).
    pub fn receiving_chain_length(&self) -> u32 {
        self.receiving_chain_length
    }

    /// Length of the previous sending chain (`PN`).
    pub fn previous_sending_chain_length(&self) -> u32 {
        self.previous_sending_chain_length
    }

    /// The stashed keys of messages not yet received.
    pub fn skipped_keys(&self) -> &SkippedKeys {
        &self.skipped
    }

    /// The sending chain: the ratchet public key that names it, its key and `Ns`.
    pub(crate) fn sending_chain(&self) -> Option<(&PublicKey, &ChainKey, u32)> {
        match (&self.ratchet_key_pair, &self.sending_chain_key) {
            (Some(pair), Some(chain_key)) => {
                Some((pair.public(), chain_key, self.sending_chain_length))
            }
            _ => None,
        }
    }

    /// Moves the sending chain on to `Ns = length`, dropping the message keys passed over
    /// unused (their numbers are never sent; a receiver skips them). Does nothing when the
    /// chain is already there or past it.
    pub(crate) fn skip_sending_to(&mut self, length: u32) {
        let Some(mut chain_key) = self.sending_chain_key.take() else {
            return;
        };
        while self.sending_chain_length < length {
            chain_key = chain_key.step().1;
            self.sending_chain_length += 1;
        }
        self.sending_chain_key = Some(chain_key);
    }

    /// Puts the sending chain back at `Ns = length` with key `chain_key` (a position this
    /// state was at before [`RatchetState::skip_sending_to`] moved it on).
    pub(crate) fn set_sending(&mut self, chain_key: ChainKey, length: u32) {
        self.sending_chain_key = Some(chain_key);
        self.sending_chain_length = length;
    }
}

fn check_skip(target: u32, from: u32) -> Result<(), RatchetError> {
    let skipped = u64::from(target).saturating_sub(u64::from(from));
    if skipped > u64::from(MAX_SKIP_PER_STEP) {
        return Err(RatchetError::TooManySkipped {
            message_number: target,
            skipped,
            limit: MAX_SKIP_PER_STEP,
        });
    }
    Ok(())
}

type Walked = (MessageKey, ChainKey, Vec<((PublicKey, u32), MessageKey)>);

/// Advances a receiving chain from message `from` to message `to`, stashing the keys of the
/// messages in between, and returns the key of message `to` and the chain key after it.
fn walk_chain(
    chain_key: &ChainKey,
    ratchet_key: &PublicKey,
    from: u32,
    to: u32,
    work: &mut Work,
) -> Result<Walked, RatchetError> {
    check_skip(to, from)?;
    let mut skipped = Vec::with_capacity((to - from) as usize);
    let mut key = chain_key.clone();
    for i in from..to {
        let (message_key, next) = key.step();
        work.add_steps(1);
        skipped.push(((*ratchet_key, i), message_key));
        key = next;
    }
    let (message_key, next) = key.step();
    work.add_steps(1);
    Ok((message_key, next, skipped))
}

impl fmt::Debug for RatchetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatchetState")
            .field("root_key", &self.root_key)
            .field("sending_chain_key", &self.sending_chain_key)
            .field("receiving_chain_key", &self.receiving_chain_key)
            .field("ratchet_key_pair", &self.ratchet_key_pair)
            .field("remote_ratchet_key", &self.remote_ratchet_key)
            .field("sending_chain_length", &self.sending_chain_length)
            .field("receiving_chain_length", &self.receiving_chain_length)
            .field(
                "previous_sending_chain_length",
                &self.previous_sending_chain_length,
            )
            .field("skipped", &self.skipped)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::keys::test_low_order_keys as low_order_keys;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    /// Alice and Bob after one message each way.
    fn established(rng: &mut ChaCha20Rng) -> (RatchetState, RatchetState) {
        let mut alice = RatchetState::initiator(&[7; 32], rng);
        let first = alice.encrypt(b"one", rng).unwrap();
        let mut bob = RatchetState::responder(&[7; 32], first.header.ratchet_key);
        bob.decrypt(&first.header, &first.ciphertext, rng).unwrap();
        let reply = bob.encrypt(b"two", rng).unwrap();
        alice
            .decrypt(&reply.header, &reply.ciphertext, rng)
            .unwrap();
        (alice, bob)
    }

    #[test]
    fn a_low_order_ratchet_key_is_refused_before_any_work() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (mut alice, mut bob) = established(&mut rng);
        let real = alice.encrypt(b"three", &mut rng).unwrap();
        let before = bob.clone();
        for key in low_order_keys() {
            let header = Header {
                ratchet_key: key,
                previous_chain_length: 999,
                message_number: 999,
            };
            let mut work = Work::default();
            assert_eq!(
                bob.decrypt_metered(&header, &real.ciphertext, &mut rng, &mut work),
                Err(RatchetError::LowOrderKey),
                "{key:?}"
            );
            assert_eq!(work, Work::default());
            assert!(bob == before);
        }
        assert_eq!(
            bob.decrypt(&real.header, &real.ciphertext, &mut rng),
            Ok(b"three".to_vec())
        );
    }

    #[test]
    fn sending_to_a_low_order_ratchet_key_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for key in low_order_keys() {
            let mut state = RatchetState::responder(&[7; 32], key);
            let before = state.clone();
            assert_eq!(
                state.encrypt(b"hi", &mut rng),
                Err(RatchetError::LowOrderKey)
            );
            assert!(state == before);
        }
    }

    #[test]
    fn a_max_skip_forgery_reports_its_work_and_changes_nothing() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (_, mut bob) = established(&mut rng);
        let before = bob.clone();
        let forged = Header {
            ratchet_key: *KeyPair::generate(&mut rng).public(),
            previous_chain_length: 999,
            message_number: 999,
        };
        let mut work = Work::default();
        let result = bob.decrypt_metered(&forged, &[0u8; 64], &mut rng, &mut work);
        assert_eq!(result, Err(RatchetError::Authentication));
        // Bob had received 1 message on Alice's chain: 998 old-chain steps, 1000 new.
        assert_eq!(
            work,
            Work {
                chain_steps: 998 + 1000,
                dh: 3
            }
        );
        assert!(bob == before);
    }

    #[test]
    fn a_skip_beyond_the_limit_is_refused_before_any_work() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (_, mut bob) = established(&mut rng);
        let forged = Header {
            ratchet_key: *KeyPair::generate(&mut rng).public(),
            previous_chain_length: 999,
            message_number: MAX_SKIP_PER_STEP + 1,
        };
        let mut work = Work::default();
        assert!(matches!(
            bob.decrypt_metered(&forged, &[0u8; 64], &mut rng, &mut work),
            Err(RatchetError::TooManySkipped { .. })
        ));
        assert_eq!(work, Work::default());
    }

    /// The whole `Debug` output of a state, pinned: counters and public keys only.
    #[test]
    fn debug_snapshot() {
        let mut state = RatchetState::responder(&[1; 32], PublicKey::from_bytes([2; 32]));
        state.ratchet_key_pair = Some(KeyPair::from_secret(SecretKey::from_bytes([3; 32])));
        state.sending_chain_key = Some(ChainKey::from_bytes([4; 32]));
        assert_eq!(
            format!("{state:?}"),
            "RatchetState { root_key: RootKey(<redacted>), \
             sending_chain_key: Some(ChainKey(<redacted>)), \
             receiving_chain_key: Some(ChainKey(<redacted>)), \
             ratchet_key_pair: Some(KeyPair { public: PublicKey(Xf7dO2vUf2+ijuFdlp1bsOpTd01Ii9r53xxuASSz7yI=), secret: SecretKey(<redacted>) }), \
             remote_ratchet_key: Some(PublicKey(AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=)), \
             sending_chain_length: 0, receiving_chain_length: 0, previous_sending_chain_length: 0, \
             skipped: SkippedKeys(0 keys) }"
        );
    }
}
