//! The drop-in's IndexedDB store, the engine's side: the records are held in memory
//! ([`KeyMemoryStore`]), read from the database once when the store opens, and each write is
//! sealed here and handed to JavaScript, which puts it in the database (the package's
//! `src/key-store.js`). The database work is JavaScript's, so that none of it is in the
//! drop-in's module: the values are the ones [`super::IdbStore`] reads and writes (layout 5),
//! sealed with the same key, so either reads the other's stores.
//!
//! What JavaScript hands over, `disk`: `header()` (`null` for a new store, else
//! `{kdf, check}`: the key-derivation parameters as JSON and the passphrase check),
//! `records()` (every record of the key stores, `[store, key, sealed bytes]`),
//! `writeHeader(kdf, check)` (a promise of `null`, or of the header another opener wrote
//! first), `write(writes, durable)` (each write `[store, key, sealed]`, `[store, key]` to
//! delete, `[store]` to clear; a promise of them on disk, awaited for a durable batch only;
//! throws the failure of an earlier relaxed write), `settled()` and `close()`.

use async_trait::async_trait;
use js_sys::{Array, Promise};
use quickchat_core::session::{PeerSessions, binary as session_binary};
use quickchat_core::store::binary::{self, BinaryRecord};
use quickchat_core::store::sealing::{
    NewStoreKey, Place, Sealer, new_store_key, unlock, unreadable,
};
use quickchat_core::store::{
    AccountMeta, BatchDurability, Conversation, IdentityRecord, KnownIdentity, MessageQuery,
    MessageRecord, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, StoreOp, WriteBatch,
};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

use super::KdfStrength;
use super::header::{kdf_json, parse_kdf};
use super::memory::KeyMemoryStore;
use super::schema::{
    ACCOUNT, KEY_STORES, KNOWN_IDENTITIES, ONE_TIME_PREKEYS, SESSIONS, SIGNED_PREKEYS,
};
use super::values::{bytes, bytes_of, corrupt, key_text, no_history};
use crate::realm::{call_method, field};
use crate::rng::WebRng;
use crate::transport::js_error_text;

/// The drop-in's IndexedDB store over the database side `disk` (see the module's docs).
pub(crate) struct SealedStore {
    memory: KeyMemoryStore,
    sealer: Sealer<WebRng>,
    disk: JsValue,
}

fn failed(context: &str) -> impl Fn(JsValue) -> StoreError + '_ {
    move |e| StoreError::Backend {
        context: context.to_string(),
        detail: js_error_text(&e),
    }
}

/// Calls `disk[name](...)`; what it returned, or its failure.
fn call(
    disk: &JsValue,
    name: &str,
    args: &[&JsValue],
    context: &str,
) -> Result<JsValue, StoreError> {
    let method = crate::realm::function(&field(disk, name)).ok_or_else(|| StoreError::Backend {
        context: context.to_string(),
        detail: format!("the database side has no {name}()"),
    })?;
    method
        .apply(disk, &args.iter().copied().collect::<Array>())
        .map_err(failed(context))
}

async fn settle(value: JsValue, context: &str) -> Result<JsValue, StoreError> {
    JsFuture::from(Promise::resolve(&value))
        .await
        .map_err(failed(context))
}

impl SealedStore {
    /// Opens the store over `disk`: checks `passphrase` against its header (or makes the key
    /// of a new store, of `kdf`'s strength), then reads every record into memory, each
    /// opened and checked against its place.
    pub(crate) async fn open(
        disk: JsValue,
        passphrase: &str,
        kdf: KdfStrength,
    ) -> Result<Self, StoreError> {
        let passphrase = Zeroizing::new(passphrase.to_string());
        let absent = |v: &JsValue| v.is_null() || v.is_undefined();
        let mut header = call(&disk, "header", &[], "reading the header")?;
        let mut key = None;
        if absent(&header) {
            let NewStoreKey {
                params,
                check,
                key: made,
            } = new_store_key(&passphrase, kdf, &mut WebRng::System)?;
            let written = call(
                &disk,
                "writeHeader",
                &[&JsValue::from_str(&kdf_json(&params)?), &bytes(&check)],
                "writing the header",
            )?;
            // `null` when this one was written, else the header another opener wrote first.
            header = settle(written, "writing the header").await?;
            key = absent(&header).then_some(made);
        }
        let key = match key {
            Some(made) => made,
            None => {
                let kdf = field(&header, "kdf")
                    .as_string()
                    .ok_or_else(|| corrupt("store header", "no key-derivation parameters"))?;
                let check = bytes_of(&field(&header, "check"), "passphrase check")?;
                unlock(&passphrase, &parse_kdf(&kdf)?, &check)?
            }
        };
        let store = Self {
            memory: KeyMemoryStore::new(),
            sealer: Sealer::new(key, WebRng::System),
            disk,
        };
        store.load()?;
        Ok(store)
    }

    /// Every record JavaScript read at opening, opened into memory.
    fn load(&self) -> Result<(), StoreError> {
        let records = call(&self.disk, "records", &[], "reading the store")?;
        if !Array::is_array(&records) {
            return Err(corrupt("store", "the records read are not a list"));
        }
        let mut batch = WriteBatch::new();
        for record in Array::from(&records).iter() {
            let store = field(&record, "0").as_string().unwrap_or_default();
            let key = key_text(&field(&record, "1"));
            let sealed = bytes_of(&field(&record, "2"), &format!("{store} record"))?;
            batch.push(self.opened(&store, &key, &sealed)?);
        }
        self.memory.apply(batch);
        Ok(())
    }

    /// The record sealed at `store`/`key`, as the write that puts it in memory. The sealing
    /// binds a value to its place; a record whose own key is another one was sealed so and is
    /// refused as well.
    fn opened(&self, store: &str, key: &str, sealed: &[u8]) -> Result<StoreOp, StoreError> {
        let place = Place::new(store, key.as_bytes());
        let plain = self.sealer.open_bytes(&place, sealed)?;
        let own = |its_key: String| {
            (its_key == key)
                .then_some(())
                .ok_or_else(|| unreadable(&place, "the record of another key"))
        };
        Ok(match store {
            ACCOUNT if key == "identity" => StoreOp::PutIdentity(decode(&place, &plain)?),
            ACCOUNT if key == "meta" => StoreOp::PutAccountMeta(decode(&place, &plain)?),
            SIGNED_PREKEYS => {
                let record: SignedPrekeyRecord = decode(&place, &plain)?;
                own(record.prekey.id().to_string())?;
                StoreOp::PutSignedPrekey(record)
            }
            ONE_TIME_PREKEYS => {
                let record: OneTimePrekeyRecord = decode(&place, &plain)?;
                own(record.prekey.id().to_string())?;
                StoreOp::PutOneTimePrekey(record)
            }
            SESSIONS => {
                let record: PeerSessions =
                    session_binary::decode(&plain).map_err(|e| unreadable(&place, e))?;
                own(record.peer_id.clone())?;
                StoreOp::PutSessions(record)
            }
            KNOWN_IDENTITIES => {
                let record: KnownIdentity = decode(&place, &plain)?;
                own(record.peer_id.clone())?;
                StoreOp::PutKnownIdentity(record)
            }
            _ => return Err(unreadable(&place, "no such record in a store of keys")),
        })
    }

    /// Appends what `op` writes in the database, sealed, to `writes`.
    fn push_writes(&self, op: &StoreOp, writes: &Array) -> Result<(), StoreError> {
        let put = |store: &'static str, key: JsValue, key_text: &str, plain: &[u8]| {
            let sealed = self
                .sealer
                .seal_bytes(&Place::new(store, key_text.as_bytes()), plain);
            Array::of3(&JsValue::from_str(store), &key, &bytes(&sealed))
        };
        let put_id = |store: &'static str, id: u32, plain: &[u8]| {
            put(store, id.into(), &id.to_string(), plain)
        };
        let delete =
            |store: &'static str, key: JsValue| Array::of2(&JsValue::from_str(store), &key);
        let write = match op {
            StoreOp::PutIdentity(r) => {
                put(ACCOUNT, "identity".into(), "identity", &binary::encode(r))
            }
            StoreOp::PutAccountMeta(r) => put(ACCOUNT, "meta".into(), "meta", &binary::encode(r)),
            StoreOp::PutSignedPrekey(r) => {
                put_id(SIGNED_PREKEYS, r.prekey.id(), &binary::encode(r))
            }
            StoreOp::DeleteSignedPrekey(id) => delete(SIGNED_PREKEYS, (*id).into()),
            StoreOp::PutOneTimePrekey(r) => {
                put_id(ONE_TIME_PREKEYS, r.prekey.id(), &binary::encode(r))
            }
            StoreOp::DeleteOneTimePrekey(id) => delete(ONE_TIME_PREKEYS, (*id).into()),
            StoreOp::PutSessions(r) => put(
                SESSIONS,
                r.peer_id.as_str().into(),
                &r.peer_id,
                &session_binary::encode(r),
            ),
            StoreOp::DeleteSessions(peer) => delete(SESSIONS, peer.as_str().into()),
            StoreOp::PutKnownIdentity(r) => put(
                KNOWN_IDENTITIES,
                r.peer_id.as_str().into(),
                &r.peer_id,
                &binary::encode(r),
            ),
            StoreOp::ClearKeys => {
                for store in KEY_STORES {
                    writes.push(&Array::of1(&JsValue::from_str(store)));
                }
                return Ok(());
            }
            StoreOp::PutMessage(_) | StoreOp::DeleteMessage(_) => return Err(no_history()),
        };
        writes.push(&write);
        Ok(())
    }
}

fn decode<T: BinaryRecord>(place: &Place<'_>, plain: &[u8]) -> Result<T, StoreError> {
    binary::decode(plain).map_err(|e| unreadable(place, e))
}

impl Drop for SealedStore {
    fn drop(&mut self) {
        let _ = call_method(&self.disk, "close");
    }
}

#[async_trait(?Send)]
impl Store for SealedStore {
    async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
        self.memory.identity().await
    }

    async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError> {
        self.memory.account_meta().await
    }

    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError> {
        self.memory.signed_prekey(id).await
    }

    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError> {
        self.memory.signed_prekeys().await
    }

    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError> {
        self.memory.one_time_prekey(id).await
    }

    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError> {
        self.memory.one_time_prekeys().await
    }

    async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        self.memory.peer_sessions(peer_id).await
    }

    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        self.memory.session_peer_ids().await
    }

    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
        self.memory.known_identity(peer_id).await
    }

    async fn message(&self, _id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Err(no_history())
    }

    async fn messages(&self, _query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        Err(no_history())
    }

    // What the default would give, without its aggregation over messages.
    async fn conversation_activity(&self) -> Result<Vec<(Conversation, i64)>, StoreError> {
        Err(no_history())
    }

    /// Seals the batch's writes and hands them to JavaScript in one call (one transaction);
    /// memory takes the batch once JavaScript has it (a relaxed batch) or once it is on disk
    /// (a durable one), so a refused or failed batch changes nothing.
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let writes = Array::new();
        for op in batch.ops() {
            self.push_writes(op, &writes)?;
        }
        let durable = batch.durability() == BatchDurability::Immediate;
        let written = call(
            &self.disk,
            "write",
            &[&writes, &JsValue::from_bool(durable)],
            "committing",
        )?;
        if durable {
            settle(written, "committing").await?;
        }
        self.memory.apply(batch);
        Ok(())
    }

    async fn settled(&self) -> Result<(), StoreError> {
        let pending = call(&self.disk, "settled", &[], "committing")?;
        settle(pending, "committing").await.map(drop)
    }
}
