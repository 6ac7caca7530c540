//! [`Transport`] over reqwest (REST) and tokio-tungstenite (WebSocket).
//!
//! The WebSocket is read by a background task that forwards text frames, answers pings
//! (tungstenite does that as it reads), sends its own pings to keep middleboxes from
//! dropping an idle socket, and reports when the socket has fully closed — which
//! [`FrameSink::close`] waits for, so the backend has dropped the old socket before the
//! client authenticates a new one.
//!
//! Resource bounds (see [`quickchat_core::protocol::limits`]): a REST answer is read chunk by
//! chunk up to its endpoint's cap; a WebSocket message longer than
//! [`MAX_FRAME`](limits::MAX_FRAME) fails the socket; at most
//! [`FRAME_QUEUE`](limits::FRAME_QUEUE) messages and
//! [`MAX_QUEUED_BYTES`](limits::MAX_QUEUED_BYTES) wait for the client, after which the reader
//! stops reading the socket, so a fast server is slowed down by TCP backpressure instead of
//! filling this process's memory. Every network step has a timeout ([`NetworkTimeouts`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use quickchat_core::protocol::limits;
use quickchat_core::transport::{
    FrameSink, FrameStream, HttpRequest, HttpResponse, Method, Transport, TransportError, WebSocket,
};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::body::read_capped;
use crate::timeouts::{NetworkTimeouts, millis};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Writer = Arc<Mutex<SplitSink<Socket, Message>>>;

/// A received frame and its share of the queue's byte budget, given back when the client
/// takes the frame.
type Queued = (Result<String, TransportError>, Option<OwnedSemaphorePermit>);

/// REST and WebSocket access to one server, e.g. `https://chat.example.com`.
#[derive(Clone, Debug)]
pub struct NativeTransport {
    http: reqwest::Client,
    base: String,
    ws_url: String,
    ping_interval: Duration,
    timeouts: NetworkTimeouts,
}

/// Why a server URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerUrlError {
    /// Not `http://…` or `https://…`.
    #[error("server URL must start with http:// or https://, got {0:?}")]
    Scheme(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

impl NativeTransport {
    /// A transport for the server at `server` (its origin; `/api` and `/ws` are added).
    pub fn new(server: &str) -> Result<Self, ServerUrlError> {
        let base = server.trim_end_matches('/').to_string();
        let ws_url = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}/ws")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}/ws")
        } else {
            return Err(ServerUrlError::Scheme(server.to_string()));
        };
        let timeouts = NetworkTimeouts::default();
        Ok(Self {
            http: http_client(&timeouts)?,
            base,
            ws_url,
            ping_interval: Duration::from_secs(25),
            timeouts,
        })
    }

    /// Uses these timeouts instead of [`NetworkTimeouts::default`].
    pub fn with_timeouts(mut self, timeouts: NetworkTimeouts) -> Result<Self, ServerUrlError> {
        self.http = http_client(&timeouts)?;
        self.timeouts = timeouts;
        Ok(self)
    }

    /// The timeouts in use.
    pub fn timeouts(&self) -> &NetworkTimeouts {
        &self.timeouts
    }

    /// Uses `url` (`ws://…` or `wss://…`) for the WebSocket instead of `<server>/ws`.
    pub fn with_websocket_url(mut self, url: impl Into<String>) -> Self {
        self.ws_url = url.into();
        self
    }

    /// The server's origin.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// The WebSocket URL.
    pub fn websocket_url(&self) -> &str {
        &self.ws_url
    }
}

fn http_client(timeouts: &NetworkTimeouts) -> Result<reqwest::Client, ServerUrlError> {
    reqwest::Client::builder()
        .timeout(timeouts.request)
        .connect_timeout(timeouts.connect)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| ServerUrlError::Http(e.to_string()))
}

/// The WebSocket's limits: no message (nor frame) longer than [`limits::MAX_FRAME`].
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(limits::MAX_FRAME))
        .max_frame_size(Some(limits::MAX_FRAME))
}

#[async_trait]
impl Transport for NativeTransport {
    async fn request(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .http
            .request(method, format!("{}{}", self.base, request.path));
        if let Some(bearer) = &request.bearer {
            builder = builder.bearer_auth(bearer);
        }
        if let Some(body) = request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let timed_out = TransportError::Timeout {
            step: "the REST request",
            millis: millis(self.timeouts.request),
        };
        let response = builder.send().await.map_err(|e| {
            if e.is_timeout() {
                timed_out.clone()
            } else if e.is_connect() {
                TransportError::Connect {
                    detail: e.to_string(),
                }
            } else {
                TransportError::Io {
                    detail: e.to_string(),
                }
            }
        })?;
        let status = response.status().as_u16();
        let body = read_capped(
            response,
            request.max_response_bytes,
            &request.path,
            timed_out,
        )
        .await?;
        Ok(HttpResponse { status, body })
    }

    async fn connect_websocket(&self) -> Result<WebSocket, TransportError> {
        let opening = tokio_tungstenite::connect_async_with_config(
            self.ws_url.as_str(),
            Some(websocket_config()),
            true,
        );
        let (socket, _) = tokio::time::timeout(self.timeouts.websocket_open, opening)
            .await
            .map_err(|_| TransportError::Timeout {
                step: "opening the WebSocket",
                millis: millis(self.timeouts.websocket_open),
            })?
            .map_err(|e| TransportError::Connect {
                detail: e.to_string(),
            })?;
        let (write, mut read) = socket.split();
        let writer: Writer = Arc::new(Mutex::new(write));
        let (frames_tx, frames_rx) = mpsc::channel::<Queued>(limits::FRAME_QUEUE);
        let budget = Arc::new(Semaphore::new(limits::MAX_QUEUED_BYTES));
        let (closed_tx, closed_rx) = watch::channel(false);
        // Set when the client closes the socket: from then on frames are dropped instead of
        // waiting for room, so the reader gets to the end of the close handshake.
        let (closing_tx, mut closing_rx) = watch::channel(false);
        // Dropped with the sink: a socket the client abandoned without closing it is torn
        // down instead of being kept alive by the reader and the pings.
        let (abandoned_tx, abandoned_rx) = watch::channel(());
        let mut reader_abandoned = abandoned_rx.clone();
        // Reader: forwards text frames until the socket ends, then says so. It waits for
        // room in the queue before reading on: that wait is the backpressure.
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    message = read.next() => message,
                    _ = reader_abandoned.changed() => None,
                };
                let Some(message) = message else { break };
                match message {
                    // When nobody listens any more the frame is dropped, but reading goes
                    // on so that the close handshake completes.
                    Ok(Message::Text(text)) => {
                        let text = text.to_string();
                        let queued = tokio::select! {
                            queued = enqueue(&frames_tx, &budget, text) => queued,
                            _ = closing_rx.wait_for(|closing| *closing) => Ok(()),
                            _ = reader_abandoned.changed() => break,
                        };
                        // The client dropped the stream: keep reading to finish the close.
                        let _ = queued;
                    }
                    // Reading on after a close frame lets tungstenite send the reply and
                    // finish the handshake; the stream then ends.
                    Ok(_) => {}
                    Err(e) => {
                        let error = TransportError::Io {
                            detail: e.to_string(),
                        };
                        tokio::select! {
                            _ = frames_tx.send((Err(error), None)) => {}
                            _ = closing_rx.wait_for(|closing| *closing) => {}
                            _ = reader_abandoned.changed() => {}
                        }
                        break;
                    }
                }
            }
            let _ = closed_tx.send(true);
        });
        // Pinger: keeps idle sockets alive through proxies and NATs.
        let ping_writer = Arc::clone(&writer);
        let mut ping_closed = closed_rx.clone();
        let mut ping_abandoned = abandoned_rx;
        let interval = self.ping_interval;
        let send_timeout = self.timeouts.websocket_send;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {
                        // A ping stuck on a full socket would hold the writer (and this
                        // task) for as long as the server keeps the connection open.
                        let ping = async {
                            ping_writer.lock().await.send(Message::Ping(Vec::new().into())).await
                        };
                        if !matches!(tokio::time::timeout(send_timeout, ping).await, Ok(Ok(()))) {
                            break;
                        }
                    }
                    _ = ping_closed.changed() => break,
                    _ = ping_abandoned.changed() => break,
                }
            }
        });
        Ok(WebSocket {
            sink: Box::new(NativeSink {
                writer,
                closed: closed_rx,
                closing: closing_tx,
                timeouts: self.timeouts,
                _abandoned: abandoned_tx,
            }),
            stream: Box::new(NativeStream { frames: frames_rx }),
        })
    }
}

/// Waits until the queue has room for `text` (a place and its bytes), then queues it.
/// Fails only when the client dropped the stream.
async fn enqueue(
    frames: &mpsc::Sender<Queued>,
    budget: &Arc<Semaphore>,
    text: String,
) -> Result<(), ()> {
    // A message is at most MAX_FRAME long, which the budget always has room for.
    let cost = u32::try_from(text.len().min(limits::MAX_QUEUED_BYTES)).unwrap_or(u32::MAX);
    let permit = Arc::clone(budget)
        .acquire_many_owned(cost)
        .await
        .map_err(|_| ())?;
    frames.send((Ok(text), Some(permit))).await.map_err(|_| ())
}

struct NativeSink {
    writer: Writer,
    closed: watch::Receiver<bool>,
    closing: watch::Sender<bool>,
    timeouts: NetworkTimeouts,
    /// Its drop tells the reader and the pinger that nobody will use the socket again.
    _abandoned: watch::Sender<()>,
}

#[async_trait]
impl FrameSink for NativeSink {
    async fn send(&mut self, text: String) -> Result<(), TransportError> {
        let sending = async {
            self.writer
                .lock()
                .await
                .send(Message::text(text))
                .await
                .map_err(|e| TransportError::Io {
                    detail: e.to_string(),
                })
        };
        tokio::time::timeout(self.timeouts.websocket_send, sending)
            .await
            .map_err(|_| TransportError::Timeout {
                step: "sending a WebSocket frame",
                millis: millis(self.timeouts.websocket_send),
            })?
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        let _ = self.closing.send(true);
        // Sending the close may fail if the socket is already gone; either way, wait for
        // the reader to see the end. A writer stuck on a full socket counts against the
        // same timeout.
        let writer = Arc::clone(&self.writer);
        let mut closed = self.closed.clone();
        let closing = async move {
            let _ = writer.lock().await.close().await;
            let _ = closed.wait_for(|c| *c).await;
        };
        tokio::time::timeout(self.timeouts.websocket_close, closing)
            .await
            .map_err(|_| TransportError::Timeout {
                step: "closing the WebSocket",
                millis: millis(self.timeouts.websocket_close),
            })
    }
}

struct NativeStream {
    frames: mpsc::Receiver<Queued>,
}

#[async_trait]
impl FrameStream for NativeStream {
    async fn next_frame(&mut self) -> Option<Result<String, TransportError>> {
        // Cancel-safe: `recv` loses nothing when dropped before completing. The permit is
        // dropped here, giving the frame's bytes back to the queue's budget.
        self.frames.recv().await.map(|(frame, _permit)| frame)
    }
}
