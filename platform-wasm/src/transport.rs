//! [`Transport`] over the global `fetch` (read by what its answer has, see `body`) and `WebSocket` (web-sys).
//!
//! The socket's events are turned into a stream of text frames. [`FrameSink::close`]
//! waits for the socket's `close` event — the end of the closing handshake — so the backend
//! has dropped the old socket before the client authenticates a new one (the reconnect race,
//! PROTOCOL §7).
//!
//! Resource bounds (see [`quickchat_core::protocol::limits`]): a REST answer is read chunk
//! by chunk up to its endpoint's cap. The browser cannot pause a socket (its `onmessage`
//! fires whether or not anyone reads), so received messages wait in a queue of at most
//! [`FRAME_QUEUE`](limits::FRAME_QUEUE) messages and
//! [`MAX_QUEUED_BYTES`](limits::MAX_QUEUED_BYTES); a message that does not fit (or is longer
//! than [`MAX_FRAME`](limits::MAX_FRAME)) closes the socket with an error, and the client
//! reconnects and catches up from history. Opening the socket, each REST request and the
//! closing handshake have timeouts.
//!
//! Outside a browser (Node), pass a WebSocket constructor such as the `ws` package's; the
//! transport uses only the standard browser API on it (`onopen`, `onmessage`, `onerror`,
//! `onclose`, `send`, `close`, `readyState`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_trait::async_trait;
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt, pin_mut, select};
use quickchat_core::protocol::limits;
use quickchat_core::transport::{
    FrameSink, FrameStream, HttpRequest, HttpResponse, Transport, TransportError, WebSocket,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;

/// How long [`FrameSink::close`] waits for the closing handshake, ms.
const CLOSE_WAIT_MS: u32 = 5_000;

/// How long opening the WebSocket (the handshake and the HTTP upgrade) may take, ms.
const OPEN_TIMEOUT_MS: u32 = 15_000;

/// How long one REST request may take, its answer's body included, ms.
const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// REST and WebSocket access to one server.
#[derive(Clone)]
pub struct WebTransport {
    base: String,
    ws_url: String,
    websocket_constructor: Option<js_sys::Function>,
}

impl std::fmt::Debug for WebTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTransport")
            .field("base", &self.base)
            .field("ws_url", &self.ws_url)
            .finish()
    }
}

impl WebTransport {
    /// A transport for the server at `server` (its origin, e.g. `https://chat.example.com`;
    /// `/api` and `/ws` are added). An empty `server` means the page's own origin.
    pub fn new(server: &str) -> Result<Self, Error> {
        let base = server.trim_end_matches('/').to_string();
        let origin = if base.is_empty() {
            page_origin().ok_or_else(|| {
                Error::Unsupported(
                    "no page origin to default to (outside a browser): give the server URL".into(),
                )
            })?
        } else {
            base.clone()
        };
        let ws_url = if let Some(rest) = origin.strip_prefix("https://") {
            format!("wss://{rest}/ws")
        } else if let Some(rest) = origin.strip_prefix("http://") {
            format!("ws://{rest}/ws")
        } else {
            return Err(Error::invalid(
                "server URL",
                format!(
                    "must start with http:// or https://, got {}",
                    quickchat_core::quoted::Quoted(server)
                ),
            ));
        };
        Ok(Self {
            base,
            ws_url,
            websocket_constructor: None,
        })
    }

    /// Uses `url` (`ws://…` or `wss://…`) for the WebSocket instead of `<server>/ws`.
    pub fn with_websocket_url(mut self, url: impl Into<String>) -> Self {
        self.ws_url = url.into();
        self
    }

    /// Opens sockets with this constructor (`new constructor(url)`) instead of the global
    /// `WebSocket` — for Node, where there is none before version 22.
    pub fn with_websocket_constructor(mut self, constructor: js_sys::Function) -> Self {
        self.websocket_constructor = Some(constructor);
        self
    }

    /// The server's base URL (empty: the page's origin).
    pub fn server(&self) -> &str {
        &self.base
    }

    /// The WebSocket URL.
    pub fn websocket_url(&self) -> &str {
        &self.ws_url
    }

    fn new_socket(&self) -> Result<web_sys::WebSocket, TransportError> {
        let connect_error = |e: JsValue| TransportError::Connect {
            detail: js_error_text(&e),
        };
        match &self.websocket_constructor {
            Some(constructor) => {
                let args = js_sys::Array::of1(&JsValue::from_str(&self.ws_url));
                js_sys::Reflect::construct(constructor, &args)
                    .map(JsCast::unchecked_into)
                    .map_err(connect_error)
            }
            None => {
                let global = js_sys::global();
                let has_websocket = js_sys::Reflect::get(&global, &"WebSocket".into())
                    .is_ok_and(|v| v.is_function());
                if !has_websocket {
                    return Err(TransportError::Connect {
                        detail: "this environment has no WebSocket: pass a constructor (for \
                                 example the `ws` package's WebSocket) in the client options"
                            .into(),
                    });
                }
                web_sys::WebSocket::new(&self.ws_url).map_err(connect_error)
            }
        }
    }
}

/// `location.origin` of the page or worker, if there is one.
fn page_origin() -> Option<String> {
    let location = js_sys::Reflect::get(&js_sys::global(), &"location".into()).ok()?;
    js_sys::Reflect::get(&location, &"origin".into())
        .ok()?
        .as_string()
        .filter(|origin| origin.starts_with("http"))
}

/// The message of a JavaScript exception or error event.
pub(crate) fn js_error_text(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    if let Some(text) = value.as_string() {
        return text;
    }
    js_sys::Reflect::get(value, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

impl WebTransport {
    /// One request and its answer, without the timeout: through the global `fetch`, read
    /// by what the answer has rather than by its class (see [`crate::body`]).
    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = format!("{}{}", self.base, request.path);
        let authorization = request.bearer.as_ref().map(|b| format!("Bearer {b}"));
        let mut headers = Vec::new();
        if let Some(authorization) = &authorization {
            headers.push(("Authorization", authorization.as_str()));
        }
        if request.body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let init = crate::body::init(request.method.as_str(), &headers, request.body.as_deref());
        crate::body::fetch(&url, &init, request.max_response_bytes, &request.path).await
    }
}

#[async_trait(?Send)]
impl Transport for WebTransport {
    async fn request(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        // Dropping the exchange stops waiting for it; the browser ends the fetch itself.
        let exchange = self.exchange(request).fuse();
        let timeout = gloo_timers::future::TimeoutFuture::new(REQUEST_TIMEOUT_MS).fuse();
        pin_mut!(exchange, timeout);
        select! {
            result = exchange => result,
            () = timeout => Err(TransportError::Timeout {
                step: "the REST request",
                millis: u64::from(REQUEST_TIMEOUT_MS),
            }),
        }
    }

    async fn connect_websocket(&self) -> Result<WebSocket, TransportError> {
        let socket = self.new_socket()?;
        socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let state = Rc::new(SocketState::default());
        let backlog = Rc::new(Backlog::default());
        let (frames_tx, frames_rx) = mpsc::unbounded();
        let (opened_tx, opened_rx) = oneshot::channel();
        let opened_tx = Rc::new(RefCell::new(Some(opened_tx)));

        let on_open = {
            let opened_tx = Rc::clone(&opened_tx);
            Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
                if let Some(tx) = opened_tx.borrow_mut().take() {
                    let _ = tx.send(Ok(()));
                }
            })
        };
        let on_message = {
            let frames_tx = frames_tx.clone();
            let backlog = Rc::clone(&backlog);
            let socket = socket.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let data = js_sys::Reflect::get(&event, &"data".into()).unwrap_or_default();
                // Binary frames are not part of the protocol: skipped.
                let Some(text) = data.as_string() else { return };
                match backlog.admit(text.len()) {
                    Admit::Queued => {
                        let _ = frames_tx.unbounded_send(Ok(text));
                    }
                    Admit::Overflow => {
                        let _ = frames_tx.unbounded_send(Err(TransportError::Io {
                            detail: format!(
                                "more than {} messages or {} bytes waiting to be handled, or \
                                 one message over {} bytes: closing the socket",
                                limits::FRAME_QUEUE,
                                limits::MAX_QUEUED_BYTES,
                                limits::MAX_FRAME
                            ),
                        }));
                        let _ = socket.close();
                    }
                    Admit::Dropped => {}
                }
            })
        };
        // An error event is always followed by a close event, which reports the end.
        let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {});
        let on_close = {
            let state = Rc::clone(&state);
            let opened_tx = Rc::clone(&opened_tx);
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let code = js_sys::Reflect::get(&event, &"code".into())
                    .ok()
                    .and_then(|c| c.as_f64())
                    .unwrap_or(0.0);
                let reason = js_sys::Reflect::get(&event, &"reason".into())
                    .ok()
                    .and_then(|r| r.as_string())
                    .unwrap_or_default();
                if let Some(tx) = opened_tx.borrow_mut().take() {
                    let _ = tx.send(Err(format!(
                        "the socket closed before opening (code {code}{}{reason})",
                        if reason.is_empty() { "" } else { ": " }
                    )));
                }
                state.mark_closed();
                frames_tx.close_channel();
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let connection = Rc::new(Connection {
            socket,
            state,
            _handlers: [on_open, on_message, on_error, on_close],
        });
        let opened = {
            let opened = opened_rx.fuse();
            let timeout = gloo_timers::future::TimeoutFuture::new(OPEN_TIMEOUT_MS).fuse();
            pin_mut!(opened, timeout);
            select! {
                opened = opened => Some(opened),
                () = timeout => None,
            }
        };
        // On any failure `connection` is dropped here, which closes the socket.
        match opened {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(detail))) => return Err(TransportError::Connect { detail }),
            Some(Err(_)) => {
                return Err(TransportError::Connect {
                    detail: "the socket went away before opening".into(),
                });
            }
            None => {
                return Err(TransportError::Timeout {
                    step: "opening the WebSocket",
                    millis: u64::from(OPEN_TIMEOUT_MS),
                });
            }
        }
        Ok(WebSocket {
            sink: Box::new(WebSink {
                connection: Rc::clone(&connection),
            }),
            stream: Box::new(WebStream {
                frames: frames_rx,
                backlog,
                _connection: connection,
            }),
        })
    }
}

/// What a received message found in the queue.
enum Admit {
    /// Room for it: queued.
    Queued,
    /// No room: the socket must close (reported once).
    Overflow,
    /// The queue overflowed before: dropped.
    Dropped,
}

/// How many received messages (and bytes) wait for the client, and whether the queue ever
/// overflowed.
#[derive(Default)]
struct Backlog {
    frames: Cell<usize>,
    bytes: Cell<usize>,
    overflowed: Cell<bool>,
}

impl Backlog {
    /// Counts a message of `len` bytes in if it fits.
    fn admit(&self, len: usize) -> Admit {
        if self.overflowed.get() {
            return Admit::Dropped;
        }
        let frames = self.frames.get().saturating_add(1);
        let bytes = self.bytes.get().saturating_add(len);
        if len > limits::MAX_FRAME
            || frames > limits::FRAME_QUEUE
            || bytes > limits::MAX_QUEUED_BYTES
        {
            self.overflowed.set(true);
            return Admit::Overflow;
        }
        self.frames.set(frames);
        self.bytes.set(bytes);
        Admit::Queued
    }

    /// Counts a message of `len` bytes out: the client took it.
    fn taken(&self, len: usize) {
        self.frames.set(self.frames.get().saturating_sub(1));
        self.bytes.set(self.bytes.get().saturating_sub(len));
    }
}

/// Whether the socket has closed, and who waits for that.
#[derive(Default)]
struct SocketState {
    closed: Cell<bool>,
    waiters: RefCell<Vec<oneshot::Sender<()>>>,
}

impl SocketState {
    fn mark_closed(&self) {
        self.closed.set(true);
        for waiter in self.waiters.borrow_mut().drain(..) {
            let _ = waiter.send(());
        }
    }

    fn wait_closed(&self) -> Option<oneshot::Receiver<()>> {
        if self.closed.get() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().push(tx);
        Some(rx)
    }
}

/// One socket and its event handlers, shared by both halves. When both are gone the
/// handlers are removed and the socket closed.
struct Connection {
    socket: web_sys::WebSocket,
    state: Rc<SocketState>,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onerror(None);
        self.socket.set_onclose(None);
        if !self.state.closed.get() {
            let _ = self.socket.close();
        }
    }
}

struct WebSink {
    connection: Rc<Connection>,
}

#[async_trait(?Send)]
impl FrameSink for WebSink {
    async fn send(&mut self, text: String) -> Result<(), TransportError> {
        let socket = &self.connection.socket;
        // A socket that is closing drops what is sent without an error: refuse instead.
        if self.connection.state.closed.get() || socket.ready_state() != web_sys::WebSocket::OPEN {
            return Err(TransportError::Closed);
        }
        socket.send_with_str(&text).map_err(|e| TransportError::Io {
            detail: js_error_text(&e),
        })
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        let Some(closed) = self.connection.state.wait_closed() else {
            return Ok(());
        };
        let _ = self.connection.socket.close();
        let closed = closed.fuse();
        let timeout = gloo_timers::future::TimeoutFuture::new(CLOSE_WAIT_MS).fuse();
        pin_mut!(closed, timeout);
        select! {
            _ = closed => Ok(()),
            () = timeout => Err(TransportError::Io {
                detail: "the server did not finish closing the socket in time".into(),
            }),
        }
    }
}

struct WebStream {
    /// Unbounded as a channel, bounded by `backlog`.
    frames: mpsc::UnboundedReceiver<Result<String, TransportError>>,
    backlog: Rc<Backlog>,
    _connection: Rc<Connection>,
}

#[async_trait(?Send)]
impl FrameStream for WebStream {
    async fn next_frame(&mut self) -> Option<Result<String, TransportError>> {
        // Cancel-safe: nothing is lost when this future is dropped before it completes.
        let frame = self.frames.next().await;
        if let Some(Ok(text)) = &frame {
            self.backlog.taken(text.len());
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn the_queue_overflows_once_then_drops_until_the_socket_is_gone() {
        let backlog = Backlog::default();
        for _ in 0..limits::FRAME_QUEUE {
            assert!(matches!(backlog.admit(10), Admit::Queued));
        }
        // Taking one makes room for one.
        backlog.taken(10);
        assert!(matches!(backlog.admit(10), Admit::Queued));
        assert!(matches!(backlog.admit(10), Admit::Overflow));
        assert!(matches!(backlog.admit(1), Admit::Dropped));
    }

    #[wasm_bindgen_test]
    fn bytes_and_single_message_size_are_bounded_too() {
        let backlog = Backlog::default();
        assert!(matches!(backlog.admit(limits::MAX_FRAME), Admit::Queued));
        assert!(matches!(backlog.admit(limits::MAX_FRAME), Admit::Queued));
        assert!(matches!(backlog.admit(1), Admit::Overflow));
        let fresh = Backlog::default();
        assert!(matches!(
            fresh.admit(limits::MAX_FRAME + 1),
            Admit::Overflow
        ));
    }
}
