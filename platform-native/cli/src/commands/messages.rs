//! send, history.

use std::path::PathBuf;

use quickchat::{ClientError, Conversation, MessageRecord};
use quickchat_core::store::{MessageQuery, Store};
use serde_json::json;

use crate::error::CliError;
use crate::output::count;
use crate::session::{self, Ctx};
use crate::{image, resolve};

/// What `send` sends.
pub(super) enum Content {
    /// End-to-end-encrypted text.
    Text(String),
    /// Text in the clear (`--plaintext`).
    Plaintext(String),
    /// An image file, as a data URL (not encrypted, as in the web client).
    Image(PathBuf),
}

/// `send <peer> <text>` / `send <peer> --image <file>` / `send <peer> --plaintext <text>`.
///
/// Alone, it catches up with this peer only (and with peers it has pending messages to),
/// then connects. When the server cannot be reached, the message is saved in the outbox
/// (if it can be encrypted without the server: a session with the peer exists) and goes
/// out the next time this store connects.
pub(super) async fn send(ctx: &Ctx, peer: &str, content: Content) -> Result<(), CliError> {
    let data_url = match &content {
        Content::Image(path) => Some(image::data_url(path)?),
        _ => None,
    };
    let (peer, issues) = resolve::user_checked(ctx, peer).await?;
    let offline = prepare(ctx, &peer.id).await?;
    let mut events = ctx.client.events();
    let sent = match (&content, &data_url) {
        (_, Some(url)) => ctx.client.send_image(&peer.id, url).await,
        (Content::Plaintext(text), None) => ctx.client.send_plaintext(&peer.id, text).await,
        (Content::Text(text), None) => ctx.client.send_text(&peer.id, text).await,
        (Content::Image(_), None) => return Err(CliError::Other("the image was not read".into())),
    };
    let record = sent.map_err(|e| match e {
        ClientError::PeerHasNoKeys { .. } => CliError::Invalid(format!(
            "{} has published no encryption keys (never logged in with an end-to-end \
             encrypting client?): nothing was sent; pass --plaintext to send it unencrypted",
            peer.username
        )),
        e => e.into(),
    })?;
    let encryption = if record.encrypted {
        "end-to-end encrypted"
    } else {
        "not encrypted"
    };
    if let Some(why) = offline {
        let mut json = sent_json(&record, &peer.username, quickchat::MessageStatus::Pending);
        json["queued"] = true.into();
        json["toNameIssues"] = serde_json::to_value(&issues).unwrap_or_default();
        ctx.out.json(&json)?;
        ctx.out.note(format!(
            "Not sent now ({why}): the message ({encryption}) waits in this store's outbox \
             and goes out the next time this store connects (listen, the daemon, or another \
             command that connects)."
        ));
        return Ok(());
    }
    let status = session::wait_until_sent(ctx, &mut events, &record.id).await?;
    let mut json = sent_json(&record, &peer.username, status);
    json["toNameIssues"] = serde_json::to_value(&issues).unwrap_or_default();
    ctx.out.json(&json)?;
    ctx.out.note(format!(
        "Sent to {} ({}, {encryption}).",
        peer.username,
        status_name(status),
    ));
    Ok(())
}

/// Gets ready to send to `peer_id`: alone, catches up with that peer and connects.
/// `Ok(Some(reason))` when the server cannot be reached: the message then waits in the
/// outbox.
async fn prepare(ctx: &Ctx, peer_id: &str) -> Result<Option<CliError>, CliError> {
    if ctx.mode == session::Mode::Alone {
        match ctx.client.catch_up_with(peer_id).await {
            Ok(_) => {}
            Err(e) if e.is_unreachable() => return Ok(Some(CliError::Client(e))),
            Err(e) => ctx.out.note(format!(
                "warning: could not fetch new messages from the peer: {e}"
            )),
        }
    }
    match session::connect(ctx).await {
        Ok(()) => Ok(None),
        Err(e @ (CliError::Connect(_) | CliError::Timeout(_))) => Ok(Some(e)),
        Err(CliError::Client(e)) if e.is_unreachable() => Ok(Some(CliError::Client(e))),
        Err(e) => Err(e),
    }
}

/// What `send` prints: the message without its wire form.
pub(super) fn sent_json(
    record: &MessageRecord,
    to_name: &str,
    status: quickchat::MessageStatus,
) -> serde_json::Value {
    let to = match &record.conversation {
        Conversation::Direct(id) | Conversation::Group(id) => id.clone(),
    };
    json!({
        "id": record.id,
        "to": to,
        "toName": to_name,
        "kind": record.kind,
        "body": record.body,
        "encrypted": record.encrypted,
        "status": status,
        "timestamp": record.timestamp,
    })
}

/// A status as a word.
pub(super) fn status_name(status: quickchat::MessageStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{status:?}"))
}

/// Options of `history`.
pub(super) struct HistoryQuery<'a> {
    /// Only older than this, ms.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: usize,
    /// Only with this text.
    pub search: Option<&'a str>,
    /// Only what the store holds.
    pub local: bool,
}

/// `history <peer|group>`: a user first (unless `as_group`), else one of this user's groups.
pub(super) async fn history(
    ctx: &Ctx,
    target: &str,
    as_group: bool,
    query: &HistoryQuery<'_>,
) -> Result<(), CliError> {
    if query.local {
        // Nothing from the server: a user among the saved contacts, a group by its id.
        if !as_group {
            return match ctx.client.find_known_user(target).await? {
                Some(user) => peer_history(ctx, &user.id, &user.username, query).await,
                // A user id the store has a conversation with.
                None if has_direct_history(ctx, target).await? => {
                    peer_history(ctx, target, target, query).await
                }
                None => Err(CliError::Invalid(format!(
                    "no contact named {target:?} in this store (--local looks only at the \
                     store: name a user you have dealt with, or a group by its id with --group)"
                ))),
            };
        }
        return print_local(ctx, Conversation::Group(target.to_string()), target, query).await;
    }
    if !as_group {
        match resolve::user(ctx, target).await {
            Ok(user) => return peer_history(ctx, &user.id, &user.username, query).await,
            Err(CliError::Client(quickchat::ClientError::UnknownUser { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    let group = match resolve::group(ctx, target).await {
        Err(CliError::UnknownGroup(_)) if !as_group => {
            return Err(CliError::Invalid(format!(
                "no user and none of your groups is named {target:?}"
            )));
        }
        other => other?,
    };
    group_history(ctx, &group.id, &group.name, query).await
}

async fn has_direct_history(ctx: &Ctx, peer_id: &str) -> Result<bool, CliError> {
    let found = ctx
        .client
        .store()
        .messages(&MessageQuery {
            conversation: Some(Conversation::Direct(peer_id.to_string())),
            limit: Some(1),
            ..MessageQuery::default()
        })
        .await
        .map_err(ClientError::from)?;
    Ok(!found.is_empty())
}

async fn peer_history(
    ctx: &Ctx,
    peer_id: &str,
    name: &str,
    query: &HistoryQuery<'_>,
) -> Result<(), CliError> {
    // The daemon's connection keeps it caught up; alone, this one conversation is read
    // from the server (REST, no socket needed).
    let caught_up = ctx.mode == session::Mode::Daemon && ctx.client.is_connected();
    if !query.local
        && !caught_up
        && let Err(e) = ctx.client.catch_up_with(peer_id).await
    {
        ctx.out
            .note(format!("warning: could not fetch new messages: {e}"));
    }
    let conversation = Conversation::Direct(peer_id.to_string());
    print_local(ctx, conversation, name, query).await
}

/// Group history: fetched from the server (and stored), then read from the store.
pub(super) async fn group_history(
    ctx: &Ctx,
    group_id: &str,
    name: &str,
    query: &HistoryQuery<'_>,
) -> Result<(), CliError> {
    if !query.local {
        let limit = u32::try_from(query.limit).unwrap_or(u32::MAX);
        if let Err(e) = ctx
            .client
            .group_history(group_id, Some(limit), query.before)
            .await
        {
            ctx.out
                .note(format!("warning: could not fetch the group's history: {e}"));
        }
    }
    let conversation = Conversation::Group(group_id.to_string());
    print_local(ctx, conversation, name, query).await
}

async fn print_local(
    ctx: &Ctx,
    conversation: Conversation,
    name: &str,
    query: &HistoryQuery<'_>,
) -> Result<(), CliError> {
    let messages = ctx
        .client
        .store()
        .messages(&MessageQuery {
            conversation: Some(conversation),
            before: query.before,
            limit: Some(query.limit),
            text: query.search.map(str::to_string),
            ..MessageQuery::default()
        })
        .await
        .map_err(quickchat::ClientError::from)?;
    for message in &messages {
        ctx.out.json(&history_json(message))?;
    }
    ctx.out.note(format!(
        "{} with {name}.",
        count(messages.len() as u64, "message")
    ));
    Ok(())
}

/// What `history` prints of a message.
pub(super) fn history_json(message: &MessageRecord) -> serde_json::Value {
    json!({
        "id": message.id,
        "from": message.sender_id,
        "direction": message.direction,
        "kind": message.kind,
        "body": message.body,
        "imageData": message.image_data,
        "timestamp": message.timestamp,
        "status": message.status,
        "encrypted": message.encrypted,
        "readAt": message.read_at,
        "decryptError": message.decrypt_error,
    })
}
