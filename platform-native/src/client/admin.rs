//! Administration of users (admins only).

use quickchat_core::client::ClientError;
use quickchat_core::protocol::rest::{AdminUser, Success};

use super::Client;

impl Client {
    /// Every user with role, flags and timestamps.
    pub async fn admin_users(&self) -> Result<Vec<AdminUser>, ClientError> {
        self.core().admin_users().await
    }

    /// Enables or disables a user.
    pub async fn set_user_active(
        &self,
        user_id: &str,
        active: bool,
    ) -> Result<Success, ClientError> {
        self.core().set_user_active(user_id, active).await
    }

    /// Allows or forbids a user to send images.
    pub async fn set_image_permission(
        &self,
        user_id: &str,
        allowed: bool,
    ) -> Result<Success, ClientError> {
        self.core().set_image_permission(user_id, allowed).await
    }

    /// Sets a user's role (`user` or `admin`).
    pub async fn set_user_role(&self, user_id: &str, role: &str) -> Result<Success, ClientError> {
        self.core().set_user_role(user_id, role).await
    }
}
