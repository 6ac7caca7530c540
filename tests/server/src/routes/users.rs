//! `GET /api/users` (no authentication): every user, oldest account first.

use axum::extract::State;

use crate::db::users;
use crate::error::ApiError;
use crate::http::{ApiResult, ok};
use crate::json::{Json, json_object};
use crate::state::AppState;

/// `[{id, username, avatar, lastSeen}]`.
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult {
    let all = state
        .db
        .call(|c| users::all_in_creation_order(c).map_err(ApiError::from))
        .await?;
    ok(Json::Array(
        all.into_iter()
            .map(|u| {
                json_object! {
                    "id" => u.id,
                    "username" => u.username,
                    "avatar" => u.avatar,
                    "lastSeen" => u.last_seen,
                }
            })
            .collect(),
    ))
}
