//! Authentication: the three kinds the backend mixes (JWT, raw user id, none), tokens and
//! password hashes.

pub(crate) mod jwt;
pub(crate) mod password;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::error::ApiError;
use jwt::{Claims, JwtKey};

/// The credential after `Bearer ` in the `Authorization` header, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .filter(|credential| !credential.is_empty())
}

/// JWT endpoints: the claims of a valid token, or 401 `Unauthorized`.
pub(crate) fn require_jwt(headers: &HeaderMap, key: &JwtKey) -> Result<Claims, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    key.verify(token, crate::clock::now_ms() / 1000)
        .ok_or(ApiError::Unauthorized)
}

/// Raw-user-id endpoints (groups, admin): the header's credential is taken as the user id
/// itself, unchecked; 401 `Unauthorized` without one.
pub(crate) fn require_raw_user_id(headers: &HeaderMap) -> Result<String, ApiError> {
    bearer(headers)
        .map(str::to_owned)
        .ok_or(ApiError::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn bearer_takes_what_follows_the_scheme() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn raw_ids_are_not_tokens_and_tokens_are_not_checked_as_ids() {
        let key = JwtKey::new("s");
        assert!(matches!(
            require_jwt(&headers("Bearer some-user-id"), &key),
            Err(ApiError::Unauthorized)
        ));
        let token = key
            .issue("u1", "alice", crate::clock::now_ms() / 1000)
            .expect("token");
        assert_eq!(
            require_raw_user_id(&headers(&format!("Bearer {token}"))).expect("id"),
            token
        );
        assert_eq!(
            require_jwt(&headers(&format!("Bearer {token}")), &key)
                .expect("jwt")
                .user_id,
            "u1"
        );
    }
}
