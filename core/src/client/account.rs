//! Register, log in, restore, log out; the JWT and its renewal; publishing and upkeep of
//! prekeys; resetting end-to-end encryption.

use std::sync::Arc;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{Client, ClientError, CurrentUser, Event, IdentityChangePolicy, jwt};
use crate::account::{create_account_from, reset_account};
use crate::keys::{Fingerprint, PublicKey};
use crate::platform::MaybeSend;
use crate::prekey_care::PrekeyCare;
use crate::protocol::rest::{AuthResponse, LoginRequest, PrekeyStatus, RegisterRequest};
use crate::session::SessionConfig;
use crate::store::{AccountMeta, SavedLogin, Store, StoreOp, WriteBatch};
use crate::transport::{Clock, Transport};

/// Whether login checks that the published identity is this store's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyCheck {
    /// Refuse to take over another device's identity.
    Refuse,
    /// Publish this store's keys whatever the backend holds.
    Replace,
}

/// Renew the JWT this long before it expires, ms.
const RENEW_MARGIN_MS: i64 = 60_000;

/// Runs a JWT call; on a 401, logs in again (when the password is kept) and retries once.
macro_rules! with_jwt {
    ($client:expr, |$jwt:ident| $call:expr) => {{
        let $jwt = $client.jwt().await?;
        match $call.await {
            Err(e) if e.status() == Some(401) => {
                let $jwt = $client.relogin().await?;
                $call.await.map_err(ClientError::from)
            }
            other => other.map_err(ClientError::from),
        }
    }};
}
pub(crate) use with_jwt;

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Picks up the login saved in the store by an earlier run, if any, and opens the
    /// account's keys. Returns the user, or `None` when nobody is logged in — also when the
    /// account was exported to be used elsewhere (logging in then says so:
    /// [`ClientError::AccountMoved`]).
    pub async fn restore(&self) -> Result<Option<CurrentUser>, ClientError> {
        let Some(meta) = self.store.account_meta().await? else {
            return Ok(None);
        };
        if let Some(moved_at) = meta.moved_at {
            tracing::warn!(
                "the store's account was exported to be used elsewhere; not restoring its login"
            );
            self.lock_state().moved_at = Some(moved_at);
            return Ok(None);
        }
        self.lock_state().moved_at = None;
        let Some(login) = meta.login else {
            return Ok(None);
        };
        self.open_engine().await?;
        self.lock_state().login = Some(login);
        Ok(self.current_user())
    }

    /// Creates an account on the backend, makes this device's keys and publishes them.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        avatar: Option<&str>,
    ) -> Result<CurrentUser, ClientError> {
        self.refuse_if_moved().await?;
        let response = self
            .api
            .register(&RegisterRequest {
                username: username.to_string(),
                password: password.into(),
                avatar: avatar.map(str::to_string),
            })
            .await?;
        self.signed_in(response, password).await
    }

    /// Logs in, makes this device's keys if the store has none, and makes sure the backend
    /// publishes them. Refuses with [`ClientError::KeysInUseElsewhere`] (and changes
    /// nothing) when the backend publishes another identity for this account — the account
    /// is in use on another device, or this store is not the one it was used with: taking
    /// over would break that device's encryption. [`Client::login_replacing_keys`] takes
    /// over anyway.
    pub async fn login(&self, username: &str, password: &str) -> Result<CurrentUser, ClientError> {
        self.login_with(username, password, KeyCheck::Refuse).await
    }

    /// [`Client::login`] that publishes this store's keys even when the backend holds
    /// another device's identity for the account: that device's sessions break (peers'
    /// messages to it can no longer be decrypted there) until it resets its keys. For an
    /// account whose other device is gone.
    pub async fn login_replacing_keys(
        &self,
        username: &str,
        password: &str,
    ) -> Result<CurrentUser, ClientError> {
        self.login_with(username, password, KeyCheck::Replace).await
    }

    /// Refuses when the store's account was exported to be used elsewhere.
    pub(crate) async fn refuse_if_moved(&self) -> Result<(), ClientError> {
        match self.moved_at().await? {
            Some(moved_at) => Err(ClientError::AccountMoved { moved_at }),
            None => Ok(()),
        }
    }

    async fn login_with(
        &self,
        username: &str,
        password: &str,
        check: KeyCheck,
    ) -> Result<CurrentUser, ClientError> {
        self.refuse_if_moved().await?;
        let response = self
            .api
            .login(&LoginRequest {
                username: username.to_string(),
                password: password.into(),
            })
            .await?;
        if check == KeyCheck::Refuse {
            self.check_published_identity(&response).await?;
        }
        self.signed_in(response, password).await
    }

    /// Fails when the backend publishes an identity for this account other than this
    /// store's (a store without keys counts as other). Reading the bundle uses up one of the
    /// account's one-time prekeys, so it is read only when the backend holds keys at all.
    async fn check_published_identity(&self, response: &AuthResponse) -> Result<(), ClientError> {
        let user_id = &response.user.id;
        let ours = match self.store.identity().await? {
            Some(identity) if identity.user_id != *user_id => {
                return Err(ClientError::StoreBelongsToAnotherUser {
                    user_id: identity.user_id,
                });
            }
            Some(identity) => Some(*identity.identity.public()),
            None => None,
        };
        let status = self.api.prekey_status(&response.token).await?;
        if status.signed_prekey_key_id.is_none() && status.one_time_prekey_count == 0 {
            // Nothing usable published (a fresh account, or one reset elsewhere without
            // keys): publishing this store's keys breaks nobody.
            return Ok(());
        }
        let bundle = match self.api.fetch_bundle(&response.token, user_id).await {
            Ok(bundle) => bundle,
            Err(e) if e.status() == Some(404) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let published = PublicKey::from_base64("identityKey", &bundle.identity_key)?;
        if ours.is_some_and(|ours| ours.dh == published) {
            return Ok(());
        }
        Err(ClientError::KeysInUseElsewhere {
            username: response.user.username.clone(),
            published_fingerprint: Fingerprint::of(&published).grouped(),
            this_store_has_keys: ours.is_some(),
        })
    }

    /// Forgets the login (the keys and history stay in the store) and closes the socket.
    pub async fn logout(&self) -> Result<(), ClientError> {
        if let Some(mut meta) = self.store.account_meta().await? {
            meta.login = None;
            let mut batch = WriteBatch::new();
            batch.push(StoreOp::PutAccountMeta(meta));
            self.store.commit(batch).await?;
        }
        {
            let mut state = self.lock_state();
            state.login = None;
            state.password = None;
        }
        self.shutdown().await;
        Ok(())
    }

    async fn signed_in(
        &self,
        response: AuthResponse,
        password: &str,
    ) -> Result<CurrentUser, ClientError> {
        let user_id = response.user.id.clone();
        match self.store.identity().await? {
            Some(identity) if identity.user_id != user_id => {
                return Err(ClientError::StoreBelongsToAnotherUser {
                    user_id: identity.user_id,
                });
            }
            Some(_) => {}
            None => {
                // Keys published by an earlier device (or install) of this account: start
                // after their signed prekey and the batch of one-time prekeys made with it
                // (the web client's and this SDK's first 100), so peers see new keys under a
                // new id and few stale one-time prekeys share an id with new ones.
                let status = self.api.prekey_status(&response.token).await?;
                let first_id = status.signed_prekey_key_id.map_or(1, |id| {
                    id.saturating_add(1)
                        .saturating_add(crate::account::INITIAL_ONE_TIME_PREKEYS)
                });
                let mut crypto = self.crypto.lock().await;
                create_account_from(
                    &*self.store,
                    &user_id,
                    first_id,
                    self.now(),
                    crypto.device.rng(),
                )
                .await?;
            }
        }
        let login = SavedLogin {
            user_id: user_id.clone(),
            username: response.user.username.clone(),
            expires_at: jwt::expiry_ms(&response.token).unwrap_or(i64::MAX),
            token: response.token,
        };
        self.save_login(login.clone()).await?;
        {
            let mut state = self.lock_state();
            state.login = Some(login);
            state.password = self
                .config
                .remember_password
                .then(|| Zeroizing::new(password.to_string()));
        }
        self.open_engine().await?;
        self.publish_keys(true).await?;
        self.me()
    }

    async fn save_login(&self, login: SavedLogin) -> Result<(), ClientError> {
        let mut meta = self
            .store
            .account_meta()
            .await?
            .unwrap_or_else(AccountMeta::default);
        meta.login = Some(login);
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutAccountMeta(meta));
        self.store.commit(batch).await?;
        Ok(())
    }

    async fn open_engine(&self) -> Result<(), ClientError> {
        let config = self.session_config();
        let mut crypto = self.crypto.lock().await;
        crypto.device.open(Arc::clone(&self.store), config).await?;
        Ok(())
    }

    /// The engine's settings: the session settings with the identity-change policy.
    fn session_config(&self) -> SessionConfig {
        SessionConfig {
            hold_unverified_changes: self.config.identity_changes
                == IdentityChangePolicy::HoldUntilAccepted,
            ..self.config.session
        }
    }

    /// A valid JWT, renewed first when it is about to expire.
    pub(crate) async fn jwt(&self) -> Result<String, ClientError> {
        let (token, expires_at) = {
            let state = self.lock_state();
            let login = state.login.as_ref().ok_or(ClientError::NotLoggedIn)?;
            (login.token.clone(), login.expires_at)
        };
        if expires_at - RENEW_MARGIN_MS > self.now() {
            return Ok(token);
        }
        self.relogin().await
    }

    /// Logs in again with the kept password; without one, reports the expiry.
    pub(crate) async fn relogin(&self) -> Result<String, ClientError> {
        let credentials = {
            let state = self.lock_state();
            state
                .login
                .as_ref()
                .zip(state.password.as_ref())
                .map(|(login, password)| (login.username.clone(), password.clone()))
        };
        let Some((username, password)) = credentials else {
            self.events.emit(Event::SessionExpired);
            return Err(ClientError::SessionExpired);
        };
        let response = match self
            .api
            .login(&LoginRequest {
                username: username.clone(),
                password: password.as_str().into(),
            })
            .await
        {
            Ok(response) => response,
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                self.events.emit(Event::SessionExpired);
                return Err(ClientError::SessionExpired);
            }
            Err(e) => return Err(e.into()),
        };
        let login = SavedLogin {
            user_id: response.user.id.clone(),
            username: response.user.username.clone(),
            expires_at: jwt::expiry_ms(&response.token).unwrap_or(i64::MAX),
            token: response.token.clone(),
        };
        self.save_login(login.clone()).await?;
        self.lock_state().login = Some(login);
        Ok(response.token)
    }

    /// Publishes what the backend lacks of this account's keys. With `recheck`, asks the
    /// backend first and republishes the signed prekey if it holds another.
    async fn publish_keys(&self, recheck: bool) -> Result<(), ClientError> {
        let care = PrekeyCare::new(&*self.store, self.config.prekeys);
        // The writes below read records and write them back. The crypto lock keeps the
        // session engine (which deletes a one-time prekey a first message used) and the
        // rotation out of the gap: a prekey consumed there would otherwise be written back.
        if recheck {
            let status = with_jwt!(self, |jwt| self.api.prekey_status(&jwt))?;
            let _crypto = self.crypto.lock().await;
            let meta = self.store.account_meta().await?.unwrap_or_default();
            if status.signed_prekey_key_id != meta.current_signed_prekey_id
                && let Some(id) = meta.current_signed_prekey_id
                && let Some(mut record) = self.store.signed_prekey(id).await?
                && record.uploaded
            {
                record.uploaded = false;
                let mut batch = WriteBatch::new();
                batch.push(StoreOp::PutSignedPrekey(record));
                self.store.commit(batch).await?;
            }
        }
        while let Some(upload) = care.next_upload().await? {
            with_jwt!(self, |jwt| self.api.upload_prekeys(&jwt, &upload.request))?;
            let _crypto = self.crypto.lock().await;
            care.mark_uploaded(&upload, self.now()).await?;
        }
        Ok(())
    }

    /// What the backend holds of this account's prekeys.
    pub async fn prekey_status(&self) -> Result<PrekeyStatus, ClientError> {
        with_jwt!(self, |jwt| self.api.prekey_status(&jwt))
    }

    /// Prekey upkeep: rotates the signed prekey when due, tops one-time prekeys up when the
    /// backend runs low, and publishes what is new. The connection loop runs it after each
    /// connect and periodically.
    pub async fn maintain_prekeys(&self) -> Result<(), ClientError> {
        self.me()?;
        let care = PrekeyCare::new(&*self.store, self.config.prekeys);
        {
            let mut crypto = self.crypto.lock().await;
            care.rotate_if_due(self.now(), crypto.device.rng()).await?;
        }
        self.publish_keys(false).await?;
        let status = with_jwt!(self, |jwt| self.api.prekey_status(&jwt))?;
        let made = {
            let mut crypto = self.crypto.lock().await;
            care.top_up(status.one_time_prekey_count, crypto.device.rng())
                .await?
        };
        if made > 0 {
            self.publish_keys(false).await?;
        }
        Ok(())
    }

    /// Throws away this device's keys and sessions and publishes a new identity (history
    /// stays). Peers will see an identity change. The prekey id counter carries on, as the
    /// web client's reset does: the new signed prekey has a new id, which is how web peers
    /// notice the reset (PROTOCOL §8).
    pub async fn reset_e2ee(&self) -> Result<(), ClientError> {
        self.me()?;
        {
            let mut crypto = self.crypto.lock().await;
            crypto.device.close();
            reset_account(&*self.store, self.now(), crypto.device.rng()).await?;
        }
        self.open_engine().await?;
        self.publish_keys(false).await
    }
}
