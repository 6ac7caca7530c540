//! Prekey endpoints (JWT): upload, status, and the bundle fetch that consumes a one-time
//! prekey every time.

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use crate::auth::require_jwt;
use crate::clock::now_ms;
use crate::db::keys::{self, Identity, OneTimePrekey, SignedPrekey};
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, ok, parse_json};
use crate::json::{Json, json_object};
use crate::state::AppState;

/// The backend refuses uploads with more one-time prekeys than this.
const MAX_ONE_TIME_PREKEYS: usize = 200;

struct Upload {
    identity: Identity,
    signed: Option<SignedPrekey>,
    one_time: Vec<OneTimePrekey>,
}

fn parse_upload(body: &Json, now: i64) -> Result<Upload, ApiError> {
    let (Some(identity_key), Some(signing_key), Some(fingerprint)) = (
        body.str_field("identityKey"),
        body.str_field("signingKey"),
        body.str_field("fingerprint"),
    ) else {
        return Err(ApiError::BadRequest("Missing identity material"));
    };
    let signed = body.get("signedPrekey").filter(|v| **v != Json::Null);
    let one_time = match body.get("oneTimePrekeys") {
        None | Some(Json::Null) => &[][..],
        Some(Json::Array(items)) => &items[..],
        Some(_) => return Err(ApiError::BadRequest("Invalid one-time prekeys")),
    };
    if signed.is_none() && one_time.is_empty() {
        return Err(ApiError::BadRequest("No prekeys provided"));
    }
    if one_time.len() > MAX_ONE_TIME_PREKEYS {
        return Err(ApiError::BadRequest("Too many one-time prekeys (max 200)"));
    }
    let signed = signed
        .map(|key| {
            match (
                key.get("keyId").and_then(Json::as_i64),
                key.str_field("publicKey"),
                key.str_field("signature"),
            ) {
                (Some(key_id), Some(public_key), Some(signature)) => Ok(SignedPrekey {
                    key_id,
                    public_key: public_key.to_owned(),
                    signature: signature.to_owned(),
                    created_at: now,
                }),
                _ => Err(ApiError::BadRequest("Invalid signed prekey")),
            }
        })
        .transpose()?;
    let one_time = one_time
        .iter()
        .map(|key| {
            match (
                key.get("keyId").and_then(Json::as_i64),
                key.str_field("publicKey"),
            ) {
                (Some(key_id), Some(public_key)) => Ok(OneTimePrekey {
                    key_id,
                    public_key: public_key.to_owned(),
                }),
                _ => Err(ApiError::BadRequest("Invalid one-time prekey")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Upload {
        identity: Identity {
            identity_key: identity_key.to_owned(),
            signing_key: signing_key.to_owned(),
            fingerprint: fingerprint.to_owned(),
        },
        signed,
        one_time,
    })
}

/// `POST /api/users/prekeys`: `{success, signedPrekeyUploaded, oneTimePrekeysUploaded}`.
pub(crate) async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let claims = require_jwt(&headers, &state.jwt)?;
    let now = now_ms();
    let upload = parse_upload(&parse_json(&body)?, now)?;
    let signed_uploaded = upload.signed.is_some();
    let one_time_uploaded = upload.one_time.len();
    state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            keys::upsert_identity(&tx, &claims.user_id, &upload.identity, now)?;
            if let Some(signed) = &upload.signed {
                keys::put_signed_prekey(&tx, &claims.user_id, signed)?;
            }
            for key in &upload.one_time {
                keys::put_one_time_prekey(&tx, &claims.user_id, key, now)?;
            }
            tx.commit().map_err(ApiError::from)
        })
        .await?;
    ok(json_object! {
        "success" => true,
        "signedPrekeyUploaded" => signed_uploaded,
        "oneTimePrekeysUploaded" => one_time_uploaded,
    })
}

/// `GET /api/users/prekeys/status`: `{signedPrekeyKeyId, signedPrekeyCreatedAt,
/// oneTimePrekeyCount}` for the caller.
pub(crate) async fn status(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let claims = require_jwt(&headers, &state.jwt)?;
    let (signed, count) = state
        .db
        .call(move |c| {
            Ok::<_, ApiError>((
                keys::latest_signed_prekey(c, &claims.user_id)?,
                keys::unused_one_time_count(c, &claims.user_id)?,
            ))
        })
        .await?;
    ok(json_object! {
        "signedPrekeyKeyId" => signed.as_ref().map(|k| k.key_id),
        "signedPrekeyCreatedAt" => signed.as_ref().map(|k| k.created_at),
        "oneTimePrekeyCount" => count,
    })
}

/// `GET /api/users/{id}/prekeys`: the bundle; marks the returned one-time prekey used
/// (PROTOCOL §7: one is consumed on every fetch); 404 without published keys.
pub(crate) async fn bundle(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult {
    require_jwt(&headers, &state.jwt)?;
    let (identity, signed, one_time) = state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let Some(identity) = keys::identity(&tx, &user_id)? else {
                return Err(ApiError::NotFound("Key material not found"));
            };
            let signed = keys::latest_signed_prekey(&tx, &user_id)?;
            let one_time = keys::take_one_time_prekey(&tx, &user_id)?;
            tx.commit()?;
            Ok((identity, signed, one_time))
        })
        .await?;
    ok(json_object! {
        "identityKey" => identity.identity_key,
        "signingKey" => identity.signing_key,
        "fingerprint" => identity.fingerprint,
        "signedPrekey" => signed.map(|k| json_object! {
            "keyId" => k.key_id,
            "publicKey" => k.public_key,
            "signature" => k.signature,
            "createdAt" => k.created_at,
        }),
        "oneTimePrekey" => one_time.map(|k| json_object! {
            "keyId" => k.key_id,
            "publicKey" => k.public_key,
        }),
    })
}
