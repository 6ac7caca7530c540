//! WebSocket frames (PROTOCOL §7): `{"type": T, "payload": {...}}` text frames.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::rest::GroupMessage;

/// `text` or `image`, the `messageType` of a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// A text message.
    Text,
    /// An image (a data URL in `imageData`).
    Image,
}

/// A frame the client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame on every socket.
    #[serde(rename_all = "camelCase")]
    Auth {
        /// The user's id (the backend checks only that it exists).
        user_id: String,
        /// The user's name.
        username: String,
    },
    /// A 1:1 message.
    #[serde(rename_all = "camelCase")]
    Message {
        /// Recipient id.
        to: String,
        /// Text or encrypted envelope.
        content: String,
        /// `text` or `image`.
        message_type: MessageType,
        /// Whether `content` is an encrypted envelope.
        encrypted: bool,
        /// Client-chosen id (the backend makes one when absent).
        #[serde(skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// Image data URL.
        #[serde(skip_serializing_if = "Option::is_none")]
        image_data: Option<String>,
    },
    /// Typing indicator.
    Typing {
        /// Recipient id.
        to: String,
        /// On or off.
        typing: bool,
    },
    /// Delivery status for one message.
    #[serde(rename_all = "camelCase")]
    Status {
        /// The message's sender.
        to: String,
        /// The message.
        message_id: String,
        /// `delivered` or `read`.
        status: String,
    },
    /// Read receipts.
    #[serde(rename_all = "camelCase")]
    Read {
        /// Messages read.
        message_ids: Vec<String>,
        /// Their sender.
        to: String,
    },
    /// A group message (never encrypted by the web client).
    #[serde(rename_all = "camelCase")]
    GroupMessage {
        /// Group id.
        group_id: String,
        /// Text or caption.
        content: String,
        /// `text` or `image`.
        message_type: MessageType,
        /// Image data URL.
        #[serde(skip_serializing_if = "Option::is_none")]
        image_data: Option<String>,
    },
    /// Group typing indicator.
    #[serde(rename_all = "camelCase")]
    GroupTyping {
        /// Group id.
        group_id: String,
        /// On or off.
        typing: bool,
    },
    /// Group read receipt.
    #[serde(rename_all = "camelCase")]
    GroupRead {
        /// Group id.
        group_id: String,
        /// The message read.
        message_id: String,
    },
    /// A group event relayed unchanged to every connected member.
    GroupEvent(serde_json::Map<String, serde_json::Value>),
}

impl ClientFrame {
    /// The frame's text.
    pub fn to_json(&self) -> String {
        // Every variant is made of strings, booleans and maps: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One entry of an `online` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// User id.
    pub user_id: String,
    /// User name.
    pub username: String,
    /// Online or not.
    pub online: bool,
}

/// A 1:1 message as relayed to the recipient and echoed to the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePayload {
    /// Message id.
    pub id: String,
    /// Sender id.
    pub from: String,
    /// Recipient id.
    pub to: String,
    /// Content.
    pub content: String,
    /// Server time, ms.
    pub timestamp: i64,
    /// `sent` (stored only) or `delivered` (relayed) in the echo.
    pub status: String,
    /// `text` or `image`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Image data URL.
    #[serde(default)]
    pub image_data: Option<String>,
    /// The backend's own verdict on whether the content is an encrypted envelope.
    #[serde(default)]
    pub encrypted: bool,
}

/// A frame the backend sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// Everyone online, sent once after `auth`.
    OnlineList(Vec<Presence>),
    /// One user came online or went offline.
    Presence(Presence),
    /// A 1:1 message (to its recipient) or its echo (to its sender).
    Message(MessagePayload),
    /// A peer is typing.
    Typing {
        /// Who.
        from: String,
        /// Their name.
        username: String,
        /// On or off.
        typing: bool,
    },
    /// A message's status changed.
    Status {
        /// The message.
        message_id: String,
        /// The new status.
        status: String,
    },
    /// A peer read messages.
    Read {
        /// The messages.
        message_ids: Vec<String>,
        /// Who read them.
        read_by: String,
    },
    /// A group message.
    GroupMessage(GroupMessage),
    /// A member is typing in a group.
    GroupTyping {
        /// Group id.
        group_id: String,
        /// Who.
        user_id: String,
        /// Their name.
        username: String,
        /// On or off.
        typing: bool,
    },
    /// A member read a group message.
    GroupRead {
        /// The message.
        message_id: String,
        /// Group id.
        group_id: String,
        /// Who.
        user_id: String,
        /// When, ms.
        read_at: i64,
    },
    /// A group event relayed from a member.
    GroupEvent(serde_json::Map<String, serde_json::Value>),
    /// An error; `auth` errors are followed by the socket closing.
    Error {
        /// The backend's message.
        message: String,
    },
    /// A frame type this SDK does not know (kept, not fatal).
    Unknown {
        /// Its type.
        frame_type: String,
        /// Its payload.
        payload: serde_json::Value,
    },
}

/// A frame from the backend that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not `{"type": string, "payload": ...}`.
    #[error("frame is not a JSON object with `type` and `payload`: {detail}")]
    Envelope {
        /// The parser's explanation.
        detail: String,
    },
    /// A known frame type whose payload has the wrong shape.
    #[error("`{frame_type}` frame has an invalid payload: {detail}")]
    Payload {
        /// Frame type.
        frame_type: String,
        /// The parser's explanation.
        detail: String,
    },
}

/// A frame's envelope, its payload left as text: each payload is then read straight into its
/// own type, with no `Value` in between (one parser's code for every type, and less work).
#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type")]
    frame_type: String,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// The `online` frame after `auth`: everyone online.
#[derive(Deserialize)]
struct OnlineListPayload {
    users: Vec<Presence>,
}

#[derive(Deserialize)]
struct TypingPayload {
    from: String,
    #[serde(default)]
    username: String,
    typing: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusPayload {
    message_id: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadPayload {
    message_ids: Vec<String>,
    read_by: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupTypingPayload {
    group_id: String,
    user_id: String,
    #[serde(default)]
    username: String,
    typing: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupReadPayload {
    message_id: String,
    group_id: String,
    user_id: String,
    read_at: i64,
}

#[derive(Deserialize)]
struct ErrorPayload {
    message: String,
}

impl ServerFrame {
    /// Reads a text frame from the backend.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let raw: RawFrame<'_> = serde_json::from_str(text).map_err(|e| FrameError::Envelope {
            detail: e.to_string(),
        })?;
        let frame_type = raw.frame_type;
        // A missing payload reads as `null`, as it did through `Value`.
        let payload = raw.payload.map_or("null", RawValue::get);
        fn decode<'a, T: Deserialize<'a>>(
            frame_type: &str,
            payload: &'a str,
        ) -> Result<T, FrameError> {
            serde_json::from_str(payload).map_err(|e| FrameError::Payload {
                frame_type: frame_type.to_string(),
                detail: e.to_string(),
            })
        }
        Ok(match frame_type.as_str() {
            // `{users: [...]}` once after `auth`, else one user's presence (the list is
            // tried first, as an untagged enum would, without buffering the payload).
            "online" => match decode::<OnlineListPayload>(&frame_type, payload) {
                Ok(list) => ServerFrame::OnlineList(list.users),
                Err(_) => ServerFrame::Presence(decode(&frame_type, payload)?),
            },
            "message" => ServerFrame::Message(decode(&frame_type, payload)?),
            "typing" => {
                let p: TypingPayload = decode(&frame_type, payload)?;
                ServerFrame::Typing {
                    from: p.from,
                    username: p.username,
                    typing: p.typing,
                }
            }
            "status" => {
                let p: StatusPayload = decode(&frame_type, payload)?;
                ServerFrame::Status {
                    message_id: p.message_id,
                    status: p.status,
                }
            }
            "read" => {
                let p: ReadPayload = decode(&frame_type, payload)?;
                ServerFrame::Read {
                    message_ids: p.message_ids,
                    read_by: p.read_by,
                }
            }
            "group_message" => ServerFrame::GroupMessage(decode(&frame_type, payload)?),
            "group_typing" => {
                let p: GroupTypingPayload = decode(&frame_type, payload)?;
                ServerFrame::GroupTyping {
                    group_id: p.group_id,
                    user_id: p.user_id,
                    username: p.username,
                    typing: p.typing,
                }
            }
            "group_read" => {
                let p: GroupReadPayload = decode(&frame_type, payload)?;
                ServerFrame::GroupRead {
                    message_id: p.message_id,
                    group_id: p.group_id,
                    user_id: p.user_id,
                    read_at: p.read_at,
                }
            }
            "group_event" => ServerFrame::GroupEvent(decode(&frame_type, payload)?),
            "error" => {
                let p: ErrorPayload = decode(&frame_type, payload)?;
                ServerFrame::Error { message: p.message }
            }
            _ => ServerFrame::Unknown {
                payload: decode(&frame_type, payload)?,
                frame_type,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_serialize_as_type_and_payload() {
        let frame = ClientFrame::Message {
            to: "b".into(),
            content: "hi".into(),
            message_type: MessageType::Text,
            encrypted: false,
            message_id: Some("m1".into()),
            image_data: None,
        };
        assert_eq!(
            frame.to_json(),
            r#"{"type":"message","payload":{"to":"b","content":"hi","messageType":"text","encrypted":false,"messageId":"m1"}}"#
        );
        let auth = ClientFrame::Auth {
            user_id: "u".into(),
            username: "n".into(),
        };
        assert_eq!(
            auth.to_json(),
            r#"{"type":"auth","payload":{"userId":"u","username":"n"}}"#
        );
        let read = ClientFrame::GroupRead {
            group_id: "g".into(),
            message_id: "m".into(),
        };
        assert_eq!(
            read.to_json(),
            r#"{"type":"group_read","payload":{"groupId":"g","messageId":"m"}}"#
        );
    }

    #[test]
    fn server_frames_parse() {
        assert_eq!(
            ServerFrame::parse(
                r#"{"type":"online","payload":{"users":[{"userId":"a","username":"al","online":true}]}}"#
            )
            .unwrap(),
            ServerFrame::OnlineList(vec![Presence {
                user_id: "a".into(),
                username: "al".into(),
                online: true
            }])
        );
        assert!(matches!(
            ServerFrame::parse(
                r#"{"type":"online","payload":{"userId":"a","username":"al","online":false}}"#
            )
            .unwrap(),
            ServerFrame::Presence(Presence { online: false, .. })
        ));
        assert_eq!(
            ServerFrame::parse(
                r#"{"type":"error","payload":{"message":"Invalid message format"}}"#
            )
            .unwrap(),
            ServerFrame::Error {
                message: "Invalid message format".into()
            }
        );
        assert!(matches!(
            ServerFrame::parse(r#"{"type":"future","payload":{"x":1}}"#).unwrap(),
            ServerFrame::Unknown { .. }
        ));
        assert!(matches!(
            ServerFrame::parse("{nope"),
            Err(FrameError::Envelope { .. })
        ));
        assert!(matches!(
            ServerFrame::parse(r#"{"type":"message","payload":{"id":1}}"#),
            Err(FrameError::Payload { .. })
        ));
        // Neither the list nor one user's presence.
        assert!(matches!(
            ServerFrame::parse(r#"{"type":"online","payload":{"users":7}}"#),
            Err(FrameError::Payload { .. })
        ));
        // A repeated key is malformed (the backend never repeats one).
        assert!(matches!(
            ServerFrame::parse(
                r#"{"type":"typing","payload":{"from":"a","from":"b","typing":true}}"#
            ),
            Err(FrameError::Payload { .. })
        ));
        // No payload reads as `null`.
        assert_eq!(
            ServerFrame::parse(r#"{"type":"future"}"#).unwrap(),
            ServerFrame::Unknown {
                frame_type: "future".into(),
                payload: serde_json::Value::Null
            }
        );
        assert!(matches!(
            ServerFrame::parse(r#"{"type":"error"}"#),
            Err(FrameError::Payload { .. })
        ));
    }
}
