//! Catch-up after every (re)connect, and the outbox flush that follows it.
//!
//! The backend pushes nothing that arrived while a client was offline (PROTOCOL §7), so the
//! only way to get it is `GET /api/messages/{peer}?user={me}`, which returns the whole
//! history with that peer. Catch-up reads it for the peers its [`CatchUpScope`] names (by
//! default the known ones, the most recent conversation first; new peers are found by the
//! background directory scan, `directory_scan.rs`), oldest first, decrypts and stores
//! what this device has not seen (by message id, so nothing is duplicated), settles the
//! status of this account's own messages, and tells the backend what it delivered. Only then
//! does the outbox send what is still pending — so a message the backend stored before a
//! disconnect (its echo lost) is recognised in history and not sent twice.

use std::collections::{BTreeSet, HashSet};

use futures::StreamExt;
use rand_core::CryptoRng;

use super::inbound::{parse_kind, parse_status};
use super::{CatchUpScope, Client, ClientError, limits};
use crate::platform::MaybeSend;
use crate::protocol::rest::{StatusBatchRequest, StoredMessage};
use crate::protocol::ws::MessagePayload;
use crate::store::{
    Conversation, Direction, MessageQuery, MessageRecord, MessageStatus, Store, StoreOp, WriteBatch,
};
use crate::transport::{Clock, Transport};

/// History requests in flight at once.
const PARALLEL_FETCHES: usize = 4;

/// Messages decrypted and stored per commit during catch-up.
const CATCH_UP_BATCH: usize = 100;

/// Message ids per delivery-status request.
const STATUS_CHUNK: usize = 100;

/// What a catch-up found so far.
#[derive(Default)]
pub(crate) struct CatchUpProgress {
    /// Messages new to this device.
    pub(crate) new: usize,
    /// Ids of new messages the backend still has as `sent`: reported as delivered.
    pub(crate) delivered: Vec<String>,
    /// The first history that could not be read.
    pub(crate) first_error: Option<ClientError>,
}

impl CatchUpProgress {
    /// How many messages were new; an error only when nothing was read and one failed.
    fn outcome(self) -> Result<usize, ClientError> {
        match self.first_error {
            Some(e) if self.new == 0 => Err(e),
            _ => Ok(self.new),
        }
    }
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Fetches and processes what was missed from everyone the configured
    /// [`CatchUpScope`] covers (for the default, [`CatchUpScope::KnownPeers`]: the peers
    /// this store has a session or messages with, the most recent conversation first);
    /// returns how many messages were new. The connection loop runs it after every
    /// (re)connect.
    pub async fn catch_up(&self) -> Result<usize, ClientError> {
        let me = self.me()?.user_id;
        let peers: Vec<String> = match &self.config.catch_up {
            CatchUpScope::AllUsers => {
                let mut ids: Vec<String> = self
                    .users()
                    .await?
                    .into_iter()
                    .map(|u| u.id)
                    .filter(|id| *id != me)
                    .collect();
                ids.sort();
                ids
            }
            CatchUpScope::KnownPeers => self.known_peers().await?,
            CatchUpScope::Only(peers) => peers.iter().filter(|id| **id != me).cloned().collect(),
        };
        self.catch_up_peers(&me, peers).await
    }

    /// Catch-up with one peer only.
    pub async fn catch_up_with(&self, peer_id: &str) -> Result<usize, ClientError> {
        let me = self.me()?.user_id;
        self.catch_up_peers(&me, vec![peer_id.to_string()]).await
    }

    /// The peers this store has dealt with: those with stored messages, the most recent
    /// conversation first, then those with a session only (by id).
    pub async fn known_peers(&self) -> Result<Vec<String>, ClientError> {
        let mut seen = HashSet::new();
        let mut peers = Vec::new();
        for (conversation, _) in self.store.conversation_activity().await? {
            if let Conversation::Direct(peer) = conversation
                && seen.insert(peer.clone())
            {
                peers.push(peer);
            }
        }
        let mut with_session = self.store.session_peer_ids().await?;
        with_session.sort();
        for peer in with_session {
            if seen.insert(peer.clone()) {
                peers.push(peer);
            }
        }
        Ok(peers)
    }

    async fn catch_up_peers(&self, me: &str, peers: Vec<String>) -> Result<usize, ClientError> {
        // Each history is processed as it arrives (in the order asked), so only a few are
        // held in memory at once, however many peers there are.
        let fetched = self.history_stream(me, peers, PARALLEL_FETCHES);
        futures::pin_mut!(fetched);
        let mut progress = CatchUpProgress::default();
        while let Some((peer, history)) = fetched.next().await {
            self.take_history(me, &peer, history, &mut progress).await?;
        }
        self.report_delivered(&mut progress, 0).await?;
        progress.outcome()
    }

    /// The histories with `peers`, in that order, at most `parallel` requests in flight.
    pub(crate) fn history_stream<'a>(
        &'a self,
        me: &'a str,
        peers: Vec<String>,
        parallel: usize,
    ) -> impl futures::Stream<Item = (String, Result<Vec<StoredMessage>, ClientError>)> + 'a {
        futures::stream::iter(peers)
            .map(move |peer| async move {
                let history = self.api.history(&peer, me).await.map_err(Into::into);
                (peer, history)
            })
            .buffered(parallel.max(1))
    }

    /// Decrypts and stores what `history` (with `peer`) holds that this device has not
    /// seen, and settles this account's own messages in it. A failed read is recorded in
    /// `progress`, not returned: the other peers' histories still count.
    pub(crate) async fn take_history(
        &self,
        me: &str,
        peer: &str,
        history: Result<Vec<StoredMessage>, ClientError>,
        progress: &mut CatchUpProgress,
    ) -> Result<(), ClientError> {
        let messages = match history {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "catch-up could not read history");
                progress.first_error.get_or_insert(e);
                return Ok(());
            }
        };
        let mut incoming = Vec::new();
        let mut was_sent = HashSet::new();
        for message in messages {
            if message.from_user == me {
                self.settle_own(message).await?;
                continue;
            }
            if message.status == "sent" {
                was_sent.insert(message.id.clone());
            }
            incoming.push(MessagePayload {
                id: message.id,
                from: message.from_user,
                to: message.to_user,
                content: message.content,
                timestamp: message.timestamp,
                status: message.status,
                message_type: message.message_type,
                image_data: message.image_data,
                encrypted: message.encrypted.0,
            });
        }
        // Oldest first, in batches: one commit (one disk sync) per batch.
        while !incoming.is_empty() {
            let rest = incoming.split_off(incoming.len().min(CATCH_UP_BATCH));
            let batch = std::mem::replace(&mut incoming, rest);
            let new_ids = self.receive_direct_batch(batch, false).await?;
            progress.new += new_ids.len();
            progress
                .delivered
                .extend(new_ids.into_iter().filter(|id| was_sent.contains(id)));
        }
        // What the backend holds of ours is settled: what is still pending for this peer
        // may go out on this connection.
        self.lock_state().flight.mark_checked(peer);
        if let Err(e) = self.report_delivered(progress, STATUS_CHUNK).await {
            tracing::warn!(error = %e, "could not report messages as delivered");
        }
        Ok(())
    }

    /// Tells the backend which messages were delivered, in requests of up to
    /// [`STATUS_CHUNK`] ids, once more than `keep` wait.
    pub(crate) async fn report_delivered(
        &self,
        progress: &mut CatchUpProgress,
        keep: usize,
    ) -> Result<(), ClientError> {
        if progress.delivered.len() <= keep {
            return Ok(());
        }
        for chunk in std::mem::take(&mut progress.delivered).chunks(STATUS_CHUNK) {
            self.api
                .update_status(&StatusBatchRequest {
                    message_ids: chunk.to_vec(),
                    status: "delivered".into(),
                })
                .await?;
        }
        Ok(())
    }

    /// One of this account's messages as the backend has it.
    async fn settle_own(&self, message: StoredMessage) -> Result<(), ClientError> {
        let status = parse_status(&message.status);
        match self.store.message(&message.id).await? {
            Some(record) => {
                if record.status < status {
                    self.update_status(&record.id, status, message.read_at)
                        .await?;
                }
            }
            // Plaintext "from this account" that this device did not send proves nothing:
            // the backend stores whatever anyone sends as anyone (PROTOCOL §7). Only
            // encrypted ones are shown (as sent from another device, content unknown).
            None if !message.encrypted.0 => {
                tracing::debug!(message = %message.id, "not importing plaintext this device did not send");
            }
            None => {
                let encrypted = message.encrypted.0;
                let mut record = MessageRecord {
                    id: message.id,
                    conversation: Conversation::Direct(message.to_user),
                    sender_id: message.from_user,
                    direction: Direction::Outgoing,
                    body: if encrypted {
                        String::new()
                    } else {
                        message.content
                    },
                    kind: parse_kind(&message.message_type),
                    image_data: message.image_data,
                    timestamp: message.timestamp,
                    status,
                    encrypted,
                    read_at: message.read_at,
                    wire: None,
                    decrypt_error: encrypted
                        .then(|| "sent from another device: not readable here".to_string()),
                };
                limits::enforce(&mut record);
                let mut batch = WriteBatch::new();
                batch.push(StoreOp::PutMessage(record));
                self.store.commit(batch).await?;
            }
        }
        Ok(())
    }

    /// Sends everything still pending (written before `written_before`, ms, when given),
    /// oldest first, through the flight (so nothing goes out twice on a connection, and
    /// messages to one peer are paced). A message saved before this connection is sent only
    /// once its peer's history was read on this connection and does not hold it: an echo
    /// lost with the old socket does not mean the message was lost, and the backend relays
    /// duplicates. Returns how many went out now (paced ones follow).
    pub(crate) async fn flush_outbox(
        &self,
        written_before: Option<i64>,
    ) -> Result<usize, ClientError> {
        let query = MessageQuery {
            status: Some(MessageStatus::Pending),
            before: written_before,
            ..MessageQuery::default()
        };
        let pending = self.pending_outgoing(&query).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        // Group messages have no client-chosen id: settle the ones the backend already has
        // (sent before a disconnect, echo lost) from group history before resending.
        let groups: BTreeSet<String> = pending
            .iter()
            .filter_map(|m| match &m.conversation {
                Conversation::Group(g) => Some(g.clone()),
                Conversation::Direct(_) => None,
            })
            .collect();
        for group in groups {
            if let Err(e) = self.group_history(&group, Some(50), None).await {
                tracing::warn!(%group, error = %e, "could not check group history before resending");
            }
        }
        // Peers whose history this connection has not read yet: read it now.
        let unchecked: BTreeSet<String> = {
            let state = self.lock_state();
            pending
                .iter()
                .filter_map(|m| match &m.conversation {
                    Conversation::Direct(peer) if !state.flight.is_checked(peer) => {
                        Some(peer.clone())
                    }
                    _ => None,
                })
                .collect()
        };
        for peer in unchecked {
            if let Err(e) = self.catch_up_with(&peer).await {
                tracing::warn!(%peer, error = %e, "could not check history before resending");
                // Its older messages wait for the next try; so do newer ones, to keep order.
                self.lock_state().flight.block(&peer);
            }
        }
        // Read again: the checks settled what the backend already had.
        let pending: Vec<MessageRecord> = self
            .pending_outgoing(&query)
            .await?
            .into_iter()
            .filter(|m| match &m.conversation {
                Conversation::Direct(peer) => self.lock_state().flight.is_checked(peer),
                Conversation::Group(_) => true,
            })
            .collect();
        Ok(self.send_saved(pending).await)
    }

    /// This account's messages that `query` finds, oldest first.
    async fn pending_outgoing(
        &self,
        query: &MessageQuery,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        Ok(self
            .store
            .messages(query)
            .await?
            .into_iter()
            .filter(|m| m.direction == Direction::Outgoing)
            .collect())
    }
}
