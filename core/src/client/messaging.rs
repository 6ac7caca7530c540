//! Sending: encrypted text through the outbox, images as the web client sends them,
//! typing indicators and read receipts.

use rand_core::CryptoRng;

use super::account::with_jwt;
use super::{Client, ClientError, Event, new_message_id};
use crate::platform::MaybeSend;
use crate::protocol::rest::StatusBatchRequest;
use crate::protocol::ws::{ClientFrame, MessageType};
use crate::store::{
    ContentKind, Conversation, Direction, MessageRecord, MessageStatus, Store, StoreOp, WriteBatch,
};
use crate::transport::{Clock, Transport};

/// The caption the web client sends with an image.
pub const IMAGE_CAPTION: &str = "📷 Image";

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Sends `text` to `peer_id`, end-to-end encrypted. The message is saved (with the
    /// session state it advanced) before anything goes out, so it is never lost: if the
    /// socket is down it waits in the outbox (status `Pending`) and goes out once connected,
    /// exactly once. A peer without a session gets one from its bundle, fetched once.
    pub async fn send_text(&self, peer_id: &str, text: &str) -> Result<MessageRecord, ClientError> {
        let me = self.me()?;
        let now = self.now();
        let mut guard = self.crypto.lock().await;
        let crypto = &mut *guard;
        let engine = crypto.engine.as_mut().ok_or(ClientError::NotLoggedIn)?;
        if !engine.has_session(peer_id).await? {
            match with_jwt!(self, |jwt| self.api.fetch_bundle(&jwt, peer_id)) {
                Ok(bundle) => {
                    let change = engine
                        .start_session(peer_id, &bundle.to_bundle()?, now, &mut crypto.rng)
                        .await?;
                    if let Some(change) = change {
                        self.events.emit(Event::IdentityChanged { change });
                    }
                }
                Err(e) if e.is_status(404) => {
                    if !self.config.plaintext_allowed.contains(peer_id) {
                        return Err(ClientError::PeerHasNoKeys {
                            peer_id: peer_id.to_string(),
                        });
                    }
                    drop(guard);
                    return self.send_plaintext(peer_id, text).await;
                }
                Err(e) => return Err(e),
            }
        }
        let id = new_message_id(&mut crypto.rng);
        let mut prepared = engine.encrypt(peer_id, text, now, &mut crypto.rng).await?;
        let mut record = self.outgoing_record(id, &me.user_id, peer_id, text, now, true);
        record.wire = Some(prepared.value().wire.clone());
        prepared.add(StoreOp::PutMessage(record.clone()));
        prepared.commit().await?;
        drop(guard);
        self.transmit(&record).await;
        Ok(record)
    }

    /// Sends `text` to `peer_id` **without** end-to-end encryption: the backend (and
    /// anyone who can read its database) sees it. For peers that cannot decrypt, and for
    /// measuring what encryption costs. Saved and queued like encrypted text.
    pub async fn send_plaintext(
        &self,
        peer_id: &str,
        text: &str,
    ) -> Result<MessageRecord, ClientError> {
        let me = self.me()?;
        let now = self.now();
        let id = new_message_id(&mut self.crypto.lock().await.rng);
        let record = self.outgoing_record(id, &me.user_id, peer_id, text, now, false);
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutMessage(record.clone()));
        self.store.commit(batch).await?;
        self.transmit(&record).await;
        Ok(record)
    }

    /// Sends an image as the web client does: not encrypted (the web client cannot read
    /// encrypted images), the data URL in `imageData` and a caption as content. Queued in
    /// the outbox like text when offline.
    pub async fn send_image(
        &self,
        peer_id: &str,
        data_url: &str,
    ) -> Result<MessageRecord, ClientError> {
        check_data_url(data_url)?;
        let me = self.me()?;
        let now = self.now();
        let id = new_message_id(&mut self.crypto.lock().await.rng);
        let mut record = self.outgoing_record(id, &me.user_id, peer_id, IMAGE_CAPTION, now, false);
        record.kind = ContentKind::Image;
        record.image_data = Some(data_url.to_string());
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutMessage(record.clone()));
        self.store.commit(batch).await?;
        self.transmit(&record).await;
        Ok(record)
    }

    fn outgoing_record(
        &self,
        id: String,
        me: &str,
        peer_id: &str,
        body: &str,
        now: i64,
        encrypted: bool,
    ) -> MessageRecord {
        MessageRecord {
            id,
            conversation: Conversation::Direct(peer_id.to_string()),
            sender_id: me.to_string(),
            direction: Direction::Outgoing,
            body: body.to_string(),
            kind: ContentKind::Text,
            image_data: None,
            timestamp: now,
            status: MessageStatus::Pending,
            encrypted,
            read_at: None,
            wire: None,
            decrypt_error: None,
        }
    }

    /// Sends a pending 1:1 message if the socket is up (it stays pending otherwise).
    /// Returns whether it went out.
    pub(crate) async fn transmit(&self, record: &MessageRecord) -> bool {
        let Conversation::Direct(peer_id) = &record.conversation else {
            return false;
        };
        let frame = ClientFrame::Message {
            to: peer_id.clone(),
            content: record.wire.clone().unwrap_or_else(|| record.body.clone()),
            message_type: match record.kind {
                ContentKind::Image => MessageType::Image,
                _ => MessageType::Text,
            },
            encrypted: record.encrypted,
            message_id: Some(record.id.clone()),
            image_data: record.image_data.clone(),
        };
        let sent = self.send_frame(&frame).await.is_ok();
        if sent && record.kind == ContentKind::Image {
            self.lock_state()
                .images_in_flight
                .push_back(record.id.clone());
        }
        sent
    }

    /// Tells `peer_id` this user is (or stopped) typing. Not queued: fails when offline.
    pub async fn set_typing(&self, peer_id: &str, typing: bool) -> Result<(), ClientError> {
        self.me()?;
        self.send_frame(&ClientFrame::Typing {
            to: peer_id.to_string(),
            typing,
        })
        .await
    }

    /// Marks messages from `peer_id` as read: locally, on the backend, and (when connected)
    /// with a read receipt to the sender.
    pub async fn mark_read(
        &self,
        peer_id: &str,
        message_ids: &[String],
    ) -> Result<(), ClientError> {
        self.me()?;
        if message_ids.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut batch = WriteBatch::new();
        for id in message_ids {
            if let Some(mut record) = self.store.message(id).await?
                && record.direction == Direction::Incoming
                && record.status != MessageStatus::Read
            {
                record.status = MessageStatus::Read;
                record.read_at = Some(now);
                batch.push(StoreOp::PutMessage(record));
            }
        }
        if !batch.is_empty() {
            self.store.commit(batch).await?;
        }
        let frame = ClientFrame::Read {
            message_ids: message_ids.to_vec(),
            to: peer_id.to_string(),
        };
        if self.send_frame(&frame).await.is_err() {
            // Offline: record it on the backend directly (the sender sees it in history).
            for chunk in message_ids.chunks(100) {
                self.api
                    .update_status(&StatusBatchRequest {
                        message_ids: chunk.to_vec(),
                        status: "read".into(),
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Writes one frame to the socket.
    pub(crate) async fn send_frame(&self, frame: &ClientFrame) -> Result<(), ClientError> {
        let mut sink = self.sink.lock().await;
        let Some(socket) = sink.as_mut() else {
            return Err(ClientError::NotConnected);
        };
        if let Err(e) = socket.send(frame.to_json()).await {
            tracing::debug!(error = %e, "socket write failed");
            return Err(e.into());
        }
        Ok(())
    }
}

fn check_data_url(data_url: &str) -> Result<(), ClientError> {
    if !data_url.starts_with("data:image/") || !data_url.contains(";base64,") {
        return Err(ClientError::InvalidInput {
            what: "image",
            why: "expected a data URL like data:image/png;base64,...".into(),
        });
    }
    Ok(())
}
