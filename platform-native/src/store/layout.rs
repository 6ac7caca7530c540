//! The on-disk layout: redb tables, index key encodings and associated data.
//!
//! Every encoding here is part of the file format (version [`FORMAT`]); changing one means a
//! new format version.

use quickchat_core::store::sealing::Place;
use quickchat_core::store::{Conversation, MessageRecord};
use redb::{TableDefinition, TableHandle};

/// Value of [`META_FORMAT`]: names the file as a quickchat store and its layout version.
///
/// Version 2 keeps a pending message's wire (ciphertext already meant for the backend) in
/// its [`OUTBOX`] entry instead of inside the sealed record ([`outbox_value`]): every message
/// sent costs less to seal and to rewrite when the backend confirms it.
pub(crate) const FORMAT: &[u8] = b"quickchat-store/2";
/// The previous layout version. Its files are valid version-2 files (no outbox entry of
/// theirs holds a wire), so opening one only rewrites the marker.
pub(crate) const FORMAT_1: &[u8] = b"quickchat-store/1";

/// Clear header: the format, the KDF parameters and the passphrase check.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Key of the format marker in [`META`].
pub(crate) const META_FORMAT: &str = "format";
/// Key of the JSON [`KdfParams`](quickchat_core::store::sealing::KdfParams) in [`META`].
pub(crate) const META_KDF: &str = "kdf";
/// Key of the passphrase check value in [`META`].
pub(crate) const META_CHECK: &str = "check";

/// The account's own records, sealed: [`ACCOUNT_IDENTITY`] and [`ACCOUNT_META`].
pub(crate) const ACCOUNT: TableDefinition<&str, &[u8]> = TableDefinition::new("account");
/// Key of the sealed `IdentityRecord` in [`ACCOUNT`].
pub(crate) const ACCOUNT_IDENTITY: &str = "identity";
/// Key of the sealed `AccountMeta` in [`ACCOUNT`].
pub(crate) const ACCOUNT_META: &str = "meta";

/// Signed prekeys by id, sealed.
pub(crate) const SIGNED_PREKEYS: TableDefinition<u32, &[u8]> =
    TableDefinition::new("signed_prekeys");
/// One-time prekeys by id, sealed.
pub(crate) const ONE_TIME_PREKEYS: TableDefinition<u32, &[u8]> =
    TableDefinition::new("one_time_prekeys");
/// Peer sessions by peer id, sealed.
pub(crate) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// Known peer identities by peer id, sealed.
pub(crate) const KNOWN_IDENTITIES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("known_identities");
/// Messages by id: (locator, sealed record). The locator is the clear conversation key and
/// timestamp the record is indexed under ([`locator`]), so a replacement finds its old index
/// entries without opening the old record.
pub(crate) const MESSAGES: TableDefinition<&str, (&[u8], &[u8])> = TableDefinition::new("messages");
/// Index: conversation key ‖ timestamp ‖ message id → nothing.
pub(crate) const BY_CONVERSATION: TableDefinition<&[u8], ()> =
    TableDefinition::new("messages_by_conversation");
/// Index: timestamp ‖ message id → nothing (all conversations, in time order).
pub(crate) const BY_TIME: TableDefinition<&[u8], ()> = TableDefinition::new("messages_by_time");
/// Index of the outbox: timestamp ‖ message id → [`outbox_value`], for `Pending` messages
/// only.
pub(crate) const OUTBOX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbox");

/// The tables [`StoreOp::ClearKeys`](quickchat_core::store::StoreOp::ClearKeys) empties.
pub(crate) const KEY_TABLES_STR: [TableDefinition<&str, &[u8]>; 3] =
    [ACCOUNT, SESSIONS, KNOWN_IDENTITIES];
/// The prekey tables [`StoreOp::ClearKeys`](quickchat_core::store::StoreOp::ClearKeys) empties.
pub(crate) const KEY_TABLES_U32: [TableDefinition<u32, &[u8]>; 2] =
    [SIGNED_PREKEYS, ONE_TIME_PREKEYS];

/// Length of an encoded timestamp.
pub(crate) const TS_LEN: usize = 8;

/// A timestamp as 8 bytes whose byte order is the numeric order (big endian, sign bit
/// flipped).
pub(crate) fn encode_ts(ts: i64) -> [u8; TS_LEN] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`encode_ts`].
pub(crate) fn decode_ts(bytes: [u8; TS_LEN]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// A conversation as a prefix-free key: kind byte (0 direct, 1 group), id length (u32 big
/// endian), id bytes. No conversation's key is a prefix of another's, so every index key of
/// one conversation lies in one contiguous range.
pub(crate) fn conversation_key(conversation: &Conversation) -> Vec<u8> {
    let (kind, id) = match conversation {
        Conversation::Direct(id) => (0u8, id),
        Conversation::Group(id) => (1u8, id),
    };
    let mut key = Vec::with_capacity(5 + id.len());
    key.push(kind);
    // An id longer than 4 GiB cannot be held in a redb value anyway.
    key.extend_from_slice(&u32::try_from(id.len()).unwrap_or(u32::MAX).to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// The conversation an index key starts with, and that conversation's key (the inverse of
/// [`conversation_key`]); `None` if malformed.
pub(crate) fn split_conversation_key(key: &[u8]) -> Option<(Conversation, Vec<u8>)> {
    let kind = *key.first()?;
    let len = u32::from_be_bytes(key.get(1..5)?.try_into().ok()?);
    let end = 5usize.checked_add(usize::try_from(len).ok()?)?;
    let id = std::str::from_utf8(key.get(5..end)?).ok()?.to_string();
    let conversation = match kind {
        0 => Conversation::Direct(id),
        1 => Conversation::Group(id),
        _ => return None,
    };
    Some((conversation, key.get(..end)?.to_vec()))
}

/// Where a message is indexed: conversation key ‖ timestamp.
pub(crate) fn locator(record: &MessageRecord) -> Vec<u8> {
    let mut loc = conversation_key(&record.conversation);
    loc.extend_from_slice(&encode_ts(record.timestamp));
    loc
}

/// A locator split into its conversation key and timestamp bytes.
pub(crate) fn split_locator(loc: &[u8]) -> Option<(&[u8], [u8; TS_LEN])> {
    let at = loc.len().checked_sub(TS_LEN)?;
    let (conversation, ts) = loc.split_at(at);
    Some((conversation, ts.try_into().ok()?))
}

/// The key in [`BY_CONVERSATION`] for a message at `loc`.
pub(crate) fn conversation_index_key(loc: &[u8], id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(loc.len() + id.len());
    key.extend_from_slice(loc);
    key.extend_from_slice(id.as_bytes());
    key
}

/// The key in [`BY_TIME`] and [`OUTBOX`] for a message at timestamp bytes `ts`.
pub(crate) fn time_index_key(ts: [u8; TS_LEN], id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(TS_LEN + id.len());
    key.extend_from_slice(&ts);
    key.extend_from_slice(id.as_bytes());
    key
}

/// An upper bound above every index key that starts with `prefix` followed by a timestamp
/// and a message id: a message id is UTF-8, which never holds the byte 0xFF.
pub(crate) fn above_all(prefix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + TS_LEN + 1);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&[0xFF; TS_LEN + 1]);
    key
}

/// Marks the wire after the conversation key in an [`OUTBOX`] value.
const OUTBOX_WIRE: u8 = 1;

/// An outbox entry's value: the conversation key, then, for a message with a wire,
/// [`OUTBOX_WIRE`] and the wire's bytes. The wire is kept in the clear: it is the end-to-end
/// ciphertext the backend receives, and the sealed record is bound to it ([`message_place`]).
pub(crate) fn outbox_value(conversation: &[u8], wire: Option<&str>) -> Vec<u8> {
    let wire = wire.map(str::as_bytes).unwrap_or_default();
    let mut value = Vec::with_capacity(conversation.len() + 1 + wire.len());
    value.extend_from_slice(conversation);
    if !wire.is_empty() {
        value.push(OUTBOX_WIRE);
        value.extend_from_slice(wire);
    }
    value
}

/// An [`OUTBOX`] value split into its conversation key and wire; `None` if malformed.
pub(crate) fn split_outbox_value(value: &[u8]) -> Option<(&[u8], Option<&str>)> {
    let len = u32::from_be_bytes(value.get(1..5)?.try_into().ok()?);
    let end = 5usize.checked_add(usize::try_from(len).ok()?)?;
    let conversation = value.get(..end)?;
    match value.get(end..)? {
        [] => Some((conversation, None)),
        [OUTBOX_WIRE, wire @ ..] if !wire.is_empty() => {
            Some((conversation, Some(std::str::from_utf8(wire).ok()?)))
        }
        _ => None,
    }
}

/// Where a sealed message lives: its id in `messages`, and, when its wire is kept in the
/// outbox, bound to that wire (core's [`Place::bound_to`]: the byte 0xFF, never part of
/// UTF-8, so no id can run into it, then the wire). A wire changed or swapped in the outbox
/// makes the record refuse to open.
pub(crate) fn message_place<'a>(id: &'a str, wire: Option<&'a str>) -> Place<'a> {
    let place = Place::new(MESSAGES.name(), id.as_bytes()).named("message");
    match wire {
        Some(wire) => place.bound_to(wire.as_bytes()),
        None => place,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_bytes_in_numeric_order() {
        let values = [i64::MIN, -5, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for pair in values.windows(2) {
            assert!(encode_ts(pair[0]) < encode_ts(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(decode_ts(encode_ts(v)), v);
        }
    }

    #[test]
    fn conversation_keys_are_prefix_free() {
        let keys = [
            conversation_key(&Conversation::Direct("a".into())),
            conversation_key(&Conversation::Direct("ab".into())),
            conversation_key(&Conversation::Group("a".into())),
            conversation_key(&Conversation::Direct(String::new())),
        ];
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                if i != j {
                    assert!(!b.starts_with(a), "{a:?} is a prefix of {b:?}");
                }
            }
        }
    }

    #[test]
    fn outbox_values_round_trip_and_malformed_ones_are_refused() {
        for conversation in [
            Conversation::Direct("peer".into()),
            Conversation::Group(String::new()),
        ] {
            let key = conversation_key(&conversation);
            for wire in [None, Some("{\"header\":{}}")] {
                let value = outbox_value(&key, wire);
                assert_eq!(split_outbox_value(&value), Some((key.as_slice(), wire)));
            }
            // A version-1 value is the conversation key alone.
            assert_eq!(split_outbox_value(&key), Some((key.as_slice(), None)));
            let mut unknown = key.clone();
            unknown.extend_from_slice(&[2, b'x']);
            assert_eq!(split_outbox_value(&unknown), None);
            assert_eq!(split_outbox_value(&key[..key.len() - 1]), None);
        }
        assert_eq!(split_outbox_value(&[0, 0xFF, 0xFF, 0xFF, 0xFF]), None);
    }

    #[test]
    fn above_all_bounds_every_key_of_its_prefix() {
        let prefix = conversation_key(&Conversation::Group("g".into()));
        let loc = [prefix.clone(), encode_ts(i64::MAX).to_vec()].concat();
        let key = conversation_index_key(&loc, "\u{10FFFF}\u{10FFFF}");
        assert!(key < above_all(&prefix));
        assert!(
            prefix
                < conversation_index_key(
                    &[prefix.clone(), encode_ts(i64::MIN).to_vec()].concat(),
                    ""
                )
        );
    }
}
