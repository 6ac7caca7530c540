//! Relaxed batches written behind the operations that made them.
//!
//! Core's [`BatchDurability::Relaxed`] promises a batch that is atomic and visible at once
//! but may reach the disk with a later commit. Here such a commit returns as soon as its
//! transaction is started, and while one is in flight the next relaxed batches wait in a
//! queue and go together in one transaction when it completes: a burst of messages costs a
//! few IndexedDB transactions instead of one each (each costs about half a millisecond in
//! Chromium, some fifty times the message's own work). IndexedDB runs read-write
//! transactions over the same object stores in the order they were started, and every
//! transaction the store starts first starts the queued writes, so reads and immediate
//! commits always see them. What is lost when the page goes away with writes still queued or
//! in flight is the last moment's state, as with a crash before the disk had it. A failed
//! transaction is reported by the next commit.
//!
//! [`BatchDurability::Relaxed`]: quickchat_core::store::BatchDurability::Relaxed

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use std::rc::Rc;

use futures::channel::oneshot;
use quickchat_core::store::StoreError;
use web_sys::IdbTransactionMode;

use super::{Connection, Write, backend, finish, key_text};
use crate::idb::{self, Transaction};

/// Who waits for one write-behind transaction to complete.
type Waiters = Rc<RefCell<Vec<oneshot::Sender<Result<(), StoreError>>>>>;

/// The queue of one store: shared with the transactions in flight, which start the queued
/// writes when they complete.
#[derive(Default)]
pub(super) struct WriteBehind {
    /// Sealed writes waiting for the transaction in flight.
    queued: Vec<Write>,
    /// Who waits for the queued writes.
    queued_waiters: Vec<oneshot::Sender<Result<(), StoreError>>>,
    /// The write-behind transactions in flight, by number, with who waits for each.
    in_flight: Vec<(u64, Waiters)>,
    /// The number of the next transaction.
    next_number: u64,
    /// Why a write-behind transaction nobody waited for failed, for the next commit to
    /// report.
    failed: Option<StoreError>,
}

impl WriteBehind {
    /// Queues relaxed writes, or starts them at once when nothing is in flight.
    pub(super) fn push(this: &Rc<RefCell<Self>>, connection: &Rc<Connection>, writes: Vec<Write>) {
        let mut queue = this.borrow_mut();
        if !queue.in_flight.is_empty() {
            for write in writes {
                queue.enqueue(write);
            }
            return;
        }
        drop(queue);
        launch(this, connection, writes);
    }

    /// Starts the queued writes now (before another transaction is started, which then
    /// runs after them).
    pub(super) fn flush(this: &Rc<RefCell<Self>>, connection: &Rc<Connection>) {
        let queued = std::mem::take(&mut this.borrow_mut().queued);
        if !queued.is_empty() {
            launch(this, connection, queued);
        }
    }

    /// Resolves once every write pushed so far is committed, or with why one was not.
    pub(super) fn settled(
        this: &Rc<RefCell<Self>>,
    ) -> impl Future<Output = Result<(), StoreError>> + use<> {
        let mut queue = this.borrow_mut();
        // A write that failed before anyone could wait for it (its transaction did not
        // start) is reported here.
        let failed = queue.failed.take();
        let mut receivers = Vec::new();
        if !queue.queued.is_empty() {
            let (sender, receiver) = oneshot::channel();
            queue.queued_waiters.push(sender);
            receivers.push(receiver);
        }
        for (_, waiters) in &queue.in_flight {
            let (sender, receiver) = oneshot::channel();
            waiters.borrow_mut().push(sender);
            receivers.push(receiver);
        }
        async move {
            if let Some(failure) = failed {
                return Err(failure);
            }
            for receiver in receivers {
                match receiver.await {
                    Ok(result) => result?,
                    Err(oneshot::Canceled) => {
                        return Err(StoreError::Backend {
                            context: "committing".into(),
                            detail: "the write was dropped before it completed".into(),
                        });
                    }
                }
            }
            Ok(())
        }
    }

    /// Why an earlier write-behind transaction failed, once.
    pub(super) fn take_failure(&mut self) -> Option<StoreError> {
        self.failed.take()
    }

    /// Adds a write to the queue; a keyed write replaces a queued one of the same record
    /// (only the last state of a record needs writing).
    fn enqueue(&mut self, write: Write) {
        if let Some(target) = keyed(&write) {
            self.queued
                .retain(|queued| keyed(queued) != Some(target.clone()));
        }
        self.queued.push(write);
    }
}

/// The record a put or delete with a key writes.
fn keyed(write: &Write) -> Option<(&'static str, String)> {
    match write {
        Write::Put {
            store,
            key: Some(key),
            ..
        }
        | Write::Delete { store, key } => Some((store, key_text(key))),
        Write::Put { key: None, .. } | Write::Clear(_) => None,
    }
}

/// The object stores a list of writes touches.
pub(super) fn stores_of(writes: &[Write]) -> Vec<&'static str> {
    let stores: BTreeSet<&'static str> = writes
        .iter()
        .map(|w| match w {
            Write::Put { store, .. } | Write::Delete { store, .. } | Write::Clear(store) => *store,
        })
        .collect();
    stores.into_iter().collect()
}

/// Starts one transaction with `writes` (now, so that it runs before any transaction started
/// later) and, when it completes, tells who waits and starts the writes queued meanwhile.
fn launch(this: &Rc<RefCell<WriteBehind>>, connection: &Rc<Connection>, writes: Vec<Write>) {
    let waiters: Waiters = Rc::new(RefCell::new(std::mem::take(
        &mut this.borrow_mut().queued_waiters,
    )));
    let tx = match connection.transaction(&stores_of(&writes), IdbTransactionMode::Readwrite) {
        Ok(tx) => tx,
        Err(e) => {
            report(this, &waiters, Err(e));
            return;
        }
    };
    let number = {
        let mut queue = this.borrow_mut();
        let number = queue.next_number;
        queue.next_number += 1;
        queue.in_flight.push((number, Rc::clone(&waiters)));
        number
    };
    let this = Rc::clone(this);
    let connection = Rc::clone(connection);
    // The requests are made in the first poll, a microtask of this task: the transaction is
    // still active then.
    wasm_bindgen_futures::spawn_local(async move {
        let result = apply(tx, writes).await;
        this.borrow_mut().in_flight.retain(|(n, _)| *n != number);
        report(&this, &waiters, result);
        let next = std::mem::take(&mut this.borrow_mut().queued);
        if !next.is_empty() {
            launch(&this, &connection, next);
        }
    });
}

/// Gives a transaction's outcome to who waits for it; a failure nobody waits for goes to the
/// next commit.
fn report(this: &Rc<RefCell<WriteBehind>>, waiters: &Waiters, result: Result<(), StoreError>) {
    let waiters = std::mem::take(&mut *waiters.borrow_mut());
    if waiters.is_empty() {
        if let Err(e) = result {
            this.borrow_mut().failed.get_or_insert(e);
        }
        return;
    }
    for waiter in waiters {
        // A waiter that went away needs no answer.
        let _ = waiter.send(result.clone());
    }
}

/// Makes the writes in `tx` and waits for it to commit (or aborts it on the first failure).
/// The requests go in order without waiting for each: IndexedDB runs them in that order, and
/// a failed one aborts the transaction, which `finish` reports.
pub(super) async fn apply(tx: Transaction, writes: Vec<Write>) -> Result<(), StoreError> {
    let result = (|| -> Result<(), idb::IdbError> {
        for write in &writes {
            let made = match write {
                Write::Put {
                    store,
                    key: Some(key),
                    value,
                } => tx.store(store)?.put_with_key(value, key),
                Write::Put {
                    store,
                    key: None,
                    value,
                } => tx.store(store)?.put(value),
                Write::Delete { store, key } => tx.store(store)?.delete(key),
                Write::Clear(store) => tx.store(store)?.clear(),
            };
            idb::issued(made)?;
        }
        Ok(())
    })()
    .map_err(backend("committing"));
    finish(tx, result).await
}
