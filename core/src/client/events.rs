//! What the client reports: one [`Event`] enum, delivered to every subscriber.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures::Stream;
use futures::channel::mpsc;

use crate::session::IdentityChange;
use crate::store::{MessageRecord, MessageStatus};

/// Something that happened. Serializes as `{"type": "<snake_case name>", ...fields}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// The WebSocket is up and authenticated.
    Connected,
    /// The WebSocket went down.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The next connection attempt is scheduled.
    Reconnecting {
        /// Attempt number (1 for the first retry).
        attempt: u32,
        /// Delay before it, ms.
        delay_ms: u64,
    },
    /// History catch-up after a (re)connect finished.
    CaughtUp {
        /// Messages that were new to this device.
        new_messages: usize,
    },
    /// History catch-up after a (re)connect failed (the socket stays up; the next connect
    /// tries again).
    CatchUpFailed {
        /// Why.
        reason: String,
    },
    /// The connection loop ended for good: shut down, or an error reconnecting cannot fix.
    Stopped {
        /// The error, when it was not a shutdown.
        error: Option<String>,
    },
    /// A 1:1 message arrived (decrypted when it travelled encrypted; `encrypted` says which).
    Message {
        /// The message as stored.
        message: MessageRecord,
        /// `true` when it came over the socket, `false` when catch-up found it.
        live: bool,
    },
    /// One of this account's messages changed status (sent, delivered, read).
    MessageStatus {
        /// The message.
        message_id: String,
        /// Its new status.
        status: MessageStatus,
    },
    /// One of this account's messages got the backend's id (group messages: the backend
    /// names them, so the local pending copy is replaced by the backend's).
    MessageReplaced {
        /// The id the message had (the one the send call returned).
        old_id: String,
        /// The message as now stored, under the backend's id.
        message: MessageRecord,
    },
    /// A peer read messages of this account.
    MessagesRead {
        /// The messages.
        message_ids: Vec<String>,
        /// The reader.
        by: String,
    },
    /// A peer started or stopped typing.
    Typing {
        /// Who.
        user_id: String,
        /// Their name.
        username: String,
        /// On or off.
        typing: bool,
    },
    /// A user came online or went offline.
    Presence {
        /// Who.
        user_id: String,
        /// Their name.
        username: String,
        /// Online or not.
        online: bool,
    },
    /// A group message arrived.
    GroupMessage {
        /// The message as stored.
        message: MessageRecord,
        /// Over the socket (`true`) or from history.
        live: bool,
    },
    /// A member is typing in a group.
    GroupTyping {
        /// The group.
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
        /// The group.
        group_id: String,
        /// The message.
        message_id: String,
        /// Who.
        user_id: String,
        /// When, ms.
        read_at: i64,
    },
    /// A group event relayed by a member.
    GroupEvent {
        /// The group.
        group_id: String,
        /// The whole payload as sent.
        payload: serde_json::Map<String, serde_json::Value>,
    },
    /// An encrypted message could not be decrypted. It is kept (with its content as
    /// received) and never shown as plaintext.
    DecryptionFailed {
        /// The message.
        message_id: String,
        /// Its sender.
        from: String,
        /// Why.
        reason: String,
    },
    /// A peer's identity key changed.
    IdentityChanged {
        /// What changed.
        change: IdentityChange,
    },
    /// The backend sent an error frame.
    ServerError {
        /// Its message.
        message: String,
    },
    /// The backend sent a frame this client cannot read (it is skipped).
    MalformedFrame {
        /// What was wrong.
        detail: String,
    },
    /// The login expired and could not be renewed: log in again.
    SessionExpired,
    /// A user was looked up whose name may imitate another (see [`crate::names`]): not
    /// plain ASCII, with invisible characters, mixed scripts, or looking like a contact's.
    SuspiciousName {
        /// The user.
        user_id: String,
        /// Their name as the server has it.
        username: String,
        /// What is suspicious about it.
        issues: Vec<crate::names::NameIssue>,
    },
}

/// Fans events out to subscribers.
#[derive(Default)]
pub(crate) struct EventBus {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Event>>>,
}

impl EventBus {
    pub(crate) fn subscribe(&self) -> EventStream {
        let (sender, receiver) = mpsc::unbounded();
        self.lock().push(sender);
        EventStream { receiver }
    }

    pub(crate) fn emit(&self, event: Event) {
        // Subscribers whose stream was dropped are forgotten.
        self.lock()
            .retain(|subscriber| subscriber.unbounded_send(event.clone()).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::UnboundedSender<Event>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The events of one client, from subscription on, as an async stream. It ends when the
/// client is dropped.
pub struct EventStream {
    receiver: mpsc::UnboundedReceiver<Event>,
}

impl EventStream {
    /// Waits, on a stream subscribed before connecting, until the connection is usable:
    /// the socket is up and history caught up (or catch-up failed, which leaves the socket
    /// up). `Err(Some(reason))` when the connection stopped for good, `Err(None)` when the
    /// stream ended (the client was dropped).
    pub async fn until_ready(&mut self) -> Result<(), Option<String>> {
        use futures::StreamExt;
        while let Some(event) = self.next().await {
            match event {
                Event::CaughtUp { .. } | Event::CatchUpFailed { .. } => return Ok(()),
                Event::Stopped { error } => {
                    return Err(Some(error.unwrap_or_else(|| "shut down".to_string())));
                }
                _ => {}
            }
        }
        Err(None)
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.receiver).poll_next(cx)
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PublicKey;

    #[test]
    fn events_serialize_as_tagged_json_with_fingerprints() {
        let change = IdentityChange {
            peer_id: "p".into(),
            previous_key: PublicKey::from_bytes([1; 32]),
            new_key: PublicKey::from_bytes([2; 32]),
            was_verified: true,
        };
        let json = serde_json::to_value(Event::IdentityChanged {
            change: change.clone(),
        })
        .unwrap();
        assert_eq!(json["type"], "identity_changed");
        assert_eq!(json["change"]["wasVerified"], true);
        assert_eq!(
            json["change"]["newFingerprint"],
            change.new_fingerprint().as_str()
        );
        let json = serde_json::to_value(Event::CaughtUp { new_messages: 3 }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "caught_up", "newMessages": 3})
        );
    }
}
