//! `POST /api/auth/register` and `POST /api/auth/login` (no authentication).

use axum::extract::State;

use crate::auth::password;
use crate::clock::now_ms;
use crate::db::{self, users, users::User};
use crate::error::ApiError;
use crate::http::{ApiResult, RawBody, created, ok, parse_json};
use crate::json::{Json, json_map};
use crate::routes::{js_length, new_id};
use crate::state::AppState;

/// Creates an account: 201 with the user and a token.
pub(crate) async fn register(State(state): State<AppState>, RawBody(body): RawBody) -> ApiResult {
    let body = parse_json(&body)?;
    let (Some(username), Some(password)) = (body.str_field("username"), body.str_field("password"))
    else {
        return Err(ApiError::BadRequest("Username and password are required"));
    };
    if js_length(username) < 3 {
        return Err(ApiError::BadRequest(
            "Username must be at least 3 characters",
        ));
    }
    if js_length(password) < 6 {
        return Err(ApiError::BadRequest(
            "Password must be at least 6 characters",
        ));
    }
    let username = username.to_owned();
    let taken = {
        let username = username.clone();
        state
            .db
            .call(move |c| users::by_username(c, &username).map_err(ApiError::from))
            .await?
            .is_some()
    };
    if taken {
        return Err(ApiError::Conflict("Username already taken"));
    }
    let password_hash = password::hash(password.to_owned(), state.bcrypt_cost).await?;
    let now = now_ms();
    let user = User {
        id: new_id(),
        username,
        password_hash,
        avatar: body.get("avatar").and_then(Json::as_str).map(str::to_owned),
        last_seen: now,
        role: "user".to_owned(),
        is_active: 1,
        can_send_images: 1,
        created_at: now,
        disabled_at: None,
        disabled_by: None,
    };
    let user = state
        .db
        .call(move |c| match users::insert(c, &user) {
            Ok(()) => Ok(user),
            // Two registrations of one name raced past the check above.
            Err(e) if db::is_unique_violation(&e) => {
                Err(ApiError::Conflict("Username already taken"))
            }
            Err(e) => Err(e.into()),
        })
        .await?;
    // The backend echoes the avatar it was given: no `avatar` key when there was none.
    created(user_json(
        &user,
        body.get("avatar").cloned(),
        token_for(&state, &user)?,
    ))
}

/// Logs in: 200 with the user and a token; 401 for bad credentials, 403 when disabled.
pub(crate) async fn login(State(state): State<AppState>, RawBody(body): RawBody) -> ApiResult {
    let body = parse_json(&body)?;
    let (Some(username), Some(password)) = (body.str_field("username"), body.str_field("password"))
    else {
        return Err(ApiError::BadRequest("Username and password are required"));
    };
    let username = username.to_owned();
    let user = state
        .db
        .call(move |c| users::by_username(c, &username).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::BadCredentials)?;
    if !password::verify(password.to_owned(), user.password_hash.clone()).await? {
        return Err(ApiError::BadCredentials);
    }
    if user.is_disabled() {
        return Err(ApiError::Forbidden("Your account has been disabled"));
    }
    let now = now_ms();
    let id = user.id.clone();
    state
        .db
        .call(move |c| users::set_last_seen(c, &id, now).map_err(ApiError::from))
        .await?;
    let user = User {
        last_seen: now,
        ..user
    };
    let avatar = Json::from(user.avatar.clone());
    ok(user_json(&user, Some(avatar), token_for(&state, &user)?))
}

fn token_for(state: &AppState, user: &User) -> Result<String, ApiError> {
    state
        .jwt
        .issue(&user.id, &user.username, now_ms() / 1000)
        .ok_or(ApiError::Internal(
            "cannot sign tokens with this secret".into(),
        ))
}

/// `{id, username, avatar?, lastSeen, role, is_active, can_send_images, created_at, token}`.
fn user_json(user: &User, avatar: Option<Json>, token: String) -> Json {
    let mut out = json_map! { "id" => &user.id, "username" => &user.username };
    if let Some(avatar) = avatar {
        out.insert("avatar".into(), avatar);
    }
    out.extend(json_map! {
        "lastSeen" => user.last_seen,
        "role" => &user.role,
        "is_active" => user.is_active,
        "can_send_images" => user.can_send_images,
        "created_at" => user.created_at,
        "token" => token,
    });
    Json::Object(out)
}
