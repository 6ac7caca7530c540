//! What the server does with each client frame (PROTOCOL §7).

use crate::clock::now_ms;
use crate::db::groups::{self, GroupMessage};
use crate::db::messages::{self, Message};
use crate::db::{self, users};
use crate::error::DbError;
use crate::json::{Json, JsonObject, json_map};
use crate::routes::groups::{is_manager, parse_settings};
use crate::routes::new_id;
use crate::state::AppState;
use crate::ws::frames;
use crate::ws::hub::Outbox;

/// The user a socket authenticated as.
#[derive(Debug, Clone)]
pub(crate) struct SessionUser {
    pub id: String,
    pub username: String,
}

/// The state of one socket.
pub(crate) struct Session {
    pub connection: u64,
    pub outbox: Outbox,
    pub user: Option<SessionUser>,
}

/// Why a frame was refused; the message is what the `error` frame says.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("Invalid message format")]
    InvalidFormat,
    #[error("Not authenticated")]
    NotAuthenticated,
    #[error("User not found. Please log in again.")]
    UnknownUser,
    #[error("Your account has been disabled by an administrator.")]
    Disabled,
    #[error("You do not have permission to send images.")]
    NoImages,
    #[error("You are not a member of this group")]
    NotMember,
    #[error("Only admins can send messages in this group")]
    AdminsOnly,
    /// The database refused (a duplicate message id...): the backend's catch-all answers
    /// these like a malformed frame.
    #[error("Invalid message format")]
    Storage(#[from] DbError),
}

impl From<rusqlite::Error> for FrameError {
    fn from(err: rusqlite::Error) -> Self {
        FrameError::Storage(err.into())
    }
}

impl FrameError {
    /// The close code and reason when this error also closes the socket.
    fn close(&self) -> Option<(u16, &'static str)> {
        match self {
            FrameError::UnknownUser => Some((1008, "User not found")),
            FrameError::Disabled => Some((1008, "Account disabled")),
            _ => None,
        }
    }
}

/// Handles one text frame from a socket.
pub(crate) async fn handle_text(state: &AppState, session: &mut Session, text: &str) {
    if let Err(err) = dispatch(state, session, text).await {
        if let FrameError::Storage(cause) = &err {
            tracing::warn!(error = %cause, "frame refused by the database");
        }
        session.outbox.send(frames::error(&err.to_string()));
        if let Some((code, reason)) = err.close() {
            session.outbox.close(code, reason);
        }
    }
}

/// Answers a binary frame as the backend does: it cannot parse one.
pub(crate) fn handle_binary(session: &Session) {
    session
        .outbox
        .send(frames::error(&FrameError::InvalidFormat.to_string()));
}

/// The frame types the backend handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auth,
    Message,
    Typing,
    Status,
    Read,
    GroupMessage,
    GroupTyping,
    GroupRead,
    GroupEvent,
}

impl Kind {
    fn parse(kind: &str) -> Option<Kind> {
        Some(match kind {
            "auth" => Kind::Auth,
            "message" => Kind::Message,
            "typing" => Kind::Typing,
            "status" => Kind::Status,
            "read" => Kind::Read,
            "group_message" => Kind::GroupMessage,
            "group_typing" => Kind::GroupTyping,
            "group_read" => Kind::GroupRead,
            "group_event" => Kind::GroupEvent,
            _ => return None,
        })
    }
}

async fn dispatch(state: &AppState, session: &mut Session, text: &str) -> Result<(), FrameError> {
    let frame = Json::parse(text.as_bytes()).map_err(|_| FrameError::InvalidFormat)?;
    let kind = frame
        .get("type")
        .and_then(Json::as_str)
        .filter(|k| !k.is_empty());
    let payload = frame.get("payload").filter(|p| p.is_object());
    let (Some(kind), Some(payload)) = (kind, payload) else {
        return Err(FrameError::InvalidFormat);
    };
    let Some(kind) = Kind::parse(kind) else {
        // Unknown frame types get no answer.
        return Ok(());
    };
    match (kind, session.user.clone()) {
        (Kind::Auth, _) => authenticate(state, session, payload).await,
        (_, None) => Err(FrameError::NotAuthenticated),
        (Kind::Message, Some(user)) => direct_message(state, &session.outbox, &user, payload).await,
        (Kind::Typing, Some(user)) => {
            typing(state, &user, payload);
            Ok(())
        }
        (Kind::Status, Some(_)) => {
            status(state, payload);
            Ok(())
        }
        (Kind::Read, Some(user)) => read_receipt(state, &user, payload).await,
        (Kind::GroupMessage, Some(user)) => group_message(state, &user, payload).await,
        (Kind::GroupTyping, Some(user)) => group_typing(state, &user, payload).await,
        (Kind::GroupRead, Some(user)) => group_read(state, &user, payload).await,
        (Kind::GroupEvent, Some(_)) => group_event(state, payload).await,
    }
}

/// `typing` `{to, typing}`: relays `{from, username, typing}` to `to`.
fn typing(state: &AppState, user: &SessionUser, payload: &Json) {
    let mut out = json_map! { "from" => &user.id, "username" => &user.username };
    copy_fields(&mut out, payload, &["typing"]);
    relay_to_peer(state, "typing", payload, out);
}

/// `status` `{to, messageId, status}`: relays `{messageId, status}` to `to` (nothing is
/// stored).
fn status(state: &AppState, payload: &Json) {
    let mut out = JsonObject::new();
    copy_fields(&mut out, payload, &["messageId", "status"]);
    relay_to_peer(state, "status", payload, out);
}

/// Copies the members of `from` named in `keys`, when present, into `to`.
fn copy_fields(to: &mut JsonObject, from: &Json, keys: &[&str]) {
    for key in keys {
        if let Some(value) = from.get(key) {
            to.insert((*key).to_owned(), value.clone());
        }
    }
}

/// Sends a frame built from `payload` to the user named by its `to`, if connected.
fn relay_to_peer(state: &AppState, kind: &str, payload: &Json, out: JsonObject) {
    if let Some(to) = payload.get("to").and_then(Json::as_str) {
        state
            .hub
            .send_to(to, frames::frame(kind, Json::Object(out)));
    }
}

/// `auth` `{userId, username}`: only checks that the user exists (no token).
async fn authenticate(
    state: &AppState,
    session: &mut Session,
    payload: &Json,
) -> Result<(), FrameError> {
    let user_id = payload
        .get("userId")
        .and_then(Json::as_str)
        .ok_or(FrameError::UnknownUser)?
        .to_owned();
    let lookup = user_id.clone();
    let stored_name = state
        .db
        .call(move |c| users::username_of(c, &lookup).map_err(FrameError::from))
        .await?
        .ok_or(FrameError::UnknownUser)?;
    let username = payload
        .str_field("username")
        .map_or(stored_name, str::to_owned);
    state
        .hub
        .authenticate(&user_id, &username, session.connection, &session.outbox);
    session.user = Some(SessionUser {
        id: user_id,
        username,
    });
    Ok(())
}

/// Whether message content is what the backend accepts as encrypted: a JSON object with
/// `header` and `ciphertext`, or with `ciphertext`, `iv` and `ephemeralPublicKey`.
pub(crate) fn looks_encrypted(content: &str) -> bool {
    let Ok(parsed) = Json::parse(content.as_bytes()) else {
        return false;
    };
    let has = |key: &str| parsed.truthy_field(key);
    (has("header") && has("ciphertext"))
        || (has("ciphertext") && has("iv") && has("ephemeralPublicKey"))
}

/// `message`: checks, stores, relays to the recipient if connected, echoes to the sender.
async fn direct_message(
    state: &AppState,
    outbox: &Outbox,
    user: &SessionUser,
    payload: &Json,
) -> Result<(), FrameError> {
    let (Some(to), Some(content)) = (
        payload.get("to").and_then(Json::as_str),
        payload.get("content").and_then(Json::as_str),
    ) else {
        return Err(FrameError::InvalidFormat);
    };
    if let Some(id) = payload.str_field("messageId") {
        state.hooks.count_message_frame(&user.id, id);
    }
    let message = Message {
        id: payload
            .str_field("messageId")
            .map_or_else(new_id, str::to_owned),
        from_user: user.id.clone(),
        to_user: to.to_owned(),
        content: content.to_owned(),
        timestamp: now_ms(),
        status: "sent".to_owned(),
        read_at: None,
        kind: payload
            .str_field("messageType")
            .unwrap_or("text")
            .to_owned(),
        image_data: payload.str_field("imageData").map(str::to_owned),
        encrypted: payload.truthy_field("encrypted") && looks_encrypted(content),
    };
    let shared = state.clone();
    let relay_duplicates = state.quirks.duplicate_relay;
    let (message, relayed) = state
        .db
        .call(move |conn| {
            // One transaction: one log append for the insert and the status that follows.
            let c = conn.transaction()?;
            let sender = users::by_id(&c, &message.from_user)?.ok_or(FrameError::UnknownUser)?;
            if sender.is_disabled() {
                return Err(FrameError::Disabled);
            }
            if message.kind == "image" && !sender.may_send_images() {
                return Err(FrameError::NoImages);
            }
            match messages::insert(&c, &message) {
                Ok(()) => {}
                // Quirk 5: the backend relays a message whose id is taken, then fails.
                Err(e) if relay_duplicates && db::is_unique_violation(&e) => {
                    shared
                        .hub
                        .send_to(&message.to_user, frames::message(&message, "sent"));
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
            // Relayed with status `sent`; stored as `delivered` once relayed.
            let relayed = shared
                .hub
                .send_to(&message.to_user, frames::message(&message, "sent"));
            if relayed {
                messages::set_status(&c, &message.id, "delivered")?;
            }
            c.commit()?;
            Ok((message, relayed))
        })
        .await?;
    let delay = state.hooks.echo_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    outbox.send(frames::message(
        &message,
        if relayed { "delivered" } else { "sent" },
    ));
    Ok(())
}

/// `read` `{messageIds, to}`: marks them read and tells `to`.
async fn read_receipt(
    state: &AppState,
    user: &SessionUser,
    payload: &Json,
) -> Result<(), FrameError> {
    let ids = payload
        .get("messageIds")
        .and_then(Json::as_array)
        .ok_or(FrameError::InvalidFormat)?;
    let id_strings: Vec<String> = ids
        .iter()
        .filter_map(Json::as_str)
        .map(str::to_owned)
        .collect();
    let now = now_ms();
    state
        .db
        .call(move |c| {
            messages::set_status_many(c, &id_strings, "read", now).map_err(FrameError::from)
        })
        .await?;
    let out = json_map! { "messageIds" => ids.clone(), "readBy" => &user.id };
    relay_to_peer(state, "read", payload, out);
    Ok(())
}

/// The `groupId` of a group frame.
fn group_id(payload: &Json) -> Result<String, FrameError> {
    payload
        .get("groupId")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .ok_or(FrameError::InvalidFormat)
}

/// The ids of a group's members.
async fn member_ids(state: &AppState, group: String) -> Result<Vec<String>, FrameError> {
    state
        .db
        .call(move |c| groups::member_ids(c, &group).map_err(FrameError::from))
        .await
}

/// `group_message`: membership, image permission and `messagePermission` checks; stores;
/// sends to every connected member, the sender included.
async fn group_message(
    state: &AppState,
    user: &SessionUser,
    payload: &Json,
) -> Result<(), FrameError> {
    let group = group_id(payload)?;
    let content = payload
        .get("content")
        .and_then(Json::as_str)
        .ok_or(FrameError::InvalidFormat)?;
    let message = GroupMessage {
        id: new_id(),
        group_id: group,
        from_user: user.id.clone(),
        content: content.to_owned(),
        timestamp: now_ms(),
        kind: payload
            .str_field("messageType")
            .unwrap_or("text")
            .to_owned(),
        image_data: payload.str_field("imageData").map(str::to_owned),
        system_event: None,
        metadata: None,
        from_username: None,
    };
    let (message, members, from_username) = state
        .db
        .call(move |c| {
            let role = groups::role_of(c, &message.group_id, &message.from_user)?
                .ok_or(FrameError::NotMember)?;
            let sender = users::by_id(c, &message.from_user)?.ok_or(FrameError::UnknownUser)?;
            if message.kind == "image" && !sender.may_send_images() {
                return Err(FrameError::NoImages);
            }
            let settings = groups::group(c, &message.group_id)?
                .map(|g| parse_settings(&g.settings))
                .unwrap_or_default();
            let admins_only = settings
                .get("messagePermission")
                .and_then(Json::as_str)
                .is_some_and(|p| p == "admins_only");
            if admins_only && !is_manager(&role) {
                return Err(FrameError::AdminsOnly);
            }
            groups::insert_message(c, &message)?;
            let members = groups::member_ids(c, &message.group_id)?;
            Ok((message, members, sender.username))
        })
        .await?;
    let frame = frames::group_message(&message, &from_username);
    state.hub.send_to_each(&members, &frame, None);
    Ok(())
}

/// `group_typing`: relayed to the other connected members.
async fn group_typing(
    state: &AppState,
    user: &SessionUser,
    payload: &Json,
) -> Result<(), FrameError> {
    let group = group_id(payload)?;
    let members = member_ids(state, group.clone()).await?;
    let mut out =
        json_map! { "groupId" => group, "userId" => &user.id, "username" => &user.username };
    copy_fields(&mut out, payload, &["typing"]);
    let frame = frames::frame("group_typing", Json::Object(out));
    state.hub.send_to_each(&members, &frame, Some(&user.id));
    Ok(())
}

/// `group_read`: records the read of an existing message of the group and relays it to the
/// other connected members; a message id the group does not have is ignored.
async fn group_read(
    state: &AppState,
    user: &SessionUser,
    payload: &Json,
) -> Result<(), FrameError> {
    let group = group_id(payload)?;
    let message_id = payload
        .get("messageId")
        .and_then(Json::as_str)
        .ok_or(FrameError::InvalidFormat)?
        .to_owned();
    let now = now_ms();
    let (group_key, message_key, reader) = (group.clone(), message_id.clone(), user.id.clone());
    let members = state
        .db
        .call(move |c| {
            if !groups::message_exists(c, &group_key, &message_key)? {
                return Ok::<_, FrameError>(None);
            }
            groups::mark_read(c, &message_key, &reader, now)?;
            Ok(Some(groups::member_ids(c, &group_key)?))
        })
        .await?;
    if let Some(members) = members {
        let out = json_map! {
            "messageId" => message_id,
            "groupId" => group,
            "userId" => &user.id,
            "readAt" => now,
        };
        let frame = frames::frame("group_read", Json::Object(out));
        state.hub.send_to_each(&members, &frame, Some(&user.id));
    }
    Ok(())
}

/// `group_event`: the payload, unchanged, to every connected member, the sender included.
async fn group_event(state: &AppState, payload: &Json) -> Result<(), FrameError> {
    let members = member_ids(state, group_id(payload)?).await?;
    let frame = frames::frame("group_event", payload.clone());
    state.hub.send_to_each(&members, &frame, None);
    Ok(())
}

/// A socket that had authenticated closed: updates the table (see
/// [`Hub::disconnect`](crate::ws::hub::Hub::disconnect)) and the user's `lastSeen`.
pub(crate) async fn disconnected(state: &AppState, connection: u64, user: &SessionUser) {
    state.hub.disconnect(
        &user.id,
        &user.username,
        connection,
        state.quirks.reconnect_race,
    );
    let id = user.id.clone();
    let now = now_ms();
    let result: Result<(), DbError> = state
        .db
        .call(move |c| users::set_last_seen(c, &id, now).map_err(DbError::from))
        .await;
    if let Err(err) = result {
        tracing::debug!(error = %err, "lastSeen not updated");
    }
}

#[cfg(test)]
mod tests {
    use super::looks_encrypted;

    #[test]
    fn encrypted_content_is_recognised_by_shape() {
        assert!(looks_encrypted(
            r#"{"header":{"ratchetKey":"a","previousChainLength":0,"messageNumber":0},"ciphertext":"b","authTag":""}"#
        ));
        assert!(looks_encrypted(
            r#"{"ciphertext":"b","iv":"c","ephemeralPublicKey":"d"}"#
        ));
        assert!(!looks_encrypted("not json but flagged"));
        assert!(!looks_encrypted(r#"{"ciphertext":"b"}"#));
        assert!(!looks_encrypted(r#"{"header":{},"ciphertext":""}"#));
        assert!(!looks_encrypted(r#"["header","ciphertext"]"#));
    }
}
