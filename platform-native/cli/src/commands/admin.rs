//! `admin …` (the backend checks that the caller has the `admin` role).

use crate::cli::{AdminCommand, OnOff};
use crate::error::CliError;
use crate::output::count;
use crate::resolve;
use crate::session::Ctx;

/// Runs one `admin` command.
pub(super) async fn run(ctx: &Ctx, command: AdminCommand) -> Result<(), CliError> {
    match command {
        AdminCommand::Users => {
            let users = ctx.client.admin_users().await?;
            for user in &users {
                ctx.out.json(user)?;
            }
            ctx.out
                .note(format!("{}.", count(users.len() as u64, "user")));
        }
        AdminCommand::Enable { user } => {
            let user = resolve::user(ctx, &user).await?;
            ctx.out
                .json(&ctx.client.set_user_active(&user.id, true).await?)?;
            ctx.out.note(format!("Enabled {}.", user.username));
        }
        AdminCommand::Disable { user } => {
            let user = resolve::user(ctx, &user).await?;
            ctx.out
                .json(&ctx.client.set_user_active(&user.id, false).await?)?;
            ctx.out.note(format!("Disabled {}.", user.username));
        }
        AdminCommand::Images { user, allowed } => {
            let user = resolve::user(ctx, &user).await?;
            let allowed = allowed == OnOff::On;
            ctx.out
                .json(&ctx.client.set_image_permission(&user.id, allowed).await?)?;
            ctx.out.note(format!(
                "{} may {}send images.",
                user.username,
                if allowed { "" } else { "no longer " }
            ));
        }
        AdminCommand::Role { user, role } => {
            let user = resolve::user(ctx, &user).await?;
            ctx.out
                .json(&ctx.client.set_user_role(&user.id, role.as_str()).await?)?;
            ctx.out
                .note(format!("{} is now {}.", user.username, role.as_str()));
        }
    }
    Ok(())
}
