//! Group invite links (raw user id): create, join by code, revoke.

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::require_raw_user_id;
use crate::clock::now_ms;
use crate::db::groups::{self, Invite};
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, created, ok, parse_json};
use crate::json::{Json, json_object};
use crate::routes::groups::{display_name, is_manager, system_message};
use crate::routes::new_id;
use crate::state::AppState;

/// A fresh invite code: 16 lower-case hex digits.
fn new_link_code() -> String {
    let mut code = uuid::Uuid::new_v4().simple().to_string();
    code.truncate(16);
    code
}

/// `POST /api/groups/{id}/invite` (admins and owner): `{expiresIn?, maxUses?}` → 201
/// `{id, link_code, expires_at, max_uses}`.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult {
    let caller = require_raw_user_id(&headers)?;
    let body = if body.is_empty() {
        Json::Object(Default::default())
    } else {
        parse_json(&body)?
    };
    let now = now_ms();
    let positive = |key: &str| body.get(key).and_then(Json::as_i64).filter(|n| *n > 0);
    let invite = Invite {
        id: new_id(),
        group_id,
        link_code: new_link_code(),
        created_by: caller,
        created_at: now,
        expires_at: positive("expiresIn").map(|ms| now.saturating_add(ms)),
        max_uses: positive("maxUses"),
        uses: 0,
    };
    let invite = state
        .db
        .call(move |c| {
            let role = groups::role_of(c, &invite.group_id, &invite.created_by)?;
            if !role.as_deref().is_some_and(is_manager) {
                return Err(ApiError::Forbidden("Only admins can create invite links"));
            }
            groups::insert_invite(c, &invite)?;
            Ok(invite)
        })
        .await?;
    created(json_object! {
        "id" => invite.id,
        "link_code" => invite.link_code,
        "expires_at" => invite.expires_at,
        "max_uses" => invite.max_uses,
    })
}

/// `POST /api/groups/join`: `{linkCode}` → `{success, group_id}`; 404 for an unknown or
/// expired code, 400 when used up or already a member.
pub(crate) async fn join(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let caller = require_raw_user_id(&headers)?;
    let body = parse_json(&body)?;
    let Some(code) = body.str_field("linkCode").map(str::to_owned) else {
        return Err(ApiError::BadRequest("Link code is required"));
    };
    let now = now_ms();
    let group_id = state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let invite = groups::invite_by_code(&tx, &code)?
                .filter(|i| i.expires_at.is_none_or(|at| at > now))
                .ok_or(ApiError::NotFound("Invalid or expired invite link"))?;
            if invite.max_uses.is_some_and(|max| invite.uses >= max) {
                return Err(ApiError::BadRequest("Invite link has reached maximum uses"));
            }
            if groups::role_of(&tx, &invite.group_id, &caller)?.is_some() {
                return Err(ApiError::BadRequest("Already a member of this group"));
            }
            groups::add_member(
                &tx,
                &invite.group_id,
                &caller,
                "member",
                now,
                &invite.created_by,
            )?;
            groups::count_invite_use(&tx, &invite.id)?;
            let name = display_name(&tx, &caller)?;
            system_message(
                &tx,
                &invite.group_id,
                &caller,
                format!("{name} joined via invite link"),
                "member_added",
                Some(json_object! { "added_user_id" => &caller }),
                now,
            )?;
            tx.commit()?;
            Ok(invite.group_id)
        })
        .await?;
    ok(json_object! { "success" => true, "group_id" => group_id })
}

/// `DELETE /api/groups/{id}/invite/{linkId}` (admins and owner).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((group_id, invite_id)): Path<(String, String)>,
) -> ApiResult {
    let caller = require_raw_user_id(&headers)?;
    state
        .db
        .call(move |c| {
            let role = groups::role_of(c, &group_id, &caller)?;
            if !role.as_deref().is_some_and(is_manager) {
                return Err(ApiError::Forbidden("Only admins can revoke invite links"));
            }
            groups::delete_invite(c, &group_id, &invite_id)?;
            Ok(())
        })
        .await?;
    ok(json_object! { "success" => true })
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_codes_are_sixteen_hex_digits_and_differ() {
        let a = super::new_link_code();
        let b = super::new_link_code();
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
