//! Admin endpoints (raw user id of a user whose role is `admin`).

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::require_raw_user_id;
use crate::clock::now_ms;
use crate::db::users;
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, ok, parse_json};
use crate::json::{Json, json_object};
use crate::state::AppState;

/// The caller's id if it names an admin: 401 without credentials, 403 otherwise (a JWT is
/// taken as an unknown user id).
async fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let id = require_raw_user_id(headers)?;
    let lookup = id.clone();
    let user = state
        .db
        .call(move |c| users::by_id(c, &lookup).map_err(ApiError::from))
        .await?;
    if user.is_some_and(|u| u.is_admin()) {
        Ok(id)
    } else {
        Err(ApiError::Forbidden("Forbidden: Admin access required"))
    }
}

/// A 0/1 flag of the body (`true`/`false` accepted too).
fn flag(body: &Json, key: &str) -> Option<bool> {
    match body.get(key)? {
        Json::Bool(b) => Some(*b),
        v => match v.as_i64()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
    }
}

/// `GET /api/admin/users`: every user, newest first, with role, flags and timestamps.
pub(crate) async fn users(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    require_admin(&state, &headers).await?;
    let all = state
        .db
        .call(|c| users::all_newest_first(c).map_err(ApiError::from))
        .await?;
    ok(Json::Array(
        all.into_iter()
            .map(|u| {
                json_object! {
                    "id" => u.id,
                    "username" => u.username,
                    "role" => u.role,
                    "is_active" => u.is_active,
                    "can_send_images" => u.can_send_images,
                    "lastSeen" => u.last_seen,
                    "created_at" => u.created_at,
                    "disabled_at" => u.disabled_at,
                    "disabled_by" => u.disabled_by,
                }
            })
            .collect(),
    ))
}

/// `PUT /api/admin/users/{id}/status`: `{is_active: 0 | 1, disabled_by?}`.
pub(crate) async fn set_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(target): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult {
    let admin = require_admin(&state, &headers).await?;
    let body = parse_json(&body)?;
    let active = flag(&body, "is_active").ok_or(ApiError::BadRequest("Invalid is_active value"))?;
    let disabled_by = body.str_field("disabled_by").map_or(admin, str::to_owned);
    let now = now_ms();
    state
        .db
        .call(move |c| {
            let (at, by) = if active {
                (None, None)
            } else {
                (Some(now), Some(disabled_by.as_str()))
            };
            users::set_active(c, &target, active, at, by).map_err(ApiError::from)
        })
        .await?;
    ok(json_object! { "success" => true })
}

/// `PUT /api/admin/users/{id}/permissions`: `{can_send_images: 0 | 1}`.
pub(crate) async fn set_permissions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(target): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult {
    require_admin(&state, &headers).await?;
    let body = parse_json(&body)?;
    let allowed = flag(&body, "can_send_images")
        .ok_or(ApiError::BadRequest("Invalid can_send_images value"))?;
    state
        .db
        .call(move |c| users::set_can_send_images(c, &target, allowed).map_err(ApiError::from))
        .await?;
    ok(json_object! { "success" => true })
}

/// `PUT /api/admin/users/{id}/role`: `{role: "user" | "admin"}`.
pub(crate) async fn set_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(target): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult {
    require_admin(&state, &headers).await?;
    let body = parse_json(&body)?;
    let role = match body.get("role").and_then(Json::as_str) {
        Some(role @ ("user" | "admin")) => role.to_owned(),
        _ => return Err(ApiError::BadRequest("Invalid role")),
    };
    state
        .db
        .call(move |c| users::set_role(c, &target, &role).map_err(ApiError::from))
        .await?;
    ok(json_object! { "success" => true })
}
