//! The HTTP surface: routing, CORS, the plain-text 404, body limits and the helpers every
//! REST handler uses to read JSON and answer with it.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};

use crate::error::ApiError;
use crate::json::Json;
use crate::routes::{admin, auth, groups, invites, keys, members, messages, users, verify};
use crate::state::AppState;

/// What every `/api` response carries, as on the backend.
const CORS_HEADERS: [(&str, &str); 3] = [
    ("access-control-allow-origin", "*"),
    (
        "access-control-allow-methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    ),
    (
        "access-control-allow-headers",
        "Content-Type, Authorization",
    ),
];

/// The result of a REST handler.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// Builds the whole application.
pub(crate) fn router(state: AppState) -> Router {
    let max_body = state.max_body_bytes;
    let api = Router::new()
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/users", get(users::list))
        .route("/api/users/prekeys", post(keys::upload))
        .route("/api/users/prekeys/status", get(keys::status))
        .route("/api/users/{id}/prekeys", get(keys::bundle))
        .route("/api/verify-key", post(verify::record))
        .route(
            "/api/verify-key/{id}",
            get(verify::get).delete(verify::forget),
        )
        .route("/api/messages", post(messages::store))
        .route("/api/messages/status", put(messages::set_status))
        .route("/api/messages/{peer}", get(messages::history))
        .route("/api/groups", post(groups::create).get(groups::list))
        .route("/api/groups/join", post(invites::join))
        .route("/api/groups/{id}", get(groups::details).put(groups::update))
        .route(
            "/api/groups/{id}/members",
            get(members::list).post(members::add),
        )
        .route("/api/groups/{id}/members/{uid}", delete(members::remove))
        .route(
            "/api/groups/{id}/members/{uid}/role",
            put(members::set_role),
        )
        .route("/api/groups/{id}/leave", post(members::leave))
        .route("/api/groups/{id}/messages", get(groups::messages))
        .route("/api/groups/{id}/invite", post(invites::create))
        .route("/api/groups/{id}/invite/{link}", delete(invites::revoke))
        .route("/api/admin/users", get(admin::users))
        .route("/api/admin/users/{id}/status", put(admin::set_status))
        .route(
            "/api/admin/users/{id}/permissions",
            put(admin::set_permissions),
        )
        .route("/api/admin/users/{id}/role", put(admin::set_role));
    api.route("/ws", any(crate::ws::upgrade))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(cors))
        .with_state(state)
}

/// Answers preflights and adds the CORS headers to every `/api` response.
async fn cors(request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::OK.into_response();
        add_cors(&mut response);
        return response;
    }
    let is_api = request.uri().path().starts_with("/api");
    let mut response = next.run(request).await;
    if is_api {
        add_cors(&mut response);
    }
    response
}

fn add_cors(response: &mut Response) {
    for (name, value) in CORS_HEADERS {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}

/// The backend's answer to an unknown path: 404 with the plain text `Not found`.
async fn not_found() -> Response {
    plain_text(StatusCode::NOT_FOUND, "Not found")
}

/// A plain-text response as the Worker writes one.
pub(crate) fn plain_text(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain;charset=UTF-8"),
        )],
        text,
    )
        .into_response()
}

/// A JSON response with the given status.
pub(crate) fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body.to_text(),
    )
        .into_response()
}

/// 200 with a JSON body.
pub(crate) fn ok(body: Json) -> ApiResult {
    Ok(json_response(StatusCode::OK, &body))
}

/// 201 with a JSON body.
pub(crate) fn created(body: Json) -> ApiResult {
    Ok(json_response(StatusCode::CREATED, &body))
}

/// Parses a request body as JSON; text that is not JSON is a 500 carrying the parser's
/// message, as `await request.json()` failing inside the backend's catch-all. A field over
/// its cap ([`crate::limits`]) is a 400.
pub(crate) fn parse_json(body: &[u8]) -> Result<Json, ApiError> {
    let json = Json::parse(body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    crate::limits::check_body(&json)?;
    Ok(json)
}

/// The raw request body, within the configured size limit (413 beyond it). Reading it
/// happens before the handler runs, as the platform does before the Worker sees a request;
/// handlers parse it with [`parse_json`] after their authentication checks.
pub(crate) struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Response;

    async fn from_request(req: Request<Body>, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(RawBody(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &crate::json::json_object! {
                        "error" => "Payload Too Large"
                    },
                ))
            }
            Err(rejection) => Err(rejection.into_response()),
        }
    }
}
