//! Sending: encrypted text through the outbox, images as the web client sends them,
//! typing indicators and read receipts.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use futures::channel::oneshot;
use futures::future::Either;
use rand_core::CryptoRng;

use super::account::with_jwt;
use super::{Client, ClientError, Crypto, Event, flight};
use crate::platform::MaybeSend;
use crate::protocol::rest::{BundleResponse, StatusBatchRequest};
use crate::protocol::ws::{ClientFrame, MessageType};
use crate::store::{
    ContentKind, Conversation, Direction, MessageRecord, MessageStatus, Store, StoreOp, WriteBatch,
};
use crate::transport::{Clock, Transport};

/// A text waiting to be encrypted, saved and sent.
pub(crate) struct SendRequest {
    peer_id: String,
    text: String,
    encrypted: bool,
    done: oneshot::Sender<Result<MessageRecord, ClientError>>,
}

/// Sends encrypted, saved and written together at most (one commit each).
const MAX_SEND_BATCH: usize = 256;

/// Bundles of new peers fetched at once by one batch of sends.
const BUNDLE_FETCHES: usize = 8;

/// The caption the web client sends with an image.
pub(super) const IMAGE_CAPTION: &str = "📷 Image";

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
    ///
    /// Concurrent calls are combined: whoever gets to the session engine first encrypts
    /// everything queued so far and saves it in one commit (one disk sync), so throughput
    /// grows with the number of senders.
    pub async fn send_text(&self, peer_id: &str, text: &str) -> Result<MessageRecord, ClientError> {
        self.queue_send(peer_id, text, true).await
    }

    /// Sends `text` to `peer_id` **without** end-to-end encryption: the backend (and
    /// anyone who can read its database) sees it. For peers that cannot decrypt, and for
    /// measuring what encryption costs. Saved and queued like encrypted text.
    pub async fn send_plaintext(
        &self,
        peer_id: &str,
        text: &str,
    ) -> Result<MessageRecord, ClientError> {
        self.queue_send(peer_id, text, false).await
    }

    async fn queue_send(
        &self,
        peer_id: &str,
        text: &str,
        encrypted: bool,
    ) -> Result<MessageRecord, ClientError> {
        self.me()?;
        let (done, mut result) = oneshot::channel();
        self.lock_state().send_queue.push(SendRequest {
            peer_id: peer_id.to_string(),
            text: text.to_string(),
            encrypted,
            done,
        });
        // Wait for our answer or the engine, whichever comes first. A caller whose request
        // went out in someone else's batch returns at once instead of queueing for the lock
        // only to find it done: queued behind such callers, the next batch would hold one
        // or two messages, and every message would cost a disk sync of its own.
        let mut guard = {
            let lock = self.crypto.lock();
            futures::pin_mut!(lock);
            match futures::future::select(&mut result, lock).await {
                Either::Left((answer, _)) => {
                    return answer.unwrap_or(Err(ClientError::Interrupted));
                }
                Either::Right((guard, _)) => guard,
            }
        };
        // Our batch may have been answered just as the lock came free.
        if let Ok(Some(sent)) = result.try_recv() {
            return sent;
        }
        // Batches of at most `MAX_SEND_BATCH`, oldest first, until ours is done: a broadcast
        // to thousands of peers then holds one batch's records, sessions and write
        // transaction in memory at a time, not all of them.
        loop {
            let mut requests: Vec<SendRequest> = {
                let mut state = self.lock_state();
                let take = state.send_queue.len().min(MAX_SEND_BATCH);
                state.send_queue.drain(..take).collect()
            };
            // A caller that gave up (its future dropped) before its text was taken: the
            // text is not saved or sent, rather than going out later with someone else's.
            requests.retain(|r| !r.done.is_canceled());
            let nothing_left = requests.is_empty();
            if !nothing_left {
                self.process_sends(&mut guard, requests).await;
            }
            match result.try_recv() {
                Ok(Some(answer)) => return answer,
                Ok(None) if !nothing_left => {}
                Ok(None) => break,
                Err(_) => return Err(ClientError::Interrupted),
            }
        }
        drop(guard);
        result.await.unwrap_or(Err(ClientError::Interrupted))
    }

    /// A peer's bundle (uses up one of its one-time prekeys on the backend).
    pub(crate) async fn fetch_bundle(&self, peer_id: &str) -> Result<BundleResponse, ClientError> {
        with_jwt!(self, |jwt| self.api.fetch_bundle(&jwt, peer_id))
    }

    /// Encrypts and saves queued sends in one commit, then hands them to the socket in
    /// order and answers each caller.
    async fn process_sends(&self, crypto: &mut Crypto<S, R>, requests: Vec<SendRequest>) {
        let now = self.now();
        let Ok(me) = self.me() else {
            for request in requests {
                let _ = request.done.send(Err(ClientError::NotLoggedIn));
            }
            return;
        };
        if !crypto.device.is_open() {
            for request in requests {
                let _ = request.done.send(Err(ClientError::NotLoggedIn));
            }
            return;
        }
        // Sessions first: one bundle fetch per new peer, never per message.
        let mut plain_fallback = HashSet::new();
        let mut failed: HashMap<String, ClientError> = HashMap::new();
        let mut need_bundle = Vec::new();
        for peer in requests
            .iter()
            .filter(|r| r.encrypted)
            .map(|r| r.peer_id.clone())
            .collect::<BTreeSet<_>>()
        {
            match crypto.device.has_session(&peer).await {
                Ok(true) => {
                    // A session the peer may have abandoned (reset, re-install) is checked
                    // against its bundle first (rate-limited).
                    if let Err(e) = self
                        .recheck_before_send(&mut crypto.device, &peer, now)
                        .await
                    {
                        failed.insert(peer, e);
                    }
                }
                Ok(false) => need_bundle.push(peer),
                Err(e) => {
                    failed.insert(peer, e.into());
                }
            }
        }
        // The bundles of new peers are fetched several at a time (a broadcast to thousands
        // of new peers would otherwise wait for each round trip in turn); the sessions are
        // then started in order.
        let bundles: Vec<(String, Result<BundleResponse, ClientError>)> =
            futures::stream::iter(need_bundle)
                .map(|peer| async move {
                    let bundle = self.fetch_bundle(&peer).await;
                    (peer, bundle)
                })
                .buffered(BUNDLE_FETCHES)
                .collect()
                .await;
        for (peer, fetched) in bundles {
            match fetched {
                Ok(bundle) => {
                    self.bundle_seen(&peer);
                    let started = match bundle.to_bundle() {
                        Ok(bundle) => crypto
                            .device
                            .session_from_bundle(&peer, &bundle, now)
                            .await
                            .map_err(ClientError::from),
                        Err(e) => Err(e.into()),
                    };
                    match started {
                        Ok(Some(change)) => self.events.emit(Event::IdentityChanged { change }),
                        Ok(None) => {}
                        Err(e) => {
                            failed.insert(peer, e);
                        }
                    }
                }
                Err(e) if e.is_status(404) && self.config.plaintext_allowed.contains(&peer) => {
                    plain_fallback.insert(peer);
                }
                Err(e) if e.is_status(404) => {
                    failed.insert(peer.clone(), ClientError::PeerHasNoKeys { peer_id: peer });
                }
                Err(e) => {
                    failed.insert(peer, e);
                }
            }
        }
        let to_encrypt: Vec<(String, String)> = requests
            .iter()
            .filter(|r| {
                r.encrypted
                    && !plain_fallback.contains(&r.peer_id)
                    && !failed.contains_key(&r.peer_id)
            })
            .map(|r| (r.peer_id.clone(), r.text.clone()))
            .collect();
        let prepared = match crypto.device.parts() {
            Ok((engine, rng)) => engine
                .encrypt_batch(&to_encrypt, now, rng)
                .await
                .map_err(ClientError::from)
                .map(|prepared| (prepared, rng)),
            Err(e) => Err(e.into()),
        };
        let (mut prepared, rng) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                for request in requests {
                    let _ = request.done.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut outcomes = prepared.value().clone().into_iter();
        let mut answers: Vec<(SendRequest, Result<MessageRecord, ClientError>)> = Vec::new();
        for request in requests {
            if let Some(e) = failed.get(&request.peer_id).filter(|_| request.encrypted) {
                let e = e.clone();
                answers.push((request, Err(e)));
                continue;
            }
            let encrypt = request.encrypted && !plain_fallback.contains(&request.peer_id);
            let id = self.new_message_id(rng);
            let mut record = self.outgoing_record(
                id,
                &me.user_id,
                &request.peer_id,
                &request.text,
                now,
                encrypt,
            );
            if encrypt {
                match outcomes.next() {
                    Some(Ok(outgoing)) => record.wire = Some(outgoing.wire),
                    Some(Err(e)) => {
                        answers.push((request, Err(e.into())));
                        continue;
                    }
                    None => {
                        answers.push((request, Err(ClientError::Interrupted)));
                        continue;
                    }
                }
            }
            prepared.add(StoreOp::PutMessage(record.clone()));
            answers.push((request, Ok(record)));
        }
        if let Err(e) = prepared.commit().await {
            let e = ClientError::from(e);
            for (request, _) in answers {
                let _ = request.done.send(Err(e.clone()));
            }
            return;
        }
        // Saved: from here on the flight decides when each goes out (at once, or paced).
        let saved = answers
            .iter()
            .filter_map(|(_, answer)| answer.as_ref().ok().cloned());
        self.send_saved(saved).await;
        for (request, answer) in answers {
            let _ = request.done.send(answer);
        }
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
        let id = self.new_message_id(self.crypto.lock().await.device.rng());
        let mut record = self.outgoing_record(id, &me.user_id, peer_id, IMAGE_CAPTION, now, false);
        record.kind = ContentKind::Image;
        record.image_data = Some(data_url.to_string());
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutMessage(record.clone()));
        self.store.commit(batch).await?;
        self.send_saved([record.clone()]).await;
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

    /// Offers saved, pending messages to the flight and writes whatever may go now (the
    /// rest waits for its pacing, or for the next connection's catch-up when the socket is
    /// not ready). Returns how many were written.
    pub(crate) async fn send_saved(
        &self,
        records: impl IntoIterator<Item = MessageRecord>,
    ) -> usize {
        let queued = {
            let mut state = self.lock_state();
            records
                .into_iter()
                .filter(|record| state.flight.offer(record.clone()) == flight::Offer::Queued)
                .count()
        };
        if queued == 0 {
            return 0;
        }
        self.send_ready().await
    }

    /// Writes every queued message that may go now and, when some still wait for their
    /// time, wakes the serving loop so that it sleeps until the next one is due. For callers
    /// outside the serving loop (the loop itself calls [`Client::write_due`]).
    pub(crate) async fn send_ready(&self) -> usize {
        let written = self.write_due().await;
        if self.lock_state().flight.has_queued() {
            self.wake_serving_loop();
        }
        written
    }

    /// Writes every queued message that may go now. The socket is held throughout, so the
    /// flight's decision and the write are one step: nobody else writes in between, and a
    /// new connection cannot start under a write of the old one. Does not wake the serving
    /// loop: the loop calls this itself, and a loop woken by its own call would spin
    /// without yielding until the next message is due, starving every other task on its
    /// thread.
    pub(crate) async fn write_due(&self) -> usize {
        let mut sink = self.sink.lock().await;
        let mut written = 0;
        loop {
            let now = self.now();
            let next = self
                .lock_state()
                .flight
                .next_ready(now, &self.config.pacing);
            let Some(record) = next else { break };
            let Some(socket) = sink.as_mut() else {
                self.lock_state().flight.unsent(&record.id);
                break;
            };
            let image = record.kind == ContentKind::Image;
            // An image is recorded as in flight first: the backend answers a refused image
            // with an error frame naming no message, so refusals are matched to images in
            // the order they went out, and the refusal can be read before the write returns.
            if image {
                self.lock_state()
                    .images_in_flight
                    .push_back(record.id.clone());
            }
            match socket.send(message_frame(&record).to_json()).await {
                Ok(()) => written += 1,
                Err(e) => {
                    // The socket is done for: nothing more goes out on it (what was queued
                    // stays pending), and the serving loop reconnects.
                    tracing::debug!(error = %e, "socket write failed");
                    let mut state = self.lock_state();
                    state.flight.close();
                    if image {
                        state.images_in_flight.retain(|id| *id != record.id);
                    }
                    drop(state);
                    self.wake_serving_loop();
                    break;
                }
            }
        }
        drop(sink);
        written
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

/// The frame that carries a pending message.
fn message_frame(record: &MessageRecord) -> ClientFrame {
    match &record.conversation {
        Conversation::Direct(peer_id) => ClientFrame::Message {
            to: peer_id.clone(),
            content: record.wire.clone().unwrap_or_else(|| record.body.clone()),
            message_type: match record.kind {
                ContentKind::Image => MessageType::Image,
                _ => MessageType::Text,
            },
            encrypted: record.encrypted,
            message_id: Some(record.id.clone()),
            image_data: record.image_data.clone(),
        },
        Conversation::Group(group_id) => ClientFrame::GroupMessage {
            group_id: group_id.clone(),
            content: record.body.clone(),
            message_type: if record.kind == ContentKind::Image {
                MessageType::Image
            } else {
                MessageType::Text
            },
            image_data: record.image_data.clone(),
        },
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
