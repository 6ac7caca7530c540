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

/// What settling a read's echoes writes, and the status changes to report once written.
#[derive(Default)]
struct EchoSettlement {
    /// The records to write.
    ops: Vec<StoreOp>,
    /// Status updates only (a lost one is harmless: catch-up settles it from history), no
    /// record new to this device.
    relaxed: bool,
    /// The messages whose status rose, with their new status.
    raised: Vec<(String, MessageStatus)>,
}

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
        let result = match self.settle_echoes(&payloads).await {
            Ok(settlement) => self.commit_echoes(settlement).await,
            Err(e) => Err(e),
        };
        self.echoes_done(&payloads);
        result
    }

    /// What the echoes change, read from the store but not written: a message echoed twice
    /// in one read is settled from what the first echo made of it.
    async fn settle_echoes(
        &self,
        payloads: &[MessagePayload],
    ) -> Result<EchoSettlement, ClientError> {
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
        let mut settlement = EchoSettlement {
            relaxed,
            ..EchoSettlement::default()
        };
        for entry in settled.into_values() {
            if entry.raised {
                settlement
                    .raised
                    .push((entry.record.id.clone(), entry.record.status));
            }
            if entry.write {
                settlement.ops.push(StoreOp::PutMessage(entry.record));
            }
        }
        Ok(settlement)
    }

    /// Writes a settlement in a commit of its own, then reports what it changed.
    async fn commit_echoes(&self, mut settlement: EchoSettlement) -> Result<(), ClientError> {
        if !settlement.ops.is_empty() {
            let mut batch = WriteBatch::new();
            for op in std::mem::take(&mut settlement.ops) {
                batch.push(op);
            }
            if settlement.relaxed {
                batch = batch.relaxed();
            }
            self.store.commit(batch).await?;
        }
        self.echoes_written(settlement);
        Ok(())
    }

    /// Reports the status changes of a settlement whose writes are stored.
    fn echoes_written(&self, settlement: EchoSettlement) {
        for (message_id, status) in settlement.raised {
            self.events
                .emit(Event::MessageStatus { message_id, status });
        }
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
