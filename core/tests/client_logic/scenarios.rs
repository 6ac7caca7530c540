// The scenarios of `core/tests/client_logic.rs`, included there and, for wasm32, by
// `platform-wasm/tests/core_client_logic.rs` (so: no inner attributes here).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use futures::task::LocalSpawnExt;
use futures_executor::LocalPool;
use rand_chacha::ChaCha20Rng;
use quickchat_core::rand_core::SeedableRng;
use serde_json::{Value, json};

use quickchat_core::client::{Backoff, CatchUpScope, Client, ClientConfig, Event, EventStream};
use quickchat_core::store::{
    Conversation, MemoryStore, MessageStatus, SavedLogin, ScanProgress, Store, StoreOp,
    WriteBatch,
};
use quickchat_core::testing::{ManualClock, PendingRequest, Script, ServerSocket, scripted};
use quickchat_core::transport::{HttpResponse, TransportError};

type TestClient =
    Client<quickchat_core::testing::ScriptedTransport, MemoryStore, ManualClock, ChaCha20Rng>;

const ME: &str = "alice-id";
const BOB: &str = "bob-id";
const START_MS: i64 = 1_800_000_000_000;

/// State the test shares with the scripted server's responder (which must be `Send`).
type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    shared.lock().unwrap()
}

/// A signed-in client on a scripted server, its executor, its clock and its events.
struct Harness {
    pool: LocalPool,
    client: Rc<TestClient>,
    script: Script,
    clock: ManualClock,
    events: EventStream,
    /// Bob's history as the backend returns it.
    history: Shared<Vec<Value>>,
    /// Whether history reads wait for the test (`take_requests`) instead of being answered.
    hold_history: Arc<AtomicBool>,
}

impl Harness {
    fn new(config: ClientConfig) -> Self {
        Self::new_with(config, None)
    }

    /// A harness whose store already holds `scan` as the directory scan's progress (as a
    /// client that stopped during a pass left it).
    fn new_with(config: ClientConfig, scan: Option<ScanProgress>) -> Self {
        let (transport, script) = scripted();
        let clock = ManualClock::new(START_MS);
        let history: Shared<Vec<Value>> = Shared::default();
        let hold_history = Arc::new(AtomicBool::new(false));
        answer_routine_requests(&script, &clock, history.clone(), hold_history.clone());
        let store = MemoryStore::new();
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut pool = LocalPool::new();
        pool.run_until(async {
            quickchat_core::account::create_account_from(&store, ME, 1, START_MS, &mut rng)
                .await
                .unwrap();
            let mut meta = store.account_meta().await.unwrap().unwrap_or_default();
            meta.login = Some(SavedLogin {
                user_id: ME.into(),
                username: "alice".into(),
                token: "header.eyJleHAiOjQxMDI0NDQ4MDB9.signature".into(),
                expires_at: i64::MAX,
            });
            meta.last_upload_at = Some(START_MS);
            meta.directory_scan = scan;
            let mut batch = WriteBatch::new();
            batch.push(StoreOp::PutAccountMeta(meta));
            store.commit(batch).await.unwrap();
        });
        let config = ClientConfig {
            catch_up: CatchUpScope::KnownPeers,
            plaintext_allowed: [BOB.to_string()].into(),
            ..config
        };
        let client = Rc::new(Client::new(transport, store, clock.clone(), rng, config));
        let restored = pool.run_until(client.restore()).unwrap();
        assert_eq!(restored.map(|u| u.user_id), Some(ME.to_string()));
        let events = client.subscribe();
        Self {
            pool,
            client,
            script,
            clock,
            events,
            history,
            hold_history,
        }
    }

    /// Runs every task until none can go on without the test.
    fn settle(&mut self) {
        self.pool.run_until_stalled();
    }

    /// Starts the connection loop; returns where its result lands.
    fn run(&mut self) -> Rc<RefCell<Option<Result<(), String>>>> {
        let result: Rc<RefCell<Option<Result<(), String>>>> = Rc::default();
        let client = self.client.clone();
        let slot = result.clone();
        self.pool
            .spawner()
            .spawn_local(async move {
                let ended = client.run().await.map_err(|e| e.to_string());
                *slot.borrow_mut() = Some(ended);
            })
            .unwrap();
        self.settle();
        result
    }

    /// Sends `text` to Bob (plaintext: no session needed); returns where the record lands.
    fn send(&mut self, text: &str) -> Rc<RefCell<Option<String>>> {
        let id: Rc<RefCell<Option<String>>> = Rc::default();
        let client = self.client.clone();
        let slot = id.clone();
        let text = text.to_string();
        self.pool
            .spawner()
            .spawn_local(async move {
                let record = client.send_plaintext(BOB, &text).await.unwrap();
                *slot.borrow_mut() = Some(record.id);
            })
            .unwrap();
        self.settle();
        id
    }

    /// The next socket the client opened (it must have opened one).
    fn accept(&mut self) -> ServerSocket {
        self.settle();
        self.script.accept().expect("the client opened a socket")
    }

    /// Plays the backend's side of a good connect on `socket`: the online list for
    /// `auth`, the relayed heartbeat; catch-up and the outbox flush then run.
    fn handshake(&mut self, socket: &mut ServerSocket) {
        self.settle();
        let frames = parse_all(socket.frames());
        assert_eq!(
            frames.first().map(|f| f["type"].clone()),
            Some(json!("auth")),
            "{frames:?}"
        );
        socket.push(online_list());
        self.settle();
        let heartbeat = parse_all(socket.frames());
        assert_eq!(heartbeat.len(), 1, "{heartbeat:?}");
        assert_eq!(heartbeat[0]["type"], "typing");
        assert_eq!(heartbeat[0]["payload"]["to"], ME);
        socket.push(heartbeat_relay());
        self.settle();
    }

    /// Events so far.
    fn events(&mut self) -> Vec<Event> {
        self.settle();
        let mut events = Vec::new();
        while let Some(Some(event)) = self.events.now_or_never_opt() {
            events.push(event);
        }
        events
    }

    /// Moves virtual time to the next timer of the client and runs what it woke.
    fn let_next_timer_fire(&mut self) -> i64 {
        self.settle();
        let due = self.clock.next_deadline().expect("a timer is set");
        let now = self.clock_now();
        if due > now {
            self.clock.set(due);
        }
        self.settle();
        due - now
    }

    fn clock_now(&self) -> i64 {
        use quickchat_core::transport::Clock;
        self.clock.now_ms()
    }

    fn status_of(&mut self, id: &str) -> MessageStatus {
        let client = self.client.clone();
        let id = id.to_string();
        self.pool
            .run_until(async move { client.store().message(&id).await })
            .unwrap()
            .expect("message stored")
            .status
    }
}

/// `now_or_never` for a stream's next item, as an extension.
trait NowOrNever {
    fn now_or_never_opt(&mut self) -> Option<Option<Event>>;
}

impl NowOrNever for EventStream {
    fn now_or_never_opt(&mut self) -> Option<Option<Event>> {
        futures::FutureExt::now_or_never(self.next())
    }
}

/// Answers what every connect asks besides the history (prekey upkeep, status updates),
/// and Bob's history from `history` unless `hold` is set.
fn answer_routine_requests(
    script: &Script,
    clock: &ManualClock,
    history: Shared<Vec<Value>>,
    hold: Arc<AtomicBool>,
) {
    let clock = clock.clone();
    script.answer_with(move |request| {
        use quickchat_core::transport::{Clock, Method};
        let path = request.path.as_str();
        let body = match (request.method, path) {
            (Method::Get, "/api/users/prekeys/status") => json!({
                "signedPrekeyKeyId": 1,
                "signedPrekeyCreatedAt": clock.now_ms(),
                "oneTimePrekeyCount": 100,
            }),
            (Method::Put, "/api/messages/status") | (Method::Post, "/api/users/prekeys") => {
                json!({"success": true})
            }
            (Method::Get, p) if p.starts_with(&format!("/api/messages/{BOB}?")) => {
                if hold.load(Ordering::SeqCst) {
                    return None;
                }
                Value::Array(lock(&history).clone())
            }
            _ => return None,
        };
        Some(HttpResponse {
            status: 200,
            body: body.to_string(),
        })
    });
}

fn parse_all(frames: Vec<String>) -> Vec<Value> {
    frames
        .iter()
        .map(|f| serde_json::from_str(f).expect("the client writes JSON"))
        .collect()
}

fn online_list() -> String {
    json!({"type": "online", "payload": {"users": [
        {"userId": ME, "username": "alice", "online": true},
    ]}})
    .to_string()
}

fn heartbeat_relay() -> String {
    json!({"type": "typing", "payload": {"from": ME, "username": "alice", "typing": false}})
        .to_string()
}

/// The backend's echo of one of our messages.
fn echo(frame: &Value, status: &str, timestamp: i64) -> String {
    let payload = &frame["payload"];
    json!({"type": "message", "payload": {
        "id": payload["messageId"], "from": ME, "to": payload["to"],
        "content": payload["content"], "timestamp": timestamp, "status": status,
        "type": "text", "encrypted": false,
    }})
    .to_string()
}

/// A history row of one of our messages, as the backend stored it.
fn stored(frame: &Value, timestamp: i64) -> Value {
    let payload = &frame["payload"];
    json!({
        "id": payload["messageId"], "fromUser": ME, "toUser": payload["to"],
        "content": payload["content"], "timestamp": timestamp, "status": "sent",
        "readAt": null, "type": "text", "imageData": null, "encrypted": 0,
    })
}

fn messages_in(frames: &[Value]) -> Vec<Value> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .cloned()
        .collect()
}

fn config() -> ClientConfig {
    ClientConfig {
        backoff: Backoff {
            initial_ms: 1_000,
            max_ms: 8_000,
            jitter: 0.0,
        },
        ..ClientConfig::default()
    }
}

#[test]
fn an_unanswered_heartbeat_after_auth_closes_the_zombie_before_the_next_socket() {
    let mut h = Harness::new(config());
    h.run();
    let mut first = h.accept();
    h.settle();
    assert_eq!(parse_all(first.frames())[0]["type"], "auth");
    first.push(online_list());
    h.settle();
    let heartbeat = parse_all(first.frames());
    assert_eq!(heartbeat[0]["type"], "typing", "the registration check");
    // The backend dropped the socket from its registry (PROTOCOL §7): no relay comes.
    let waited = h.let_next_timer_fire();
    assert_eq!(
        waited,
        i64::try_from(h.client.config().keepalive_timeout_ms).unwrap()
    );
    assert!(
        first.is_closed_by_client(),
        "the zombie is closed before anything else"
    );
    assert_eq!(
        h.script.connects(),
        1,
        "no second socket during the backoff"
    );
    let events = h.events();
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Disconnected { reason } if reason.contains("reconnect race"))
        ),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Reconnecting {
                attempt: 1,
                delay_ms: 1_000
            }
        )),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Connected)),
        "{events:?}"
    );
    h.let_next_timer_fire();
    let mut second = h.accept();
    h.handshake(&mut second);
    let events = h.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Connected)),
        "{events:?}"
    );
    assert!(h.client.is_connected());
}

#[test]
fn the_backoff_doubles_up_to_its_cap_and_starts_over_after_a_healthy_connection() {
    let mut h = Harness::new(config());
    for _ in 0..5 {
        h.script.refuse_next_connect(TransportError::Connect {
            detail: "refused".into(),
        });
    }
    h.run();
    let mut delays = Vec::new();
    for _ in 0..5 {
        for event in h.events() {
            if let Event::Reconnecting { delay_ms, .. } = event {
                delays.push(delay_ms);
            }
        }
        h.let_next_timer_fire();
    }
    assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 8_000]);
    let mut socket = h.accept();
    h.handshake(&mut socket);
    assert!(h.client.is_connected());
    // A connection that stays up past `healthy_connection_ms` resets the backoff.
    h.clock.advance(h.client.config().healthy_connection_ms + 1);
    h.settle();
    socket.push(heartbeat_relay());
    h.settle();
    socket.close();
    let delays: Vec<u64> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Reconnecting { attempt, delay_ms } => Some((attempt, delay_ms)),
            _ => None,
        })
        .map(|(attempt, delay)| {
            assert_eq!(attempt, 1);
            delay
        })
        .collect();
    assert_eq!(delays, [1_000]);
}

#[test]
fn a_message_written_offline_goes_out_once_after_catch_up() {
    let mut h = Harness::new(config());
    let id = h.send("written offline");
    let id = id.borrow().clone().expect("saved while offline");
    assert_eq!(h.status_of(&id), MessageStatus::Pending);
    h.hold_history.store(true, Ordering::SeqCst);
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    // Catch-up reads Bob's history first: nothing goes out meanwhile.
    let held: Vec<PendingRequest> = h.script.take_requests();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].request.path.starts_with("/api/messages/bob-id?"));
    assert!(messages_in(&parse_all(socket.frames())).is_empty());
    held.into_iter().for_each(|r| r.respond(200, "[]"));
    h.settle();
    let sent = messages_in(&parse_all(socket.frames()));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["payload"]["messageId"], id);
    assert_eq!(sent[0]["payload"]["content"], "written offline");
    socket.push(echo(&sent[0], "sent", START_MS + 10));
    h.settle();
    assert_eq!(h.status_of(&id), MessageStatus::Sent);
    // The periodic outbox retry finds nothing more to send.
    h.clock.advance(20_000);
    h.settle();
    socket.push(heartbeat_relay());
    h.settle();
    assert!(messages_in(&parse_all(socket.frames())).is_empty());
}

#[test]
fn a_message_the_backend_stored_before_a_drop_is_settled_from_history_not_sent_again() {
    let mut h = Harness::new(config());
    h.run();
    let mut first = h.accept();
    h.handshake(&mut first);
    let id = h.send("stored, echo lost");
    let id = id.borrow().clone().unwrap();
    let sent = messages_in(&parse_all(first.frames()));
    assert_eq!(sent.len(), 1);
    // The backend stored it, then the socket died before the echo.
    lock(&h.history).push(stored(&sent[0], START_MS + 5));
    first.close();
    h.settle();
    h.let_next_timer_fire();
    let mut second = h.accept();
    h.handshake(&mut second);
    assert!(
        messages_in(&parse_all(second.frames())).is_empty(),
        "found in history: not written again"
    );
    assert_eq!(h.status_of(&id), MessageStatus::Sent);
}

#[test]
fn a_message_lost_with_the_socket_is_written_once_on_the_next() {
    let mut h = Harness::new(config());
    h.run();
    let mut first = h.accept();
    h.handshake(&mut first);
    let id = h.send("lost on the way");
    let id = id.borrow().clone().unwrap();
    assert_eq!(messages_in(&parse_all(first.frames())).len(), 1);
    // Never stored: the socket died with the frame in it.
    first.fail(TransportError::Io {
        detail: "connection reset".into(),
    });
    h.settle();
    h.let_next_timer_fire();
    let mut second = h.accept();
    h.handshake(&mut second);
    let again = messages_in(&parse_all(second.frames()));
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        again[0]["payload"]["messageId"], id,
        "same id: the backend can tell"
    );
    // Nothing else asks for it on this socket: not the retry, not a second flush.
    h.clock.advance(16_000);
    h.settle();
    second.push(heartbeat_relay());
    h.settle();
    assert!(messages_in(&parse_all(second.frames())).is_empty());
    second.push(echo(&again[0], "delivered", START_MS + 20_000));
    h.settle();
    assert_eq!(h.status_of(&id), MessageStatus::Delivered);
}

#[test]
fn frames_that_arrive_during_catch_up_wait_for_it() {
    let mut h = Harness::new(config());
    // Bob is a known peer with one message in history we have not seen.
    let old = json!({
        "id": "m-old", "fromUser": BOB, "toUser": ME, "content": "from history",
        "timestamp": START_MS - 1_000, "status": "sent", "readAt": null, "type": "text",
        "imageData": null, "encrypted": 0,
    });
    lock(&h.history).push(old);
    h.send("hi bob");
    h.hold_history.store(true, Ordering::SeqCst);
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    let held = h.script.take_requests();
    assert_eq!(held.len(), 1);
    // A live message arrives while history is being read.
    socket.push(
        json!({"type": "message", "payload": {
            "id": "m-live", "from": BOB, "to": ME, "content": "live", "timestamp": START_MS,
            "status": "sent", "type": "text", "encrypted": false,
        }})
        .to_string(),
    );
    h.settle();
    let before: Vec<Event> = h.events();
    assert!(
        !before.iter().any(|e| matches!(e, Event::Message { .. })),
        "the live frame waits for catch-up: {before:?}"
    );
    let history = Value::Array(lock(&h.history).clone()).to_string();
    held.into_iter()
        .for_each(|r| r.respond(200, history.clone()));
    let bodies: Vec<String> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Message { message, .. } => Some(message.body),
            _ => None,
        })
        .collect();
    assert_eq!(bodies, ["from history", "live"]);
    let client = h.client.clone();
    let shown = h
        .pool
        .run_until(async move {
            client
                .history(&Conversation::Direct(BOB.into()), None, 10)
                .await
        })
        .unwrap();
    assert_eq!(shown.len(), 3, "{shown:?}");
}

/// A message waiting for its pacing leaves the serving loop asleep until it is due: a loop
/// that woke itself would spin without yielding, and every other task on its thread (a
/// web peer's handler, the HTTP client reading a bundle) would wait until the message went
/// out — which is how the first message's handler missed its margin on a loaded machine.
#[test]
fn a_paced_message_leaves_the_serving_loop_asleep_until_it_is_due() {
    with_deadline(|| {
        let mut h = Harness::new(config());
        h.run();
        let mut socket = h.accept();
        h.handshake(&mut socket);
        h.send("one");
        h.send("two");
        let first = messages_in(&parse_all(socket.frames()));
        assert_eq!(first.len(), 1, "the second waits for the spacing: {first:?}");
        let spacing = i64::try_from(h.client.config().pacing.min_interval_ms).unwrap();
        assert_eq!(h.clock.next_deadline(), Some(START_MS + spacing));
        h.let_next_timer_fire();
        let second = messages_in(&parse_all(socket.frames()));
        assert_eq!(second.len(), 1, "{second:?}");
        assert_eq!(second[0]["payload"]["content"], "two");
    });
}

/// A live message from Bob (plaintext, which the harness allows from him).
fn from_bob(id: &str, text: &str, timestamp: i64) -> String {
    json!({"type": "message", "payload": {
        "id": id, "from": BOB, "to": ME, "content": text, "timestamp": timestamp,
        "status": "sent", "type": "text", "encrypted": false,
    }})
    .to_string()
}

#[test]
fn peer_messages_read_together_are_one_batch_even_with_echoes_between_them() {
    let mut h = Harness::new(config());
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    let id = h.send("ours");
    let id = id.borrow().clone().expect("saved");
    let sent = messages_in(&parse_all(socket.frames()));
    assert_eq!(sent.len(), 1, "{sent:?}");
    h.events();
    // As a busy bot reads them: a peer's message, the echo of its own reply, another.
    socket.push(from_bob("b1", "one", START_MS + 20));
    socket.push(echo(&sent[0], "sent", START_MS + 21));
    socket.push(from_bob("b2", "two", START_MS + 22));
    let seen: Vec<String> = h
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Message { message, .. } => Some(format!("message {}", message.id)),
            Event::MessageStatus { message_id, .. } => Some(format!("status {message_id}")),
            _ => None,
        })
        .collect();
    // Both of Bob's messages came out of one batch (one commit), the echo right after.
    assert_eq!(
        seen,
        ["message b1".to_string(), "message b2".into(), format!("status {id}")]
    );
    assert_eq!(h.status_of(&id), MessageStatus::Sent);
    assert_eq!(h.status_of("b2"), MessageStatus::Delivered);
}

#[test]
fn the_echoes_of_one_read_are_settled_in_one_commit() {
    let mut h = Harness::new(config());
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    let first = h.send("one of ours");
    let second = h.send("another of ours");
    let first = first.borrow().clone().expect("saved");
    let second = second.borrow().clone().expect("saved");
    // The second goes out after the pause the web client keeps between messages.
    h.clock.advance(1_000);
    h.settle();
    let sent = messages_in(&parse_all(socket.frames()));
    assert_eq!(sent.len(), 2, "{sent:?}");
    h.events();
    let before = h.client.store().commit_count();
    // As a busy bot reads them: a peer's message, the echoes of two replies, another.
    socket.push(from_bob("b1", "one", START_MS + 20));
    socket.push(echo(&sent[0], "sent", START_MS + 21));
    socket.push(echo(&sent[1], "delivered", START_MS + 22));
    socket.push(from_bob("b2", "two", START_MS + 23));
    let statuses: Vec<(String, MessageStatus)> = h
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::MessageStatus { message_id, status } => Some((message_id, status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (first.clone(), MessageStatus::Sent),
            (second.clone(), MessageStatus::Delivered)
        ]
    );
    // One commit for Bob's two messages, one for both echoes.
    assert_eq!(h.client.store().commit_count() - before, 2);
    assert_eq!(h.status_of(&first), MessageStatus::Sent);
    assert_eq!(h.status_of(&second), MessageStatus::Delivered);
    assert_eq!(h.status_of("b2"), MessageStatus::Delivered);
}

// ---- Catch-up at scale: known peers on connect, the directory scan in the background ----

/// Users of the scripted directory: `user-0000` …, with this account and Bob among them.
fn directory(users: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..users).map(|i| format!("user-{i:04}")).collect();
    ids.push(ME.to_string());
    ids.push(BOB.to_string());
    ids
}

/// A first message `from` a peer this account never dealt with, as history returns it.
fn from_stranger(from: &str, id: &str) -> Value {
    json!({
        "id": id, "fromUser": from, "toUser": ME, "content": format!("hello from {from}"),
        "timestamp": START_MS - 5_000, "status": "sent", "readAt": null, "type": "text",
        "imageData": null, "encrypted": 0,
    })
}

/// Answers the routine requests, the directory (`users`), and every history from `inbox`
/// (empty when absent) — unless `hold` is set, when history reads wait for the test.
fn answer_directory(
    h: &Harness,
    users: Vec<String>,
    inbox: Shared<std::collections::HashMap<String, Vec<Value>>>,
) {
    let clock = h.clock.clone();
    let hold = h.hold_history.clone();
    h.script.answer_with(move |request| {
        use quickchat_core::transport::{Clock, Method};
        let path = request.path.as_str();
        let body = match (request.method, path) {
            (Method::Get, "/api/users/prekeys/status") => json!({
                "signedPrekeyKeyId": 1,
                "signedPrekeyCreatedAt": clock.now_ms(),
                "oneTimePrekeyCount": 100,
            }),
            (Method::Put, "/api/messages/status") | (Method::Post, "/api/users/prekeys") => {
                json!({"success": true})
            }
            (Method::Get, "/api/users") => Value::Array(
                users
                    .iter()
                    .map(|id| json!({"id": id, "username": id, "avatar": null, "lastSeen": null}))
                    .collect(),
            ),
            (Method::Get, p) if p.starts_with("/api/messages/") => {
                if hold.load(Ordering::SeqCst) {
                    return None;
                }
                let peer = history_peer(p);
                Value::Array(lock(&inbox).get(&peer).cloned().unwrap_or_default())
            }
            _ => return None,
        };
        Some(HttpResponse {
            status: 200,
            body: body.to_string(),
        })
    });
}

/// The peer of a history request's path.
fn history_peer(path: &str) -> String {
    path.trim_start_matches("/api/messages/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The peers whose history the client asked for, in order.
fn history_requests(h: &Harness) -> Vec<String> {
    h.script
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/messages/") && r.path.contains("?user="))
        .map(|r| history_peer(&r.path))
        .collect()
}

fn scan_config() -> ClientConfig {
    ClientConfig {
        pacing: quickchat_core::client::Pacing::off(),
        ..config()
    }
}

#[test]
fn a_send_on_a_1000_user_server_reads_only_the_known_conversations() {
    assert_eq!(
        ClientConfig::default().catch_up,
        CatchUpScope::KnownPeers,
        "the default catches up with the known conversations, not the whole directory"
    );
    let mut h = Harness::new(scan_config());
    answer_directory(&h, directory(1_000), Shared::default());
    // Bob is known: a message to him waits in the outbox.
    h.send("written offline");
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    let id = h.send("and one more");
    assert!(id.borrow().is_some());
    let sent = messages_in(&parse_all(socket.frames()));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(history_requests(&h), [BOB], "only the known conversation");
    assert!(
        !h.script.requests().iter().any(|r| r.path == "/api/users"),
        "the directory is not read on the way of a connect or a send"
    );
    assert!(h.events().iter().any(|e| matches!(e, Event::CaughtUp { .. })));
}

#[test]
fn the_background_scan_reads_every_user_once_with_at_most_four_in_flight_and_finds_a_new_peer() {
    let mut h = Harness::new(scan_config());
    let users = directory(1_000);
    let inbox: Shared<std::collections::HashMap<String, Vec<Value>>> = Shared::default();
    lock(&inbox).insert(
        "user-0777".into(),
        vec![from_stranger("user-0777", "m-stranger")],
    );
    answer_directory(&h, users.clone(), inbox.clone());
    h.send("bob is known");
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    assert_eq!(history_requests(&h), [BOB]);
    h.hold_history.store(true, Ordering::SeqCst);
    let scan = h.client.config().directory_scan.expect("on by default");
    // Nothing until the connection stayed up a while.
    let waited = h.let_next_timer_fire();
    assert_eq!(waited, i64::try_from(scan.start_after_ms).unwrap());
    let mut most_in_flight = 0;
    let mut rounds = 0;
    loop {
        h.settle();
        let held = h.script.take_requests();
        if held.is_empty() {
            break;
        }
        most_in_flight = most_in_flight.max(held.len());
        for request in held {
            let peer = history_peer(&request.request.path);
            let body = Value::Array(lock(&inbox).get(&peer).cloned().unwrap_or_default());
            request.respond(200, body.to_string());
        }
        rounds += 1;
        assert!(rounds < 1_000, "the scan ends");
    }
    assert_eq!(most_in_flight, scan.max_in_flight);
    let asked = history_requests(&h);
    let mut expected: Vec<String> = users
        .iter()
        .filter(|id| *id != ME && *id != BOB)
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(asked[0], BOB, "the known peer on connect");
    assert_eq!(asked[1..], expected, "every other user once, in id order");
    let found: Vec<String> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Message { message, .. } => Some(message.body),
            _ => None,
        })
        .collect();
    assert_eq!(found, ["hello from user-0777"]);
    let client = h.client.clone();
    let progress = h
        .pool
        .run_until(async move { client.store().account_meta().await })
        .unwrap()
        .unwrap()
        .directory_scan
        .unwrap();
    assert_eq!(progress.after, None, "the pass is complete");
    assert!(progress.finished_at.is_some());
    // The next pass waits for its interval.
    let next = h.clock.next_deadline();
    assert!(
        next.is_some_and(|due| due > h.clock_now()),
        "asleep until a timer"
    );
    h.clock.advance(scan.interval_ms / 2);
    socket.push(heartbeat_relay());
    h.settle();
    assert_eq!(history_requests(&h).len(), asked.len(), "no second pass yet");
}

#[test]
fn the_scan_resumes_after_a_restart_where_the_store_says_it_stopped() {
    let users = directory(300);
    let mut h = Harness::new(scan_config());
    answer_directory(&h, users.clone(), Shared::default());
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    h.hold_history.store(true, Ordering::SeqCst);
    h.let_next_timer_fire();
    // Two steps' worth of answers, then the process goes away mid-pass.
    let step = h.client.config().directory_scan.unwrap().step;
    let mut answered = 0;
    while answered < 2 * step {
        h.settle();
        let held = h.script.take_requests();
        assert!(!held.is_empty());
        for request in held {
            request.respond(200, "[]");
            answered += 1;
        }
    }
    h.settle();
    let client = h.client.clone();
    let saved = h
        .pool
        .run_until(async move { client.store().account_meta().await })
        .unwrap()
        .unwrap()
        .directory_scan
        .unwrap();
    let mut sorted: Vec<String> = users.iter().filter(|u| *u != ME).cloned().collect();
    sorted.sort();
    let after = saved.after.clone().expect("a pass in progress");
    assert_eq!(after, sorted[2 * step - 1], "the position after two steps");
    drop(h);

    let mut h = Harness::new_with(scan_config(), Some(saved));
    answer_directory(&h, users.clone(), Shared::default());
    h.run();
    let mut socket = h.accept();
    h.handshake(&mut socket);
    h.let_next_timer_fire();
    for _ in 0..100 {
        h.settle();
        if h.script.take_requests().is_empty() {
            break;
        }
    }
    let asked = history_requests(&h);
    let rest: Vec<String> = sorted.iter().filter(|u| **u > after).cloned().collect();
    assert_eq!(asked, rest, "the pass continues after {after}, nothing read twice");
}

/// Runs `scenario` and fails if it does not finish: a spinning loop never returns from its
/// poll, so natively it runs on a thread of its own, watched. (On wasm32 there are no
/// threads; the test runner's timeout fails it instead.)
#[cfg(not(target_arch = "wasm32"))]
fn with_deadline(scenario: fn()) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        scenario();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the scenario finished (a serving loop that spins never yields)");
}

#[cfg(target_arch = "wasm32")]
fn with_deadline(scenario: fn()) {
    scenario();
}
