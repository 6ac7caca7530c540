//! Events for Python: the client's event stream, handed over in batches of what is ready,
//! filtered by the kinds the Python side has handlers for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::{FutureExt, StreamExt};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{IntoPyObjectExt, intern};
use quickchat::{Direction, Event};

use crate::client::{ClientSlot, PeerCache, current};
use crate::models::{Message, status_name};

/// Incoming 1:1 messages.
const MESSAGE: u32 = 1;
/// Status changes of this account's messages.
const MESSAGE_STATUS: u32 = 2;
/// Typing indicators (1:1).
const TYPING: u32 = 4;
/// Users coming online or going offline.
const PRESENCE: u32 = 8;
/// Incoming group messages.
const GROUP_MESSAGE: u32 = 16;
/// The connection's state.
const CONNECTION: u32 = 32;
/// Every event, as JSON.
const RAW: u32 = 64;

/// Most events handed over in one batch.
const MAX_BATCH: usize = 256;

/// How long a batch waits for more events after its first one.
pub(crate) const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

/// One event as Python receives it: a tuple whose first item names the kind.
pub(crate) enum PyEvent {
    Message(Message),
    GroupMessage(Message),
    MessageStatus(String, &'static str),
    Typing(String, String, bool),
    Presence(String, String, bool),
    Connection(&'static str, Option<String>),
    Raw(String),
}

impl<'py> IntoPyObject<'py> for PyEvent {
    type Target = PyTuple;
    type Output = Bound<'py, PyTuple>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Bound<'py, PyAny>> = match self {
            PyEvent::Message(m) => vec![
                intern!(py, "message").clone().into_any(),
                m.into_bound_py_any(py)?,
            ],
            PyEvent::GroupMessage(m) => vec![
                intern!(py, "group_message").clone().into_any(),
                m.into_bound_py_any(py)?,
            ],
            PyEvent::MessageStatus(id, status) => vec![
                intern!(py, "message_status").clone().into_any(),
                id.into_bound_py_any(py)?,
                status.into_bound_py_any(py)?,
            ],
            PyEvent::Typing(user, name, on) => vec![
                intern!(py, "typing").clone().into_any(),
                user.into_bound_py_any(py)?,
                name.into_bound_py_any(py)?,
                on.into_bound_py_any(py)?,
            ],
            PyEvent::Presence(user, name, online) => vec![
                intern!(py, "presence").clone().into_any(),
                user.into_bound_py_any(py)?,
                name.into_bound_py_any(py)?,
                online.into_bound_py_any(py)?,
            ],
            PyEvent::Connection(state, detail) => vec![
                intern!(py, "status").clone().into_any(),
                state.into_bound_py_any(py)?,
                detail.into_bound_py_any(py)?,
            ],
            PyEvent::Raw(json) => vec![
                intern!(py, "event").clone().into_any(),
                json.into_bound_py_any(py)?,
            ],
        };
        PyTuple::new(py, items)
    }
}

/// The events of one client from its opening on (nothing is missed between opening the
/// client and the first wait).
#[pyclass(frozen, module = "quickchat._quickchat")]
pub(crate) struct EventStream {
    stream: Arc<tokio::sync::Mutex<quickchat::EventStream>>,
    mask: Arc<AtomicU32>,
    /// The client's slot: read for the signed-in user, never held across a wait (the
    /// stream must not keep a closed client's store open).
    slot: ClientSlot,
}

impl EventStream {
    pub(crate) fn new(
        stream: Arc<tokio::sync::Mutex<quickchat::EventStream>>,
        slot: ClientSlot,
    ) -> Self {
        Self {
            stream,
            mask: Arc::new(AtomicU32::new(0)),
            slot,
        }
    }
}

#[pymethods]
impl EventStream {
    /// Sets the kinds of events to hand over (a bit mask; see the constants in
    /// `events.rs`). Takes effect at once, also for a wait in progress: no wait has to be
    /// cancelled (which could lose the events it was handing over).
    fn set_mask(&self, mask: u32) {
        self.mask.store(mask, Ordering::Relaxed);
    }

    /// Waits until at least one event of the kinds asked for is there and returns every
    /// such event ready by then (at most 256), as tuples; `None` once the client is gone.
    /// Events of other kinds are dropped.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mask = Arc::clone(&self.mask);
        let stream = Arc::clone(&self.stream);
        let slot = Arc::clone(&self.slot);
        crate::bridge::spawn(py, async move {
            let mut stream = stream.lock().await;
            let mut batch = Vec::new();
            while batch.is_empty() {
                let Some(event) = stream.next().await else {
                    return Ok(None);
                };
                // Read now, not before waiting: the user may have logged in meanwhile.
                let (me, peers) = whom(&slot);
                let mask = mask.load(Ordering::Relaxed);
                convert(event, mask, me.as_deref(), &peers, &mut batch);
            }
            // Let a burst gather: each batch costs the loop a wake-up and the GIL changing
            // threads, which on a busy machine costs more than the events themselves. A
            // millisecond of latency is nothing to a chat bot; under load, batches grow.
            tokio::time::sleep(GATHER).await;
            let (me, peers) = whom(&slot);
            let mask = mask.load(Ordering::Relaxed);
            while batch.len() < MAX_BATCH {
                match stream.next().now_or_never() {
                    Some(Some(event)) => convert(event, mask, me.as_deref(), &peers, &mut batch),
                    _ => break,
                }
            }
            Ok(Some(batch))
        })
    }
}

/// The signed-in user's id and the peer cache, from the client if it is still open.
fn whom(slot: &ClientSlot) -> (Option<String>, PeerCache) {
    match current(slot) {
        Some(shared) => (
            shared.client.current_user().map(|user| user.user_id),
            shared.peers,
        ),
        None => (None, PeerCache::default()),
    }
}

fn convert(event: Event, mask: u32, me: Option<&str>, peers: &PeerCache, batch: &mut Vec<PyEvent>) {
    if mask & RAW != 0
        && let Ok(json) = serde_json::to_string(&event)
    {
        batch.push(PyEvent::Raw(json));
    }
    match event {
        Event::Message { message, .. } if message.direction == Direction::Incoming => {
            // The sender is a peer id from now on: replying needs no look-up.
            crate::client::remember_peer(peers, &message.sender_id, &message.sender_id);
            if mask & MESSAGE != 0 {
                batch.push(PyEvent::Message(Message::new(message, me)));
            }
        }
        Event::GroupMessage { message, .. }
            if message.direction == Direction::Incoming && mask & GROUP_MESSAGE != 0 =>
        {
            batch.push(PyEvent::GroupMessage(Message::new(message, me)));
        }
        Event::MessageStatus { message_id, status } if mask & MESSAGE_STATUS != 0 => {
            batch.push(PyEvent::MessageStatus(message_id, status_name(status)));
        }
        Event::Typing {
            user_id,
            username,
            typing,
        } if mask & TYPING != 0 => batch.push(PyEvent::Typing(user_id, username, typing)),
        Event::Presence {
            user_id,
            username,
            online,
        } if mask & PRESENCE != 0 => batch.push(PyEvent::Presence(user_id, username, online)),
        event if mask & CONNECTION != 0 => {
            if let Some((state, detail)) = connection_state(event) {
                batch.push(PyEvent::Connection(state, detail));
            }
        }
        _ => {}
    }
}

/// The connection's state changes, as `on_status` reports them.
fn connection_state(event: Event) -> Option<(&'static str, Option<String>)> {
    Some(match event {
        Event::Connected => ("connected", None),
        Event::Disconnected { reason } => ("disconnected", Some(reason)),
        Event::Reconnecting { attempt, delay_ms } => (
            "reconnecting",
            Some(format!("attempt {attempt} in {delay_ms} ms")),
        ),
        Event::CaughtUp { new_messages } => ("caught_up", Some(new_messages.to_string())),
        Event::CatchUpFailed { reason } => ("catch_up_failed", Some(reason)),
        Event::Stopped { error } => ("stopped", error),
        Event::SessionExpired => ("session_expired", None),
        _ => return None,
    })
}
