//! A first message that uses a one-time prekey while the client is recording that very
//! prekey as uploaded: the prekey must stay consumed.
//!
//! Recording an upload reads each prekey record and writes it back marked uploaded. On a
//! store whose reads really wait (IndexedDB, a file), a first message could consume one of
//! those prekeys in between; the write-back would then bring its private key back. The store
//! here stops at the first such read until the test lets it go, and the first message is
//! read (history catch-up) while it waits.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use engines::{Hooked, Hooks};
use futures::channel::oneshot;
use futures::task::LocalSpawnExt;
use futures_executor::LocalPool;
use quickchat_core::client::{Client, ClientConfig};
use quickchat_core::prekey_care::{PrekeyCare, PrekeyPolicy};
use quickchat_core::rand_core::SeedableRng;
use quickchat_core::session::SessionConfig;
use quickchat_core::store::{MemoryStore, SavedLogin, Store, StoreOp, WriteBatch};
use quickchat_core::testing::{ManualClock, scripted};
use quickchat_core::transport::{HttpResponse, Method};
use quickchat_core::x3dh::{OneTimePrekeyUse, PrekeyBundle};
use rand_chacha::ChaCha20Rng;
use serde_json::json;

const ME: &str = "alice-id";
const BOB: &str = "bob-id";
const START_MS: i64 = 1_800_000_000_000;

/// Once armed, holds up the answer of the next read of a single one-time prekey (as a real
/// store's read: the value is read, then handed over later) until the test opens it.
#[derive(Default)]
struct Gate(Mutex<Option<oneshot::Receiver<()>>>);

#[async_trait]
impl Hooks for Gate {
    async fn one_time_prekey_read(&self) {
        let gate = self.0.lock().unwrap().take();
        if let Some(gate) = gate {
            gate.await.unwrap();
        }
    }
}

impl Gate {
    /// Arms the gate; the returned sender opens it.
    fn arm(&self) -> oneshot::Sender<()> {
        let (open, wait) = oneshot::channel();
        *self.0.lock().unwrap() = Some(wait);
        open
    }
}

/// Alice's account (nothing uploaded yet, a saved login) and the bundle the backend would
/// hand out for her with one-time prekey `one_time_id`.
fn alice(rng: &mut ChaCha20Rng, one_time_id: u32) -> (MemoryStore, PrekeyBundle) {
    let store = MemoryStore::new();
    futures_executor::block_on(async {
        quickchat_core::account::create_account_from(&store, ME, 1, START_MS, rng)
            .await
            .unwrap();
        let mut meta = store.account_meta().await.unwrap().unwrap_or_default();
        meta.login = Some(SavedLogin {
            user_id: ME.into(),
            username: "alice".into(),
            token: "header.eyJleHAiOjQxMDI0NDQ4MDB9.signature".into(),
            expires_at: i64::MAX,
        });
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutAccountMeta(meta));
        store.commit(batch).await.unwrap();
    });
    let bundle = engines::store_bundle(&store, one_time_id);
    (store, bundle)
}

/// What the backend answers for Bob's bundle (no one-time prekey left).
fn bundle_answer(bob: &engines::Engine) -> String {
    let care = PrekeyCare::new(bob.store(), PrekeyPolicy::default());
    let upload = futures_executor::block_on(care.next_upload())
        .unwrap()
        .unwrap();
    let mut answer = serde_json::to_value(&upload.request).unwrap();
    let fields = answer.as_object_mut().unwrap();
    fields.remove("oneTimePrekeys");
    fields.insert("oneTimePrekey".into(), serde_json::Value::Null);
    answer.to_string()
}

#[test]
fn a_one_time_prekey_used_while_its_upload_is_recorded_stays_consumed() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    // The first upload carries one-time prekeys 2..=51; Bob's first message uses 2, the
    // first one that recording the upload reads.
    let used = 2;
    let (store, alice_bundle) = alice(&mut rng, used);
    // Bob mixes the one-time prekey in (DH4), as the SDK can; the web client never does.
    let dh4 = SessionConfig {
        one_time_prekey_use: OneTimePrekeyUse::WhenAvailable,
        ..SessionConfig::default()
    };
    let mut bob = engines::engine_with(BOB, &mut rng, dh4);
    futures_executor::block_on(bob.start_session(ME, &alice_bundle, START_MS, &mut rng)).unwrap();
    let first = engines::send(&mut bob, ME, "hello alice", &mut rng);

    let (transport, script) = scripted();
    let history = json!([{
        "id": "m1", "fromUser": BOB, "toUser": ME, "content": first,
        "timestamp": START_MS, "status": "sent", "readAt": null, "type": "text",
        "imageData": null, "encrypted": 1,
    }])
    .to_string();
    let bob_bundle = bundle_answer(&bob);
    script.answer_with(move |request| {
        let path = request.path.as_str();
        let body = match (request.method, path) {
            // Held: the test answers it once the gate is armed.
            (Method::Post, "/api/users/prekeys") => return None,
            (Method::Get, "/api/users/prekeys/status") => json!({
                "signedPrekeyKeyId": 1,
                "signedPrekeyCreatedAt": START_MS,
                "oneTimePrekeyCount": 100,
            })
            .to_string(),
            (Method::Get, p) if p.starts_with(&format!("/api/messages/{BOB}?")) => history.clone(),
            (Method::Get, p) if p == format!("/api/users/{BOB}/prekeys") => bob_bundle.clone(),
            (Method::Put, "/api/messages/status") => {
                json!({"success": true, "updated": 1}).to_string()
            }
            _ => return None,
        };
        Some(HttpResponse { status: 200, body })
    });
    let gated = Hooked {
        inner: store,
        hooks: Gate::default(),
    };
    let clock = ManualClock::new(START_MS);
    let client = Arc::new(Client::new(
        transport,
        gated,
        clock,
        ChaCha20Rng::seed_from_u64(12),
        ClientConfig::default(),
    ));
    let mut pool = LocalPool::new();
    pool.run_until(client.restore()).unwrap();

    let upkeep = client.clone();
    pool.spawner()
        .spawn_local(async move { upkeep.maintain_prekeys().await.unwrap() })
        .unwrap();
    pool.run_until_stalled();
    let upload = script.take_requests();
    assert_eq!(upload.len(), 1, "the first upload waits for the test");
    assert_eq!(upload[0].request.path, "/api/users/prekeys");
    let open = client.store().hooks.arm();
    for pending in upload {
        pending.respond(
            200,
            json!({"success": true, "signedPrekeyUploaded": true, "oneTimePrekeysUploaded": 50})
                .to_string(),
        );
    }
    // Recording the upload now waits inside its reads, with prekey 2 among them.
    pool.run_until_stalled();
    assert!(
        client.store().hooks.0.lock().unwrap().is_none(),
        "recording the upload reached its one-time prekey reads"
    );

    let reader = client.clone();
    let caught_up = Arc::new(Mutex::new(None));
    let slot = caught_up.clone();
    pool.spawner()
        .spawn_local(async move {
            let got = reader.catch_up_with(BOB).await.map_err(|e| e.to_string());
            *slot.lock().unwrap() = Some(got);
        })
        .unwrap();
    pool.run_until_stalled();
    open.send(()).unwrap();
    pool.run_until_stalled();
    // The rest of the upkeep uploads the other 50 one-time prekeys.
    for pending in script.take_requests() {
        pending.respond(
            200,
            json!({"success": true, "signedPrekeyUploaded": false, "oneTimePrekeysUploaded": 50})
                .to_string(),
        );
        pool.run_until_stalled();
    }

    assert_eq!(caught_up.lock().unwrap().clone(), Some(Ok(1)));
    let message = pool.run_until(client.store().message("m1")).unwrap();
    assert_eq!(
        message.map(|m| (m.body, m.encrypted)),
        Some(("hello alice".to_string(), true))
    );
    assert!(
        pool.run_until(client.store().one_time_prekey(used))
            .unwrap()
            .is_none(),
        "the one-time prekey the first message used came back"
    );
    let next = pool
        .run_until(client.store().one_time_prekey(used + 1))
        .unwrap()
        .expect("the other prekeys of the upload stay");
    assert!(next.uploaded);
}
