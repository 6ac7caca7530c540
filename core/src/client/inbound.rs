//! Frames from the backend: turned into stored records and events.

use rand_core::CryptoRng;

use super::peer_keys::Vetting;
use super::{Client, ClientError, Event, limits};
use crate::platform::MaybeSend;
use crate::protocol::rest::GroupMessage;
use crate::protocol::ws::{MessagePayload, ServerFrame};
use crate::ratchet::RatchetError;
use crate::session::SessionError;
use crate::store::{
    ContentKind, Conversation, Direction, MessageRecord, MessageStatus, Store, StoreOp, WriteBatch,
};
use crate::transport::{Clock, Transport};

/// The backend's error text when images are not allowed.
const NO_IMAGES: &str = "You do not have permission to send images.";

pub(crate) fn parse_status(status: &str) -> MessageStatus {
    match status {
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        _ => MessageStatus::Sent,
    }
}

pub(crate) fn parse_kind(message_type: &str) -> ContentKind {
    match message_type {
        "image" => ContentKind::Image,
        "system" => ContentKind::System,
        _ => ContentKind::Text,
    }
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Handles one text frame from the backend. Nothing in a frame can stop the client: a
    /// frame it cannot read becomes an [`Event::MalformedFrame`], a failure to store one an
    /// error event.
    pub(crate) async fn handle_frame(&self, text: &str, live: bool) {
        let frame = match ServerFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => {
                self.events.emit(Event::MalformedFrame {
                    detail: e.to_string(),
                });
                return;
            }
        };
        if let Err(e) = self.dispatch(frame, live).await {
            self.report_failure(&e);
        }
    }

    /// Handles frames that arrived together, in order, except that the messages from peers
    /// between two other frames are decrypted and stored as one batch (one disk sync), with
    /// the echoes of this account's own messages among them settled right after it (one
    /// commit for them all).
    pub(crate) async fn handle_frames(&self, texts: Vec<String>, live: bool) {
        let me = match self.me() {
            Ok(me) => me.user_id,
            Err(_) => return,
        };
        // Messages from peers and the backend's echoes of this account's own messages are
        // independent of each other (an echo settles a record the peers' messages never
        // touch), and they interleave on a busy socket: a bot's replies are echoed between
        // the next messages it gets. So echoes wait beside the batch instead of ending it:
        // the peers' messages of a whole read cost one commit, not one each, and so do the
        // echoes. Every other frame keeps its place: what came before it is handled first.
        let mut pending: Vec<MessagePayload> = Vec::new();
        let mut echoes: Vec<MessagePayload> = Vec::new();
        for text in texts {
            match ServerFrame::parse(&text) {
                Ok(ServerFrame::Message(payload)) if payload.from != me => pending.push(payload),
                Ok(ServerFrame::Message(payload)) => echoes.push(payload),
                parsed => {
                    self.flush_received(&mut pending, live).await;
                    self.flush_echoes(&mut echoes).await;
                    match parsed {
                        Ok(frame) => {
                            if let Err(e) = self.dispatch(frame, live).await {
                                self.report_failure(&e);
                            }
                        }
                        Err(e) => self.events.emit(Event::MalformedFrame {
                            detail: e.to_string(),
                        }),
                    }
                }
            }
        }
        self.flush_received(&mut pending, live).await;
        self.flush_echoes(&mut echoes).await;
    }

    async fn flush_echoes(&self, echoes: &mut Vec<MessagePayload>) {
        if echoes.is_empty() {
            return;
        }
        if let Err(e) = self.echoes(std::mem::take(echoes)).await {
            self.report_failure(&e);
        }
    }

    async fn flush_received(&self, pending: &mut Vec<MessagePayload>, live: bool) {
        if pending.is_empty() {
            return;
        }
        if let Err(e) = self
            .receive_direct_batch(std::mem::take(pending), live)
            .await
        {
            self.report_failure(&e);
        }
    }

    fn report_failure(&self, e: &ClientError) {
        tracing::warn!(error = %e, "handling a frame failed");
        self.events.emit(Event::ServerError {
            message: format!("could not handle a frame: {e}"),
        });
    }

    async fn dispatch(&self, frame: ServerFrame, live: bool) -> Result<(), ClientError> {
        let me = self.me()?.user_id;
        match frame {
            ServerFrame::OnlineList(users) => {
                let mut state = self.lock_state();
                state.online = users
                    .into_iter()
                    .filter(|u| u.online)
                    .map(|u| (u.user_id, u.username))
                    .collect();
            }
            ServerFrame::Presence(p) => {
                {
                    let now = self.now();
                    let mut state = self.lock_state();
                    if p.online {
                        // A peer that reconnects may have reset its keys meanwhile.
                        state.came_online_at.insert(p.user_id.clone(), now);
                        state.online.insert(p.user_id.clone(), p.username.clone());
                    } else {
                        state.online.remove(&p.user_id);
                    }
                }
                if p.user_id != me {
                    self.events.emit(Event::Presence {
                        user_id: p.user_id,
                        username: p.username,
                        online: p.online,
                    });
                }
            }
            ServerFrame::Message(payload) if payload.from == me => {
                self.echoes(vec![payload]).await?;
            }
            ServerFrame::Message(payload) => {
                self.receive_direct(payload, live).await?;
            }
            ServerFrame::Typing {
                from,
                username,
                typing,
            } => {
                // Our own heartbeat comes back as typing from ourselves: not an event.
                if from != me {
                    self.events.emit(Event::Typing {
                        user_id: from,
                        username,
                        typing,
                    });
                }
            }
            ServerFrame::Status { message_id, status } => {
                self.update_status(&message_id, parse_status(&status), None)
                    .await?;
            }
            ServerFrame::Read {
                message_ids,
                read_by,
            } => {
                let now = self.now();
                for id in &message_ids {
                    self.update_status(id, MessageStatus::Read, Some(now))
                        .await?;
                }
                self.events.emit(Event::MessagesRead {
                    message_ids,
                    by: read_by,
                });
            }
            ServerFrame::GroupMessage(message) => {
                self.receive_group(message, live).await?;
            }
            ServerFrame::GroupTyping {
                group_id,
                user_id,
                username,
                typing,
            } => self.events.emit(Event::GroupTyping {
                group_id,
                user_id,
                username,
                typing,
            }),
            ServerFrame::GroupRead {
                message_id,
                group_id,
                user_id,
                read_at,
            } => self.events.emit(Event::GroupRead {
                group_id,
                message_id,
                user_id,
                read_at,
            }),
            ServerFrame::GroupEvent(payload) => {
                let group_id = payload
                    .get("groupId")
                    .and_then(|g| g.as_str())
                    .unwrap_or_default()
                    .to_string();
                self.events.emit(Event::GroupEvent { group_id, payload });
            }
            ServerFrame::Error { message } => {
                let refused_image = message == NO_IMAGES;
                self.events.emit(Event::ServerError { message });
                if refused_image {
                    let failed = self.lock_state().images_in_flight.pop_front();
                    if let Some(id) = failed {
                        self.update_status(&id, MessageStatus::Failed, None).await?;
                    }
                }
            }
            ServerFrame::Unknown { frame_type, .. } => {
                tracing::debug!(%frame_type, "ignoring a frame of unknown type");
            }
        }
        Ok(())
    }

    /// Moves one of our messages forward (never back) in status.
    pub(crate) async fn update_status(
        &self,
        message_id: &str,
        status: MessageStatus,
        read_at: Option<i64>,
    ) -> Result<(), ClientError> {
        let Some(mut record) = self.store.message(message_id).await? else {
            return Ok(());
        };
        let forward = record.status < status || status == MessageStatus::Failed;
        if !forward || record.status == MessageStatus::Failed {
            return Ok(());
        }
        record.status = status;
        if status == MessageStatus::Read {
            record.read_at = read_at.or(record.read_at);
        }
        if status != MessageStatus::Failed {
            record.wire = None;
        }
        let mut batch = WriteBatch::new().relaxed();
        batch.push(StoreOp::PutMessage(record));
        self.store.commit(batch).await?;
        self.events.emit(Event::MessageStatus {
            message_id: message_id.to_string(),
            status,
        });
        Ok(())
    }

    /// A 1:1 message from a peer: decrypted and stored with the session it advanced, in one
    /// commit. Returns whether it was new to this device.
    pub(crate) async fn receive_direct(
        &self,
        payload: MessagePayload,
        live: bool,
    ) -> Result<bool, ClientError> {
        Ok(!self
            .receive_direct_batch(vec![payload], live)
            .await?
            .is_empty())
    }

    /// 1:1 messages from peers, in order: each decrypted from the state the previous ones
    /// left, all stored with their sessions in one commit (one disk sync for the lot).
    /// Messages this device already has are skipped. Returns the ids of the new ones.
    pub(crate) async fn receive_direct_batch(
        &self,
        payloads: Vec<MessagePayload>,
        live: bool,
    ) -> Result<Vec<String>, ClientError> {
        let mut seen = std::collections::HashSet::new();
        let mut fresh: Vec<MessagePayload> = Vec::with_capacity(payloads.len());
        for payload in payloads {
            if seen.insert(payload.id.clone()) && self.store.message(&payload.id).await?.is_none() {
                fresh.push(payload);
            }
        }
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        // First messages on a key new for their sender: only the key the sender publishes.
        let vetted = self.vet_first_messages(&fresh).await;
        fresh.retain(|p| match vetted.get(&p.id) {
            Some(Vetting::Deferred(reason)) => {
                tracing::warn!(message = %p.id, %reason, "first message left for the next catch-up");
                false
            }
            _ => true,
        });
        let encrypted: Vec<(String, String)> = fresh
            .iter()
            .filter(|p| {
                p.encrypted && !vetted.contains_key(&p.id) && limits::refusal_of(p).is_none()
            })
            .map(|p| (p.from.clone(), p.content.clone()))
            .collect();
        let now = self.now();
        let mut guard = self.crypto.lock().await;
        let crypto = &mut *guard;
        let (engine, rng) = crypto.device.parts()?;
        // Plaintext where a session exists is someone posing as the peer (the backend takes
        // any sender on a socket), unless the app allowed plaintext from that peer.
        let mut spoofable = std::collections::HashSet::new();
        for payload in fresh.iter().filter(|p| !p.encrypted) {
            if parse_kind(&payload.message_type) == ContentKind::Text
                && !self.config.plaintext_allowed.contains(&payload.from)
                && engine.has_session(&payload.from).await?
            {
                spoofable.insert(payload.id.clone());
            }
        }
        let mut prepared = engine
            .decrypt_batch_gated(&encrypted, now, rng, Some(&mut crypto.cooling))
            .await?;
        let mut outcomes = prepared.value().clone().into_iter();
        let mut events = Vec::with_capacity(fresh.len() + 1);
        let mut answered = std::collections::BTreeSet::new();
        let mut failed_peers = std::collections::BTreeSet::new();
        let mut deferred = std::collections::HashSet::new();
        for payload in fresh.iter() {
            let mut record = MessageRecord {
                id: payload.id.clone(),
                conversation: Conversation::Direct(payload.from.clone()),
                sender_id: payload.from.clone(),
                direction: Direction::Incoming,
                body: String::new(),
                kind: parse_kind(&payload.message_type),
                image_data: payload.image_data.clone(),
                timestamp: payload.timestamp,
                status: parse_status(&payload.status).max(MessageStatus::Delivered),
                encrypted: payload.encrypted,
                read_at: None,
                wire: None,
                decrypt_error: None,
            };
            if let Some(reason) = limits::refusal_of(payload) {
                limits::refuse(&mut record, &payload.content, reason.clone());
                events.push(Event::DecryptionFailed {
                    message_id: payload.id.clone(),
                    from: payload.from.clone(),
                    reason,
                });
            } else if spoofable.contains(&payload.id) {
                let reason = format!(
                    "plaintext in an encrypted conversation with {}: refused (anyone can send \
                     as anyone through the backend; allow plaintext from this peer in the \
                     config if it really cannot encrypt)",
                    payload.from
                );
                record.decrypt_error = Some(reason.clone());
                events.push(Event::DecryptionFailed {
                    message_id: payload.id.clone(),
                    from: payload.from.clone(),
                    reason,
                });
            } else if !payload.encrypted {
                record.body = payload.content.clone();
                events.push(Event::Message {
                    message: record.clone(),
                    live,
                });
            } else if let Some(Vetting::Refused(reason)) = vetted.get(&payload.id) {
                // Nothing of it is kept but the reason: no session, no pinned key.
                record.decrypt_error = Some(reason.clone());
                events.push(Event::DecryptionFailed {
                    message_id: payload.id.clone(),
                    from: payload.from.clone(),
                    reason: reason.clone(),
                });
            } else {
                match outcomes.next() {
                    Some(Ok(incoming)) => {
                        answered.insert(payload.from.clone());
                        record.body = incoming.plaintext;
                        if let Some(change) = incoming.identity_change {
                            events.push(Event::IdentityChanged { change });
                        }
                        events.push(Event::Message {
                            message: record.clone(),
                            live,
                        });
                    }
                    // Not stored: the next catch-up brings it back once the peer has cooled.
                    Some(Err(e @ SessionError::Cooling { .. })) => {
                        deferred.insert(payload.id.clone());
                        events.push(Event::DecryptionFailed {
                            message_id: payload.id.clone(),
                            from: payload.from.clone(),
                            reason: e.to_string(),
                        });
                        continue;
                    }
                    Some(Err(e)) => {
                        if !matches!(
                            e,
                            SessionError::Decrypt {
                                source: RatchetError::DuplicateMessage { .. },
                                ..
                            }
                        ) {
                            failed_peers.insert(payload.from.clone());
                        }
                        // Kept as received, never shown as plaintext.
                        record.wire = Some(payload.content.clone());
                        record.decrypt_error = Some(e.to_string());
                        events.push(Event::DecryptionFailed {
                            message_id: payload.id.clone(),
                            from: payload.from.clone(),
                            reason: e.to_string(),
                        });
                    }
                    None => continue,
                }
            }
            prepared.add(StoreOp::PutMessage(record));
        }
        prepared.commit().await?;
        drop(guard);
        {
            let mut state = self.lock_state();
            for peer in &answered {
                state.flight.answered(peer);
            }
        }
        for event in events {
            self.events.emit(event);
        }
        // A peer whose messages we cannot open may have reset its keys.
        for peer in failed_peers.difference(&answered) {
            self.recheck_after_failure(peer).await;
        }
        Ok(fresh
            .into_iter()
            .map(|p| p.id)
            .filter(|id| !deferred.contains(id))
            .collect())
    }

    /// A group message (live or from history). Returns whether it was new.
    pub(crate) async fn receive_group(
        &self,
        message: GroupMessage,
        live: bool,
    ) -> Result<bool, ClientError> {
        let me = self.me()?.user_id;
        if self.store.message(&message.id).await?.is_some() {
            return Ok(false);
        }
        let outgoing = message.from_user == me;
        // The backend names group messages itself: our pending copy of this one (same
        // group and text, oldest first) gives way to the backend's.
        let pending = if outgoing {
            self.pending_group_match(&message).await?
        } else {
            None
        };
        let mut record = MessageRecord {
            id: message.id.clone(),
            conversation: Conversation::Group(message.group_id.clone()),
            sender_id: message.from_user.clone(),
            direction: if outgoing {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
            body: message.content.clone(),
            kind: parse_kind(&message.message_type),
            image_data: message.image_data.clone(),
            timestamp: message.timestamp,
            status: MessageStatus::Delivered,
            encrypted: false,
            read_at: None,
            wire: None,
            decrypt_error: None,
        };
        limits::enforce(&mut record);
        let mut batch = WriteBatch::new();
        if let Some(pending) = &pending {
            batch.push(StoreOp::DeleteMessage(pending.id.clone()));
        }
        batch.push(StoreOp::PutMessage(record.clone()));
        self.store.commit(batch).await?;
        if let Some(pending) = pending {
            // Our message arrived: no longer in flight, nor waiting for a possible refusal.
            let now = self.now();
            let mut state = self.lock_state();
            state.images_in_flight.retain(|id| *id != pending.id);
            state.flight.echoed(&pending.id, now, &self.config.pacing);
            drop(state);
            self.events.emit(Event::MessageReplaced {
                old_id: pending.id,
                message: record.clone(),
            });
        }
        self.events.emit(Event::GroupMessage {
            message: record,
            live,
        });
        Ok(!outgoing)
    }
}
