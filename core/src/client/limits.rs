//! Caps on what an incoming message may make this client store. A message over a cap is
//! stored *refused*: its text and image are not kept, `decrypt_error` says why, `wire`
//! keeps only the first [`KEPT_PREFIX`] bytes of the content as received, and it is
//! reported like a message that cannot be read ([`Event::DecryptionFailed`] for 1:1
//! messages; group messages arrive as [`Event::GroupMessage`] with the refused record).
//! Nothing over a cap is decrypted.
//!
//! [`Event::DecryptionFailed`]: super::Event::DecryptionFailed
//! [`Event::GroupMessage`]: super::Event::GroupMessage

use crate::envelope::MAX_ENVELOPE_LEN;
use crate::protocol::ws::MessagePayload;
use crate::store::{Direction, MessageRecord};

/// The longest text kept, bytes: 1 MiB, as much as an encrypted envelope can carry.
pub const MAX_TEXT: usize = 1 << 20;

/// The longest encrypted content (the envelope on the wire) that is decrypted, bytes:
/// [`MAX_ENVELOPE_LEN`], 1 MiB.
pub const MAX_WIRE: usize = MAX_ENVELOPE_LEN;

/// The longest image data URL kept, bytes: 10 MiB (a picture of about 7.5 MB).
pub const MAX_IMAGE_DATA: usize = 10 << 20;

/// How much of a refused message's content is kept in its `wire`, bytes: 4 KiB.
pub const KEPT_PREFIX: usize = 4 << 10;

/// Why a message with this content cannot be stored, if it is over a cap.
pub(crate) fn oversized(
    encrypted: bool,
    content: &str,
    image_data: Option<&str>,
) -> Option<String> {
    let (what, limit) = if encrypted {
        ("encrypted content", MAX_WIRE)
    } else {
        ("text", MAX_TEXT)
    };
    if content.len() > limit {
        return Some(refusal(what, content.len(), limit));
    }
    match image_data {
        Some(image) if image.len() > MAX_IMAGE_DATA => {
            Some(refusal("image", image.len(), MAX_IMAGE_DATA))
        }
        _ => None,
    }
}

fn refusal(what: &str, len: usize, limit: usize) -> String {
    format!("refused: the {what} is {len} bytes, over the {limit}-byte limit")
}

/// Why this 1:1 message from the backend cannot be stored, if it is over a cap.
pub(crate) fn refusal_of(payload: &MessagePayload) -> Option<String> {
    oversized(
        payload.encrypted,
        &payload.content,
        payload.image_data.as_deref(),
    )
}

/// Makes `record` the refused form of a message whose content as received was `received`.
/// Only an incoming message keeps a prefix in `wire` (an outgoing message's `wire` is what
/// is still to be sent).
pub(crate) fn refuse(record: &mut MessageRecord, received: &str, reason: String) {
    record.body = String::new();
    record.image_data = None;
    record.wire = (record.direction == Direction::Incoming)
        .then(|| prefix(received, KEPT_PREFIX).to_string());
    record.decrypt_error = Some(reason);
}

/// Refuses `record`, built with its plaintext `body` and image as the backend has them, if
/// either is over its cap; returns why.
pub(crate) fn enforce(record: &mut MessageRecord) -> Option<String> {
    let reason = oversized(false, &record.body, record.image_data.as_deref())?;
    let body = std::mem::take(&mut record.body);
    refuse(record, &body, reason.clone());
    Some(reason)
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ContentKind, Conversation, MessageStatus};

    fn record(body: &str, image: Option<&str>) -> MessageRecord {
        MessageRecord {
            id: "m1".into(),
            conversation: Conversation::Direct("p".into()),
            sender_id: "p".into(),
            direction: Direction::Incoming,
            body: body.into(),
            kind: ContentKind::Text,
            image_data: image.map(str::to_string),
            timestamp: 1,
            status: MessageStatus::Delivered,
            encrypted: false,
            read_at: None,
            wire: None,
            decrypt_error: None,
        }
    }

    #[test]
    fn content_within_the_caps_is_left_alone() {
        let text = "x".repeat(MAX_TEXT);
        let mut kept = record(&text, Some("data:image/png;base64,AAAA"));
        assert_eq!(enforce(&mut kept), None);
        assert_eq!(kept.body.len(), MAX_TEXT);
        assert!(kept.image_data.is_some() && kept.wire.is_none());
    }

    #[test]
    fn an_oversized_text_keeps_only_a_prefix_and_the_reason() {
        let text = "é".repeat(MAX_TEXT);
        let mut refused = record(&text, None);
        let reason = enforce(&mut refused).expect("refused");
        assert!(reason.contains("2097152 bytes"), "{reason}");
        assert_eq!(refused.body, "");
        let wire = refused.wire.expect("prefix kept");
        assert!(wire.len() <= KEPT_PREFIX && wire.len() > KEPT_PREFIX - 2);
        assert!(text.starts_with(&wire));
        assert_eq!(refused.decrypt_error, Some(reason));
    }

    #[test]
    fn an_oversized_image_or_wire_is_refused() {
        let image = "a".repeat(MAX_IMAGE_DATA + 1);
        let mut refused = record("caption", Some(&image));
        assert!(enforce(&mut refused).is_some());
        assert_eq!(refused.image_data, None);
        assert_eq!(refused.body, "");
        let wire = "w".repeat(MAX_WIRE + 1);
        assert!(oversized(true, &wire, None).is_some());
        assert!(oversized(true, &wire[..MAX_WIRE], None).is_none());
        // Our own message sent from elsewhere: nothing of it kept as "to send".
        let mut own = record(&"t".repeat(MAX_TEXT + 1), None);
        own.direction = Direction::Outgoing;
        assert!(enforce(&mut own).is_some());
        assert_eq!(own.wire, None);
    }
}
