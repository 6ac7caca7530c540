//! Opening a store: a new one is made by `create`; an existing file is checked (header,
//! passphrase, page checksums) on a read-only or scratch open before it is opened for writing.

use std::fs;
use std::io;
use std::path::Path;

use quickchat_core::rand_core::SeedableRng;
use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{Sealer, parse_kdf_params, unlock};
use rand_chacha::ChaCha20Rng;
use redb::{Database, DatabaseError, ReadTransaction, ReadableDatabase, TableError};

use super::create::create;
use super::error::{
    backend_error, commit_error, db_error, storage_error, table_error, transaction_error,
};
use super::layout::{FORMAT, FORMAT_1, META, META_CHECK, META_FORMAT, META_KDF};
use super::options::StoreOptions;
use super::overlay::Overlay;
use super::redb_store::Inner;

/// Opens or creates; runs on a blocking thread.
pub(super) fn open_inner(
    path: &Path,
    passphrase: &str,
    options: &StoreOptions,
) -> Result<Inner, StoreError> {
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

/// The generator of nonces (and of a new store's salt), seeded by the operating system.
pub(super) fn nonce_rng() -> Result<ChaCha20Rng, StoreError> {
    ChaCha20Rng::try_from_rng(&mut getrandom::SysRng).map_err(|e| StoreError::Backend {
        context: "seeding the nonce generator from the operating system".into(),
        detail: e.to_string(),
    })
}

/// redb's settings for every open of a store file.
pub(super) fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    // The default is 1 GiB; a chat history's working set is far smaller, and the session
    // engine keeps its own cache of the sessions in use. At 10,000 peers (examples/scale.rs)
    // 8 MiB serves as fast as 64 MiB with 35 MB less resident memory: a miss costs a read
    // from the operating system's page cache.
    builder.set_cache_size(8 * 1024 * 1024);
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
            let key = unlock(passphrase, &parse_kdf_params(&header.kdf)?, &header.check)?;
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
            let key = unlock(passphrase, &parse_kdf_params(&header.kdf)?, &header.check)?;
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
    key.verify_check(&now.check)
        .map_err(|_| StoreError::WrongPassphrase)?;
    if now.format != FORMAT {
        upgrade_format(&db, &opening)?;
    }
    Ok(Inner::new(
        db,
        Sealer::new(key, nonce_rng()?),
        path,
        options.durability,
    ))
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
