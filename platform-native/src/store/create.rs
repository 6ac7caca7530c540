//! Creating a store file: made under a temporary name (mode 0600), its header committed,
//! then linked to its path, so that a crash never leaves a half-made store there.

use std::fs;
use std::io;
use std::path::Path;

use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{NewStoreKey, Sealer, new_store_key};
use redb::{Durability as RedbDurability, TableError, WriteTransaction};

use super::error::{
    backend_error, commit_error, db_error, storage_error, table_error, transaction_error,
};
use super::layout::{
    BY_CONVERSATION, BY_TIME, FORMAT, KEY_TABLES_STR, KEY_TABLES_U32, MESSAGES, META, META_CHECK,
    META_FORMAT, META_KDF, OUTBOX,
};
use super::open::{builder, nonce_rng};
use super::options::StoreOptions;
use super::redb_store::Inner;

/// Creates a new store: the database is made under a temporary name in the same directory,
/// its header committed, and only then linked to `path` (never replacing a file there), so
/// a crash never leaves a half-made store at `path`.
pub(super) fn create(
    path: &Path,
    passphrase: &str,
    options: &StoreOptions,
) -> Result<Inner, StoreError> {
    let creating = format!("creating {}", path.display());
    let io_error = |e: io::Error| StoreError::Backend {
        context: creating.clone(),
        detail: e.to_string(),
    };
    let mut rng = nonce_rng()?;
    let NewStoreKey { params, check, key } = new_store_key(passphrase, options.kdf, &mut rng)?;
    // Salt and costs: kept in the clear, nothing secret.
    let kdf = serde_json::to_vec(&params).map_err(|e| StoreError::Backend {
        context: "serializing the key-derivation parameters".into(),
        detail: e.to_string(),
    })?;

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
    Ok(Inner::new(
        db,
        Sealer::new(key, rng),
        path,
        options.durability,
    ))
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
