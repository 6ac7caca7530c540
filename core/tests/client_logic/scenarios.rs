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
    Conversation, MemoryStore, MessageStatus, SavedLogin, Store, StoreOp, WriteBatch,
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
