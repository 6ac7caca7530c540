//! Group endpoints (raw user id): create, list, details, update, history; plus the rules
//! and system messages that the member and invite endpoints share.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rusqlite::Connection;

use crate::auth::require_raw_user_id;
use crate::clock::now_ms;
use crate::db::groups::{self, Group, GroupMessage};
use crate::db::users;
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, created, ok, parse_json};
use crate::json::{Json, JsonObject, json_map, json_object};
use crate::routes::new_id;
use crate::state::AppState;

/// Messages returned by `GET /groups/{id}/messages` without a `limit`.
const DEFAULT_HISTORY_LIMIT: i64 = 50;

/// `{messagePermission: "everyone", metadataPermission: "admins_only", joinApproval: false,
/// maxMembers: 1024}`.
fn default_settings() -> JsonObject {
    json_map! {
        "messagePermission" => "everyone",
        "metadataPermission" => "admins_only",
        "joinApproval" => false,
        "maxMembers" => 1024i64,
    }
}

/// A group's stored settings, parsed (defaults if the text is damaged).
pub(crate) fn parse_settings(text: &str) -> JsonObject {
    match Json::parse(text.as_bytes()) {
        Ok(Json::Object(settings)) => settings,
        _ => default_settings(),
    }
}

/// `base` with the members of `changes` written over it (new keys at the end).
fn merge_settings(mut base: JsonObject, changes: Option<&Json>) -> JsonObject {
    if let Some(Json::Object(changes)) = changes {
        for (key, value) in changes {
            base.insert(key.clone(), value.clone());
        }
    }
    base
}

/// Whether a group role may manage the group (add, remove, invite, edit).
pub(crate) fn is_manager(role: &str) -> bool {
    role == "owner" || role == "admin"
}

/// The caller's role in the group, or 403 `Not a member of this group`.
pub(crate) fn require_member(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
) -> Result<String, ApiError> {
    groups::role_of(conn, group_id, user_id)?
        .ok_or(ApiError::Forbidden("Not a member of this group"))
}

/// A user's name for a system message; an unknown id stands for itself.
pub(crate) fn display_name(conn: &Connection, user_id: &str) -> rusqlite::Result<String> {
    Ok(users::username_of(conn, user_id)?.unwrap_or_else(|| user_id.to_owned()))
}

/// Writes a `type: "system"` message into a group's history.
pub(crate) fn system_message(
    conn: &Connection,
    group_id: &str,
    from_user: &str,
    content: String,
    event: &str,
    metadata: Option<Json>,
    now: i64,
) -> rusqlite::Result<()> {
    groups::insert_message(
        conn,
        &GroupMessage {
            id: new_id(),
            group_id: group_id.to_owned(),
            from_user: from_user.to_owned(),
            content,
            timestamp: now,
            kind: "system".to_owned(),
            image_data: None,
            system_event: Some(event.to_owned()),
            metadata: metadata.map(|m| m.to_text()),
            from_username: None,
        },
    )
}

/// The group's columns in the backend's order, `settings` parsed.
fn group_fields(g: &Group) -> JsonObject {
    json_map! {
        "id" => &g.id,
        "name" => &g.name,
        "description" => g.description.clone(),
        "avatar" => g.avatar.clone(),
        "owner_id" => &g.owner_id,
        "created_at" => g.created_at,
        "updated_at" => g.updated_at,
        "settings" => parse_settings(&g.settings),
    }
}

/// An optional text field: absent → `None`, present → its string or null.
fn optional_text(body: &Json, key: &str) -> Option<Option<String>> {
    body.get(key).map(|v| v.as_str().map(str::to_owned))
}

/// `POST /api/groups`: 201 `{id, name, owner_id, created_at, settings}`.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let owner = require_raw_user_id(&headers)?;
    let body = parse_json(&body)?;
    let name = body
        .get("name")
        .and_then(Json::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::BadRequest("Group name is required"));
    }
    let member_ids: Vec<String> = body
        .get("memberIds")
        .and_then(Json::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let settings = merge_settings(default_settings(), body.get("settings"));
    let now = now_ms();
    let group = Group {
        id: new_id(),
        name: name.to_owned(),
        description: optional_text(&body, "description").flatten(),
        avatar: optional_text(&body, "avatar").flatten(),
        owner_id: owner,
        created_at: now,
        updated_at: now,
        settings: Json::Object(settings.clone()).to_text(),
    };
    let group = state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            groups::insert_group(&tx, &group)?;
            groups::add_member(
                &tx,
                &group.id,
                &group.owner_id,
                "owner",
                now,
                &group.owner_id,
            )?;
            for member in &member_ids {
                let known = users::username_of(&tx, member)?.is_some();
                let already = groups::role_of(&tx, &group.id, member)?.is_some();
                if known && !already {
                    groups::add_member(&tx, &group.id, member, "member", now, &group.owner_id)?;
                }
            }
            let content = "Group created".to_owned();
            system_message(
                &tx,
                &group.id,
                &group.owner_id,
                content,
                "group_created",
                None,
                now,
            )?;
            tx.commit()?;
            Ok::<_, ApiError>(group)
        })
        .await?;
    created(json_object! {
        "id" => group.id,
        "name" => group.name,
        "owner_id" => group.owner_id,
        "created_at" => group.created_at,
        "settings" => settings,
    })
}

/// `GET /api/groups`: the caller's groups with `role` and `joined_at`.
pub(crate) async fn list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let user = require_raw_user_id(&headers)?;
    let memberships = state
        .db
        .call(move |c| groups::groups_of(c, &user).map_err(ApiError::from))
        .await?;
    ok(Json::Array(
        memberships
            .into_iter()
            .map(|m| {
                let mut fields = group_fields(&m.group);
                fields.insert("role".into(), m.role.into());
                fields.insert("joined_at".into(), m.joined_at.into());
                Json::Object(fields)
            })
            .collect(),
    ))
}

/// `GET /api/groups/{id}`: the group and the caller's `userRole`; 403 for non-members.
pub(crate) async fn details(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
) -> ApiResult {
    let user = require_raw_user_id(&headers)?;
    let (group, role) = state
        .db
        .call(move |c| {
            let role = require_member(c, &group_id, &user)?;
            let group =
                groups::group(c, &group_id)?.ok_or(ApiError::NotFound("Group not found"))?;
            Ok::<_, ApiError>((group, role))
        })
        .await?;
    let mut fields = group_fields(&group);
    fields.insert("userRole".into(), role.into());
    ok(Json::Object(fields))
}

/// `PUT /api/groups/{id}`: edits name, description, avatar, settings; with
/// `metadataPermission: "admins_only"` only admins and the owner may.
pub(crate) async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult {
    let user = require_raw_user_id(&headers)?;
    let body = parse_json(&body)?;
    let name = match body.get("name") {
        None => None,
        Some(v) => match v.as_str().map(str::trim) {
            Some(name) if !name.is_empty() => Some(name.to_owned()),
            _ => return Err(ApiError::BadRequest("Group name is required")),
        },
    };
    let description = optional_text(&body, "description");
    let avatar = optional_text(&body, "avatar");
    let new_settings = body.get("settings").cloned();
    let now = now_ms();
    state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let role = require_member(&tx, &group_id, &user)?;
            let mut group =
                groups::group(&tx, &group_id)?.ok_or(ApiError::NotFound("Group not found"))?;
            let settings = parse_settings(&group.settings);
            let admins_only = settings
                .get("metadataPermission")
                .and_then(Json::as_str)
                .is_some_and(|p| p == "admins_only");
            if admins_only && !is_manager(&role) {
                return Err(ApiError::Forbidden("Only admins can update group metadata"));
            }
            if let Some(name) = name {
                group.name = name;
            }
            if let Some(description) = description {
                group.description = description;
            }
            if let Some(avatar) = avatar {
                group.avatar = avatar;
            }
            group.settings =
                Json::Object(merge_settings(settings, new_settings.as_ref())).to_text();
            group.updated_at = now;
            groups::update_group(&tx, &group)?;
            let content = "Group metadata updated".to_owned();
            system_message(
                &tx,
                &group_id,
                &user,
                content,
                "metadata_updated",
                None,
                now,
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    ok(json_object! { "success" => true })
}

/// `GET /api/groups/{id}/messages?limit=&before=`: the latest messages since the caller
/// joined, oldest first, `metadata` parsed.
pub(crate) async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let user = require_raw_user_id(&headers)?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_HISTORY_LIMIT);
    let before = query.get("before").and_then(|b| b.parse::<i64>().ok());
    let rows = state
        .db
        .call(move |c| {
            let joined = groups::joined_at(c, &group_id, &user)?
                .ok_or(ApiError::Forbidden("Not a member of this group"))?;
            Ok::<_, ApiError>(groups::messages(c, &group_id, joined, before, limit)?)
        })
        .await?;
    ok(Json::Array(
        rows.into_iter()
            .map(|m| {
                let metadata = m
                    .metadata
                    .as_deref()
                    .map(|text| Json::parse(text.as_bytes()).unwrap_or_else(|_| text.into()));
                json_object! {
                    "id" => m.id,
                    "group_id" => m.group_id,
                    "from_user" => m.from_user,
                    "content" => m.content,
                    "timestamp" => m.timestamp,
                    "type" => m.kind,
                    "imageData" => m.image_data,
                    "system_event" => m.system_event,
                    "metadata" => metadata,
                    "from_username" => m.from_username,
                }
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_are_written_in_the_backend_order() {
        assert_eq!(
            Json::Object(default_settings()).to_text(),
            r#"{"messagePermission":"everyone","metadataPermission":"admins_only","joinApproval":false,"maxMembers":1024}"#
        );
    }

    #[test]
    fn merged_settings_keep_existing_positions() {
        let changes =
            Json::parse(br#"{"maxMembers":50,"extra":1,"messagePermission":"admins_only"}"#)
                .expect("json");
        let merged = merge_settings(default_settings(), Some(&changes));
        assert_eq!(
            Json::Object(merged).to_text(),
            r#"{"messagePermission":"admins_only","metadataPermission":"admins_only","joinApproval":false,"maxMembers":50,"extra":1}"#
        );
    }

    #[test]
    fn damaged_settings_fall_back_to_defaults() {
        assert_eq!(parse_settings("not json"), default_settings());
        assert_eq!(parse_settings("[1]"), default_settings());
    }
}
