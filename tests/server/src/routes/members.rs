//! Group membership endpoints (raw user id): list, add, remove, change role, leave.

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::require_raw_user_id;
use crate::clock::now_ms;
use crate::db::{groups, users};
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, ok, parse_json};
use crate::json::{Json, json_object};
use crate::routes::groups::{display_name, is_manager, require_member, system_message};
use crate::state::AppState;

/// `GET /api/groups/{id}/members`: members with `username` and `avatar`.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
) -> ApiResult {
    let user = require_raw_user_id(&headers)?;
    let members = state
        .db
        .call(move |c| {
            require_member(c, &group_id, &user)?;
            Ok::<_, ApiError>(groups::members(c, &group_id)?)
        })
        .await?;
    ok(Json::Array(
        members
            .into_iter()
            .map(|m| {
                json_object! {
                    "group_id" => m.group_id,
                    "user_id" => m.user_id,
                    "role" => m.role,
                    "joined_at" => m.joined_at,
                    "added_by" => m.added_by,
                    "username" => m.username,
                    "avatar" => m.avatar,
                }
            })
            .collect(),
    ))
}

/// `POST /api/groups/{id}/members` (admins and owner): `{userIds}` → `{success, added}`;
/// existing members and unknown users are skipped.
pub(crate) async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult {
    let caller = require_raw_user_id(&headers)?;
    let body = parse_json(&body)?;
    let Some(user_ids) = body.get("userIds").and_then(Json::as_array) else {
        return Err(ApiError::BadRequest("User IDs are required"));
    };
    let user_ids: Vec<String> = user_ids
        .iter()
        .filter_map(Json::as_str)
        .map(str::to_owned)
        .collect();
    let now = now_ms();
    let added = state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let role = groups::role_of(&tx, &group_id, &caller)?;
            if !role.as_deref().is_some_and(is_manager) {
                return Err(ApiError::Forbidden("Only admins can add members"));
            }
            let mut added = Vec::new();
            for user_id in user_ids {
                if groups::role_of(&tx, &group_id, &user_id)?.is_some() {
                    continue;
                }
                let Some(name) = users::username_of(&tx, &user_id)? else {
                    continue;
                };
                groups::add_member(&tx, &group_id, &user_id, "member", now, &caller)?;
                system_message(
                    &tx,
                    &group_id,
                    &caller,
                    format!("{name} was added to the group"),
                    "member_added",
                    Some(json_object! { "added_user_id" => &user_id }),
                    now,
                )?;
                added.push(Json::from(user_id));
            }
            tx.commit()?;
            Ok(added)
        })
        .await?;
    ok(json_object! { "success" => true, "added" => added })
}

/// `DELETE /api/groups/{id}/members/{uid}` (admins and owner); the owner cannot be removed.
pub(crate) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((group_id, target)): Path<(String, String)>,
) -> ApiResult {
    let caller = require_raw_user_id(&headers)?;
    let now = now_ms();
    state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let role = groups::role_of(&tx, &group_id, &caller)?;
            if !role.as_deref().is_some_and(is_manager) {
                return Err(ApiError::Forbidden("Only admins can remove members"));
            }
            let target_role = groups::role_of(&tx, &group_id, &target)?
                .ok_or(ApiError::NotFound("User is not a member of this group"))?;
            if target_role == "owner" {
                return Err(ApiError::BadRequest("Cannot remove group owner"));
            }
            groups::remove_member(&tx, &group_id, &target)?;
            let name = display_name(&tx, &target)?;
            system_message(
                &tx,
                &group_id,
                &caller,
                format!("{name} was removed from the group"),
                "member_removed",
                Some(json_object! { "removed_user_id" => &target }),
                now,
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    ok(json_object! { "success" => true })
}

/// `PUT /api/groups/{id}/members/{uid}/role` (owner only): `{role: "admin" | "member"}`.
pub(crate) async fn set_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((group_id, target)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult {
    let caller = require_raw_user_id(&headers)?;
    let body = parse_json(&body)?;
    let new_role = body
        .get("role")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    let now = now_ms();
    state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            if groups::role_of(&tx, &group_id, &caller)?.as_deref() != Some("owner") {
                return Err(ApiError::Forbidden(
                    "Only group owner can change member roles",
                ));
            }
            let (event, content) = match new_role.as_str() {
                "admin" => ("admin_promoted", "was promoted to admin"),
                "member" => ("admin_demoted", "was demoted to member"),
                _ => return Err(ApiError::BadRequest("Invalid role")),
            };
            let target_role = groups::role_of(&tx, &group_id, &target)?
                .ok_or(ApiError::NotFound("User is not a member of this group"))?;
            if target_role == "owner" {
                return Err(ApiError::BadRequest("Cannot change the owner's role"));
            }
            groups::set_role(&tx, &group_id, &target, &new_role)?;
            let name = display_name(&tx, &target)?;
            system_message(
                &tx,
                &group_id,
                &caller,
                format!("{name} {content}"),
                event,
                Some(json_object! { "target_user_id" => &target, "new_role" => &new_role }),
                now,
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    ok(json_object! { "success" => true })
}

/// `POST /api/groups/{id}/leave`; the owner cannot leave.
pub(crate) async fn leave(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
) -> ApiResult {
    let caller = require_raw_user_id(&headers)?;
    let now = now_ms();
    state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            if require_member(&tx, &group_id, &caller)? == "owner" {
                return Err(ApiError::BadRequest(
                    "Group owner cannot leave. Transfer ownership or delete the group.",
                ));
            }
            groups::remove_member(&tx, &group_id, &caller)?;
            let name = display_name(&tx, &caller)?;
            system_message(
                &tx,
                &group_id,
                &caller,
                format!("{name} left the group"),
                "member_left",
                None,
                now,
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    ok(json_object! { "success" => true })
}
