//! Moving an account between the places it can live (the web app's database through the npm
//! package, the npm package's own store, a native store, Python): one sealed, versioned file
//! holding everything that makes this device this device.
//!
//! # The file
//!
//! ```text
//! magic     8 bytes   "QCACCT\0\n"
//! version   2 bytes   big-endian, 1
//! length    4 bytes   big-endian, of the header
//! header    JSON      {"kdf": {salt, memoryKib, iterations, parallelism}, "check": base64}
//! payload   the rest  AES-256-GCM (12-byte nonce ‖ ciphertext ‖ tag) of the account's JSON,
//!                     with everything before it as associated data
//! ```
//!
//! The key is Argon2id of the passphrase given at export, with the costs the stores use
//! (19 MiB, 2 passes); the header's costs are bounded as a store header's are. The `check`
//! value tells a wrong passphrase from a damaged file. Nothing secret is in the clear: the
//! header holds only the salt, the costs and the check value. The payload ([`AccountArchive`])
//! is the store's own records, in their JSON form: identity, the prekey counter and every
//! prekey with its upload state, every peer's sessions with their ratchet state (and a first
//! message's pending X3DH data), the known identities and verifications, and optionally the
//! history.
//!
//! # One place at a time
//!
//! Two places using one account would both advance the same ratchets and both publish prekeys:
//! the peers' messages would fail to decrypt in one of them. So an export marks the source
//! moved ([`AccountMeta::moved_at`]); a client on a moved store refuses to connect and send
//! ([`ClientError::AccountMoved`](crate::ClientError::AccountMoved)) until it is re-activated
//! explicitly.

mod file;
mod io;

use serde::{Deserialize, Serialize};

use crate::session::PeerSessions;
use crate::store::{
    AccountMeta, IdentityRecord, KnownIdentity, MessageRecord, OneTimePrekeyRecord,
    SignedPrekeyRecord, StoreError,
};

pub use file::{FORMAT_VERSION, MAGIC, open_archive, seal_archive};
pub use io::{
    ExportOptions, ImportOptions, export_account, import_account, import_archive,
    reactivate_account,
};

/// Everything an account's device holds, as the archive carries it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountArchive {
    /// When it was exported, ms.
    pub exported_at: i64,
    /// The identity (user id and key pairs).
    pub identity: IdentityRecord,
    /// The prekey counter and upload state, the saved login and the contacts.
    pub meta: AccountMeta,
    /// Every signed prekey kept (the current one and those kept for late first messages).
    pub signed_prekeys: Vec<SignedPrekeyRecord>,
    /// Every one-time prekey not used yet.
    pub one_time_prekeys: Vec<OneTimePrekeyRecord>,
    /// Every peer's sessions.
    pub sessions: Vec<PeerSessions>,
    /// The peers' identity keys as first seen and their verifications.
    pub known_identities: Vec<KnownIdentity>,
    /// The history, when exported with it.
    #[serde(default)]
    pub messages: Vec<MessageRecord>,
}

impl AccountArchive {
    /// The account's user id.
    pub fn user_id(&self) -> &str {
        &self.identity.user_id
    }
}

/// Why an archive cannot be made, read or imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// The passphrase does not open this file.
    #[error("wrong passphrase for this account file")]
    WrongPassphrase,
    /// The file is not an account file of this SDK, or is damaged or cut short.
    #[error("the account file is damaged or not an account file: {detail}")]
    Damaged {
        /// What is wrong.
        detail: String,
    },
    /// The file was written by a newer version of the SDK.
    #[error(
        "the account file has format version {found}; this version of the SDK reads up to {supported}: update it"
    )]
    NewerVersion {
        /// The file's version.
        found: u16,
        /// The newest this build reads.
        supported: u16,
    },
    /// The store holds no account to export.
    #[error("the store holds no account to export")]
    NoAccount,
    /// The store already holds an account; importing would replace it.
    #[error(
        "the store already holds the account of user {user_id}; import with `replace` to overwrite it"
    )]
    StoreHoldsAccount {
        /// Whose account it holds.
        user_id: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ArchiveError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::WrongPassphrase => "wrong_passphrase",
            ArchiveError::Damaged { .. } => "archive_damaged",
            ArchiveError::NewerVersion { .. } => "archive_too_new",
            ArchiveError::NoAccount => "not_initialized",
            ArchiveError::StoreHoldsAccount { .. } => "account_exists",
            ArchiveError::Store(e) => e.code(),
        }
    }
}
