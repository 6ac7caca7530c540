//! Reads that take more than one sealed record: session records, the ids with sessions,
//! and message queries over the indexes (each record checked against its clear fields).

#[cfg(feature = "client")]
use js_sys::Array;
use quickchat_core::session::{PeerSessions, binary};
use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{Place, unreadable};
#[cfg(not(feature = "client"))]
use quickchat_core::store::{MessageQuery, MessageRecord};
#[cfg(feature = "client")]
use quickchat_core::store::{MessageQuery, MessageRecord, MessageStatus};
use rexie::TransactionMode;
#[cfg(feature = "client")]
use rexie::{Direction, KeyRange};
#[cfg(feature = "client")]
use wasm_bindgen::JsValue;

use super::IdbStore;
use super::schema::SESSIONS;
#[cfg(feature = "client")]
use super::schema::{BY_CONVERSATION, BY_TIME, MESSAGES, OUTBOX};
use super::values::backend;
#[cfg(feature = "client")]
use super::values::conversation_key;
#[cfg(not(feature = "client"))]
use super::values::no_history;

impl IdbStore {
    pub(super) async fn read_peer_sessions(
        &self,
        peer_id: &str,
    ) -> Result<Option<PeerSessions>, StoreError> {
        let Some(sealed) = self.get_raw(SESSIONS, peer_id.into(), peer_id).await? else {
            return Ok(None);
        };
        let plain = self
            .sealer
            .open_bytes(&Place::new(SESSIONS, peer_id.as_bytes()), &sealed)?;
        // Core's binary form (layout 4 converted the JSON records of older layouts).
        binary::decode(&plain)
            .map(Some)
            .map_err(|e| unreadable(&Place::new(SESSIONS, peer_id.as_bytes()), e))
    }

    pub(super) async fn read_session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.transaction(&[SESSIONS], TransactionMode::ReadOnly)?;
        let keys = tx
            .store(SESSIONS)
            .map_err(backend("reading sessions"))?
            .get_all_keys(None, None)
            .await
            .map_err(backend("reading sessions"))?;
        Ok(keys.iter().filter_map(|k| k.as_string()).collect())
    }

    #[cfg(not(feature = "client"))]
    pub(super) async fn read_message(
        &self,
        _id: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        Err(no_history())
    }

    #[cfg(not(feature = "client"))]
    pub(super) async fn read_messages(
        &self,
        _query: &MessageQuery,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        Err(no_history())
    }

    #[cfg(feature = "client")]
    pub(super) async fn read_message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let tx = self.transaction(&[MESSAGES], TransactionMode::ReadOnly)?;
        let value = tx
            .store(MESSAGES)
            .map_err(backend("reading a message"))?
            .get(id.into())
            .await
            .map_err(backend("reading a message"))?;
        match value.filter(|v| !v.is_undefined()) {
            None => Ok(None),
            Some(value) => {
                let record = self.open_message(&value)?;
                Ok(Some(record))
            }
        }
    }

    #[cfg(feature = "client")]
    pub(super) async fn read_messages(
        &self,
        query: &MessageQuery,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let err = backend("reading messages");
        let tx = self.transaction(&[MESSAGES], TransactionMode::ReadOnly)?;
        let store = tx.store(MESSAGES).map_err(&err)?;
        let upper_t = query.before.map_or(f64::INFINITY, |b| b as f64);
        let upper_open = query.before.is_some();
        let (index, range) = if let Some(conversation) = &query.conversation {
            let c = JsValue::from_str(&conversation_key(conversation));
            let lower = Array::of2(&c, &JsValue::from(f64::NEG_INFINITY));
            let upper = Array::of2(&c, &JsValue::from(upper_t));
            let range = KeyRange::bound(&lower, &upper, Some(false), Some(upper_open))
                .map_err(|e| err(e.into()))?;
            (BY_CONVERSATION, Some(range))
        } else {
            let range = match query.before {
                Some(before) => Some(
                    KeyRange::upper_bound(&JsValue::from(before as f64), Some(true))
                        .map_err(|e| err(e.into()))?,
                ),
                None => None,
            };
            let index = if query.status == Some(MessageStatus::Pending) {
                OUTBOX
            } else {
                BY_TIME
            };
            (index, range)
        };
        let index = store.index(index).map_err(&err)?;
        let only_range = query.text.is_none() && query.status.is_none();
        // Newest first.
        let values: Vec<JsValue> = match query.limit {
            Some(limit) if only_range => index
                .scan(
                    range,
                    Some(u32::try_from(limit).unwrap_or(u32::MAX)),
                    None,
                    Some(Direction::Prev),
                )
                .await
                .map_err(&err)?
                .into_iter()
                .map(|(_, value)| value)
                .collect(),
            _ => {
                let mut all = index.get_all(range, None).await.map_err(&err)?;
                all.reverse();
                all
            }
        };
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut found = Vec::new();
        for value in values {
            if found.len() >= limit {
                break;
            }
            let record = self.open_message(&value)?;
            if query.matches(&record) {
                found.push(record);
            }
        }
        found.reverse();
        Ok(found)
    }
}
