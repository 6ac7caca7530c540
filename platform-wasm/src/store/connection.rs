//! The open IndexedDB connection with its cross-tab lock, and the end of a transaction.

use std::cell::RefCell;

use quickchat_core::store::StoreError;
use web_sys::{IdbDatabase, IdbTransactionMode};

use super::lock;
use super::values::backend;
use crate::idb::Transaction;

/// The open database and its lock; both let go when dropped.
pub(super) struct Connection {
    pub(super) db: RefCell<Option<IdbDatabase>>,
    pub(super) name: String,
    pub(super) lock: RefCell<Option<lock::StoreLock>>,
}

impl Connection {
    pub(super) fn transaction(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
    ) -> Result<Transaction, StoreError> {
        let db = self.db.borrow();
        let db = db.as_ref().ok_or_else(|| StoreError::Backend {
            context: "using the store".into(),
            detail: "the database connection is closed".into(),
        })?;
        Transaction::start(db, stores, mode).map_err(backend("starting a transaction"))
    }

    pub(super) fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
        self.lock.borrow_mut().take();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// Waits for a transaction to commit, or aborts it when `result` is an error, so a failure
/// half-way never leaves half a batch.
pub(super) async fn finish(
    tx: Transaction,
    result: Result<(), StoreError>,
) -> Result<(), StoreError> {
    match result {
        Ok(()) => tx.done().await.map_err(backend("committing")),
        Err(e) => {
            // The transaction may already be aborted by the failed request.
            tx.abort();
            Err(e)
        }
    }
}
