//! A map that keeps only the most recently used entries: the session engine's cache, whose
//! size must not grow with the number of peers (a bot with 10,000 peers would otherwise
//! hold every peer's ratchet state in memory for good).

use std::collections::HashMap;

/// Up to `capacity` entries by peer id; when more are added, the least recently used
/// quarter is dropped (amortised O(log n) per insert). A dropped entry only means the next
/// read goes to the store, which holds the same committed state.
pub(crate) struct Recent<V> {
    map: HashMap<String, (V, u64)>,
    tick: u64,
    capacity: usize,
}

impl<V> Recent<V> {
    /// An empty map keeping up to `capacity` entries (at least 4).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            tick: 0,
            capacity: capacity.max(4),
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    /// The entry for `key`, marked as just used.
    pub(crate) fn get(&mut self, key: &str) -> Option<&V> {
        let tick = self.next_tick();
        self.map.get_mut(key).map(|entry| {
            entry.1 = tick;
            &entry.0
        })
    }

    /// Whether `key` has an entry.
    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Sets the entry for `key`, dropping the least recently used ones when full.
    pub(crate) fn insert(&mut self, key: String, value: V) {
        let tick = self.next_tick();
        self.map.insert(key, (value, tick));
        if self.map.len() > self.capacity {
            self.evict();
        }
    }

    /// Takes the entry for `key` out.
    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        self.map.remove(key).map(|(value, _)| value)
    }

    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Keeps the most recently used three quarters of the capacity.
    fn evict(&mut self) {
        let keep = self.capacity - self.capacity / 4;
        let mut ticks: Vec<u64> = self.map.values().map(|(_, tick)| *tick).collect();
        ticks.sort_unstable();
        let cutoff = ticks[ticks.len().saturating_sub(keep)];
        self.map.retain(|_, (_, tick)| *tick >= cutoff);
    }
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Self::new(CACHED_PEERS)
    }
}

/// Peers whose sessions (and, separately, known identities) the engine keeps in memory.
pub(crate) const CACHED_PEERS: usize = 2048;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_size_stays_bounded() {
        let mut recent = Recent::new(8);
        for i in 0..8 {
            recent.insert(format!("p{i}"), i);
        }
        // p0 and p1 are used again: the oldest are now p2, p3.
        assert_eq!(recent.get("p0"), Some(&0));
        assert_eq!(recent.get("p1"), Some(&1));
        recent.insert("p8".into(), 8);
        assert_eq!(recent.len(), 6, "down to three quarters of the capacity");
        assert!(recent.contains_key("p0") && recent.contains_key("p1"));
        assert!(recent.contains_key("p8"));
        assert!(!recent.contains_key("p2") && !recent.contains_key("p3"));
        for i in 0..1000 {
            recent.insert(format!("q{i}"), i);
            assert!(recent.len() <= 8);
        }
        assert_eq!(recent.remove("q999"), Some(999));
        recent.clear();
        assert_eq!(recent.len(), 0);
    }
}
