//! The account: register, log in and out, prekeys, resetting this device's keys.

use quickchat_core::client::{ClientError, CurrentUser};
use quickchat_core::protocol::rest::PrekeyStatus;

use super::Client;

impl Client {
    /// Picks up the login saved in the store by an earlier run, if any, and opens the
    /// account's keys. Returns the user, or `None` when nobody is logged in.
    pub async fn restore(&self) -> Result<Option<CurrentUser>, ClientError> {
        self.core().restore().await
    }

    /// Creates an account on the backend, makes this device's keys and publishes them.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        avatar: Option<&str>,
    ) -> Result<CurrentUser, ClientError> {
        self.core().register(username, password, avatar).await
    }

    /// Logs in, makes this device's keys if the store has none, and makes sure the backend
    /// publishes them. Refuses with [`ClientError::KeysInUseElsewhere`] (and changes
    /// nothing) when the backend publishes another identity for this account — the account
    /// is in use on another device, or this store is not the one it was used with: taking
    /// over would break that device's encryption. [`Client::login_replacing_keys`] takes
    /// over anyway.
    pub async fn login(&self, username: &str, password: &str) -> Result<CurrentUser, ClientError> {
        self.core().login(username, password).await
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
        self.core().login_replacing_keys(username, password).await
    }

    /// Logs out: forgets the login (the keys and history stay in the store), closes the
    /// socket and waits until the background connection task has stopped.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.core().logout().await?;
        self.close().await;
        Ok(())
    }

    /// What the backend holds of this account's prekeys.
    pub async fn prekey_status(&self) -> Result<PrekeyStatus, ClientError> {
        self.core().prekey_status().await
    }

    /// Prekey upkeep: rotates the signed prekey when due, tops one-time prekeys up when the
    /// backend runs low, and publishes what is new. The connection loop runs it after each
    /// connect and periodically.
    pub async fn maintain_prekeys(&self) -> Result<(), ClientError> {
        self.core().maintain_prekeys().await
    }

    /// Throws away this device's keys and sessions and publishes a new identity (history
    /// stays). Peers will see an identity change. The prekey id counter carries on, as the
    /// web client's reset does: the new signed prekey has a new id, which is how web peers
    /// notice the reset (PROTOCOL §8).
    pub async fn reset_e2ee(&self) -> Result<(), ClientError> {
        self.core().reset_e2ee().await
    }
}
