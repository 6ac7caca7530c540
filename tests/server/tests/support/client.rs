//! Real clients for the tests: HTTP through reqwest, WebSockets through tokio-tungstenite,
//! both over real sockets.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quickchat_testserver::{Config, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long a frame or a close the test expects may take before the test fails. It only
/// bounds failures: nothing waits for it when the server behaves.
pub(crate) const EXPECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A server with cheap password hashing, for tests that do not measure bcrypt.
pub(crate) async fn fast_server() -> TestServer {
    TestServer::start(Config::default().with_bcrypt_cost(4))
        .await
        .expect("server starts")
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON (panics with the body if it is not).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }
}

/// An HTTP client bound to one server.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    /// A client for the server at `base` (`http://HOST:PORT`).
    pub(crate) fn new(base: &str) -> Http {
        Http {
            client: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    /// Sends a request; `body` is sent as-is with `Content-Type: application/json`.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("HTTP body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// Sends `body` as JSON.
    pub(crate) async fn json(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: &Value,
    ) -> Reply {
        self.send(method, path, auth, Some(body.to_string())).await
    }

    /// Sends a GET.
    pub(crate) async fn get(&self, path: &str, auth: Option<&str>) -> Reply {
        self.send("GET", path, auth, None).await
    }

    /// Registers `name` and returns `(id, token)`.
    pub(crate) async fn register(&self, name: &str) -> (String, String) {
        let reply = self
            .json(
                "POST",
                "/api/auth/register",
                None,
                &json!({"username": name, "password": "secret123"}),
            )
            .await;
        assert_eq!(reply.status, 201, "register {name}: {}", reply.text);
        let body = reply.json();
        (
            body["id"].as_str().expect("id").to_owned(),
            body["token"].as_str().expect("token").to_owned(),
        )
    }
}

/// Why no frame came.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoFrame {
    /// The server sent a close frame.
    Closed,
    /// The connection ended without one.
    Ended,
    /// Nothing arrived within [`EXPECT_TIMEOUT`].
    Timeout,
}

/// A WebSocket client.
pub(crate) struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Connects to `url` (`ws://HOST:PORT/ws`).
    pub(crate) async fn connect(url: &str) -> Ws {
        let (stream, _) = connect_async(url).await.expect("WebSocket connects");
        Ws { stream }
    }

    /// Connects and authenticates; returns the `online` list frame.
    pub(crate) async fn connect_as(url: &str, id: &str, name: &str) -> (Ws, Value) {
        let mut ws = Ws::connect(url).await;
        ws.send_json(&json!({"type": "auth", "payload": {"userId": id, "username": name}}))
            .await;
        let list = ws.next_json().await.expect("online list");
        assert_eq!(list["type"], "online", "{list}");
        (ws, list)
    }

    /// Sends a text frame.
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("WebSocket send");
    }

    /// Sends a JSON frame.
    pub(crate) async fn send_json(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends a raw message (binary, oversized...); errors are returned, not raised.
    pub(crate) async fn send_message(&mut self, message: Message) -> Result<(), String> {
        self.stream.send(message).await.map_err(|e| e.to_string())
    }

    /// The next text frame, skipping pings and pongs.
    pub(crate) async fn next_text(&mut self) -> Result<String, NoFrame> {
        loop {
            let next = tokio::time::timeout(EXPECT_TIMEOUT, self.stream.next())
                .await
                .map_err(|_| NoFrame::Timeout)?;
            match next {
                Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                Some(Ok(Message::Close(_))) => return Err(NoFrame::Closed),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(NoFrame::Ended),
            }
        }
    }

    /// The next text frame as JSON.
    pub(crate) async fn next_json(&mut self) -> Result<Value, NoFrame> {
        let text = self.next_text().await?;
        Ok(serde_json::from_str(&text).expect("frame is JSON"))
    }

    /// Waits for the close frame and the end of the connection; the text frames that
    /// arrived first are returned (the caller decides whether any were allowed), or an
    /// error if the connection stayed open.
    pub(crate) async fn closed(&mut self) -> Result<(Vec<String>, Option<u16>), NoFrame> {
        let mut before = Vec::new();
        let mut code = None;
        loop {
            let next = tokio::time::timeout(EXPECT_TIMEOUT, self.stream.next())
                .await
                .map_err(|_| NoFrame::Timeout)?;
            match next {
                Some(Ok(Message::Text(text))) => before.push(text.to_string()),
                Some(Ok(Message::Close(frame))) => code = frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                // Reading on after the close frame completes the closing handshake.
                Some(Err(_)) | None => return Ok((before, code)),
            }
        }
    }

    /// Proves the server has handled everything this socket sent: sends a frame that can
    /// only be answered with `Invalid message format` and returns whatever arrived before
    /// that answer (frames still queued to this socket).
    pub(crate) async fn barrier(&mut self) -> Vec<String> {
        self.send_text("{barrier").await;
        let mut before = Vec::new();
        loop {
            let text = self
                .next_text()
                .await
                .unwrap_or_else(|e| panic!("no answer to the barrier frame: {e:?}"));
            if text == r#"{"type":"error","payload":{"message":"Invalid message format"}}"# {
                return before;
            }
            before.push(text);
        }
    }

    /// Closes the connection from the client side and waits for the server's answer.
    pub(crate) async fn close(mut self) {
        let _ = self.stream.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(EXPECT_TIMEOUT, self.stream.next()).await {
        }
    }
}
