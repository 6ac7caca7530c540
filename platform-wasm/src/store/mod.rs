//! [`IdbStore`]: core's [`Store`] over one IndexedDB database, every record sealed at rest.
//!
//! The database is the store's own (never the reference client's `quick-chat-e2ee`), with a
//! versioned schema ([`schema`]). Opening upgrades an older database step by step.
//!
//! # Encryption at rest
//!
//! The key is derived from the passphrase the application supplies with Argon2id (core's
//! [`KdfParams::generate`]: 19 MiB, 2 passes, 1 lane, a fresh 16-byte salt per database);
//! each record is serialized to JSON (session records, rewritten with every message, to
//! core's compact binary form) in a buffer that is zeroized on drop and sealed with
//! AES-256-GCM ([`SealingKey::seal`], a random 96-bit nonce per write) with associated data
//! `store name ‖ 0x00 ‖ key`, so a sealed value copied to another key or store does not open.
//! The `meta` store keeps, in the clear, the format marker, the value layout, the KDF
//! parameters and a check value (a constant sealed under the key): a wrong passphrase is
//! refused ([`StoreError::WrongPassphrase`]) before anything else is read.
//!
//! ## What the database shows without the passphrase
//!
//! The KDF parameters; whether an account exists; the prekey ids; the user ids of the peers
//! with sessions or known identities; every message's id, conversation (peer or group id and
//! which kind) and timestamp, and which messages are still pending (the `c`, `t` and `o`
//! fields the indexes need); the size of every sealed record. Everything else is sealed:
//! message bodies, images, senders, direction, statuses, wire strings, every private key and
//! ratchet state, the login token, peers' identity keys and their verification. The clear
//! index fields are checked against the sealed record they lead to, so a tampered index
//! gives [`StoreError::Corrupt`], never another record. Someone who can write the database
//! can delete records or put back older sealed values (rollback); they cannot read or forge
//! one.
//!
//! # Commits
//!
//! [`Store::commit`] applies a batch in one IndexedDB read-write transaction over every
//! object store it touches: all of it or nothing (a failed request aborts the transaction,
//! and so does any error on the way). The values are sealed before the transaction starts.
//! IndexedDB decides when a committed transaction reaches the disk (browsers commit with
//! their default durability). A batch marked relaxed is written behind: its commit returns
//! once its transaction is started, and relaxed batches made meanwhile share the next one
//! ([`behind`]).
//!
//! [`KdfParams::generate`]: quickchat_core::store::sealing::KdfParams::generate
//! [`SealingKey::seal`]: quickchat_core::store::sealing::SealingKey::seal

mod behind;
mod lock;
pub mod memory;
pub mod schema;

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use js_sys::Uint8Array;
#[cfg(feature = "client")]
use js_sys::{Array, Object, Reflect};
use quickchat_core::session::{PeerSessions, binary};
use quickchat_core::store::sealing::KdfParams;
pub use quickchat_core::store::sealing::KdfStrength;
use quickchat_core::store::{
    AccountMeta, BatchDurability, IdentityRecord, KnownIdentity, MessageQuery, MessageRecord,
    OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, StoreOp, WriteBatch,
};
#[cfg(feature = "client")]
use quickchat_core::store::{Conversation, MessageStatus};
#[cfg(feature = "client")]
use rexie::{Direction, KeyRange};
use rexie::{Rexie, Transaction, TransactionMode};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::rng::WebRng;
use quickchat_core::store::sealing::{
    NewStoreKey, Place, Sealer, new_store_key, parse_kdf_params, unlock, unreadable,
};
use schema::{
    ACCOUNT, KEY_STORES, KNOWN_IDENTITIES, MESSAGES, META, ONE_TIME_PREKEYS, SESSIONS,
    SIGNED_PREKEYS,
};
#[cfg(feature = "client")]
use schema::{BY_CONVERSATION, BY_TIME, OUTBOX};

/// How long opening waits for another holder of the store (another tab) to let go, ms.
const LOCK_WAIT_MS: u32 = 2_000;

/// Value of the `format` entry of `meta`: names the database as a quickchat store.
pub const FORMAT: &str = "quickchat-idb";

/// What the drop-in's module (`quickchat/crypto`, built without the feature `client`) answers
/// to a message read or write: it keeps no messages, and leaves the history code out (a
/// `cfg`, not a constant condition: dead code in an async function stays in its state
/// machine).
#[cfg(not(feature = "client"))]
fn no_history() -> StoreError {
    StoreError::Backend {
        context: "using message history".into(),
        detail: "this module (quickchat/crypto) keeps no messages; the full client's does".into(),
    }
}

fn backend(context: &str) -> impl Fn(rexie::Error) -> StoreError + '_ {
    move |e| StoreError::Backend {
        context: context.to_string(),
        detail: match &e {
            rexie::Error::IdbError(inner) => inner.to_string(),
            other => other.to_string(),
        },
    }
}

fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        detail: detail.into(),
    }
}

fn bytes(value: &[u8]) -> JsValue {
    Uint8Array::from(value).into()
}

fn bytes_of(value: &JsValue, what: &str) -> Result<Vec<u8>, StoreError> {
    // Of any realm: under jsdom what IndexedDB hands back is Node's `Uint8Array`.
    crate::realm::bytes(value).ok_or_else(|| corrupt(what, "not a byte array"))
}

#[cfg(feature = "client")]
fn get_field(object: &JsValue, field: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(field)).unwrap_or(JsValue::UNDEFINED)
}

#[cfg(feature = "client")]
fn set_field(object: &Object, field: &str, value: &JsValue) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(field), value);
}

/// The clear key a conversation is indexed under.
#[cfg(feature = "client")]
fn conversation_key(conversation: &Conversation) -> String {
    match conversation {
        Conversation::Direct(id) => format!("d:{id}"),
        Conversation::Group(id) => format!("g:{id}"),
    }
}

/// The clear header of a store.
struct Header {
    layout: u32,
    kdf: KdfParams,
    check: Vec<u8>,
}

/// A persistent, encrypted [`Store`] in one IndexedDB database.
pub struct IdbStore {
    connection: Rc<Connection>,
    sealer: Sealer<WebRng>,
    behind: Rc<RefCell<behind::WriteBehind>>,
}

impl std::fmt::Debug for IdbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdbStore")
            .field("name", &self.connection.name)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The open database and its lock; both let go when dropped.
struct Connection {
    db: RefCell<Option<Rexie>>,
    name: String,
    lock: RefCell<Option<lock::StoreLock>>,
}

impl Connection {
    fn transaction(
        &self,
        stores: &[&str],
        mode: TransactionMode,
    ) -> Result<Transaction, StoreError> {
        let db = self.db.borrow();
        let db = db.as_ref().ok_or_else(|| StoreError::Backend {
            context: "using the store".into(),
            detail: "the database connection is closed".into(),
        })?;
        db.transaction(stores, mode)
            .map_err(backend("starting a transaction"))
    }

    fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
        self.lock.borrow_mut().take();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

impl IdbStore {
    /// Opens the store in the IndexedDB database `name`, creating it if there is none, and
    /// upgrading it if an older version made it.
    ///
    /// An existing store is opened only after `passphrase` has been checked against its
    /// stored check value ([`StoreError::WrongPassphrase`] otherwise). A database that is
    /// not a quickchat store, or was made by a newer version, gives [`StoreError::Corrupt`].
    /// One opener at a time, across tabs: while the store is open elsewhere (an exclusive
    /// Web Lock), opening waits up to two seconds and then gives [`StoreError::InUse`].
    /// The Argon2id derivation takes a moment (it runs on the calling thread).
    pub async fn open(name: &str, passphrase: &str, kdf: KdfStrength) -> Result<Self, StoreError> {
        let passphrase = Zeroizing::new(passphrase.to_string());
        let lock = lock::acquire(&format!("quickchat-store:{name}"), LOCK_WAIT_MS).await?;
        let db = schema::builder(name, schema::VERSION)
            .build()
            .await
            .map_err(|e| match &e {
                rexie::Error::IdbError(inner) if inner.to_string().contains("VersionError") => {
                    corrupt(
                        format!("IndexedDB database {name:?}"),
                        "it was made by a newer version of this SDK",
                    )
                }
                _ => backend("opening the database")(e),
            })?;
        let connection = Connection {
            db: RefCell::new(Some(db)),
            name: name.to_string(),
            lock: RefCell::new(lock),
        };
        // A fresh database gets its header; two tabs creating it at once both try, and the
        // second one then reads the first one's.
        let mut header = read_header(&connection).await?;
        if header.is_none() {
            let NewStoreKey { params, check, key } =
                new_store_key(&passphrase, kdf, &mut WebRng::System)?;
            if write_header(&connection, &params, &check).await.is_ok() {
                return Ok(Self {
                    connection: Rc::new(connection),
                    sealer: Sealer::new(key, WebRng::System),
                    behind: Rc::default(),
                });
            }
            header = read_header(&connection).await?;
        }
        let Some(header) = header else {
            return Err(corrupt(
                format!("IndexedDB database {name:?}"),
                "the store header could not be written",
            ));
        };
        let key = unlock(&passphrase, &header.kdf, &header.check)?;
        let store = Self {
            connection: Rc::new(connection),
            sealer: Sealer::new(key, WebRng::System),
            behind: Rc::default(),
        };
        if header.layout < schema::LAYOUT {
            store.migrate(header.layout).await?;
        }
        Ok(store)
    }

    /// The IndexedDB database name.
    pub fn name(&self) -> &str {
        &self.connection.name
    }

    /// Closes the database connection (later calls fail) once the writes started before
    /// are done; queued relaxed writes are started first. Dropping the store does it too.
    pub fn close(&self) {
        behind::WriteBehind::flush(&self.behind, &self.connection);
        self.connection.close();
    }

    /// Deletes the IndexedDB database `name` (every store, key and message in it). Waits
    /// until every connection to it, in every tab, is closed.
    pub async fn delete(name: &str) -> Result<(), StoreError> {
        Rexie::delete(name)
            .await
            .map_err(backend("deleting the database"))
    }

    /// A transaction that runs after every write committed before, queued ones included.
    fn transaction(
        &self,
        stores: &[&str],
        mode: TransactionMode,
    ) -> Result<Transaction, StoreError> {
        behind::WriteBehind::flush(&self.behind, &self.connection);
        self.connection.transaction(stores, mode)
    }

    /// Brings the values written by an older layout up to date (all in one transaction).
    async fn migrate(&self, from: u32) -> Result<(), StoreError> {
        let tx = self.transaction(&[META, MESSAGES], TransactionMode::ReadWrite)?;
        let result = async {
            let err = backend("upgrading the store");
            if from < 2 {
                // Layout 2 marks pending messages with `o` for the outbox index.
                let messages = tx.store(MESSAGES).map_err(&err)?;
                // The drop-in's stores hold no messages: nothing to rewrite.
                #[cfg(not(feature = "client"))]
                if messages.count(None).await.map_err(&err)? > 0 {
                    return Err(no_history());
                }
                #[cfg(feature = "client")]
                for value in messages.get_all(None, None).await.map_err(&err)? {
                    let record = self.open_message(&value)?;
                    if record.status == MessageStatus::Pending {
                        let updated = self.message_value(&record)?;
                        messages.put(&updated, None).await.map_err(&err)?;
                    }
                }
            }
            // Layout 3 rewrites nothing: session records stay JSON until their next write,
            // and both forms are read.
            let meta = tx.store(META).map_err(&err)?;
            meta.put(&JsValue::from(schema::LAYOUT), Some(&"layout".into()))
                .await
                .map_err(&err)?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn get_sealed<T: DeserializeOwned>(
        &self,
        store: &'static str,
        key: JsValue,
        key_text: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.get_raw(store, key, key_text).await? {
            None => Ok(None),
            Some(sealed) => self
                .sealer
                .open(&Place::new(store, key_text.as_bytes()), &sealed)
                .map(Some),
        }
    }

    /// The sealed bytes stored under `key`, if any.
    async fn get_raw(
        &self,
        store: &'static str,
        key: JsValue,
        key_text: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let context = format!("reading {store}");
        let tx = self.transaction(&[store], TransactionMode::ReadOnly)?;
        let value = tx
            .store(store)
            .map_err(backend(&context))?
            .get(key)
            .await
            .map_err(backend(&context))?;
        value
            .filter(|v| !v.is_undefined())
            .map(|value| bytes_of(&value, &format!("{store} record {key_text:?}")))
            .transpose()
    }

    async fn all_sealed<T: DeserializeOwned>(
        &self,
        store: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let context = format!("reading {store}");
        let tx = self.transaction(&[store], TransactionMode::ReadOnly)?;
        let object_store = tx.store(store).map_err(backend(&context))?;
        let keys = object_store
            .get_all_keys(None, None)
            .await
            .map_err(backend(&context))?;
        let values = object_store
            .get_all(None, None)
            .await
            .map_err(backend(&context))?;
        if keys.len() != values.len() {
            return Err(StoreError::Backend {
                context,
                detail: "the store changed while it was read".into(),
            });
        }
        keys.iter()
            .zip(values.iter())
            .map(|(key, value)| {
                let key_text = key_text(key);
                let sealed = bytes_of(value, &format!("{store} record {key_text:?}"))?;
                self.sealer
                    .open(&Place::new(store, key_text.as_bytes()), &sealed)
            })
            .collect()
    }

    /// The stored form of a message: clear index fields and the sealed record.
    #[cfg(feature = "client")]
    fn message_value(&self, record: &MessageRecord) -> Result<JsValue, StoreError> {
        let sealed = self
            .sealer
            .seal(&Place::new(MESSAGES, record.id.as_bytes()), record)?;
        let object = Object::new();
        set_field(&object, "id", &JsValue::from_str(&record.id));
        set_field(
            &object,
            "c",
            &JsValue::from_str(&conversation_key(&record.conversation)),
        );
        let t = JsValue::from(record.timestamp as f64);
        set_field(&object, "t", &t);
        if record.status == MessageStatus::Pending {
            set_field(&object, "o", &t);
        }
        set_field(&object, "s", &bytes(&sealed));
        Ok(object.into())
    }

    /// Opens a stored message and checks its clear fields against the sealed record.
    #[cfg(feature = "client")]
    fn open_message(&self, value: &JsValue) -> Result<MessageRecord, StoreError> {
        let id = get_field(value, "id")
            .as_string()
            .ok_or_else(|| corrupt("message", "no id"))?;
        let what = || format!("message {id:?}");
        let sealed = bytes_of(&get_field(value, "s"), &what())?;
        let record: MessageRecord = self
            .sealer
            .open(&Place::new(MESSAGES, id.as_bytes()), &sealed)?;
        let c = get_field(value, "c").as_string();
        let t = get_field(value, "t").as_f64();
        if record.id != id
            || c.as_deref() != Some(conversation_key(&record.conversation).as_str())
            || t != Some(record.timestamp as f64)
        {
            return Err(corrupt(
                what(),
                "its index fields do not match the sealed record",
            ));
        }
        Ok(record)
    }
}

async fn read_header(connection: &Connection) -> Result<Option<Header>, StoreError> {
    let tx = connection.transaction(&[META], TransactionMode::ReadOnly)?;
    let meta = tx.store(META).map_err(backend("reading the header"))?;
    let get = |key: &'static str| {
        let meta = &meta;
        async move {
            meta.get(JsValue::from_str(key))
                .await
                .map(|v| v.filter(|v| !v.is_undefined()))
                .map_err(backend("reading the header"))
        }
    };
    let what = || format!("header of IndexedDB database {:?}", connection.name);
    let Some(format) = get("format").await? else {
        return Ok(None);
    };
    if format.as_string().as_deref() != Some(FORMAT) {
        return Err(corrupt(what(), "not a quickchat store"));
    }
    let layout = get("layout")
        .await?
        .and_then(|v| v.as_f64())
        .ok_or_else(|| corrupt(what(), "no layout"))? as u32;
    if layout > schema::LAYOUT {
        return Err(corrupt(what(), "made by a newer version of this SDK"));
    }
    let kdf = get("kdf")
        .await?
        .and_then(|v| v.as_string())
        .ok_or_else(|| corrupt(what(), "no key-derivation parameters"))?;
    let kdf = parse_kdf_params(kdf.as_bytes())?;
    let check = get("check")
        .await?
        .ok_or_else(|| corrupt(what(), "no passphrase check"))?;
    Ok(Some(Header {
        layout,
        kdf,
        check: bytes_of(&check, "passphrase check")?,
    }))
}

async fn write_header(
    connection: &Connection,
    params: &KdfParams,
    check: &[u8],
) -> Result<(), StoreError> {
    let kdf = serde_json::to_string(params).map_err(|e| StoreError::Backend {
        context: "writing the header".into(),
        detail: e.to_string(),
    })?;
    let tx = connection.transaction(&[META], TransactionMode::ReadWrite)?;
    let result = async {
        let meta = tx.store(META).map_err(backend("writing the header"))?;
        let err = backend("writing the header");
        // `add` fails if another tab wrote the header first.
        meta.add(&FORMAT.into(), Some(&"format".into()))
            .await
            .map_err(&err)?;
        meta.put(&JsValue::from(schema::LAYOUT), Some(&"layout".into()))
            .await
            .map_err(&err)?;
        meta.put(&kdf.into(), Some(&"kdf".into()))
            .await
            .map_err(&err)?;
        meta.put(&bytes(check), Some(&"check".into()))
            .await
            .map_err(&err)?;
        Ok(())
    }
    .await;
    finish(tx, result).await
}

/// Waits for a transaction to commit, or aborts it when `result` is an error, so a failure
/// half-way never leaves half a batch.
async fn finish(tx: Transaction, result: Result<(), StoreError>) -> Result<(), StoreError> {
    match result {
        Ok(()) => {
            let outcome = tx.done().await.map_err(backend("committing"))?;
            if outcome.is_committed() {
                Ok(())
            } else {
                Err(StoreError::Backend {
                    context: "committing".into(),
                    detail: "the transaction was aborted".into(),
                })
            }
        }
        Err(e) => {
            // The transaction may already be aborted by the failed request.
            let _ = tx.abort().await;
            Err(e)
        }
    }
}

/// A record key as the text its associated data uses.
fn key_text(key: &JsValue) -> String {
    match key.as_f64() {
        Some(number) => format!("{}", number as i64),
        None => key.as_string().unwrap_or_default(),
    }
}

/// One write, ready to issue.
enum Write {
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

#[async_trait(?Send)]
impl Store for IdbStore {
    async fn identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
        self.get_sealed(ACCOUNT, "identity".into(), "identity")
            .await
    }

    async fn account_meta(&self) -> Result<Option<AccountMeta>, StoreError> {
        self.get_sealed(ACCOUNT, "meta".into(), "meta").await
    }

    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeyRecord>, StoreError> {
        self.get_sealed(SIGNED_PREKEYS, JsValue::from(id), &id.to_string())
            .await
    }

    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeyRecord>, StoreError> {
        self.all_sealed(SIGNED_PREKEYS).await
    }

    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeyRecord>, StoreError> {
        self.get_sealed(ONE_TIME_PREKEYS, JsValue::from(id), &id.to_string())
            .await
    }

    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeyRecord>, StoreError> {
        self.all_sealed(ONE_TIME_PREKEYS).await
    }

    async fn peer_sessions(&self, peer_id: &str) -> Result<Option<PeerSessions>, StoreError> {
        let Some(sealed) = self.get_raw(SESSIONS, peer_id.into(), peer_id).await? else {
            return Ok(None);
        };
        let plain = self
            .sealer
            .open_bytes(&Place::new(SESSIONS, peer_id.as_bytes()), &sealed)?;
        // Core's binary form since layout 3; JSON before (both are read).
        binary::decode(&plain)
            .map(Some)
            .map_err(|e| unreadable(&Place::new(SESSIONS, peer_id.as_bytes()), e))
    }

    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.transaction(&[SESSIONS], TransactionMode::ReadOnly)?;
        let keys = tx
            .store(SESSIONS)
            .map_err(backend("reading sessions"))?
            .get_all_keys(None, None)
            .await
            .map_err(backend("reading sessions"))?;
        Ok(keys.iter().filter_map(|k| k.as_string()).collect())
    }

    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
        self.get_sealed(KNOWN_IDENTITIES, peer_id.into(), peer_id)
            .await
    }

    #[cfg(not(feature = "client"))]
    async fn message(&self, _id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Err(no_history())
    }

    #[cfg(not(feature = "client"))]
    async fn messages(&self, _query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        Err(no_history())
    }

    #[cfg(feature = "client")]
    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
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
    async fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
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

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
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
                    value: bytes(&self.sealer.seal(&Place::new(ACCOUNT, b"identity"), &r)?),
                }),
                StoreOp::PutAccountMeta(r) => writes.push(Write::Put {
                    store: ACCOUNT,
                    key: Some("meta".into()),
                    value: bytes(&self.sealer.seal(&Place::new(ACCOUNT, b"meta"), &r)?),
                }),
                StoreOp::PutSignedPrekey(r) => {
                    let id = r.prekey.id();
                    writes.push(Write::Put {
                        store: SIGNED_PREKEYS,
                        key: Some(JsValue::from(id)),
                        value: bytes(
                            &self
                                .sealer
                                .seal(&Place::new(SIGNED_PREKEYS, id.to_string().as_bytes()), &r)?,
                        ),
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
                        value: bytes(
                            &self.sealer.seal(
                                &Place::new(ONE_TIME_PREKEYS, id.to_string().as_bytes()),
                                &r,
                            )?,
                        ),
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
                        &binary::encode(&r),
                    )),
                }),
                StoreOp::DeleteSessions(peer) => writes.push(Write::Delete {
                    store: SESSIONS,
                    key: JsValue::from_str(&peer),
                }),
                StoreOp::PutKnownIdentity(r) => writes.push(Write::Put {
                    store: KNOWN_IDENTITIES,
                    key: Some(JsValue::from_str(&r.peer_id)),
                    value: bytes(
                        &self
                            .sealer
                            .seal(&Place::new(KNOWN_IDENTITIES, r.peer_id.as_bytes()), &r)?,
                    ),
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
        let tx = self.transaction(&behind::stores_of(&writes), TransactionMode::ReadWrite)?;
        behind::apply(tx, writes).await
    }

    async fn settled(&self) -> Result<(), StoreError> {
        behind::WriteBehind::settled(&self.behind).await
    }
}
