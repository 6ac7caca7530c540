//! HS256 JSON Web Tokens as the backend issues them: payload `{userId, username, iat, exp}`,
//! valid for 24 hours.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a token is valid, in seconds.
pub(crate) const TOKEN_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// `{"alg":"HS256","typ":"JWT"}`, the only header this server writes or accepts.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The claims of a token, in the backend's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(rename = "userId")]
    pub user_id: String,
    pub username: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// The secret that signs and checks tokens.
#[derive(Clone)]
pub(crate) struct JwtKey {
    secret: Vec<u8>,
}

impl JwtKey {
    /// A key from the configured secret.
    pub(crate) fn new(secret: &str) -> Self {
        JwtKey {
            secret: secret.as_bytes().to_vec(),
        }
    }

    /// A fresh MAC keyed with the secret. HMAC takes keys of any length, so `None` does not
    /// happen in practice; callers refuse to issue or accept tokens if it did.
    fn mac(&self) -> Option<Hmac<Sha256>> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).ok()
    }

    /// A token for this user, issued at `now_secs` (Unix seconds).
    pub(crate) fn issue(&self, user_id: &str, username: &str, now_secs: i64) -> Option<String> {
        let claims = Claims {
            user_id: user_id.to_owned(),
            username: username.to_owned(),
            iat: now_secs,
            exp: now_secs + TOKEN_LIFETIME_SECS,
        };
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = self.mac()?;
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Some(format!("{signing_input}.{signature}"))
    }

    /// The claims of `token` if it is a well-formed HS256 token signed with this key and not
    /// expired at `now_secs`.
    pub(crate) fn verify(&self, token: &str, now_secs: i64) -> Option<Claims> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.alg != "HS256" {
            return None;
        }
        let mut mac = self.mac()?;
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
            .ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (claims.exp > now_secs).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn issued_tokens_verify_and_carry_the_backend_payload() {
        let key = JwtKey::new("secret");
        let token = key.issue("u-1", "alice", NOW).expect("token");
        assert_eq!(token.split('.').count(), 3);
        let payload = token.split('.').nth(1).expect("payload part");
        let payload = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
        assert_eq!(
            String::from_utf8(payload).expect("utf-8"),
            format!(
                r#"{{"userId":"u-1","username":"alice","iat":{NOW},"exp":{}}}"#,
                NOW + 86_400
            )
        );
        let claims = key.verify(&token, NOW + 10).expect("valid");
        assert_eq!(claims.user_id, "u-1");
        assert_eq!(claims.username, "alice");
    }

    #[test]
    fn expired_tokens_are_refused() {
        let key = JwtKey::new("secret");
        let token = key.issue("u-1", "alice", NOW).expect("token");
        assert!(key.verify(&token, NOW + TOKEN_LIFETIME_SECS - 1).is_some());
        assert!(key.verify(&token, NOW + TOKEN_LIFETIME_SECS).is_none());
    }

    #[test]
    fn other_secrets_and_tampering_are_refused() {
        let token = JwtKey::new("secret")
            .issue("u-1", "alice", NOW)
            .expect("token");
        assert!(JwtKey::new("other").verify(&token, NOW).is_none());
        let forged_payload = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"userId":"admin","username":"x","iat":{NOW},"exp":{}}}"#,
            NOW + 100
        ));
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged_payload;
        assert!(
            JwtKey::new("secret")
                .verify(&parts.join("."), NOW)
                .is_none()
        );
        for junk in ["", "not-a-jwt", "a.b", "a.b.c", "a.b.c.d", "<aliceId>"] {
            assert!(
                JwtKey::new("secret").verify(junk, NOW).is_none(),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let key = JwtKey::new("secret");
        let token = key.issue("u-1", "alice", NOW).expect("token");
        let mut parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none_header;
        parts[2] = "";
        assert!(key.verify(&parts.join("."), NOW).is_none());
    }
}
