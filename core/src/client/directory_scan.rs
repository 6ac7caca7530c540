//! The background walk of the user directory that finds first messages from peers this
//! store never dealt with, sent while it was offline.
//!
//! The backend has no "everything for me" query (PROTOCOL §7): a message is found only by
//! reading the history with its sender. Catch-up on connect reads the known peers only;
//! this scan reads every other user's history now and then ([`DirectoryScan`]), a step of
//! users at a time with at most `max_in_flight` requests out, in user-id order. After each
//! step the last user covered is saved in the store ([`ScanProgress`]), so a restarted
//! client continues its pass.
//!
//! The serving loop drives it: it polls the step's requests together with the socket (they
//! hold no lock), and processes the answers itself between frames, so a scan never delays
//! a send and never holds the session engine while the loop waits for it.

use std::collections::VecDeque;

use rand_core::CryptoRng;

use super::catch_up::CatchUpProgress;
use super::{CatchUpScope, Client, ClientError, DirectoryScan};
use crate::platform::MaybeSend;
use crate::protocol::rest::{StoredMessage, UserSummary};
use crate::store::{ScanProgress, Store, StoreOp, WriteBatch};
use crate::transport::{Clock, Transport};

/// A connection's scan: what is left of the pass in progress, and when it may go on.
pub(crate) struct ScanState {
    config: DirectoryScan,
    /// Nothing is asked before this, ms.
    next_at: i64,
    /// Users of the pass in progress not covered yet, in id order; `None` until the
    /// directory is read for this connection.
    left: Option<VecDeque<String>>,
}

impl ScanState {
    /// The scan of a connection that caught up at `now`; `None` when the configuration
    /// turns it off.
    pub(crate) fn new(
        scope: &CatchUpScope,
        config: Option<DirectoryScan>,
        now: i64,
    ) -> Option<Self> {
        let config = config.filter(|_| *scope == CatchUpScope::KnownPeers)?;
        Some(Self {
            config,
            next_at: now.saturating_add(ms(config.start_after_ms)),
            left: None,
        })
    }

    /// When the scan wants to go on next, ms.
    pub(crate) fn next_at(&self) -> i64 {
        self.next_at
    }

    fn pause(&mut self, now: i64, for_ms: u64) {
        self.next_at = now.saturating_add(ms(for_ms));
    }
}

/// The requests of one step.
pub(crate) enum ScanJob {
    /// Read the user directory (a pass starts or continues on this connection).
    Directory,
    /// Read these users' histories; `through` is the last user id the step covers
    /// (skipped users included).
    Histories {
        /// Whose histories.
        peers: Vec<String>,
        /// The last user id covered.
        through: String,
    },
}

/// The answers of one step.
pub(crate) enum ScanFetched {
    /// The user directory.
    Directory(Result<Vec<UserSummary>, ClientError>),
    /// Histories, in the order asked.
    Histories {
        /// Each user and their history with this account.
        histories: Vec<(String, Result<Vec<StoredMessage>, ClientError>)>,
        /// The last user id covered.
        through: String,
    },
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// The next step of the scan if one is due at `now`; finishes the pass when no user is
    /// left.
    pub(crate) async fn next_scan_job(&self, scan: &mut ScanState, now: i64) -> Option<ScanJob> {
        if now < scan.next_at {
            return None;
        }
        let Some(left) = scan.left.as_mut() else {
            let progress = match self.scan_progress().await {
                Ok(progress) => progress,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the directory scan's progress");
                    scan.pause(now, scan.config.retry_after_ms);
                    return None;
                }
            };
            if progress.after.is_none()
                && let Some(finished) = progress.finished_at
            {
                let due = finished.saturating_add(ms(scan.config.interval_ms));
                if now < due {
                    scan.next_at = due;
                    return None;
                }
            }
            return Some(ScanJob::Directory);
        };
        let me = self.current_user().map(|u| u.user_id).unwrap_or_default();
        let mut peers = Vec::new();
        let mut through = None;
        // Skipped users cost nothing: the step gathers `step` users to read, or the rest.
        while peers.len() < scan.config.step.max(1) {
            let Some(user) = left.pop_front() else { break };
            // Peers caught up on this connection were read already.
            if user != me && !self.lock_state().flight.is_checked(&user) {
                peers.push(user.clone());
            }
            through = Some(user);
        }
        match through {
            Some(through) if !peers.is_empty() => Some(ScanJob::Histories { peers, through }),
            _ => {
                // The pass is complete.
                self.save_scan_progress(None, Some(now)).await;
                scan.left = None;
                scan.pause(now, scan.config.interval_ms);
                None
            }
        }
    }

    /// Runs the requests of `job`, at most `max_in_flight` at once. Takes no lock: the
    /// serving loop polls it alongside the socket.
    pub(crate) async fn run_scan_job(&self, job: ScanJob, max_in_flight: usize) -> ScanFetched {
        use futures::StreamExt;
        match job {
            ScanJob::Directory => {
                ScanFetched::Directory(self.api.users().await.map_err(Into::into))
            }
            ScanJob::Histories { peers, through } => {
                let me = self.current_user().map(|u| u.user_id).unwrap_or_default();
                let histories = self
                    .history_stream(&me, peers, max_in_flight)
                    .collect()
                    .await;
                ScanFetched::Histories { histories, through }
            }
        }
    }

    /// Takes in the answers of a step: the pass's users, or histories to process (and the
    /// position to save).
    pub(crate) async fn scan_fetched(&self, scan: &mut ScanState, fetched: ScanFetched) {
        let now = self.now();
        match fetched {
            ScanFetched::Directory(Ok(users)) => {
                let after = match self.scan_progress().await {
                    Ok(progress) => progress.after,
                    Err(_) => None,
                };
                let mut ids: Vec<String> = users
                    .into_iter()
                    .map(|u| u.id)
                    .filter(|id| after.as_ref().is_none_or(|after| id > after))
                    .collect();
                ids.sort();
                ids.dedup();
                tracing::debug!(
                    users = ids.len(),
                    resumed = after.is_some(),
                    "directory scan"
                );
                scan.left = Some(ids.into());
            }
            ScanFetched::Directory(Err(e)) => {
                tracing::warn!(error = %e, "directory scan could not read the users");
                scan.pause(now, scan.config.retry_after_ms);
            }
            ScanFetched::Histories { histories, through } => {
                let me = self.current_user().map(|u| u.user_id).unwrap_or_default();
                let mut progress = CatchUpProgress::default();
                let mut failed = Vec::new();
                for (peer, history) in histories {
                    let unread = history.is_err();
                    if let Err(e) = self.take_history(&me, &peer, history, &mut progress).await {
                        tracing::warn!(%peer, error = %e, "directory scan could not store history");
                        failed.push(peer);
                    } else if unread {
                        failed.push(peer);
                    }
                }
                if let Err(e) = self.report_delivered(&mut progress, 0).await {
                    tracing::warn!(error = %e, "could not report messages as delivered");
                }
                if progress.new > 0 {
                    tracing::info!(new = progress.new, "directory scan found messages");
                }
                if failed.is_empty() {
                    self.save_scan_progress(Some(through), None).await;
                } else {
                    // Tried again after a pause; the saved position stays before them.
                    if let Some(left) = scan.left.as_mut() {
                        for peer in failed.into_iter().rev() {
                            left.push_front(peer);
                        }
                    }
                    scan.pause(now, scan.config.retry_after_ms);
                }
            }
        }
    }

    async fn scan_progress(&self) -> Result<ScanProgress, ClientError> {
        Ok(self
            .store
            .account_meta()
            .await?
            .and_then(|meta| meta.directory_scan)
            .unwrap_or_default())
    }

    /// Saves the pass's position (`after`) and, when a pass ended, its time. A position
    /// that is not saved only makes a restarted pass read a few histories twice (messages
    /// are recognised by id), so a failure is logged, not returned.
    async fn save_scan_progress(&self, after: Option<String>, finished_at: Option<i64>) {
        // Prekey upkeep rewrites the same record while holding the crypto lock.
        let _crypto = self.crypto.lock().await;
        let saved = async {
            let Some(mut meta) = self.store.account_meta().await? else {
                return Ok::<(), ClientError>(());
            };
            let mut progress = meta.directory_scan.take().unwrap_or_default();
            progress.after = after;
            if finished_at.is_some() {
                progress.finished_at = finished_at;
            }
            meta.directory_scan = Some(progress);
            let mut batch = WriteBatch::new();
            batch.push(StoreOp::PutAccountMeta(meta));
            self.store.commit(batch.relaxed()).await?;
            Ok(())
        };
        if let Err(e) = saved.await {
            tracing::warn!(error = %e, "could not save the directory scan's position");
        }
    }
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
