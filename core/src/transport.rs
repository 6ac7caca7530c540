//! The network seam: REST requests and a WebSocket, supplied by each platform.

use async_trait::async_trait;

use crate::platform::{MaybeSend, MaybeSync};

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One REST request, relative to the server's base URL.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Path and query, e.g. `/api/messages/u2?user=u1` (already percent-encoded).
    pub path: String,
    /// Value for `Authorization: Bearer <value>`: a JWT or, for the group and admin
    /// endpoints, the raw user id.
    pub bearer: Option<String>,
    /// JSON body (sent with `Content-Type: application/json`).
    pub body: Option<String>,
    /// The longest answer body accepted, bytes (see
    /// [`protocol::limits`](crate::protocol::limits)): the transport stops reading past it
    /// and fails with [`TransportError::ResponseTooLarge`].
    pub max_response_bytes: usize,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies carry passwords and tokens; never print them.
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("body_len", &self.body.as_ref().map(String::len))
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// A REST response. `Debug` shows the body's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A login answer's body holds the token.
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A network failure (as opposed to an error answer from the backend).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The server could not be reached.
    #[error("cannot reach the server: {detail}")]
    Connect {
        /// What the platform reported.
        detail: String,
    },
    /// The connection failed while in use.
    #[error("connection failed: {detail}")]
    Io {
        /// What the platform reported.
        detail: String,
    },
    /// The socket is closed.
    #[error("connection closed")]
    Closed,
    /// The answer's body was longer than the request allowed; it was not read further.
    #[error("the answer to {path} is larger than its {limit}-byte limit")]
    ResponseTooLarge {
        /// The request's path (without the server).
        path: String,
        /// The limit, bytes.
        limit: usize,
    },
    /// A network step took longer than its timeout.
    #[error("{step} timed out after {millis} ms")]
    Timeout {
        /// What was being done, e.g. `"opening the WebSocket"`.
        step: &'static str,
        /// The timeout, ms.
        millis: u64,
    },
}

/// The sending half of a WebSocket.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait FrameSink: MaybeSend {
    /// Sends one text frame.
    async fn send(&mut self, text: String) -> Result<(), TransportError>;
    /// Closes the socket and waits until it is closed, so the backend has dropped it
    /// before a new socket authenticates (PROTOCOL §7, the reconnect race).
    async fn close(&mut self) -> Result<(), TransportError>;
}

/// The receiving half of a WebSocket.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait FrameStream: MaybeSend {
    /// The next text frame; `None` once the socket is closed.
    async fn next_frame(&mut self) -> Option<Result<String, TransportError>>;
}

/// A connected WebSocket, split in its two halves.
pub struct WebSocket {
    /// Sending half.
    pub sink: Box<dyn FrameSink>,
    /// Receiving half.
    pub stream: Box<dyn FrameStream>,
}

/// REST and WebSocket access to one server.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait Transport: MaybeSend + MaybeSync {
    /// Performs one request. An error answer from the backend is an `Ok` response with
    /// its status; `Err` is for network failures only.
    async fn request(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Opens the WebSocket at `<server>/ws`.
    async fn connect_websocket(&self) -> Result<WebSocket, TransportError>;
}

/// Time, for the client logic: the current time and sleeping.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait Clock: MaybeSend + MaybeSync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Waits `millis` milliseconds.
    async fn sleep_ms(&self, millis: u64);
}
