//! Writes: a batch sealed into IndexedDB writes before any transaction starts, then issued
//! in one read-write transaction, or queued behind ([`super::behind`]) when relaxed.

use quickchat_core::session::binary as session_binary;
use quickchat_core::store::binary::{self, BinaryRecord};
use quickchat_core::store::sealing::Place;
use quickchat_core::store::{BatchDurability, StoreError, StoreOp, WriteBatch};
use wasm_bindgen::JsValue;
use web_sys::IdbTransactionMode;

#[cfg(feature = "client")]
use super::schema::MESSAGES;
use super::schema::{
    ACCOUNT, KEY_STORES, KNOWN_IDENTITIES, ONE_TIME_PREKEYS, SESSIONS, SIGNED_PREKEYS,
};
use super::values::bytes;
#[cfg(not(feature = "client"))]
use super::values::no_history;
use super::{IdbStore, behind};

/// One write, ready to issue.
pub(super) enum Write {
    Put {
        store: &'static str,
        key: Option<JsValue>,
        value: JsValue,
    },
    Delete {
        store: &'static str,
        key: JsValue,
    },
    Clear(&'static str),
}

impl IdbStore {
    pub(super) async fn write_batch(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let durability = batch.durability();
        // Seal everything before the transaction starts.
        let mut writes = Vec::with_capacity(batch.ops().len());
        for op in batch.into_ops() {
            match op {
                StoreOp::PutIdentity(r) => writes.push(Write::Put {
                    store: ACCOUNT,
                    key: Some("identity".into()),
                    value: self.sealed_record(ACCOUNT, "identity", &r),
                }),
                StoreOp::PutAccountMeta(r) => writes.push(Write::Put {
                    store: ACCOUNT,
                    key: Some("meta".into()),
                    value: self.sealed_record(ACCOUNT, "meta", &r),
                }),
                StoreOp::PutSignedPrekey(r) => {
                    let id = r.prekey.id();
                    writes.push(Write::Put {
                        store: SIGNED_PREKEYS,
                        key: Some(JsValue::from(id)),
                        value: self.sealed_record(SIGNED_PREKEYS, &id.to_string(), &r),
                    });
                }
                StoreOp::DeleteSignedPrekey(id) => writes.push(Write::Delete {
                    store: SIGNED_PREKEYS,
                    key: JsValue::from(id),
                }),
                StoreOp::PutOneTimePrekey(r) => {
                    let id = r.prekey.id();
                    writes.push(Write::Put {
                        store: ONE_TIME_PREKEYS,
                        key: Some(JsValue::from(id)),
                        value: self.sealed_record(ONE_TIME_PREKEYS, &id.to_string(), &r),
                    });
                }
                StoreOp::DeleteOneTimePrekey(id) => writes.push(Write::Delete {
                    store: ONE_TIME_PREKEYS,
                    key: JsValue::from(id),
                }),
                StoreOp::PutSessions(r) => writes.push(Write::Put {
                    store: SESSIONS,
                    key: Some(JsValue::from_str(&r.peer_id)),
                    value: bytes(&self.sealer.seal_bytes(
                        &Place::new(SESSIONS, r.peer_id.as_bytes()),
                        &session_binary::encode(&r),
                    )),
                }),
                StoreOp::DeleteSessions(peer) => writes.push(Write::Delete {
                    store: SESSIONS,
                    key: JsValue::from_str(&peer),
                }),
                StoreOp::PutKnownIdentity(r) => writes.push(Write::Put {
                    store: KNOWN_IDENTITIES,
                    key: Some(JsValue::from_str(&r.peer_id)),
                    value: self.sealed_record(KNOWN_IDENTITIES, &r.peer_id, &r),
                }),
                #[cfg(not(feature = "client"))]
                StoreOp::PutMessage(_) | StoreOp::DeleteMessage(_) => return Err(no_history()),
                #[cfg(feature = "client")]
                StoreOp::PutMessage(r) => writes.push(Write::Put {
                    store: MESSAGES,
                    key: None,
                    value: self.message_value(&r)?,
                }),
                #[cfg(feature = "client")]
                StoreOp::DeleteMessage(id) => writes.push(Write::Delete {
                    store: MESSAGES,
                    key: JsValue::from_str(&id),
                }),
                StoreOp::ClearKeys => writes.extend(KEY_STORES.iter().map(|s| Write::Clear(s))),
            }
        }
        if let Some(failure) = self.behind.borrow_mut().take_failure() {
            return Err(failure);
        }
        if durability == BatchDurability::Relaxed {
            behind::WriteBehind::push(&self.behind, &self.connection, writes);
            return Ok(());
        }
        // After the queued relaxed writes (`transaction` starts them first).
        let tx = self.transaction(&behind::stores_of(&writes), IdbTransactionMode::Readwrite)?;
        behind::apply(tx, writes).await
    }

    /// A key record in core's binary form, sealed to its place.
    fn sealed_record<T: BinaryRecord>(
        &self,
        store: &'static str,
        key: &str,
        record: &T,
    ) -> JsValue {
        bytes(
            &self
                .sealer
                .seal_bytes(&Place::new(store, key.as_bytes()), &binary::encode(record)),
        )
    }
}
