//! Wall-clock time as the backend writes it: integer milliseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as JavaScript's `Date.now()`.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2020_in_milliseconds() {
        // 2020-01-01T00:00:00Z in milliseconds: a seconds value would be far below it.
        assert!(super::now_ms() > 1_577_836_800_000);
    }
}
