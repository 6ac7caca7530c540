//! [`RedbStore`]: the handle, its public methods and core's [`Store`] over it. Opening is in
//! `open` and `create`, reads in `reads`, commits in `writes` and `group_commit`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use quickchat_core::session::PeerSessions;
use quickchat_core::store::{
    AccountMeta, Conversation, IdentityRecord, KnownIdentity, MessageQuery, MessageRecord,
    OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, WriteBatch,
};
use redb::Database;
use zeroize::Zeroizing;

use super::error::db_error;
use super::group_commit::Pending;
use super::layout::{
    ACCOUNT, ACCOUNT_IDENTITY, ACCOUNT_META, KNOWN_IDENTITIES, ONE_TIME_PREKEYS, SIGNED_PREKEYS,
};
use super::open::open_inner;
use super::options::{Durability, StoreOptions};
use super::run::{blocking, catch_panic};
use quickchat_core::store::sealing::Sealer;
use rand_chacha::ChaCha20Rng;

/// A persistent, encrypted [`Store`] in one redb file. See the [module docs](super) for the
/// file layout, what is encrypted, durability and costs.
///
/// Cheap to share: wrap it in an `Arc` (core forwards [`Store`] through `Arc`).
pub struct RedbStore {
    inner: Arc<Inner>,
}

/// An open store: reads in `reads`, writes in `writes` and `group_commit`.
pub(crate) struct Inner {
    pub(super) db: Database,
    pub(super) sealer: Sealer<ChaCha20Rng>,
    path: PathBuf,
    pub(super) durability: Durability,
    /// Batches waiting to be committed.
    pub(super) queue: Mutex<Vec<Arc<Pending>>>,
    /// Held by the thread writing the queued batches.
    pub(super) leader: Mutex<()>,
    /// Makes every commit fail before its op of this index (tests of atomicity).
    #[cfg(test)]
    pub(crate) fail_after_ops: Mutex<Option<usize>>,
}

impl Inner {
    /// A store over `db`, opened or created, with the key already checked.
    pub(super) fn new(
        db: Database,
        sealer: Sealer<ChaCha20Rng>,
        path: &Path,
        durability: Durability,
    ) -> Self {
        Self {
            db,
            sealer,
            path: path.to_path_buf(),
            durability,
            queue: Mutex::new(Vec::new()),
            leader: Mutex::new(()),
            #[cfg(test)]
            fail_after_ops: Mutex::new(None),
        }
    }
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.inner.path)
            .field("durability", &self.inner.durability)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl RedbStore {
    /// Opens the store at `path`, creating it if there is no file there, with the default
    /// [`StoreOptions`].
    ///
    /// An existing store is opened only after `passphrase` has been checked against its
    /// stored check value ([`StoreError::WrongPassphrase`] otherwise); a file that is not a
    /// quickchat store, or is damaged, gives [`StoreError::Corrupt`] and is left as it was. A
    /// store that is already open (in this process or another) gives
    /// [`StoreError::InUse`] at once. The Argon2id derivation (tens of ms) and the file work
    /// run on tokio's blocking pool when called inside a tokio runtime.
    pub async fn open(path: impl AsRef<Path>, passphrase: &str) -> Result<Self, StoreError> {
        Self::open_with(path, passphrase, StoreOptions::default()).await
    }

    /// [`RedbStore::open`] with options.
    pub async fn open_with(
        path: impl AsRef<Path>,
        passphrase: &str,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let passphrase = Zeroizing::new(passphrase.to_string());
        blocking(move || Self::open_blocking(&path, &passphrase, options)).await
    }

    /// [`RedbStore::open_with`] on the calling thread (it blocks for the key derivation and
    /// the file work), for callers outside an async runtime.
    pub fn open_blocking(
        path: impl AsRef<Path>,
        passphrase: &str,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref();
        // redb may panic on a file damaged outside it; report that as damage.
        let inner = catch_panic(&format!("opening {}", path.display()), || {
            open_inner(path, passphrase, &options)
        })?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Makes every commit so far durable (only needed with [`Durability::Deferred`]).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.flush()).await
    }

    /// Closes the store, reporting a failure to write its clean-shutdown state (dropping it
    /// does the same silently). Work still running on the blocking pool keeps the file open
    /// until it ends.
    pub fn close(self) -> Result<(), StoreError> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner
                .db
                .close()
                .map_err(|e| db_error("closing the store", e)),
            Err(_) => Ok(()),
        }
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Runs work whose cost grows with the data, or that waits for the disk, off the async
    /// executor (see the module docs, "Threads").
    async fn offload<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || f(&inner)).await
    }

    /// Runs a point read of one small record on the calling thread: a B-tree lookup in
    /// redb's cache and one AES-GCM open, cheaper than a trip to the blocking pool.
    fn point_read<T>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        catch_panic("reading the store", || f(&self.inner))
    }
}

#[async_trait]
impl Store for RedbStore {
    async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
        self.point_read(|i| i.get_str(ACCOUNT, ACCOUNT_IDENTITY, "identity"))
    }

    async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError> {
        self.point_read(|i| i.get_str(ACCOUNT, ACCOUNT_META, "account meta"))
    }

    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError> {
        self.point_read(|i| i.get_u32(SIGNED_PREKEYS, id, "signed prekey"))
    }

    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError> {
        self.offload(|i| i.all_u32(SIGNED_PREKEYS, "signed prekey"))
            .await
    }

    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError> {
        self.point_read(|i| i.get_u32(ONE_TIME_PREKEYS, id, "one-time prekey"))
    }

    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError> {
        self.offload(|i| i.all_u32(ONE_TIME_PREKEYS, "one-time prekey"))
            .await
    }

    async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        // One record of bounded size (at most five sessions with their bounded skipped
        // keys), read for every message from a peer the engine's cache does not hold: a
        // bot serving more peers than that cache reads it on every message.
        self.point_read(|i| i.sessions(peer_id))
    }

    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        self.offload(|i| i.session_peer_ids()).await
    }

    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
        self.point_read(|i| i.get_str(KNOWN_IDENTITIES, peer_id, "known identity"))
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.point_read(|i| i.message(id))
    }

    async fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        let query = query.clone();
        self.offload(move |i| i.messages(&query)).await
    }

    async fn conversation_activity(&self) -> Result<Vec<(Conversation, i64)>, StoreError> {
        self.offload(|i| i.conversation_activity()).await
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.offload(move |i| i.commit(batch)).await
    }
}
