//! The Double Ratchet as the reference client computes it (PROTOCOL §4), with the three
//! fixes the protocol asks for: skipped keys are looked up first, the old receiving chain's
//! keys are kept up to `previousChainLength` before a DH step, and decryption works on a
//! candidate state that replaces the real one only once the message has authenticated.

pub(crate) mod keys;
mod secretbox;
mod skipped;
mod state;
mod work;

pub(crate) use keys::{ChainKey, MessageKey, RootKey};
pub use secretbox::{NONCE_LEN, TAG_LEN};
pub use skipped::{MAX_SKIP_PER_STEP, MAX_SKIPPED_TOTAL, SkippedKeys};
pub use state::{Encrypted, Header, RatchetError, RatchetState};
pub use work::{DH_IN_CHAIN_STEPS, Work};
