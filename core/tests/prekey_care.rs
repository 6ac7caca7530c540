//! Prekey care over a real (in-memory) store, and the session engine meeting its results.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_executor::block_on;
use quickchat_core::account::create_account;
use quickchat_core::prekey_care::{PrekeyCare, PrekeyPolicy};
use quickchat_core::session::{SessionConfig, SessionEngine};
use quickchat_core::store::{MemoryStore, Store};
use quickchat_core::x3dh::PrekeyBundle;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const DAY: i64 = 24 * 60 * 60 * 1000;
const T0: i64 = 1_800_000_000_000;

fn account(user: &str, rng: &mut ChaCha20Rng) -> MemoryStore {
    let store = MemoryStore::new();
    block_on(create_account(&store, user, T0, rng)).unwrap();
    store
}

fn upload_all(care: &PrekeyCare<'_, MemoryStore>, now: i64) -> Vec<(Option<u32>, Vec<u32>)> {
    let mut uploads = Vec::new();
    while let Some(upload) = block_on(care.next_upload()).unwrap() {
        let count = upload.request.one_time_prekeys.as_ref().map_or(0, Vec::len);
        assert!(count <= 50, "uploads at most 50 one-time prekeys");
        assert_eq!(count, upload.one_time_prekey_ids.len());
        block_on(care.mark_uploaded(&upload, now)).unwrap();
        uploads.push((upload.signed_prekey_id, upload.one_time_prekey_ids));
    }
    uploads
}

#[test]
fn a_new_account_uploads_its_signed_prekey_and_100_one_time_prekeys_in_batches() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let store = account("bob", &mut rng);
    let care = PrekeyCare::new(&store, PrekeyPolicy::default());
    let first = block_on(care.next_upload()).unwrap().unwrap();
    let identity = block_on(store.identity()).unwrap().unwrap();
    assert_eq!(
        first.request.identity_key,
        identity.identity.public().dh.to_base64()
    );
    assert_eq!(
        first.request.fingerprint,
        identity.identity.fingerprint().as_str()
    );
    assert_eq!(first.request.signed_prekey.as_ref().unwrap().key_id, 1);
    let uploads = upload_all(&care, T0);
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].0, Some(1));
    assert_eq!(uploads[0].1, (2..52).collect::<Vec<_>>());
    assert_eq!(uploads[1].0, None);
    assert_eq!(uploads[1].1, (52..102).collect::<Vec<_>>());
    assert_eq!(
        block_on(store.account_meta())
            .unwrap()
            .unwrap()
            .last_upload_at,
        Some(T0)
    );
}

#[test]
fn top_up_refills_to_the_target_only_below_the_threshold() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let store = account("bob", &mut rng);
    let care = PrekeyCare::new(&store, PrekeyPolicy::default());
    upload_all(&care, T0);
    assert_eq!(block_on(care.top_up(20, &mut rng)).unwrap(), 0);
    assert_eq!(block_on(care.top_up(15, &mut rng)).unwrap(), 85);
    // Not uploaded yet: a second report of 10 adds only what is still missing.
    assert_eq!(block_on(care.top_up(10, &mut rng)).unwrap(), 5);
    let uploads = upload_all(&care, T0);
    let ids: Vec<u32> = uploads.iter().flat_map(|u| u.1.clone()).collect();
    assert_eq!(ids, (102..192).collect::<Vec<_>>());
}

#[test]
fn local_one_time_secrets_are_capped_oldest_first() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let store = account("bob", &mut rng);
    let policy = PrekeyPolicy {
        max_local_one_time: 150,
        ..PrekeyPolicy::default()
    };
    let care = PrekeyCare::new(&store, policy);
    upload_all(&care, T0);
    assert_eq!(block_on(care.top_up(0, &mut rng)).unwrap(), 100);
    let ids: Vec<u32> = block_on(store.one_time_prekeys())
        .unwrap()
        .iter()
        .map(|p| p.prekey.id())
        .collect();
    assert_eq!(ids.len(), 150);
    assert_eq!(
        ids.first(),
        Some(&52),
        "the 50 oldest uploaded secrets went first"
    );
}

#[test]
fn signed_prekey_rotates_after_seven_days_and_old_secrets_serve_late_first_messages() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let bob_store = account("bob", &mut rng);
    let care = PrekeyCare::new(&bob_store, PrekeyPolicy::default());
    upload_all(&care, T0);

    // Alice takes Bob's bundle (signed prekey 1) before he rotates.
    let spk1 = block_on(bob_store.signed_prekey(1)).unwrap().unwrap();
    let bob_identity = *block_on(bob_store.identity())
        .unwrap()
        .unwrap()
        .identity
        .public();
    let bundle = PrekeyBundle {
        identity: bob_identity,
        signed_prekey: Some(spk1.prekey.public()),
        one_time_prekey: None,
    };

    assert!(!block_on(care.rotate_if_due(T0 + DAY, &mut rng)).unwrap());
    assert!(block_on(care.rotate_if_due(T0 + 8 * DAY, &mut rng)).unwrap());
    let meta = block_on(bob_store.account_meta()).unwrap().unwrap();
    assert_eq!(meta.current_signed_prekey_id, Some(102));
    let retired = block_on(bob_store.signed_prekey(1)).unwrap().unwrap();
    assert_eq!(retired.retired_at, Some(T0 + 8 * DAY));
    let upload = block_on(care.next_upload()).unwrap().unwrap();
    assert_eq!(upload.signed_prekey_id, Some(102));

    // Alice's first message, built on the retired prekey, still opens.
    let alice_store = account("alice", &mut rng);
    let mut alice = block_on(SessionEngine::open(alice_store, SessionConfig::default())).unwrap();
    block_on(alice.start_session("bob", &bundle, T0, &mut rng)).unwrap();
    let wire = block_on(async {
        alice
            .encrypt("bob", "late hello", T0, &mut rng)
            .await?
            .commit()
            .await
    })
    .unwrap()
    .wire;
    let mut bob = block_on(SessionEngine::open(&bob_store, SessionConfig::default())).unwrap();
    let got = block_on(async {
        bob.decrypt("alice", &wire, T0, &mut rng)
            .await?
            .commit()
            .await
    })
    .unwrap();
    assert_eq!(got.plaintext, "late hello");

    // Thirty days after retirement the old secret is gone.
    assert!(block_on(care.rotate_if_due(T0 + 39 * DAY, &mut rng)).unwrap());
    assert!(block_on(bob_store.signed_prekey(1)).unwrap().is_none());
    assert!(block_on(bob_store.signed_prekey(102)).unwrap().is_some());
}

#[test]
fn rotation_on_demand_and_queued_one_time_prekeys_go_out_with_the_next_upload() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let store = account("bob", &mut rng);
    let care = PrekeyCare::new(&store, PrekeyPolicy::default());
    upload_all(&care, T0);
    // A fresh signed prekey is not due, but rotate_now replaces it anyway.
    assert!(!block_on(care.rotate_if_due(T0 + DAY, &mut rng)).unwrap());
    block_on(care.rotate_now(T0 + DAY, &mut rng)).unwrap();
    let meta = block_on(store.account_meta()).unwrap().unwrap();
    assert_eq!(meta.current_signed_prekey_id, Some(102));
    let old = block_on(store.signed_prekey(1)).unwrap().unwrap();
    assert_eq!(
        old.retired_at,
        Some(T0 + DAY),
        "the old secret is kept, retired"
    );
    // Queued one-time prekeys are numbered on and uploaded with the new signed prekey.
    block_on(care.add_one_time(3, &mut rng)).unwrap();
    let uploads = upload_all(&care, T0 + DAY);
    assert_eq!(uploads, vec![(Some(102), vec![103, 104, 105])]);
}
