//! [`IdbStore`]: opening, closing, deleting and upgrading a store, and core's [`Store`]
//! over it (the reads in [`super::reads`] and [`super::records`], the writes in
//! [`super::writes`]).

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use quickchat_core::quoted::Quoted;
use quickchat_core::session::PeerSessions;
#[cfg(feature = "client")]
use quickchat_core::store::MessageStatus;
use quickchat_core::store::sealing::{NewStoreKey, Sealer, new_store_key, unlock};
use quickchat_core::store::{
    AccountMeta, IdentityRecord, KnownIdentity, MessageQuery, MessageRecord, OneTimePrekeyRecord,
    SignedPrekeyRecord, Store, StoreError, WriteBatch,
};
use wasm_bindgen::JsValue;
use web_sys::IdbTransactionMode;
use zeroize::Zeroizing;

use super::connection::{Connection, finish};
use super::header::{read_header, write_header};
use super::json_records::RecordConverter;
use super::schema::{
    self, ACCOUNT, KNOWN_IDENTITIES, MESSAGES, META, ONE_TIME_PREKEYS, SESSIONS, SIGNED_PREKEYS,
};
#[cfg(not(feature = "client"))]
use super::values::no_history;
use super::values::{backend, corrupt};
use super::{KdfStrength, behind, lock};
use crate::idb::{self, Transaction};
use crate::rng::WebRng;

/// How long opening waits for another holder of the store (another tab) to let go, ms.
const LOCK_WAIT_MS: u32 = 2_000;

/// A persistent, encrypted [`Store`] in one IndexedDB database.
pub struct IdbStore {
    pub(super) connection: Rc<Connection>,
    pub(super) sealer: Sealer<WebRng>,
    pub(super) behind: Rc<RefCell<behind::WriteBehind>>,
}

impl std::fmt::Debug for IdbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdbStore")
            .field("name", &self.connection.name)
            .field("key", &"<redacted>")
            .finish()
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
        Self::open_with(name, passphrase, kdf, None).await
    }

    /// As [`IdbStore::open`]; records that an older layout left in a JSON form are
    /// converted by `converter` (where given) when the store is upgraded. A module built
    /// without serde's readers of them needs it for such a store (see
    /// [`super::json_records`]).
    pub async fn open_with(
        name: &str,
        passphrase: &str,
        kdf: KdfStrength,
        converter: Option<RecordConverter>,
    ) -> Result<Self, StoreError> {
        let passphrase = Zeroizing::new(passphrase.to_string());
        let lock = lock::acquire(&format!("quickchat-store:{name}"), LOCK_WAIT_MS).await?;
        let db = schema::open(name, schema::VERSION)
            .await
            .map_err(|e| match e.name.as_str() {
                "VersionError" => corrupt(
                    format!("IndexedDB database {}", Quoted(name)),
                    "it was made by a newer version of this SDK",
                ),
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
                format!("IndexedDB database {}", Quoted(name)),
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
            let records = store.converted_records(converter.as_ref()).await?;
            store.migrate(header.layout, records).await?;
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
        idb::delete(name)
            .await
            .map_err(backend("deleting the database"))
    }

    /// A transaction that runs after every write committed before, queued ones included.
    pub(super) fn transaction(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
    ) -> Result<Transaction, StoreError> {
        behind::WriteBehind::flush(&self.behind, &self.connection);
        self.connection.transaction(stores, mode)
    }

    /// Brings the values written by an older layout up to date, with `records` (the JSON
    /// records converted, by store), all in one transaction: a failure leaves the older
    /// layout as it was, to be upgraded at the next opening.
    async fn migrate(
        &self,
        from: u32,
        records: Vec<(&'static str, JsValue, JsValue)>,
    ) -> Result<(), StoreError> {
        let tx = self.transaction(
            &[
                META,
                MESSAGES,
                ACCOUNT,
                SIGNED_PREKEYS,
                ONE_TIME_PREKEYS,
                KNOWN_IDENTITIES,
                SESSIONS,
            ],
            IdbTransactionMode::Readwrite,
        )?;
        let result = async {
            let err = backend("upgrading the store");
            let messages = tx.store(MESSAGES).map_err(&err)?;
            // Pending messages rewritten for layout 2 (the drop-in's stores hold none).
            #[cfg_attr(not(feature = "client"), allow(unused_mut))]
            let mut puts: Vec<JsValue> = Vec::new();
            if from < 2 {
                // Layout 2 marks pending messages with `o` for the outbox index.
                // The drop-in's stores hold no messages: nothing to rewrite.
                #[cfg(not(feature = "client"))]
                if idb::call(messages.count()).await.map_err(&err)?.as_f64() != Some(0.0) {
                    return Err(no_history());
                }
                #[cfg(feature = "client")]
                for value in
                    super::records::array(idb::call(messages.get_all()).await.map_err(&err)?)
                {
                    let record = self.open_message(&value)?;
                    if record.status == MessageStatus::Pending {
                        puts.push(self.message_value(&record)?);
                    }
                }
            }
            let issued = (|| -> Result<(), idb::IdbError> {
                for updated in &puts {
                    idb::issued(messages.put(updated))?;
                }
                // Layout 3 rewrote nothing; layout 4 has every session record in core's
                // binary form, layout 5 every key record too.
                for (store, key, value) in &records {
                    idb::issued(tx.store(store)?.put_with_key(value, key))?;
                }
                idb::issued(
                    tx.store(META)?
                        .put_with_key(&JsValue::from(schema::LAYOUT), &"layout".into()),
                )
            })();
            issued.map_err(&err)
        }
        .await;
        finish(tx, result).await
    }
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
        self.read_peer_sessions(peer_id).await
    }

    async fn session_peer_ids(&self) -> Result<Vec<String>, StoreError> {
        self.read_session_peer_ids().await
    }

    async fn known_identity(&self, peer_id: &str) -> Result<Option<KnownIdentity>, StoreError> {
        self.get_sealed(KNOWN_IDENTITIES, peer_id.into(), peer_id)
            .await
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.read_message(id).await
    }

    async fn messages(&self, query: &MessageQuery) -> Result<Vec<MessageRecord>, StoreError> {
        self.read_messages(query).await
    }

    // Without the client, a store holds no history: what the default would give, without
    // its aggregation over messages (code the drop-in's module would carry for nothing).
    #[cfg(not(feature = "client"))]
    async fn conversation_activity(
        &self,
    ) -> Result<Vec<(quickchat_core::store::Conversation, i64)>, StoreError> {
        Err(no_history())
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.write_batch(batch).await
    }

    async fn settled(&self) -> Result<(), StoreError> {
        behind::WriteBehind::settled(&self.behind).await
    }
}
