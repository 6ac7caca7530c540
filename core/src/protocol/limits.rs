//! How much a server may make a client hold in memory: the size of a REST answer, of one
//! WebSocket message, and how many messages wait unread. Both platforms enforce these; a
//! backend (or whoever stands in for it) that sends more gets an error, not the memory.

/// The longest answer of an endpoint that returns one small object (auth, a key bundle,
/// a status, one group, an invite), bytes: 1 MiB.
pub const MAX_SMALL_RESPONSE: usize = 1 << 20;

/// The longest answer of an endpoint that returns a list of users or groups (`/api/users`,
/// `/api/admin/users`, `/api/groups`, a group's members), bytes: 16 MiB, about 100,000
/// users.
pub const MAX_LIST_RESPONSE: usize = 16 << 20;

/// The longest answer of a history endpoint (`/api/messages/{peer}`,
/// `/api/groups/{id}/messages`), bytes: 128 MiB. 1:1 history has no paging and carries
/// every image ever exchanged with that peer, hence the large cap; a conversation past it
/// cannot be caught up (the error names the cap and the endpoint).
pub const MAX_HISTORY_RESPONSE: usize = 128 << 20;

/// The longest WebSocket message accepted, bytes: 16 MiB. A 1:1 message is at most a 1 MiB
/// envelope, but image messages carry their picture as a data URL; longer messages close
/// the socket (the client reconnects and catches up from history).
pub const MAX_FRAME: usize = 16 << 20;

/// How many received WebSocket messages may wait for the client to handle them. Past that
/// (or past [`MAX_QUEUED_BYTES`]) the native transport stops reading the socket, so TCP
/// backpressure slows the server down; the browser cannot pause a socket, so it closes it
/// instead (the client reconnects and catches up from history).
pub const FRAME_QUEUE: usize = 256;

/// How many bytes of received WebSocket messages may wait for the client to handle them:
/// 32 MiB (room for two messages of [`MAX_FRAME`]). See [`FRAME_QUEUE`].
pub const MAX_QUEUED_BYTES: usize = 2 * MAX_FRAME;

// Lists get more room than single objects, history more than lists, and the queue always
// has room for one message of the largest size (the native reader relies on it).
const _: () = assert!(
    MAX_SMALL_RESPONSE < MAX_LIST_RESPONSE
        && MAX_LIST_RESPONSE < MAX_HISTORY_RESPONSE
        && MAX_FRAME <= MAX_QUEUED_BYTES
        && MAX_QUEUED_BYTES <= u32::MAX as usize
);

/// The answer size allowed for the endpoint with this path template (as in
/// [`ApiError`](super::ApiError)'s `path`).
pub(crate) fn max_response(template: &str) -> usize {
    match template {
        "/api/messages/{peer}?user={me}" | "/api/groups/{id}/messages" => MAX_HISTORY_RESPONSE,
        "/api/users" | "/api/admin/users" | "/api/groups" | "/api/groups/{id}/members" => {
            MAX_LIST_RESPONSE
        }
        _ => MAX_SMALL_RESPONSE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_history_get_more_room_than_single_objects() {
        assert_eq!(max_response("/api/users"), MAX_LIST_RESPONSE);
        assert_eq!(
            max_response("/api/messages/{peer}?user={me}"),
            MAX_HISTORY_RESPONSE
        );
        assert_eq!(max_response("/api/users/{id}/prekeys"), MAX_SMALL_RESPONSE);
    }
}
