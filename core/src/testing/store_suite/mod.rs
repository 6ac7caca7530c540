//! The store conformance suite: the behaviour every [`Store`] must have, checked the same way
//! against `MemoryStore` (the reference), the native redb store and the browser's IndexedDB
//! store (in Chromium): every write goes to the store and to a plain model, and every read
//! method of the store must then agree with the model. A platform store's tests call
//! [`check_store`] on a fresh store, and [`check_contents`] after reopening it.
//!
//! It fails by panicking, like any test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fixtures;

use std::collections::BTreeMap;

use crate::session::PeerSessions;
use crate::store::{
    AccountMeta, Conversation, IdentityRecord, KnownIdentity, MessageQuery, MessageRecord,
    MessageStatus, OneTimePrekeyRecord, SignedPrekeyRecord, Store, StoreOp, WriteBatch,
};

use fixtures::*;

/// What a store should hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    identity: Option<IdentityRecord>,
    meta: Option<AccountMeta>,
    signed: BTreeMap<u32, SignedPrekeyRecord>,
    one_time: BTreeMap<u32, OneTimePrekeyRecord>,
    sessions: BTreeMap<String, PeerSessions>,
    identities: BTreeMap<String, KnownIdentity>,
    /// The messages, by id.
    pub messages: BTreeMap<String, MessageRecord>,
}

impl Model {
    fn apply(&mut self, op: &StoreOp) {
        match op.clone() {
            StoreOp::PutIdentity(r) => self.identity = Some(r),
            StoreOp::PutAccountMeta(r) => self.meta = Some(r),
            StoreOp::PutSignedPrekey(r) => {
                self.signed.insert(r.prekey.id(), r);
            }
            StoreOp::DeleteSignedPrekey(id) => {
                self.signed.remove(&id);
            }
            StoreOp::PutOneTimePrekey(r) => {
                self.one_time.insert(r.prekey.id(), r);
            }
            StoreOp::DeleteOneTimePrekey(id) => {
                self.one_time.remove(&id);
            }
            StoreOp::PutSessions(r) => {
                self.sessions.insert(r.peer_id.clone(), r);
            }
            StoreOp::DeleteSessions(peer) => {
                self.sessions.remove(&peer);
            }
            StoreOp::PutKnownIdentity(r) => {
                self.identities.insert(r.peer_id.clone(), r);
            }
            StoreOp::PutMessage(r) => {
                self.messages.insert(r.id.clone(), r);
            }
            StoreOp::DeleteMessage(id) => {
                self.messages.remove(&id);
            }
            StoreOp::ClearKeys => {
                self.identity = None;
                self.meta = None;
                self.signed.clear();
                self.one_time.clear();
                self.sessions.clear();
                self.identities.clear();
            }
        }
    }

    /// The specified answer to a query: every match, ordered by (timestamp, id), the newest
    /// `limit` of them.
    /// The messages a query should find.
    pub fn query(&self, query: &MessageQuery) -> Vec<MessageRecord> {
        let mut found: Vec<MessageRecord> = self
            .messages
            .values()
            .filter(|m| query.matches(m))
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
        if let Some(limit) = query.limit {
            found.drain(..found.len().saturating_sub(limit));
        }
        found
    }
}

/// Commits `ops` as one batch to the store and the model.
async fn commit<S: Store>(store: &S, model: &mut Model, ops: Vec<StoreOp>) {
    let mut batch = WriteBatch::new();
    for op in ops {
        model.apply(&op);
        batch.push(op);
    }
    store.commit(batch).await.expect("commit");
}

const PEERS: [&str; 5] = ["alice", "bob", "carol", "dave", "nobody"];

fn conversations() -> Vec<Conversation> {
    vec![
        direct("alice"),
        direct("bob"),
        group("g1"),
        // Same id as the group, other kind: must not mix.
        direct("g1"),
        direct(""),
    ]
}

/// Checks every read method against the model.
pub async fn check_contents<S: Store>(store: &S, model: &Model) {
    assert_eq!(store.identity().await.expect("identity"), model.identity);
    assert_eq!(store.account_meta().await.expect("meta"), model.meta);
    assert_eq!(
        store.signed_prekeys().await.expect("signed prekeys"),
        model.signed.values().cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        store.one_time_prekeys().await.expect("one-time prekeys"),
        model.one_time.values().cloned().collect::<Vec<_>>()
    );
    for id in [0, 1, 2, 5, 10, 300, 4_000_000_000] {
        assert_eq!(
            store.signed_prekey(id).await.expect("signed prekey"),
            model.signed.get(&id).cloned(),
            "signed prekey {id}"
        );
        assert_eq!(
            store.one_time_prekey(id).await.expect("one-time prekey"),
            model.one_time.get(&id).cloned(),
            "one-time prekey {id}"
        );
    }
    assert_eq!(
        store.session_peer_ids().await.expect("peer ids"),
        model.sessions.keys().cloned().collect::<Vec<_>>()
    );
    let mut latest: BTreeMap<Conversation, i64> = BTreeMap::new();
    for message in model.messages.values() {
        let at = latest
            .entry(message.conversation.clone())
            .or_insert(i64::MIN);
        *at = (*at).max(message.timestamp);
    }
    assert_eq!(
        store
            .conversation_activity()
            .await
            .expect("conversation activity"),
        crate::store::by_recency(latest),
        "each conversation's latest message, the most recent first"
    );
    for peer in PEERS {
        assert_eq!(
            store.peer_sessions(peer).await.expect("sessions"),
            model.sessions.get(peer).cloned(),
            "sessions of {peer}"
        );
        assert_eq!(
            store.known_identity(peer).await.expect("known identity"),
            model.identities.get(peer).cloned(),
            "identity of {peer}"
        );
    }
    for id in model.messages.keys().map(String::as_str).chain(["missing"]) {
        assert_eq!(
            store.message(id).await.expect("message"),
            model.messages.get(id).cloned(),
            "message {id}"
        );
    }
    check_queries(store, model).await;
}

/// Every combination of conditions, against the model.
async fn check_queries<S: Store>(store: &S, model: &Model) {
    // `before` at, just after, and far from stored timestamps (every fourth one).
    let mut stamps: Vec<i64> = model.messages.values().map(|m| m.timestamp).collect();
    stamps.sort();
    let mut times: Vec<Option<i64>> = vec![None, Some(i64::MIN), Some(i64::MAX)];
    for t in stamps.iter().step_by(4) {
        times.push(Some(*t));
        times.push(Some(t + 1));
    }
    times.dedup();
    let mut conversations: Vec<Option<Conversation>> = vec![None];
    conversations.extend(conversations_all().into_iter().map(Some));
    let statuses = [
        None,
        Some(MessageStatus::Pending),
        Some(MessageStatus::Sent),
        Some(MessageStatus::Read),
    ];
    let texts = [None, Some("hello"), Some("WÖRLD"), Some("")];
    let mut checked = 0;
    for conversation in &conversations {
        for (before, before_id) in times
            .iter()
            .flat_map(|t| [(*t, None), (*t, Some("m".to_string()))])
        {
            for limit in [None, Some(0), Some(1), Some(3)] {
                for status in statuses {
                    for text in texts {
                        let query = MessageQuery {
                            conversation: conversation.clone(),
                            before,
                            before_id: before_id.clone(),
                            limit,
                            status,
                            text: text.map(str::to_string),
                        };
                        assert_eq!(
                            store.messages(&query).await.expect("query"),
                            model.query(&query),
                            "{query:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1000);
}

fn conversations_all() -> Vec<Conversation> {
    let mut all = conversations();
    all.push(group("never-used"));
    all
}

/// The whole behaviour, from an empty store. Returns what the store holds at the end.
pub async fn check_store<S: Store>(store: &S) -> Model {
    let mut rng = rng(1);
    let mut model = Model::default();

    // Empty.
    check_contents(store, &model).await;
    assert!(
        store
            .messages(&MessageQuery::default())
            .await
            .expect("query")
            .is_empty()
    );
    store.commit(WriteBatch::new()).await.expect("empty commit");
    check_contents(store, &model).await;

    // An account with prekeys, sessions and known identities, in one batch; ids out of order.
    let me = identity(&mut rng);
    let mut ops = vec![
        StoreOp::PutIdentity(me.clone()),
        StoreOp::PutAccountMeta(account_meta(302)),
        StoreOp::PutSignedPrekey(signed_prekey(&me, 5, true, &mut rng)),
        StoreOp::PutSignedPrekey(signed_prekey(&me, 1, false, &mut rng)),
    ];
    for id in [300, 2, 10, 4_000_000_000] {
        ops.push(StoreOp::PutOneTimePrekey(one_time_prekey(
            id,
            id % 2 == 0,
            &mut rng,
        )));
    }
    for (peer, previous) in [("bob", 2), ("alice", 0), ("carol", 4)] {
        ops.push(StoreOp::PutSessions(peer_sessions(
            peer, previous, &mut rng,
        )));
        ops.push(StoreOp::PutKnownIdentity(known_identity(
            peer,
            peer == "alice",
            &mut rng,
        )));
    }
    commit(store, &mut model, ops).await;
    check_contents(store, &model).await;

    // Replacements and deletions, including of things that are not there.
    commit(
        store,
        &mut model,
        vec![
            StoreOp::PutSignedPrekey(signed_prekey(&me, 1, true, &mut rng)),
            StoreOp::DeleteSignedPrekey(5),
            StoreOp::DeleteSignedPrekey(77),
            StoreOp::DeleteOneTimePrekey(10),
            StoreOp::DeleteOneTimePrekey(11),
            StoreOp::PutSessions(peer_sessions("alice", 1, &mut rng)),
            StoreOp::DeleteSessions("bob".into()),
            StoreOp::DeleteSessions("nobody".into()),
            StoreOp::PutKnownIdentity(known_identity("alice", false, &mut rng)),
            StoreOp::PutAccountMeta(account_meta(400)),
        ],
    )
    .await;
    check_contents(store, &model).await;

    // Messages: several conversations, equal and negative timestamps, every status, bodies
    // for the text filter.
    let convs = conversations();
    let statuses = [
        MessageStatus::Pending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Failed,
    ];
    let bodies = [
        "Hello World",
        "hello there",
        "HELLO",
        "bye",
        "héllo wörld",
        "É",
    ];
    let mut ops = Vec::new();
    for i in 0..40i64 {
        let conv = convs[(i as usize * 7) % convs.len()].clone();
        // Timestamps repeat (pairs share one) and some are negative.
        let ts = NOW - 1000 + (i / 2) * 10 - if i % 13 == 0 { 2 * NOW } else { 0 };
        let id = format!("m{:02}{}", 40 - i, if i % 3 == 0 { "x" } else { "" });
        ops.push(StoreOp::PutMessage(message(
            &id,
            conv,
            ts,
            statuses[i as usize % statuses.len()],
            bodies[i as usize % bodies.len()],
        )));
    }
    commit(store, &mut model, ops).await;
    check_contents(store, &model).await;

    // Pagination through one conversation with `before` and `limit`: every message once.
    let conv = group("g1");
    let all = model.query(&MessageQuery {
        conversation: Some(conv.clone()),
        ..Default::default()
    });
    assert!(all.len() >= 5, "the fixture puts several messages in g1");
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .messages(&MessageQuery {
                conversation: Some(conv.clone()),
                before,
                limit: Some(2),
                ..Default::default()
            })
            .await
            .expect("page");
        let Some(first) = page.first() else { break };
        before = Some(first.timestamp);
        pages.splice(0..0, page);
    }
    // Paging by time skips messages that share the boundary timestamp; the model says which.
    let expected: Vec<MessageRecord> = {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let page = model.query(&MessageQuery {
                conversation: Some(conv.clone()),
                before,
                limit: Some(2),
                ..Default::default()
            });
            let Some(first) = page.first() else { break };
            before = Some(first.timestamp);
            out.splice(0..0, page);
        }
        out
    };
    assert_eq!(pages, expected);
    // A `(timestamp, id)` cursor misses nothing, also where timestamps are shared.
    let mut pages = Vec::new();
    let mut cursor: Option<(i64, String)> = None;
    loop {
        let page = store
            .messages(&MessageQuery {
                conversation: Some(conv.clone()),
                before: cursor.as_ref().map(|c| c.0),
                before_id: cursor.as_ref().map(|c| c.1.clone()),
                limit: Some(2),
                ..Default::default()
            })
            .await
            .expect("page");
        let Some(first) = page.first() else { break };
        cursor = Some((first.timestamp, first.id.clone()));
        pages.splice(0..0, page);
    }
    assert_eq!(pages, all, "every message once, in order");

    // Replacing a message moves it: other conversation, other time, out of the outbox; and
    // a sent message back into it. Twice in one batch: the last write wins.
    let pending_id = model
        .messages
        .values()
        .find(|m| m.status == MessageStatus::Pending)
        .map(|m| m.id.clone())
        .expect("a pending message");
    let sent_id = model
        .messages
        .values()
        .find(|m| m.status == MessageStatus::Sent)
        .map(|m| m.id.clone())
        .expect("a sent message");
    commit(
        store,
        &mut model,
        vec![
            StoreOp::PutMessage(message(
                &pending_id,
                direct("alice"),
                NOW + 5000,
                MessageStatus::Pending,
                "moved once",
            )),
            StoreOp::PutMessage(message(
                &pending_id,
                group("g1"),
                NOW - 5000,
                MessageStatus::Delivered,
                "moved twice",
            )),
            StoreOp::PutMessage(message(
                &sent_id,
                direct("bob"),
                NOW + 1,
                MessageStatus::Pending,
                "retry me",
            )),
        ],
    )
    .await;
    check_contents(store, &model).await;

    // Deleting messages, one that exists and one that does not.
    let gone = model.messages.keys().nth(3).cloned().expect("messages");
    commit(
        store,
        &mut model,
        vec![
            StoreOp::DeleteMessage(gone.clone()),
            StoreOp::DeleteMessage("never-there".into()),
        ],
    )
    .await;
    assert_eq!(store.message(&gone).await.expect("message"), None);
    check_contents(store, &model).await;

    // ClearKeys forgets every key, session and identity; messages stay. Order in a batch
    // matters: a session put after the clear survives it, one put before does not.
    commit(
        store,
        &mut model,
        vec![
            StoreOp::PutSessions(peer_sessions("dave", 0, &mut rng)),
            StoreOp::ClearKeys,
            StoreOp::PutSessions(peer_sessions("carol", 1, &mut rng)),
        ],
    )
    .await;
    assert_eq!(store.identity().await.expect("identity"), None);
    assert_eq!(store.peer_sessions("dave").await.expect("dave"), None);
    assert!(store.peer_sessions("carol").await.expect("carol").is_some());
    assert!(!model.messages.is_empty());
    check_contents(store, &model).await;

    // And a new account after the reset.
    let me = identity(&mut rng);
    commit(
        store,
        &mut model,
        vec![
            StoreOp::PutIdentity(me.clone()),
            StoreOp::PutSignedPrekey(signed_prekey(&me, 1, false, &mut rng)),
            StoreOp::PutOneTimePrekey(one_time_prekey(2, false, &mut rng)),
            StoreOp::PutKnownIdentity(known_identity("bob", true, &mut rng)),
        ],
    )
    .await;
    check_contents(store, &model).await;
    model
}
