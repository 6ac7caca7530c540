//! The store conformance suite (`quickchat_core::testing::store_suite`) against
//! `MemoryStore`, the reference the platform stores are held to (the redb store runs it in
//! platform-native, the IndexedDB store in Chromium).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use quickchat_core::MemoryStore;
use quickchat_core::testing::store_suite::{check_contents, check_store};

#[test]
fn memory_store_passes_the_conformance_suite() {
    let store = MemoryStore::new();
    let model = futures_executor::block_on(check_store(&store));
    // What the suite left is what the store reports, read again from scratch.
    futures_executor::block_on(check_contents(&store, &model));
    assert!(!model.messages.is_empty(), "the suite wrote messages");
}
