//! export, import, reactivate: moving the account to another place.

use std::io::Write;
use std::path::Path;

use quickchat::{ExportOptions, ImportOptions};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::ArchivePassphraseArg;
use crate::error::CliError;
use crate::session::Ctx;

fn passphrase(arg: ArchivePassphraseArg) -> Result<Zeroizing<String>, CliError> {
    arg.file_passphrase
        .filter(|p| !p.is_empty())
        .map(|p| Zeroizing::new(p.expose().to_string()))
        .ok_or(CliError::Missing(
            "no passphrase for the account file: pass --file-passphrase or set QUICKCHAT_FILE_PASSPHRASE",
        ))
}

/// `export --out FILE [--history]`.
pub(super) async fn export(
    ctx: &Ctx,
    out: &Path,
    history: bool,
    arg: ArchivePassphraseArg,
) -> Result<(), CliError> {
    let passphrase = passphrase(arg)?;
    // Made before the export, so a path that cannot be written leaves the store unmarked;
    // never over an existing file (it may be the only copy of another account).
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|source| CliError::WriteFile {
            path: out.to_path_buf(),
            source,
        })?;
    let options = ExportOptions {
        history,
        ..ExportOptions::default()
    };
    let bytes = match ctx.client.export_account(&passphrase, options).await {
        Ok(bytes) => bytes,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(out);
            return Err(e.into());
        }
    };
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| CliError::WriteFile {
            path: out.to_path_buf(),
            source,
        })?;
    ctx.out.json(
        &json!({ "file": out.display().to_string(), "bytes": bytes.len(), "history": history }),
    )?;
    ctx.out.note(format!(
        "Exported the account to {}. This store is now marked moved: it no longer connects \
         or sends (`quickchat reactivate` undoes that, only if the account is not used elsewhere).",
        out.display()
    ));
    Ok(())
}

/// `import FILE [--replace]`.
pub(super) async fn import(
    ctx: &Ctx,
    path: &Path,
    replace: bool,
    arg: ArchivePassphraseArg,
) -> Result<(), CliError> {
    let passphrase = passphrase(arg)?;
    let bytes = std::fs::read(path).map_err(|source| CliError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let imported = ctx
        .client
        .import_account(&bytes, &passphrase, ImportOptions { replace })
        .await?;
    let user = ctx.client.current_user();
    ctx.out.json(&json!({
        "userId": imported.user_id(),
        "username": user.as_ref().map(|u| u.username.clone()),
        "sessions": imported.sessions.len(),
        "messages": imported.messages.len(),
        "loggedIn": user.is_some(),
    }))?;
    ctx.out.note(format!(
        "Imported the account of user {} with {} peers' sessions{}.",
        imported.user_id(),
        imported.sessions.len(),
        if user.is_some() {
            ""
        } else {
            "; log in to use it"
        }
    ));
    Ok(())
}

/// `reactivate`.
pub(super) async fn reactivate(ctx: &Ctx) -> Result<(), CliError> {
    ctx.client.reactivate_account().await?;
    ctx.client.restore().await?;
    ctx.out.json(&json!({ "reactivated": true }))?;
    ctx.out
        .note("This store connects and sends again; make sure the account is not used elsewhere.");
    Ok(())
}
