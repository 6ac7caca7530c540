//! Writing a batch: each op serialized and sealed before the write lock ([`Prepared`]), then
//! applied to the tables of the write transaction, message indexes moved with their message.

use quickchat_core::session::binary as session_binary;
use quickchat_core::store::sealing::Place;
use quickchat_core::store::{MessageStatus, StoreError, StoreOp};
use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::error::{index_damaged, storage_error, table_error};
use super::layout::{
    ACCOUNT, ACCOUNT_IDENTITY, ACCOUNT_META, BY_CONVERSATION, BY_TIME, KNOWN_IDENTITIES, MESSAGES,
    ONE_TIME_PREKEYS, OUTBOX, SESSIONS, SIGNED_PREKEYS, conversation_index_key, locator,
    message_place, outbox_value, split_locator, time_index_key,
};
use super::redb_store::Inner;

/// One write, serialized and sealed before the write transaction starts.
pub(super) enum Prepared {
    Account(&'static str, Vec<u8>),
    SignedPrekey(u32, Vec<u8>),
    DeleteSignedPrekey(u32),
    OneTimePrekey(u32, Vec<u8>),
    DeleteOneTimePrekey(u32),
    Sessions(String, Vec<u8>),
    DeleteSessions(String),
    KnownIdentity(String, Vec<u8>),
    Message {
        id: String,
        loc: Vec<u8>,
        sealed: Vec<u8>,
        pending: bool,
        /// A pending message's wire, kept in its outbox entry rather than sealed.
        wire: Option<String>,
    },
    DeleteMessage(String),
    ClearKeys,
}

impl Inner {
    pub(super) fn prepare(&self, op: StoreOp) -> Result<Prepared, StoreError> {
        let s = &self.sealer;
        Ok(match op {
            StoreOp::PutIdentity(r) => Prepared::Account(
                ACCOUNT_IDENTITY,
                s.seal(
                    &Place::new(ACCOUNT.name(), ACCOUNT_IDENTITY.as_bytes()).named("identity"),
                    &r,
                )?,
            ),
            StoreOp::PutAccountMeta(r) => Prepared::Account(
                ACCOUNT_META,
                s.seal(
                    &Place::new(ACCOUNT.name(), ACCOUNT_META.as_bytes()).named("account meta"),
                    &r,
                )?,
            ),
            StoreOp::PutSignedPrekey(r) => {
                let id = r.prekey.id();
                let key = id.to_be_bytes();
                let place = Place::new(SIGNED_PREKEYS.name(), &key).named("signed prekey");
                Prepared::SignedPrekey(id, s.seal(&place, &r)?)
            }
            StoreOp::DeleteSignedPrekey(id) => Prepared::DeleteSignedPrekey(id),
            StoreOp::PutOneTimePrekey(r) => {
                let id = r.prekey.id();
                let key = id.to_be_bytes();
                let place = Place::new(ONE_TIME_PREKEYS.name(), &key).named("one-time prekey");
                Prepared::OneTimePrekey(id, s.seal(&place, &r)?)
            }
            StoreOp::DeleteOneTimePrekey(id) => Prepared::DeleteOneTimePrekey(id),
            StoreOp::PutSessions(r) => {
                let place = Place::new(SESSIONS.name(), r.peer_id.as_bytes()).named("sessions");
                // The record rewritten with every message: binary, a third of its JSON.
                let sealed = s.seal_bytes(&place, &session_binary::encode(&r));
                Prepared::Sessions(r.peer_id.clone(), sealed)
            }
            StoreOp::DeleteSessions(peer) => Prepared::DeleteSessions(peer),
            StoreOp::PutKnownIdentity(r) => {
                let place = Place::new(KNOWN_IDENTITIES.name(), r.peer_id.as_bytes())
                    .named("known identity");
                let sealed = s.seal(&place, &r)?;
                Prepared::KnownIdentity(r.peer_id.clone(), sealed)
            }
            StoreOp::PutMessage(mut r) => {
                let pending = r.status == MessageStatus::Pending;
                // Only a pending message's wire is ever sent again; it leaves the record with
                // its outbox entry when the backend confirms the message.
                let wire = if pending && r.wire.as_deref().is_some_and(|w| !w.is_empty()) {
                    r.wire.take()
                } else {
                    None
                };
                let sealed = s.seal(&message_place(&r.id, wire.as_deref()), &r)?;
                Prepared::Message {
                    loc: locator(&r),
                    pending,
                    id: r.id,
                    sealed,
                    wire,
                }
            }
            StoreOp::DeleteMessage(id) => Prepared::DeleteMessage(id),
            StoreOp::ClearKeys => Prepared::ClearKeys,
        })
    }
}

type StrTable<'t> = redb::Table<'t, &'static str, &'static [u8]>;
type U32Table<'t> = redb::Table<'t, u32, &'static [u8]>;

/// The tables of one write transaction, each opened when first needed (an opened table
/// costs work at commit even if unchanged).
pub(super) struct WriteTables<'t> {
    txn: &'t WriteTransaction,
    account: Option<StrTable<'t>>,
    signed_prekeys: Option<U32Table<'t>>,
    one_time_prekeys: Option<U32Table<'t>>,
    sessions: Option<StrTable<'t>>,
    known_identities: Option<StrTable<'t>>,
    messages: Option<MessageTables<'t>>,
}

/// The messages and their indexes, always changed together.
struct MessageTables<'t> {
    messages: redb::Table<'t, &'static str, (&'static [u8], &'static [u8])>,
    by_conversation: redb::Table<'t, &'static [u8], ()>,
    by_time: redb::Table<'t, &'static [u8], ()>,
    outbox: redb::Table<'t, &'static [u8], &'static [u8]>,
}

/// The table in `slot`, opened in `txn` if it is not yet.
fn table<'a, 't, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &'t WriteTransaction,
    slot: &'a mut Option<redb::Table<'t, K, V>>,
    definition: TableDefinition<K, V>,
) -> Result<&'a mut redb::Table<'t, K, V>, StoreError> {
    let table = match slot.take() {
        Some(table) => table,
        None => txn
            .open_table(definition)
            .map_err(|e| table_error("opening a table to commit", e))?,
    };
    Ok(slot.insert(table))
}

impl<'t> WriteTables<'t> {
    pub(super) fn new(txn: &'t WriteTransaction) -> Self {
        Self {
            txn,
            account: None,
            signed_prekeys: None,
            one_time_prekeys: None,
            sessions: None,
            known_identities: None,
            messages: None,
        }
    }

    fn messages(&mut self) -> Result<&mut MessageTables<'t>, StoreError> {
        let tables = match self.messages.take() {
            Some(tables) => tables,
            None => {
                let e = |e| table_error("opening the message tables to commit", e);
                MessageTables {
                    messages: self.txn.open_table(MESSAGES).map_err(e)?,
                    by_conversation: self.txn.open_table(BY_CONVERSATION).map_err(e)?,
                    by_time: self.txn.open_table(BY_TIME).map_err(e)?,
                    outbox: self.txn.open_table(OUTBOX).map_err(e)?,
                }
            }
        };
        Ok(self.messages.insert(tables))
    }

    pub(super) fn apply(&mut self, op: &Prepared) -> Result<(), StoreError> {
        let e = |e| storage_error("committing", e);
        let txn = self.txn;
        match op {
            Prepared::Account(key, sealed) => {
                table(txn, &mut self.account, ACCOUNT)?
                    .insert(*key, sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::SignedPrekey(id, sealed) => {
                table(txn, &mut self.signed_prekeys, SIGNED_PREKEYS)?
                    .insert(*id, sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::DeleteSignedPrekey(id) => {
                table(txn, &mut self.signed_prekeys, SIGNED_PREKEYS)?
                    .remove(*id)
                    .map_err(e)?;
            }
            Prepared::OneTimePrekey(id, sealed) => {
                table(txn, &mut self.one_time_prekeys, ONE_TIME_PREKEYS)?
                    .insert(*id, sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::DeleteOneTimePrekey(id) => {
                table(txn, &mut self.one_time_prekeys, ONE_TIME_PREKEYS)?
                    .remove(*id)
                    .map_err(e)?;
            }
            Prepared::Sessions(peer, sealed) => {
                table(txn, &mut self.sessions, SESSIONS)?
                    .insert(peer.as_str(), sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::DeleteSessions(peer) => {
                table(txn, &mut self.sessions, SESSIONS)?
                    .remove(peer.as_str())
                    .map_err(e)?;
            }
            Prepared::KnownIdentity(peer, sealed) => {
                table(txn, &mut self.known_identities, KNOWN_IDENTITIES)?
                    .insert(peer.as_str(), sealed.as_slice())
                    .map_err(e)?;
            }
            Prepared::Message {
                id,
                loc,
                sealed,
                pending,
                wire,
            } => {
                let tables = self.messages()?;
                tables.unindex(id)?;
                let outbox_wire = pending.then_some(wire.as_deref());
                tables.put(id, loc, sealed, outbox_wire)?;
            }
            Prepared::DeleteMessage(id) => {
                let tables = self.messages()?;
                tables.unindex(id)?;
                tables.messages.remove(id.as_str()).map_err(e)?;
            }
            Prepared::ClearKeys => {
                table(txn, &mut self.account, ACCOUNT)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.signed_prekeys, SIGNED_PREKEYS)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.one_time_prekeys, ONE_TIME_PREKEYS)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.sessions, SESSIONS)?
                    .retain(|_, _| false)
                    .map_err(e)?;
                table(txn, &mut self.known_identities, KNOWN_IDENTITIES)?
                    .retain(|_, _| false)
                    .map_err(e)?;
            }
        }
        Ok(())
    }
}

impl MessageTables<'_> {
    /// Removes the index entries of message `id`, if it exists.
    fn unindex(&mut self, id: &str) -> Result<(), StoreError> {
        let e = |e| storage_error("committing a message", e);
        let old = self
            .messages
            .get(id)
            .map_err(e)?
            .map(|v| v.value().0.to_vec());
        if let Some(old) = old {
            let (_, ts) =
                split_locator(&old).ok_or_else(|| index_damaged("short message locator"))?;
            self.by_conversation
                .remove(conversation_index_key(&old, id).as_slice())
                .map_err(e)?;
            let time_key = time_index_key(ts, id);
            self.by_time.remove(time_key.as_slice()).map_err(e)?;
            self.outbox.remove(time_key.as_slice()).map_err(e)?;
        }
        Ok(())
    }

    /// Writes message `id` and its index entries (its old ones must be gone).
    /// `outbox` is `Some` for a pending message, with its wire if it has one.
    fn put(
        &mut self,
        id: &str,
        loc: &[u8],
        sealed: &[u8],
        outbox: Option<Option<&str>>,
    ) -> Result<(), StoreError> {
        let e = |e| storage_error("committing a message", e);
        let (conversation, ts) =
            split_locator(loc).ok_or_else(|| index_damaged("short message locator"))?;
        self.messages.insert(id, (loc, sealed)).map_err(e)?;
        self.by_conversation
            .insert(conversation_index_key(loc, id).as_slice(), ())
            .map_err(e)?;
        let time_key = time_index_key(ts, id);
        self.by_time.insert(time_key.as_slice(), ()).map_err(e)?;
        if let Some(wire) = outbox {
            self.outbox
                .insert(
                    time_key.as_slice(),
                    outbox_value(conversation, wire).as_slice(),
                )
                .map_err(e)?;
        }
        Ok(())
    }
}
