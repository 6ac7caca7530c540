//! The IndexedDB store in a real browser (headless Chromium): persistence across reopening,
//! a wrong passphrase, encryption at rest, tamper detection, atomic batches, the queries
//! (checked against core's `MemoryStore` on the same writes), and schema upgrades from an
//! older version of the database; and core's store conformance suite, the behaviour every
//! store has (`quickchat_core::testing::store_suite`), before and after reopening.
//!
//! Run: `scripts/wasm-test-browser.sh`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use quickchat_core::account::create_account;
use quickchat_core::keys::IdentityKeyPair;
use quickchat_core::keys::PublicKey;
use quickchat_core::ratchet::RatchetState;
use quickchat_core::session::{PeerSessions, Session, SessionOrigin, binary};
use quickchat_core::store::binary as records_binary;
use quickchat_core::store::sealing::{KdfParams, SealingKey};
use quickchat_core::store::{
    AccountMeta, Conversation, IdentityRecord, KnownIdentity, MemoryStore, MessageQuery,
    MessageStatus, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreError, StoreOp, WriteBatch,
};
use quickchat_core::testing::store_suite::{check_contents, check_store};
use quickchat_wasm::rng::WebRng;
use quickchat_wasm::store::{IdbStore, KdfStrength, RecordKind, schema};
use rexie::{Index, ObjectStore, Rexie, RexieBuilder, TransactionMode};
use support::{message, sleep, unique};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const FAST: KdfStrength = KdfStrength::InsecureForTests;

async fn open(name: &str, passphrase: &str) -> Result<IdbStore, StoreError> {
    IdbStore::open(name, passphrase, FAST).await
}

/// The store's schema at `version` (1 or 2), as `schema`'s docs describe it, declared here
/// with another IndexedDB library than the store's own: the tests make databases as older
/// versions left them, and read and write beside the store.
fn schema_builder(name: &str, version: u32) -> RexieBuilder {
    let mut messages = ObjectStore::new(schema::MESSAGES)
        .key_path("id")
        .add_index(Index::new_array(schema::BY_CONVERSATION, ["c", "t"]));
    if version >= 2 {
        messages = messages
            .add_index(Index::new(schema::BY_TIME, "t"))
            .add_index(Index::new(schema::OUTBOX, "o"));
    }
    Rexie::builder(name)
        .version(version)
        .add_object_store(ObjectStore::new(schema::META))
        .add_object_store(ObjectStore::new(schema::ACCOUNT))
        .add_object_store(ObjectStore::new(schema::SIGNED_PREKEYS))
        .add_object_store(ObjectStore::new(schema::ONE_TIME_PREKEYS))
        .add_object_store(ObjectStore::new(schema::SESSIONS))
        .add_object_store(ObjectStore::new(schema::KNOWN_IDENTITIES))
        .add_object_store(messages)
}

fn put(op: StoreOp) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.push(op);
    batch
}

#[wasm_bindgen_test]
async fn the_store_passes_the_conformance_suite_and_keeps_everything_after_reopening() {
    let name = unique("conformance");
    let store = open(&name, "pass").await.unwrap();
    let model = check_store(&store).await;
    store.close();
    drop(store);
    let reopened = open(&name, "pass").await.unwrap();
    check_contents(&reopened, &model).await;
    assert!(!model.messages.is_empty(), "the suite wrote messages");
}

#[wasm_bindgen_test]
async fn keys_and_history_persist_across_reopening() {
    let name = unique("persist");
    let store = open(&name, "correct horse").await.unwrap();
    let identity = create_account(&store, "user-1", 1_000, &mut WebRng::System)
        .await
        .unwrap();
    let mut pending = message("m2", Conversation::Direct("bob".into()), 20, "later");
    pending.status = MessageStatus::Pending;
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutMessage(message(
        "m1",
        Conversation::Direct("bob".into()),
        10,
        "first",
    )));
    batch.push(StoreOp::PutMessage(pending.clone()));
    store.commit(batch).await.unwrap();
    store.close();
    drop(store);

    let store = open(&name, "correct horse").await.unwrap();
    let record = store.identity().await.unwrap().expect("identity kept");
    assert_eq!(record.user_id, "user-1");
    assert_eq!(record.identity, identity);
    assert_eq!(store.one_time_prekeys().await.unwrap().len(), 100);
    assert_eq!(store.signed_prekeys().await.unwrap().len(), 1);
    assert_eq!(
        store.account_meta().await.unwrap().unwrap().next_prekey_id,
        102
    );
    let history = store
        .messages(&MessageQuery {
            conversation: Some(Conversation::Direct("bob".into())),
            ..MessageQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["first", "later"]
    );
    let outbox = store
        .messages(&MessageQuery {
            status: Some(MessageStatus::Pending),
            ..MessageQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(outbox, vec![pending]);
    store.close();
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_wrong_passphrase_is_refused_before_anything_is_read() {
    let name = unique("passphrase");
    let store = open(&name, "right").await.unwrap();
    create_account(&store, "user-1", 0, &mut WebRng::System)
        .await
        .unwrap();
    store.close();
    drop(store);
    assert_eq!(
        open(&name, "wrong").await.err(),
        Some(StoreError::WrongPassphrase)
    );
    // The right one still opens it, unchanged.
    let store = open(&name, "right").await.unwrap();
    assert!(store.identity().await.unwrap().is_some());
    store.close();
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_recommended_key_derivation_works_in_the_browser() {
    let name = unique("argon2");
    let store = IdbStore::open(&name, "pass phrase", KdfStrength::Recommended)
        .await
        .unwrap();
    store
        .commit(put(StoreOp::PutMessage(message(
            "m",
            Conversation::Group("g".into()),
            1,
            "hi",
        ))))
        .await
        .unwrap();
    store.close();
    drop(store);
    let store = IdbStore::open(&name, "pass phrase", KdfStrength::Recommended)
        .await
        .unwrap();
    assert_eq!(store.message("m").await.unwrap().unwrap().body, "hi");
    store.close();
    IdbStore::delete(&name).await.unwrap();
}

/// Every value of every object store, as (store, key, value).
async fn raw_contents(name: &str) -> Vec<(String, JsValue, JsValue)> {
    let db = schema_builder(name, schema::VERSION).build().await.unwrap();
    let stores = db.store_names();
    let mut all = Vec::new();
    for store_name in &stores {
        let tx = db
            .transaction(&[store_name.as_str()], TransactionMode::ReadOnly)
            .unwrap();
        let store = tx.store(store_name).unwrap();
        for (key, value) in store.scan(None, None, None, None).await.unwrap() {
            all.push((store_name.clone(), key, value));
        }
    }
    db.close();
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[wasm_bindgen_test]
async fn secrets_and_bodies_are_sealed_at_rest() {
    let name = unique("sealed");
    let store = open(&name, "pw").await.unwrap();
    let identity = create_account(&store, "user-sealed", 0, &mut WebRng::System)
        .await
        .unwrap();
    store
        .commit(put(StoreOp::PutMessage(message(
            "m1",
            Conversation::Direct("peer-1".into()),
            5,
            "the body nobody may read",
        ))))
        .await
        .unwrap();
    store.close();
    drop(store);

    let seed = identity.seed().to_vec();
    let mut sealed_values = 0;
    for (store_name, key, value) in raw_contents(&name).await {
        let bytes = match value.dyn_ref::<Uint8Array>() {
            Some(array) => array.to_vec(),
            // The clear header: format, layout, KDF parameters.
            None if store_name == schema::META => js_sys::JSON::stringify(&value)
                .unwrap()
                .as_string()
                .unwrap()
                .into_bytes(),
            None => {
                // A message: clear index fields and the sealed record.
                assert_eq!(store_name, schema::MESSAGES);
                assert_eq!(key.as_string().as_deref(), Some("m1"));
                assert_eq!(
                    Reflect::get(&value, &"c".into()).unwrap().as_string(),
                    Some("d:peer-1".into())
                );
                Reflect::get(&value, &"s".into())
                    .unwrap()
                    .dyn_into::<Uint8Array>()
                    .unwrap()
                    .to_vec()
            }
        };
        if store_name != schema::META {
            sealed_values += 1;
        }
        assert!(!contains(&bytes, b"the body nobody may read"));
        assert!(!contains(&bytes, b"user-sealed"));
        assert!(!contains(&bytes, &seed));
        let base64_seed = quickchat_core::encoding::b64_encode(&seed);
        assert!(!contains(&bytes, base64_seed.as_bytes()));
    }
    assert!(sealed_values > 100, "every record is there, sealed");
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_record_moved_to_another_key_does_not_open() {
    let name = unique("tamper");
    let store = open(&name, "pw").await.unwrap();
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutMessage(message(
        "a",
        Conversation::Direct("p".into()),
        1,
        "alpha",
    )));
    batch.push(StoreOp::PutMessage(message(
        "b",
        Conversation::Direct("p".into()),
        1,
        "bravo",
    )));
    store.commit(batch).await.unwrap();
    store.close();
    drop(store);

    // Put a's sealed record under b, with b's clear fields.
    let db = schema_builder(&name, schema::VERSION)
        .build()
        .await
        .unwrap();
    let tx = db
        .transaction(&[schema::MESSAGES], TransactionMode::ReadWrite)
        .unwrap();
    let messages = tx.store(schema::MESSAGES).unwrap();
    let a = messages.get("a".into()).await.unwrap().unwrap();
    let forged = Object::new();
    for field in ["c", "t", "s"] {
        Reflect::set(
            &forged,
            &field.into(),
            &Reflect::get(&a, &field.into()).unwrap(),
        )
        .unwrap();
    }
    Reflect::set(&forged, &"id".into(), &"b".into()).unwrap();
    messages.put(&forged, None).await.unwrap();
    tx.done().await.unwrap();
    db.close();

    let store = open(&name, "pw").await.unwrap();
    assert_eq!(store.message("a").await.unwrap().unwrap().body, "alpha");
    assert!(matches!(
        store.message("b").await,
        Err(StoreError::Corrupt { .. })
    ));
    store.close();
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn clearing_keys_keeps_history_and_batches_apply_in_order() {
    let name = unique("clear");
    let store = open(&name, "pw").await.unwrap();
    create_account(&store, "u", 0, &mut WebRng::System)
        .await
        .unwrap();
    store
        .commit(put(StoreOp::PutMessage(message(
            "m",
            Conversation::Direct("p".into()),
            1,
            "kept",
        ))))
        .await
        .unwrap();
    // Clear, then make a new account, in one batch.
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::ClearKeys);
    let memory = MemoryStore::new();
    create_account(&memory, "u", 9, &mut WebRng::System)
        .await
        .unwrap();
    let fresh = memory.identity().await.unwrap().unwrap();
    batch.push(StoreOp::PutIdentity(fresh.clone()));
    store.commit(batch).await.unwrap();
    assert_eq!(store.identity().await.unwrap(), Some(fresh));
    assert!(store.one_time_prekeys().await.unwrap().is_empty());
    assert!(store.account_meta().await.unwrap().is_none());
    assert_eq!(store.message("m").await.unwrap().unwrap().body, "kept");
    store.close();
    IdbStore::delete(&name).await.unwrap();
}

/// The same writes to the IndexedDB store and to core's in-memory store, then the same
/// queries: the answers must agree.
#[wasm_bindgen_test]
async fn queries_agree_with_the_memory_store() {
    let name = unique("queries");
    let idb = open(&name, "pw").await.unwrap();
    let memory = MemoryStore::new();
    let conversations = [
        Conversation::Direct("alice".into()),
        Conversation::Direct("alice2".into()),
        Conversation::Group("alice".into()),
    ];
    let mut batch = WriteBatch::new();
    for i in 0..60i64 {
        let conversation = conversations[(i % 3) as usize].clone();
        // Timestamps repeat, so ordering falls back to the id.
        let mut record = message(
            &format!("id-{:02}", 59 - i),
            conversation,
            (i / 4) * 10,
            if i % 5 == 0 { "Hello there" } else { "other" },
        );
        record.status = match i % 4 {
            0 => MessageStatus::Pending,
            1 => MessageStatus::Sent,
            2 => MessageStatus::Delivered,
            _ => MessageStatus::Read,
        };
        batch.push(StoreOp::PutMessage(record));
    }
    // Replace one (new status and time) and delete one.
    let mut moved = message("id-07", conversations[1].clone(), 1_000, "moved");
    moved.status = MessageStatus::Pending;
    batch.push(StoreOp::PutMessage(moved));
    batch.push(StoreOp::DeleteMessage("id-30".into()));
    idb.commit(batch.clone()).await.unwrap();
    memory.commit(batch).await.unwrap();

    let mut queries = vec![MessageQuery::default()];
    for conversation in &conversations {
        for before in [None, Some(50), Some(0), Some(1_001)] {
            for limit in [None, Some(1), Some(7), Some(100)] {
                queries.push(MessageQuery {
                    conversation: Some(conversation.clone()),
                    before,
                    limit,
                    ..MessageQuery::default()
                });
            }
        }
    }
    for status in [
        MessageStatus::Pending,
        MessageStatus::Sent,
        MessageStatus::Read,
    ] {
        for before in [None, Some(40)] {
            queries.push(MessageQuery {
                status: Some(status),
                before,
                limit: Some(5),
                ..MessageQuery::default()
            });
        }
    }
    queries.push(MessageQuery {
        text: Some("hello".into()),
        limit: Some(3),
        ..MessageQuery::default()
    });
    queries.push(MessageQuery {
        conversation: Some(conversations[0].clone()),
        text: Some("HELLO".into()),
        ..MessageQuery::default()
    });
    queries.push(MessageQuery {
        before: Some(30),
        limit: Some(4),
        ..MessageQuery::default()
    });
    for query in &queries {
        let expected = memory.messages(query).await.unwrap();
        let got = idb.messages(query).await.unwrap();
        assert_eq!(
            got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            expected.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            "query {query:?}"
        );
        assert_eq!(got, expected, "query {query:?}");
    }
    for id in ["id-00", "id-07", "id-30", "nope"] {
        assert_eq!(
            idb.message(id).await.unwrap(),
            memory.message(id).await.unwrap()
        );
    }
    idb.close();
    IdbStore::delete(&name).await.unwrap();
}

/// A peer's sessions as the engine leaves them after a message: a ratchet that has sent one.
fn peer_sessions(peer: &str) -> PeerSessions {
    let mut ratchet = RatchetState::initiator(&[7; 32], &mut WebRng::System);
    ratchet.encrypt(b"first", &mut WebRng::System).unwrap();
    PeerSessions {
        peer_id: peer.into(),
        current: Session {
            ratchet,
            remote_identity_key: IdentityKeyPair::generate(&mut WebRng::System).public().dh,
            pending_x3dh: None,
            origin: SessionOrigin::Initiated {
                remote_signed_prekey_id: 3,
            },
            created_at: 1_000,
            updated_at: 2_000,
        },
        previous: Vec::new(),
    }
}

/// The sealing key of the database `name`, from its stored KDF parameters.
async fn stored_key(name: &str, passphrase: &str) -> SealingKey {
    let db = Rexie::builder(name).build().await.unwrap();
    let tx = db
        .transaction(&[schema::META], TransactionMode::ReadOnly)
        .unwrap();
    let params: KdfParams = serde_json::from_str(
        &tx.store(schema::META)
            .unwrap()
            .get("kdf".into())
            .await
            .unwrap()
            .unwrap()
            .as_string()
            .unwrap(),
    )
    .unwrap();
    drop(tx);
    db.close();
    SealingKey::derive(passphrase, &params).unwrap()
}

/// The opened bytes of the record under `key` (`key_text` as text) in `store` of the
/// database `name`.
async fn raw_record(
    name: &str,
    passphrase: &str,
    store: &str,
    key: JsValue,
    key_text: &str,
) -> Vec<u8> {
    let sealing = stored_key(name, passphrase).await;
    let db = Rexie::builder(name).build().await.unwrap();
    let tx = db.transaction(&[store], TransactionMode::ReadOnly).unwrap();
    let sealed = tx
        .store(store)
        .unwrap()
        .get(key)
        .await
        .unwrap()
        .unwrap()
        .dyn_into::<Uint8Array>()
        .unwrap()
        .to_vec();
    drop(tx);
    db.close();
    sealing
        .open(&aad(store, key_text), &sealed)
        .unwrap()
        .to_vec()
}

/// The opened bytes of the session record of `peer` in the database `name`.
async fn raw_session(name: &str, passphrase: &str, peer: &str) -> Vec<u8> {
    raw_record(name, passphrase, schema::SESSIONS, peer.into(), peer).await
}

/// Key records as an account has them.
struct KeyRecords {
    identity: IdentityRecord,
    meta: AccountMeta,
    signed: Vec<SignedPrekeyRecord>,
    one_time: Vec<OneTimePrekeyRecord>,
    known: KnownIdentity,
}

async fn key_records() -> KeyRecords {
    let memory = MemoryStore::new();
    create_account(&memory, "user-1", 1_000, &mut WebRng::System)
        .await
        .unwrap();
    KeyRecords {
        identity: memory.identity().await.unwrap().unwrap(),
        meta: memory.account_meta().await.unwrap().unwrap(),
        signed: memory.signed_prekeys().await.unwrap(),
        one_time: memory.one_time_prekeys().await.unwrap(),
        known: KnownIdentity {
            peer_id: "bob".into(),
            identity_key: PublicKey::from_bytes([4; 32]),
            signing_key: None,
            first_seen: 5,
            verified: true,
            unaccepted_change_from: None,
        },
    }
}

/// Adds `keys` to the database `name` in the JSON form of every layout before 5.
async fn write_json_keys(name: &str, passphrase: &str, keys: &KeyRecords) {
    let sealing = stored_key(name, passphrase).await;
    fn value(record: &impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(record).unwrap()
    }
    // (store, key, key as text, record as JSON)
    let mut records: Vec<(&str, JsValue, String, serde_json::Value)> = vec![
        (
            schema::ACCOUNT,
            "identity".into(),
            "identity".into(),
            value(&keys.identity),
        ),
        (
            schema::ACCOUNT,
            "meta".into(),
            "meta".into(),
            value(&keys.meta),
        ),
        (
            schema::KNOWN_IDENTITIES,
            keys.known.peer_id.as_str().into(),
            keys.known.peer_id.clone(),
            value(&keys.known),
        ),
    ];
    for record in &keys.signed {
        let id = record.prekey.id();
        records.push((
            schema::SIGNED_PREKEYS,
            id.into(),
            id.to_string(),
            value(record),
        ));
    }
    for record in &keys.one_time {
        let id = record.prekey.id();
        records.push((
            schema::ONE_TIME_PREKEYS,
            id.into(),
            id.to_string(),
            value(record),
        ));
    }
    let db = Rexie::builder(name).build().await.unwrap();
    let stores = [
        schema::ACCOUNT,
        schema::SIGNED_PREKEYS,
        schema::ONE_TIME_PREKEYS,
        schema::KNOWN_IDENTITIES,
    ];
    let tx = db.transaction(&stores, TransactionMode::ReadWrite).unwrap();
    for (store, key, key_text, json) in records {
        let sealed = seal_json(&sealing, store, &key_text, &json);
        tx.store(store)
            .unwrap()
            .put(&Uint8Array::from(sealed.as_slice()).into(), Some(&key))
            .await
            .unwrap();
    }
    tx.done().await.unwrap();
    db.close();
}

/// Whether every key record of `keys` reads back from `store` as it was, and is stored in
/// core's binary form.
async fn check_binary_keys(name: &str, passphrase: &str, store: &IdbStore, keys: &KeyRecords) {
    assert_eq!(
        store.identity().await.unwrap().as_ref(),
        Some(&keys.identity)
    );
    assert_eq!(
        store.account_meta().await.unwrap().as_ref(),
        Some(&keys.meta)
    );
    assert_eq!(store.signed_prekeys().await.unwrap(), keys.signed);
    assert_eq!(store.one_time_prekeys().await.unwrap(), keys.one_time);
    assert_eq!(
        store.known_identity("bob").await.unwrap().as_ref(),
        Some(&keys.known)
    );
    let raw = raw_record(
        name,
        passphrase,
        schema::ACCOUNT,
        "identity".into(),
        "identity",
    )
    .await;
    assert_eq!(
        records_binary::decode::<IdentityRecord>(&raw).unwrap(),
        keys.identity
    );
    let id = keys.one_time[0].prekey.id();
    let raw = raw_record(
        name,
        passphrase,
        schema::ONE_TIME_PREKEYS,
        id.into(),
        &id.to_string(),
    )
    .await;
    assert_eq!(raw.first(), Some(&records_binary::VERSION));
    let raw = raw_record(
        name,
        passphrase,
        schema::KNOWN_IDENTITIES,
        "bob".into(),
        "bob",
    )
    .await;
    assert_eq!(
        records_binary::decode::<KnownIdentity>(&raw).unwrap(),
        keys.known
    );
}

/// A record's associated data as the store makes it: store name, a zero byte, the key.
fn aad(store: &str, key: &str) -> Vec<u8> {
    [store.as_bytes(), b"\0", key.as_bytes()].concat()
}

/// A record in JSON, sealed as every layout before 3 wrote it.
fn seal_json(key: &SealingKey, store: &str, id: &str, value: &impl serde::Serialize) -> Vec<u8> {
    let json = serde_json::to_string(value).unwrap();
    key.seal(&aad(store, id), json.as_bytes(), &mut WebRng::System)
}

/// Writes a database as version 1 of the schema made it: no `by_time` and `outbox` indexes,
/// messages without the `o` field, layout 1 in the header, session records in JSON.
async fn write_version_1(
    name: &str,
    passphrase: &str,
    records: &[quickchat_core::store::MessageRecord],
    sessions: &[PeerSessions],
) {
    let params = KdfParams::insecure_for_tests(&mut WebRng::System);
    let key = SealingKey::derive(passphrase, &params).unwrap();
    let db = schema_builder(name, 1).build().await.unwrap();
    assert_eq!(db.version().unwrap(), 1);
    let tx = db
        .transaction(
            &[schema::META, schema::MESSAGES, schema::SESSIONS],
            TransactionMode::ReadWrite,
        )
        .unwrap();
    let meta = tx.store(schema::META).unwrap();
    meta.put(&"quickchat-idb".into(), Some(&"format".into()))
        .await
        .unwrap();
    meta.put(&JsValue::from(1), Some(&"layout".into()))
        .await
        .unwrap();
    meta.put(
        &serde_json::to_string(&params).unwrap().into(),
        Some(&"kdf".into()),
    )
    .await
    .unwrap();
    let check = key.make_check(&mut WebRng::System);
    meta.put(
        &Uint8Array::from(check.as_slice()).into(),
        Some(&"check".into()),
    )
    .await
    .unwrap();
    let messages = tx.store(schema::MESSAGES).unwrap();
    for record in records {
        let sealed = seal_json(&key, schema::MESSAGES, &record.id, record);
        let value = Object::new();
        let conversation = match &record.conversation {
            Conversation::Direct(id) => format!("d:{id}"),
            Conversation::Group(id) => format!("g:{id}"),
        };
        Reflect::set(&value, &"id".into(), &record.id.as_str().into()).unwrap();
        Reflect::set(&value, &"c".into(), &conversation.into()).unwrap();
        Reflect::set(&value, &"t".into(), &JsValue::from(record.timestamp as f64)).unwrap();
        Reflect::set(&value, &"s".into(), &Uint8Array::from(sealed.as_slice())).unwrap();
        messages.put(&value, None).await.unwrap();
    }
    let store = tx.store(schema::SESSIONS).unwrap();
    for sessions in sessions {
        let sealed = seal_json(&key, schema::SESSIONS, &sessions.peer_id, sessions);
        store
            .put(
                &Uint8Array::from(sealed.as_slice()).into(),
                Some(&sessions.peer_id.as_str().into()),
            )
            .await
            .unwrap();
    }
    tx.done().await.unwrap();
    db.close();
}

#[wasm_bindgen_test]
async fn a_version_1_database_is_upgraded_and_keeps_everything() {
    let name = unique("upgrade");
    let mut pending = message("p1", Conversation::Direct("bob".into()), 30, "queued");
    pending.status = MessageStatus::Pending;
    let records = vec![
        message("d1", Conversation::Direct("bob".into()), 10, "delivered"),
        pending.clone(),
        message("g1", Conversation::Group("team".into()), 20, "group"),
    ];
    let bob = peer_sessions("bob");
    write_version_1(&name, "pw", &records, std::slice::from_ref(&bob)).await;
    let keys = key_records().await;
    write_json_keys(&name, "pw", &keys).await;

    // A wrong passphrase is refused, and the data stays at layout 1 for the right one.
    assert_eq!(
        open(&name, "wrong").await.err(),
        Some(StoreError::WrongPassphrase)
    );
    let store = open(&name, "pw").await.unwrap();
    // The outbox index (new in version 2) finds the pending message written by version 1.
    let outbox = store
        .messages(&MessageQuery {
            status: Some(MessageStatus::Pending),
            ..MessageQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(outbox, vec![pending]);
    let all = store.messages(&MessageQuery::default()).await.unwrap();
    let mut by_time = records.clone();
    by_time.sort_by_key(|m| m.timestamp);
    assert_eq!(all, by_time);
    // The JSON session record of layout 1 was rewritten in core's binary form by the
    // upgrade (layout 4), and reads back the same.
    assert_eq!(
        raw_session(&name, "pw", "bob").await.first(),
        Some(&binary::VERSION)
    );
    assert_eq!(store.peer_sessions("bob").await.unwrap(), Some(bob));
    // The JSON key records were rewritten in core's binary form (layout 5).
    check_binary_keys(&name, "pw", &store, &keys).await;
    store.close();
    drop(store);

    let db = Rexie::builder(&name).build().await.unwrap();
    assert_eq!(db.version().unwrap(), schema::VERSION);
    db.close();
    assert_eq!(layout_of(&name).await, Some(f64::from(schema::LAYOUT)));
    IdbStore::delete(&name).await.unwrap();
}

/// The layout the store's header says.
async fn layout_of(name: &str) -> Option<f64> {
    let db = Rexie::builder(name).build().await.unwrap();
    let tx = db
        .transaction(&[schema::META], TransactionMode::ReadOnly)
        .unwrap();
    let layout = tx
        .store(schema::META)
        .unwrap()
        .get("layout".into())
        .await
        .unwrap()
        .and_then(|v| v.as_f64());
    drop(tx);
    db.close();
    layout
}

/// A converter as the drop-in's module gets one (there, the importer module's
/// `recordToBinary`): it counts its calls, and fails while `fail` is set.
fn converter(
    calls: &Rc<Cell<u32>>,
    fail: &Rc<Cell<bool>>,
) -> quickchat_wasm::store::RecordConverter {
    let (calls, fail) = (Rc::clone(calls), Rc::clone(fail));
    Rc::new(move |kind, json: zeroize::Zeroizing<Vec<u8>>| {
        calls.set(calls.get() + 1);
        let result = if fail.get() {
            Err(StoreError::Backend {
                context: "converting".into(),
                detail: "the importer module did not load".into(),
            })
        } else {
            quickchat_wasm::store::record_to_binary(kind, &json)
        };
        Box::pin(async move { result }) as quickchat_wasm::store::Converted
    })
}

#[wasm_bindgen_test]
async fn json_records_go_through_the_converter_given_all_at_once_or_not_at_all() {
    let name = unique("convert");
    let (bob, carol) = (peer_sessions("bob"), peer_sessions("carol"));
    write_version_1(&name, "pw", &[], &[bob.clone(), carol.clone()]).await;
    let keys = key_records().await;
    write_json_keys(&name, "pw", &keys).await;
    // Identity, meta, the known identity, the prekeys, two sessions.
    let records = 5 + keys.signed.len() + keys.one_time.len();
    let (calls, fail) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(true)));

    // A converter that fails (the importer module did not load): the store does not open,
    // and nothing was rewritten: the records are JSON and the layout is 1, as they were.
    let refused = IdbStore::open_with(&name, "pw", FAST, Some(converter(&calls, &fail))).await;
    assert!(
        matches!(refused, Err(StoreError::Backend { .. })),
        "{refused:?}"
    );
    assert_eq!(calls.get(), 1, "it stopped at the first failure");
    assert_eq!(raw_session(&name, "pw", "bob").await.first(), Some(&b'{'));
    assert_eq!(raw_session(&name, "pw", "carol").await.first(), Some(&b'{'));
    assert_eq!(layout_of(&name).await, Some(1.0));

    // It works the next time: every record converted, in core's binary form, the layout 5.
    fail.set(false);
    calls.set(0);
    let store = IdbStore::open_with(&name, "pw", FAST, Some(converter(&calls, &fail)))
        .await
        .unwrap();
    assert_eq!(calls.get() as usize, records);
    check_binary_keys(&name, "pw", &store, &keys).await;
    for peer in ["bob", "carol"] {
        assert_eq!(
            raw_session(&name, "pw", peer).await.first(),
            Some(&binary::VERSION)
        );
    }
    assert_eq!(store.peer_sessions("bob").await.unwrap(), Some(bob));
    assert_eq!(store.peer_sessions("carol").await.unwrap(), Some(carol));
    store.close();
    drop(store);
    assert_eq!(layout_of(&name).await, Some(f64::from(schema::LAYOUT)));

    // Opened again, there is nothing left to convert.
    calls.set(0);
    let store = IdbStore::open_with(&name, "pw", FAST, Some(converter(&calls, &fail)))
        .await
        .unwrap();
    assert_eq!(calls.get(), 0);
    store.close();
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_converter_that_hands_back_another_peers_sessions_is_refused() {
    let name = unique("convert-swap");
    write_version_1(&name, "pw", &[], &[peer_sessions("bob")]).await;
    let mallory = binary::encode(&peer_sessions("mallory"));
    let swapped: quickchat_wasm::store::RecordConverter = Rc::new(move |_kind, _json| {
        let answer = zeroize::Zeroizing::new(mallory.to_vec());
        Box::pin(async move { Ok(answer) }) as quickchat_wasm::store::Converted
    });
    let refused = IdbStore::open_with(&name, "pw", FAST, Some(swapped)).await;
    assert!(
        matches!(refused, Err(StoreError::Corrupt { .. })),
        "{refused:?}"
    );
    assert_eq!(raw_session(&name, "pw", "bob").await.first(), Some(&b'{'));
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_converter_that_hands_back_another_prekey_or_kind_is_refused() {
    let keys = key_records().await;
    let (first, second) = (&keys.one_time[0], &keys.one_time[1]);
    let other_prekey = records_binary::encode(second);
    let other_kind = records_binary::encode(&keys.identity);
    for answer in [other_prekey, other_kind] {
        let name = unique("convert-prekey");
        write_version_1(&name, "pw", &[], &[]).await;
        let one = KeyRecords {
            signed: Vec::new(),
            one_time: vec![first.clone()],
            ..key_records().await
        };
        write_json_keys(&name, "pw", &one).await;
        let wrong: quickchat_wasm::store::RecordConverter = Rc::new(move |kind, json| {
            // Identity, meta and the known identity convert rightly; the prekey does not.
            let result = match kind {
                RecordKind::OneTimePrekey => Ok(zeroize::Zeroizing::new(answer.to_vec())),
                _ => quickchat_wasm::store::record_to_binary(kind, &json),
            };
            Box::pin(async move { result }) as quickchat_wasm::store::Converted
        });
        let refused = IdbStore::open_with(&name, "pw", FAST, Some(wrong)).await;
        assert!(
            matches!(refused, Err(StoreError::Corrupt { .. })),
            "{refused:?}"
        );
        let id = first.prekey.id();
        let raw = raw_record(
            &name,
            "pw",
            schema::ONE_TIME_PREKEYS,
            id.into(),
            &id.to_string(),
        )
        .await;
        assert_eq!(raw.first(), Some(&b'{'), "nothing was rewritten");
        assert_eq!(layout_of(&name).await, Some(1.0));
        IdbStore::delete(&name).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn session_records_are_binary_bound_to_their_peer_and_checked() {
    let name = unique("sessions");
    let store = open(&name, "pw").await.unwrap();
    let (alice, carol) = (peer_sessions("alice"), peer_sessions("carol"));
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutSessions(alice.clone()));
    batch.push(StoreOp::PutSessions(carol.clone()));
    store.commit(batch).await.unwrap();
    let opened = raw_session(&name, "pw", "alice").await;
    assert_eq!(opened.first(), Some(&binary::VERSION));
    assert_eq!(binary::decode(&opened).unwrap(), alice);
    // A fraction of the JSON form.
    assert!(opened.len() * 2 < serde_json::to_vec(&alice).unwrap().len());
    store.close();
    drop(store);

    // Carol's sealed record put under Alice's key does not open there.
    let db = Rexie::builder(&name).build().await.unwrap();
    let tx = db
        .transaction(&[schema::SESSIONS], TransactionMode::ReadWrite)
        .unwrap();
    let sessions = tx.store(schema::SESSIONS).unwrap();
    let carols = sessions.get("carol".into()).await.unwrap().unwrap();
    sessions.put(&carols, Some(&"alice".into())).await.unwrap();
    tx.done().await.unwrap();
    db.close();
    let store = open(&name, "pw").await.unwrap();
    assert_eq!(store.peer_sessions("carol").await.unwrap(), Some(carol));
    assert!(matches!(
        store.peer_sessions("alice").await,
        Err(StoreError::Corrupt { .. })
    ));
    store.close();
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_database_from_a_newer_version_or_another_program_is_refused() {
    let newer = unique("newer");
    let db = Rexie::builder(&newer)
        .version(schema::VERSION + 1)
        .build()
        .await
        .unwrap();
    db.close();
    assert!(matches!(
        open(&newer, "pw").await,
        Err(StoreError::Corrupt { .. })
    ));
    IdbStore::delete(&newer).await.unwrap();

    let foreign = unique("foreign");
    let db = schema_builder(&foreign, schema::VERSION)
        .build()
        .await
        .unwrap();
    let tx = db
        .transaction(&[schema::META], TransactionMode::ReadWrite)
        .unwrap();
    tx.store(schema::META)
        .unwrap()
        .put(&"something-else".into(), Some(&"format".into()))
        .await
        .unwrap();
    tx.done().await.unwrap();
    db.close();
    assert!(matches!(
        open(&foreign, "pw").await,
        Err(StoreError::Corrupt { .. })
    ));
    IdbStore::delete(&foreign).await.unwrap();
}

#[wasm_bindgen_test]
async fn one_opener_at_a_time_and_the_next_one_after_close() {
    let name = unique("in-use");
    let first = open(&name, "pw").await.unwrap();
    // A second engine over the same database would let the sessions drift apart.
    assert!(matches!(
        open(&name, "pw").await,
        Err(StoreError::InUse { .. })
    ));
    first.close();
    let second = open(&name, "pw").await.unwrap();
    second.close();
    IdbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_read_dropped_before_it_completes_leaves_nothing_behind() {
    use std::future::Future;
    use std::task::{Context, Poll};
    use wasm_bindgen::closure::Closure;

    let name = unique("cancelled");
    let store = open(&name, "pw").await.unwrap();
    // What reaches the page as uncaught: an event of the abandoned request calling a
    // closure that was dropped with its future would throw there.
    let uncaught = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let on_error = {
        let uncaught = Rc::clone(&uncaught);
        Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let message = Reflect::get(&event, &"message".into()).unwrap_or_default();
            uncaught
                .borrow_mut()
                .push(message.as_string().unwrap_or_default());
        })
    };
    let add = Reflect::get(&js_sys::global(), &"addEventListener".into()).unwrap();
    let add: js_sys::Function = add.unchecked_into();
    add.call2(&js_sys::global(), &"error".into(), on_error.as_ref())
        .unwrap();

    for _ in 0..3 {
        let mut read = Box::pin(store.identity());
        let waker = futures::task::noop_waker();
        let mut context = Context::from_waker(&waker);
        assert!(
            matches!(read.as_mut().poll(&mut context), Poll::Pending),
            "an IndexedDB read waits for its event"
        );
        // Dropped here, with its request in flight.
    }
    // The store goes on, and the abandoned requests' events come and go.
    assert!(store.identity().await.unwrap().is_none());
    sleep(50).await;
    let remove = Reflect::get(&js_sys::global(), &"removeEventListener".into()).unwrap();
    let remove: js_sys::Function = remove.unchecked_into();
    remove
        .call2(&js_sys::global(), &"error".into(), on_error.as_ref())
        .unwrap();
    assert!(uncaught.borrow().is_empty(), "{:?}", uncaught.borrow());
    store.close();
    IdbStore::delete(&name).await.unwrap();
}
