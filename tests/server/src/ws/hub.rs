//! The connection table: one entry per user id, in the order users connected, as the
//! backend's JavaScript `Map` keeps them. Every frame to a socket goes through its
//! [`Outbox`], so frames to one socket leave in the order they were queued.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::ws::Utf8Bytes;
use indexmap::IndexMap;
use tokio::sync::{Notify, mpsc};

use crate::ws::frames;

/// What the writer of a socket is asked to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send a text frame.
    Text(Utf8Bytes),
    /// Send a close frame with this code and reason, then stop writing.
    Close(u16, &'static str),
}

/// The sending side of one socket.
#[derive(Clone)]
pub(crate) struct Outbox {
    queue: mpsc::UnboundedSender<Outgoing>,
    closing: Arc<AtomicBool>,
    close_requested: Arc<Notify>,
}

impl Outbox {
    /// A new outbox, the receiver its writer drains, and the notification fired when the
    /// server decides to close the socket.
    pub(crate) fn new() -> (Outbox, mpsc::UnboundedReceiver<Outgoing>, Arc<Notify>) {
        let (queue, receiver) = mpsc::unbounded_channel();
        let close_requested = Arc::new(Notify::new());
        let outbox = Outbox {
            queue,
            closing: Arc::new(AtomicBool::new(false)),
            close_requested: close_requested.clone(),
        };
        (outbox, receiver, close_requested)
    }

    /// Queues a text frame; `false` if the socket is gone or closing.
    pub(crate) fn send(&self, text: Utf8Bytes) -> bool {
        !self.is_closing() && self.queue.send(Outgoing::Text(text)).is_ok()
    }

    /// Queues a close frame after what is already queued; later frames are dropped.
    pub(crate) fn close(&self, code: u16, reason: &'static str) {
        if !self.closing.swap(true, Ordering::SeqCst) {
            let _ = self.queue.send(Outgoing::Close(code, reason));
            self.close_requested.notify_one();
        }
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

/// The table of authenticated connections, keyed by user id.
#[derive(Default)]
pub(crate) struct Hub {
    table: Mutex<IndexMap<String, Entry>>,
    next_connection: AtomicU64,
}

impl Hub {
    fn table(&self) -> MutexGuard<'_, IndexMap<String, Entry>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
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

    fn drain(rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(item) = rx.try_recv() {
            out.push(match item {
                Outgoing::Text(t) => t.to_string(),
                Outgoing::Close(code, _) => format!("close {code}"),
            });
        }
        out
    }

    #[test]
    fn reauthentication_keeps_position_closes_the_old_socket_and_races() {
        let hub = Hub::default();
        let (alice, mut alice_rx, _) = Outbox::new();
        let (bob, mut bob_rx, _) = Outbox::new();
        let (alice2, mut alice2_rx, _) = Outbox::new();
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
        let (alice, _alice_rx, _) = Outbox::new();
        let (alice2, _alice2_rx, _) = Outbox::new();
        let (bob, mut bob_rx, _) = Outbox::new();
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
        let (outbox, mut rx, _) = Outbox::new();
        assert!(outbox.send(Utf8Bytes::from_static("1")));
        outbox.close(1008, "bye");
        outbox.close(1000, "again");
        assert!(!outbox.send(Utf8Bytes::from_static("2")));
        assert_eq!(drain(&mut rx), ["1", "close 1008"]);
    }
}
