//! Moving the account to another place (`crate::archive`): export, import, re-activation.

use super::{Client, ClientError};
use crate::archive::{self, AccountArchive, ExportOptions, ImportOptions};
use crate::platform::MaybeSend;
use crate::store::Store;
use crate::transport::{Clock, Transport};
use rand_core::CryptoRng;

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Exports the account, sealed under `passphrase`, to continue it elsewhere, and marks
    /// this store moved: the connection is closed, and this client neither connects nor
    /// sends again ([`ClientError::AccountMoved`]) until [`Client::reactivate_account`].
    /// No ratchet can change during the export.
    pub async fn export_account(
        &self,
        passphrase: &str,
        options: ExportOptions,
    ) -> Result<Vec<u8>, ClientError> {
        let now = self.now();
        let file = {
            let mut crypto = self.crypto.lock().await;
            let file = archive::export_account(
                &*self.store,
                passphrase,
                options,
                now,
                crypto.device.rng(),
            )
            .await?;
            // Whatever it cached may no longer be used here, and from now on nothing may
            // send: marked before the engine is free again, so a send waiting for it fails
            // instead of advancing a ratchet the file already carries elsewhere.
            crypto.device.close();
            let mut state = self.lock_state();
            state.login = None;
            state.password = None;
            state.moved_at = Some(now);
            file
        };
        self.shutdown().await;
        Ok(file)
    }

    /// Imports an account exported elsewhere into this client's store (one atomic commit),
    /// then picks up its saved login, if any (as [`Client::restore`]). Refuses (unless
    /// `options.replace`) when the store holds an account, and replacing while somebody is
    /// logged in here.
    pub async fn import_account(
        &self,
        file: &[u8],
        passphrase: &str,
        options: ImportOptions,
    ) -> Result<AccountArchive, ClientError> {
        self.check_import(options)?;
        let archive = archive::open_archive(file, passphrase)?;
        self.import_archive(archive, options).await
    }

    /// [`Client::import_account`] of an account already opened
    /// ([`open_archive`](crate::archive::open_archive)), for a platform that opens files
    /// apart from where its client lives (the browser, in a module loaded only then).
    pub async fn import_archive(
        &self,
        archive: AccountArchive,
        options: ImportOptions,
    ) -> Result<AccountArchive, ClientError> {
        self.check_import(options)?;
        let imported = {
            let mut crypto = self.crypto.lock().await;
            crypto.device.close();
            archive::import_archive(&*self.store, archive, options).await?
        };
        self.restore().await?;
        Ok(imported)
    }

    fn check_import(&self, options: ImportOptions) -> Result<(), ClientError> {
        // Without `replace`, a store in use holds an account, which the import refuses.
        if options.replace && self.current_user().is_some() {
            return Err(ClientError::InvalidInput {
                what: "import",
                why: "log out first: an account is in use on this client".into(),
            });
        }
        Ok(())
    }

    /// When the store's account was exported to be used elsewhere (ms), or `None`.
    pub async fn moved_at(&self) -> Result<Option<i64>, ClientError> {
        Ok(self
            .store
            .account_meta()
            .await?
            .and_then(|meta| meta.moved_at))
    }

    /// Clears the moved mark an export left, so this store can connect and send again. Only
    /// when the account is no longer used where it was moved to: two places advancing the
    /// same ratchets break the conversations.
    pub async fn reactivate_account(&self) -> Result<(), ClientError> {
        archive::reactivate_account(&*self.store).await?;
        self.lock_state().moved_at = None;
        Ok(())
    }
}
