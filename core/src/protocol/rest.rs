//! REST request and response bodies (PROTOCOL §6). Field names are the backend's.

use serde::{Deserialize, Serialize};

use super::{IntFlag, Password};
use crate::encoding::{EncodingError, b64_decode_array, b64_encode};
use crate::keys::{
    IdentityPublic, OneTimePrekeyPublic, PublicKey, SignedPrekeyPublic, SigningPublicKey,
};
use crate::x3dh::PrekeyBundle;

/// `{"error": "..."}`, the body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The backend's message.
    pub error: String,
}

/// `{"success": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    /// Always true on a 2xx answer.
    pub success: bool,
}

/// `POST /auth/register`. `Debug` shows the password as `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// At least 3 characters.
    pub username: String,
    /// At least 6 characters; wiped from memory when the request is dropped.
    pub password: Password,
    /// Optional avatar (an emoji in the web client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// `POST /auth/login`. `Debug` shows the password as `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// User name.
    pub username: String,
    /// Password; wiped from memory when the request is dropped.
    pub password: Password,
}

/// A user as register and login return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUser {
    /// User id.
    pub id: String,
    /// User name.
    pub username: String,
    /// Avatar, if any.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Last time seen, ms.
    #[serde(default)]
    pub last_seen: Option<i64>,
    /// `user` or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    /// Whether the account is enabled.
    #[serde(default, rename = "is_active")]
    pub is_active: Option<IntFlag>,
    /// Whether the user may send images.
    #[serde(default, rename = "can_send_images")]
    pub can_send_images: Option<IntFlag>,
    /// Creation time, ms.
    #[serde(default, rename = "created_at")]
    pub created_at: Option<i64>,
}

/// Register and login answer: the user and a JWT valid 24 h. `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResponse {
    /// The user.
    #[serde(flatten)]
    pub user: AccountUser,
    /// The JWT for `Authorization: Bearer`.
    pub token: String,
}

impl std::fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a bearer credential for 24 h.
        f.debug_struct("AuthResponse")
            .field("user", &self.user)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// An entry of `GET /users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    /// User id.
    pub id: String,
    /// User name.
    pub username: String,
    /// Avatar, if any.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Last time seen, ms.
    #[serde(default)]
    pub last_seen: Option<i64>,
}

/// A signed prekey as uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedPrekeyUpload {
    /// Prekey id.
    pub key_id: u32,
    /// Base64 X25519 public key.
    pub public_key: String,
    /// Base64 Ed25519 signature over the public key.
    pub signature: String,
}

impl From<&SignedPrekeyPublic> for SignedPrekeyUpload {
    fn from(value: &SignedPrekeyPublic) -> Self {
        Self {
            key_id: value.id,
            public_key: value.public.to_base64(),
            signature: b64_encode(&value.signature),
        }
    }
}

/// A one-time prekey as uploaded and as found in bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneTimePrekeyJson {
    /// Prekey id.
    pub key_id: u32,
    /// Base64 X25519 public key.
    pub public_key: String,
}

impl From<&OneTimePrekeyPublic> for OneTimePrekeyJson {
    fn from(value: &OneTimePrekeyPublic) -> Self {
        Self {
            key_id: value.id,
            public_key: value.public.to_base64(),
        }
    }
}

/// `POST /users/prekeys` (JWT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadPrekeysRequest {
    /// Base64 X25519 identity key.
    pub identity_key: String,
    /// Base64 Ed25519 signing key.
    pub signing_key: String,
    /// 60-character fingerprint.
    pub fingerprint: String,
    /// The signed prekey, or null to keep the current one.
    pub signed_prekey: Option<SignedPrekeyUpload>,
    /// One-time prekeys to add (the backend refuses more than 200).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_prekeys: Option<Vec<OneTimePrekeyJson>>,
}

/// Answer to `POST /users/prekeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadPrekeysResponse {
    /// True on success.
    pub success: bool,
    /// Whether a signed prekey was stored.
    pub signed_prekey_uploaded: bool,
    /// How many one-time prekeys were stored.
    pub one_time_prekeys_uploaded: u32,
}

/// `GET /users/prekeys/status` (JWT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrekeyStatus {
    /// Current signed prekey id, if any.
    #[serde(default)]
    pub signed_prekey_key_id: Option<u32>,
    /// When it was uploaded, ms.
    #[serde(default)]
    pub signed_prekey_created_at: Option<i64>,
    /// Unused one-time prekeys left on the backend.
    #[serde(default)]
    pub one_time_prekey_count: u32,
}

/// The signed prekey of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSignedPrekey {
    /// Prekey id.
    pub key_id: u32,
    /// Base64 X25519 public key.
    pub public_key: String,
    /// Base64 signature.
    pub signature: String,
    /// Upload time, ms.
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// `GET /users/{id}/prekeys` (JWT): a peer's bundle. Fetching it uses up the one-time
/// prekey it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleResponse {
    /// Base64 X25519 identity key.
    pub identity_key: String,
    /// Base64 Ed25519 signing key.
    pub signing_key: String,
    /// The fingerprint the peer published.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The signed prekey, if any.
    #[serde(default)]
    pub signed_prekey: Option<BundleSignedPrekey>,
    /// A one-time prekey, if any were left.
    #[serde(default)]
    pub one_time_prekey: Option<OneTimePrekeyJson>,
}

impl BundleResponse {
    /// Decodes the keys of the bundle (signatures are checked by X3DH, not here).
    pub fn to_bundle(&self) -> Result<PrekeyBundle, EncodingError> {
        let signed_prekey = self
            .signed_prekey
            .as_ref()
            .map(|spk| -> Result<_, EncodingError> {
                Ok(SignedPrekeyPublic {
                    id: spk.key_id,
                    public: PublicKey::from_base64("signedPrekey.publicKey", &spk.public_key)?,
                    signature: b64_decode_array::<64>("signedPrekey.signature", &spk.signature)?,
                })
            })
            .transpose()?;
        let one_time_prekey = self
            .one_time_prekey
            .as_ref()
            .map(|otk| -> Result<_, EncodingError> {
                Ok(OneTimePrekeyPublic {
                    id: otk.key_id,
                    public: PublicKey::from_base64("oneTimePrekey.publicKey", &otk.public_key)?,
                })
            })
            .transpose()?;
        Ok(PrekeyBundle {
            identity: IdentityPublic {
                dh: PublicKey::from_base64("identityKey", &self.identity_key)?,
                signing: SigningPublicKey::from_base64("signingKey", &self.signing_key)?,
            },
            signed_prekey,
            one_time_prekey,
        })
    }
}

/// `POST /verify-key` (JWT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyRequest {
    /// The peer verified.
    pub verified_user_id: String,
    /// The fingerprint compared.
    pub verified_fingerprint: String,
    /// How (`qr_code`, `manual`, …); the backend stores `manual` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<String>,
}

/// `GET /verify-key/{id}` (JWT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationStatus {
    /// Whether the caller verified that peer.
    pub verified: bool,
    /// The fingerprint verified.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// When, ms.
    #[serde(default)]
    pub verified_at: Option<i64>,
    /// How.
    #[serde(default)]
    pub method: Option<String>,
}

/// A stored 1:1 message, as `GET /messages/{peer}?user=` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
    /// Message id.
    pub id: String,
    /// Sender id.
    pub from_user: String,
    /// Recipient id.
    pub to_user: String,
    /// Text, an encrypted envelope, or an image caption.
    pub content: String,
    /// Server time, ms.
    pub timestamp: i64,
    /// `sent`, `delivered` or `read`.
    pub status: String,
    /// When it was read, ms.
    #[serde(default)]
    pub read_at: Option<i64>,
    /// `text` or `image`.
    #[serde(rename = "type", default = "default_text_type")]
    pub message_type: String,
    /// Data URL of an image.
    #[serde(default)]
    pub image_data: Option<String>,
    /// Whether the backend flagged the content as encrypted.
    #[serde(default)]
    pub encrypted: IntFlag,
}

fn default_text_type() -> String {
    "text".to_string()
}

/// `POST /messages` (no auth): store a message without the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostMessageRequest {
    /// Message id.
    pub id: String,
    /// Sender id.
    pub from_user: String,
    /// Recipient id.
    pub to_user: String,
    /// Content.
    pub content: String,
    /// Time, ms.
    pub timestamp: i64,
    /// Status.
    pub status: String,
}

/// `PUT /messages/status` (no auth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusBatchRequest {
    /// 1 to 100 ids.
    pub message_ids: Vec<String>,
    /// New status.
    pub status: String,
}

/// Answer to `PUT /messages/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBatchResponse {
    /// True on success.
    pub success: bool,
    /// Rows changed.
    pub updated: u32,
}

/// Group settings (defaults in [`GroupSettings::default`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSettings {
    /// `everyone` or `admins_only`.
    pub message_permission: String,
    /// `everyone` or `admins_only`.
    pub metadata_permission: String,
    /// Whether joining needs approval.
    pub join_approval: bool,
    /// Member limit.
    pub max_members: u32,
}

impl Default for GroupSettings {
    fn default() -> Self {
        Self {
            message_permission: "everyone".into(),
            metadata_permission: "admins_only".into(),
            join_approval: false,
            max_members: 1024,
        }
    }
}

/// `POST /groups` (raw user id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupRequest {
    /// Name (not blank).
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Avatar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Initial members besides the creator.
    pub member_ids: Vec<String>,
    /// Settings; the backend's defaults when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<GroupSettings>,
}

/// Answer to `POST /groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedGroup {
    /// Group id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner's user id.
    pub owner_id: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Settings.
    pub settings: GroupSettings,
}

/// An entry of `GET /groups` and the body of `GET /groups/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Group id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Avatar.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Owner's user id.
    pub owner_id: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// Settings.
    pub settings: GroupSettings,
    /// The caller's role (`GET /groups`).
    #[serde(default)]
    pub role: Option<String>,
    /// When the caller joined (`GET /groups`).
    #[serde(default)]
    pub joined_at: Option<i64>,
    /// The caller's role (`GET /groups/{id}`).
    #[serde(default, rename = "userRole")]
    pub user_role: Option<String>,
}

/// `PUT /groups/{id}` (raw user id).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpdateGroupRequest {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New avatar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// New settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<GroupSettings>,
}

/// An entry of `GET /groups/{id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// Group id.
    pub group_id: String,
    /// Member's user id.
    pub user_id: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
    /// When they joined, ms.
    pub joined_at: i64,
    /// Who added them.
    #[serde(default)]
    pub added_by: Option<String>,
    /// Their user name.
    pub username: String,
    /// Their avatar.
    #[serde(default)]
    pub avatar: Option<String>,
}

/// `POST /groups/{id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddMembersRequest {
    /// Users to add.
    pub user_ids: Vec<String>,
}

/// Answer to `POST /groups/{id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMembersResponse {
    /// True on success.
    pub success: bool,
    /// Those actually added (existing members are skipped).
    pub added: Vec<String>,
}

/// `PUT /groups/{id}/members/{uid}/role` and `PUT /admin/users/{id}/role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRequest {
    /// The new role.
    pub role: String,
}

/// A group message or system message, as history and live frames carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMessage {
    /// Message id.
    pub id: String,
    /// Group id.
    pub group_id: String,
    /// Sender id.
    pub from_user: String,
    /// Text or caption.
    pub content: String,
    /// Time, ms.
    pub timestamp: i64,
    /// `text`, `image` or `system`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Data URL of an image.
    #[serde(default, rename = "imageData")]
    pub image_data: Option<String>,
    /// For system messages: what happened.
    #[serde(default)]
    pub system_event: Option<String>,
    /// For system messages: details.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// Sender's user name.
    #[serde(default)]
    pub from_username: Option<String>,
}

/// `POST /groups/{id}/invite`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteRequest {
    /// Lifetime, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// Maximum number of joins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

/// Answer to `POST /groups/{id}/invite`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// Invite id (for revoking).
    pub id: String,
    /// The code to share.
    pub link_code: String,
    /// Expiry, ms.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Use limit.
    #[serde(default)]
    pub max_uses: Option<u32>,
}

/// `POST /groups/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    /// The invite code.
    pub link_code: String,
}

/// Answer to `POST /groups/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// True on success.
    pub success: bool,
    /// The group joined.
    pub group_id: String,
}

/// An entry of `GET /admin/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    /// User id.
    pub id: String,
    /// User name.
    pub username: String,
    /// `user` or `admin`.
    pub role: String,
    /// Enabled.
    pub is_active: IntFlag,
    /// May send images.
    pub can_send_images: IntFlag,
    /// Last seen, ms.
    #[serde(default, rename = "lastSeen")]
    pub last_seen: Option<i64>,
    /// Created, ms.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Disabled when, ms.
    #[serde(default)]
    pub disabled_at: Option<i64>,
    /// Disabled by whom.
    #[serde(default)]
    pub disabled_by: Option<String>,
}

/// `PUT /admin/users/{id}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserStatusRequest {
    /// 1 to enable, 0 to disable.
    pub is_active: IntFlag,
    /// The admin who disabled the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_by: Option<String>,
}

/// `PUT /admin/users/{id}/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPermissionsRequest {
    /// 1 to allow images, 0 to forbid them.
    pub can_send_images: IntFlag,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_request_has_the_backend_field_names() {
        let req = UploadPrekeysRequest {
            identity_key: "i".into(),
            signing_key: "s".into(),
            fingerprint: "f".into(),
            signed_prekey: None,
            one_time_prekeys: Some(vec![OneTimePrekeyJson {
                key_id: 2,
                public_key: "p".into(),
            }]),
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"identityKey":"i","signingKey":"s","fingerprint":"f","signedPrekey":null,"oneTimePrekeys":[{"keyId":2,"publicKey":"p"}]}"#
        );
    }

    #[test]
    fn stored_message_reads_integer_flags() {
        let m: StoredMessage = serde_json::from_str(
            r#"{"id":"m","fromUser":"a","toUser":"b","content":"c","timestamp":1,"status":"read","readAt":null,"type":"text","imageData":null,"encrypted":1}"#,
        )
        .unwrap();
        assert!(m.encrypted.0);
        assert_eq!(m.message_type, "text");
    }

    #[test]
    fn register_answer_without_avatar_parses() {
        let r: AuthResponse = serde_json::from_str(
            r#"{"id":"u","username":"al","lastSeen":5,"role":"user","is_active":1,"can_send_images":1,"created_at":5,"token":"t"}"#,
        )
        .unwrap();
        assert_eq!(r.user.avatar, None);
        assert_eq!(r.user.is_active, Some(IntFlag(true)));
        assert_eq!(r.token, "t");
    }
}
