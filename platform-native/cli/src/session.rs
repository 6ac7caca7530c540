//! Opening the client from the global options, connecting, waiting for a sent message to
//! leave the outbox, and the stop signals.

use std::time::Duration;

use futures::StreamExt;
use quickchat::store::{KdfStrength, StoreOptions};
use quickchat::{Client, ClientConfig, ClientError, Event, EventStream, MessageStatus};
use quickchat_core::client::{CatchUpScope, DirectoryScan};
use quickchat_core::store::{Conversation, Direction, MessageQuery, Store};

use crate::cli::Global;
use crate::error::CliError;
use crate::output::Output;

/// What every command works with.
pub(crate) struct Ctx {
    /// The client, its store open and its saved login restored.
    pub client: Client,
    /// Where to print.
    pub out: Output,
    /// How long to wait for the network.
    pub wait: Duration,
    /// Run by a one-shot process, or by the daemon for a client.
    pub mode: Mode,
}

/// Who runs a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A one-shot process: it connects only when the command needs it, catches up only
    /// what the command needs, and closes the connection when done.
    Alone,
    /// The daemon, which keeps the connection up (and caught up) for every command.
    Daemon,
}

/// Opens the store and restores the saved login. `catch_up` is what the connection loop
/// catches up with after connecting (with [`CatchUpScope::KnownPeers`], the directory scan
/// for new peers starts right after, in the background).
pub(crate) async fn open(global: &Global, catch_up: CatchUpScope) -> Result<Client, CliError> {
    let server = global
        .server
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(CliError::Missing(
            "no server given: pass --server URL or set QUICKCHAT_SERVER",
        ))?;
    let passphrase =
        global
            .passphrase
            .as_ref()
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
        .passphrase(passphrase.expose())
        .store_options(options)
        .config(ClientConfig {
            catch_up,
            // `listen` and the daemon are there to receive: their scan for messages from
            // new peers starts as soon as they caught up (in the background).
            directory_scan: Some(DirectoryScan {
                start_after_ms: 0,
                ..DirectoryScan::default()
            }),
            ..ClientConfig::default()
        })
        .build()
        .await
        .map_err(|e| match e {
            quickchat::Error::Store(e @ quickchat_core::store::StoreError::InUse { .. }) => {
                CliError::Daemon(format!(
                    "{e} (to use one store from several commands at once, keep `quickchat \
                     daemon` running on it: the other commands then go through it)"
                ))
            }
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
pub(crate) async fn connect(ctx: &Ctx) -> Result<(), CliError> {
    if ctx.client.current_user().is_none() {
        return Err(ClientError::NotLoggedIn.into());
    }
    if ctx.client.is_connected() {
        return Ok(());
    }
    if ctx.mode == Mode::Daemon {
        // The daemon's connection loop keeps retrying by itself; a command does not wait
        // for it.
        return Err(CliError::Connect(
            "the daemon is not connected to the server right now (it keeps trying)".into(),
        ));
    }
    catch_up_before_connecting(ctx).await?;
    let mut events = ctx.client.events();
    ctx.client.connect();
    let wait = async {
        let mut refused = None;
        while let Some(event) = events.next().await {
            match event {
                Event::CaughtUp { .. } => return Ok(()),
                Event::CatchUpFailed { reason } => {
                    ctx.out.note(format!("warning: catch-up failed: {reason}"));
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

/// What a one-shot process catches up with before it connects (its connection loop
/// catches up with nobody, see [`Mode::Alone`]): every peer it has messages pending to —
/// the loop sends them once connected, and one whose echo was lost must be recognised in
/// the history and not sent twice. Fails when the server cannot be reached.
async fn catch_up_before_connecting(ctx: &Ctx) -> Result<(), CliError> {
    if ctx.mode == Mode::Daemon {
        return Ok(());
    }
    let pending = ctx
        .client
        .store()
        .messages(&MessageQuery {
            status: Some(MessageStatus::Pending),
            ..MessageQuery::default()
        })
        .await
        .map_err(ClientError::from)?;
    let peers: std::collections::BTreeSet<String> = pending
        .into_iter()
        .filter(|m| m.direction == Direction::Outgoing)
        .filter_map(|m| match m.conversation {
            Conversation::Direct(peer) => Some(peer),
            Conversation::Group(_) => None,
        })
        .collect();
    for peer in peers {
        ctx.client.catch_up_with(&peer).await?;
    }
    Ok(())
}

/// Waits until the message `id` (sent after `events` was subscribed) leaves `Pending`;
/// returns its new status. `Failed` is an error with the server's reason.
pub(crate) async fn wait_until_sent(
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
pub(crate) async fn stop_signal() {
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
