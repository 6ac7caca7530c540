//! The connection table: one entry per user id, in the order users connected, as the
//! backend's JavaScript `Map` keeps them. Every frame to a socket goes through its
//! [`Outbox`], so frames to one socket leave in the order they were queued.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::ws::Utf8Bytes;
use indexmap::IndexMap;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ws::frames;

/// What the writer of a socket is asked to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send a text frame.
    Text(Utf8Bytes),
    /// Send a close frame with this code and reason, then stop writing.
    Close(u16, &'static str),
}

/// How much may wait in one socket's outbox before the socket is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    /// Frames waiting to be written.
    pub frames: usize,
    /// Bytes of text waiting to be written.
    pub bytes: usize,
}

/// The sending side of one socket. Its queue is bounded: a peer that stops reading while
/// frames keep coming would otherwise make the server buffer without limit, so the frame
/// that overflows it drops the connection instead (see [`Outbox::dropped`]).
#[derive(Clone)]
pub(crate) struct Outbox {
    queue: mpsc::Sender<Outgoing>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    closing: Arc<AtomicBool>,
    close_requested: Arc<Notify>,
    dropped: CancellationToken,
}

/// The receiving side of an [`Outbox`], drained by the socket's writer.
pub(crate) struct OutboxReceiver {
    queue: mpsc::Receiver<Outgoing>,
    queued_bytes: Arc<AtomicUsize>,
}

impl OutboxReceiver {
    /// The next item, waiting for one; `None` once every [`Outbox`] is gone.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        let item = self.queue.recv().await;
        self.account(item.as_ref());
        item
    }

    /// The next item if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        let item = self.queue.try_recv().ok();
        self.account(item.as_ref());
        item
    }

    fn account(&self, item: Option<&Outgoing>) {
        if let Some(Outgoing::Text(text)) = item {
            self.queued_bytes.fetch_sub(text.len(), Ordering::SeqCst);
        }
    }
}

impl Outbox {
    /// A new outbox bounded by `limits`, the receiver its writer drains, and the
    /// notification fired when the server decides to close the socket.
    pub(crate) fn new(limits: QueueLimits) -> (Outbox, OutboxReceiver, Arc<Notify>) {
        // One slot more than the frame limit, so that a close frame always fits.
        let (queue, receiver) = mpsc::channel(limits.frames.saturating_add(1).max(2));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let close_requested = Arc::new(Notify::new());
        let outbox = Outbox {
            queue,
            queued_bytes: queued_bytes.clone(),
            max_bytes: limits.bytes,
            closing: Arc::new(AtomicBool::new(false)),
            close_requested: close_requested.clone(),
            dropped: CancellationToken::new(),
        };
        let receiver = OutboxReceiver {
            queue: receiver,
            queued_bytes,
        };
        (outbox, receiver, close_requested)
    }

    /// Queues a text frame; `false` if the socket is gone or closing, or if the frame does
    /// not fit, which drops the connection.
    pub(crate) fn send(&self, text: Utf8Bytes) -> bool {
        if self.is_closing() {
            return false;
        }
        let len = text.len();
        let before = self.queued_bytes.fetch_add(len, Ordering::SeqCst);
        // The frame limit leaves one slot for a close frame.
        let frames_full = self.queue.capacity() <= 1;
        if before.saturating_add(len) > self.max_bytes || frames_full {
            self.queued_bytes.fetch_sub(len, Ordering::SeqCst);
            tracing::warn!(
                queued_bytes = before,
                "a socket is not reading its frames; dropping it"
            );
            self.drop_connection();
            return false;
        }
        if self.queue.try_send(Outgoing::Text(text)).is_err() {
            self.queued_bytes.fetch_sub(len, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Queues a close frame after what is already queued; later frames are dropped.
    pub(crate) fn close(&self, code: u16, reason: &'static str) {
        if !self.closing.swap(true, Ordering::SeqCst) {
            // The slot kept free for it makes this fail only when the socket is gone.
            let _ = self.queue.try_send(Outgoing::Close(code, reason));
            self.close_requested.notify_one();
        }
    }

    /// Drops the connection at once, without a close frame and without writing what is
    /// queued, as a network failure would.
    pub(crate) fn drop_connection(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.dropped.cancel();
    }

    /// Completes once the connection is to be dropped.
    pub(crate) async fn dropped(&self) {
        self.dropped.cancelled().await;
    }

    /// Whether the server has decided to close this socket.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

struct Entry {
    connection: u64,
    username: String,
    outbox: Outbox,
}

/// An open socket, whether or not the table still lists it (the reconnect race removes
/// entries of sockets that stay open).
struct Socket {
    user_id: Option<String>,
    outbox: Outbox,
    /// Cancelled when the socket's task has finished, close handler included.
    done: CancellationToken,
}

/// The table of authenticated connections, keyed by user id.
#[derive(Default)]
pub(crate) struct Hub {
    table: Mutex<IndexMap<String, Entry>>,
    sockets: Mutex<HashMap<u64, Socket>>,
    next_connection: AtomicU64,
    /// Whether presence is told to everyone (the backend's behaviour); see
    /// [`Config::with_presence_fanout`](crate::Config::with_presence_fanout).
    quiet_presence: bool,
}

impl Hub {
    /// A hub that tells presence to everyone (`fanout`, the backend's behaviour) or to
    /// nobody (a socket's online list names only its own user).
    pub(crate) fn with_presence_fanout(fanout: bool) -> Self {
        Hub {
            quiet_presence: !fanout,
            ..Hub::default()
        }
    }

    fn table(&self) -> MutexGuard<'_, IndexMap<String, Entry>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sockets(&self) -> MutexGuard<'_, HashMap<u64, Socket>> {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an open socket; `done` is cancelled when its task has finished.
    pub(crate) fn open_socket(&self, connection: u64, outbox: &Outbox, done: CancellationToken) {
        self.sockets().insert(
            connection,
            Socket {
                user_id: None,
                outbox: outbox.clone(),
                done,
            },
        );
    }

    /// Forgets a socket whose task is finishing.
    pub(crate) fn close_socket(&self, connection: u64) {
        self.sockets().remove(&connection);
    }

    /// Drops every open socket authenticated as `user_id`, as a network failure would;
    /// returns the tokens cancelled once each socket's close handler has run.
    pub(crate) fn drop_user(&self, user_id: &str) -> Vec<CancellationToken> {
        self.sockets()
            .values()
            .filter(|s| s.user_id.as_deref() == Some(user_id))
            .map(|s| {
                s.outbox.drop_connection();
                s.done.clone()
            })
            .collect()
    }

    /// A number that identifies a new socket.
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// A user authenticated on a socket: closes that user's previous socket, puts the new
    /// one in its place (a user who was connected keeps their position), sends the new socket
    /// the list of everyone online and tells everyone else the user is online.
    pub(crate) fn authenticate(
        &self,
        user_id: &str,
        username: &str,
        connection: u64,
        outbox: &Outbox,
    ) {
        if let Some(socket) = self.sockets().get_mut(&connection) {
            socket.user_id = Some(user_id.to_owned());
        }
        let mut table = self.table();
        if let Some(previous) = table.get(user_id)
            && previous.connection != connection
        {
            previous.outbox.close(1000, "Replaced by a new connection");
        }
        table.insert(
            user_id.to_owned(),
            Entry {
                connection,
                username: username.to_owned(),
                outbox: outbox.clone(),
            },
        );
        if self.quiet_presence {
            outbox.send(frames::online_list([(user_id, username)].into_iter()));
            return;
        }
        outbox.send(frames::online_list(
            table
                .iter()
                .map(|(id, e)| (id.as_str(), e.username.as_str())),
        ));
        let announcement = frames::presence(user_id, username, true);
        for (id, entry) in table.iter() {
            if id != user_id {
                entry.outbox.send(announcement.clone());
            }
        }
    }

    /// An authenticated socket closed. With `reconnect_race` (the backend's behaviour) the
    /// user's entry is removed whichever socket it belongs to and everyone left is told the
    /// user is offline; without it, only the socket's own entry is removed and announced.
    pub(crate) fn disconnect(
        &self,
        user_id: &str,
        username: &str,
        connection: u64,
        reconnect_race: bool,
    ) {
        let mut table = self.table();
        let owned = table
            .get(user_id)
            .is_some_and(|e| e.connection == connection);
        if !(reconnect_race || owned) {
            return;
        }
        table.shift_remove(user_id);
        if self.quiet_presence {
            return;
        }
        let announcement = frames::presence(user_id, username, false);
        for entry in table.values() {
            entry.outbox.send(announcement.clone());
        }
    }

    /// Whether the user has an entry in the table.
    #[cfg(test)]
    pub(crate) fn is_online(&self, user_id: &str) -> bool {
        self.table().contains_key(user_id)
    }

    /// Queues a frame to a user; `false` if the user is not in the table.
    pub(crate) fn send_to(&self, user_id: &str, text: Utf8Bytes) -> bool {
        self.table()
            .get(user_id)
            .is_some_and(|e| e.outbox.send(text))
    }

    /// Queues a frame to each of `user_ids` that is in the table, except `except`.
    pub(crate) fn send_to_each(&self, user_ids: &[String], text: &Utf8Bytes, except: Option<&str>) {
        let table = self.table();
        for id in user_ids {
            if Some(id.as_str()) == except {
                continue;
            }
            if let Some(entry) = table.get(id) {
                entry.outbox.send(text.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: QueueLimits = QueueLimits {
        frames: 100,
        bytes: 10_000,
    };

    fn outbox() -> (Outbox, OutboxReceiver, Arc<Notify>) {
        Outbox::new(LIMITS)
    }

    fn drain(rx: &mut OutboxReceiver) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(item) = rx.try_recv() {
            out.push(match item {
                Outgoing::Text(t) => t.to_string(),
                Outgoing::Close(code, _) => format!("close {code}"),
            });
        }
        out
    }

    #[test]
    fn without_presence_fanout_nobody_hears_of_anyone_else_but_messages_still_flow() {
        let hub = Hub::with_presence_fanout(false);
        let (alice, mut alice_rx, _) = outbox();
        let (bob, mut bob_rx, _) = outbox();
        hub.authenticate("a", "alice", 1, &alice);
        hub.authenticate("b", "bob", 2, &bob);
        assert_eq!(
            drain(&mut bob_rx),
            [
                r#"{"type":"online","payload":{"users":[{"userId":"b","username":"bob","online":true}]}}"#
            ]
        );
        assert_eq!(
            drain(&mut alice_rx),
            [
                r#"{"type":"online","payload":{"users":[{"userId":"a","username":"alice","online":true}]}}"#
            ],
            "no announcement of bob"
        );
        assert!(hub.send_to("a", Utf8Bytes::from_static("x")));
        assert_eq!(drain(&mut alice_rx), ["x"]);
        hub.disconnect("b", "bob", 2, true);
        assert!(
            drain(&mut alice_rx).is_empty(),
            "no announcement of bob leaving"
        );
    }

    #[test]
    fn reauthentication_keeps_position_closes_the_old_socket_and_races() {
        let hub = Hub::default();
        let (alice, mut alice_rx, _) = outbox();
        let (bob, mut bob_rx, _) = outbox();
        let (alice2, mut alice2_rx, _) = outbox();
        hub.authenticate("a", "alice", 1, &alice);
        hub.authenticate("b", "bob", 2, &bob);
        drain(&mut alice_rx);
        drain(&mut bob_rx);

        hub.authenticate("a", "alice", 3, &alice2);
        assert_eq!(drain(&mut alice_rx), ["close 1000"]);
        assert_eq!(
            drain(&mut alice2_rx),
            [
                r#"{"type":"online","payload":{"users":[{"userId":"a","username":"alice","online":true},{"userId":"b","username":"bob","online":true}]}}"#
            ]
        );
        assert_eq!(
            drain(&mut bob_rx),
            [r#"{"type":"online","payload":{"userId":"a","username":"alice","online":true}}"#]
        );

        // The old socket's close handler removes the new entry (the quirk).
        hub.disconnect("a", "alice", 1, true);
        assert!(!hub.is_online("a"));
        assert!(!hub.send_to("a", Utf8Bytes::from_static("x")));
        assert_eq!(
            drain(&mut bob_rx),
            [r#"{"type":"online","payload":{"userId":"a","username":"alice","online":false}}"#]
        );
        assert!(drain(&mut alice2_rx).is_empty());
    }

    #[test]
    fn without_the_quirk_a_stale_close_leaves_the_new_entry() {
        let hub = Hub::default();
        let (alice, _alice_rx, _) = outbox();
        let (alice2, _alice2_rx, _) = outbox();
        let (bob, mut bob_rx, _) = outbox();
        hub.authenticate("b", "bob", 0, &bob);
        hub.authenticate("a", "alice", 1, &alice);
        hub.authenticate("a", "alice", 2, &alice2);
        drain(&mut bob_rx);
        hub.disconnect("a", "alice", 1, false);
        assert!(hub.is_online("a"));
        assert!(drain(&mut bob_rx).is_empty());
        hub.disconnect("a", "alice", 2, false);
        assert!(!hub.is_online("a"));
        assert_eq!(drain(&mut bob_rx).len(), 1);
    }

    #[test]
    fn closing_outboxes_drop_later_frames() {
        let (outbox, mut rx, _) = outbox();
        assert!(outbox.send(Utf8Bytes::from_static("1")));
        outbox.close(1008, "bye");
        outbox.close(1000, "again");
        assert!(!outbox.send(Utf8Bytes::from_static("2")));
        assert_eq!(drain(&mut rx), ["1", "close 1008"]);
    }

    #[test]
    fn a_full_queue_drops_the_connection_by_frames() {
        let (outbox, mut rx, _) = Outbox::new(QueueLimits {
            frames: 3,
            bytes: 1_000,
        });
        for _ in 0..3 {
            assert!(outbox.send(Utf8Bytes::from_static("x")));
        }
        assert!(!outbox.dropped.is_cancelled());
        assert!(!outbox.send(Utf8Bytes::from_static("x")));
        assert!(outbox.dropped.is_cancelled());
        assert!(outbox.is_closing());
        assert_eq!(drain(&mut rx), ["x", "x", "x"]);
        // Nothing more is queued once dropped, even with room again.
        assert!(!outbox.send(Utf8Bytes::from_static("y")));
    }

    #[test]
    fn a_full_queue_drops_the_connection_by_bytes_and_reading_frees_room() {
        let (outbox, mut rx, _) = Outbox::new(QueueLimits {
            frames: 100,
            bytes: 10,
        });
        assert!(outbox.send(Utf8Bytes::from_static("12345")));
        assert!(outbox.send(Utf8Bytes::from_static("12345")));
        assert_eq!(drain(&mut rx).len(), 2);
        assert!(outbox.send(Utf8Bytes::from_static("123456")));
        assert!(!outbox.dropped.is_cancelled());
        assert!(!outbox.send(Utf8Bytes::from_static("12345")));
        assert!(outbox.dropped.is_cancelled());
    }

    #[test]
    fn a_close_frame_fits_in_a_full_queue() {
        let (outbox, mut rx, _) = Outbox::new(QueueLimits {
            frames: 2,
            bytes: 1_000,
        });
        assert!(outbox.send(Utf8Bytes::from_static("1")));
        assert!(outbox.send(Utf8Bytes::from_static("2")));
        outbox.close(1000, "bye");
        assert!(!outbox.dropped.is_cancelled());
        assert_eq!(drain(&mut rx), ["1", "2", "close 1000"]);
    }

    #[test]
    fn dropping_a_user_reaches_sockets_the_table_no_longer_lists() {
        let hub = Hub::default();
        let (old, _old_rx, _) = outbox();
        let (new, _new_rx, _) = outbox();
        let (bob, _bob_rx, _) = outbox();
        for (connection, outbox) in [(1, &old), (2, &new), (3, &bob)] {
            hub.open_socket(connection, outbox, CancellationToken::new());
        }
        hub.authenticate("a", "alice", 1, &old);
        hub.authenticate("a", "alice", 2, &new);
        hub.authenticate("b", "bob", 3, &bob);
        // The reconnect race removes alice's entry while socket 2 stays open.
        hub.disconnect("a", "alice", 1, true);
        hub.close_socket(1);
        assert_eq!(hub.drop_user("a").len(), 1);
        assert!(new.dropped.is_cancelled());
        assert!(!bob.dropped.is_cancelled());
    }
}
