//! The response cache: read responses kept with the data version they were built at, and served
//! only while the database is still at that version, so no instance ever answers from stale data.

use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

/// A read response as it went out (status 200), with the data version it was built at.
pub struct CachedResponse {
    pub version: i64,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What an entry costs: its key and body, plus a allowance for its headers.
#[derive(Clone)]
struct ByteWeighter;

impl Weighter<String, Arc<CachedResponse>> for ByteWeighter {
    fn weight(&self, key: &String, response: &Arc<CachedResponse>) -> u64 {
        const HEADERS: usize = 512;
        (key.len() + response.body.len() + HEADERS) as u64
    }
}

/// Bounded by bytes; evicts the least useful entries (quick_cache's CLOCK-Pro) when full.
pub struct ResponseCache {
    entries: Option<Cache<String, Arc<CachedResponse>, ByteWeighter>>,
}

impl ResponseCache {
    /// A cache of at most `capacity_bytes`; 0 turns it off.
    pub fn new(capacity_bytes: u64) -> Self {
        const TYPICAL_ENTRY: u64 = 8 * 1024;
        let entries = (capacity_bytes > 0).then(|| {
            let estimated_entries = usize::try_from(capacity_bytes / TYPICAL_ENTRY)
                .unwrap_or(usize::MAX)
                .max(16);
            Cache::with_weighter(estimated_entries, capacity_bytes, ByteWeighter)
        });
        ResponseCache { entries }
    }

    pub fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The response stored under `key`, if it was built at `version`.
    pub fn get(&self, key: &str, version: i64) -> Option<Arc<CachedResponse>> {
        self.entries
            .as_ref()?
            .get(key)
            .filter(|response| response.version == version)
    }

    pub fn insert(&self, key: String, response: CachedResponse) {
        if let Some(entries) = &self.entries {
            entries.insert(key, Arc::new(response));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(version: i64, body: &'static str) -> CachedResponse {
        CachedResponse {
            version,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn serves_an_entry_only_at_the_version_it_was_built_at() {
        let cache = ResponseCache::new(1024 * 1024);
        cache.insert("/api/v1/kpis/1".into(), response(7, "{}"));
        assert_eq!(
            cache.get("/api/v1/kpis/1", 7).map(|hit| hit.body.clone()),
            Some(Bytes::from_static(b"{}"))
        );
        assert!(cache.get("/api/v1/kpis/1", 8).is_none());
        assert!(cache.get("/api/v1/kpis/2", 7).is_none());
    }

    #[test]
    fn off_when_its_size_is_zero() {
        let cache = ResponseCache::new(0);
        assert!(!cache.is_enabled());
        cache.insert("/api/v1/kpis/1".into(), response(7, "{}"));
        assert!(cache.get("/api/v1/kpis/1", 7).is_none());
    }

    #[test]
    fn stays_within_its_size() {
        let cache = ResponseCache::new(64 * 1024);
        let body: &'static str = Box::leak("x".repeat(4096).into_boxed_str());
        for id in 0..200 {
            cache.insert(format!("/api/v1/kpis/{id}"), response(1, body));
        }
        let kept = (0..200)
            .filter(|id| cache.get(&format!("/api/v1/kpis/{id}"), 1).is_some())
            .count();
        assert!(
            kept > 0 && kept <= 64 * 1024 / 4096,
            "{kept} entries of 4 KiB kept in 64 KiB"
        );
    }
}
