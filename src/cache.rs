//! The response cache: read responses kept with the data version they were built at, and served
//! only while the database is still at that version, so no instance ever answers from stale data.

use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::db::write::DataVersion;

/// A read response as it went out (status 200), with the data version it was built at.
pub struct CachedResponse {
    /// The version number and its time: a database restored from a backup can reach the same
    /// number again with other data, but not at the same microsecond.
    pub version: DataVersion,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl CachedResponse {
    fn bytes(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        headers + self.body.len()
    }
}

/// What an entry costs: its key, headers and body.
#[derive(Clone)]
struct ByteWeighter;

impl Weighter<String, Arc<CachedResponse>> for ByteWeighter {
    fn weight(&self, key: &String, response: &Arc<CachedResponse>) -> u64 {
        (key.len() + response.bytes()) as u64
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
    pub fn get(&self, key: &str, version: DataVersion) -> Option<Arc<CachedResponse>> {
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

    fn version(number: i64) -> DataVersion {
        DataVersion {
            version: number,
            changed_at: chrono::DateTime::from_timestamp(1_700_000_000 + number, 0)
                .unwrap()
                .naive_utc(),
        }
    }

    fn response(number: i64, body: &'static str) -> CachedResponse {
        CachedResponse {
            version: version(number),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn serves_an_entry_only_at_the_version_it_was_built_at() {
        let cache = ResponseCache::new(1024 * 1024);
        cache.insert("/api/v1/kpis/1".into(), response(7, "{}"));
        assert_eq!(
            cache.get("/api/v1/kpis/1", version(7)).map(|hit| hit.body.clone()),
            Some(Bytes::from_static(b"{}"))
        );
        assert!(cache.get("/api/v1/kpis/1", version(8)).is_none());
        assert!(cache.get("/api/v1/kpis/2", version(7)).is_none());
        // The same number reached again later (a restored backup written to since) is another version.
        let again = DataVersion {
            changed_at: version(8).changed_at,
            ..version(7)
        };
        assert!(cache.get("/api/v1/kpis/1", again).is_none());
    }

    #[test]
    fn off_when_its_size_is_zero() {
        let cache = ResponseCache::new(0);
        assert!(!cache.is_enabled());
        cache.insert("/api/v1/kpis/1".into(), response(7, "{}"));
        assert!(cache.get("/api/v1/kpis/1", version(7)).is_none());
    }

    #[test]
    fn stays_within_its_size() {
        let cache = ResponseCache::new(64 * 1024);
        let body: &'static str = Box::leak("x".repeat(4096).into_boxed_str());
        for id in 0..200 {
            cache.insert(format!("/api/v1/kpis/{id}"), response(1, body));
        }
        let kept = (0..200)
            .filter(|id| cache.get(&format!("/api/v1/kpis/{id}"), version(1)).is_some())
            .count();
        assert!(
            kept > 0 && kept <= 64 * 1024 / 4096,
            "{kept} entries of 4 KiB kept in 64 KiB"
        );
    }
}
