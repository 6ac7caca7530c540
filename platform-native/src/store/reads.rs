//! Reading a store: point reads of sealed records, and message queries over the indexes,
//! each record checked against the index entry that led to it.

use std::ops::Bound;

use quickchat_core::session::PeerSessions;
use quickchat_core::session::binary as session_binary;
use quickchat_core::store::{Conversation, MessageQuery, MessageRecord, MessageStatus, StoreError};
use redb::{
    ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableError, TableHandle,
};
use zeroize::Zeroizing;

use super::error::{index_damaged, storage_error, table_error, transaction_error};
use super::layout::{
    BY_CONVERSATION, BY_TIME, MESSAGES, OUTBOX, SESSIONS, TS_LEN, above_all, conversation_key,
    decode_ts, encode_ts, locator, message_place, split_conversation_key, split_locator,
    split_outbox_value, time_index_key,
};
use super::redb_store::Inner;
use quickchat_core::store::sealing::{Place, unreadable};

/// Opens a table for reading; a table that does not exist reads as empty.
fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(table_error(&format!("opening table {}", table), e)),
    }
}

type MessagesTable = redb::ReadOnlyTable<&'static str, (&'static [u8], &'static [u8])>;
type OutboxTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The outbox of a read transaction, opened when first needed: a lookup of a message this
/// store does not have (the receiver's duplicate check) never opens it.
struct LazyOutbox<'t> {
    txn: &'t ReadTransaction,
    table: std::cell::OnceCell<Option<OutboxTable>>,
}

impl<'t> LazyOutbox<'t> {
    fn new(txn: &'t ReadTransaction) -> Self {
        Self {
            txn,
            table: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> Result<Option<&OutboxTable>, StoreError> {
        if let Some(table) = self.table.get() {
            return Ok(table.as_ref());
        }
        let table = read_table(self.txn, OUTBOX)?;
        Ok(self.table.get_or_init(|| table).as_ref())
    }
}

/// What the index entry that led to a message says about it.
enum Expect<'a> {
    /// Nothing: a direct lookup by id.
    Nothing,
    /// Its whole locator (conversation key and timestamp).
    Locator(&'a [u8]),
    /// Its timestamp.
    Timestamp([u8; TS_LEN]),
}

impl Inner {
    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        self.db
            .begin_read()
            .map_err(|e| transaction_error("starting a read", e))
    }

    /// The record under `key` of a table keyed by name, opened and deserialized.
    pub(super) fn get_str<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&'static str, &'static [u8]>,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_str_bytes(table, key, what)?
            .map(|plain| {
                serde_json::from_slice(&plain).map_err(|e| {
                    unreadable(&Place::new(table.name(), key.as_bytes()).named(what), e)
                })
            })
            .transpose()
    }

    /// The opened bytes of the value under `key`.
    fn get_str_bytes(
        &self,
        table: TableDefinition<&'static str, &'static [u8]>,
        key: &str,
        what: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, table)? else {
            return Ok(None);
        };
        let Some(value) = t
            .get(key)
            .map_err(|e| storage_error(&format!("reading {what}"), e))?
        else {
            return Ok(None);
        };
        self.sealer
            .open_bytes(
                &Place::new(table.name(), key.as_bytes()).named(what),
                value.value(),
            )
            .map(Some)
    }

    /// A peer's sessions, in the binary form or (written before it) JSON.
    pub(super) fn sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        self.get_str_bytes(SESSIONS, peer_id, "sessions")?
            .map(|plain| {
                session_binary::decode(&plain).map_err(|e| {
                    unreadable(
                        &Place::new(SESSIONS.name(), peer_id.as_bytes()).named("sessions"),
                        e,
                    )
                })
            })
            .transpose()
    }

    /// The record under `id` of a table keyed by number, opened and deserialized.
    pub(super) fn get_u32<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<u32, &'static [u8]>,
        id: u32,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, table)? else {
            return Ok(None);
        };
        let Some(value) = t
            .get(id)
            .map_err(|e| storage_error(&format!("reading {what}"), e))?
        else {
            return Ok(None);
        };
        self.sealer
            .open(
                &Place::new(table.name(), &id.to_be_bytes()).named(what),
                value.value(),
            )
            .map(Some)
    }

    /// Every record of a table keyed by number, in id order.
    pub(super) fn all_u32<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<u32, &'static [u8]>,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, table)? else {
            return Ok(Vec::new());
        };
        let context = format!("reading {what}");
        let mut out = Vec::with_capacity(usize::try_from(t.len().unwrap_or(0)).unwrap_or(0));
        for entry in t.iter().map_err(|e| storage_error(&context, e))? {
            let (id, value) = entry.map_err(|e| storage_error(&context, e))?;
            let key = id.value().to_be_bytes();
            out.push(
                self.sealer
                    .open(&Place::new(table.name(), &key).named(what), value.value())?,
            );
        }
        Ok(out)
    }

    /// The peers this store has sessions with (the clear keys of `sessions`).
    pub(super) fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.begin_read()?;
        let Some(t) = read_table(&txn, SESSIONS)? else {
            return Ok(Vec::new());
        };
        let context = "listing sessions";
        let mut out = Vec::new();
        for entry in t.iter().map_err(|e| storage_error(context, e))? {
            let (peer, _) = entry.map_err(|e| storage_error(context, e))?;
            out.push(peer.value().to_string());
        }
        Ok(out)
    }

    /// Every conversation with messages and its latest timestamp, the most recent first:
    /// read from the conversation index alone (one seek to the end of each conversation's
    /// range), without opening a message.
    pub(super) fn conversation_activity(&self) -> Result<Vec<(Conversation, i64)>, StoreError> {
        let txn = self.begin_read()?;
        let Some(index) = read_table(&txn, BY_CONVERSATION)? else {
            return Ok(Vec::new());
        };
        let context = "listing conversations";
        let mut latest = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        loop {
            let first = index
                .range::<&[u8]>(from.as_slice()..)
                .map_err(|e| storage_error(context, e))?
                .next();
            let Some(first) = first else { break };
            let (key, _) = first.map_err(|e| storage_error(context, e))?;
            let (conversation, prefix) = split_conversation_key(key.value())
                .ok_or_else(|| index_damaged("malformed conversation index key"))?;
            let end = above_all(&prefix);
            let last = index
                .range::<&[u8]>(prefix.as_slice()..end.as_slice())
                .map_err(|e| storage_error(context, e))?
                .next_back();
            if let Some(last) = last {
                let (key, _) = last.map_err(|e| storage_error(context, e))?;
                let ts = key
                    .value()
                    .get(prefix.len()..prefix.len() + TS_LEN)
                    .and_then(|b| <[u8; TS_LEN]>::try_from(b).ok())
                    .ok_or_else(|| index_damaged("conversation index key without a time"))?;
                latest.push((conversation, decode_ts(ts)));
            }
            from = end;
        }
        Ok(quickchat_core::store::by_recency(latest))
    }

    /// Message `id`, if the store has it.
    pub(super) fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let txn = self.begin_read()?;
        let Some(messages) = read_table(&txn, MESSAGES)? else {
            return Ok(None);
        };
        self.open_message(&messages, &LazyOutbox::new(&txn), id, Expect::Nothing)
    }

    /// Reads message `id`, checking that the index entry that led here (if any) agrees with
    /// the clear locator beside the record, and the locator with the sealed record.
    /// A pending message's wire comes from its outbox entry.
    fn open_message(
        &self,
        messages: &MessagesTable,
        outbox: &LazyOutbox<'_>,
        id: &str,
        expect: Expect<'_>,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let Some(value) = messages
            .get(id)
            .map_err(|e| storage_error("reading a message", e))?
        else {
            return match expect {
                Expect::Nothing => Ok(None),
                _ => Err(index_damaged("an index entry names a missing message")),
            };
        };
        let (loc, sealed) = value.value();
        let agrees = match expect {
            Expect::Nothing => true,
            Expect::Locator(expected) => expected == loc,
            Expect::Timestamp(ts) => split_locator(loc).is_some_and(|(_, t)| t == ts),
        };
        if !agrees {
            return Err(index_damaged("an index entry does not match its message"));
        }
        let (_, ts) = split_locator(loc).ok_or_else(|| index_damaged("short message locator"))?;
        let entry = match outbox.get()? {
            Some(outbox) => outbox
                .get(time_index_key(ts, id).as_slice())
                .map_err(|e| storage_error("reading a message", e))?,
            None => None,
        };
        let wire = match &entry {
            Some(entry) => {
                split_outbox_value(entry.value())
                    .ok_or_else(|| index_damaged("malformed outbox entry"))?
                    .1
            }
            None => None,
        };
        let mut record: MessageRecord = self.sealer.open(&message_place(id, wire), sealed)?;
        if let Some(wire) = wire {
            record.wire = Some(wire.to_string());
        }
        if locator(&record) != loc || record.id != id {
            return Err(index_damaged(
                "the clear locator does not match the sealed message",
            ));
        }
        Ok(Some(record))
    }

    /// The messages matching `query`, oldest first.
    pub(super) fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let txn = self.begin_read()?;
        let Some(messages) = read_table(&txn, MESSAGES)? else {
            return Ok(Vec::new());
        };
        let context = "querying messages";
        let limit = query.limit.unwrap_or(usize::MAX);
        let outbox = LazyOutbox::new(&txn);
        let mut found = Vec::new();
        // Candidates come newest first from an index that already applies the conversation
        // and `before`; each is opened and checked against the whole query, until `limit`
        // match.
        let mut consider = |id: &str, expect: Expect<'_>| -> Result<bool, StoreError> {
            if let Some(record) = self.open_message(&messages, &outbox, id, expect)?
                && query.matches(&record)
            {
                found.push(record);
            }
            Ok(found.len() >= limit)
        };
        // The end of the index range: `(before, before_id)`, or all of `before`'s millisecond.
        let time_end = query.before.map(|t| {
            let mut end = encode_ts(t).to_vec();
            if let Some(id) = &query.before_id {
                end.extend_from_slice(id.as_bytes());
            }
            end
        });
        let time_range = (
            Bound::Unbounded,
            match &time_end {
                Some(t) => Bound::Excluded(t.as_slice()),
                None => Bound::Unbounded,
            },
        );
        let conversation = query.conversation.as_ref().map(conversation_key);
        if query.status == Some(MessageStatus::Pending) {
            // The outbox holds only pending messages: only those are opened.
            let Some(outbox_table) = outbox.get()? else {
                return Ok(Vec::new());
            };
            let range = outbox_table
                .range::<&[u8]>(time_range)
                .map_err(|e| storage_error(context, e))?;
            for entry in range.rev() {
                let (key, value) = entry.map_err(|e| storage_error(context, e))?;
                let (conv, _) = split_outbox_value(value.value())
                    .ok_or_else(|| index_damaged("malformed outbox entry"))?;
                if conversation.as_ref().is_some_and(|c| c.as_slice() != conv) {
                    continue;
                }
                let (ts, id) = split_time_key(key.value())?;
                let loc = [conv, &ts[..]].concat();
                if consider(id, Expect::Locator(&loc))? {
                    break;
                }
            }
        } else if let Some(prefix) = conversation {
            // One conversation: a range of its index, from `before` down.
            let Some(index) = read_table(&txn, BY_CONVERSATION)? else {
                return Ok(Vec::new());
            };
            let end = match time_end {
                Some(t) => [prefix.as_slice(), t.as_slice()].concat(),
                None => above_all(&prefix),
            };
            let range = index
                .range::<&[u8]>(prefix.as_slice()..end.as_slice())
                .map_err(|e| storage_error(context, e))?;
            let split = prefix.len() + TS_LEN;
            for entry in range.rev() {
                let (key, _) = entry.map_err(|e| storage_error(context, e))?;
                let key = key.value();
                let (Some(loc), Some(id)) = (key.get(..split), key.get(split..)) else {
                    return Err(index_damaged("short conversation index key"));
                };
                let id = std::str::from_utf8(id)
                    .map_err(|_| index_damaged("message id in the index is not UTF-8"))?;
                if consider(id, Expect::Locator(loc))? {
                    break;
                }
            }
        } else {
            // Every conversation: the time index, from `before` down.
            let Some(index) = read_table(&txn, BY_TIME)? else {
                return Ok(Vec::new());
            };
            let range = index
                .range::<&[u8]>(time_range)
                .map_err(|e| storage_error(context, e))?;
            for entry in range.rev() {
                let (key, _) = entry.map_err(|e| storage_error(context, e))?;
                let (ts, id) = split_time_key(key.value())?;
                if consider(id, Expect::Timestamp(ts))? {
                    break;
                }
            }
        }
        found.reverse();
        Ok(found)
    }
}

fn split_time_key(key: &[u8]) -> Result<([u8; TS_LEN], &str), StoreError> {
    let (ts, id) = key
        .split_first_chunk::<TS_LEN>()
        .ok_or_else(|| index_damaged("short time index key"))?;
    let id = std::str::from_utf8(id)
        .map_err(|_| index_damaged("message id in the index is not UTF-8"))?;
    Ok((*ts, id))
}
