//! fingerprint, verify, unverify, verification, accept-identity, reset-e2ee.

use quickchat_core::client::PeerVerification;
use quickchat_core::keys::Fingerprint;
use quickchat_core::protocol::rest::UserSummary;
use serde_json::json;

use crate::cli::VerifyMethod;
use crate::error::CliError;
use crate::resolve;
use crate::session::Ctx;

/// `fingerprint [peer]`: the grouped form on stdout.
pub(super) async fn fingerprint(ctx: &Ctx, peer: Option<&str>) -> Result<(), CliError> {
    match peer {
        None => {
            let fingerprint = ctx.client.fingerprint().await?;
            let who = ctx
                .client
                .current_user()
                .map_or_else(|| "this device".to_string(), |u| u.username);
            ctx.out.note(format!("Your fingerprint ({who}):"));
            ctx.out.line(&fingerprint.grouped())
        }
        Some(peer) => {
            let user = resolve::user(ctx, peer).await?;
            let fingerprint = ctx.client.peer_fingerprint(&user.id).await?;
            ctx.out.note(format!("{}'s fingerprint:", user.username));
            ctx.out.line(&fingerprint.grouped())
        }
    }
}

/// `verify <peer>`.
pub(super) async fn verify(
    ctx: &Ctx,
    peer: &str,
    method: VerifyMethod,
    compared: Option<&str>,
) -> Result<(), CliError> {
    let user = resolve::user(ctx, peer).await?;
    if let Some(compared) = compared {
        let compared = Fingerprint::parse(compared)
            .map_err(|e| CliError::Invalid(format!("the fingerprint given is malformed: {e}")))?;
        let current = ctx.client.peer_fingerprint(&user.id).await?;
        if compared != current {
            return Err(CliError::Invalid(format!(
                "the fingerprint given does not match {}'s current one ({}): not verified",
                user.username,
                current.grouped()
            )));
        }
    }
    ctx.client
        .verify_peer(&user.id, Some(method.as_str()))
        .await?;
    let verification = ctx.client.verification(&user.id).await?;
    ctx.out.json(&verification_json(&user, &verification))?;
    ctx.out.note(format!(
        "Verified {} ({}).",
        user.username,
        verification.current_fingerprint.grouped()
    ));
    Ok(())
}

/// `unverify <peer>`.
pub(super) async fn unverify(ctx: &Ctx, peer: &str) -> Result<(), CliError> {
    let user = resolve::user(ctx, peer).await?;
    ctx.client.unverify_peer(&user.id).await?;
    ctx.out
        .json(&json!({ "userId": user.id, "username": user.username, "verified": false }))?;
    ctx.out
        .note(format!("{} is no longer verified.", user.username));
    Ok(())
}

/// `verification <peer>`.
pub(super) async fn verification(ctx: &Ctx, peer: &str) -> Result<(), CliError> {
    let user = resolve::user(ctx, peer).await?;
    let verification = ctx.client.verification(&user.id).await?;
    ctx.out.json(&verification_json(&user, &verification))?;
    let state = if verification.change_pending {
        "KEY CHANGED since verification: sending is blocked until you verify again or accept it"
    } else if verification.verified {
        "verified"
    } else if verification.verified_fingerprint.is_some() {
        "not verified (the verified key is not the current one)"
    } else {
        "not verified"
    };
    ctx.out.note(format!(
        "{}: {state}\n  current fingerprint: {}",
        user.username,
        verification.current_fingerprint.grouped()
    ));
    Ok(())
}

/// The JSON form of a verification.
pub(super) fn verification_json(user: &UserSummary, v: &PeerVerification) -> serde_json::Value {
    let verified_fingerprint = v
        .verified_fingerprint
        .as_deref()
        .map(|f| Fingerprint::parse(f).map_or_else(|_| f.to_string(), |f| f.grouped()));
    json!({
        "userId": user.id,
        "username": user.username,
        "fingerprint": v.current_fingerprint.grouped(),
        "verified": v.verified,
        "verifiedFingerprint": verified_fingerprint,
        "verifiedAt": v.verified_at,
        "method": v.method,
        "changePending": v.change_pending,
    })
}

/// `accept-identity <peer>`.
pub(super) async fn accept_identity(ctx: &Ctx, peer: &str) -> Result<(), CliError> {
    let user = resolve::user(ctx, peer).await?;
    ctx.client.accept_identity(&user.id).await?;
    let fingerprint = ctx.client.peer_fingerprint(&user.id).await?;
    ctx.out.json(&json!({
        "userId": user.id,
        "username": user.username,
        "fingerprint": fingerprint.grouped(),
        "accepted": true,
    }))?;
    ctx.out.note(format!(
        "Accepted {}'s current key ({}) without verifying it.",
        user.username,
        fingerprint.grouped()
    ));
    Ok(())
}

/// `reset-e2ee --yes`.
pub(super) async fn reset_e2ee(ctx: &Ctx, confirmed: bool) -> Result<(), CliError> {
    if !confirmed {
        return Err(CliError::Invalid(
            "reset-e2ee throws away this device's keys and sessions (peers will see a new \
             identity and must verify you again): add --yes to confirm"
                .into(),
        ));
    }
    ctx.client.reset_e2ee().await?;
    let fingerprint = ctx.client.fingerprint().await?;
    ctx.out
        .json(&json!({ "reset": true, "fingerprint": fingerprint.grouped() }))?;
    ctx.out.note(format!(
        "New keys published; your new fingerprint is {}.",
        fingerprint.grouped()
    ));
    Ok(())
}
