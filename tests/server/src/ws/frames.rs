//! The frames the server sends, `{"type": T, "payload": {...}}`, each written once and
//! shared by every socket it goes to.

use axum::extract::ws::Utf8Bytes;

use crate::db::groups::GroupMessage;
use crate::db::messages::Message;
use crate::json::{Json, json_map, json_object};

/// A frame of type `kind` with `payload`.
pub(crate) fn frame(kind: &str, payload: Json) -> Utf8Bytes {
    Utf8Bytes::from(json_object! { "type" => kind, "payload" => payload }.to_text())
}

/// `error` `{message}`.
pub(crate) fn error(message: &str) -> Utf8Bytes {
    frame("error", json_object! { "message" => message })
}

/// `online` `{users: [{userId, username, online: true}...]}`, sent to a socket that just
/// authenticated.
pub(crate) fn online_list<'a>(users: impl Iterator<Item = (&'a str, &'a str)>) -> Utf8Bytes {
    let users: Vec<Json> = users
        .map(|(id, name)| json_object! { "userId" => id, "username" => name, "online" => true })
        .collect();
    frame("online", json_object! { "users" => users })
}

/// `online` `{userId, username, online}`: one user came or went.
pub(crate) fn presence(user_id: &str, username: &str, online: bool) -> Utf8Bytes {
    frame(
        "online",
        json_object! { "userId" => user_id, "username" => username, "online" => online },
    )
}

/// `message` `{id, from, to, content, timestamp, status, type, imageData?, encrypted}`.
pub(crate) fn message(m: &Message, status: &str) -> Utf8Bytes {
    let mut payload = json_map! {
        "id" => &m.id,
        "from" => &m.from_user,
        "to" => &m.to_user,
        "content" => &m.content,
        "timestamp" => m.timestamp,
        "status" => status,
        "type" => &m.kind,
    };
    if let Some(image) = &m.image_data {
        payload.insert("imageData".into(), image.into());
    }
    payload.insert("encrypted".into(), m.encrypted.into());
    frame("message", Json::Object(payload))
}

/// `group_message` `{id, group_id, from_user, content, timestamp, type, imageData?,
/// from_username}`.
pub(crate) fn group_message(m: &GroupMessage, from_username: &str) -> Utf8Bytes {
    let mut payload = json_map! {
        "id" => &m.id,
        "group_id" => &m.group_id,
        "from_user" => &m.from_user,
        "content" => &m.content,
        "timestamp" => m.timestamp,
        "type" => &m.kind,
    };
    if let Some(image) = &m.image_data {
        payload.insert("imageData".into(), image.into());
    }
    payload.insert("from_username".into(), from_username.into());
    frame("group_message", Json::Object(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(image: Option<&str>) -> Message {
        Message {
            id: "m1".into(),
            from_user: "a".into(),
            to_user: "b".into(),
            content: "hi".into(),
            timestamp: 5,
            status: "sent".into(),
            read_at: None,
            kind: if image.is_some() { "image" } else { "text" }.into(),
            image_data: image.map(str::to_owned),
            encrypted: false,
        }
    }

    #[test]
    fn message_frames_put_image_data_before_the_flag_only_when_present() {
        assert_eq!(
            message(&sample(None), "sent").as_str(),
            r#"{"type":"message","payload":{"id":"m1","from":"a","to":"b","content":"hi","timestamp":5,"status":"sent","type":"text","encrypted":false}}"#
        );
        assert_eq!(
            message(&sample(Some("data:x")), "delivered").as_str(),
            r#"{"type":"message","payload":{"id":"m1","from":"a","to":"b","content":"hi","timestamp":5,"status":"delivered","type":"image","imageData":"data:x","encrypted":false}}"#
        );
    }

    #[test]
    fn error_frames_carry_the_message() {
        assert_eq!(
            error("Invalid message format").as_str(),
            r#"{"type":"error","payload":{"message":"Invalid message format"}}"#
        );
    }
}
