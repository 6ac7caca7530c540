//! How long each network step of the native transport may take.

use std::time::Duration;

/// Timeouts of the native transport's network steps. Every step is bounded, so a server
/// that accepts a connection and then says nothing produces an error (and, for the
/// WebSocket, a reconnect with backoff) instead of a silent hang.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkTimeouts {
    /// Opening a TCP connection (and, for `https`, the TLS handshake) for a REST request.
    /// Default 10 s.
    pub connect: Duration,
    /// One whole REST request: connecting, sending, and reading the answer. Default 30 s.
    pub request: Duration,
    /// Opening the WebSocket: DNS, TCP, TLS and the HTTP upgrade together. Default 15 s.
    pub websocket_open: Duration,
    /// Handing one frame to the socket (a server that stops reading fills the buffers and
    /// would otherwise block the sender for ever). Default 30 s.
    pub websocket_send: Duration,
    /// The closing handshake. Default 5 s.
    pub websocket_close: Duration,
}

impl Default for NetworkTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
            websocket_open: Duration::from_secs(15),
            websocket_send: Duration::from_secs(30),
            websocket_close: Duration::from_secs(5),
        }
    }
}

/// Milliseconds of `duration`, for error messages.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
