//! One-to-one message endpoints (no authentication): history, storing, batch status.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};

use crate::clock::now_ms;
use crate::db::{self, messages, messages::Message};
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, created, ok, parse_json};
use crate::json::{Json, json_object};
use crate::state::AppState;

/// The backend refuses batch status updates of more messages than this.
const MAX_STATUS_BATCH: usize = 100;

/// `GET /api/messages/{peerId}?user={me}`: every message between the two, oldest first.
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(peer): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let Some(me) = query.get("user").filter(|u| !u.is_empty()).cloned() else {
        return Err(ApiError::BadRequest("Missing user parameters"));
    };
    let rows = state
        .db
        .call(move |c| messages::conversation(c, &me, &peer).map_err(ApiError::from))
        .await?;
    let delay = state.hooks.history_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    ok(Json::Array(rows.iter().map(message_json).collect()))
}

/// `{id, fromUser, toUser, content, timestamp, status, readAt, type, imageData, encrypted}`.
fn message_json(m: &Message) -> Json {
    json_object! {
        "id" => &m.id,
        "fromUser" => &m.from_user,
        "toUser" => &m.to_user,
        "content" => &m.content,
        "timestamp" => m.timestamp,
        "status" => &m.status,
        "readAt" => m.read_at,
        "type" => &m.kind,
        "imageData" => m.image_data.clone(),
        "encrypted" => i64::from(m.encrypted),
    }
}

/// `POST /api/messages`: stores a message as given; 201.
pub(crate) async fn store(State(state): State<AppState>, RawBody(body): RawBody) -> ApiResult {
    let body = parse_json(&body)?;
    let (Some(id), Some(from_user), Some(to_user), Some(content)) = (
        body.str_field("id"),
        body.str_field("fromUser"),
        body.str_field("toUser"),
        body.get("content").and_then(Json::as_str),
    ) else {
        return Err(ApiError::BadRequest("Missing required fields"));
    };
    let message = Message {
        id: id.to_owned(),
        from_user: from_user.to_owned(),
        to_user: to_user.to_owned(),
        content: content.to_owned(),
        timestamp: body
            .get("timestamp")
            .and_then(Json::as_i64)
            .unwrap_or_else(now_ms),
        status: body.str_field("status").unwrap_or("sent").to_owned(),
        read_at: None,
        kind: "text".to_owned(),
        image_data: None,
        encrypted: false,
    };
    state
        .db
        .call(move |c| match messages::insert(c, &message) {
            Ok(()) => Ok(()),
            Err(e) if db::is_unique_violation(&e) => Err(ApiError::Internal(
                "UNIQUE constraint failed: messages.id".into(),
            )),
            Err(e) => Err(e.into()),
        })
        .await?;
    created(json_object! { "success" => true })
}

/// `PUT /api/messages/status`: `{messageIds (1..100), status}` → `{success, updated}`;
/// `read` also sets `readAt`.
pub(crate) async fn set_status(State(state): State<AppState>, RawBody(body): RawBody) -> ApiResult {
    let body = parse_json(&body)?;
    let ids = match body.get("messageIds").and_then(Json::as_array) {
        Some(ids) if !ids.is_empty() => ids,
        _ => return Err(ApiError::BadRequest("No message IDs provided")),
    };
    if ids.len() > MAX_STATUS_BATCH {
        return Err(ApiError::BadRequest("Too many message IDs (max 100)"));
    }
    let Some(status) = body.str_field("status") else {
        return Err(ApiError::BadRequest("Status is required"));
    };
    let ids: Vec<String> = ids
        .iter()
        .filter_map(Json::as_str)
        .map(str::to_owned)
        .collect();
    let status = status.to_owned();
    let now = now_ms();
    let updated = state
        .db
        .call(move |c| messages::set_status_many(c, &ids, &status, now).map_err(ApiError::from))
        .await?;
    ok(json_object! { "success" => true, "updated" => updated })
}
