//! Users and presence.

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use super::{Client, ClientError, Event};
use crate::names::{NameIssue, check_username};
use crate::platform::MaybeSend;
use crate::protocol::rest::UserSummary;
use crate::store::{Store, StoreOp, WriteBatch};
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

    /// The user with this exact name, or with this id: from the last user list, else from
    /// the server, else (when the server cannot be reached) from the contacts saved in the
    /// store. A user whose name is suspicious ([`Client::check_name`]) is reported with
    /// [`Event::SuspiciousName`].
    pub async fn find_user(&self, name_or_id: &str) -> Result<UserSummary, ClientError> {
        let cached = find(&self.lock_state().users, name_or_id);
        let user = match cached {
            Some(user) => user,
            None => match self.users().await {
                Ok(users) => find(&users, name_or_id).ok_or_else(|| ClientError::UnknownUser {
                    name: name_or_id.to_string(),
                })?,
                Err(e) if e.is_unreachable() => match self.find_contact(name_or_id).await? {
                    Some(user) => user,
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            },
        };
        self.report_suspicious(&user).await?;
        Ok(user)
    }

    /// The user with this exact name or id among those known without asking the server
    /// (the last user list, then the contacts saved in the store); `None` if neither has
    /// it. Reports a suspicious name as [`Client::find_user`] does.
    pub async fn find_known_user(
        &self,
        name_or_id: &str,
    ) -> Result<Option<UserSummary>, ClientError> {
        let cached = find(&self.lock_state().users, name_or_id);
        let user = match cached {
            Some(user) => Some(user),
            None => self.find_contact(name_or_id).await?,
        };
        if let Some(user) = &user {
            self.report_suspicious(user).await?;
        }
        Ok(user)
    }

    /// The users this store has dealt with, user id → user name, as saved by
    /// [`Client::remember_contact`].
    pub async fn contacts(&self) -> Result<BTreeMap<String, String>, ClientError> {
        Ok(self
            .store
            .account_meta()
            .await?
            .map(|meta| meta.contacts)
            .unwrap_or_default())
    }

    /// Saves `user` as a contact in the store: found by [`Client::find_known_user`] without
    /// the server from then on, and compared with when other names are checked. Does
    /// nothing before the account has keys (nothing to save them with).
    pub async fn remember_contact(&self, user: &UserSummary) -> Result<(), ClientError> {
        // Prekey upkeep rewrites the same record while holding the crypto lock: an
        // interleaved read-modify-write could otherwise set its prekey counter back.
        let _crypto = self.crypto.lock().await;
        let Some(mut meta) = self.store.account_meta().await? else {
            return Ok(());
        };
        if meta.contacts.get(&user.id) == Some(&user.username) {
            return Ok(());
        }
        meta.contacts.insert(user.id.clone(), user.username.clone());
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutAccountMeta(meta));
        self.store.commit(batch).await?;
        Ok(())
    }

    /// What is suspicious about `user`'s name (see [`crate::names`]), compared with the
    /// names of the other contacts saved in the store; empty when nothing is.
    pub async fn check_name(&self, user: &UserSummary) -> Result<Vec<NameIssue>, ClientError> {
        let contacts = self.contacts().await?;
        Ok(check_username(
            &user.username,
            contacts
                .iter()
                .filter(|(id, _)| **id != user.id)
                .map(|(_, name)| name.as_str()),
        ))
    }

    async fn find_contact(&self, name_or_id: &str) -> Result<Option<UserSummary>, ClientError> {
        let contacts = self.contacts().await?;
        let found = contacts
            .iter()
            .find(|(id, name)| *id == name_or_id || *name == name_or_id);
        Ok(found.map(|(id, name)| UserSummary {
            id: id.clone(),
            username: name.clone(),
            avatar: None,
            last_seen: None,
        }))
    }

    async fn report_suspicious(&self, user: &UserSummary) -> Result<(), ClientError> {
        let issues = self.check_name(user).await?;
        if !issues.is_empty() {
            self.events.emit(Event::SuspiciousName {
                user_id: user.id.clone(),
                username: user.username.clone(),
                issues,
            });
        }
        Ok(())
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

fn find(users: &[UserSummary], name_or_id: &str) -> Option<UserSummary> {
    users
        .iter()
        .find(|u| u.username == name_or_id || u.id == name_or_id)
        .cloned()
}
