//! Caps on the fields of REST request bodies. The backend has none (a 90 MB username was
//! accepted), which lets one request fill the database; this server refuses a body with a
//! field over its cap with 400 `{"error": "<field> must be at most <n> characters"}`.
//! Lengths count UTF-16 code units, as the backend's other length checks do. Every cap is
//! far above what a real client sends.

use crate::error::ApiError;
use crate::json::Json;
use crate::routes::js_length;

/// `username` (register, login).
pub const MAX_USERNAME_CHARS: usize = 64;
/// `password` (register, login).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// `avatar` of a user or group: an emoji, a URL or a small `data:` image.
pub const MAX_AVATAR_CHARS: usize = 256 * 1024;
/// A group's `name`.
pub const MAX_GROUP_NAME_CHARS: usize = 128;
/// A group's `description`.
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
/// A group's `settings` object, as JSON text.
pub const MAX_SETTINGS_CHARS: usize = 16 * 1024;
/// Key material: `identityKey`, `signingKey`, `fingerprint`, `publicKey`, `signature`,
/// `verifiedFingerprint` (a real one is under 100 characters).
pub const MAX_KEY_CHARS: usize = 1024;
/// Ids, codes and names of states: `id`, `fromUser`, `toUser`, `verifiedUserId`,
/// `verificationMethod`, `linkCode`, `disabled_by`, `role`, `status`, and each item of
/// `memberIds`, `userIds` and `messageIds`. Also the longest member name of any object.
pub const MAX_ID_CHARS: usize = 256;
/// Any other string, such as the `content` of a message stored over REST (16 Mi: an image
/// message of several megabytes passes; the body limit alone would allow 100 MB).
pub const MAX_TEXT_CHARS: usize = 16 * 1024 * 1024;

/// The cap of a string found under the member `key`.
fn cap_of(key: &str) -> (&'static str, usize) {
    match key {
        "username" => ("username", MAX_USERNAME_CHARS),
        "password" => ("password", MAX_PASSWORD_CHARS),
        "avatar" => ("avatar", MAX_AVATAR_CHARS),
        "name" => ("name", MAX_GROUP_NAME_CHARS),
        "description" => ("description", MAX_DESCRIPTION_CHARS),
        "identityKey" => ("identityKey", MAX_KEY_CHARS),
        "signingKey" => ("signingKey", MAX_KEY_CHARS),
        "fingerprint" => ("fingerprint", MAX_KEY_CHARS),
        "publicKey" => ("publicKey", MAX_KEY_CHARS),
        "signature" => ("signature", MAX_KEY_CHARS),
        "verifiedFingerprint" => ("verifiedFingerprint", MAX_KEY_CHARS),
        "id" => ("id", MAX_ID_CHARS),
        "fromUser" => ("fromUser", MAX_ID_CHARS),
        "toUser" => ("toUser", MAX_ID_CHARS),
        "verifiedUserId" => ("verifiedUserId", MAX_ID_CHARS),
        "verificationMethod" => ("verificationMethod", MAX_ID_CHARS),
        "linkCode" => ("linkCode", MAX_ID_CHARS),
        "disabled_by" => ("disabled_by", MAX_ID_CHARS),
        "role" => ("role", MAX_ID_CHARS),
        "status" => ("status", MAX_ID_CHARS),
        "memberIds" => ("memberIds", MAX_ID_CHARS),
        "userIds" => ("userIds", MAX_ID_CHARS),
        "messageIds" => ("messageIds", MAX_ID_CHARS),
        _ => ("Text fields", MAX_TEXT_CHARS),
    }
}

/// Refuses a body with a string, member name or `settings` object over its cap.
pub(crate) fn check_body(body: &Json) -> Result<(), ApiError> {
    check(None, body)
}

fn check(key: Option<&str>, value: &Json) -> Result<(), ApiError> {
    match value {
        Json::String(text) => {
            let (field, max) = key.map_or(("Text fields", MAX_TEXT_CHARS), cap_of);
            // A byte count never falls below the UTF-16 length: most strings need no count.
            if text.len() > max && js_length(text) > max {
                return Err(ApiError::FieldTooLong { field, max });
            }
            Ok(())
        }
        Json::Array(items) => items.iter().try_for_each(|item| check(key, item)),
        Json::Object(members) => {
            if key == Some("settings") && js_length(&value.to_text()) > MAX_SETTINGS_CHARS {
                return Err(ApiError::FieldTooLong {
                    field: "settings",
                    max: MAX_SETTINGS_CHARS,
                });
            }
            members.iter().try_for_each(|(name, member)| {
                if name.len() > MAX_ID_CHARS && js_length(name) > MAX_ID_CHARS {
                    return Err(ApiError::FieldTooLong {
                        field: "Field names",
                        max: MAX_ID_CHARS,
                    });
                }
                check(Some(name), member)
            })
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Json {
        Json::parse(text.as_bytes()).expect("JSON")
    }

    fn refusal(json: &Json) -> Option<String> {
        check_body(json).err().map(|e| e.to_string())
    }

    #[test]
    fn fields_at_their_cap_pass_and_one_more_is_refused() {
        let at = "u".repeat(MAX_USERNAME_CHARS);
        assert_eq!(refusal(&body(&format!(r#"{{"username":"{at}"}}"#))), None);
        assert_eq!(
            refusal(&body(&format!(r#"{{"username":"{at}u"}}"#))).as_deref(),
            Some("username must be at most 64 characters")
        );
    }

    #[test]
    fn utf16_length_is_what_counts() {
        // 64 emoji are 128 UTF-16 units and 256 bytes: within the group name cap of 128.
        let emoji = "🙂".repeat(64);
        assert_eq!(refusal(&body(&format!(r#"{{"name":"{emoji}"}}"#))), None);
        let emoji = "🙂".repeat(65);
        assert!(refusal(&body(&format!(r#"{{"name":"{emoji}"}}"#))).is_some());
    }

    #[test]
    fn nested_items_arrays_settings_and_member_names_are_capped() {
        let long_key = "k".repeat(MAX_KEY_CHARS + 1);
        let nested = format!(r#"{{"oneTimePrekeys":[{{"keyId":1,"publicKey":"{long_key}"}}]}}"#);
        assert_eq!(
            refusal(&body(&nested)).as_deref(),
            Some("publicKey must be at most 1024 characters")
        );
        let long_id = "i".repeat(MAX_ID_CHARS + 1);
        let ids = format!(r#"{{"messageIds":["a","{long_id}"]}}"#);
        assert!(refusal(&body(&ids)).is_some());
        let settings = format!(
            r#"{{"settings":{{"x":"{}"}}}}"#,
            "s".repeat(MAX_SETTINGS_CHARS)
        );
        assert_eq!(
            refusal(&body(&settings)).as_deref(),
            Some("settings must be at most 16384 characters")
        );
        let member = format!(r#"{{"{long_id}":1}}"#);
        assert!(refusal(&body(&member)).is_some());
        let content = format!(r#"{{"content":"{}"}}"#, "c".repeat(MAX_TEXT_CHARS + 1));
        assert!(refusal(&body(&content)).is_some());
        assert_eq!(
            refusal(&body(r#"{"content":"hi","n":[1,true,null]}"#)),
            None
        );
    }
}
