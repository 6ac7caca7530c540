//! Records in the JSON form of layouts before 5 (sessions before 4), rewritten in core's
//! binary forms when the store is opened.
//!
//! The shipped modules of the drop-in and of the whole SDK go without serde's readers of
//! those records (the drop-in's about 20 KB gzipped, that every page would download for
//! stores only an earlier version of this package wrote): they convert such records through
//! a [`RecordConverter`], which the package makes from the importer module, loaded only
//! when a store has such records. A build with the readers (the feature `json-records`: the
//! importer module, the crate's tests) converts them itself when given no converter.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use quickchat_core::session::binary as session_binary;
use quickchat_core::store::binary::{self, BinaryRecord};
use quickchat_core::store::sealing::Place;
use quickchat_core::store::{
    AccountMeta, IdentityRecord, KnownIdentity, OneTimePrekeyRecord, SignedPrekeyRecord, StoreError,
};
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use super::IdbStore;
use super::schema::{ACCOUNT, KNOWN_IDENTITIES, ONE_TIME_PREKEYS, SESSIONS, SIGNED_PREKEYS};
use super::values::{bytes, corrupt};

/// What a converter resolves to: the record in core's binary form.
pub type Converted = Pin<Box<dyn Future<Output = Result<Zeroizing<Vec<u8>>, StoreError>>>>;

/// Converts one record of `kind` from the JSON form to core's binary form (its bytes hold
/// private keys: both are zeroized once used).
pub type RecordConverter = Rc<dyn Fn(RecordKind, Zeroizing<Vec<u8>>) -> Converted>;

/// The kinds of record a store converts, by the names the package's converter is called
/// with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// The account's identity (`account` store, key `identity`).
    Identity,
    /// The account's metadata (`account` store, key `meta`).
    Meta,
    /// A signed prekey.
    SignedPrekey,
    /// A one-time prekey.
    OneTimePrekey,
    /// What is known of a peer's identity.
    KnownIdentity,
    /// A peer's sessions.
    Sessions,
}

impl RecordKind {
    /// The kind's name for JavaScript.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Identity => "identity",
            RecordKind::Meta => "meta",
            RecordKind::SignedPrekey => "signedPrekey",
            RecordKind::OneTimePrekey => "oneTimePrekey",
            RecordKind::KnownIdentity => "knownIdentity",
            RecordKind::Sessions => "sessions",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            RecordKind::Identity,
            RecordKind::Meta,
            RecordKind::SignedPrekey,
            RecordKind::OneTimePrekey,
            RecordKind::KnownIdentity,
            RecordKind::Sessions,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }

    /// The kind of the record stored under `key` in `store`.
    fn of(store: &str, key: &str) -> Option<Self> {
        match (store, key) {
            (ACCOUNT, "identity") => Some(RecordKind::Identity),
            (ACCOUNT, "meta") => Some(RecordKind::Meta),
            (SIGNED_PREKEYS, _) => Some(RecordKind::SignedPrekey),
            (ONE_TIME_PREKEYS, _) => Some(RecordKind::OneTimePrekey),
            (KNOWN_IDENTITIES, _) => Some(RecordKind::KnownIdentity),
            (SESSIONS, _) => Some(RecordKind::Sessions),
            _ => None,
        }
    }

    /// Whether `converted` is a record of this kind in core's binary form, stored rightly
    /// under `key` (a record bound to another key is refused).
    fn check(self, key: &str, converted: &[u8]) -> Result<(), String> {
        fn read<T: BinaryRecord>(bytes: &[u8]) -> Result<T, String> {
            binary::decode(bytes).map_err(|e| e.to_string())
        }
        let own = match self {
            RecordKind::Identity => read::<IdentityRecord>(converted).map(|_| true)?,
            RecordKind::Meta => read::<AccountMeta>(converted).map(|_| true)?,
            RecordKind::SignedPrekey => {
                read::<SignedPrekeyRecord>(converted)?
                    .prekey
                    .id()
                    .to_string()
                    == key
            }
            RecordKind::OneTimePrekey => {
                read::<OneTimePrekeyRecord>(converted)?
                    .prekey
                    .id()
                    .to_string()
                    == key
            }
            RecordKind::KnownIdentity => read::<KnownIdentity>(converted)?.peer_id == key,
            RecordKind::Sessions => {
                session_binary::decode(converted)
                    .map_err(|e| e.to_string())?
                    .peer_id
                    == key
            }
        };
        if own {
            Ok(())
        } else {
            Err("it is another record's".into())
        }
    }
}

/// One JSON record of `kind` in core's binary form, in this module (with the feature
/// `json-records`: the importer module).
#[cfg(feature = "json-records")]
pub fn to_binary(kind: RecordKind, json: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let what = format!("a {} record", kind.name());
    let converted = match kind {
        RecordKind::Identity => binary::json_to_binary::<IdentityRecord>(json),
        RecordKind::Meta => binary::json_to_binary::<AccountMeta>(json),
        RecordKind::SignedPrekey => binary::json_to_binary::<SignedPrekeyRecord>(json),
        RecordKind::OneTimePrekey => binary::json_to_binary::<OneTimePrekeyRecord>(json),
        RecordKind::KnownIdentity => binary::json_to_binary::<KnownIdentity>(json),
        RecordKind::Sessions => {
            let sessions =
                session_binary::decode(json).map_err(|e| corrupt(what.clone(), e.to_string()))?;
            return Ok(session_binary::encode(&sessions));
        }
    };
    converted.map_err(|e| corrupt(what, e.to_string()))
}

impl IdbStore {
    /// The records still in a JSON form, converted (by `converter`, or here when this
    /// module reads JSON) and sealed again: `(store, key, value)` triples ready to put.
    /// Reads only: the caller writes them in the transaction that moves the store to the new
    /// layout.
    pub(super) async fn converted_records(
        &self,
        converter: Option<&RecordConverter>,
    ) -> Result<Vec<(&'static str, JsValue, JsValue)>, StoreError> {
        let mut converted_records = Vec::new();
        for store in [
            ACCOUNT,
            SIGNED_PREKEYS,
            ONE_TIME_PREKEYS,
            KNOWN_IDENTITIES,
            SESSIONS,
        ] {
            for (key, sealed) in self.all_raw(store).await? {
                let place = Place::new(store, key.as_bytes());
                let plain = self.sealer.open_bytes(&place, &sealed)?;
                if !binary::is_json(&plain) {
                    continue;
                }
                let Some(kind) = RecordKind::of(store, &key) else {
                    return Err(corrupt(place.describe(), "a record of no known kind"));
                };
                let converted = convert(converter, kind, plain).await?;
                // Whatever converted it, the result must be this key's record in the form
                // every build reads.
                kind.check(&key, &converted).map_err(|e| {
                    corrupt(format!("the converted record {}", place.describe()), e)
                })?;
                let key = match kind {
                    // Prekeys are stored under their ids as numbers.
                    RecordKind::SignedPrekey | RecordKind::OneTimePrekey => key
                        .parse::<u32>()
                        .map(JsValue::from)
                        .map_err(|_| corrupt(place.describe(), "its key is not a prekey id"))?,
                    _ => JsValue::from_str(&key),
                };
                converted_records.push((
                    store,
                    key,
                    bytes(&self.sealer.seal_bytes(&place, &converted)),
                ));
            }
        }
        Ok(converted_records)
    }
}

async fn convert(
    converter: Option<&RecordConverter>,
    kind: RecordKind,
    json: Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    if let Some(converter) = converter {
        return converter(kind, json).await;
    }
    #[cfg(feature = "json-records")]
    return to_binary(kind, &json);
    #[cfg(not(feature = "json-records"))]
    Err(corrupt(
        format!("a {} record", kind.name()),
        "it is in the JSON form of an older version of this package, and no converter \
         (the importer module) was given to read it",
    ))
}
