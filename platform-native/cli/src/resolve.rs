//! Users and groups named by name or by id.

use quickchat_core::names::{self, NameIssue};
use quickchat_core::protocol::rest::{GroupInfo, UserSummary};

use crate::error::CliError;
use crate::session::Ctx;

/// The user with this exact name, or with this id: from the contacts saved in the store
/// when known there (no server needed), else from the server's user list. The user is
/// saved as a contact, and a suspicious name is warned about on stderr.
pub(crate) async fn user(ctx: &Ctx, name_or_id: &str) -> Result<UserSummary, CliError> {
    Ok(user_checked(ctx, name_or_id).await?.0)
}

/// [`user`], with what is suspicious about the name (for the JSON output).
pub(crate) async fn user_checked(
    ctx: &Ctx,
    name_or_id: &str,
) -> Result<(UserSummary, Vec<NameIssue>), CliError> {
    let user = match ctx.client.find_known_user(name_or_id).await? {
        Some(user) => user,
        None => ctx.client.find_user(name_or_id).await?,
    };
    let issues = ctx.client.check_name(&user).await?;
    if let Some(warning) = names::describe(&user.username, &issues) {
        ctx.out.warning(&warning);
    }
    if let Err(e) = ctx.client.remember_contact(&user).await {
        ctx.out
            .note(format!("warning: could not save the contact: {e}"));
    }
    Ok((user, issues))
}

/// Several users.
pub(crate) async fn users(ctx: &Ctx, names: &[String]) -> Result<Vec<UserSummary>, CliError> {
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        found.push(user(ctx, name).await?);
    }
    Ok(found)
}

/// One of this user's groups, by id or by exact name (an error if none or several match).
pub(crate) async fn group(ctx: &Ctx, name_or_id: &str) -> Result<GroupInfo, CliError> {
    let groups = ctx.client.groups().await?;
    pick_group(groups, name_or_id)
}

/// The group with this id, else the only one with this name.
pub(crate) fn pick_group(groups: Vec<GroupInfo>, name_or_id: &str) -> Result<GroupInfo, CliError> {
    if let Some(group) = groups.iter().find(|g| g.id == name_or_id) {
        return Ok(group.clone());
    }
    let mut named: Vec<GroupInfo> = groups
        .into_iter()
        .filter(|g| g.name == name_or_id)
        .collect();
    match named.len() {
        0 => Err(CliError::UnknownGroup(name_or_id.to_string())),
        1 => Ok(named.remove(0)),
        count => Err(CliError::AmbiguousGroup {
            name: name_or_id.to_string(),
            count,
            ids: named
                .iter()
                .map(|g| g.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
