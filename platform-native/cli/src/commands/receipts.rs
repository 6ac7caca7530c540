//! read, typing.

use quickchat::{Conversation, Direction, MessageStatus};
use quickchat_core::store::{MessageQuery, Store};
use serde_json::json;

use crate::cli::OnOff;
use crate::error::CliError;
use crate::output::count;
use crate::resolve;
use crate::session::{self, Ctx, Mode};

/// `read <peer> [--id ID]...`: marks the peer's unread messages (or those given) read.
/// Connected, the peer gets a read receipt; offline, the server records it (the peer sees
/// it in its history).
pub(super) async fn read(ctx: &Ctx, peer: &str, ids: &[String]) -> Result<(), CliError> {
    let user = resolve::user(ctx, peer).await?;
    if ctx.mode == Mode::Alone {
        // What the peer sent while this store was away must be in the store to be marked.
        if let Err(e) = ctx.client.catch_up_with(&user.id).await {
            ctx.out
                .note(format!("warning: could not fetch new messages: {e}"));
        }
    }
    let ids: Vec<String> = if ids.is_empty() {
        ctx.client
            .store()
            .messages(&MessageQuery {
                conversation: Some(Conversation::Direct(user.id.clone())),
                ..MessageQuery::default()
            })
            .await
            .map_err(quickchat::ClientError::from)?
            .into_iter()
            .filter(|m| m.direction == Direction::Incoming && m.status != MessageStatus::Read)
            .map(|m| m.id)
            .collect()
    } else {
        ids.to_vec()
    };
    let live = !ids.is_empty() && session::connect(ctx).await.is_ok();
    ctx.client.mark_read(&user.id, &ids).await?;
    ctx.out.json(&json!({
        "peer": user.id,
        "peerName": user.username,
        "messageIds": ids,
        "receiptSent": live,
    }))?;
    ctx.out.note(format!(
        "Marked {} from {} read{}.",
        count(ids.len() as u64, "message"),
        user.username,
        if ids.is_empty() || live {
            ""
        } else {
            " (not connected: recorded on the server, no live receipt)"
        }
    ));
    Ok(())
}

/// `typing <peer> on|off`.
pub(super) async fn typing(ctx: &Ctx, peer: &str, state: OnOff) -> Result<(), CliError> {
    let user = resolve::user(ctx, peer).await?;
    session::connect(ctx).await?;
    let on = state == OnOff::On;
    ctx.client.set_typing(&user.id, on).await?;
    ctx.out
        .json(&json!({ "peer": user.id, "peerName": user.username, "typing": on }))?;
    ctx.out.note(format!(
        "Told {} you {} typing.",
        user.username,
        if on { "are" } else { "stopped" }
    ));
    Ok(())
}
