//! A command run through the daemon that serves its store: sent as one JSON-RPC request,
//! its output printed as if it ran here; `listen` becomes a subscription.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use super::rpc::{self, ErrorObject};
use super::socket;
use crate::cli::{Command, Global, GroupCommand};
use crate::commands::listen::EVENT_TYPES;
use crate::error::CliError;
use crate::output::{self, Captured, Output};
use crate::session;

/// The connection to the daemon.
pub(crate) struct Remote {
    lines: Lines<BufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
    next_id: u64,
}

/// Connects to the daemon serving `store`, if one runs. A socket that nobody answers on
/// (a daemon that died) counts as none; one that must not be followed is an error.
pub(crate) async fn connect(store: &Path) -> Result<Option<Remote>, CliError> {
    let path = socket::path(store);
    if !socket::check(&path)? {
        return Ok(None);
    }
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(CliError::Daemon(format!(
                "cannot reach the daemon on {}: {e}",
                path.display()
            )));
        }
    };
    let (reader, writer) = stream.into_split();
    Ok(Some(Remote {
        lines: BufReader::new(reader).lines(),
        writer,
        next_id: 1,
    }))
}

impl Remote {
    async fn send(&mut self, method: &str, params: Option<Value>) -> Result<u64, CliError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = rpc::request(id, method, params);
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| CliError::Daemon(format!("the daemon went away: {e}")))?;
        Ok(id)
    }

    /// The next message from the daemon.
    async fn next(&mut self) -> Result<Value, CliError> {
        loop {
            let line = self
                .lines
                .next_line()
                .await
                .map_err(|e| CliError::Daemon(format!("the daemon went away: {e}")))?
                .ok_or_else(|| CliError::Daemon("the daemon closed the connection".into()))?;
            if line.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(&line).map_err(|e| {
                CliError::Daemon(format!("the daemon sent something that is not JSON: {e}"))
            });
        }
    }

    /// Waits for the answer to request `id`: its result, or the error the daemon sent.
    async fn answer(&mut self, id: u64) -> Result<Result<Value, ErrorObject>, CliError> {
        loop {
            let mut message = self.next().await?;
            if message.get("id") != Some(&json!(id)) {
                continue;
            }
            if let Some(error) = message.get_mut("error") {
                let error: ErrorObject = serde_json::from_value(error.take()).map_err(|e| {
                    CliError::Daemon(format!("the daemon sent a malformed error: {e}"))
                })?;
                return Ok(Err(error));
            }
            return Ok(Ok(message
                .get_mut("result")
                .map(Value::take)
                .unwrap_or(Value::Null)));
        }
    }
}

/// A failed call as an error, after printing what the command printed before it failed
/// (a warning about a look-alike name, say).
fn failure(error: ErrorObject, out: &Output) -> CliError {
    if let Some(printed) = error
        .data
        .as_ref()
        .and_then(|data| data.get("printed"))
        .and_then(|printed| serde_json::from_value::<Captured>(printed.clone()).ok())
    {
        let _ = printed.print(out);
    }
    CliError::Remote {
        code: error.code,
        message: error.message,
    }
}

/// Runs `command` through the daemon and prints what it printed there.
pub(crate) async fn run(
    mut remote: Remote,
    command: Command,
    out: &Output,
    global: &Global,
) -> Result<(), CliError> {
    let wait = Duration::from_secs(global.wait_secs.max(1));
    if let Command::Listen {
        count,
        timeout,
        types,
        mark_read,
    } = command
    {
        return listen(remote, out, count, timeout, &types, mark_read).await;
    }
    let command = with_absolute_paths(command)?;
    let (method, params) = rpc::method_of(&command)?;
    let id = remote.send(&method, params).await?;
    // The daemon waits up to `wait` for the network itself: allow for that and more.
    let answer = tokio::time::timeout(wait * 3 + Duration::from_secs(5), remote.answer(id))
        .await
        .map_err(|_| CliError::Timeout("the daemon's answer".into()))?;
    match answer? {
        Ok(result) => {
            let printed: Captured = serde_json::from_value(result).map_err(|e| {
                CliError::Daemon(format!("the daemon sent a malformed result: {e}"))
            })?;
            printed.print(out)
        }
        Err(error) => Err(failure(error, out)),
    }
}

/// Image paths as the daemon (in another working directory) can open them.
fn with_absolute_paths(command: Command) -> Result<Command, CliError> {
    let absolute = |path: std::path::PathBuf| {
        std::path::absolute(&path).map_err(|source| CliError::ReadFile { path, source })
    };
    Ok(match command {
        Command::Send {
            peer,
            text,
            image: Some(image),
            plaintext,
        } => Command::Send {
            peer,
            text,
            image: Some(absolute(image)?),
            plaintext,
        },
        Command::Groups(GroupCommand::Send {
            group,
            text,
            image: Some(image),
        }) => Command::Groups(GroupCommand::Send {
            group,
            text,
            image: Some(absolute(image)?),
        }),
        command => command,
    })
}

/// `listen` through the daemon: its events, as they come.
async fn listen(
    mut remote: Remote,
    out: &Output,
    count: Option<u64>,
    timeout_secs: Option<u64>,
    types: &[String],
    mark_read: bool,
) -> Result<(), CliError> {
    if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        out.note(format!(
            "warning: no event is known to have the type {unknown:?}; the types are: {}",
            EVENT_TYPES.join(", ")
        ));
    }
    if count == Some(0) {
        return Ok(());
    }
    let id = remote
        .send(
            rpc::SUBSCRIBE_METHOD,
            Some(json!({ "types": types, "markRead": mark_read })),
        )
        .await?;
    let subscribed = remote.answer(id).await?.map_err(|e| failure(e, out))?;
    let who = subscribed
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or("nobody (not logged in)")
        .to_string();
    out.note(format!(
        "Listening as {who} through the daemon; Ctrl-C to stop."
    ));
    let deadline = timeout_secs.map(|secs| Instant::now() + Duration::from_secs(secs));
    let stop = session::stop_signal();
    tokio::pin!(stop);
    let mut printed = 0u64;
    loop {
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => {
                out.note(format!("Stopped after {}.", output::count(printed, "event")));
                return Ok(());
            }
            () = sleep => {
                return match count {
                    Some(count) => Err(CliError::Timeout(format!(
                        "{count} events ({printed} came)"
                    ))),
                    None => {
                        out.note(format!("Timed out after {}.", output::count(printed, "event")));
                        Ok(())
                    }
                };
            }
            message = remote.next() => {
                let message = message?;
                if message.get("method").and_then(Value::as_str) != Some(rpc::EVENT_METHOD) {
                    continue;
                }
                let event = message.get("params").cloned().unwrap_or(Value::Null);
                match out.json(&event) {
                    Ok(()) => {}
                    Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
                printed += 1;
                if count.is_some_and(|count| printed >= count) {
                    return Ok(());
                }
            }
        }
    }
}
