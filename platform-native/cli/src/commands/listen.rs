//! `listen`: every event as one JSON line on stdout.

use std::time::Duration;

use futures::StreamExt;
use quickchat::Event;
use tokio::time::Instant;

use crate::error::CliError;
use crate::output;
use crate::session::{self, Ctx};

/// The `type` of every event this tool knows of (`--type` warns about others).
pub(crate) const EVENT_TYPES: &[&str] = &[
    "connected",
    "disconnected",
    "reconnecting",
    "caught_up",
    "catch_up_failed",
    "stopped",
    "message",
    "message_replaced",
    "message_status",
    "messages_read",
    "typing",
    "presence",
    "group_message",
    "group_typing",
    "group_read",
    "group_event",
    "decryption_failed",
    "identity_changed",
    "server_error",
    "malformed_frame",
    "session_expired",
    "suspicious_name",
];

/// How long a `disconnected` may go without a `reconnecting` before the connection is taken
/// as given up (the client stops retrying only when retrying cannot help).
const GIVE_UP_GRACE: Duration = Duration::from_secs(2);

/// `listen [--count N] [--timeout SECS] [--type T]... [--mark-read]`.
pub(crate) async fn listen(
    ctx: &Ctx,
    count: Option<u64>,
    timeout_secs: Option<u64>,
    types: &[String],
    mark_read: bool,
) -> Result<(), CliError> {
    if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        ctx.out.note(format!(
            "warning: no event is known to have the type {unknown:?}; the types are: {}",
            EVENT_TYPES.join(", ")
        ));
    }
    let user = ctx
        .client
        .current_user()
        .ok_or(quickchat::ClientError::NotLoggedIn)?;
    if count == Some(0) {
        return Ok(());
    }
    let mut events = ctx.client.events();
    ctx.client.connect();
    ctx.out
        .note(format!("Listening as {}; Ctrl-C to stop.", user.username));
    let deadline = timeout_secs.map(|secs| Instant::now() + Duration::from_secs(secs));
    let stop = session::stop_signal();
    tokio::pin!(stop);
    let mut printed = 0u64;
    let mut given_up: Option<(String, Instant)> = None;
    loop {
        let wake = match (deadline, &given_up) {
            (Some(d), Some((_, g))) => Some(d.min(*g)),
            (Some(d), None) => Some(d),
            (None, Some((_, g))) => Some(*g),
            (None, None) => None,
        };
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => {
                ctx.out.note(format!("Stopped after {}.", output::count(printed, "event")));
                return Ok(());
            }
            () = sleep => {
                if let Some((reason, at)) = &given_up && Instant::now() >= *at {
                    return Err(CliError::Connect(reason.clone()));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return match count {
                        Some(count) => Err(CliError::Timeout(format!(
                            "{count} events ({printed} came)"
                        ))),
                        None => {
                            ctx.out.note(format!("Timed out after {}.", output::count(printed, "event")));
                            Ok(())
                        }
                    };
                }
            }
            event = events.next() => {
                let Some(event) = event else {
                    return Err(CliError::Other("the client stopped".into()));
                };
                match &event {
                    Event::Disconnected { reason } => {
                        given_up = Some((reason.clone(), Instant::now() + GIVE_UP_GRACE));
                    }
                    Event::Reconnecting { .. } | Event::Connected => given_up = None,
                    _ => {}
                }
                if !types.is_empty() && !types.contains(&event_type(&event)) {
                    continue;
                }
                remember_sender(&ctx.client, &event).await;
                if mark_read {
                    mark_read_if_incoming(ctx, &event).await;
                }
                match print_event(ctx, &event) {
                    Ok(()) => {}
                    // The reader went away (`listen | head -n 1`): a normal end.
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

/// Saves the sender of an incoming 1:1 message as a contact (its name then resolves
/// without the server, e.g. for `history --local`, and look-alikes of it are flagged).
/// A failure (the server cannot be reached) is ignored: the next message tries again.
pub(crate) async fn remember_sender(client: &quickchat::Client, event: &Event) {
    if let Event::Message { message, .. } = event
        && message.direction == quickchat::Direction::Incoming
        && client
            .contacts()
            .await
            .is_ok_and(|contacts| !contacts.contains_key(&message.sender_id))
        && let Ok(user) = client.find_user(&message.sender_id).await
    {
        let _ = client.remember_contact(&user).await;
    }
}

/// Marks an incoming 1:1 message read (`--mark-read`); a failure is only a note.
pub(crate) async fn mark_read_if_incoming(ctx: &Ctx, event: &Event) {
    if let Event::Message { message, .. } = event
        && message.direction == quickchat::Direction::Incoming
        && let Err(e) = ctx
            .client
            .mark_read(&message.sender_id, std::slice::from_ref(&message.id))
            .await
    {
        ctx.out
            .note(format!("warning: could not mark {} read: {e}", message.id));
    }
}

fn print_event(ctx: &Ctx, event: &Event) -> Result<(), CliError> {
    let line = serde_json::to_string(event)
        .map_err(|e| CliError::Other(format!("cannot format an event as JSON: {e}")))?;
    ctx.out.line(&line)
}

/// An event's `type` as it serializes (`{"type": ..., ...}`).
pub(crate) fn event_type(event: &Event) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_match_the_serialized_type_field() {
        let samples = [
            Event::Connected,
            Event::CaughtUp { new_messages: 1 },
            Event::SessionExpired,
            Event::Disconnected { reason: "x".into() },
        ];
        for event in samples {
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["type"], event_type(&event));
            assert!(EVENT_TYPES.contains(&event_type(&event).as_str()));
        }
    }
}
