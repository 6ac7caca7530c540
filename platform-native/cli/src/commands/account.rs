//! register, login, logout, whoami, users.

use serde_json::json;

use crate::cli::PasswordArg;
use crate::error::CliError;
use crate::output::count;
use crate::session::{self, Ctx};

fn password(arg: PasswordArg) -> Result<zeroize::Zeroizing<String>, CliError> {
    arg.password
        .filter(|p| !p.is_empty())
        .map(|p| zeroize::Zeroizing::new(p.expose().to_string()))
        .ok_or(CliError::Missing(
            "no password given: pass --password or set QUICKCHAT_PASSWORD",
        ))
}

/// `register <username>`.
pub(super) async fn register(
    ctx: &Ctx,
    username: &str,
    password_arg: PasswordArg,
    avatar: Option<&str>,
) -> Result<(), CliError> {
    let password = password(password_arg)?;
    let user = ctx.client.register(username, &password, avatar).await?;
    ctx.out
        .json(&json!({ "userId": user.user_id, "username": user.username }))?;
    ctx.out.note(format!(
        "Registered {} (id {}); this device's keys are published.",
        user.username, user.user_id
    ));
    Ok(())
}

/// `login <username> [--replace-keys]`.
pub(super) async fn login(
    ctx: &Ctx,
    username: &str,
    password_arg: PasswordArg,
    replace_keys: bool,
) -> Result<(), CliError> {
    let password = password(password_arg)?;
    let user = if replace_keys {
        ctx.client.login_replacing_keys(username, &password).await?
    } else {
        ctx.client
            .login(username, &password)
            .await
            .map_err(|e| match e {
                e @ quickchat::ClientError::KeysInUseElsewhere { .. } => CliError::Hinted {
                    source: e,
                    hint: "then pass --replace-keys; nothing was changed",
                },
                e => e.into(),
            })?
    };
    ctx.out
        .json(&json!({ "userId": user.user_id, "username": user.username }))?;
    ctx.out.note(format!(
        "Logged in as {} (id {}).",
        user.username, user.user_id
    ));
    Ok(())
}

/// `logout`.
pub(super) async fn logout(ctx: &Ctx) -> Result<(), CliError> {
    let user = ctx.client.current_user();
    ctx.client.logout().await?;
    match user {
        Some(user) => ctx.out.note(format!(
            "Logged out {}; keys and history stay in the store.",
            user.username
        )),
        None => ctx.out.note("Nobody was logged in."),
    }
    Ok(())
}

/// `whoami`.
pub(super) async fn whoami(ctx: &Ctx) -> Result<(), CliError> {
    let user = ctx
        .client
        .current_user()
        .ok_or(quickchat::ClientError::NotLoggedIn)?;
    let fingerprint = ctx.client.fingerprint().await?;
    ctx.out.json(&json!({
        "userId": user.user_id,
        "username": user.username,
        "fingerprint": fingerprint.grouped(),
    }))?;
    ctx.out.note(format!(
        "Logged in as {} (id {}).",
        user.username, user.user_id
    ));
    Ok(())
}

/// `users`: every user, with `online` true/false when the socket told, else null.
pub(super) async fn users(ctx: &Ctx, presence: bool) -> Result<(), CliError> {
    let online = if presence && ctx.client.current_user().is_some() {
        match session::connect(ctx).await {
            Ok(()) => Some(ctx.client.online_users()),
            Err(e) => {
                ctx.out
                    .note(format!("warning: cannot tell who is online: {e}"));
                None
            }
        }
    } else {
        None
    };
    let users = ctx.client.users().await?;
    let contacts = ctx.client.contacts().await?;
    let mut online_count = 0;
    for user in &users {
        let issues = quickchat_core::names::check_username(
            &user.username,
            contacts
                .iter()
                .filter(|(id, _)| **id != user.id)
                .map(|(_, name)| name.as_str()),
        );
        let is_online = online
            .as_ref()
            .map(|list| list.iter().any(|o| o.user_id == user.id));
        online_count += usize::from(is_online == Some(true));
        ctx.out.json(&json!({
            "id": user.id,
            "username": user.username,
            "avatar": user.avatar,
            "lastSeen": user.last_seen,
            "online": is_online,
            "nameIssues": issues,
        }))?;
    }
    match online {
        Some(_) => ctx.out.note(format!(
            "{}, {online_count} online.",
            count(users.len() as u64, "user")
        )),
        None => ctx
            .out
            .note(format!("{}.", count(users.len() as u64, "user"))),
    }
    Ok(())
}
