//! Users: the directory, presence, contacts saved in the store, suspicious names.

use std::collections::BTreeMap;

use quickchat_core::client::{ClientError, OnlineUser};
use quickchat_core::names::NameIssue;
use quickchat_core::protocol::rest::UserSummary;

use super::Client;

impl Client {
    /// Every user (fetched now; also refreshes the cache [`Client::find_user`] uses).
    pub async fn users(&self) -> Result<Vec<UserSummary>, ClientError> {
        self.core().users().await
    }

    /// The user with this exact name, or with this id: from the last user list, else from
    /// the server, else (when the server cannot be reached) from the contacts saved in the
    /// store. A user whose name is suspicious ([`Client::check_name`]) is reported with
    /// [`Event::SuspiciousName`](crate::Event::SuspiciousName).
    pub async fn find_user(&self, name_or_id: &str) -> Result<UserSummary, ClientError> {
        self.core().find_user(name_or_id).await
    }

    /// The user with this exact name or id among those known without asking the server
    /// (the last user list, then the contacts saved in the store); `None` if neither has
    /// it. Reports a suspicious name as [`Client::find_user`] does.
    pub async fn find_known_user(
        &self,
        name_or_id: &str,
    ) -> Result<Option<UserSummary>, ClientError> {
        self.core().find_known_user(name_or_id).await
    }

    /// The users this store has dealt with, user id → user name, as saved by
    /// [`Client::remember_contact`].
    pub async fn contacts(&self) -> Result<BTreeMap<String, String>, ClientError> {
        self.core().contacts().await
    }

    /// Saves `user` as a contact in the store: found by [`Client::find_known_user`] without
    /// the server from then on, and compared with when other names are checked. Does
    /// nothing before the account has keys (nothing to save them with).
    pub async fn remember_contact(&self, user: &UserSummary) -> Result<(), ClientError> {
        self.core().remember_contact(user).await
    }

    /// What is suspicious about `user`'s name (see [`quickchat_core::names`]), compared with the
    /// names of the other contacts saved in the store; empty when nothing is.
    pub async fn check_name(&self, user: &UserSummary) -> Result<Vec<NameIssue>, ClientError> {
        self.core().check_name(user).await
    }

    /// Who is online, as the backend last told (empty while disconnected).
    pub fn online_users(&self) -> Vec<OnlineUser> {
        self.core().online_users()
    }

    /// Whether a user is online.
    pub fn is_online(&self, user_id: &str) -> bool {
        self.core().is_online(user_id)
    }
}
