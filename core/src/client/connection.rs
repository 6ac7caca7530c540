//! The connection loop: connect, authenticate, make sure the backend really registered this
//! socket, catch up, flush the outbox, then serve frames with a heartbeat; on any failure,
//! close the socket completely and retry with exponential backoff and jitter, forever.
//!
//! The backend's reconnect race (PROTOCOL §7): a second `auth` for a user makes the backend
//! close the old socket, whose close handler then unregisters the *new* one. The loop
//! therefore closes each socket (and waits for the close) before opening the next, and after
//! authenticating sends a heartbeat that only a registered socket gets an answer to — a
//! `typing` frame addressed to this user, which the backend relays back to it. No answer
//! means the socket is a zombie: it is closed and replaced, and catch-up fetches whatever
//! the zombie missed.

use std::sync::atomic::Ordering;

use futures::channel::mpsc;
use futures::future::{Fuse, FusedFuture};
use futures::{FutureExt, StreamExt, pin_mut, select};
use rand_core::CryptoRng;

use super::directory_scan::{ScanFetched, ScanState};
use super::{Client, ClientError, Event};
use crate::platform::MaybeSend;
use crate::protocol::ws::{ClientFrame, ServerFrame};
use crate::store::Store;
use crate::transport::{Clock, FrameStream, Transport, WebSocket};

/// While connected, messages pending longer than this are sent again, ms.
const OUTBOX_RETRY_MS: i64 = 15_000;

/// At most this many frames are handled as one batch.
const MAX_FRAMES_AT_ONCE: usize = 128;

/// How a connection ended.
enum Ended {
    /// [`Client::shutdown`] was called.
    Stopped,
    /// Try again after a delay.
    Retry(String),
    /// Do not try again.
    Fatal(ClientError),
}

/// Resets the running flag however `run` ends, including by being dropped.
struct RunningGuard<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// Keeps the WebSocket up until [`Client::shutdown`] (or logout): spawn it on the
    /// platform's executor. Returns `Ok` when shut down, `Err` when reconnecting cannot
    /// help (nobody logged in, or the backend refuses the user). Dropping the future is a
    /// clean stop too.
    pub async fn run(&self) -> Result<(), ClientError> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(ClientError::AlreadyRunning);
        }
        let result = self.run_loop().await;
        self.events.emit(Event::Stopped {
            error: result.as_ref().err().map(ToString::to_string),
        });
        result
    }

    async fn run_loop(&self) -> Result<(), ClientError> {
        let _running = RunningGuard(&self.running);
        let mut stop = self.stop_receiver.lock().await;
        while stop.try_recv().is_ok() {}
        let mut attempt = 0u32;
        loop {
            self.me()?;
            let ended = self.connect_and_serve(&mut stop, &mut attempt).await;
            self.teardown().await;
            match ended {
                Ended::Stopped => return Ok(()),
                Ended::Fatal(e) => {
                    self.events.emit(Event::Disconnected {
                        reason: e.to_string(),
                    });
                    return Err(e);
                }
                Ended::Retry(reason) => {
                    tracing::info!(%reason, "disconnected");
                    self.events.emit(Event::Disconnected { reason });
                }
            }
            attempt = attempt.saturating_add(1);
            let random = {
                let mut crypto = self.crypto.lock().await;
                f64::from(crypto.device.rng().next_u32()) / (f64::from(u32::MAX) + 1.0)
            };
            let delay_ms = self.config.backoff.delay_ms(attempt, random);
            self.events.emit(Event::Reconnecting { attempt, delay_ms });
            let sleep = self.clock.sleep_ms(delay_ms).fuse();
            pin_mut!(sleep);
            select! {
                () = sleep => {}
                _ = stop.next() => return Ok(()),
            }
        }
    }

    /// Stops [`Client::run`] and closes the socket.
    pub async fn shutdown(&self) {
        let _ = self.stop_sender.unbounded_send(());
        self.teardown().await;
    }

    async fn teardown(&self) {
        let sink = self.sink.lock().await.take();
        if let Some(mut sink) = sink {
            // Waits until the socket is closed, so the backend has dropped it before any
            // new socket authenticates.
            let _ = sink.close().await;
        }
        let mut state = self.lock_state();
        state.connected = false;
        state.online.clear();
        state.images_in_flight.clear();
        state.flight.close();
    }

    async fn connect_and_serve(
        &self,
        stop: &mut mpsc::UnboundedReceiver<()>,
        attempt: &mut u32,
    ) -> Ended {
        let me = match self.me() {
            Ok(me) => me,
            Err(e) => return Ended::Fatal(e),
        };
        let WebSocket { sink, mut stream } = match self.api.transport().connect_websocket().await {
            Ok(socket) => socket,
            Err(e) => return Ended::Retry(e.to_string()),
        };
        *self.sink.lock().await = Some(sink);
        // Nothing learnt between connections counts for this one.
        self.lock_state().flight.close();
        let auth = ClientFrame::Auth {
            user_id: me.user_id.clone(),
            username: me.username.clone(),
        };
        if let Err(e) = self.send_frame(&auth).await {
            return Ended::Retry(e.to_string());
        }

        // The answer to `auth`: the online list, or an error and a closed socket.
        loop {
            match self.next_within(&mut *stream, stop).await {
                Next::Frame(text) => match ServerFrame::parse(&text) {
                    Ok(ServerFrame::OnlineList(_)) => {
                        self.handle_frame(&text, true).await;
                        break;
                    }
                    Ok(ServerFrame::Error { message }) => {
                        self.events.emit(Event::ServerError {
                            message: message.clone(),
                        });
                        return Ended::Fatal(ClientError::Refused { message });
                    }
                    _ => self.handle_frame(&text, true).await,
                },
                Next::Timeout => return Ended::Retry("no answer to auth".into()),
                Next::Closed(reason) => return Ended::Retry(reason),
                Next::Stopped => return Ended::Stopped,
            }
        }

        // Only a socket the backend kept registered gets anything back.
        if let Err(e) = self.send_heartbeat(&me.user_id).await {
            return Ended::Retry(e.to_string());
        }
        match self.next_within(&mut *stream, stop).await {
            Next::Frame(text) => self.handle_frame(&text, true).await,
            Next::Timeout => {
                return Ended::Retry(
                    "the server dropped this socket after auth (reconnect race); reconnecting"
                        .into(),
                );
            }
            Next::Closed(reason) => return Ended::Retry(reason),
            Next::Stopped => return Ended::Stopped,
        }
        self.lock_state().connected = true;
        self.events.emit(Event::Connected);

        // Catch up while frames that arrive meanwhile wait their turn.
        let mut buffered = Vec::new();
        {
            let catch_up = self.catch_up().fuse();
            pin_mut!(catch_up);
            loop {
                let next = stream.next_frame().fuse();
                pin_mut!(next);
                select! {
                    result = catch_up => {
                        match result {
                            Ok(new_messages) => self.events.emit(Event::CaughtUp { new_messages }),
                            Err(e) => self.events.emit(Event::CatchUpFailed {
                                reason: e.to_string(),
                            }),
                        }
                        break;
                    }
                    frame = next => match frame {
                        Some(Ok(text)) => buffered.push(text),
                        Some(Err(e)) => return Ended::Retry(e.to_string()),
                        None => return Ended::Retry("closed by the server".into()),
                    },
                    _ = stop.next() => return Ended::Stopped,
                }
            }
        }
        self.handle_frames(buffered, true).await;
        // Caught up: messages may go out now, each once on this connection, what was
        // pending before the connection first.
        self.lock_state().flight.open();
        let flushed = self.flush_outbox(None).await;
        self.lock_state().flight.flushed();
        if let Err(e) = flushed {
            tracing::warn!(error = %e, "outbox flush failed");
        }
        self.write_due().await;
        if let Err(e) = self.maintain_prekeys().await {
            tracing::warn!(error = %e, "prekey upkeep failed");
            self.events.emit(Event::ServerError {
                message: format!("prekey upkeep failed: {e}"),
            });
        }
        self.serve(&mut *stream, stop, &me.user_id, attempt).await
    }

    async fn serve(
        &self,
        stream: &mut dyn FrameStream,
        stop: &mut mpsc::UnboundedReceiver<()>,
        me: &str,
        attempt: &mut u32,
    ) -> Ended {
        let mut wake = self.wake_receiver.lock().await;
        while wake.try_recv().is_ok() {}
        let healthy_after = self
            .now()
            .saturating_add(i64::try_from(self.config.healthy_connection_ms).unwrap_or(i64::MAX));
        let interval = i64::try_from(self.config.keepalive_interval_ms).unwrap_or(i64::MAX);
        let timeout = i64::try_from(self.config.keepalive_timeout_ms).unwrap_or(i64::MAX);
        let check_every = i64::try_from(self.config.prekey_check_interval_ms).unwrap_or(i64::MAX);
        let mut last_frame = self.now();
        let mut heartbeat_at: Option<i64> = None;
        let mut next_prekey_check = self.now().saturating_add(check_every);
        let mut next_outbox_retry = self.now().saturating_add(OUTBOX_RETRY_MS);
        let mut scan = ScanState::new(
            &self.config.catch_up,
            self.config.directory_scan,
            self.now(),
        );
        let max_in_flight = self.config.directory_scan.map_or(1, |s| s.max_in_flight);
        // The scan's requests in flight, polled with the socket; their answers are processed
        // by this loop itself (see `directory_scan`).
        let scanning = Fuse::terminated();
        pin_mut!(scanning);
        loop {
            let now = self.now();
            // The backoff starts again from its first delay only once a connection proved
            // healthy: a server that drops every connection gets ever longer pauses.
            if *attempt > 0 && now >= healthy_after {
                *attempt = 0;
            }
            // Paced messages whose time has come.
            if self.lock_state().flight.has_queued() {
                self.write_due().await;
            }
            if !self.lock_state().flight.is_open() {
                return Ended::Retry("a write to the socket failed".into());
            }
            // A message whose hand-over was interrupted (its sender's call cancelled, a
            // write that failed) would otherwise wait for the next reconnect.
            if now >= next_outbox_retry {
                next_outbox_retry = now.saturating_add(OUTBOX_RETRY_MS);
                if let Err(e) = self.flush_outbox(Some(now - OUTBOX_RETRY_MS)).await {
                    tracing::warn!(error = %e, "outbox retry failed");
                }
            }
            if now >= next_prekey_check {
                next_prekey_check = now.saturating_add(check_every);
                if let Err(e) = self.maintain_prekeys().await {
                    tracing::warn!(error = %e, "prekey upkeep failed");
                }
            }
            let mut deadline = deadline_of_heartbeat(heartbeat_at, last_frame, interval, timeout);
            if *attempt > 0 {
                deadline = deadline.min(healthy_after);
            }
            let paced = self.lock_state().flight.next_due();
            if let Some(due) = paced {
                deadline = deadline.min(due);
            }
            if let Some(scan) = scan.as_mut()
                && scanning.is_terminated()
            {
                match self.next_scan_job(scan, now).await {
                    Some(job) => scanning.set(self.run_scan_job(job, max_in_flight).fuse()),
                    None => deadline = deadline.min(scan.next_at()),
                }
            }
            let wait = u64::try_from(deadline.saturating_sub(now)).unwrap_or(0);
            let woke = {
                let next = stream.next_frame().fuse();
                let sleep = self.clock.sleep_ms(wait).fuse();
                pin_mut!(next, sleep);
                select! {
                    frame = next => Wake::Frame(frame),
                    () = sleep => Wake::Timer,
                    _ = wake.next() => Wake::Outbox,
                    _ = stop.next() => Wake::Stop,
                    fetched = scanning.as_mut() => Wake::Scanned(fetched),
                }
            };
            match woke {
                Wake::Frame(Some(Ok(text))) => {
                    last_frame = self.now();
                    heartbeat_at = None;
                    // Take whatever else has already arrived: handled together, the messages
                    // among them cost one disk sync instead of one each.
                    let mut texts = vec![text];
                    let mut ended = None;
                    while texts.len() < MAX_FRAMES_AT_ONCE {
                        match stream.next_frame().now_or_never() {
                            Some(Some(Ok(more))) => texts.push(more),
                            Some(Some(Err(e))) => {
                                ended = Some(e.to_string());
                                break;
                            }
                            Some(None) => {
                                ended = Some("closed by the server".to_string());
                                break;
                            }
                            None => break,
                        }
                    }
                    self.handle_frames(texts, true).await;
                    if let Some(reason) = ended {
                        return Ended::Retry(reason);
                    }
                }
                Wake::Frame(Some(Err(e))) => return Ended::Retry(e.to_string()),
                Wake::Frame(None) => return Ended::Retry("closed by the server".into()),
                Wake::Outbox => {}
                Wake::Scanned(fetched) => {
                    if let Some(scan) = scan.as_mut() {
                        self.scan_fetched(scan, fetched).await;
                    }
                }
                Wake::Timer
                    if self.now()
                        < deadline_of_heartbeat(heartbeat_at, last_frame, interval, timeout) => {}
                Wake::Timer => {
                    if heartbeat_at.is_some() {
                        return Ended::Retry("no answer to the heartbeat".into());
                    }
                    if let Err(e) = self.send_heartbeat(me).await {
                        return Ended::Retry(e.to_string());
                    }
                    heartbeat_at = Some(self.now());
                }
                Wake::Stop => return Ended::Stopped,
            }
        }
    }

    /// A `typing: false` frame to this user itself: the backend relays it back, and nobody
    /// else sees it.
    async fn send_heartbeat(&self, me: &str) -> Result<(), ClientError> {
        self.send_frame(&ClientFrame::Typing {
            to: me.to_string(),
            typing: false,
        })
        .await
    }

    async fn next_within(
        &self,
        stream: &mut dyn FrameStream,
        stop: &mut mpsc::UnboundedReceiver<()>,
    ) -> Next {
        let next = stream.next_frame().fuse();
        let sleep = self.clock.sleep_ms(self.config.keepalive_timeout_ms).fuse();
        pin_mut!(next, sleep);
        select! {
            frame = next => match frame {
                Some(Ok(text)) => Next::Frame(text),
                Some(Err(e)) => Next::Closed(e.to_string()),
                None => Next::Closed("closed by the server".into()),
            },
            () = sleep => Next::Timeout,
            _ = stop.next() => Next::Stopped,
        }
    }
}

/// When the heartbeat is due (no frame for `interval`) or overdue (no answer within
/// `timeout`), ms.
fn deadline_of_heartbeat(
    heartbeat_at: Option<i64>,
    last_frame: i64,
    interval: i64,
    timeout: i64,
) -> i64 {
    match heartbeat_at {
        Some(sent) => sent.saturating_add(timeout),
        None => last_frame.saturating_add(interval),
    }
}

/// What woke the serving loop.
enum Wake {
    Frame(Option<Result<String, crate::transport::TransportError>>),
    /// A timer: the heartbeat's, a paced message's, or the backoff's reset.
    Timer,
    /// A paced message started waiting.
    Outbox,
    /// A step of the directory scan got its answers.
    Scanned(ScanFetched),
    Stop,
}

enum Next {
    Frame(String),
    Timeout,
    Closed(String),
    Stopped,
}
