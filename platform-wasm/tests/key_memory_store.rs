//! The drop-in's memory store (`KeyMemoryStore`, `storage: 'memory'`) against core's
//! `MemoryStore`: the same writes, then the same reads must agree; messages are refused, and
//! a refused batch writes nothing.
//!
//! Run: `scripts/wasm-test-node.sh` (Node, wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use quickchat_core::account::create_account;
use quickchat_core::store::{
    ContentKind, Conversation, Direction, KnownIdentity, MemoryStore, MessageQuery, MessageRecord,
    MessageStatus, Store, StoreOp, WriteBatch,
};
use quickchat_wasm::rng::WebRng;
use quickchat_wasm::store::memory::KeyMemoryStore;
use wasm_bindgen_test::*;

async fn assert_same(ours: &KeyMemoryStore, core: &MemoryStore, peers: &[&str]) {
    assert_eq!(
        ours.identity().await.unwrap(),
        core.identity().await.unwrap()
    );
    assert_eq!(
        ours.account_meta().await.unwrap(),
        core.account_meta().await.unwrap()
    );
    assert_eq!(
        ours.signed_prekeys().await.unwrap(),
        core.signed_prekeys().await.unwrap()
    );
    assert_eq!(
        ours.one_time_prekeys().await.unwrap(),
        core.one_time_prekeys().await.unwrap()
    );
    for id in 0..110 {
        assert_eq!(
            ours.one_time_prekey(id).await.unwrap(),
            core.one_time_prekey(id).await.unwrap()
        );
        assert_eq!(
            ours.signed_prekey(id).await.unwrap(),
            core.signed_prekey(id).await.unwrap()
        );
    }
    assert_eq!(
        ours.session_peer_ids().await.unwrap(),
        core.session_peer_ids().await.unwrap()
    );
    for peer in peers {
        assert_eq!(
            ours.known_identity(peer).await.unwrap(),
            core.known_identity(peer).await.unwrap()
        );
    }
}

fn known(peer: &str, key: quickchat_core::keys::PublicKey, first_seen: i64) -> KnownIdentity {
    KnownIdentity {
        peer_id: peer.into(),
        identity_key: key,
        signing_key: None,
        first_seen,
        verified: false,
        unaccepted_change_from: None,
    }
}

async fn both(ours: &KeyMemoryStore, core: &MemoryStore, ops: Vec<StoreOp>) {
    let mut batch = WriteBatch::new();
    for op in ops {
        batch.push(op);
    }
    ours.commit(batch.clone()).await.unwrap();
    core.commit(batch).await.unwrap();
}

#[wasm_bindgen_test]
async fn writes_and_reads_agree_with_core_memory_store() {
    let ours = KeyMemoryStore::new();
    let core = MemoryStore::new();
    // An account as the drop-in makes it, copied record by record into both stores.
    let scratch = MemoryStore::new();
    let identity = create_account(&scratch, "u", 5, &mut WebRng::System)
        .await
        .unwrap();
    let mut ops = vec![
        StoreOp::PutIdentity(scratch.identity().await.unwrap().unwrap()),
        StoreOp::PutAccountMeta(scratch.account_meta().await.unwrap().unwrap()),
    ];
    // Reversed, so the store must sort them.
    for record in scratch.one_time_prekeys().await.unwrap().into_iter().rev() {
        ops.push(StoreOp::PutOneTimePrekey(record));
    }
    for record in scratch.signed_prekeys().await.unwrap() {
        ops.push(StoreOp::PutSignedPrekey(record));
    }
    let key = identity.public().dh;
    ops.push(StoreOp::PutKnownIdentity(known("zed", key, 1)));
    ops.push(StoreOp::PutKnownIdentity(known("amy", key, 2)));
    ops.push(StoreOp::PutKnownIdentity(known("max", key, 3)));
    both(&ours, &core, ops).await;
    let peers = ["amy", "max", "zed", "nobody"];
    assert_same(&ours, &core, &peers).await;
    assert_eq!(ours.one_time_prekeys().await.unwrap().len(), 100);

    // Replacing, deleting (present and absent keys).
    let mut replaced = scratch.one_time_prekeys().await.unwrap()[3].clone();
    replaced.uploaded = !replaced.uploaded;
    both(
        &ours,
        &core,
        vec![
            StoreOp::PutOneTimePrekey(replaced),
            StoreOp::DeleteOneTimePrekey(2),
            StoreOp::DeleteOneTimePrekey(50),
            StoreOp::DeleteOneTimePrekey(9999),
            StoreOp::DeleteSignedPrekey(1),
            StoreOp::PutKnownIdentity(known("amy", key, 7)),
            StoreOp::DeleteSessions("nobody".into()),
        ],
    )
    .await;
    assert_same(&ours, &core, &peers).await;
    assert_eq!(ours.one_time_prekeys().await.unwrap().len(), 98);

    // A reset forgets every key.
    both(&ours, &core, vec![StoreOp::ClearKeys]).await;
    assert_same(&ours, &core, &peers).await;
    assert!(ours.identity().await.unwrap().is_none());
    assert!(ours.known_identity("amy").await.unwrap().is_none());
}

#[wasm_bindgen_test]
async fn messages_are_refused_and_a_refused_batch_writes_nothing() {
    let ours = KeyMemoryStore::new();
    let scratch = MemoryStore::new();
    create_account(&scratch, "u", 5, &mut WebRng::System)
        .await
        .unwrap();
    let identity = scratch.identity().await.unwrap().unwrap();
    let message = MessageRecord {
        id: "m".into(),
        conversation: Conversation::Direct("p".into()),
        sender_id: "p".into(),
        direction: Direction::Incoming,
        body: "hi".into(),
        kind: ContentKind::Text,
        image_data: None,
        timestamp: 1,
        status: MessageStatus::Read,
        encrypted: true,
        read_at: None,
        wire: None,
        decrypt_error: None,
    };
    let mut batch = WriteBatch::new();
    batch.push(StoreOp::PutIdentity(identity));
    batch.push(StoreOp::PutMessage(message));
    assert!(ours.commit(batch).await.is_err());
    assert!(ours.identity().await.unwrap().is_none());
    assert!(ours.message("m").await.is_err());
    assert!(ours.messages(&MessageQuery::default()).await.is_err());
}
