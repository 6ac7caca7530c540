//! Opening the drop-in's store as the options say: over the database JavaScript opened
//! (the package's `src/key-store.js`, which also keeps the generated passphrase of a store
//! opened without one), or in memory.

use std::sync::Arc;

use wasm_bindgen::JsValue;

use super::SharedStore;
use crate::api::options::{ParsedOptions, Storage};
use crate::error::{Error, Result};
use crate::store::SealedStore;
use crate::store::memory::KeyMemoryStore;

/// Opens the drop-in's store: over `disk` where JavaScript opened the store's database,
/// else in memory (`storage: "memory"`, or no IndexedDB).
pub(super) async fn open_store(
    parsed: &ParsedOptions,
    disk: Option<JsValue>,
) -> Result<SharedStore> {
    match (parsed.storage(), disk) {
        // An Arc because core forwards `Store` through `Arc` (the browser has one thread).
        #[allow(clippy::arc_with_non_send_sync)]
        (_, Some(disk)) => {
            let passphrase = parsed.options.passphrase.as_deref().ok_or_else(|| {
                Error::invalid(
                    "passphrase",
                    "the store's passphrase (or the device's) is missing",
                )
            })?;
            let store: SharedStore =
                Arc::new(SealedStore::open(disk, passphrase, parsed.kdf()?).await?);
            Ok(store)
        }
        #[allow(clippy::arc_with_non_send_sync)]
        (Storage::Memory, None) => Ok(Arc::new(KeyMemoryStore::new())),
        (Storage::Indexeddb, None) => Err(Error::invalid(
            "storage",
            "an IndexedDB store is opened through the package's KeyManager",
        )),
    }
}
