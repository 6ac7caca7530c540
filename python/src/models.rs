//! The objects the package hands to Python: users, messages, groups, key and session
//! information. Immutable snapshots; their attributes are read on demand.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use quickchat::quickchat_core::client::{ConversationSummary, CurrentUser, OnlineUser};
use quickchat::quickchat_core::protocol::rest::{
    CreatedGroup, GroupInfo, GroupMember as RestGroupMember, GroupSettings, PrekeyStatus as Rest,
    UserSummary,
};
use quickchat::{
    ContentKind, Conversation as ConversationId, Direction, MessageRecord, MessageStatus,
};

/// A user of the platform.
#[pyclass(frozen, module = "quickchat", name = "User")]
#[derive(Clone)]
pub(crate) struct User {
    /// User id.
    #[pyo3(get)]
    id: String,
    /// User name.
    #[pyo3(get)]
    username: String,
    /// Avatar (an emoji in the web app), if any.
    #[pyo3(get)]
    avatar: Option<String>,
    /// Last time seen, ms since the epoch, when the server said.
    #[pyo3(get)]
    last_seen: Option<i64>,
}

#[pymethods]
impl User {
    #[new]
    #[pyo3(signature = (id, username, avatar=None, last_seen=None))]
    fn new(id: String, username: String, avatar: Option<String>, last_seen: Option<i64>) -> Self {
        Self {
            id,
            username,
            avatar,
            last_seen,
        }
    }

    /// The user id (so that a `User` can be passed where a peer is expected).
    fn __str__(&self) -> &str {
        &self.id
    }

    fn __repr__(&self) -> String {
        format!("User(id={:?}, username={:?})", self.id, self.username)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<User>()
            .is_ok_and(|o| o.get().id == self.id && o.get().username == self.username)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.id.hash(&mut hasher);
        hasher.finish()
    }
}

impl From<UserSummary> for User {
    fn from(user: UserSummary) -> Self {
        Self {
            id: user.id,
            username: user.username,
            avatar: user.avatar,
            last_seen: user.last_seen,
        }
    }
}

impl From<CurrentUser> for User {
    fn from(user: CurrentUser) -> Self {
        Self {
            id: user.user_id,
            username: user.username,
            avatar: None,
            last_seen: None,
        }
    }
}

impl From<OnlineUser> for User {
    fn from(user: OnlineUser) -> Self {
        Self {
            id: user.user_id,
            username: user.username,
            avatar: None,
            last_seen: None,
        }
    }
}

/// A message, as stored in the local history (decrypted).
#[pyclass(frozen, module = "quickchat", name = "Message")]
#[derive(Clone)]
pub(crate) struct Message {
    record: MessageRecord,
    to_user: String,
}

impl Message {
    /// The record, with `me` (the signed-in user's id) as the recipient of what came in.
    pub(crate) fn new(record: MessageRecord, me: Option<&str>) -> Self {
        let to_user = match (&record.conversation, record.direction) {
            (ConversationId::Group(group), _) => group.clone(),
            (ConversationId::Direct(peer), Direction::Outgoing) => peer.clone(),
            (ConversationId::Direct(_), Direction::Incoming) => me.unwrap_or_default().to_string(),
        };
        Self { record, to_user }
    }
}

pub(crate) fn status_name(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "pending",
        MessageStatus::Sent => "sent",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Read => "read",
        MessageStatus::Failed => "failed",
    }
}

#[pymethods]
impl Message {
    /// Message id.
    #[getter]
    fn id(&self) -> &str {
        &self.record.id
    }
    /// Sender's user id.
    // The legacy client's attribute name, kept for its users.
    #[allow(clippy::wrong_self_convention)]
    #[getter]
    fn from_user(&self) -> &str {
        &self.record.sender_id
    }
    /// Recipient: the peer's id (sent), this user's id (received) or the group's id.
    #[getter]
    fn to_user(&self) -> &str {
        &self.to_user
    }
    /// The text (decrypted), or an image's caption.
    #[getter]
    fn content(&self) -> &str {
        &self.record.body
    }
    /// Time, ms since the epoch (the server's once known).
    #[getter]
    fn timestamp(&self) -> i64 {
        self.record.timestamp
    }
    /// `pending` (in the outbox), `sent`, `delivered`, `read` or `failed`.
    #[getter]
    fn status(&self) -> &'static str {
        status_name(self.record.status)
    }
    /// Whether it travelled end-to-end encrypted.
    #[getter]
    fn encrypted(&self) -> bool {
        self.record.encrypted
    }
    /// `text`, `image` or `system` (group notices).
    #[getter]
    fn kind(&self) -> &'static str {
        match self.record.kind {
            ContentKind::Text => "text",
            ContentKind::Image => "image",
            ContentKind::System => "system",
        }
    }
    /// An image's data URL.
    #[getter]
    fn image_data(&self) -> Option<&str> {
        self.record.image_data.as_deref()
    }
    /// The group, for a group message.
    #[getter]
    fn group_id(&self) -> Option<&str> {
        match &self.record.conversation {
            ConversationId::Group(group) => Some(group),
            ConversationId::Direct(_) => None,
        }
    }
    /// The other side of a 1:1 conversation.
    #[getter]
    fn peer_id(&self) -> Option<&str> {
        match &self.record.conversation {
            ConversationId::Direct(peer) => Some(peer),
            ConversationId::Group(_) => None,
        }
    }
    /// Whether this account sent it.
    #[getter]
    fn is_outgoing(&self) -> bool {
        self.record.direction == Direction::Outgoing
    }
    /// When the recipient read it, ms.
    #[getter]
    fn read_at(&self) -> Option<i64> {
        self.record.read_at
    }
    /// Why an incoming encrypted message could not be decrypted (its content is empty).
    #[getter]
    fn decrypt_error(&self) -> Option<&str> {
        self.record.decrypt_error.as_deref()
    }

    fn __repr__(&self) -> String {
        format!(
            "Message(id={:?}, from_user={:?}, to_user={:?}, status={:?}, encrypted={})",
            self.record.id,
            self.record.sender_id,
            self.to_user,
            status_name(self.record.status),
            if self.record.encrypted {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// A group, with this user's role in it.
#[pyclass(frozen, module = "quickchat", name = "Group")]
pub(crate) struct Group {
    /// Group id.
    #[pyo3(get)]
    id: String,
    /// Name.
    #[pyo3(get)]
    name: String,
    /// Description.
    #[pyo3(get)]
    description: Option<String>,
    /// Avatar.
    #[pyo3(get)]
    avatar: Option<String>,
    /// The owner's user id.
    #[pyo3(get)]
    owner_id: String,
    /// Creation time, ms.
    #[pyo3(get)]
    created_at: i64,
    /// This user's role: `owner`, `admin` or `member` (when the server said).
    #[pyo3(get)]
    role: Option<String>,
    settings: GroupSettings,
}

#[pymethods]
impl Group {
    /// The group's settings: `message_permission`, `metadata_permission`,
    /// `join_approval`, `max_members`.
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("message_permission", &self.settings.message_permission)?;
        dict.set_item("metadata_permission", &self.settings.metadata_permission)?;
        dict.set_item("join_approval", self.settings.join_approval)?;
        dict.set_item("max_members", self.settings.max_members)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        format!("Group(id={:?}, name={:?})", self.id, self.name)
    }
}

impl From<GroupInfo> for Group {
    fn from(group: GroupInfo) -> Self {
        Self {
            id: group.id,
            name: group.name,
            description: group.description,
            avatar: group.avatar,
            owner_id: group.owner_id,
            created_at: group.created_at,
            role: group.role.or(group.user_role),
            settings: group.settings,
        }
    }
}

impl From<CreatedGroup> for Group {
    fn from(group: CreatedGroup) -> Self {
        Self {
            id: group.id,
            name: group.name,
            description: None,
            avatar: None,
            owner_id: group.owner_id,
            created_at: group.created_at,
            role: Some("owner".into()),
            settings: group.settings,
        }
    }
}

/// A member of a group.
#[pyclass(frozen, module = "quickchat", name = "GroupMember")]
pub(crate) struct GroupMember {
    /// User id.
    #[pyo3(get)]
    user_id: String,
    /// User name.
    #[pyo3(get)]
    username: String,
    /// `owner`, `admin` or `member`.
    #[pyo3(get)]
    role: String,
    /// When they joined, ms.
    #[pyo3(get)]
    joined_at: i64,
}

#[pymethods]
impl GroupMember {
    fn __repr__(&self) -> String {
        format!(
            "GroupMember(user_id={:?}, username={:?}, role={:?})",
            self.user_id, self.username, self.role
        )
    }
}

impl From<RestGroupMember> for GroupMember {
    fn from(member: RestGroupMember) -> Self {
        Self {
            user_id: member.user_id,
            username: member.username,
            role: member.role,
            joined_at: member.joined_at,
        }
    }
}

/// What the server holds of this account's prekeys.
#[pyclass(frozen, module = "quickchat", name = "PrekeyStatus")]
pub(crate) struct PrekeyStatus {
    /// The published signed prekey's id.
    #[pyo3(get)]
    signed_prekey_id: Option<u32>,
    /// When it was uploaded, ms.
    #[pyo3(get)]
    signed_prekey_created_at: Option<i64>,
    /// Unused one-time prekeys left on the server.
    #[pyo3(get)]
    one_time_prekeys: u32,
}

#[pymethods]
impl PrekeyStatus {
    fn __repr__(&self) -> String {
        format!(
            "PrekeyStatus(signed_prekey_id={:?}, one_time_prekeys={})",
            self.signed_prekey_id, self.one_time_prekeys
        )
    }
}

impl From<Rest> for PrekeyStatus {
    fn from(status: Rest) -> Self {
        Self {
            signed_prekey_id: status.signed_prekey_key_id,
            signed_prekey_created_at: status.signed_prekey_created_at,
            one_time_prekeys: status.one_time_prekey_count,
        }
    }
}

/// A conversation of the local history and its latest message.
#[pyclass(frozen, module = "quickchat", name = "Conversation")]
pub(crate) struct Conversation {
    /// `direct` or `group`.
    #[pyo3(get)]
    kind: &'static str,
    /// The peer's user id, or the group's id.
    #[pyo3(get)]
    id: String,
    last_message: Message,
    /// Incoming messages not marked read.
    #[pyo3(get)]
    unread: usize,
}

#[pymethods]
impl Conversation {
    /// The latest message.
    #[getter]
    fn last_message(&self) -> Message {
        self.last_message.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Conversation(kind={:?}, id={:?}, unread={})",
            self.kind, self.id, self.unread
        )
    }
}

impl Conversation {
    pub(crate) fn new(summary: ConversationSummary, me: Option<&str>) -> Self {
        let (kind, id) = match summary.id {
            ConversationId::Direct(peer) => ("direct", peer),
            ConversationId::Group(group) => ("group", group),
        };
        Self {
            kind,
            id,
            last_message: Message::new(summary.last_message, me),
            unread: summary.unread,
        }
    }
}

/// An end-to-end encrypted session with a peer, as kept in the store (no secrets).
#[pyclass(frozen, module = "quickchat", name = "SessionInfo")]
pub(crate) struct SessionInfo {
    /// The peer's user id.
    #[pyo3(get)]
    pub(crate) peer_id: String,
    /// The fingerprint of the peer's identity key the session runs with (60 hex digits).
    #[pyo3(get)]
    pub(crate) fingerprint: String,
    /// Whether that key was verified.
    #[pyo3(get)]
    pub(crate) verified: bool,
    /// When the session started, ms.
    #[pyo3(get)]
    pub(crate) created_at: i64,
    /// When it was last used, ms.
    #[pyo3(get)]
    pub(crate) updated_at: i64,
    /// Older sessions kept for late messages.
    #[pyo3(get)]
    pub(crate) previous_sessions: usize,
}

#[pymethods]
impl SessionInfo {
    fn __repr__(&self) -> String {
        format!(
            "SessionInfo(peer_id={:?}, verified={})",
            self.peer_id,
            if self.verified { "True" } else { "False" }
        )
    }
}
