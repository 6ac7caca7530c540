//! Reading an account out of a store into an archive, and writing an archive into a store.

use std::collections::BTreeSet;

use rand_core::CryptoRng;

use super::file::{open_archive, seal_archive};
use super::{AccountArchive, ArchiveError};
use crate::store::sealing::KdfStrength;
use crate::store::{Conversation, MessageQuery, Store, StoreOp, WriteBatch};

/// How to export.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportOptions {
    /// Also the local history (messages); without it only keys, sessions and trust.
    pub history: bool,
    /// The passphrase derivation's cost ([`KdfStrength::Recommended`] for real files).
    pub strength: KdfStrength,
}

/// How to import.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions {
    /// Replace the account the store holds, if any (its keys and sessions are lost; another
    /// user's history goes too).
    pub replace: bool,
}

/// Exports the account of `store`, sealed under `passphrase`, and marks the store moved
/// ([`AccountMeta::moved_at`](crate::store::AccountMeta::moved_at)) in the same step: the
/// file is handed out only once the mark is saved. Reading the store changes nothing else.
pub async fn export_account<S: Store + ?Sized, R: CryptoRng + ?Sized>(
    store: &S,
    passphrase: &str,
    options: ExportOptions,
    now: i64,
    rng: &mut R,
) -> Result<Vec<u8>, ArchiveError> {
    let archive = read_account(store, options.history, now).await?;
    let file = seal_archive(&archive, passphrase, options.strength, rng)?;
    let mut meta = archive.meta;
    meta.moved_at = Some(now);
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutAccountMeta(meta));
    store.commit(batch).await?;
    Ok(file)
}

async fn read_account<S: Store + ?Sized>(
    store: &S,
    history: bool,
    now: i64,
) -> Result<AccountArchive, ArchiveError> {
    let identity = store.identity().await?.ok_or(ArchiveError::NoAccount)?;
    let mut meta = store.account_meta().await?.unwrap_or_default();
    // The mark belongs to this store, not to the account.
    meta.moved_at = None;
    let mut sessions = Vec::new();
    let mut peers: BTreeSet<String> = meta.contacts.keys().cloned().collect();
    for peer in store.session_peer_ids().await? {
        if let Some(peer_sessions) = store.peer_sessions(&peer).await? {
            sessions.push(peer_sessions);
        }
        peers.insert(peer);
    }
    let messages = if history {
        store.messages(&MessageQuery::default()).await?
    } else {
        Vec::new()
    };
    for message in &messages {
        if let Conversation::Direct(peer) = &message.conversation {
            peers.insert(peer.clone());
        }
    }
    let mut known_identities = Vec::new();
    for peer in &peers {
        if let Some(known) = store.known_identity(peer).await? {
            known_identities.push(known);
        }
    }
    Ok(AccountArchive {
        exported_at: now,
        identity,
        meta,
        signed_prekeys: store.signed_prekeys().await?,
        one_time_prekeys: store.one_time_prekeys().await?,
        sessions,
        known_identities,
        messages,
    })
}

/// Opens an account file with `passphrase` and writes the account into `store` in one
/// atomic commit. Refuses a store that holds an account unless `options.replace`, and a
/// damaged, too new or wrong-passphrase file; a refusal changes nothing. Returns what was
/// imported.
pub async fn import_account<S: Store + ?Sized>(
    store: &S,
    file: &[u8],
    passphrase: &str,
    options: ImportOptions,
) -> Result<AccountArchive, ArchiveError> {
    import_archive(store, open_archive(file, passphrase)?, options).await
}

/// Writes an account already opened ([`open_archive`]) into `store`, as [`import_account`]
/// does: one atomic commit, refused (changing nothing) when the store holds an account and
/// `options.replace` is not set. For a platform that opens files apart from where its store
/// lives (the browser opens them in a module of its own, loaded only then). Returns `archive`.
pub async fn import_archive<S: Store + ?Sized>(
    store: &S,
    archive: AccountArchive,
    options: ImportOptions,
) -> Result<AccountArchive, ArchiveError> {
    let mut batch = WriteBatch::new();
    if let Some(existing) = store.identity().await? {
        if !options.replace {
            return Err(ArchiveError::StoreHoldsAccount {
                user_id: existing.user_id,
            });
        }
        batch.push(StoreOp::ClearKeys);
        if existing.user_id != archive.user_id() {
            // Another user's history does not belong to the imported account.
            for message in store.messages(&MessageQuery::default()).await? {
                batch.push(StoreOp::DeleteMessage(message.id));
            }
        }
    }
    batch.push(StoreOp::PutIdentity(archive.identity.clone()));
    let mut meta = archive.meta.clone();
    meta.moved_at = None;
    batch.push(StoreOp::PutAccountMeta(meta));
    for record in &archive.signed_prekeys {
        batch.push(StoreOp::PutSignedPrekey(record.clone()));
    }
    for record in &archive.one_time_prekeys {
        batch.push(StoreOp::PutOneTimePrekey(record.clone()));
    }
    for sessions in &archive.sessions {
        batch.push(StoreOp::PutSessions(sessions.clone()));
    }
    for known in &archive.known_identities {
        batch.push(StoreOp::PutKnownIdentity(known.clone()));
    }
    for message in &archive.messages {
        batch.push(StoreOp::PutMessage(message.clone()));
    }
    store.commit(batch).await?;
    Ok(archive)
}

/// Clears the moved mark of a store whose account was exported, so that a client can use it
/// again. Only when the account is not in use elsewhere: both places would advance the same
/// ratchets.
pub async fn reactivate_account<S: Store + ?Sized>(store: &S) -> Result<(), ArchiveError> {
    let mut meta = store.account_meta().await?.ok_or(ArchiveError::NoAccount)?;
    if meta.moved_at.take().is_none() {
        return Ok(());
    }
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutAccountMeta(meta));
    store.commit(batch).await?;
    Ok(())
}
