//! Opening the client from the global options, connecting, waiting for a sent message to
//! leave the outbox, and the stop signals.

use std::time::Duration;

use futures::StreamExt;
use quickchat::store::{KdfStrength, StoreOptions};
use quickchat::{Client, ClientError, Event, EventStream, MessageStatus};

use crate::cli::Global;
use crate::error::CliError;
use crate::output::Output;

/// What every command works with.
pub struct Ctx {
    /// The client, its store open and its saved login restored.
    pub client: Client,
    /// Where to print.
    pub out: Output,
    /// How long to wait for the network.
    pub wait: Duration,
}

/// Opens the store and restores the saved login.
pub async fn open(global: &Global) -> Result<Client, CliError> {
    let server = global
        .server
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(CliError::Missing(
            "no server given: pass --server URL or set QUICKCHAT_SERVER",
        ))?;
    let passphrase = global
        .passphrase
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or(CliError::Missing(
            "no passphrase for the store: pass --passphrase or set QUICKCHAT_PASSPHRASE",
        ))?;
    let options = if global.insecure_fast_kdf {
        StoreOptions::new().kdf(KdfStrength::InsecureForTests)
    } else {
        StoreOptions::new()
    };
    Client::builder()
        .server(server)
        .store_path(&global.store)
        .passphrase(passphrase)
        .store_options(options)
        .build()
        .await
        .map_err(|e| match e {
            e @ quickchat::Error::Store(_) => CliError::OpenStore {
                path: global.store.clone(),
                source: e,
            },
            e => e.into(),
        })
}

/// Connects and waits until the socket is up and history is caught up. Unlike
/// [`Client::connect_and_wait`], a failed first attempt is an error at once (a command
/// line tool should not retry for its whole timeout), and a failed catch-up only a warning.
pub async fn connect(ctx: &Ctx) -> Result<(), CliError> {
    if ctx.client.current_user().is_none() {
        return Err(ClientError::NotLoggedIn.into());
    }
    if ctx.client.is_connected() {
        return Ok(());
    }
    let mut events = ctx.client.events();
    ctx.client.connect();
    let wait = async {
        let mut refused = None;
        while let Some(event) = events.next().await {
            match event {
                Event::CaughtUp { .. } => return Ok(()),
                Event::ServerError { message } if message.starts_with("catch-up failed") => {
                    ctx.out.note(format!("warning: {message}"));
                    return Ok(());
                }
                Event::ServerError { message } => refused = Some(message),
                Event::Disconnected { reason } => {
                    return Err(CliError::Connect(refused.unwrap_or(reason)));
                }
                _ => {}
            }
        }
        Err(CliError::Connect("the client stopped".into()))
    };
    let result = tokio::time::timeout(ctx.wait, wait)
        .await
        .unwrap_or_else(|_| Err(CliError::Timeout("the connection".into())));
    if result.is_err() {
        ctx.client.close().await;
    }
    result
}

/// Waits until the message `id` (sent after `events` was subscribed) leaves `Pending`;
/// returns its new status. `Failed` is an error with the server's reason.
pub async fn wait_until_sent(
    ctx: &Ctx,
    events: &mut EventStream,
    id: &str,
) -> Result<MessageStatus, CliError> {
    let mut server_said: Option<String> = None;
    let wait = async {
        while let Some(event) = events.next().await {
            match event {
                Event::MessageStatus { message_id, status } if message_id == id => {
                    if status == MessageStatus::Failed {
                        return Err(CliError::Refused(
                            server_said
                                .take()
                                .unwrap_or_else(|| "the message failed".into()),
                        ));
                    }
                    if status != MessageStatus::Pending {
                        return Ok(status);
                    }
                }
                // A group message takes the id the backend gave it.
                Event::MessageReplaced { old_id, message } if old_id == id => {
                    return Ok(message.status);
                }
                Event::ServerError { message } => server_said = Some(message),
                Event::Disconnected { reason } => {
                    let why = server_said.take().unwrap_or(reason);
                    return Err(CliError::Refused(format!(
                        "{why} (the connection closed before the server accepted it)"
                    )));
                }
                _ => {}
            }
        }
        Err(CliError::Other("the client stopped".into()))
    };
    match tokio::time::timeout(ctx.wait, wait).await {
        Ok(result) => result,
        Err(_) => Err(CliError::Timeout(
            "the server to accept the message (it stays in the store's outbox and goes out \
             the next time this store connects)"
                .into(),
        )),
    }
}

/// Resolves when the process gets Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
