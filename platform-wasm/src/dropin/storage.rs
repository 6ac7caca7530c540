//! Opening the drop-in's store as the options say, and the generated passphrase of a store
//! opened without one.

use std::sync::Arc;

use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbTransactionMode};

use super::SharedStore;
use crate::api::options::{ParsedOptions, Storage};
use crate::error::Error;
use crate::error::Result;
use crate::idb::{self, IdbError, Transaction};
use crate::rng::WebRng;
use crate::store::memory::KeyMemoryStore;
use crate::store::{IdbStore, RecordConverter};

/// The database holding the generated passphrases of drop-in stores opened without one.
const DEVICE_SECRETS_DATABASE: &str = "quickchat-device-secrets";

/// Opens the drop-in's store as the options say.
pub(super) async fn open_store(
    user_id: &str,
    parsed: &ParsedOptions,
    converter: Option<RecordConverter>,
) -> Result<SharedStore> {
    match parsed.storage() {
        // An Arc because core forwards `Store` through `Arc` (the browser has one thread).
        #[allow(clippy::arc_with_non_send_sync)]
        Storage::Memory => Ok(Arc::new(KeyMemoryStore::new())),
        Storage::Indexeddb => {
            let name = parsed
                .options
                .database_name
                .clone()
                .unwrap_or_else(|| format!("quickchat-keys:{user_id}"));
            let passphrase = match &parsed.options.passphrase {
                Some(passphrase) => zeroize::Zeroizing::new(passphrase.clone()),
                None => device_secret(&name).await?,
            };
            // An Arc because core forwards `Store` through `Arc` (the browser has one thread).
            #[allow(clippy::arc_with_non_send_sync)]
            let store: SharedStore =
                Arc::new(IdbStore::open_with(&name, &passphrase, parsed.kdf()?, converter).await?);
            Ok(store)
        }
    }
}

/// The generated passphrase of the store `name`, made on first use and kept in the
/// `quickchat-device-secrets` database — the same protection the reference client gives
/// its keys (its master key sits beside them). An application that supplies a passphrase
/// gets real encryption at rest instead.
async fn device_secret(name: &str) -> Result<zeroize::Zeroizing<String>> {
    let failed = |e: IdbError| {
        Error::Store(quickchat_core::store::StoreError::Backend {
            context: "keeping the device passphrase".into(),
            detail: e.to_string(),
        })
    };
    let db = idb::open(DEVICE_SECRETS_DATABASE, 1, |request, old| {
        if old < 1 {
            IdbDatabase::from(request.result()?).create_object_store("secrets")?;
        }
        Ok(())
    })
    .await
    .map_err(failed)?;
    let result = async {
        let tx =
            Transaction::start(&db, &["secrets"], IdbTransactionMode::Readwrite).map_err(failed)?;
        let secrets = tx.store("secrets").map_err(failed)?;
        let existing = idb::call(secrets.get(&JsValue::from_str(name)))
            .await
            .map_err(failed)?
            .as_string();
        let secret = match existing {
            Some(secret) => secret,
            None => {
                let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
                quickchat_core::rand_core::Rng::fill_bytes(&mut WebRng::System, &mut *bytes);
                let secret = quickchat_core::encoding::b64_encode(&*bytes);
                idb::issued(
                    secrets.put_with_key(&JsValue::from_str(&secret), &JsValue::from_str(name)),
                )
                .map_err(failed)?;
                secret
            }
        };
        tx.done().await.map_err(failed)?;
        Ok(zeroize::Zeroizing::new(secret))
    }
    .await;
    db.close();
    result
}
