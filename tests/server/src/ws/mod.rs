//! The WebSocket endpoint `/ws` (PROTOCOL §7).

mod connection;
pub(crate) mod frames;
pub(crate) mod handlers;
pub(crate) mod hub;

use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::plain_text;
use crate::state::AppState;

/// Upgrades `/ws` requests; anything else gets 426 `Expected WebSocket`, as on the backend.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return plain_text(StatusCode::UPGRADE_REQUIRED, "Expected WebSocket");
    };
    let tracker = state.connections.clone();
    upgrade
        .max_message_size(state.max_ws_message_bytes)
        .max_frame_size(state.max_ws_message_bytes)
        .on_upgrade(move |socket| tracker.track_future(connection::run(socket, state)))
}
