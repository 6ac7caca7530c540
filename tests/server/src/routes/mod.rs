//! The REST endpoints of PROTOCOL §6, one module per resource.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod groups;
pub(crate) mod invites;
pub(crate) mod keys;
pub(crate) mod members;
pub(crate) mod messages;
pub(crate) mod users;
pub(crate) mod verify;

/// The length of a string as JavaScript counts it (UTF-16 code units).
pub(crate) fn js_length(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A fresh server-made id (a UUIDv4, as `crypto.randomUUID()`).
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
