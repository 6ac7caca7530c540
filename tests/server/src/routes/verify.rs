//! Key verification records (JWT): which fingerprint the caller verified for a peer.

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::require_jwt;
use crate::clock::now_ms;
use crate::db::verification::{self, Verification};
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, ok, parse_json};
use crate::json::json_object;
use crate::state::AppState;

/// `POST /api/verify-key`: records (or replaces) a verification; the method defaults to
/// `manual`.
pub(crate) async fn record(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let claims = require_jwt(&headers, &state.jwt)?;
    let body = parse_json(&body)?;
    let (Some(verified), Some(fingerprint)) = (
        body.str_field("verifiedUserId"),
        body.str_field("verifiedFingerprint"),
    ) else {
        return Err(ApiError::BadRequest("Missing required fields"));
    };
    let verified = verified.to_owned();
    let record = Verification {
        fingerprint: fingerprint.to_owned(),
        verified_at: now_ms(),
        method: body
            .str_field("verificationMethod")
            .unwrap_or("manual")
            .to_owned(),
    };
    state
        .db
        .call(move |c| {
            verification::upsert(c, &claims.user_id, &verified, &record).map_err(ApiError::from)
        })
        .await?;
    ok(json_object! { "success" => true })
}

/// `GET /api/verify-key/{id}`: `{verified: false}` or `{verified: true, fingerprint,
/// verifiedAt, method}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(verified): Path<String>,
) -> ApiResult {
    let claims = require_jwt(&headers, &state.jwt)?;
    let record = state
        .db
        .call(move |c| verification::get(c, &claims.user_id, &verified).map_err(ApiError::from))
        .await?;
    ok(match record {
        None => json_object! { "verified" => false },
        Some(r) => json_object! {
            "verified" => true,
            "fingerprint" => r.fingerprint,
            "verifiedAt" => r.verified_at,
            "method" => r.method,
        },
    })
}

/// `DELETE /api/verify-key/{id}`: forgets the verification.
pub(crate) async fn forget(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(verified): Path<String>,
) -> ApiResult {
    let claims = require_jwt(&headers, &state.jwt)?;
    state
        .db
        .call(move |c| verification::delete(c, &claims.user_id, &verified).map_err(ApiError::from))
        .await?;
    ok(json_object! { "success" => true })
}
