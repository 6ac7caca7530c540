//! Reading the expiry of the backend's JWT (the client never verifies it: it is the
//! backend's token, checked by the backend).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The `exp` claim of a JWT, in ms since the epoch, if it can be read.
pub(crate) fn expiry_ms(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_str(std::str::from_utf8(&bytes).ok()?).ok()?;
    claims.get("exp")?.as_i64()?.checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_in_milliseconds() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"userId":"u","exp":1700000000}"#);
        assert_eq!(
            expiry_ms(&format!("h.{payload}.s")),
            Some(1_700_000_000_000)
        );
        assert_eq!(expiry_ms("not-a-jwt"), None);
        assert_eq!(expiry_ms("a.!!.c"), None);
    }
}
