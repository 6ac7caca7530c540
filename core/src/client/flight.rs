//! What goes out on the current socket, and when: the one owner of "in flight".
//!
//! Every message frame the client writes passes through [`Flight`]. It guarantees
//! **at most once per connection**: an id is written once on a socket, whoever asks (the
//! send path, the outbox flush after catch-up, the periodic retry), and nothing is written
//! before the connection has caught up ([`Flight::open`]), so that a message the backend's
//! history already holds (its echo lost with the old socket) is settled, not sent again.
//! The backend relays a duplicate `messageId` even though its database refuses it (PROTOCOL
//! §7, quirk 5), and the web client breaks its chain on a duplicate, so a second copy is
//! never harmless.
//!
//! It also paces what goes to one peer, for peers that handle messages the way the web app
//! does (PROTOCOL §8: concurrent handlers racing on the chain state, and a first message
//! whose handler awaits a bundle fetch before it decrypts): after a first message (`x3dh`)
//! later messages to that peer wait until the backend echoed it plus a margin (or until the
//! peer answers), and messages to one peer keep a minimum spacing. Pacing is per peer: other
//! conversations are not slowed down.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::config::Pacing;
use crate::store::{Conversation, MessageRecord};

/// The gate, the per-connection record of what was written, and the paced queues.
#[derive(Default)]
pub(crate) struct Flight {
    /// Whether messages may be offered: set once the connection caught up, cleared when it
    /// ends.
    open: bool,
    /// Set while the connection's first flush offers what was pending before it: nothing is
    /// written meanwhile, so a message saved now cannot overtake an older one to the same
    /// peer (a peer reading a later message before the session's first cannot open it).
    flushing: bool,
    /// Peers whose history could not be read on this connection: their older pending
    /// messages wait, so newer ones wait too (in order, for the next try).
    blocked: HashSet<String>,
    /// Ids written on the current socket and not yet echoed.
    sent: HashSet<String>,
    /// Ids waiting in `queues`.
    queued: HashSet<String>,
    /// Waiting messages per conversation, in the order they were offered.
    queues: BTreeMap<QueueKey, VecDeque<MessageRecord>>,
    /// Pacing state per peer.
    paces: HashMap<String, Pace>,
    /// Peers whose history was read on this connection: their pending messages written before
    /// it may be sent (the backend does not hold them).
    checked: HashSet<String>,
    /// First messages that hold the ones after them: message id → peer, so that an echo
    /// finds its pace without looking at every peer's (a bot with 10,000 peers gets an
    /// echo for every message it sends).
    firsts: HashMap<String, String>,
}

/// A queue per peer (paced) or per group (not paced: group messages are not encrypted and
/// the backend names them).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum QueueKey {
    Peer(String),
    Group(String),
}

#[derive(Default)]
struct Pace {
    /// The next message may not go before this, ms.
    not_before: i64,
    /// A first message whose delivery holds the ones after it: its id and the hold's end.
    first: Option<(String, i64)>,
}

/// What [`Flight::offer`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued; [`Flight::next_ready`] hands it out when it may go.
    Queued,
    /// The gate is closed: it stays pending and the flush after the next catch-up sends it.
    Closed,
    /// Already written on this socket, or already queued.
    Duplicate,
}

impl Flight {
    /// Whether messages may be offered (the connection caught up and no write failed).
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// The connection caught up: messages may be offered, and go out once the first flush
    /// has offered what was pending before ([`Flight::flushed`]).
    pub(crate) fn open(&mut self) {
        self.open = true;
        self.flushing = true;
    }

    /// The first flush offered everything pending: messages go out, in order.
    pub(crate) fn flushed(&mut self) {
        self.flushing = false;
    }

    /// `peer`'s history could not be read on this connection: hold its messages.
    pub(crate) fn block(&mut self, peer: &str) {
        self.blocked.insert(peer.to_string());
    }

    /// The connection ended: forget everything about it. What was queued stays pending in
    /// the store and is offered again after the next catch-up.
    pub(crate) fn close(&mut self) {
        *self = Self::default();
    }

    /// Records that `peer`'s history was read on this connection.
    pub(crate) fn mark_checked(&mut self, peer: &str) {
        self.blocked.remove(peer);
        self.checked.insert(peer.to_string());
    }

    /// Whether `peer`'s history was read on this connection.
    pub(crate) fn is_checked(&self, peer: &str) -> bool {
        self.checked.contains(peer)
    }

    /// Offers a pending message for sending.
    pub(crate) fn offer(&mut self, record: MessageRecord) -> Offer {
        if !self.open {
            return Offer::Closed;
        }
        if self.sent.contains(&record.id) || self.queued.contains(&record.id) {
            return Offer::Duplicate;
        }
        let key = match &record.conversation {
            Conversation::Direct(peer) if self.blocked.contains(peer) => return Offer::Closed,
            Conversation::Direct(peer) => QueueKey::Peer(peer.clone()),
            Conversation::Group(group) => QueueKey::Group(group.clone()),
        };
        self.queued.insert(record.id.clone());
        // In the order the messages were written (ids increase), whoever offers them first.
        let queue = self.queues.entry(key).or_default();
        let at = queue.partition_point(|queued| queued.id < record.id);
        queue.insert(at, record);
        Offer::Queued
    }

    /// The next queued message that may go now, taken out of its queue and recorded as
    /// written (the caller writes it right away, holding the socket). `None` when nothing
    /// may go yet.
    pub(crate) fn next_ready(&mut self, now: i64, pacing: &Pacing) -> Option<MessageRecord> {
        if !self.open || self.flushing {
            return None;
        }
        let key = self
            .queues
            .iter()
            .find(|(key, queue)| !queue.is_empty() && self.may_go(key, now))
            .map(|(key, _)| key.clone())?;
        let queue = self.queues.get_mut(&key)?;
        let record = queue.pop_front()?;
        if queue.is_empty() {
            self.queues.remove(&key);
        }
        self.queued.remove(&record.id);
        self.sent.insert(record.id.clone());
        if let QueueKey::Peer(peer) = key {
            let pace = self.paces.entry(peer.clone()).or_default();
            pace.not_before = now.saturating_add(ms(pacing.min_interval_ms));
            if is_first_message(&record) && pacing.holds_after_first_message() {
                let until = now.saturating_add(ms(pacing.first_message_max_hold_ms));
                pace.first = Some((record.id.clone(), until));
                self.firsts.insert(record.id.clone(), peer);
            }
        }
        Some(record)
    }

    /// When the earliest queued message may go, if any is waiting.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.queues
            .iter()
            .filter(|(_, queue)| !queue.is_empty())
            .map(|(key, _)| match key {
                QueueKey::Group(_) => 0,
                QueueKey::Peer(peer) => self.paces.get(peer).map_or(0, Pace::ready_at),
            })
            .min()
    }

    /// Whether anything waits.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    /// The backend echoed one of our messages: it is no longer in flight. A first message
    /// holds the ones after it for the margin more, whether the backend relayed it
    /// (`delivered`) or only stored it (`sent`): a peer can look offline to the backend
    /// while its app is open (the reconnect race, PROTOCOL §7), and an offline SDK peer
    /// reads everything from history in order anyway.
    pub(crate) fn echoed(&mut self, id: &str, now: i64, pacing: &Pacing) {
        self.sent.remove(id);
        let Some(peer) = self.firsts.remove(id) else {
            return;
        };
        if let Some(pace) = self.paces.get_mut(&peer)
            && let Some((first, until)) = &mut pace.first
            && first == id
        {
            *until = now
                .saturating_add(ms(pacing.after_first_message_ms))
                .min(*until);
        }
    }

    /// The peer sent us a message: it has the session, so a first message no longer holds
    /// the ones after it.
    pub(crate) fn answered(&mut self, peer: &str) {
        if let Some(pace) = self.paces.get_mut(peer)
            && let Some((first, _)) = pace.first.take()
        {
            self.firsts.remove(&first);
        }
    }

    /// A write of this message failed: the socket is going down; it stays pending.
    pub(crate) fn unsent(&mut self, id: &str) {
        self.sent.remove(id);
    }

    fn may_go(&self, key: &QueueKey, now: i64) -> bool {
        match key {
            QueueKey::Group(_) => true,
            QueueKey::Peer(peer) => self.paces.get(peer).is_none_or(|p| p.ready_at() <= now),
        }
    }
}

impl Pace {
    fn ready_at(&self) -> i64 {
        match &self.first {
            Some((_, until)) => self.not_before.max(*until),
            None => self.not_before,
        }
    }
}

/// Whether a pending record is the first message of a session (its wire carries `x3dh`).
fn is_first_message(record: &MessageRecord) -> bool {
    record
        .wire
        .as_deref()
        .is_some_and(|wire| wire.contains("\"x3dh\":"))
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ContentKind, Direction, MessageStatus};

    fn record(id: &str, peer: &str, first: bool) -> MessageRecord {
        MessageRecord {
            id: id.into(),
            conversation: Conversation::Direct(peer.into()),
            sender_id: "me".into(),
            direction: Direction::Outgoing,
            body: "hi".into(),
            kind: ContentKind::Text,
            image_data: None,
            timestamp: 0,
            status: MessageStatus::Pending,
            encrypted: true,
            read_at: None,
            wire: Some(if first {
                r#"{"header":{},"ciphertext":"","authTag":"","x3dh":{}}"#.into()
            } else {
                r#"{"header":{},"ciphertext":"","authTag":""}"#.into()
            }),
            decrypt_error: None,
        }
    }

    fn pacing() -> Pacing {
        Pacing {
            min_interval_ms: 100,
            after_first_message_ms: 1_000,
            first_message_max_hold_ms: 5_000,
        }
    }

    fn drain(flight: &mut Flight, now: i64) -> Vec<String> {
        std::iter::from_fn(|| flight.next_ready(now, &pacing()))
            .map(|r| r.id)
            .collect()
    }

    #[test]
    fn nothing_goes_out_before_the_gate_opens_and_nothing_twice_per_connection() {
        let mut flight = Flight::default();
        assert_eq!(flight.offer(record("a", "p", false)), Offer::Closed);
        flight.open();
        flight.flushed();
        assert_eq!(flight.offer(record("a", "p", false)), Offer::Queued);
        // The flush and the send path both offer it: one copy.
        assert_eq!(flight.offer(record("a", "p", false)), Offer::Duplicate);
        assert_eq!(drain(&mut flight, 0), ["a"]);
        assert_eq!(flight.offer(record("a", "p", false)), Offer::Duplicate);
        assert_eq!(drain(&mut flight, 10_000), Vec::<String>::new());
        // A new connection may send it again (after its catch-up found it missing).
        flight.close();
        flight.open();
        flight.flushed();
        assert_eq!(flight.offer(record("a", "p", false)), Offer::Queued);
        assert_eq!(drain(&mut flight, 20_000), ["a"]);
    }

    #[test]
    fn nothing_overtakes_what_the_first_flush_offers() {
        let mut flight = Flight::default();
        flight.open();
        // Saved during the flush (a newer id) and offered first...
        flight.offer(record("b-new", "alice", false));
        assert_eq!(
            drain(&mut flight, 0),
            Vec::<String>::new(),
            "held while flushing"
        );
        // ...then the flush offers what was pending before the connection.
        flight.offer(record("a-first", "alice", true));
        flight.flushed();
        assert_eq!(drain(&mut flight, 0), ["a-first"]);
        flight.answered("alice");
        assert_eq!(drain(&mut flight, 100), ["b-new"]);
    }

    #[test]
    fn a_peer_whose_history_could_not_be_read_is_held_until_it_is() {
        let mut flight = Flight::default();
        flight.open();
        flight.flushed();
        flight.block("alice");
        assert_eq!(flight.offer(record("a", "alice", false)), Offer::Closed);
        assert_eq!(flight.offer(record("b", "bob", false)), Offer::Queued);
        flight.mark_checked("alice");
        assert_eq!(flight.offer(record("a", "alice", false)), Offer::Queued);
        assert_eq!(drain(&mut flight, 0), ["a", "b"]);
    }

    #[test]
    fn messages_to_one_peer_are_spaced_and_other_peers_are_not_held() {
        let mut flight = Flight::default();
        flight.open();
        flight.flushed();
        for id in ["a1", "a2", "a3"] {
            flight.offer(record(id, "alice", false));
        }
        flight.offer(record("b1", "bob", false));
        assert_eq!(drain(&mut flight, 0), ["a1", "b1"]);
        assert_eq!(flight.next_due(), Some(100));
        assert_eq!(drain(&mut flight, 99), Vec::<String>::new());
        assert_eq!(drain(&mut flight, 100), ["a2"]);
        assert_eq!(drain(&mut flight, 200), ["a3"]);
        assert_eq!(flight.next_due(), None);
    }

    #[test]
    fn a_first_message_holds_the_rest_until_delivered_plus_the_margin() {
        let mut flight = Flight::default();
        flight.open();
        flight.flushed();
        flight.offer(record("f", "alice", true));
        flight.offer(record("m2", "alice", false));
        assert_eq!(drain(&mut flight, 0), ["f"]);
        assert_eq!(flight.next_due(), Some(5_000), "held at most the maximum");
        flight.echoed("f", 40, &pacing());
        assert_eq!(flight.next_due(), Some(1_040));
        assert_eq!(drain(&mut flight, 1_039), Vec::<String>::new());
        assert_eq!(drain(&mut flight, 1_040), ["m2"]);
    }

    #[test]
    fn an_answer_releases_the_hold() {
        let mut flight = Flight::default();
        flight.open();
        flight.flushed();
        flight.offer(record("f", "alice", true));
        flight.offer(record("m2", "alice", false));
        drain(&mut flight, 0);
        flight.answered("alice");
        assert_eq!(flight.next_due(), Some(100), "only the spacing remains");

        flight.offer(record("g", "bob", true));
        flight.offer(record("n2", "bob", false));
        assert_eq!(drain(&mut flight, 100), ["m2", "g"]);
        flight.answered("bob");
        assert_eq!(drain(&mut flight, 200), ["n2"]);
    }

    #[test]
    fn pacing_off_sends_everything_at_once() {
        let mut flight = Flight::default();
        flight.open();
        flight.flushed();
        for id in ["1", "2", "3"] {
            flight.offer(record(id, "alice", id == "1"));
        }
        let off = Pacing::off();
        let ids: Vec<String> = std::iter::from_fn(|| flight.next_ready(0, &off))
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["1", "2", "3"]);
    }
}
