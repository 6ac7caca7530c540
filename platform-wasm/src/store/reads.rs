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
#[cfg(feature = "client")]
use wasm_bindgen::JsValue;
#[cfg(feature = "client")]
use web_sys::IdbKeyRange;
use web_sys::IdbTransactionMode;

use super::IdbStore;
use super::records::array;
use super::schema::SESSIONS;
#[cfg(feature = "client")]
use super::schema::{BY_CONVERSATION, BY_TIME, MESSAGES, OUTBOX};
use super::values::backend;
#[cfg(feature = "client")]
use super::values::conversation_key;
#[cfg(not(feature = "client"))]
use super::values::no_history;
use crate::idb;

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
        let tx = self.transaction(&[SESSIONS], IdbTransactionMode::Readonly)?;
        let made = tx
            .store(SESSIONS)
            .map_err(backend("reading sessions"))?
            .get_all_keys();
        let keys = idb::call(made).await.map_err(backend("reading sessions"))?;
        Ok(array(keys).iter().filter_map(|k| k.as_string()).collect())
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
        let tx = self.transaction(&[MESSAGES], IdbTransactionMode::Readonly)?;
        let made = tx
            .store(MESSAGES)
            .map_err(backend("reading a message"))?
            .get(&id.into());
        let value = idb::call(made)
            .await
            .map_err(backend("reading a message"))?;
        match Some(value).filter(|v| !v.is_undefined()) {
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
        let tx = self.transaction(&[MESSAGES], IdbTransactionMode::Readonly)?;
        let store = tx.store(MESSAGES).map_err(&err)?;
        let range_error = |e: JsValue| err(idb::IdbError::of(&e));
        let upper_t = query.before.map_or(f64::INFINITY, |b| b as f64);
        let upper_open = query.before.is_some();
        let (index, range) = if let Some(conversation) = &query.conversation {
            let c = JsValue::from_str(&conversation_key(conversation));
            let lower = Array::of2(&c, &JsValue::from(f64::NEG_INFINITY));
            let upper = Array::of2(&c, &JsValue::from(upper_t));
            let range = IdbKeyRange::bound_with_lower_open_and_upper_open(
                &lower, &upper, false, upper_open,
            )
            .map_err(range_error)?;
            (BY_CONVERSATION, JsValue::from(range))
        } else {
            let range = match query.before {
                Some(before) => {
                    IdbKeyRange::upper_bound_with_open(&JsValue::from(before as f64), true)
                        .map_err(range_error)?
                        .into()
                }
                None => JsValue::UNDEFINED,
            };
            let index = if query.status == Some(MessageStatus::Pending) {
                OUTBOX
            } else {
                BY_TIME
            };
            (index, range)
        };
        let index = store.index(index).map_err(range_error)?;
        let only_range = query.text.is_none() && query.status.is_none();
        // Newest first.
        let values: Vec<JsValue> = match query.limit {
            Some(limit) if only_range => {
                idb::scan_back(&index, &range, u32::try_from(limit).unwrap_or(u32::MAX))
                    .await
                    .map_err(&err)?
            }
            _ => {
                let mut all = array(
                    idb::call(index.get_all_with_key(&range))
                        .await
                        .map_err(&err)?,
                );
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
