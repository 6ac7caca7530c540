//! The backend's echoes of this account's own messages: each tells that a message was stored
//! (`sent`) or relayed (`delivered`), with the backend's time. Settling one rewrites the
//! message's record: the new status, that time, and no wire left to send.

use indexmap::IndexMap;
use rand_core::CryptoRng;

use super::inbound::{parse_kind, parse_status};
use super::{Client, ClientError, Event, limits};
use crate::platform::MaybeSend;
use crate::protocol::ws::MessagePayload;
use crate::store::{
    Conversation, Direction, MessageRecord, MessageStatus, Store, StoreOp, WriteBatch,
};
use crate::transport::{Clock, Transport};

/// The status changes a settlement reports once its writes are stored.
type Raised = Vec<(String, MessageStatus)>;

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Settles the echoes of one read: one commit for all of them (a bot's replies come back
    /// as echoes between the messages it gets, one per reply).
    pub(super) async fn echoes(&self, payloads: Vec<MessagePayload>) -> Result<(), ClientError> {
        let written = async {
            let (batch, raised) = self.settle_echoes(&payloads).await?;
            if !batch.is_empty() {
                self.store.commit(batch).await?;
            }
            Ok::<_, ClientError>(raised)
        }
        .await;
        self.echoes_done(&payloads);
        for (message_id, status) in written? {
            self.events
                .emit(Event::MessageStatus { message_id, status });
        }
        Ok(())
    }

    /// What the echoes change, read from the store but not written: a message echoed twice
    /// in one read is settled from what the first echo made of it. The batch is relaxed when
    /// it only updates statuses (a lost one is harmless: catch-up settles it from history).
    async fn settle_echoes(
        &self,
        payloads: &[MessagePayload],
    ) -> Result<(WriteBatch, Raised), ClientError> {
        struct Settled {
            record: MessageRecord,
            write: bool,
            raised: bool,
        }
        let mut settled: IndexMap<String, Settled> = IndexMap::new();
        let mut relaxed = true;
        for payload in payloads {
            let status = parse_status(&payload.status);
            if !settled.contains_key(&payload.id) {
                let (record, write) = match self.store.message(&payload.id).await? {
                    Some(record) => (record, false),
                    // Plaintext "from this account" that this device did not send proves
                    // nothing (anyone can authenticate a socket as anyone): not imported.
                    None if !payload.encrypted => continue,
                    // Sent by this account from elsewhere (another client on the same
                    // login): a new record, written durably.
                    None => {
                        relaxed = false;
                        (from_elsewhere(payload, status), true)
                    }
                };
                let entry = Settled {
                    record,
                    write,
                    raised: false,
                };
                settled.insert(payload.id.clone(), entry);
            }
            let Some(entry) = settled.get_mut(&payload.id) else {
                continue;
            };
            let record = &mut entry.record;
            // The backend's time replaces the local one even when a receipt or catch-up
            // moved the status on first.
            let rises = record.status < status;
            if rises || record.wire.is_some() || record.timestamp != payload.timestamp {
                record.status = record.status.max(status);
                record.timestamp = payload.timestamp;
                record.wire = None;
                entry.write = true;
            }
            entry.raised |= rises;
        }
        let mut batch = WriteBatch::new();
        let mut raised = Raised::new();
        for entry in settled.into_values() {
            if entry.raised {
                raised.push((entry.record.id.clone(), entry.record.status));
            }
            if entry.write {
                batch.push(StoreOp::PutMessage(entry.record));
            }
        }
        if relaxed {
            batch = batch.relaxed();
        }
        Ok((batch, raised))
    }

    /// Stored or not, echoed messages are no longer in flight on this socket.
    fn echoes_done(&self, payloads: &[MessagePayload]) {
        let now = self.now();
        let mut state = self.lock_state();
        state
            .images_in_flight
            .retain(|id| !payloads.iter().any(|p| p.id == *id));
        for payload in payloads {
            state.flight.echoed(&payload.id, now, &self.config.pacing);
        }
    }
}

/// The record of an encrypted message this account sent from another device: kept so the
/// conversation shows it, never readable here.
fn from_elsewhere(payload: &MessagePayload, status: MessageStatus) -> MessageRecord {
    let mut record = MessageRecord {
        id: payload.id.clone(),
        conversation: Conversation::Direct(payload.to.clone()),
        sender_id: payload.from.clone(),
        direction: Direction::Outgoing,
        body: String::new(),
        kind: parse_kind(&payload.message_type),
        image_data: payload.image_data.clone(),
        timestamp: payload.timestamp,
        status,
        encrypted: true,
        read_at: None,
        wire: None,
        decrypt_error: Some("sent from another device: not readable here".to_string()),
    };
    limits::enforce(&mut record);
    record
}
