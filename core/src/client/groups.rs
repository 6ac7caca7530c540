//! Groups: the backend's group endpoints (authenticated by the raw user id, as the backend
//! expects), group messages (never encrypted, as in the web client), typing, reads and
//! group history.

use rand_core::CryptoRng;

use super::messaging::IMAGE_CAPTION;
use super::{Client, ClientError};
use crate::platform::MaybeSend;
use crate::protocol::rest::{
    AddMembersRequest, AddMembersResponse, CreateGroupRequest, CreatedGroup, GroupInfo,
    GroupMember, GroupMessage, GroupSettings, Invite, InviteRequest, JoinResponse, Success,
    UpdateGroupRequest,
};
use crate::protocol::ws::ClientFrame;
use crate::store::{
    ContentKind, Conversation, Direction, MessageQuery, MessageRecord, MessageStatus, Store,
    StoreOp, WriteBatch,
};
use crate::transport::{Clock, Transport};

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Creates a group with this user as owner.
    pub async fn create_group(
        &self,
        name: &str,
        description: Option<&str>,
        member_ids: &[String],
        settings: Option<GroupSettings>,
    ) -> Result<CreatedGroup, ClientError> {
        let me = self.me()?;
        let request = CreateGroupRequest {
            name: name.to_string(),
            description: description.map(str::to_string),
            avatar: None,
            member_ids: member_ids.to_vec(),
            settings,
        };
        Ok(self.api.create_group(&me.user_id, &request).await?)
    }

    /// The groups this user belongs to, with this user's role.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, ClientError> {
        Ok(self.api.groups(&self.me()?.user_id).await?)
    }

    /// One group's details (members only).
    pub async fn group(&self, group_id: &str) -> Result<GroupInfo, ClientError> {
        Ok(self.api.group(&self.me()?.user_id, group_id).await?)
    }

    /// Changes a group's name, description, avatar or settings.
    pub async fn update_group(
        &self,
        group_id: &str,
        update: &UpdateGroupRequest,
    ) -> Result<Success, ClientError> {
        Ok(self
            .api
            .update_group(&self.me()?.user_id, group_id, update)
            .await?)
    }

    /// A group's members.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<GroupMember>, ClientError> {
        Ok(self
            .api
            .group_members(&self.me()?.user_id, group_id)
            .await?)
    }

    /// Adds members (admins and the owner only); returns who was actually added.
    pub async fn add_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
    ) -> Result<AddMembersResponse, ClientError> {
        let request = AddMembersRequest {
            user_ids: user_ids.to_vec(),
        };
        Ok(self
            .api
            .add_group_members(&self.me()?.user_id, group_id, &request)
            .await?)
    }

    /// Removes a member (admins and the owner only; never the owner).
    pub async fn remove_group_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> Result<Success, ClientError> {
        Ok(self
            .api
            .remove_group_member(&self.me()?.user_id, group_id, user_id)
            .await?)
    }

    /// Leaves a group (the owner cannot).
    pub async fn leave_group(&self, group_id: &str) -> Result<Success, ClientError> {
        Ok(self.api.leave_group(&self.me()?.user_id, group_id).await?)
    }

    /// Makes a member `admin` or `member` (the owner only).
    pub async fn set_group_role(
        &self,
        group_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<Success, ClientError> {
        if role != "admin" && role != "member" {
            return Err(ClientError::InvalidInput {
                what: "role",
                why: format!(
                    "{} is not \"admin\" or \"member\"",
                    crate::quoted::Quoted(role)
                ),
            });
        }
        Ok(self
            .api
            .set_group_role(&self.me()?.user_id, group_id, user_id, role)
            .await?)
    }

    /// Creates an invite link code.
    pub async fn create_invite(
        &self,
        group_id: &str,
        expires_in_ms: Option<i64>,
        max_uses: Option<u32>,
    ) -> Result<Invite, ClientError> {
        let request = InviteRequest {
            expires_in: expires_in_ms,
            max_uses,
        };
        Ok(self
            .api
            .create_invite(&self.me()?.user_id, group_id, &request)
            .await?)
    }

    /// Revokes an invite.
    pub async fn revoke_invite(
        &self,
        group_id: &str,
        invite_id: &str,
    ) -> Result<Success, ClientError> {
        Ok(self
            .api
            .revoke_invite(&self.me()?.user_id, group_id, invite_id)
            .await?)
    }

    /// Joins a group with an invite code.
    pub async fn join_group(&self, link_code: &str) -> Result<JoinResponse, ClientError> {
        Ok(self.api.join_group(&self.me()?.user_id, link_code).await?)
    }

    /// Fetches group history from the backend (messages since this user joined, system
    /// messages included), stores what is new, and returns the page, oldest first.
    pub async fn group_history(
        &self,
        group_id: &str,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<Vec<MessageRecord>, ClientError> {
        let messages = self
            .api
            .group_messages(&self.me()?.user_id, group_id, limit, before)
            .await?;
        let mut page = Vec::with_capacity(messages.len());
        for message in messages {
            let id = message.id.clone();
            self.receive_group(message, false).await?;
            if let Some(record) = self.store.message(&id).await? {
                page.push(record);
            }
        }
        Ok(page)
    }

    /// Sends text to a group (in plaintext: group messages are not end-to-end encrypted on
    /// this platform). Queued when offline; the backend's copy, with the backend's id,
    /// replaces the local one when it comes back.
    pub async fn send_group_text(
        &self,
        group_id: &str,
        text: &str,
    ) -> Result<MessageRecord, ClientError> {
        self.queue_group(group_id, text, None).await
    }

    /// Sends an image to a group (data URL), as the web client does.
    pub async fn send_group_image(
        &self,
        group_id: &str,
        data_url: &str,
    ) -> Result<MessageRecord, ClientError> {
        if !data_url.starts_with("data:image/") {
            return Err(ClientError::InvalidInput {
                what: "image",
                why: "expected a data URL like data:image/png;base64,...".into(),
            });
        }
        self.queue_group(group_id, IMAGE_CAPTION, Some(data_url))
            .await
    }

    async fn queue_group(
        &self,
        group_id: &str,
        text: &str,
        image: Option<&str>,
    ) -> Result<MessageRecord, ClientError> {
        let me = self.me()?;
        let id = self.new_message_id(self.crypto.lock().await.device.rng());
        let record = MessageRecord {
            id,
            conversation: Conversation::Group(group_id.to_string()),
            sender_id: me.user_id,
            direction: Direction::Outgoing,
            body: text.to_string(),
            kind: if image.is_some() {
                ContentKind::Image
            } else {
                ContentKind::Text
            },
            image_data: image.map(str::to_string),
            timestamp: self.now(),
            status: MessageStatus::Pending,
            encrypted: false,
            read_at: None,
            wire: None,
            decrypt_error: None,
        };
        let mut batch = WriteBatch::new();
        batch.push(StoreOp::PutMessage(record.clone()));
        self.store.commit(batch).await?;
        self.send_saved([record.clone()]).await;
        Ok(record)
    }

    /// The oldest pending copy of one of our group messages that `message` is the
    /// backend's copy of.
    pub(crate) async fn pending_group_match(
        &self,
        message: &GroupMessage,
    ) -> Result<Option<MessageRecord>, ClientError> {
        let pending = self
            .store
            .messages(&MessageQuery {
                conversation: Some(Conversation::Group(message.group_id.clone())),
                status: Some(MessageStatus::Pending),
                ..MessageQuery::default()
            })
            .await?;
        Ok(pending.into_iter().find(|p| {
            p.direction == Direction::Outgoing
                && p.body == message.content
                && p.image_data == message.image_data
        }))
    }

    /// Tells a group this user is (or stopped) typing.
    pub async fn set_group_typing(&self, group_id: &str, typing: bool) -> Result<(), ClientError> {
        self.me()?;
        self.send_frame(&ClientFrame::GroupTyping {
            group_id: group_id.to_string(),
            typing,
        })
        .await
    }

    /// Records that this user read a group message.
    pub async fn mark_group_read(
        &self,
        group_id: &str,
        message_id: &str,
    ) -> Result<(), ClientError> {
        self.me()?;
        self.send_frame(&ClientFrame::GroupRead {
            group_id: group_id.to_string(),
            message_id: message_id.to_string(),
        })
        .await
    }

    /// Relays an application-defined event to the group's connected members.
    pub async fn send_group_event(
        &self,
        group_id: &str,
        event: &str,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ClientError> {
        self.me()?;
        let mut payload = extra;
        payload.insert("groupId".into(), group_id.into());
        payload.insert("event".into(), event.into());
        self.send_frame(&ClientFrame::GroupEvent(payload)).await
    }
}
