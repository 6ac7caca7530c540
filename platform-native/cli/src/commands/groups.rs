//! `groups …`.

use std::path::Path;

use super::messages::{self, HistoryQuery};
use super::name_of;
use crate::cli::GroupCommand;
use crate::error::CliError;
use crate::output::count;
use crate::session::{self, Ctx};
use crate::{image, resolve};

/// Runs one `groups` command.
pub(super) async fn run(ctx: &Ctx, command: GroupCommand) -> Result<(), CliError> {
    match command {
        GroupCommand::Create {
            name,
            description,
            members,
        } => create(ctx, &name, description.as_deref(), &members).await,
        GroupCommand::List => list(ctx).await,
        GroupCommand::Send { group, text, image } => {
            send(ctx, &group, text.as_deref(), image.as_deref()).await
        }
        GroupCommand::Members { group } => members(ctx, &group).await,
        GroupCommand::Add {
            group,
            users,
            announce,
        } => add(ctx, &group, &users, announce).await,
        GroupCommand::Remove { group, user } => {
            let group = resolve::group(ctx, &group).await?;
            let user = resolve::user(ctx, &user).await?;
            let result = ctx.client.remove_group_member(&group.id, &user.id).await?;
            ctx.out.json(&result)?;
            ctx.out
                .note(format!("Removed {} from {}.", user.username, group.name));
            Ok(())
        }
        GroupCommand::Role { group, user, role } => {
            let group = resolve::group(ctx, &group).await?;
            let user = resolve::user(ctx, &user).await?;
            let result = ctx
                .client
                .set_group_role(&group.id, &user.id, role.as_str())
                .await?;
            ctx.out.json(&result)?;
            ctx.out.note(format!(
                "{} is now {} of {}.",
                user.username,
                match role {
                    crate::cli::GroupRole::Admin => "an admin",
                    crate::cli::GroupRole::Member => "a member",
                },
                group.name
            ));
            Ok(())
        }
        GroupCommand::Invite {
            group,
            max_uses,
            expires_in_secs,
        } => {
            let group = resolve::group(ctx, &group).await?;
            let expires_in_ms = expires_in_secs
                .map(|secs| {
                    i64::try_from(secs)
                        .ok()
                        .and_then(|s| s.checked_mul(1000))
                        .ok_or_else(|| CliError::Invalid("--expires-in-secs is too large".into()))
                })
                .transpose()?;
            let invite = ctx
                .client
                .create_invite(&group.id, expires_in_ms, max_uses)
                .await?;
            ctx.out.json(&invite)?;
            ctx.out.note(format!(
                "Invite code for {}: {} (join with: quickchat groups join {})",
                group.name, invite.link_code, invite.link_code
            ));
            Ok(())
        }
        GroupCommand::RevokeInvite { group, invite_id } => {
            let group = resolve::group(ctx, &group).await?;
            let result = ctx.client.revoke_invite(&group.id, &invite_id).await?;
            ctx.out.json(&result)?;
            ctx.out
                .note(format!("Revoked invite {invite_id} of {}.", group.name));
            Ok(())
        }
        GroupCommand::Join { code } => {
            let joined = ctx.client.join_group(&code).await?;
            ctx.out.json(&joined)?;
            let name = ctx
                .client
                .group(&joined.group_id)
                .await
                .map_or_else(|_| joined.group_id.clone(), |g| g.name);
            ctx.out.note(format!("Joined {name}."));
            Ok(())
        }
        GroupCommand::Leave { group } => {
            let group = resolve::group(ctx, &group).await?;
            let result = ctx.client.leave_group(&group.id).await?;
            ctx.out.json(&result)?;
            ctx.out.note(format!("Left {}.", group.name));
            Ok(())
        }
        GroupCommand::History {
            group,
            before,
            limit,
            search,
        } => {
            let group = resolve::group(ctx, &group).await?;
            let query = HistoryQuery {
                before,
                limit,
                search: search.as_deref(),
                local: false,
            };
            messages::group_history(ctx, &group.id, &group.name, &query).await
        }
    }
}

async fn create(
    ctx: &Ctx,
    name: &str,
    description: Option<&str>,
    members: &[String],
) -> Result<(), CliError> {
    let users = resolve::users(ctx, members).await?;
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let created = ctx
        .client
        .create_group(name, description, &ids, None)
        .await?;
    ctx.out.json(&created)?;
    ctx.out.note(format!(
        "Created group {} (id {}) with {} other member(s).",
        created.name,
        created.id,
        ids.len()
    ));
    Ok(())
}

async fn list(ctx: &Ctx) -> Result<(), CliError> {
    let groups = ctx.client.groups().await?;
    for group in &groups {
        ctx.out.json(group)?;
    }
    ctx.out
        .note(format!("{}.", count(groups.len() as u64, "group")));
    Ok(())
}

async fn send(
    ctx: &Ctx,
    group: &str,
    text: Option<&str>,
    image_path: Option<&Path>,
) -> Result<(), CliError> {
    let data_url = image_path.map(image::data_url).transpose()?;
    let group = resolve::group(ctx, group).await?;
    session::connect(ctx).await?;
    let mut events = ctx.client.events();
    let record = match (&data_url, text) {
        (Some(url), _) => ctx.client.send_group_image(&group.id, url).await?,
        (None, Some(text)) => ctx.client.send_group_text(&group.id, text).await?,
        (None, None) => {
            return Err(CliError::Invalid(
                "nothing to send: give a text or --image".into(),
            ));
        }
    };
    let status = session::wait_until_sent(ctx, &mut events, &record.id).await?;
    ctx.out
        .json(&messages::sent_json(&record, &group.name, status))?;
    ctx.out.note(format!(
        "Sent to group {} ({}; group messages are not end-to-end encrypted).",
        group.name,
        messages::status_name(status)
    ));
    Ok(())
}

async fn members(ctx: &Ctx, group: &str) -> Result<(), CliError> {
    let group = resolve::group(ctx, group).await?;
    let members = ctx.client.group_members(&group.id).await?;
    for member in &members {
        ctx.out.json(member)?;
    }
    ctx.out.note(format!(
        "{} in {}.",
        count(members.len() as u64, "member"),
        group.name
    ));
    Ok(())
}

async fn add(ctx: &Ctx, group: &str, users: &[String], announce: bool) -> Result<(), CliError> {
    let group = resolve::group(ctx, group).await?;
    let users = resolve::users(ctx, users).await?;
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let result = ctx.client.add_group_members(&group.id, &ids).await?;
    ctx.out.json(&result)?;
    let added: Vec<String> = result.added.iter().map(|id| name_of(&users, id)).collect();
    if announce && !result.added.is_empty() {
        session::connect(ctx).await?;
        for user_id in &result.added {
            let mut payload = serde_json::Map::new();
            payload.insert("userId".into(), user_id.clone().into());
            ctx.client
                .send_group_event(&group.id, "member_added", payload)
                .await?;
        }
    }
    if added.is_empty() {
        ctx.out.note(format!(
            "Nobody was added to {} (already members?).",
            group.name
        ));
    } else {
        ctx.out
            .note(format!("Added to {}: {}.", group.name, added.join(", ")));
    }
    Ok(())
}
