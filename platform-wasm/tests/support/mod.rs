//! Helpers shared by the browser tests.
#![allow(dead_code)]

use std::future::Future;

use futures::{FutureExt, pin_mut, select};
use quickchat_core::store::{ContentKind, Conversation, Direction, MessageRecord, MessageStatus};

/// A database name no other test (or earlier run) uses.
pub(crate) fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("randomness");
    format!("qc-test-{prefix}-{}", hex::encode(bytes))
}

/// `future`, or a panic naming `what` after `ms` milliseconds.
pub(crate) async fn within<T>(ms: u32, what: &str, future: impl Future<Output = T>) -> T {
    let future = future.fuse();
    let timeout = gloo_timers::future::TimeoutFuture::new(ms).fuse();
    pin_mut!(future, timeout);
    select! {
        value = future => value,
        () = timeout => panic!("timed out after {ms} ms waiting for {what}"),
    }
}

/// Waits `ms` milliseconds.
pub(crate) async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// A text message record.
pub(crate) fn message(id: &str, conversation: Conversation, ts: i64, body: &str) -> MessageRecord {
    MessageRecord {
        id: id.to_string(),
        conversation,
        sender_id: "someone".into(),
        direction: Direction::Incoming,
        body: body.to_string(),
        kind: ContentKind::Text,
        image_data: None,
        timestamp: ts,
        status: MessageStatus::Delivered,
        encrypted: true,
        read_at: None,
        wire: None,
        decrypt_error: None,
    }
}

/// The names of the IndexedDB databases of this origin (`indexedDB.databases()`).
pub(crate) async fn database_names() -> Vec<String> {
    let factory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).expect("indexedDB");
    let databases = js_sys::Reflect::get(&factory, &"databases".into()).expect("databases()");
    let databases: js_sys::Function = wasm_bindgen::JsCast::dyn_into(databases).expect("function");
    let promise: js_sys::Promise =
        wasm_bindgen::JsCast::dyn_into(databases.call0(&factory).expect("call")).expect("promise");
    let list = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("databases");
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|d| js_sys::Reflect::get(&d, &"name".into()).ok()?.as_string())
        .collect()
}
