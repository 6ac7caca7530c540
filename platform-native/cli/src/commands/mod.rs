//! Every command, run against an opened client.

mod account;
mod admin;
mod groups;
mod keys;
pub(crate) mod listen;
mod messages;
mod moving;
mod receipts;

use crate::cli::Command;
use crate::error::CliError;
use crate::session::Ctx;

/// Runs one command.
pub(crate) async fn run(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    let open_to_all = matches!(
        command,
        Command::Register { .. }
            | Command::Login { .. }
            | Command::Logout
            | Command::Users { .. }
            | Command::Export { .. }
            | Command::Import { .. }
            | Command::Reactivate
    );
    if !open_to_all && ctx.client.current_user().is_none() {
        if let Some(moved_at) = ctx.client.moved_at().await? {
            return Err(quickchat::ClientError::AccountMoved { moved_at }.into());
        }
        return Err(quickchat::ClientError::NotLoggedIn.into());
    }
    match command {
        Command::Register {
            username,
            password,
            avatar,
        } => account::register(ctx, &username, password, avatar.as_deref()).await,
        Command::Login {
            username,
            password,
            replace_keys,
        } => account::login(ctx, &username, password, replace_keys).await,
        Command::Logout => account::logout(ctx).await,
        Command::Export {
            out,
            history,
            passphrase,
        } => moving::export(ctx, &out, history, passphrase).await,
        Command::Import {
            file,
            replace,
            passphrase,
        } => moving::import(ctx, &file, replace, passphrase).await,
        Command::Reactivate => moving::reactivate(ctx).await,
        Command::Whoami => account::whoami(ctx).await,
        Command::Users { no_presence } => account::users(ctx, !no_presence).await,
        Command::Send {
            peer,
            text,
            image,
            plaintext,
        } => {
            let content = match (image, text) {
                (Some(path), _) => messages::Content::Image(path),
                (None, Some(text)) if plaintext => messages::Content::Plaintext(text),
                (None, Some(text)) => messages::Content::Text(text),
                (None, None) => {
                    return Err(CliError::Invalid(
                        "nothing to send: give a text or --image".into(),
                    ));
                }
            };
            messages::send(ctx, &peer, content).await
        }
        Command::Read { peer, ids } => receipts::read(ctx, &peer, &ids).await,
        Command::Typing { peer, state } => receipts::typing(ctx, &peer, state).await,
        Command::Listen {
            count,
            timeout,
            types,
            mark_read,
        } => listen::listen(ctx, count, timeout, &types, mark_read).await,
        Command::History {
            target,
            before,
            limit,
            search,
            group,
            local,
        } => {
            let query = messages::HistoryQuery {
                before,
                limit,
                search: search.as_deref(),
                local,
            };
            messages::history(ctx, &target, group, &query).await
        }
        Command::Fingerprint { peer } => keys::fingerprint(ctx, peer.as_deref()).await,
        Command::Verify {
            peer,
            method,
            fingerprint,
        } => keys::verify(ctx, &peer, method, fingerprint.as_deref()).await,
        Command::Unverify { peer } => keys::unverify(ctx, &peer).await,
        Command::Verification { peer } => keys::verification(ctx, &peer).await,
        Command::AcceptIdentity { peer } => keys::accept_identity(ctx, &peer).await,
        Command::ResetE2ee { yes } => keys::reset_e2ee(ctx, yes).await,
        Command::Groups(command) => groups::run(ctx, command).await,
        Command::Admin(command) => admin::run(ctx, command).await,
        Command::Daemon { .. } => Err(CliError::Invalid(
            "the daemon cannot be started from inside a command".into(),
        )),
    }
}

/// A user's name, for notes: the name when known, else the id.
fn name_of(users: &[quickchat_core::protocol::rest::UserSummary], id: &str) -> String {
    users
        .iter()
        .find(|u| u.id == id)
        .map_or_else(|| id.to_string(), |u| u.username.clone())
}
