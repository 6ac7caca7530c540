//! [`Clock`] over `Date.now()` and `setTimeout` (browsers and Node alike).

use async_trait::async_trait;
use quickchat_core::transport::Clock;

/// The JavaScript clock and timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebClock;

#[async_trait(?Send)]
impl Clock for WebClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }

    async fn sleep_ms(&self, millis: u64) {
        // setTimeout takes a signed 32-bit delay; longer sleeps are taken in steps.
        let mut left = millis;
        while left > 0 {
            let step = left.min(i32::MAX as u64);
            gloo_timers::future::TimeoutFuture::new(step as u32).await;
            left -= step;
        }
    }
}
