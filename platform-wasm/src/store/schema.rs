//! The IndexedDB schema, version by version.
//!
//! | version | object stores and indexes |
//! |---|---|
//! | 1 | `meta`, `account`, `signed_prekeys`, `one_time_prekeys`, `sessions`, `known_identities` (out-of-line keys, sealed values); `messages` (key path `id`, index `by_conversation` on `[c, t]`) |
//! | 2 | as 1, plus on `messages` the indexes `by_time` on `t` and `outbox` on `o` (a sparse index: `o` is set only on pending messages) |
//!
//! The database version is the schema version. The layout of the values is versioned
//! separately in `meta` (`layout`):
//!
//! | layout | values |
//! |---|---|
//! | 1 | every sealed value is JSON |
//! | 2 | as 1, and pending messages carry `o` (a database upgraded from version 1 has layout 1 until the store has rewritten its pending messages with it, which needs the passphrase because the status is sealed) |
//! | 3 | session records are written in core's binary form (`quickchat_core::session::binary`), about a third of the JSON; JSON ones are still read, so moving to 3 rewrites nothing, but a version of this SDK that knows only layout 2 refuses the database instead of failing on a session |
//! | 4 | every session record is in core's binary form: moving to 4 rewrites the JSON ones (the shipped modules, which have no JSON reader for them, through the importer module) in the transaction that sets the layout |
//! | 5 | every key record (identity, account metadata, prekeys, known identities) is in core's binary form too (`quickchat_core::store::binary`, about half the JSON): moving to 5 rewrites the JSON ones as moving to 4 did the sessions; only messages stay sealed JSON |
//!
//! Every version's declaration stays here: opening an older database upgrades it step by
//! step, and the tests create databases at older versions to check that.

use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbOpenDbRequest};

/// The current schema version.
pub const VERSION: u32 = 2;

/// The current value layout (see the module docs).
pub const LAYOUT: u32 = 5;

/// Store of the clear header: format marker, layout, KDF parameters, passphrase check.
pub const META: &str = "meta";
/// Sealed `IdentityRecord` (key `identity`) and `AccountMeta` (key `meta`).
pub const ACCOUNT: &str = "account";
/// Sealed signed prekeys by id (number).
pub const SIGNED_PREKEYS: &str = "signed_prekeys";
/// Sealed one-time prekeys by id (number).
pub const ONE_TIME_PREKEYS: &str = "one_time_prekeys";
/// Sealed `PeerSessions` by peer id (core's binary form; JSON before layout 3, and some
/// still until layout 4).
pub const SESSIONS: &str = "sessions";
/// Sealed `KnownIdentity` by peer id.
pub const KNOWN_IDENTITIES: &str = "known_identities";
/// Messages: `{id, c, t, o?, s}` — id, conversation key, timestamp, outbox marker (pending
/// only), sealed record.
pub const MESSAGES: &str = "messages";

/// Index of `messages` on `[c, t]`.
pub const BY_CONVERSATION: &str = "by_conversation";
/// Index of `messages` on `t` (version 2).
pub const BY_TIME: &str = "by_time";
/// Sparse index of `messages` on `o` (version 2).
pub const OUTBOX: &str = "outbox";

/// The stores a key reset (`StoreOp::ClearKeys`) empties.
pub const KEY_STORES: [&str; 5] = [
    ACCOUNT,
    SIGNED_PREKEYS,
    ONE_TIME_PREKEYS,
    SESSIONS,
    KNOWN_IDENTITIES,
];

/// Brings the database of an open request from `old` (0: a new database) to `new` (1 or 2),
/// in its upgrade transaction: the object stores and indexes each version adds.
pub(crate) fn upgrade(request: &IdbOpenDbRequest, old: u32, new: u32) -> Result<(), JsValue> {
    let db: IdbDatabase = request.result()?.into();
    if old < 1 {
        for store in [
            META,
            ACCOUNT,
            SIGNED_PREKEYS,
            ONE_TIME_PREKEYS,
            SESSIONS,
            KNOWN_IDENTITIES,
        ] {
            db.create_object_store(store)?;
        }
        let parameters = IdbObjectStoreParameters::new();
        parameters.set_key_path(&JsValue::from_str("id"));
        let messages = db.create_object_store_with_optional_parameters(MESSAGES, &parameters)?;
        let conversation_time: js_sys::Array =
            ["c", "t"].iter().map(|f| JsValue::from_str(f)).collect();
        messages.create_index_with_str_sequence(BY_CONVERSATION, &conversation_time)?;
    }
    if old < 2 && new >= 2 {
        let messages = request
            .transaction()
            .ok_or_else(|| JsValue::from_str("no upgrade transaction"))?
            .object_store(MESSAGES)?;
        messages.create_index_with_str(BY_TIME, "t")?;
        messages.create_index_with_str(OUTBOX, "o")?;
    }
    Ok(())
}

/// Opens (creating or upgrading) the store's database `name` at schema `version`.
pub(crate) async fn open(name: &str, version: u32) -> Result<IdbDatabase, crate::idb::IdbError> {
    crate::idb::open(name, version, move |request, old| {
        upgrade(request, old, version)
    })
    .await
}
