//! Where blocking store work runs.
//!
//! Inside a tokio runtime, on its blocking pool ([`tokio::task::spawn_blocking`]), so that an
//! fsync, an Argon2id derivation or a long history scan never stalls the executor's worker
//! threads; elsewhere (another executor, or none) on the calling thread. A panic in the work
//! (redb panics on some kinds of file damage) comes back as [`StoreError::Backend`] either
//! way, never as a panic of the caller.

use std::panic::{AssertUnwindSafe, catch_unwind};

use quickchat_core::store::StoreError;

/// Runs `work` off the async executor when there is a tokio runtime, inline otherwise.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(work).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(panicked("store work", e.into_panic())),
            Err(e) => Err(StoreError::Backend {
                context: "store work".into(),
                detail: format!("the blocking task did not run: {e}"),
            }),
        },
        Err(_) => catch_panic("store work", work),
    }
}

/// Runs `work`, turning a panic into [`StoreError::Backend`].
pub(crate) fn catch_panic<T>(
    context: &str,
    work: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // The work's state is either thrown away with the error (an open) or is redb's, which
    // guards its own consistency (a poisoned redb handle fails its later calls).
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| Err(panicked(context, payload)))
}

fn panicked(context: &str, payload: Box<dyn std::any::Any + Send>) -> StoreError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    StoreError::Backend {
        context: context.to_string(),
        detail: format!("the database panicked (damaged file?): {message}"),
    }
}
