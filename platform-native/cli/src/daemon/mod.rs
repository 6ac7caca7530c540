//! `quickchat daemon`: one process owns the store and the connection and serves every
//! command, and a subscription to events, as JSON-RPC 2.0 ([`rpc`]) over the Unix socket
//! `<store>.sock` ([`socket`]) and, with `--stdio`, over stdin/stdout. The other commands
//! go through it when it runs ([`remote`]).

pub(crate) mod remote;
pub(crate) mod rpc;
pub(crate) mod socket;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use quickchat::{Client, Event};
use quickchat_core::client::CatchUpScope;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use crate::cli::{Command, Global};
use crate::commands;
use crate::error::CliError;
use crate::output::Output;
use crate::session::{self, Ctx, Mode};
use rpc::{Call, ErrorObject, Response, codes};

/// How long stopping may wait for the connection to close before the process exits
/// anyway (everything is committed as it happens; this only lets the socket close
/// politely).
const CLOSE_WAIT: Duration = Duration::from_millis(700);

/// The longest request line read (a command's arguments; images travel as file paths).
const MAX_LINE: usize = 1024 * 1024;

/// What every connection shares.
struct Daemon {
    client: Client,
    wait: Duration,
}

/// Runs the daemon until Ctrl-C / SIGTERM (or, with `stdio`, until stdin ends).
pub(crate) async fn serve(global: &Global, out: Output, stdio: bool) -> Result<(), CliError> {
    let path = socket::path(&global.store);
    if socket::check(&path)? && tokio::net::UnixStream::connect(&path).await.is_ok() {
        return Err(CliError::Daemon(format!(
            "a daemon already serves this store on {}",
            path.display()
        )));
    }
    let client = session::open(global, CatchUpScope::KnownPeers).await?;
    // A socket left by a daemon that died (checked above: ours, and nobody answers).
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| CliError::Daemon(format!("cannot listen on {}: {e}", path.display())))?;
    let _remove = socket::RemoveOnDrop(path.clone());
    // Connections are also checked one by one (peer credentials), so the moment between
    // bind and chmod lets nobody in.
    socket::restrict(&path)?;

    let daemon = Arc::new(Daemon {
        client: client.clone(),
        wait: Duration::from_secs(global.wait_secs.max(1)),
    });
    let status = tokio::spawn(report_status(client.clone(), out.clone()));
    match client.current_user() {
        Some(user) => {
            client.connect();
            out.note(format!(
                "Serving {} on {} (JSON-RPC 2.0); Ctrl-C to stop.",
                user.username,
                path.display()
            ));
        }
        None => out.note(format!(
            "Serving on {} (JSON-RPC 2.0); nobody is logged in yet (call login); Ctrl-C to stop.",
            path.display()
        )),
    }

    let stdio_done = async {
        if stdio {
            serve_connection(Arc::clone(&daemon), tokio::io::stdin(), tokio::io::stdout()).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(stdio_done);
    let stop = session::stop_signal();
    tokio::pin!(stop);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = &mut stdio_done => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let allowed = stream
                        .peer_cred()
                        .is_ok_and(|cred| cred.uid() == socket::my_uid());
                    if !allowed {
                        out.note("warning: refused a connection from another user");
                        continue;
                    }
                    let (reader, writer) = stream.into_split();
                    connections.spawn(serve_connection(Arc::clone(&daemon), reader, writer));
                }
                Err(e) => out.note(format!("warning: accepting a connection failed: {e}")),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    status.abort();
    let _ = tokio::time::timeout(CLOSE_WAIT, client.close()).await;
    out.note("Stopped.");
    Ok(())
}

/// Tells the person running the daemon when the connection comes and goes, and saves the
/// senders of incoming messages as contacts.
async fn report_status(client: Client, out: Output) {
    let mut events = client.events();
    while let Some(event) = events.next().await {
        commands::listen::remember_sender(&client, &event).await;
        match event {
            Event::CaughtUp { new_messages } => out.note(format!(
                "Connected and caught up ({}).",
                crate::output::count(new_messages as u64, "new message")
            )),
            Event::CatchUpFailed { reason } => {
                out.note(format!("Connected; catch-up failed: {reason}"));
            }
            Event::Disconnected { reason } => out.note(format!("Disconnected: {reason}")),
            _ => {}
        }
    }
}

/// Serves one connection: requests are answered as they finish (several may run at
/// once); subscriptions end with the connection.
async fn serve_connection<R, W>(daemon: Arc<Daemon>, reader: R, mut writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (sender, mut lines_out) = mpsc::unbounded_channel::<String>();
    let writing = tokio::spawn(async move {
        while let Some(mut line) = lines_out.recv().await {
            line.push('\n');
            if writer.write_all(line.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
    });
    let mut tasks = tokio::task::JoinSet::new();
    let mut reader = BufReader::new(reader);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut bytes)
            .await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) if bytes.len() > MAX_LINE => {
                let error =
                    ErrorObject::new(codes::INVALID_REQUEST, "the request line is too long");
                let _ = sender.send(to_line(&Response::error(Value::Null, error)));
                break;
            }
            Ok(_) => {}
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            let error = ErrorObject::new(codes::PARSE_ERROR, "the line is not UTF-8");
            let _ = sender.send(to_line(&Response::error(Value::Null, error)));
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let text = text.to_string();
        let daemon = Arc::clone(&daemon);
        let sender = sender.clone();
        tasks.spawn(async move {
            if let Some(answer) = handle_line(&daemon, &text, &sender).await {
                let _ = sender.send(answer);
            }
        });
        // Forget finished requests as we go.
        while tasks.try_join_next().is_some() {}
    }
    // The client is gone or stopped sending: let running commands answer (their results
    // are committed anyway), end the subscriptions.
    tasks.abort_all();
    drop(sender);
    let _ = writing.await;
}

/// Answers one line: a request, a notification (no answer) or a batch.
async fn handle_line(
    daemon: &Daemon,
    text: &str,
    sender: &mpsc::UnboundedSender<String>,
) -> Option<String> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            let error = ErrorObject::new(codes::PARSE_ERROR, format!("not JSON: {e}"));
            return Some(to_line(&Response::error(Value::Null, error)));
        }
    };
    match value {
        Value::Array(calls) if calls.is_empty() => {
            let error = ErrorObject::new(codes::INVALID_REQUEST, "an empty batch");
            Some(to_line(&Response::error(Value::Null, error)))
        }
        Value::Array(calls) => {
            let mut answers = Vec::new();
            for call in calls {
                if let Some(answer) = handle_call(daemon, call, sender).await {
                    answers.push(answer);
                }
            }
            (!answers.is_empty()).then(|| to_line(&answers))
        }
        value => handle_call(daemon, value, sender)
            .await
            .map(|answer| to_line(&answer)),
    }
}

async fn handle_call(
    daemon: &Daemon,
    value: Value,
    sender: &mpsc::UnboundedSender<String>,
) -> Option<Response> {
    let Call { id, method, params } = match rpc::parse_call(value) {
        Ok(call) => call,
        Err((id, error)) => return Some(Response::error(id, error)),
    };
    if method == rpc::SUBSCRIBE_METHOD {
        // Answered inside (before the first event); runs until the connection ends.
        return match subscribe(daemon, params, id.clone(), sender).await {
            Ok(()) => None,
            Err(error) => id.map(|id| Response::error(id, error)),
        };
    }
    let outcome = match rpc::command(&method, params) {
        Ok(command) => run_command(daemon, command).await,
        Err(error) => Err(error),
    };
    // A notification gets no answer, even an error.
    let id = id?;
    Some(match outcome {
        Ok(result) => Response::result(id, result),
        Err(error) => Response::error(id, error),
    })
}

/// Runs a command as the command line would, collecting what it prints.
async fn run_command(daemon: &Daemon, command: Command) -> Result<Value, ErrorObject> {
    let signs_in = matches!(command, Command::Login { .. } | Command::Register { .. });
    let ctx = Ctx {
        client: daemon.client.clone(),
        out: Output::capture(),
        wait: daemon.wait,
        mode: Mode::Daemon,
    };
    let result = commands::run(&ctx, command).await;
    let printed = ctx.out.take();
    match result {
        Ok(()) => {
            if signs_in {
                ctx.client.connect();
            }
            serde_json::to_value(&printed).map_err(|e| {
                ErrorObject::new(
                    codes::INTERNAL_ERROR,
                    format!("cannot encode the result: {e}"),
                )
            })
        }
        Err(e) => {
            let mut error = e.to_rpc();
            if let Some(Value::Object(data)) = &mut error.data
                && let Ok(printed) = serde_json::to_value(&printed)
            {
                data.insert("printed".into(), printed);
            }
            Err(error)
        }
    }
}

/// The params of `subscribe`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubscribeParams {
    /// Only events of these types (all when empty).
    #[serde(default)]
    types: Vec<String>,
    /// Mark incoming 1:1 messages read as they are sent to this subscriber.
    #[serde(default)]
    mark_read: bool,
}

/// Starts sending events as notifications on this connection. The answer goes out
/// before the first event.
async fn subscribe(
    daemon: &Daemon,
    params: Option<Value>,
    id: Option<Value>,
    sender: &mpsc::UnboundedSender<String>,
) -> Result<(), ErrorObject> {
    let params: SubscribeParams = match params.filter(|p| !p.is_null()) {
        Some(params) => serde_json::from_value(params).map_err(|e| {
            ErrorObject::new(
                codes::INVALID_PARAMS,
                format!("invalid params for subscribe: {e}"),
            )
        })?,
        None => SubscribeParams::default(),
    };
    let mut events = daemon.client.events();
    let user = daemon.client.current_user();
    let answer = json!({
        "subscribed": true,
        "username": user.as_ref().map(|u| u.username.clone()),
        "userId": user.map(|u| u.user_id),
        "connected": daemon.client.is_connected(),
    });
    // Answered here (not by the caller) so that it comes before the first event.
    if let Some(id) = id {
        let _ = sender.send(to_line(&Response::result(id, answer.clone())));
    }
    let ctx = Ctx {
        client: daemon.client.clone(),
        out: Output::capture(),
        wait: daemon.wait,
        mode: Mode::Daemon,
    };
    while let Some(event) = events.next().await {
        let kind = commands::listen::event_type(&event);
        if !params.types.is_empty() && !params.types.contains(&kind) {
            continue;
        }
        if params.mark_read {
            commands::listen::mark_read_if_incoming(&ctx, &event).await;
        }
        let Ok(value) = serde_json::to_value(&event) else {
            continue;
        };
        if sender.send(rpc::event_notification(&value)).is_err() {
            break;
        }
    }
    Ok(())
}

fn to_line<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        json!({
            "jsonrpc": rpc::VERSION,
            "id": Value::Null,
            "error": { "code": codes::INTERNAL_ERROR, "message": format!("cannot encode the answer: {e}") },
        })
        .to_string()
    })
}
