//! An imported account on its way from the importer module to the drop-in's.
//!
//! The reference web client's database is read and converted by a WebAssembly module of its
//! own (`quickchat_import`, the feature `importer`), which the drop-in's page loads only on a
//! new user's first run: the rows of the reference's storage, its ratchet JSON and the
//! conversion are code that the drop-in would otherwise carry on every page load. The
//! importer hands over the records to save ([`ImportedRecords`]) in the forms the drop-in's
//! store already reads, in a buffer the drop-in zeroizes once read (it holds private keys).

use quickchat_core::account::AccountError;
use quickchat_core::archive::AccountArchive;
use quickchat_core::session::{PeerSessions, binary};
use quickchat_core::store::Store;
use quickchat_core::store::binary::{self as records_binary, BinaryRecord};
use quickchat_core::store::sealing::to_json_zeroizing;
use quickchat_core::store::{
    AccountMeta, IdentityRecord, KnownIdentity, MessageRecord, OneTimePrekeyRecord,
    SignedPrekeyRecord, StoreOp, WriteBatch,
};
use serde::Serialize;
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::import::ImportSummary;

/// The kinds of record, the first byte of each in the handed-over bytes.
const IDENTITY: u8 = 1;
const META: u8 = 2;
const SIGNED_PREKEY: u8 = 3;
const ONE_TIME_PREKEY: u8 = 4;
const SESSIONS: u8 = 5;
const KNOWN_IDENTITY: u8 = 6;
/// Only in an opened account file (see [`ImportedRecords::from_archive`]).
const MESSAGE: u8 = 7;
/// Only in an opened account file: when it was exported (ms, an i64 big-endian).
const EXPORTED_AT: u8 = 8;

/// The records an import saves: the writes of core's
/// [`imported_account_batch`](quickchat_core::account::imported_account_batch), by kind.
///
/// Handed over as a sequence of `kind (u8), length (u32, big-endian), record`, each record in
/// the form the drop-in's store reads it in: core's binary forms for the key records and
/// sessions, JSON for the messages of an account file (which only the client reads). The
/// drop-in decodes them with the very functions its store decodes its own records with, so
/// no serde code is added to its module for this (a JSON document of all of them, tried
/// first, brought about 16 KB gzipped of its own deserializers).
#[derive(Default)]
pub struct ImportedRecords {
    identity: Option<IdentityRecord>,
    meta: Option<AccountMeta>,
    signed_prekeys: Vec<SignedPrekeyRecord>,
    one_time_prekeys: Vec<OneTimePrekeyRecord>,
    sessions: Vec<PeerSessions>,
    known_identities: Vec<KnownIdentity>,
    messages: Vec<MessageRecord>,
    exported_at: Option<i64>,
}

fn refused() -> Error {
    Error::invalid("imported keys", "not the importer's records")
}

/// One record of the handed-over form: its kind and bytes.
type Part = (u8, Zeroizing<Vec<u8>>);

fn json_part<T: Serialize>(kind: u8, record: &T) -> Result<Part> {
    let json = to_json_zeroizing(record)
        .map_err(|e| Error::Unsupported(format!("cannot hand over the imported keys: {e}")))?;
    Ok((kind, json))
}

#[cfg(feature = "client")]
fn json<T: serde::de::DeserializeOwned>(record: &[u8]) -> Result<T> {
    let text = std::str::from_utf8(record).map_err(|_| refused())?;
    serde_json::from_str(text).map_err(|_| refused())
}

fn record<T: BinaryRecord>(bytes: &[u8]) -> Result<T> {
    records_binary::decode(bytes).map_err(|_| refused())
}

impl ImportedRecords {
    /// The records `batch` writes; `Err` for a write an import never makes (a delete, a
    /// message).
    pub fn from_batch(batch: WriteBatch) -> Result<Self> {
        let mut records = Self::default();
        for op in batch.into_ops() {
            match op {
                StoreOp::PutIdentity(r) => records.identity = Some(r),
                StoreOp::PutAccountMeta(r) => records.meta = Some(r),
                StoreOp::PutSignedPrekey(r) => records.signed_prekeys.push(r),
                StoreOp::PutOneTimePrekey(r) => records.one_time_prekeys.push(r),
                StoreOp::PutSessions(r) => records.sessions.push(r),
                StoreOp::PutKnownIdentity(r) => records.known_identities.push(r),
                _ => {
                    return Err(Error::Unsupported(
                        "an import made a write other than a record to save".into(),
                    ));
                }
            }
        }
        Ok(records)
    }

    /// An opened account file's records, to hand over to the module whose store takes them
    /// (the importer module opens account files: their reader would otherwise be in the
    /// client's module on every page load).
    pub fn from_archive(archive: AccountArchive) -> Self {
        Self {
            identity: Some(archive.identity),
            meta: Some(archive.meta),
            signed_prekeys: archive.signed_prekeys,
            one_time_prekeys: archive.one_time_prekeys,
            sessions: archive.sessions,
            known_identities: archive.known_identities,
            messages: archive.messages,
            exported_at: Some(archive.exported_at),
        }
    }

    /// The account file these records came from ([`ImportedRecords::from_archive`]);
    /// `Err` when they are not a whole account.
    pub fn into_archive(self) -> Result<AccountArchive> {
        let (Some(identity), Some(meta), Some(exported_at)) =
            (self.identity, self.meta, self.exported_at)
        else {
            return Err(refused());
        };
        Ok(AccountArchive {
            exported_at,
            identity,
            meta,
            signed_prekeys: self.signed_prekeys,
            one_time_prekeys: self.one_time_prekeys,
            sessions: self.sessions,
            known_identities: self.known_identities,
            messages: self.messages,
        })
    }

    /// The writes that save these records, in one batch.
    pub fn into_batch(self) -> WriteBatch {
        let mut batch = WriteBatch::new();
        if let Some(identity) = self.identity {
            batch.push(StoreOp::PutIdentity(identity));
        }
        for record in self.signed_prekeys {
            batch.push(StoreOp::PutSignedPrekey(record));
        }
        for record in self.one_time_prekeys {
            batch.push(StoreOp::PutOneTimePrekey(record));
        }
        if let Some(meta) = self.meta {
            batch.push(StoreOp::PutAccountMeta(meta));
        }
        for record in self.sessions {
            batch.push(StoreOp::PutSessions(record));
        }
        for record in self.known_identities {
            batch.push(StoreOp::PutKnownIdentity(record));
        }
        batch
    }

    /// The user whose account these records are, if they hold an identity.
    pub fn user_id(&self) -> Option<&str> {
        self.identity
            .as_ref()
            .map(|identity| identity.user_id.as_str())
    }

    /// What these records bring over (what an import resolves to).
    pub fn summary(&self) -> ImportSummary {
        ImportSummary {
            user_id: self.user_id().unwrap_or_default().to_string(),
            fingerprint: self
                .identity
                .as_ref()
                .map(|identity| identity.identity.fingerprint().as_str().to_string())
                .unwrap_or_default(),
            signed_prekeys: self.signed_prekeys.len(),
            one_time_prekeys: self.one_time_prekeys.len(),
            sessions: self.sessions.iter().map(|s| s.peer_id.clone()).collect(),
        }
    }

    /// The handed-over form (see [`ImportedRecords`]), in a buffer zeroized on drop.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut parts: Vec<Part> = Vec::new();
        if let Some(identity) = &self.identity {
            parts.push((IDENTITY, records_binary::encode(identity)));
        }
        if let Some(meta) = &self.meta {
            parts.push((META, records_binary::encode(meta)));
        }
        for record in &self.signed_prekeys {
            parts.push((SIGNED_PREKEY, records_binary::encode(record)));
        }
        for record in &self.one_time_prekeys {
            parts.push((ONE_TIME_PREKEY, records_binary::encode(record)));
        }
        for record in &self.sessions {
            parts.push((SESSIONS, binary::encode(record)));
        }
        for record in &self.known_identities {
            parts.push((KNOWN_IDENTITY, records_binary::encode(record)));
        }
        for record in &self.messages {
            parts.push(json_part(MESSAGE, record)?);
        }
        if let Some(at) = self.exported_at {
            parts.push((EXPORTED_AT, Zeroizing::new(at.to_be_bytes().to_vec())));
        }
        // Sized first, so the buffer never grows (no stray copy of a key left unzeroized).
        let mut out = Zeroizing::new(Vec::with_capacity(
            parts.iter().map(|(_, record)| 5 + record.len()).sum(),
        ));
        for (kind, record) in &parts {
            let len = u32::try_from(record.len())
                .map_err(|_| Error::Unsupported("an imported record is too large".into()))?;
            out.push(*kind);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(record);
        }
        Ok(out)
    }

    /// Reads what [`ImportedRecords::encode`] wrote.
    pub fn decode(mut bytes: &[u8]) -> Result<Self> {
        let mut records = Self::default();
        while let Some((&kind, rest)) = bytes.split_first() {
            let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(refused)?;
            let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| refused())?;
            if rest.len() < len {
                return Err(refused());
            }
            let (record, rest) = rest.split_at(len);
            match kind {
                IDENTITY => records.identity = Some(self::record(record)?),
                META => records.meta = Some(self::record(record)?),
                SIGNED_PREKEY => records.signed_prekeys.push(self::record(record)?),
                ONE_TIME_PREKEY => records.one_time_prekeys.push(self::record(record)?),
                SESSIONS => records
                    .sessions
                    .push(binary::decode(record).map_err(|_| refused())?),
                KNOWN_IDENTITY => records.known_identities.push(self::record(record)?),
                // Account files are imported only by the client: the drop-in's module goes
                // without a message reader.
                #[cfg(feature = "client")]
                MESSAGE => records.messages.push(json(record)?),
                #[cfg(feature = "client")]
                EXPORTED_AT => {
                    let at = <[u8; 8]>::try_from(record).map_err(|_| refused())?;
                    records.exported_at = Some(i64::from_be_bytes(at));
                }
                _ => return Err(refused()),
            }
            bytes = rest;
        }
        Ok(records)
    }
}

/// Imports `user_id`'s keys and sessions from the reference client's database `name` into
/// `store` (which must not hold an identity yet) through `importer(name, userId, now)`: the
/// importer module's `importWebClient`, which the package loads when it is first called.
/// `None` when that database does not exist or holds nothing for the user. The bytes handed
/// over hold private keys: they are zeroized on both sides once read.
pub async fn import_with<S: Store + ?Sized>(
    importer: &js_sys::Function,
    store: &S,
    user_id: &str,
    name: &str,
) -> Result<Option<ImportSummary>> {
    let pending = importer
        .call3(
            &JsValue::NULL,
            &JsValue::from_str(name),
            &JsValue::from_str(user_id),
            &JsValue::from_f64(js_sys::Date::now()),
        )
        .map_err(|e| Error::reported(&e))?;
    let answer = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&pending))
        .await
        .map_err(|e| Error::reported(&e))?;
    if answer.is_null() || answer.is_undefined() {
        return Ok(None);
    }
    let array = crate::realm::uint8_array(&answer).ok_or_else(refused)?;
    let bytes = crate::realm::take_bytes(&array);
    let records = ImportedRecords::decode(&bytes)?;
    if records.user_id() != Some(user_id) {
        return Err(Error::invalid("imported keys", "they are another user's"));
    }
    if let Some(existing) = store.identity().await? {
        return Err(AccountError::AlreadyExists {
            user_id: existing.user_id,
        }
        .into());
    }
    let summary = records.summary();
    store.commit(records.into_batch()).await?;
    Ok(Some(summary))
}

/// A [`RecordConverter`](crate::store::RecordConverter) over the package's
/// `convertRecord(kind, record)` (the importer module's `recordToBinary`, loaded on its
/// first call): the record goes over as a `Uint8Array`, and both it and the answer are
/// zeroized once read (they hold private keys).
pub fn record_converter(convert: js_sys::Function) -> crate::store::RecordConverter {
    std::rc::Rc::new(
        move |kind: crate::store::RecordKind, json: Zeroizing<Vec<u8>>| {
            let convert = convert.clone();
            Box::pin(async move {
                let failed = |detail: String| quickchat_core::store::StoreError::Backend {
                    context: format!("converting a {} record of an older layout", kind.name()),
                    detail,
                };
                let record = js_sys::Uint8Array::from(&json[..]);
                let answer =
                    match convert.call2(&JsValue::NULL, &JsValue::from_str(kind.name()), &record) {
                        Ok(pending) => {
                            wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&pending))
                                .await
                        }
                        Err(e) => Err(e),
                    };
                record.fill(0, 0, record.length());
                let answer = answer.map_err(|e| failed(crate::transport::js_error_text(&e)))?;
                let array = crate::realm::uint8_array(&answer)
                    .ok_or_else(|| failed("the converter gave no Uint8Array".into()))?;
                Ok(crate::realm::take_bytes(&array))
            }) as crate::store::Converted
        },
    )
}
