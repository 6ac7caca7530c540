//! [`RedbStore`]: opening, reading and committing.

use std::fmt;
use std::fs;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use quickchat_core::rand_core::SeedableRng;
use quickchat_core::session::PeerSessions;
use quickchat_core::session::binary as session_binary;
use quickchat_core::store::sealing::{KdfParams, SealError, SealingKey};
use quickchat_core::store::{
    AccountMeta, BatchDurability, IdentityRecord, KnownIdentity, MessageQuery, MessageRecord,
    MessageStatus, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, StoreOp, WriteBatch,
};
use rand_chacha::ChaCha20Rng;
use redb::{
    Database, DatabaseError, Durability as RedbDurability, ReadTransaction, ReadableDatabase,
    ReadableTable, ReadableTableMetadata, StorageError, TableDefinition, TableError, TableHandle,
    WriteTransaction,
};
use zeroize::Zeroizing;

use super::codec::{Sealer, to_json, unreadable};
use super::layout::{
    ACCOUNT, ACCOUNT_IDENTITY, ACCOUNT_META, BY_CONVERSATION, BY_TIME, FORMAT, FORMAT_1,
    KEY_TABLES_STR, KEY_TABLES_U32, KNOWN_IDENTITIES, MESSAGES, META, META_CHECK, META_FORMAT,
    META_KDF, ONE_TIME_PREKEYS, OUTBOX, SESSIONS, SIGNED_PREKEYS, TS_LEN, aad, above_all,
    conversation_index_key, conversation_key, encode_ts, locator, message_aad, outbox_value,
    split_locator, split_outbox_value, time_index_key,
};
use super::overlay::Overlay;
use super::run::{blocking, catch_panic};

/// How costly the passphrase derivation of a *new* store is. An existing store always uses
/// the parameters it was created with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfStrength {
    /// Argon2id, 19 MiB, 2 passes, 1 lane ([`KdfParams::generate`]).
    #[default]
    Recommended,
    /// Argon2id with 64 KiB and 1 pass ([`KdfParams::insecure_for_tests`]): for tests only,
    /// never for real data.
    InsecureForTests,
}

/// When a commit reaches the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is on disk (fsync) when [`Store::commit`] returns: a received message
    /// and the ratchet state it advanced survive a crash or power loss from then on. The
    /// default, and what a messaging client must use.
    #[default]
    Immediate,
    /// Commits are atomic and visible at once but reach the disk only with the next
    /// immediate commit, [`RedbStore::flush`], or a clean close; a crash or power loss may
    /// lose the most recent ones (never half of one). For bulk imports that can be redone.
    Deferred,
}

/// Settings for [`RedbStore::open_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// KDF cost of a new store.
    pub kdf: KdfStrength,
    /// When commits reach the disk.
    pub durability: Durability,
    /// Whether opening an existing store verifies the checksum of every page first (on a
    /// scratch overlay: writes go to memory, so a damaged file is refused unchanged). Costs
    /// one read of the whole file (a few ms for 10,000 messages); default `true`.
    pub verify_on_open: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            kdf: KdfStrength::default(),
            durability: Durability::default(),
            verify_on_open: true,
        }
    }
}

impl StoreOptions {
    /// The defaults: recommended KDF, immediate durability, verification on open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether opening verifies every page's checksum first.
    pub fn verify_on_open(mut self, verify: bool) -> Self {
        self.verify_on_open = verify;
        self
    }

    /// Sets the KDF cost of a new store.
    pub fn kdf(mut self, kdf: KdfStrength) -> Self {
        self.kdf = kdf;
        self
    }

    /// Sets when commits reach the disk.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// Largest KDF costs accepted from a file (the clear header could otherwise make an open
/// allocate without bound): 1 GiB, 64 passes, 64 lanes.
const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_KDF_ITERATIONS: u32 = 64;
const MAX_KDF_PARALLELISM: u32 = 64;

/// A persistent, encrypted [`Store`] in one redb file. See the [module docs](super) for the
/// file layout, what is encrypted, durability and costs.
///
/// Cheap to share: wrap it in an `Arc` (core forwards [`Store`] through `Arc`).
pub struct RedbStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Database,
    sealer: Sealer,
    path: PathBuf,
    durability: Durability,
    /// Batches waiting to be committed.
    queue: Mutex<Vec<Arc<Pending>>>,
    /// Held by the thread writing the queued batches.
    leader: Mutex<()>,
    #[cfg(test)]
    pub(crate) fail_after_ops: Mutex<Option<usize>>,
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

/// Opens or creates; runs on a blocking thread.
fn open_inner(path: &Path, passphrase: &str, options: &StoreOptions) -> Result<Inner, StoreError> {
    let opening = || format!("opening {}", path.display());
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => create(path, passphrase, options),
        Err(e) => Err(StoreError::Backend {
            context: opening(),
            detail: e.to_string(),
        }),
        Ok(meta) if !meta.is_file() && !meta.file_type().is_symlink() => Err(StoreError::Corrupt {
            what: "store file".into(),
            detail: format!("{} is not a regular file", path.display()),
        }),
        Ok(_) => open_existing(path, passphrase, options),
    }
}

/// The clear header of a store.
#[derive(PartialEq, Eq)]
struct Header {
    format: Vec<u8>,
    kdf: Vec<u8>,
    check: Vec<u8>,
}

fn read_header(txn: &ReadTransaction) -> Result<Header, StoreError> {
    let not_ours = |detail: &str| StoreError::Corrupt {
        what: "store file".into(),
        detail: format!("not a quickchat store: {detail}"),
    };
    let meta = match txn.open_table(META) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) | Err(TableError::TableTypeMismatch { .. }) => {
            return Err(not_ours("no quickchat header"));
        }
        Err(e) => return Err(table_error("reading the store header", e)),
    };
    let get = |key: &str| -> Result<Option<Vec<u8>>, StoreError> {
        Ok(meta
            .get(key)
            .map_err(|e| storage_error("reading the store header", e))?
            .map(|v| v.value().to_vec()))
    };
    let format = match get(META_FORMAT)? {
        Some(format) if format == FORMAT || format == FORMAT_1 => format,
        Some(format) if format.starts_with(b"quickchat-store/") => {
            return Err(StoreError::Corrupt {
                what: "store file".into(),
                detail: format!(
                    "written in format {}, which this version cannot read",
                    String::from_utf8_lossy(&format)
                ),
            });
        }
        _ => return Err(not_ours("no quickchat format marker")),
    };
    let kdf = get(META_KDF)?.ok_or_else(|| not_ours("no key-derivation parameters"))?;
    let check = get(META_CHECK)?.ok_or_else(|| not_ours("no passphrase check"))?;
    Ok(Header { format, kdf, check })
}

fn parse_kdf(bytes: &[u8]) -> Result<KdfParams, StoreError> {
    let damaged = |detail: String| StoreError::Corrupt {
        what: "key-derivation parameters".into(),
        detail,
    };
    let params: KdfParams =
        serde_json::from_slice(bytes).map_err(|e| damaged(format!("not readable: {e}")))?;
    if params.memory_kib > MAX_KDF_MEMORY_KIB
        || params.iterations > MAX_KDF_ITERATIONS
        || params.parallelism > MAX_KDF_PARALLELISM
    {
        return Err(damaged(format!(
            "costs out of range ({} KiB, {} passes, {} lanes)",
            params.memory_kib, params.iterations, params.parallelism
        )));
    }
    Ok(params)
}

fn derive(passphrase: &str, params: &KdfParams) -> Result<SealingKey, StoreError> {
    SealingKey::derive(passphrase, params).map_err(|e| match e {
        SealError::Params { detail } => StoreError::Corrupt {
            what: "key-derivation parameters".into(),
            detail,
        },
        other => StoreError::Backend {
            context: "deriving the store key".into(),
            detail: other.to_string(),
        },
    })
}

fn verify(key: &SealingKey, check: &[u8]) -> Result<(), StoreError> {
    key.verify_check(check)
        .map_err(|_| StoreError::WrongPassphrase)
}

fn nonce_rng() -> Result<ChaCha20Rng, StoreError> {
    ChaCha20Rng::try_from_rng(&mut getrandom::SysRng).map_err(|e| StoreError::Backend {
        context: "seeding the nonce generator from the operating system".into(),
        detail: e.to_string(),
    })
}

fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    // The default is 1 GiB; a chat history's working set is far smaller.
    builder.set_cache_size(64 * 1024 * 1024);
    builder
}

/// Opens an existing file: read-only first, so that a wrong passphrase, a foreign or a
/// damaged file is refused before anything is written; then (with
/// [`StoreOptions::verify_on_open`]) every page's checksum is verified on a scratch copy;
/// then the file is opened for writing.
fn open_existing(
    path: &Path,
    passphrase: &str,
    options: &StoreOptions,
) -> Result<Inner, StoreError> {
    let opening = format!("opening {}", path.display());
    let (key, header) = match builder().open_read_only(path) {
        Ok(read_only) => {
            let txn = read_only
                .begin_read()
                .map_err(|e| transaction_error(&opening, e))?;
            let header = read_header(&txn)?;
            drop(txn);
            drop(read_only);
            let key = derive(passphrase, &parse_kdf(&header.kdf)?)?;
            verify(&key, &header.check)?;
            if options.verify_on_open {
                let scratch = scratch_open(path, &opening)?;
                drop(scratch);
            }
            (key, header)
        }
        // Not shut down cleanly (a crash): only a writable open can recover it. The
        // recovery runs on a scratch copy first, to check the file and the passphrase before
        // anything on disk changes.
        Err(DatabaseError::RepairAborted) => {
            let scratch = scratch_open(path, &opening)?;
            let txn = scratch
                .begin_read()
                .map_err(|e| transaction_error(&opening, e))?;
            let header = read_header(&txn)?;
            drop(txn);
            drop(scratch);
            let key = derive(passphrase, &parse_kdf(&header.kdf)?)?;
            verify(&key, &header.check)?;
            (key, header)
        }
        Err(e) => return Err(db_error(&opening, e)),
    };
    let db = builder().open(path).map_err(|e| db_error(&opening, e))?;
    let txn = db
        .begin_read()
        .map_err(|e| transaction_error(&opening, e))?;
    let now = read_header(&txn)?;
    drop(txn);
    // The same file as checked: another process could have replaced it in between.
    if now != header {
        return Err(StoreError::Backend {
            context: opening,
            detail: "the store's header changed while it was being opened".into(),
        });
    }
    verify(&key, &now.check)?;
    if now.format != FORMAT {
        upgrade_format(&db, &opening)?;
    }
    Ok(Inner {
        db,
        sealer: Sealer::new(key, nonce_rng()?),
        path: path.to_path_buf(),
        durability: options.durability,
        queue: Mutex::new(Vec::new()),
        leader: Mutex::new(()),
        #[cfg(test)]
        fail_after_ops: Mutex::new(None),
    })
}

/// Marks a version-1 file as version 2 (whose reader reads version 1 as it is), so that an
/// older build refuses it clearly instead of misreading the outbox entries written from now
/// on.
fn upgrade_format(db: &Database, opening: &str) -> Result<(), StoreError> {
    let txn = db
        .begin_write()
        .map_err(|e| transaction_error(opening, e))?;
    txn.open_table(META)
        .map_err(|e| table_error(opening, e))?
        .insert(META_FORMAT, FORMAT)
        .map_err(|e| storage_error(opening, e))?;
    txn.commit().map_err(|e| commit_error(opening, e))
}

/// Opens the file on an [`Overlay`] (reads from the file, writes to memory) with redb's
/// integrity check: every page checksum of the committed state is verified, a crashed file is
/// recovered, and the file itself is not changed. Locks are taken on the real file.
fn scratch_open(path: &Path, opening: &str) -> Result<Database, StoreError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| backend_error(opening, e))?;
    let overlay = Overlay::new(file).map_err(|e| backend_error(opening, e))?;
    let mut builder = builder();
    builder.set_check_integrity_on_open(true);
    builder
        .create_with_backend(overlay)
        .map_err(|e| db_error(opening, e))
}

/// Creates a new store: the database is made under a temporary name in the same directory,
/// its header committed, and only then linked to `path` (never replacing a file there), so
/// a crash never leaves a half-made store at `path`.
fn create(path: &Path, passphrase: &str, options: &StoreOptions) -> Result<Inner, StoreError> {
    let creating = format!("creating {}", path.display());
    let io_error = |e: io::Error| StoreError::Backend {
        context: creating.clone(),
        detail: e.to_string(),
    };
    let mut rng = nonce_rng()?;
    let params = match options.kdf {
        KdfStrength::Recommended => KdfParams::generate(&mut rng),
        KdfStrength::InsecureForTests => KdfParams::insecure_for_tests(&mut rng),
    };
    let key = derive(passphrase, &params)?;
    let check = key.make_check(&mut rng);
    let kdf = to_json("key-derivation parameters", &params)?;

    let file_name = path
        .file_name()
        .ok_or_else(|| io_error(io::Error::other("the path names no file")))?;
    let mut suffix = [0u8; 8];
    quickchat_core::rand_core::Rng::fill_bytes(&mut rng, &mut suffix);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".creating-{}", hex(&suffix)));
    let temp = path.with_file_name(temp_name);

    let file = new_private_file(&temp).map_err(io_error)?;
    let made = (|| {
        let backend = redb::backends::FileBackend::new(file).map_err(|e| db_error(&creating, e))?;
        let db = builder()
            .create_with_backend(backend)
            .map_err(|e| db_error(&creating, e))?;
        let mut txn = db
            .begin_write()
            .map_err(|e| transaction_error(&creating, e))?;
        txn.set_durability(RedbDurability::Immediate)
            .map_err(|e| backend_error(&creating, e))?;
        {
            let mut meta = txn
                .open_table(META)
                .map_err(|e| table_error(&creating, e))?;
            for (k, v) in [
                (META_FORMAT, FORMAT),
                (META_KDF, kdf.as_slice()),
                (META_CHECK, check.as_slice()),
            ] {
                meta.insert(k, v).map_err(|e| storage_error(&creating, e))?;
            }
        }
        create_tables(&txn).map_err(|e| table_error(&creating, e))?;
        txn.commit().map_err(|e| commit_error(&creating, e))?;
        // The name appears only now, and never over an existing file: a hard link fails if
        // the path exists. On a file system without hard links, a rename after checking that
        // the path is free (a race with another creator is then possible).
        match fs::hard_link(&temp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Backend {
                    context: creating.clone(),
                    detail: "another store was created at this path at the same time".into(),
                });
            }
            Err(link_error) => {
                if fs::symlink_metadata(path).is_ok() {
                    return Err(io_error(link_error));
                }
                fs::rename(&temp, path).map_err(io_error)?;
            }
        }
        sync_parent(path).map_err(io_error)?;
        Ok(db)
    })();
    // The database stays open through its name at `path`; the temporary name goes either way
    // (a rename already took it).
    let removed = match fs::remove_file(&temp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    let db = made?;
    removed.map_err(io_error)?;
    Ok(Inner {
        db,
        sealer: Sealer::new(key, rng),
        path: path.to_path_buf(),
        durability: options.durability,
        queue: Mutex::new(Vec::new()),
        leader: Mutex::new(()),
        #[cfg(test)]
        fail_after_ops: Mutex::new(None),
    })
}

fn create_tables(txn: &WriteTransaction) -> Result<(), TableError> {
    for table in KEY_TABLES_STR {
        txn.open_table(table)?;
    }
    for table in KEY_TABLES_U32 {
        txn.open_table(table)?;
    }
    txn.open_table(MESSAGES)?;
    txn.open_table(BY_CONVERSATION)?;
    txn.open_table(BY_TIME)?;
    txn.open_table(OUTBOX)?;
    Ok(())
}

#[cfg(unix)]
fn new_private_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn new_private_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
}

/// Makes the new directory entry durable (the directory itself is not changed).
#[cfg(unix)]
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent(_path: &Path) -> io::Result<()> {
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Reads

/// Opens a table for reading; a table that does not exist reads as empty.
fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(table_error(&format!("opening table {}", table), e)),
    }
}

type MessagesTable = redb::ReadOnlyTable<&'static str, (&'static [u8], &'static [u8])>;
type OutboxTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The outbox of a read transaction, opened when first needed: a lookup of a message this
/// store does not have (the receiver's duplicate check) never opens it.
struct LazyOutbox<'t> {
    txn: &'t ReadTransaction,
    table: std::cell::OnceCell<Option<OutboxTable>>,
}

impl<'t> LazyOutbox<'t> {
    fn new(txn: &'t ReadTransaction) -> Self {
        Self {
            txn,
            table: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> Result<Option<&OutboxTable>, StoreError> {
        if let Some(table) = self.table.get() {
            return Ok(table.as_ref());
        }
        let table = read_table(self.txn, OUTBOX)?;
        Ok(self.table.get_or_init(|| table).as_ref())
    }
}

/// What the index entry that led to a message says about it.
enum Expect<'a> {
    /// Nothing: a direct lookup by id.
    Nothing,
    /// Its whole locator (conversation key and timestamp).
    Locator(&'a [u8]),
    /// Its timestamp.
    Timestamp([u8; TS_LEN]),
}

impl Inner {
    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        self.db
            .begin_read()
            .map_err(|e| transaction_error("starting a read", e))
    }

    fn get_str<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&'static str, &'static [u8]>,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_str_bytes(table, key, what)?
            .map(|plain| serde_json::from_slice(&plain).map_err(|e| unreadable(what, e)))
            .transpose()
    }

    /// The opened bytes of the value under `key`.
    fn get_str_bytes(
        &self,
        table: TableDefinition<&'static str, &'static [u8]>,
        key: &str,
        what: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, table)? else {
            return Ok(None);
        };
        let Some(value) = t
            .get(key)
            .map_err(|e| storage_error(&format!("reading {what}"), e))?
        else {
            return Ok(None);
        };
        self.sealer
            .open_bytes(what, &aad(table.name(), key.as_bytes()), value.value())
            .map(Some)
    }

    /// A peer's sessions, in the binary form or (written before it) JSON.
    fn sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        self.get_str_bytes(SESSIONS, peer_id, "sessions")?
            .map(|plain| session_binary::decode(&plain).map_err(|e| unreadable("sessions", e)))
            .transpose()
    }

    fn get_u32<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<u32, &'static [u8]>,
        id: u32,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, table)? else {
            return Ok(None);
        };
        let Some(value) = t
            .get(id)
            .map_err(|e| storage_error(&format!("reading {what}"), e))?
        else {
            return Ok(None);
        };
        self.sealer
            .open(what, &aad(table.name(), &id.to_be_bytes()), value.value())
            .map(Some)
    }

    fn all_u32<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<u32, &'static [u8]>,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, table)? else {
            return Ok(Vec::new());
        };
        let context = format!("reading {what}");
        let mut out = Vec::with_capacity(usize::try_from(t.len().unwrap_or(0)).unwrap_or(0));
        for entry in t.iter().map_err(|e| storage_error(&context, e))? {
            let (id, value) = entry.map_err(|e| storage_error(&context, e))?;
            out.push(self.sealer.open(
                what,
                &aad(table.name(), &id.value().to_be_bytes()),
                value.value(),
            )?);
        }
        Ok(out)
    }

    fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, SESSIONS)? else {
            return Ok(Vec::new());
        };
        let context = "listing sessions";
        let mut out = Vec::new();
        for entry in t.iter().map_err(|e| storage_error(context, e))? {
            let (peer, _) = entry.map_err(|e| storage_error(context, e))?;
            out.push(peer.value().to_string());
        }
        Ok(out)
    }

    fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let txn = self.begin_read()?;
        let Some(messages) = read_table(&txn, MESSAGES)? else {
            return Ok(None);
        };
        self.open_message(&messages, &LazyOutbox::new(&txn), id, Expect::Nothing)
    }

    /// Reads message `id`, checking that the index entry that led here (if any) agrees with
    /// the clear locator beside the record, and the locator with the sealed record.
    /// A pending message's wire comes from its outbox entry.
    fn open_message(
        &self,
        messages: &MessagesTable,
        outbox: &LazyOutbox<'_>,
        id: &str,
        expect: Expect<'_>,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let Some(value) = messages
            .get(id)
            .map_err(|e| storage_error("reading a message", e))?
        else {
            return match expect {
                Expect::Nothing => Ok(None),
                _ => Err(index_damaged("an index entry names a missing message")),
            };
        };
        let (loc, sealed) = value.value();
        let agrees = match expect {
            Expect::Nothing => true,
            Expect::Locator(expected) => expected == loc,
            Expect::Timestamp(ts) => split_locator(loc).is_some_and(|(_, t)| t == ts),
        };
        if !agrees {
            return Err(index_damaged("an index entry does not match its message"));
        }
        let (_, ts) = split_locator(loc).ok_or_else(|| index_damaged("short message locator"))?;
        let entry = match outbox.get()? {
            Some(outbox) => outbox
                .get(time_index_key(ts, id).as_slice())
                .map_err(|e| storage_error("reading a message", e))?,
            None => None,
        };
        let wire = match &entry {
            Some(entry) => {
                split_outbox_value(entry.value())
                    .ok_or_else(|| index_damaged("malformed outbox entry"))?
                    .1
            }
            None => None,
        };
        let mut record: MessageRecord =
            self.sealer
                .open("message", &message_aad(id, wire), sealed)?;
        if let Some(wire) = wire {
            record.wire = Some(wire.to_string());
        }
        if locator(&record) != loc || record.id != id {
            return Err(index_damaged(
                "the clear locator does not match the sealed message",
            ));
        }
        Ok(Some(record))
    }

    fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let txn = self.begin_read()?;
        let Some(messages) = read_table(&txn, MESSAGES)? else {
            return Ok(Vec::new());
        };
        let context = "querying messages";
        let limit = query.limit.unwrap_or(usize::MAX);
        let outbox = LazyOutbox::new(&txn);
        let mut found = Vec::new();
        // Candidates come newest first from an index that already applies the conversation
        // and `before`; each is opened and checked against the whole query, until `limit`
        // match.
        let mut consider = |id: &str, expect: Expect<'_>| -> Result<bool, StoreError> {
            if let Some(record) = self.open_message(&messages, &outbox, id, expect)?
                && query.matches(&record)
            {
                found.push(record);
            }
            Ok(found.len() >= limit)
        };
        // The end of the index range: `(before, before_id)`, or all of `before`'s millisecond.
        let time_end = query.before.map(|t| {
            let mut end = encode_ts(t).to_vec();
            if let Some(id) = &query.before_id {
                end.extend_from_slice(id.as_bytes());
            }
            end
        });
        let time_range = (
            Bound::Unbounded,
            match &time_end {
                Some(t) => Bound::Excluded(t.as_slice()),
                None => Bound::Unbounded,
            },
        );
        let conversation = query.conversation.as_ref().map(conversation_key);
        if query.status == Some(MessageStatus::Pending) {
            // The outbox holds only pending messages: only those are opened.
            let Some(outbox_table) = outbox.get()? else {
                return Ok(Vec::new());
            };
            let range = outbox_table
                .range::<&[u8]>(time_range)
                .map_err(|e| storage_error(context, e))?;
            for entry in range.rev() {
                let (key, value) = entry.map_err(|e| storage_error(context, e))?;
                let (conv, _) = split_outbox_value(value.value())
                    .ok_or_else(|| index_damaged("malformed outbox entry"))?;
                if conversation.as_ref().is_some_and(|c| c.as_slice() != conv) {
                    continue;
                }
                let (ts, id) = split_time_key(key.value())?;
                let loc = [conv, &ts[..]].concat();
                if consider(id, Expect::Locator(&loc))? {
                    break;
                }
            }
        } else if let Some(prefix) = conversation {
            // One conversation: a range of its index, from `before` down.
            let Some(index) = read_table(&txn, BY_CONVERSATION)? else {
                return Ok(Vec::new());
            };
            let end = match time_end {
                Some(t) => [prefix.as_slice(), t.as_slice()].concat(),
                None => above_all(&prefix),
            };
            let range = index
                .range::<&[u8]>(prefix.as_slice()..end.as_slice())
                .map_err(|e| storage_error(context, e))?;
            let split = prefix.len() + TS_LEN;
            for entry in range.rev() {
                let (key, _) = entry.map_err(|e| storage_error(context, e))?;
                let key = key.value();
                let (Some(loc), Some(id)) = (key.get(..split), key.get(split..)) else {
                    return Err(index_damaged("short conversation index key"));
                };
                let id = std::str::from_utf8(id)
                    .map_err(|_| index_damaged("message id in the index is not UTF-8"))?;
                if consider(id, Expect::Locator(loc))? {
                    break;
                }
            }
        } else {
            // Every conversation: the time index, from `before` down.
            let Some(index) = read_table(&txn, BY_TIME)? else {
                return Ok(Vec::new());
            };
            let range = index
                .range::<&[u8]>(time_range)
                .map_err(|e| storage_error(context, e))?;
            for entry in range.rev() {
                let (key, _) = entry.map_err(|e| storage_error(context, e))?;
                let (ts, id) = split_time_key(key.value())?;
                if consider(id, Expect::Timestamp(ts))? {
                    break;
                }
            }
        }
        found.reverse();
        Ok(found)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let context = "flushing the store";
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| transaction_error(context, e))?;
        txn.set_durability(RedbDurability::Immediate)
            .map_err(|e| backend_error(context, e))?;
        txn.commit().map_err(|e| commit_error(context, e))
    }
}

fn split_time_key(key: &[u8]) -> Result<([u8; TS_LEN], &str), StoreError> {
    let (ts, id) = key
        .split_first_chunk::<TS_LEN>()
        .ok_or_else(|| index_damaged("short time index key"))?;
    let id = std::str::from_utf8(id)
        .map_err(|_| index_damaged("message id in the index is not UTF-8"))?;
    Ok((*ts, id))
}

fn index_damaged(detail: &str) -> StoreError {
    StoreError::Corrupt {
        what: "message index".into(),
        detail: detail.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Commits

/// A batch waiting in the group-commit queue, and then its result.
pub(crate) struct Pending {
    ops: Mutex<Option<Vec<Prepared>>>,
    result: Mutex<Option<Result<(), StoreError>>>,
    /// The batch may reach the disk with a later commit ([`BatchDurability::Relaxed`]).
    relaxed: bool,
}

/// Why a group's transaction failed.
enum GroupError {
    /// Batch `.0` of the group failed; the others may be written without it.
    Batch(usize, StoreError),
    /// The transaction itself failed: no batch of the group was written.
    All(StoreError),
}

/// Locks `mutex`. Nothing done under these locks can leave their data half-changed (each
/// holds an `Option` that is set or taken whole, or nothing), so a poisoned lock is used as
/// it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One write, serialized and sealed before the write transaction starts.
enum Prepared {
    Account(&'static str, Vec<u8>),
    SignedPrekey(u32, Vec<u8>),
    DeleteSignedPrekey(u32),
    OneTimePrekey(u32, Vec<u8>),
    DeleteOneTimePrekey(u32),
    Sessions(String, Vec<u8>),
    DeleteSessions(String),
    KnownIdentity(String, Vec<u8>),
    Message {
        id: String,
        loc: Vec<u8>,
        sealed: Vec<u8>,
        pending: bool,
        /// A pending message's wire, kept in its outbox entry rather than sealed.
        wire: Option<String>,
    },
    DeleteMessage(String),
    ClearKeys,
}

impl Inner {
    fn prepare(&self, op: StoreOp) -> Result<Prepared, StoreError> {
        let s = &self.sealer;
        Ok(match op {
            StoreOp::PutIdentity(r) => Prepared::Account(
                ACCOUNT_IDENTITY,
                s.seal(
                    "identity",
                    &aad(ACCOUNT.name(), ACCOUNT_IDENTITY.as_bytes()),
                    &r,
                )?,
            ),
            StoreOp::PutAccountMeta(r) => Prepared::Account(
                ACCOUNT_META,
                s.seal(
                    "account meta",
                    &aad(ACCOUNT.name(), ACCOUNT_META.as_bytes()),
                    &r,
                )?,
            ),
            StoreOp::PutSignedPrekey(r) => {
                let id = r.prekey.id();
                let aad = aad(SIGNED_PREKEYS.name(), &id.to_be_bytes());
                Prepared::SignedPrekey(id, s.seal("signed prekey", &aad, &r)?)
            }
            StoreOp::DeleteSignedPrekey(id) => Prepared::DeleteSignedPrekey(id),
            StoreOp::PutOneTimePrekey(r) => {
                let id = r.prekey.id();
                let aad = aad(ONE_TIME_PREKEYS.name(), &id.to_be_bytes());
                Prepared::OneTimePrekey(id, s.seal("one-time prekey", &aad, &r)?)
            }
            StoreOp::DeleteOneTimePrekey(id) => Prepared::DeleteOneTimePrekey(id),
            StoreOp::PutSessions(r) => {
                let aad = aad(SESSIONS.name(), r.peer_id.as_bytes());
                // The record rewritten with every message: binary, a third of its JSON.
                let sealed = s.seal_bytes(&aad, &session_binary::encode(&r));
                Prepared::Sessions(r.peer_id.clone(), sealed)
            }
            StoreOp::DeleteSessions(peer) => Prepared::DeleteSessions(peer),
            StoreOp::PutKnownIdentity(r) => {
                let aad = aad(KNOWN_IDENTITIES.name(), r.peer_id.as_bytes());
                let sealed = s.seal("known identity", &aad, &r)?;
                Prepared::KnownIdentity(r.peer_id.clone(), sealed)
            }
            StoreOp::PutMessage(mut r) => {
                let pending = r.status == MessageStatus::Pending;
                // Only a pending message's wire is ever sent again; it leaves the record with
                // its outbox entry when the backend confirms the message.
                let wire = if pending && r.wire.as_deref().is_some_and(|w| !w.is_empty()) {
                    r.wire.take()
                } else {
                    None
                };
                let sealed = s.seal("message", &message_aad(&r.id, wire.as_deref()), &r)?;
                Prepared::Message {
                    loc: locator(&r),
                    pending,
                    id: r.id,
                    sealed,
                    wire,
                }
            }
            StoreOp::DeleteMessage(id) => Prepared::DeleteMessage(id),
            StoreOp::ClearKeys => Prepared::ClearKeys,
        })
    }

    /// Commits `batch`, together with any batches other threads are committing at the same
    /// time (group commit): the first caller to get the write lock becomes the leader and
    /// writes every batch queued so far in one transaction and one fsync; the others find
    /// their result when they get the lock. Each batch is still all or nothing: a batch that
    /// fails is taken out and the rest written again without it.
    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let relaxed = batch.durability() == BatchDurability::Relaxed;
        // Serializing and sealing first keeps the write lock short.
        let ops = batch
            .into_ops()
            .into_iter()
            .map(|op| self.prepare(op))
            .collect::<Result<Vec<_>, _>>()?;
        let pending = Arc::new(Pending {
            ops: Mutex::new(Some(ops)),
            result: Mutex::new(None),
            relaxed,
        });
        lock(&self.queue).push(Arc::clone(&pending));
        let _leader = lock(&self.leader);
        if let Some(result) = lock(&pending.result).take() {
            return result;
        }
        let mut group: Vec<(Arc<Pending>, Vec<Prepared>)> = std::mem::take(&mut *lock(&self.queue))
            .into_iter()
            .filter_map(|p| {
                let ops = lock(&p.ops).take()?;
                Some((p, ops))
            })
            .collect();
        while !group.is_empty() {
            match self.write_group(&group) {
                Ok(()) => {
                    for (p, _) in &group {
                        *lock(&p.result) = Some(Ok(()));
                    }
                    break;
                }
                Err(GroupError::Batch(index, e)) => {
                    let (p, _) = group.remove(index);
                    *lock(&p.result) = Some(Err(e));
                }
                Err(GroupError::All(e)) => {
                    for (p, _) in &group {
                        *lock(&p.result) = Some(Err(e.clone()));
                    }
                    break;
                }
            }
        }
        lock(&pending.result).take().unwrap_or_else(|| {
            Err(StoreError::Backend {
                context: "committing".into(),
                detail: "the commit was lost by the group commit (a bug)".into(),
            })
        })
    }

    /// Writes every batch of `group` in one transaction.
    fn write_group(&self, group: &[(Arc<Pending>, Vec<Prepared>)]) -> Result<(), GroupError> {
        let context = "committing";
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| GroupError::All(transaction_error(context, e)))?;
        // One batch that must be on disk makes the whole group durable; a group of relaxed
        // batches only (delivery statuses) is written without a disk sync and reaches the
        // disk with the next durable commit.
        let all_relaxed = group.iter().all(|(pending, _)| pending.relaxed);
        let durability = match self.durability {
            Durability::Immediate if !all_relaxed => RedbDurability::Immediate,
            _ => RedbDurability::None,
        };
        txn.set_durability(durability)
            .map_err(|e| GroupError::All(backend_error(context, e)))?;
        // Any error below returns before `commit`: dropping the transaction aborts it, and
        // nothing of the group is written.
        {
            let mut tables = WriteTables::new(&txn);
            for (batch, (_, ops)) in group.iter().enumerate() {
                for (index, op) in ops.iter().enumerate() {
                    #[cfg(test)]
                    self.injected_failure(index)
                        .map_err(|e| GroupError::Batch(batch, e))?;
                    #[cfg(not(test))]
                    let _ = index;
                    tables.apply(op).map_err(|e| GroupError::Batch(batch, e))?;
                }
            }
        }
        txn.commit()
            .map_err(|e| GroupError::All(commit_error(context, e)))
    }

    #[cfg(test)]
    fn injected_failure(&self, index: usize) -> Result<(), StoreError> {
        let fail_after = *lock(&self.fail_after_ops);
        match fail_after {
            Some(n) if index >= n => Err(StoreError::Backend {
                context: "committing".into(),
                detail: format!("failure injected by the test before op {index}"),
            }),
            _ => Ok(()),
        }
    }
}

type StrTable<'t> = redb::Table<'t, &'static str, &'static [u8]>;
type U32Table<'t> = redb::Table<'t, u32, &'static [u8]>;

/// The tables of one write transaction, each opened when first needed (an opened table
/// costs work at commit even if unchanged).
struct WriteTables<'t> {
    txn: &'t WriteTransaction,
    account: Option<StrTable<'t>>,
    signed_prekeys: Option<U32Table<'t>>,
    one_time_prekeys: Option<U32Table<'t>>,
    sessions: Option<StrTable<'t>>,
    known_identities: Option<StrTable<'t>>,
    messages: Option<MessageTables<'t>>,
}

/// The messages and their indexes, always changed together.
struct MessageTables<'t> {
    messages: redb::Table<'t, &'static str, (&'static [u8], &'static [u8])>,
    by_conversation: redb::Table<'t, &'static [u8], ()>,
    by_time: redb::Table<'t, &'static [u8], ()>,
    outbox: redb::Table<'t, &'static [u8], &'static [u8]>,
}

/// The table in `slot`, opened in `txn` if it is not yet.
fn table<'a, 't, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &'t WriteTransaction,
    slot: &'a mut Option<redb::Table<'t, K, V>>,
    definition: TableDefinition<K, V>,
) -> Result<&'a mut redb::Table<'t, K, V>, StoreError> {
    let table = match slot.take() {
        Some(table) => table,
        None => txn
            .open_table(definition)
            .map_err(|e| table_error("opening a table to commit", e))?,
    };
    Ok(slot.insert(table))
}

impl<'t> WriteTables<'t> {
    fn new(txn: &'t WriteTransaction) -> Self {
        Self {
            txn,
            account: None,
            signed_prekeys: None,
            one_time_prekeys: None,
            sessions: None,
            known_identities: None,
            messages: None,
        }
    }

    fn messages(&mut self) -> Result<&mut MessageTables<'t>, StoreError> {
        let tables = match self.messages.take() {
            Some(tables) => tables,
            None => {
                let e = |e| table_error("opening the message tables to commit", e);
                MessageTables {
                    messages: self.txn.open_table(MESSAGES).map_err(e)?,
                    by_conversation: self.txn.open_table(BY_CONVERSATION).map_err(e)?,
                    by_time: self.txn.open_table(BY_TIME).map_err(e)?,
                    outbox: self.txn.open_table(OUTBOX).map_err(e)?,
                }
            }
        };
        Ok(self.messages.insert(tables))
    }

    fn apply(&mut self, op: &Prepared) -> Result<(), StoreError> {
        let e = |e| storage_error("committing", e);
        let txn = self.txn;
        match op {
            Prepared::Account(key, sealed) => {
                table(txn, &mut self.account, ACCOUNT)?
                    .insert(*key, sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::SignedPrekey(id, sealed) => {
                table(txn, &mut self.signed_prekeys, SIGNED_PREKEYS)?
                    .insert(*id, sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::DeleteSignedPrekey(id) => {
                table(txn, &mut self.signed_prekeys, SIGNED_PREKEYS)?
                    .remove(*id)
                    .map_err(e)?;
            }
            Prepared::OneTimePrekey(id, sealed) => {
                table(txn, &mut self.one_time_prekeys, ONE_TIME_PREKEYS)?
                    .insert(*id, sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::DeleteOneTimePrekey(id) => {
                table(txn, &mut self.one_time_prekeys, ONE_TIME_PREKEYS)?
                    .remove(*id)
                    .map_err(e)?;
            }
            Prepared::Sessions(peer, sealed) => {
                table(txn, &mut self.sessions, SESSIONS)?
                    .insert(peer.as_str(), sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::DeleteSessions(peer) => {
                table(txn, &mut self.sessions, SESSIONS)?
                    .remove(peer.as_str())
                    .map_err(e)?;
            }
            Prepared::KnownIdentity(peer, sealed) => {
                table(txn, &mut self.known_identities, KNOWN_IDENTITIES)?
                    .insert(peer.as_str(), sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::Message {
                id,
                loc,
                sealed,
                pending,
                wire,
            } => {
                let tables = self.messages()?;
                tables.unindex(id)?;
                let outbox_wire = pending.then_some(wire.as_deref());
                tables.put(id, loc, sealed, outbox_wire)?;
            }
            Prepared::DeleteMessage(id) => {
                let tables = self.messages()?;
                tables.unindex(id)?;
                tables.messages.remove(id.as_str()).map_err(e)?;
            }
            Prepared::ClearKeys => {
                table(txn, &mut self.account, ACCOUNT)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.signed_prekeys, SIGNED_PREKEYS)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.one_time_prekeys, ONE_TIME_PREKEYS)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.sessions, SESSIONS)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.known_identities, KNOWN_IDENTITIES)?
                    .retain(|_, _| false)
                    .map_err(e)?;
            }
        }
        Ok(())
    }
}

impl MessageTables<'_> {
    /// Removes the index entries of message `id`, if it exists.
    fn unindex(&mut self, id: &str) -> Result<(), StoreError> {
        let e = |e| storage_error("committing a message", e);
        let old = self
            .messages
            .get(id)
            .map_err(e)?
            .map(|v| v.value().0.to_vec());
        if let Some(old) = old {
            let (_, ts) =
                split_locator(&old).ok_or_else(|| index_damaged("short message locator"))?;
            self.by_conversation
                .remove(conversation_index_key(&old, id).as_slice())
                .map_err(e)?;
            let time_key = time_index_key(ts, id);
            self.by_time.remove(time_key.as_slice()).map_err(e)?;
            self.outbox.remove(time_key.as_slice()).map_err(e)?;
        }
        Ok(())
    }

    /// Writes message `id` and its index entries (its old ones must be gone).
    /// `outbox` is `Some` for a pending message, with its wire if it has one.
    fn put(
        &mut self,
        id: &str,
        loc: &[u8],
        sealed: &[u8],
        outbox: Option<Option<&str>>,
    ) -> Result<(), StoreError> {
        let e = |e| storage_error("committing a message", e);
        let (conversation, ts) =
            split_locator(loc).ok_or_else(|| index_damaged("short message locator"))?;
        self.messages.insert(id, (loc, sealed)).map_err(e)?;
        self.by_conversation
            .insert(conversation_index_key(loc, id).as_slice(), ())
            .map_err(e)?;
        let time_key = time_index_key(ts, id);
        self.by_time.insert(time_key.as_slice(), ()).map_err(e)?;
        if let Some(wire) = outbox {
            self.outbox
                .insert(
                    time_key.as_slice(),
                    outbox_value(conversation, wire).as_slice(),
                )
                .map_err(e)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The Store trait

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
        let peer = peer_id.to_string();
        self.offload(move |i| i.sessions(&peer)).await
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

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.offload(move |i| i.commit(batch)).await
    }
}

// ---------------------------------------------------------------------------------------
// Errors

fn storage_error(context: &str, e: StorageError) -> StoreError {
    match e {
        StorageError::Corrupted(detail) => StoreError::Corrupt {
            what: "store file".into(),
            detail,
        },
        StorageError::Io(io) if io.kind() == io::ErrorKind::InvalidData => StoreError::Corrupt {
            what: "store file".into(),
            detail: io.to_string(),
        },
        other => backend_error(context, other),
    }
}

fn db_error(context: &str, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
            what: context.to_string(),
        },
        DatabaseError::UpgradeRequired(version) => StoreError::Corrupt {
            what: "store file".into(),
            detail: format!("redb file format {version} is not supported"),
        },
        DatabaseError::Storage(s) => storage_error(context, s),
        other => backend_error(context, other),
    }
}

fn table_error(context: &str, e: TableError) -> StoreError {
    match e {
        TableError::Storage(s) => storage_error(context, s),
        TableError::TableTypeMismatch { .. } | TableError::TypeDefinitionChanged { .. } => {
            StoreError::Corrupt {
                what: "store file".into(),
                detail: e.to_string(),
            }
        }
        other => backend_error(context, other),
    }
}

fn transaction_error(context: &str, e: redb::TransactionError) -> StoreError {
    match e {
        redb::TransactionError::Storage(s) => storage_error(context, s),
        other => backend_error(context, other),
    }
}

fn commit_error(context: &str, e: redb::CommitError) -> StoreError {
    match e {
        redb::CommitError::Storage(s) => storage_error(context, s),
        other => backend_error(context, other),
    }
}

fn backend_error(context: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Backend {
        context: context.to_string(),
        detail: e.to_string(),
    }
}
