//! A [`Transport`] in memory whose server side the test plays, request by request and frame
//! by frame.
//!
//! [`scripted`] gives the client's half ([`ScriptedTransport`]) and the test's half
//! ([`Script`]). A REST request goes first to the responder set with
//! [`Script::answer_with`] (for routine calls); whatever it leaves unanswered waits in
//! [`Script::take_requests`] until the test answers it. Every WebSocket the client opens
//! shows up in [`Script::accept`] as a [`ServerSocket`]: the test reads what the client
//! wrote, pushes frames to it, or closes it. Nothing happens unless the test drives it, so
//! a single-threaded executor makes every interleaving reproducible.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};

use crate::transport::{
    FrameSink, FrameStream, HttpRequest, HttpResponse, Transport, TransportError, WebSocket,
};

/// Answers routine requests; `None` leaves the request to the test.
pub type Responder = Box<dyn FnMut(&HttpRequest) -> Option<HttpResponse> + Send>;

/// The client's half: give it to the client as its transport.
pub struct ScriptedTransport {
    shared: Arc<Mutex<Shared>>,
}

/// The test's half: the server.
#[derive(Clone)]
pub struct Script {
    shared: Arc<Mutex<Shared>>,
}

/// A transport and the script that plays its server.
pub fn scripted() -> (ScriptedTransport, Script) {
    let shared = Arc::new(Mutex::new(Shared::default()));
    (
        ScriptedTransport {
            shared: shared.clone(),
        },
        Script { shared },
    )
}

#[derive(Default)]
struct Shared {
    responder: Option<Responder>,
    /// Every request, in the order it was made.
    log: Vec<HttpRequest>,
    /// Requests the responder left, oldest first.
    waiting: VecDeque<PendingRequest>,
    /// Sockets opened and not yet taken by the test.
    accepted: VecDeque<ServerSocket>,
    /// Errors the next attempts to open a socket fail with.
    refusals: VecDeque<TransportError>,
    /// Attempts to open a socket.
    connects: usize,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request waiting for the test's answer. Dropping it unanswered fails the request with
/// [`TransportError::Closed`].
pub struct PendingRequest {
    /// What the client asked.
    pub request: HttpRequest,
    reply: oneshot::Sender<Result<HttpResponse, TransportError>>,
}

impl PendingRequest {
    /// Answers with `status` and `body`.
    pub fn respond(self, status: u16, body: impl Into<String>) {
        let _ = self.reply.send(Ok(HttpResponse {
            status,
            body: body.into(),
        }));
    }

    /// Fails the request as the network would.
    pub fn fail(self, error: TransportError) {
        let _ = self.reply.send(Err(error));
    }
}

impl std::fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRequest")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Routine requests go to `responder` first.
    pub fn answer_with(
        &self,
        responder: impl FnMut(&HttpRequest) -> Option<HttpResponse> + Send + 'static,
    ) {
        lock(&self.shared).responder = Some(Box::new(responder));
    }

    /// The requests waiting for an answer, oldest first (taken: answer or drop them).
    pub fn take_requests(&self) -> Vec<PendingRequest> {
        lock(&self.shared).waiting.drain(..).collect()
    }

    /// Every request made so far, answered or not, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        lock(&self.shared).log.clone()
    }

    /// The oldest socket the client opened that the test has not taken yet.
    pub fn accept(&self) -> Option<ServerSocket> {
        lock(&self.shared).accepted.pop_front()
    }

    /// The next attempt to open a socket fails with `error`.
    pub fn refuse_next_connect(&self, error: TransportError) {
        lock(&self.shared).refusals.push_back(error);
    }

    /// How many times the client tried to open a socket.
    pub fn connects(&self) -> usize {
        lock(&self.shared).connects
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl Transport for ScriptedTransport {
    async fn request(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let answer = {
            let mut shared = lock(&self.shared);
            shared.log.push(request.clone());
            match shared
                .responder
                .as_mut()
                .and_then(|answer| answer(&request))
            {
                Some(response) => Ok(response),
                None => {
                    let (reply, answer) = oneshot::channel();
                    shared.waiting.push_back(PendingRequest { request, reply });
                    Err(answer)
                }
            }
        };
        match answer {
            Ok(response) => Ok(response),
            Err(answer) => answer.await.unwrap_or(Err(TransportError::Closed)),
        }
    }

    async fn connect_websocket(&self) -> Result<WebSocket, TransportError> {
        let mut shared = lock(&self.shared);
        shared.connects += 1;
        if let Some(error) = shared.refusals.pop_front() {
            return Err(error);
        }
        let (to_server, from_client) = mpsc::unbounded();
        let (to_client, from_server) = mpsc::unbounded();
        let state = Arc::new(SocketState::default());
        shared.accepted.push_back(ServerSocket {
            from_client,
            to_client: Some(to_client),
            state: state.clone(),
        });
        Ok(WebSocket {
            sink: Box::new(ClientSink {
                to_server: Some(to_server),
                state,
            }),
            stream: Box::new(ClientStream { from_server }),
        })
    }
}

#[derive(Default)]
struct SocketState {
    closed_by_client: AtomicBool,
    closed_by_server: AtomicBool,
}

/// The server's end of one WebSocket the client opened.
pub struct ServerSocket {
    from_client: mpsc::UnboundedReceiver<String>,
    to_client: Option<mpsc::UnboundedSender<Result<String, TransportError>>>,
    state: Arc<SocketState>,
}

impl ServerSocket {
    /// The frames the client wrote since the last call, in order.
    pub fn frames(&mut self) -> Vec<String> {
        let mut frames = Vec::new();
        while let Ok(frame) = self.from_client.try_recv() {
            frames.push(frame);
        }
        frames
    }

    /// The next frame the client writes (`None` once the client closed the socket).
    pub async fn next_frame(&mut self) -> Option<String> {
        self.from_client.next().await
    }

    /// Sends `frame` to the client. Ignored once the socket is closed.
    pub fn push(&self, frame: impl Into<String>) {
        if let Some(to_client) = &self.to_client {
            let _ = to_client.unbounded_send(Ok(frame.into()));
        }
    }

    /// Fails the client's reading side with `error` (a connection reset).
    pub fn fail(&mut self, error: TransportError) {
        if let Some(to_client) = self.to_client.take() {
            let _ = to_client.unbounded_send(Err(error));
        }
        self.state.closed_by_server.store(true, Ordering::SeqCst);
    }

    /// The server closes the socket: the client reads its end, and its writes fail.
    pub fn close(&mut self) {
        self.to_client = None;
        self.state.closed_by_server.store(true, Ordering::SeqCst);
    }

    /// Whether the client closed the socket.
    pub fn is_closed_by_client(&self) -> bool {
        self.state.closed_by_client.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for ServerSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSocket")
            .field(
                "closed_by_client",
                &self.state.closed_by_client.load(Ordering::SeqCst),
            )
            .field(
                "closed_by_server",
                &self.state.closed_by_server.load(Ordering::SeqCst),
            )
            .finish_non_exhaustive()
    }
}

struct ClientSink {
    to_server: Option<mpsc::UnboundedSender<String>>,
    state: Arc<SocketState>,
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl FrameSink for ClientSink {
    async fn send(&mut self, text: String) -> Result<(), TransportError> {
        if self.state.closed_by_server.load(Ordering::SeqCst) {
            return Err(TransportError::Closed);
        }
        match &self.to_server {
            Some(to_server) => to_server
                .unbounded_send(text)
                .map_err(|_| TransportError::Closed),
            None => Err(TransportError::Closed),
        }
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.to_server = None;
        self.state.closed_by_client.store(true, Ordering::SeqCst);
        Ok(())
    }
}

struct ClientStream {
    from_server: mpsc::UnboundedReceiver<Result<String, TransportError>>,
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl FrameStream for ClientStream {
    async fn next_frame(&mut self) -> Option<Result<String, TransportError>> {
        self.from_server.next().await
    }
}
