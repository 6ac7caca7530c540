//! Password hashing with bcrypt, off the async executor (a cost-10 hash takes tens of
//! milliseconds of CPU).

use crate::error::ApiError;

/// bcrypt's work factor used by the backend.
pub const DEFAULT_BCRYPT_COST: u32 = 10;

/// Hashes `password` with bcrypt at `cost` on a blocking thread.
pub(crate) async fn hash(password: String, cost: u32) -> Result<String, ApiError> {
    run_blocking(move || bcrypt::hash(password, cost)).await
}

/// Checks `password` against a bcrypt `hash` on a blocking thread; a malformed hash is a
/// mismatch.
pub(crate) async fn verify(password: String, hash: String) -> Result<bool, ApiError> {
    let verified = run_blocking(move || bcrypt::verify(password, &hash)).await;
    Ok(verified.unwrap_or(false))
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string().into()))?
        .map_err(|e| ApiError::Internal(e.to_string().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_record_their_cost() {
        let hashed = hash("secret123".to_owned(), 4).await.expect("hash");
        assert!(hashed.starts_with("$2b$04$"), "{hashed}");
        assert!(
            verify("secret123".to_owned(), hashed.clone())
                .await
                .expect("verify")
        );
        assert!(
            !verify("wrong-pass".to_owned(), hashed)
                .await
                .expect("verify")
        );
        assert!(
            !verify("x".to_owned(), "not a hash".to_owned())
                .await
                .expect("verify")
        );
    }
}
