//! Groups: creating and changing them, members, invites, group messages.

use quickchat_core::client::ClientError;
use quickchat_core::protocol::rest::{
    AddMembersResponse, CreatedGroup, GroupInfo, GroupMember, GroupSettings, Invite, JoinResponse,
    Success, UpdateGroupRequest,
};
use quickchat_core::store::MessageRecord;

use super::Client;

impl Client {
    /// Creates a group with this user as owner.
    pub async fn create_group(
        &self,
        name: &str,
        description: Option<&str>,
        member_ids: &[String],
        settings: Option<GroupSettings>,
    ) -> Result<CreatedGroup, ClientError> {
        self.core()
            .create_group(name, description, member_ids, settings)
            .await
    }

    /// The groups this user belongs to, with this user's role.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, ClientError> {
        self.core().groups().await
    }

    /// One group's details (members only).
    pub async fn group(&self, group_id: &str) -> Result<GroupInfo, ClientError> {
        self.core().group(group_id).await
    }

    /// Changes a group's name, description, avatar or settings.
    pub async fn update_group(
        &self,
        group_id: &str,
        update: &UpdateGroupRequest,
    ) -> Result<Success, ClientError> {
        self.core().update_group(group_id, update).await
    }

    /// A group's members.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<GroupMember>, ClientError> {
        self.core().group_members(group_id).await
    }

    /// Adds members (admins and the owner only); returns who was actually added.
    pub async fn add_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
    ) -> Result<AddMembersResponse, ClientError> {
        self.core().add_group_members(group_id, user_ids).await
    }

    /// Removes a member (admins and the owner only; never the owner).
    pub async fn remove_group_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> Result<Success, ClientError> {
        self.core().remove_group_member(group_id, user_id).await
    }

    /// Leaves a group (the owner cannot).
    pub async fn leave_group(&self, group_id: &str) -> Result<Success, ClientError> {
        self.core().leave_group(group_id).await
    }

    /// Makes a member `admin` or `member` (the owner only).
    pub async fn set_group_role(
        &self,
        group_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<Success, ClientError> {
        self.core().set_group_role(group_id, user_id, role).await
    }

    /// Creates an invite link code.
    pub async fn create_invite(
        &self,
        group_id: &str,
        expires_in_ms: Option<i64>,
        max_uses: Option<u32>,
    ) -> Result<Invite, ClientError> {
        self.core()
            .create_invite(group_id, expires_in_ms, max_uses)
            .await
    }

    /// Revokes an invite.
    pub async fn revoke_invite(
        &self,
        group_id: &str,
        invite_id: &str,
    ) -> Result<Success, ClientError> {
        self.core().revoke_invite(group_id, invite_id).await
    }

    /// Joins a group with an invite code.
    pub async fn join_group(&self, link_code: &str) -> Result<JoinResponse, ClientError> {
        self.core().join_group(link_code).await
    }

    /// Fetches group history from the backend (messages since this user joined, system
    /// messages included), stores what is new, and returns the page, oldest first.
    pub async fn group_history(
        &self,
        group_id: &str,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        self.core().group_history(group_id, limit, before).await
    }

    /// Sends text to a group (in plaintext: group messages are not end-to-end encrypted on
    /// this platform). Queued when offline; the backend's copy, with the backend's id,
    /// replaces the local one when it comes back.
    pub async fn send_group_text(
        &self,
        group_id: &str,
        text: &str,
    ) -> Result<MessageRecord, ClientError> {
        self.core().send_group_text(group_id, text).await
    }

    /// Sends an image to a group (data URL), as the web client does.
    pub async fn send_group_image(
        &self,
        group_id: &str,
        data_url: &str,
    ) -> Result<MessageRecord, ClientError> {
        self.core().send_group_image(group_id, data_url).await
    }

    /// Tells a group this user is (or stopped) typing.
    pub async fn set_group_typing(&self, group_id: &str, typing: bool) -> Result<(), ClientError> {
        self.core().set_group_typing(group_id, typing).await
    }

    /// Records that this user read a group message.
    pub async fn mark_group_read(
        &self,
        group_id: &str,
        message_id: &str,
    ) -> Result<(), ClientError> {
        self.core().mark_group_read(group_id, message_id).await
    }

    /// Relays an application-defined event to the group's connected members.
    pub async fn send_group_event(
        &self,
        group_id: &str,
        event: &str,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ClientError> {
        self.core().send_group_event(group_id, event, extra).await
    }
}
