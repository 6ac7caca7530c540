//! [`Transport`] over reqwest (REST) and tokio-tungstenite (WebSocket).
//!
//! The WebSocket is read by a background task that forwards text frames, answers pings
//! (tungstenite does that as it reads), sends its own pings to keep middleboxes from
//! dropping an idle socket, and reports when the socket has fully closed — which
//! [`FrameSink::close`] waits for, so the backend has dropped the old socket before the
//! client authenticates a new one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use quickchat_core::transport::{
    FrameSink, FrameStream, HttpRequest, HttpResponse, Method, Transport, TransportError, WebSocket,
};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Writer = Arc<Mutex<SplitSink<Socket, Message>>>;

/// How long [`FrameSink::close`] waits for the backend to finish the close handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// REST and WebSocket access to one server, e.g. `https://chat.example.com`.
#[derive(Clone, Debug)]
pub struct NativeTransport {
    http: reqwest::Client,
    base: String,
    ws_url: String,
    ping_interval: Duration,
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
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ServerUrlError::Http(e.to_string()))?;
        Ok(Self {
            http,
            base,
            ws_url,
            ping_interval: Duration::from_secs(25),
        })
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
        let response = builder.send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
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
        let body = response.text().await.map_err(|e| TransportError::Io {
            detail: e.to_string(),
        })?;
        Ok(HttpResponse { status, body })
    }

    async fn connect_websocket(&self) -> Result<WebSocket, TransportError> {
        let (socket, _) = tokio_tungstenite::connect_async(self.ws_url.as_str())
            .await
            .map_err(|e| TransportError::Connect {
                detail: e.to_string(),
            })?;
        if let MaybeTlsStream::Plain(tcp) = socket.get_ref() {
            let _ = tcp.set_nodelay(true);
        }
        let (write, mut read) = socket.split();
        let writer: Writer = Arc::new(Mutex::new(write));
        let (frames_tx, frames_rx) = mpsc::unbounded_channel();
        let (closed_tx, closed_rx) = watch::channel(false);
        // Dropped with the sink: a socket the client abandoned without closing it is torn
        // down instead of being kept alive by the reader and the pings.
        let (abandoned_tx, abandoned_rx) = watch::channel(());
        let mut reader_abandoned = abandoned_rx.clone();
        // Reader: forwards text frames until the socket ends, then says so.
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
                        let _ = frames_tx.send(Ok(text.to_string()));
                    }
                    // Reading on after a close frame lets tungstenite send the reply and
                    // finish the handshake; the stream then ends.
                    Ok(_) => {}
                    Err(e) => {
                        let _ = frames_tx.send(Err(TransportError::Io {
                            detail: e.to_string(),
                        }));
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
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {
                        if ping_writer.lock().await.send(Message::Ping(Vec::new().into())).await.is_err() {
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
                _abandoned: abandoned_tx,
            }),
            stream: Box::new(NativeStream { frames: frames_rx }),
        })
    }
}

struct NativeSink {
    writer: Writer,
    closed: watch::Receiver<bool>,
    /// Its drop tells the reader and the pinger that nobody will use the socket again.
    _abandoned: watch::Sender<()>,
}

#[async_trait]
impl FrameSink for NativeSink {
    async fn send(&mut self, text: String) -> Result<(), TransportError> {
        self.writer
            .lock()
            .await
            .send(Message::text(text))
            .await
            .map_err(|e| TransportError::Io {
                detail: e.to_string(),
            })
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        // Sending the close may fail if the socket is already gone; either way, wait for
        // the reader to see the end.
        let _ = self.writer.lock().await.close().await;
        let mut closed = self.closed.clone();
        let finished = tokio::time::timeout(CLOSE_WAIT, closed.wait_for(|c| *c)).await;
        match finished {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Ok(()),
            Err(_) => Err(TransportError::Io {
                detail: "the server did not finish closing the socket in time".into(),
            }),
        }
    }
}

struct NativeStream {
    frames: mpsc::UnboundedReceiver<Result<String, TransportError>>,
}

#[async_trait]
impl FrameStream for NativeStream {
    async fn next_frame(&mut self) -> Option<Result<String, TransportError>> {
        // Cancel-safe: `recv` loses nothing when dropped before completing.
        self.frames.recv().await
    }
}
