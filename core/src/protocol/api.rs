//! A typed client for every REST endpoint, sending the authentication each one expects.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::IntFlag;
use super::rest::*;
use crate::transport::{HttpRequest, Method, Transport, TransportError};

/// Characters left as they are in a path segment or query value.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn seg(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// A failed REST call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request did not get an answer.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The backend answered with an error status.
    #[error("{method} {path} failed with {status}: {message}")]
    Status {
        /// Method.
        method: &'static str,
        /// Path template (ids elided).
        path: &'static str,
        /// HTTP status.
        status: u16,
        /// The backend's `error` text, or the body.
        message: String,
    },
    /// The answer was not what the endpoint returns.
    #[error("{method} {path}: unexpected answer: {detail}")]
    Decode {
        /// Method.
        method: &'static str,
        /// Path template.
        path: &'static str,
        /// The parser's explanation.
        detail: String,
    },
}

impl ApiError {
    /// The HTTP status, for an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The backend's error message, for an error answer.
    pub fn message(&self) -> Option<&str> {
        match self {
            ApiError::Status { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// The REST API of one server over a [`Transport`].
#[derive(Debug, Clone)]
pub struct Api<T> {
    transport: T,
}

/// What an endpoint is called, for errors.
struct Endpoint {
    method: Method,
    template: &'static str,
}

impl Endpoint {
    fn decode_error(&self, error: serde_json::Error) -> ApiError {
        ApiError::Decode {
            method: self.method.as_str(),
            path: self.template,
            detail: error.to_string(),
        }
    }
}

const fn ep(method: Method, template: &'static str) -> Endpoint {
    Endpoint { method, template }
}

impl<T: Transport> Api<T> {
    /// An API client over `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    async fn call<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: String,
        bearer: Option<&str>,
        body: Option<&B>,
    ) -> Result<R, ApiError> {
        let body = body
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| endpoint.decode_error(e))?;
        let text = self.exchange(&endpoint, path, bearer, body).await?;
        serde_json::from_str(&text).map_err(|e| endpoint.decode_error(e))
    }

    /// The part of [`Api::call`] that does not depend on the body's and the answer's types:
    /// one copy of it, rather than one per endpoint (a smaller WebAssembly client).
    async fn exchange(
        &self,
        endpoint: &Endpoint,
        path: String,
        bearer: Option<&str>,
        body: Option<String>,
    ) -> Result<String, ApiError> {
        let response = self
            .transport
            .request(HttpRequest {
                method: endpoint.method,
                path,
                bearer: bearer.map(str::to_string),
                body,
                max_response_bytes: super::limits::max_response(endpoint.template),
            })
            .await?;
        if !(200..300).contains(&response.status) {
            let message = serde_json::from_str::<ErrorBody>(&response.body)
                .map(|e| e.error)
                .unwrap_or(response.body);
            return Err(ApiError::Status {
                method: endpoint.method.as_str(),
                path: endpoint.template,
                status: response.status,
                message,
            });
        }
        Ok(response.body)
    }

    /// `POST /api/auth/register`.
    pub async fn register(&self, request: &RegisterRequest) -> Result<AuthResponse, ApiError> {
        let e = ep(Method::Post, "/api/auth/register");
        self.call(e, "/api/auth/register".into(), None, Some(request))
            .await
    }

    /// `POST /api/auth/login`.
    pub async fn login(&self, request: &LoginRequest) -> Result<AuthResponse, ApiError> {
        let e = ep(Method::Post, "/api/auth/login");
        self.call(e, "/api/auth/login".into(), None, Some(request))
            .await
    }

    /// `GET /api/users`.
    pub async fn users(&self) -> Result<Vec<UserSummary>, ApiError> {
        let e = ep(Method::Get, "/api/users");
        self.call::<(), _>(e, "/api/users".into(), None, None).await
    }

    /// `POST /api/users/prekeys` with the JWT.
    pub async fn upload_prekeys(
        &self,
        jwt: &str,
        request: &UploadPrekeysRequest,
    ) -> Result<UploadPrekeysResponse, ApiError> {
        let e = ep(Method::Post, "/api/users/prekeys");
        self.call(e, "/api/users/prekeys".into(), Some(jwt), Some(request))
            .await
    }

    /// `GET /api/users/prekeys/status` with the JWT.
    pub async fn prekey_status(&self, jwt: &str) -> Result<PrekeyStatus, ApiError> {
        let e = ep(Method::Get, "/api/users/prekeys/status");
        self.call::<(), _>(e, "/api/users/prekeys/status".into(), Some(jwt), None)
            .await
    }

    /// `GET /api/users/{id}/prekeys` with the JWT. Uses up one of the peer's one-time
    /// prekeys on the backend: call it only to start a session.
    pub async fn fetch_bundle(&self, jwt: &str, user_id: &str) -> Result<BundleResponse, ApiError> {
        let e = ep(Method::Get, "/api/users/{id}/prekeys");
        let path = format!("/api/users/{}/prekeys", seg(user_id));
        self.call::<(), _>(e, path, Some(jwt), None).await
    }

    /// `POST /api/verify-key` with the JWT.
    pub async fn verify_key(
        &self,
        jwt: &str,
        request: &VerifyKeyRequest,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Post, "/api/verify-key");
        self.call(e, "/api/verify-key".into(), Some(jwt), Some(request))
            .await
    }

    /// `GET /api/verify-key/{id}` with the JWT.
    pub async fn verification(
        &self,
        jwt: &str,
        user_id: &str,
    ) -> Result<VerificationStatus, ApiError> {
        let e = ep(Method::Get, "/api/verify-key/{id}");
        let path = format!("/api/verify-key/{}", seg(user_id));
        self.call::<(), _>(e, path, Some(jwt), None).await
    }

    /// `DELETE /api/verify-key/{id}` with the JWT.
    pub async fn unverify_key(&self, jwt: &str, user_id: &str) -> Result<Success, ApiError> {
        let e = ep(Method::Delete, "/api/verify-key/{id}");
        let path = format!("/api/verify-key/{}", seg(user_id));
        self.call::<(), _>(e, path, Some(jwt), None).await
    }

    /// `GET /api/messages/{peer}?user={me}`: every 1:1 message between the two, oldest
    /// first (no authentication: the backend trusts the query).
    pub async fn history(&self, peer_id: &str, me: &str) -> Result<Vec<StoredMessage>, ApiError> {
        let e = ep(Method::Get, "/api/messages/{peer}?user={me}");
        let path = format!("/api/messages/{}?user={}", seg(peer_id), seg(me));
        self.call::<(), _>(e, path, None, None).await
    }

    /// `POST /api/messages`.
    pub async fn post_message(
        &self,
        request: &PostMessageRequest,
    ) -> Result<serde_json::Value, ApiError> {
        let e = ep(Method::Post, "/api/messages");
        self.call(e, "/api/messages".into(), None, Some(request))
            .await
    }

    /// `PUT /api/messages/status` (1 to 100 ids).
    pub async fn update_status(
        &self,
        request: &StatusBatchRequest,
    ) -> Result<StatusBatchResponse, ApiError> {
        let e = ep(Method::Put, "/api/messages/status");
        self.call(e, "/api/messages/status".into(), None, Some(request))
            .await
    }

    /// `POST /api/groups` as `user_id`.
    pub async fn create_group(
        &self,
        user_id: &str,
        request: &CreateGroupRequest,
    ) -> Result<CreatedGroup, ApiError> {
        let e = ep(Method::Post, "/api/groups");
        self.call(e, "/api/groups".into(), Some(user_id), Some(request))
            .await
    }

    /// `GET /api/groups` as `user_id`.
    pub async fn groups(&self, user_id: &str) -> Result<Vec<GroupInfo>, ApiError> {
        let e = ep(Method::Get, "/api/groups");
        self.call::<(), _>(e, "/api/groups".into(), Some(user_id), None)
            .await
    }

    /// `GET /api/groups/{id}` as `user_id`.
    pub async fn group(&self, user_id: &str, group_id: &str) -> Result<GroupInfo, ApiError> {
        let e = ep(Method::Get, "/api/groups/{id}");
        let path = format!("/api/groups/{}", seg(group_id));
        self.call::<(), _>(e, path, Some(user_id), None).await
    }

    /// `PUT /api/groups/{id}` as `user_id`.
    pub async fn update_group(
        &self,
        user_id: &str,
        group_id: &str,
        request: &UpdateGroupRequest,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Put, "/api/groups/{id}");
        let path = format!("/api/groups/{}", seg(group_id));
        self.call(e, path, Some(user_id), Some(request)).await
    }

    /// `GET /api/groups/{id}/members` as `user_id`.
    pub async fn group_members(
        &self,
        user_id: &str,
        group_id: &str,
    ) -> Result<Vec<GroupMember>, ApiError> {
        let e = ep(Method::Get, "/api/groups/{id}/members");
        let path = format!("/api/groups/{}/members", seg(group_id));
        self.call::<(), _>(e, path, Some(user_id), None).await
    }

    /// `POST /api/groups/{id}/members` as `user_id` (admin or owner).
    pub async fn add_group_members(
        &self,
        user_id: &str,
        group_id: &str,
        request: &AddMembersRequest,
    ) -> Result<AddMembersResponse, ApiError> {
        let e = ep(Method::Post, "/api/groups/{id}/members");
        let path = format!("/api/groups/{}/members", seg(group_id));
        self.call(e, path, Some(user_id), Some(request)).await
    }

    /// `DELETE /api/groups/{id}/members/{uid}` as `user_id` (admin or owner).
    pub async fn remove_group_member(
        &self,
        user_id: &str,
        group_id: &str,
        member_id: &str,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Delete, "/api/groups/{id}/members/{uid}");
        let path = format!("/api/groups/{}/members/{}", seg(group_id), seg(member_id));
        self.call::<(), _>(e, path, Some(user_id), None).await
    }

    /// `POST /api/groups/{id}/leave` as `user_id`.
    pub async fn leave_group(&self, user_id: &str, group_id: &str) -> Result<Success, ApiError> {
        let e = ep(Method::Post, "/api/groups/{id}/leave");
        let path = format!("/api/groups/{}/leave", seg(group_id));
        self.call::<(), _>(e, path, Some(user_id), None).await
    }

    /// `PUT /api/groups/{id}/members/{uid}/role` as `user_id` (owner).
    pub async fn set_group_role(
        &self,
        user_id: &str,
        group_id: &str,
        member_id: &str,
        role: &str,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Put, "/api/groups/{id}/members/{uid}/role");
        let path = format!(
            "/api/groups/{}/members/{}/role",
            seg(group_id),
            seg(member_id)
        );
        let body = RoleRequest { role: role.into() };
        self.call(e, path, Some(user_id), Some(&body)).await
    }

    /// `GET /api/groups/{id}/messages?limit=&before=` as `user_id` (member).
    pub async fn group_messages(
        &self,
        user_id: &str,
        group_id: &str,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<Vec<GroupMessage>, ApiError> {
        let e = ep(Method::Get, "/api/groups/{id}/messages");
        let mut path = format!("/api/groups/{}/messages", seg(group_id));
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(before) = before {
            query.push(format!("before={before}"));
        }
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        self.call::<(), _>(e, path, Some(user_id), None).await
    }

    /// `POST /api/groups/{id}/invite` as `user_id` (admin or owner).
    pub async fn create_invite(
        &self,
        user_id: &str,
        group_id: &str,
        request: &InviteRequest,
    ) -> Result<Invite, ApiError> {
        let e = ep(Method::Post, "/api/groups/{id}/invite");
        let path = format!("/api/groups/{}/invite", seg(group_id));
        self.call(e, path, Some(user_id), Some(request)).await
    }

    /// `POST /api/groups/join` as `user_id`.
    pub async fn join_group(
        &self,
        user_id: &str,
        link_code: &str,
    ) -> Result<JoinResponse, ApiError> {
        let e = ep(Method::Post, "/api/groups/join");
        let body = JoinRequest {
            link_code: link_code.into(),
        };
        self.call(e, "/api/groups/join".into(), Some(user_id), Some(&body))
            .await
    }

    /// `DELETE /api/groups/{id}/invite/{linkId}` as `user_id` (admin or owner).
    pub async fn revoke_invite(
        &self,
        user_id: &str,
        group_id: &str,
        invite_id: &str,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Delete, "/api/groups/{id}/invite/{linkId}");
        let path = format!("/api/groups/{}/invite/{}", seg(group_id), seg(invite_id));
        self.call::<(), _>(e, path, Some(user_id), None).await
    }

    /// `GET /api/admin/users` as `admin_id`.
    pub async fn admin_users(&self, admin_id: &str) -> Result<Vec<AdminUser>, ApiError> {
        let e = ep(Method::Get, "/api/admin/users");
        self.call::<(), _>(e, "/api/admin/users".into(), Some(admin_id), None)
            .await
    }

    /// `PUT /api/admin/users/{id}/status` as `admin_id`.
    pub async fn set_user_active(
        &self,
        admin_id: &str,
        user_id: &str,
        active: bool,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Put, "/api/admin/users/{id}/status");
        let path = format!("/api/admin/users/{}/status", seg(user_id));
        let body = UserStatusRequest {
            is_active: IntFlag(active),
            disabled_by: (!active).then(|| admin_id.to_string()),
        };
        self.call(e, path, Some(admin_id), Some(&body)).await
    }

    /// `PUT /api/admin/users/{id}/permissions` as `admin_id`.
    pub async fn set_image_permission(
        &self,
        admin_id: &str,
        user_id: &str,
        allowed: bool,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Put, "/api/admin/users/{id}/permissions");
        let path = format!("/api/admin/users/{}/permissions", seg(user_id));
        let body = UserPermissionsRequest {
            can_send_images: IntFlag(allowed),
        };
        self.call(e, path, Some(admin_id), Some(&body)).await
    }

    /// `PUT /api/admin/users/{id}/role` as `admin_id`.
    pub async fn set_user_role(
        &self,
        admin_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<Success, ApiError> {
        let e = ep(Method::Put, "/api/admin/users/{id}/role");
        let path = format!("/api/admin/users/{}/role", seg(user_id));
        let body = RoleRequest { role: role.into() };
        self.call(e, path, Some(admin_id), Some(&body)).await
    }
}
