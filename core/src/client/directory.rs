//! Users and presence.

use rand_core::CryptoRng;

use super::{Client, ClientError};
use crate::platform::MaybeSend;
use crate::protocol::rest::UserSummary;
use crate::store::Store;
use crate::transport::{Clock, Transport};

/// A user the backend says is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnlineUser {
    /// User id.
    pub user_id: String,
    /// User name.
    pub username: String,
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Every user (fetched now; also refreshes the cache [`Client::find_user`] uses).
    pub async fn users(&self) -> Result<Vec<UserSummary>, ClientError> {
        let users = self.api.users().await?;
        self.lock_state().users = users.clone();
        Ok(users)
    }

    /// The user with this exact name, or with this id.
    pub async fn find_user(&self, name_or_id: &str) -> Result<UserSummary, ClientError> {
        let lookup = |users: &[UserSummary]| {
            users
                .iter()
                .find(|u| u.username == name_or_id || u.id == name_or_id)
                .cloned()
        };
        if let Some(user) = lookup(&self.lock_state().users) {
            return Ok(user);
        }
        let users = self.users().await?;
        lookup(&users).ok_or_else(|| ClientError::UnknownUser {
            name: name_or_id.to_string(),
        })
    }

    /// Who is online, as the backend last told (empty while disconnected).
    pub fn online_users(&self) -> Vec<OnlineUser> {
        let state = self.lock_state();
        if !state.connected {
            return Vec::new();
        }
        state
            .online
            .iter()
            .map(|(user_id, username)| OnlineUser {
                user_id: user_id.clone(),
                username: username.clone(),
            })
            .collect()
    }

    /// Whether a user is online.
    pub fn is_online(&self, user_id: &str) -> bool {
        let state = self.lock_state();
        state.connected && state.online.contains_key(user_id)
    }
}
