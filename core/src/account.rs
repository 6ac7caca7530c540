//! Making an account's keys and bringing in a reference-client account.

use rand_core::CryptoRng;

use crate::keys::{IdentityKeyPair, OneTimePrekey, SignedPrekey};
use crate::reference::ImportedAccount;
use crate::session::{PeerSessions, Session, SessionOrigin};
use crate::store::{
    AccountMeta, IdentityRecord, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError,
    StoreOp, WriteBatch,
};

/// How many one-time prekeys a fresh account makes (the reference's number).
pub const INITIAL_ONE_TIME_PREKEYS: u32 = 100;

/// Why an account cannot be made or imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store already holds an identity; reset it first.
    #[error("the store already holds the identity of user {user_id}")]
    AlreadyExists {
        /// Whose.
        user_id: String,
    },
    /// The store holds no account to reset.
    #[error("the store holds no account: register or log in first")]
    NoAccount,
}

/// Makes the keys of a new account exactly as the reference client does — identity (one
/// draw), signed prekey id 1 (one draw), one-time prekeys 2..=101 (one draw each) — and saves
/// them as not yet uploaded.
pub async fn create_account<S: Store, R: CryptoRng + ?Sized>(
    store: &S,
    user_id: &str,
    now: i64,
    rng: &mut R,
) -> Result<IdentityKeyPair, AccountError> {
    create_account_from(store, user_id, 1, now, rng).await
}

/// As [`create_account`], with the prekey ids starting at `first_prekey_id` (the signed
/// prekey's) instead of 1: for a device that joins an account whose keys were published
/// before, so that its signed prekey gets an id the account has not used (peers that follow
/// the web client's policy notice new keys only through a new signed-prekey id).
pub async fn create_account_from<S: Store, R: CryptoRng + ?Sized>(
    store: &S,
    user_id: &str,
    first_prekey_id: u32,
    now: i64,
    rng: &mut R,
) -> Result<IdentityKeyPair, AccountError> {
    if let Some(existing) = store.identity().await? {
        return Err(AccountError::AlreadyExists {
            user_id: existing.user_id,
        });
    }
    let first_id = first_prekey_id.max(1);
    let (identity, batch) = new_keys(user_id, first_id, AccountMeta::default(), now, rng);
    store.commit(batch).await?;
    Ok(identity)
}

/// Replaces the account's identity, prekeys and sessions with new ones in **one** commit
/// (a crash leaves either the old account or the new one), as the web client's
/// `resetE2EE` does: the prekey id counter carries on, so the new signed prekey gets the
/// next free id and no id is ever published twice. Peers that follow the web client's
/// policy notice a reset only through a new signed-prekey id (PROTOCOL §8), so reusing id
/// 1 would leave them on the dead session. The saved login and the contacts are kept.
pub async fn reset_account<S: Store, R: CryptoRng + ?Sized>(
    store: &S,
    now: i64,
    rng: &mut R,
) -> Result<IdentityKeyPair, AccountError> {
    let existing = store.identity().await?.ok_or(AccountError::NoAccount)?;
    let meta = store.account_meta().await?.unwrap_or_default();
    let first_id = meta.next_prekey_id.max(1);
    let (identity, keys) = new_keys(&existing.user_id, first_id, meta, now, rng);
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::ClearKeys);
    for op in keys.into_ops() {
        batch.push(op);
    }
    store.commit(batch).await?;
    Ok(identity)
}

/// The writes that make a fresh identity, a signed prekey with id `first_id` and one-time
/// prekeys with the ids after it.
fn new_keys<R: CryptoRng + ?Sized>(
    user_id: &str,
    first_id: u32,
    kept: AccountMeta,
    now: i64,
    rng: &mut R,
) -> (IdentityKeyPair, WriteBatch) {
    let identity = IdentityKeyPair::generate(rng);
    let signed_prekey = SignedPrekey::generate(&identity, first_id, now, rng);
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutIdentity(IdentityRecord {
        user_id: user_id.to_string(),
        identity: identity.clone(),
        created_at: now,
    }));
    batch.push(StoreOp::PutSignedPrekey(SignedPrekeyRecord {
        prekey: signed_prekey,
        uploaded: false,
        retired_at: None,
    }));
    let first_one_time = first_id.saturating_add(1);
    for id in first_one_time..first_one_time.saturating_add(INITIAL_ONE_TIME_PREKEYS) {
        batch.push(StoreOp::PutOneTimePrekey(OneTimePrekeyRecord {
            prekey: OneTimePrekey::generate(id, rng),
            uploaded: false,
        }));
    }
    batch.push(StoreOp::PutAccountMeta(AccountMeta {
        next_prekey_id: first_one_time.saturating_add(INITIAL_ONE_TIME_PREKEYS),
        current_signed_prekey_id: Some(first_id),
        last_upload_at: None,
        // What is not key material carries over (the saved login, the contacts).
        ..kept
    }));
    (identity, batch)
}

/// Saves an account read from the reference client's storage, with its prekeys (and their
/// upload state) and sessions, in one commit. The sessions continue where the reference
/// client left them.
pub async fn import_account<S: Store>(
    store: &S,
    account: &ImportedAccount,
    now: i64,
) -> Result<(), AccountError> {
    if let Some(existing) = store.identity().await? {
        return Err(AccountError::AlreadyExists {
            user_id: existing.user_id,
        });
    }
    store.commit(imported_account_batch(account, now)).await?;
    Ok(())
}

/// The writes that save an imported account ([`import_account`] commits them into a store
/// without an identity): for a platform that converts the reference client's data apart
/// from the store it ends up in (the browser's importer is a module of its own).
pub fn imported_account_batch(account: &ImportedAccount, now: i64) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutIdentity(IdentityRecord {
        user_id: account.user_id.clone(),
        identity: account.identity.clone(),
        created_at: account.identity_created_at.unwrap_or(now),
    }));
    for spk in &account.signed_prekeys {
        let current = account.current_signed_prekey_id == Some(spk.prekey.id());
        batch.push(StoreOp::PutSignedPrekey(SignedPrekeyRecord {
            prekey: spk.prekey.clone(),
            uploaded: spk.uploaded,
            retired_at: (!current).then_some(now),
        }));
    }
    for otk in &account.one_time_prekeys {
        batch.push(StoreOp::PutOneTimePrekey(OneTimePrekeyRecord {
            prekey: otk.prekey.clone(),
            uploaded: otk.uploaded,
        }));
    }
    batch.push(StoreOp::PutAccountMeta(AccountMeta {
        next_prekey_id: account.next_prekey_id,
        current_signed_prekey_id: account.current_signed_prekey_id,
        last_upload_at: account.last_upload_at,
        login: None,
        ..AccountMeta::default()
    }));
    for imported in &account.sessions {
        let origin = if imported.responded {
            SessionOrigin::Responded {
                sender_ephemeral_key: None,
                initiator_ratchet_key: imported.initiator_ratchet_key,
            }
        } else {
            SessionOrigin::Initiated {
                remote_signed_prekey_id: imported.remote_signed_prekey_id.unwrap_or(0),
            }
        };
        batch.push(StoreOp::PutSessions(PeerSessions {
            peer_id: imported.peer_id.clone(),
            current: Session {
                ratchet: imported.ratchet.clone(),
                remote_identity_key: imported.remote_identity_key,
                pending_x3dh: imported.pending_x3dh,
                origin,
                created_at: imported.created_at.unwrap_or(now),
                updated_at: imported.updated_at.unwrap_or(now),
            },
            previous: Vec::new(),
        }));
        batch.push(StoreOp::PutKnownIdentity(crate::store::KnownIdentity {
            peer_id: imported.peer_id.clone(),
            identity_key: imported.remote_identity_key,
            signing_key: None,
            first_seen: imported.created_at.unwrap_or(now),
            verified: false,
            unaccepted_change_from: None,
        }));
    }
    batch
}
