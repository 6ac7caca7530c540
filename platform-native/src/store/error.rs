//! redb's errors as core's [`StoreError`]: damage as [`StoreError::Corrupt`], a store open
//! elsewhere as [`StoreError::InUse`], the rest as [`StoreError::Backend`] with what was being
//! done.

use std::fmt;
use std::io;

use quickchat_core::store::StoreError;
use redb::{DatabaseError, StorageError, TableError};

pub(super) fn storage_error(context: &str, e: StorageError) -> StoreError {
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

pub(super) fn db_error(context: &str, e: DatabaseError) -> StoreError {
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

pub(super) fn table_error(context: &str, e: TableError) -> StoreError {
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

pub(super) fn transaction_error(context: &str, e: redb::TransactionError) -> StoreError {
    match e {
        redb::TransactionError::Storage(s) => storage_error(context, s),
        other => backend_error(context, other),
    }
}

pub(super) fn commit_error(context: &str, e: redb::CommitError) -> StoreError {
    match e {
        redb::CommitError::Storage(s) => storage_error(context, s),
        other => backend_error(context, other),
    }
}

pub(super) fn backend_error(context: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Backend {
        context: context.to_string(),
        detail: e.to_string(),
    }
}

pub(super) fn index_damaged(detail: &str) -> StoreError {
    StoreError::Corrupt {
        what: "message index".into(),
        detail: detail.into(),
    }
}
