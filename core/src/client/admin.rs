//! Administration, for users with the `admin` role (the backend checks the raw user id).

use rand_core::CryptoRng;

use super::{Client, ClientError};
use crate::platform::MaybeSend;
use crate::protocol::rest::{AdminUser, Success};
use crate::store::Store;
use crate::transport::{Clock, Transport};

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Every user with role, flags and timestamps.
    pub async fn admin_users(&self) -> Result<Vec<AdminUser>, ClientError> {
        Ok(self.api.admin_users(&self.me()?.user_id).await?)
    }

    /// Enables or disables a user.
    pub async fn set_user_active(
        &self,
        user_id: &str,
        active: bool,
    ) -> Result<Success, ClientError> {
        Ok(self
            .api
            .set_user_active(&self.me()?.user_id, user_id, active)
            .await?)
    }

    /// Allows or forbids a user to send images.
    pub async fn set_image_permission(
        &self,
        user_id: &str,
        allowed: bool,
    ) -> Result<Success, ClientError> {
        Ok(self
            .api
            .set_image_permission(&self.me()?.user_id, user_id, allowed)
            .await?)
    }

    /// Sets a user's role (`user` or `admin`).
    pub async fn set_user_role(&self, user_id: &str, role: &str) -> Result<Success, ClientError> {
        if role != "user" && role != "admin" {
            return Err(ClientError::InvalidInput {
                what: "role",
                why: format!(
                    "{} is not \"user\" or \"admin\"",
                    crate::quoted::Quoted(role)
                ),
            });
        }
        Ok(self
            .api
            .set_user_role(&self.me()?.user_id, user_id, role)
            .await?)
    }
}
