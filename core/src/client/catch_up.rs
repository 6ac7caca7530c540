//! Catch-up after every (re)connect, and the outbox flush that follows it.
//!
//! The backend pushes nothing that arrived while a client was offline (PROTOCOL §7), so the
//! only way to get it is `GET /api/messages/{peer}?user={me}`, which returns the whole
//! history with that peer. Catch-up reads it peer by peer, oldest first, decrypts and stores
//! what this device has not seen (by message id, so nothing is duplicated), settles the
//! status of this account's own messages, and tells the backend what it delivered. Only then
//! does the outbox send what is still pending — so a message the backend stored before a
//! disconnect (its echo lost) is recognised in history and not sent twice.

use std::collections::BTreeSet;

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

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Fetches and processes what was missed from everyone the configured
    /// [`CatchUpScope`] covers; returns how many messages were new. The connection loop
    /// runs it after every (re)connect.
    pub async fn catch_up(&self) -> Result<usize, ClientError> {
        let me = self.me()?.user_id;
        let peers: Vec<String> = match &self.config.catch_up {
            CatchUpScope::AllUsers => self
                .users()
                .await?
                .into_iter()
                .map(|u| u.id)
                .filter(|id| *id != me)
                .collect(),
            CatchUpScope::KnownPeers => {
                let mut peers: BTreeSet<String> =
                    self.store.session_peer_ids().await?.into_iter().collect();
                for message in self.store.messages(&MessageQuery::default()).await? {
                    if let Conversation::Direct(peer) = message.conversation {
                        peers.insert(peer);
                    }
                }
                peers.into_iter().collect()
            }
            CatchUpScope::Only(peers) => peers.iter().filter(|id| **id != me).cloned().collect(),
        };
        self.catch_up_peers(&me, peers).await
    }

    /// Catch-up with one peer only.
    pub async fn catch_up_with(&self, peer_id: &str) -> Result<usize, ClientError> {
        let me = self.me()?.user_id;
        self.catch_up_peers(&me, vec![peer_id.to_string()]).await
    }

    async fn catch_up_peers(&self, me: &str, peers: Vec<String>) -> Result<usize, ClientError> {
        let me_ref = me;
        let mut fetched: Vec<(String, Result<Vec<StoredMessage>, ClientError>)> =
            futures::stream::iter(peers)
                .map(|peer| async move {
                    let history = self.api.history(&peer, me_ref).await.map_err(Into::into);
                    (peer, history)
                })
                .buffer_unordered(PARALLEL_FETCHES)
                .collect()
                .await;
        fetched.sort_by(|a, b| a.0.cmp(&b.0));

        let mut new = 0;
        let mut delivered = Vec::new();
        let mut first_error = None;
        for (peer, history) in fetched {
            let messages = match history {
                Ok(messages) => messages,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "catch-up could not read history");
                    first_error.get_or_insert(e);
                    continue;
                }
            };

            let mut incoming = Vec::new();
            let mut was_sent = std::collections::HashSet::new();
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
                new += new_ids.len();
                delivered.extend(new_ids.into_iter().filter(|id| was_sent.contains(id)));
            }
            // What the backend holds of ours is settled: what is still pending for this
            // peer may go out on this connection.
            self.lock_state().flight.mark_checked(&peer);
        }
        for chunk in delivered.chunks(100) {
            self.api
                .update_status(&StatusBatchRequest {
                    message_ids: chunk.to_vec(),
                    status: "delivered".into(),
                })
                .await?;
        }
        match first_error {
            Some(e) if new == 0 => Err(e),
            _ => Ok(new),
        }
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
