//! The on-disk layout: redb tables, index key encodings and associated data.
//!
//! Every encoding here is part of the file format (version [`FORMAT`]); changing one means a
//! new format version.

use quickchat_core::store::{Conversation, MessageRecord};
use redb::TableDefinition;

/// Value of [`META_FORMAT`]: names the file as a quickchat store and its layout version.
pub(crate) const FORMAT: &[u8] = b"quickchat-store/1";

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
/// Index of the outbox: timestamp ‖ message id → conversation key, for `Pending` messages only.
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
#[cfg(test)]
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

/// The associated data a record is sealed with: table name, a zero byte, the record's key.
/// A sealed value copied under another key, or into another table, does not open.
pub(crate) fn aad(table: &str, key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(table.len() + 1 + key.len());
    aad.extend_from_slice(table.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key);
    aad
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
