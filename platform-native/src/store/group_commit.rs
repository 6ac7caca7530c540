//! Group commit: batches committed at the same time from several threads are written in one
//! transaction with one fsync, each batch still all or nothing.

use std::sync::{Arc, Mutex, MutexGuard};

use quickchat_core::store::{BatchDurability, StoreError, WriteBatch};
use redb::Durability as RedbDurability;

use super::error::{backend_error, commit_error, transaction_error};
use super::options::Durability;
use super::redb_store::Inner;
use super::writes::{Prepared, WriteTables};

/// A batch waiting in the group-commit queue, and then its result.
pub(super) struct Pending {
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

impl Inner {
    /// Commits `batch`, together with any batches other threads are committing at the same
    /// time (group commit): the first caller to get the write lock becomes the leader and
    /// writes every batch queued so far in one transaction and one fsync; the others find
    /// their result when they get the lock. Each batch is still all or nothing: a batch that
    /// fails is taken out and the rest written again without it.
    pub(super) fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
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

    /// Makes every commit so far durable: an empty transaction with an fsync.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
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
