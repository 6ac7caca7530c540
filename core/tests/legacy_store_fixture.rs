//! The fixture `js/test/fixtures/legacy-dropin-stores.json`: two drop-in IndexedDB stores
//! as an earlier version of the npm package left them (layout 3, session records sealed in
//! the JSON form), with a conversation between the two users and a message from Bob that
//! Alice has not read yet. The browser suite loads it into IndexedDB and checks that the
//! drop-in, whose module has no JSON reader for sessions, converts them (through the
//! importer module) and goes on with the conversation.
//!
//! `the_fixture_is_what_it_says` checks the committed file; the generator is run by hand:
//! `cargo test -p quickchat-core --test legacy_store_fixture -- --ignored`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engines;

use std::path::PathBuf;

use engines::*;
use futures_executor::block_on;
use quickchat_core::encoding::{b64_decode, b64_encode};
use quickchat_core::session::{PeerSessions, binary};
use quickchat_core::store::sealing::{KdfParams, Place, Sealer, SealingKey};
use quickchat_core::store::{MemoryStore, Store};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

const PASSPHRASE: &str = "legacy pass";

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../js/test/fixtures/legacy-dropin-stores.json")
}

fn bytes(sealed: &[u8]) -> Value {
    json!({ "b64": b64_encode(sealed) })
}

/// `[id, sealed record]` rows of an object store keyed by number (the prekeys).
fn numbered_rows<'r, T: serde::Serialize + 'r>(
    sealer: &Sealer<ChaCha20Rng>,
    store: &str,
    records: impl Iterator<Item = (u32, &'r T)>,
) -> Vec<Value> {
    records
        .map(|(id, record)| {
            let place = id.to_string();
            let sealed = sealer
                .seal(&Place::new(store, place.as_bytes()), record)
                .unwrap();
            json!([id, bytes(&sealed)])
        })
        .collect()
}

/// One store's object stores as the drop-in's IndexedDB store holds them, at layout 3 with
/// every record sealed in JSON (as layouts before 3 wrote session records).
fn dump(store: &MemoryStore, rng: &mut ChaCha20Rng) -> Value {
    let params = KdfParams::insecure_for_tests(rng);
    let key = SealingKey::derive(PASSPHRASE, &params).unwrap();
    let check = key.make_check(rng);
    let sealer = Sealer::new(key, ChaCha20Rng::seed_from_u64(99));
    let identity = block_on(store.identity()).unwrap().unwrap();
    let mut account = vec![json!([
        "identity",
        bytes(
            &sealer
                .seal(&Place::new("account", b"identity"), &identity)
                .unwrap()
        )
    ])];
    if let Some(meta) = block_on(store.account_meta()).unwrap() {
        account.push(json!([
            "meta",
            bytes(&sealer.seal(&Place::new("account", b"meta"), &meta).unwrap())
        ]));
    }
    let signed = numbered_rows(
        &sealer,
        "signed_prekeys",
        block_on(store.signed_prekeys())
            .unwrap()
            .iter()
            .map(|r| (r.prekey.id(), r)),
    );
    let one_time = numbered_rows(
        &sealer,
        "one_time_prekeys",
        block_on(store.one_time_prekeys())
            .unwrap()
            .iter()
            .map(|r| (r.prekey.id(), r)),
    );
    let mut sessions = Vec::new();
    let mut known = Vec::new();
    for peer in block_on(store.session_peer_ids()).unwrap() {
        let record = block_on(store.peer_sessions(&peer)).unwrap().unwrap();
        // `seal` writes JSON: the form of session records before layout 3.
        let sealed = sealer
            .seal(&Place::new("sessions", peer.as_bytes()), &record)
            .unwrap();
        sessions.push(json!([peer, bytes(&sealed)]));
        if let Some(identity) = block_on(store.known_identity(&peer)).unwrap() {
            let sealed = sealer
                .seal(&Place::new("known_identities", peer.as_bytes()), &identity)
                .unwrap();
            known.push(json!([peer, bytes(&sealed)]));
        }
    }
    json!({
        "userId": identity.user_id,
        "database": format!("quickchat-keys:{}", identity.user_id),
        "stores": {
            "meta": [
                ["format", "quickchat-idb"],
                ["layout", 3],
                ["kdf", serde_json::to_string(&params).unwrap()],
                ["check", bytes(&check)],
            ],
            "account": account,
            "signed_prekeys": signed,
            "one_time_prekeys": one_time,
            "sessions": sessions,
            "known_identities": known,
        },
    })
}

#[test]
#[ignore = "writes the fixture; run by hand when its shape changes"]
fn write_the_fixture() {
    let mut rng = ChaCha20Rng::seed_from_u64(20_261_206);
    let mut alice = engine("legacy-alice", &mut rng);
    let mut bob = engine("legacy-bob", &mut rng);
    block_on(alice.start_session("legacy-bob", &bundle(&bob, 0), 0, &mut rng)).unwrap();
    let hello = send(
        &mut alice,
        "legacy-bob",
        "hello from the old version",
        &mut rng,
    );
    receive(&mut bob, "legacy-alice", &hello, &mut rng).unwrap();
    let answer = send(&mut bob, "legacy-alice", "hi, old version", &mut rng);
    receive(&mut alice, "legacy-bob", &answer, &mut rng).unwrap();
    let unread = send(
        &mut bob,
        "legacy-alice",
        "read me after the upgrade",
        &mut rng,
    );
    let fixture = json!({
        "about": "Two drop-in stores as an earlier version of the npm package left them (layout 3, session records sealed in JSON). Written by core/tests/legacy_store_fixture.rs; do not edit by hand.",
        "passphrase": PASSPHRASE,
        "alice": dump(alice.store(), &mut rng),
        "bob": dump(bob.store(), &mut rng),
        "unread": { "from": "legacy-bob", "to": "legacy-alice", "wire": unread, "text": "read me after the upgrade" },
    });
    let path = fixture_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&fixture).unwrap() + "\n",
    )
    .unwrap();
}

/// The sealed record `key` of `store` in one user's dump, opened with the passphrase.
fn open_record(user: &Value, store: &str, key: &str) -> Vec<u8> {
    let meta = user["stores"]["meta"].as_array().unwrap();
    let field = |name: &str| {
        meta.iter()
            .find(|entry| entry[0] == name)
            .map(|entry| entry[1].clone())
            .unwrap()
    };
    let params: KdfParams = serde_json::from_str(field("kdf").as_str().unwrap()).unwrap();
    let key_bytes = SealingKey::derive(PASSPHRASE, &params).unwrap();
    key_bytes
        .verify_check(&b64_decode("check", field("check")["b64"].as_str().unwrap()).unwrap())
        .unwrap();
    let sealed = user["stores"][store]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry[0] == key)
        .map(|entry| b64_decode("record", entry[1]["b64"].as_str().unwrap()).unwrap())
        .unwrap();
    let sealer = Sealer::new(key_bytes, ChaCha20Rng::seed_from_u64(0));
    sealer
        .open_bytes(&Place::new(store, key.as_bytes()), &sealed)
        .unwrap()
        .to_vec()
}

#[test]
fn the_fixture_is_what_it_says() {
    let text = std::fs::read_to_string(fixture_path()).expect("the fixture is committed");
    let fixture: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture["passphrase"], PASSPHRASE);
    for (user, peer) in [("alice", "legacy-bob"), ("bob", "legacy-alice")] {
        let dump = &fixture[user];
        let layout = dump["stores"]["meta"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry[0] == "layout")
            .map(|entry| entry[1].clone());
        assert_eq!(layout, Some(json!(3)));
        // The session record is sealed JSON, as layouts before 3 wrote it.
        let record = open_record(dump, "sessions", peer);
        assert!(binary::is_json(&record), "{user}'s session record is JSON");
        let sessions: PeerSessions = binary::decode(&record).unwrap();
        assert_eq!(sessions.peer_id, peer);
    }
    // Alice's session opens Bob's unread message.
    let record = open_record(&fixture["alice"], "sessions", "legacy-bob");
    let mut sessions = binary::decode(&record).unwrap();
    let envelope =
        quickchat_core::envelope::Envelope::parse(fixture["unread"]["wire"].as_str().unwrap())
            .unwrap();
    let text = sessions
        .current
        .ratchet
        .decrypt(
            &envelope.header,
            &envelope.ciphertext,
            &mut ChaCha20Rng::seed_from_u64(1),
        )
        .unwrap();
    assert_eq!(text, fixture["unread"]["text"].as_str().unwrap().as_bytes());
}
