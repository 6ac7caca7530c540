//! The importer of the reference web client's IndexedDB database, in a real browser: a
//! database laid out as the web client leaves it (`vectors/web-storage-import.json`) is
//! imported into the SDK's own encrypted store, and the messages the peer sent after the
//! snapshot (`afterSnapshot`) then decrypt on the imported session — no new session. The old
//! database is left exactly as it was, and a missing one is not created.
//!
//! Run: `scripts/wasm-test-browser.sh browser_import`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::{MemoryStore, Store};
use quickchat_wasm::handover::ImportedRecords;
use quickchat_wasm::import::{import_web_client, imported_records, read_web_client_database};
use quickchat_wasm::store::{IdbStore, KdfStrength};
use serde_json::Value;
use support::{database_names, unique};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const VECTOR: &str = include_str!("../../tests/data/vectors/web-storage-import.json");

#[wasm_bindgen(inline_js = r#"
export function writeDatabase(name, snapshot) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, snapshot.version);
    request.onupgradeneeded = () => {
      for (const store of Object.keys(snapshot.stores)) request.result.createObjectStore(store);
    };
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      const tx = db.transaction(Object.keys(snapshot.stores), 'readwrite');
      for (const [store, rows] of Object.entries(snapshot.stores)) {
        for (const row of rows) tx.objectStore(store).put(row.value, row.key);
      }
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  });
}
export function deleteDatabase(name) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = writeDatabase)]
    fn write_database(name: &str, snapshot: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deleteDatabase)]
    fn delete_database(name: &str) -> js_sys::Promise;
}

async fn run(promise: js_sys::Promise) {
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("IndexedDB operation");
}

fn vector() -> Value {
    serde_json::from_str(VECTOR).expect("vector JSON")
}

/// The web client's database, as it left it, under `name`.
async fn reference_database(name: &str) {
    let snapshot = js_sys::JSON::parse(&vector()["snapshot"].to_string()).unwrap();
    run(write_database(name, &snapshot)).await;
}

fn dump_text(dump: &JsValue) -> String {
    js_sys::JSON::stringify(dump).unwrap().as_string().unwrap()
}

#[wasm_bindgen_test]
async fn the_imported_session_decrypts_what_the_peer_sent_after_the_snapshot() {
    let vector = vector();
    let user = vector["userId"].as_str().unwrap();
    let old = unique("quick-chat-e2ee");
    reference_database(&old).await;
    let before = read_web_client_database(&old)
        .await
        .unwrap()
        .expect("exists");
    // The dump is the snapshot, row for row.
    let dumped: Value = serde_json::from_str(&dump_text(&before)).unwrap();
    assert_eq!(dumped["stores"], vector["snapshot"]["stores"]);

    let ours = unique("imported");
    let store = IdbStore::open(&ours, "pass", KdfStrength::InsecureForTests)
        .await
        .unwrap();
    let summary = import_web_client(&store, user, &old, 1)
        .await
        .unwrap()
        .expect("the database holds the user");
    assert_eq!(summary.user_id, user);
    assert_eq!(summary.sessions, vec!["alice-0000-4000-8000-000000000001"]);
    assert_eq!(summary.signed_prekeys, 1);
    assert_eq!(summary.one_time_prekeys, 100);
    let identity_row = &vector["snapshot"]["stores"]["identity"][0]["value"];
    assert_eq!(
        summary.fingerprint,
        identity_row["fingerprint"].as_str().unwrap()
    );
    // Prekeys keep their upload state and the id counter carries on.
    let uploaded_before: std::collections::BTreeMap<u32, bool> =
        vector["snapshot"]["stores"]["one_time_prekeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["value"]["keyId"].as_u64().unwrap() as u32,
                    row["value"]["uploaded"].as_bool().unwrap(),
                )
            })
            .collect();
    let uploaded_after: std::collections::BTreeMap<u32, bool> = store
        .one_time_prekeys()
        .await
        .unwrap()
        .iter()
        .map(|p| (p.prekey.id(), p.uploaded))
        .collect();
    assert_eq!(uploaded_after, uploaded_before);
    assert!(uploaded_after.values().any(|u| *u) && uploaded_after.values().any(|u| !*u));
    assert_eq!(
        store.account_meta().await.unwrap().unwrap().next_prekey_id,
        102
    );
    store.close();
    drop(store);

    // Reopened from IndexedDB: the session continues where the web client left it.
    let store = IdbStore::open(&ours, "pass", KdfStrength::InsecureForTests)
        .await
        .unwrap();
    let mut engine = SessionEngine::open(&store, SessionConfig::default())
        .await
        .unwrap();
    let mut rng = quickchat_wasm::rng::WebRng::System;
    for message in vector["afterSnapshot"].as_array().unwrap() {
        let from = message["from"].as_str().unwrap();
        let incoming = engine
            .decrypt(from, message["wire"].as_str().unwrap(), 2, &mut rng)
            .await
            .unwrap()
            .commit()
            .await
            .unwrap();
        assert!(!incoming.new_session, "no new session was needed");
        assert_eq!(incoming.plaintext, message["plaintext"].as_str().unwrap());
    }
    drop(engine);
    store.close();

    // The web client's database is exactly as it was.
    let after = read_web_client_database(&old)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(dump_text(&after), dump_text(&before));
    run(delete_database(&old)).await;
    IdbStore::delete(&ours).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_store_that_already_holds_keys_is_not_overwritten() {
    let vector = vector();
    let user = vector["userId"].as_str().unwrap();
    let old = unique("quick-chat-e2ee");
    reference_database(&old).await;
    let ours = unique("existing");
    let store = IdbStore::open(&ours, "pass", KdfStrength::InsecureForTests)
        .await
        .unwrap();
    quickchat_core::account::create_account(
        &store,
        user,
        0,
        &mut quickchat_wasm::rng::WebRng::System,
    )
    .await
    .unwrap();
    let mine = store.identity().await.unwrap();
    assert!(import_web_client(&store, user, &old, 1).await.is_err());
    assert_eq!(store.identity().await.unwrap(), mine);
    store.close();
    run(delete_database(&old)).await;
    IdbStore::delete(&ours).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_missing_database_is_reported_and_not_created() {
    let missing = unique("never-made");
    assert!(read_web_client_database(&missing).await.unwrap().is_none());
    let ours = unique("empty");
    let store = IdbStore::open(&ours, "pass", KdfStrength::InsecureForTests)
        .await
        .unwrap();
    assert!(
        import_web_client(&store, "someone", &missing, 1)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.identity().await.unwrap().is_none());
    store.close();
    assert!(!database_names().await.contains(&missing));
    IdbStore::delete(&ours).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_database_without_the_user_imports_nothing() {
    let old = unique("quick-chat-e2ee");
    reference_database(&old).await;
    let ours = unique("other-user");
    let store = IdbStore::open(&ours, "pass", KdfStrength::InsecureForTests)
        .await
        .unwrap();
    assert!(
        import_web_client(&store, "somebody-else", &old, 1)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.identity().await.unwrap().is_none());
    store.close();
    run(delete_database(&old)).await;
    IdbStore::delete(&ours).await.unwrap();
}

/// The importer module's route (`imported_records`, handed over as bytes and saved by the
/// drop-in's module) saves exactly what the direct import saves.
#[wasm_bindgen_test]
async fn the_handed_over_records_save_what_the_direct_import_saves() {
    let vector = vector();
    let user = vector["userId"].as_str().unwrap();
    let old = unique("quick-chat-e2ee");
    reference_database(&old).await;

    let direct = MemoryStore::new();
    import_web_client(&direct, user, &old, 7)
        .await
        .unwrap()
        .expect("the database holds the user");

    let records = imported_records(&old, user, 7)
        .await
        .unwrap()
        .expect("the database holds the user");
    assert_eq!(records.user_id(), Some(user));
    let bytes = records.encode().unwrap();
    let handed = MemoryStore::new();
    handed
        .commit(ImportedRecords::decode(&bytes).unwrap().into_batch())
        .await
        .unwrap();

    assert_eq!(
        handed.identity().await.unwrap(),
        direct.identity().await.unwrap()
    );
    assert_eq!(
        handed.account_meta().await.unwrap(),
        direct.account_meta().await.unwrap()
    );
    assert_eq!(
        handed.signed_prekeys().await.unwrap(),
        direct.signed_prekeys().await.unwrap()
    );
    assert_eq!(
        handed.one_time_prekeys().await.unwrap(),
        direct.one_time_prekeys().await.unwrap()
    );
    let peers = direct.session_peer_ids().await.unwrap();
    assert_eq!(peers, vec!["alice-0000-4000-8000-000000000001"]);
    assert_eq!(handed.session_peer_ids().await.unwrap(), peers);
    for peer in &peers {
        assert_eq!(
            handed.peer_sessions(peer).await.unwrap(),
            direct.peer_sessions(peer).await.unwrap()
        );
        assert_eq!(
            handed.known_identity(peer).await.unwrap(),
            direct.known_identity(peer).await.unwrap()
        );
    }
    // Not a user of that database: nothing to hand over.
    assert!(
        imported_records(&old, "somebody-else", 7)
            .await
            .unwrap()
            .is_none()
    );
    // Bytes that are not the importer's records are refused.
    assert!(ImportedRecords::decode(b"{\"identity\": 3}").is_err());
    run(delete_database(&old)).await;
}
