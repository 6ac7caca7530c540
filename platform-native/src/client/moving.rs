//! Moving the account to another place: export, import, re-activation (core's `archive`).

use quickchat_core::archive::{AccountArchive, ExportOptions, ImportOptions};
use quickchat_core::client::ClientError;

use super::Client;

impl Client {
    /// Exports the account, sealed under `passphrase` (Argon2id + AES-256-GCM), to continue
    /// it elsewhere (another store, the browser SDK, Python), and marks this store moved:
    /// the connection closes, and this store neither connects nor sends again
    /// ([`ClientError::AccountMoved`]) until [`Client::reactivate_account`]. The file is
    /// returned only once the mark is saved.
    pub async fn export_account(
        &self,
        passphrase: &str,
        options: ExportOptions,
    ) -> Result<Vec<u8>, ClientError> {
        self.core().export_account(passphrase, options).await
    }

    /// Imports an account file into this client's store in one atomic commit, then picks up
    /// its saved login (as [`Client::restore`]). Refuses while logged in, a store that holds
    /// an account unless `options.replace`, and a damaged, newer or wrong-passphrase file;
    /// a refusal changes nothing.
    pub async fn import_account(
        &self,
        file: &[u8],
        passphrase: &str,
        options: ImportOptions,
    ) -> Result<AccountArchive, ClientError> {
        self.core().import_account(file, passphrase, options).await
    }

    /// When the store's account was exported to be used elsewhere (ms), or `None`.
    pub async fn moved_at(&self) -> Result<Option<i64>, ClientError> {
        self.core().moved_at().await
    }

    /// Clears the mark an export left, so this store connects and sends again. Only when the
    /// account is no longer used where it was moved to.
    pub async fn reactivate_account(&self) -> Result<(), ClientError> {
        self.core().reactivate_account().await
    }
}
