//! [`Clock`] over the system clock and tokio timers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use quickchat_core::transport::Clock;

/// The system clock with tokio's timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

#[async_trait]
impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    async fn sleep_ms(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}
