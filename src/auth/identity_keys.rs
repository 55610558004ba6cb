//! The identity provider's signing keys over time.
//!
//! `JWT_JWKS_FILE`: read at start, read again whenever the file changes. `JWT_JWKS_URL`: fetched by a
//! thread of its own (blocking I/O never runs on a worker), kept for the response's
//! `Cache-Control: max-age` (clamped), fetched again at once when a token names an unknown `kid` —
//! one fetch for every request waiting on it, at most one per cooldown — and retried with backoff
//! while the provider is down. The last good set keeps serving until it is older than the allowed
//! staleness; then writes fail closed (503). Changes are logged by `kid`, never the keys.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::Algorithm;

use super::key_set::KeySet;
use crate::error::ApiError;

/// How a key set URL is fetched and how long its keys are trusted.
#[derive(Debug, Clone)]
pub struct KeySettings {
    pub algorithms: Vec<Algorithm>,
    pub timeout: Duration,
    pub max_bytes: u64,
    /// Kept this long when the response states no max-age.
    pub default_ttl: Duration,
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    /// No fetch for an unknown `kid` sooner than this after the previous one.
    pub cooldown: Duration,
    /// Keys last fetched longer ago than this no longer verify anything.
    pub max_stale: Duration,
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    File(PathBuf),
    Url(String),
}

impl KeySource {
    fn describe(&self) -> String {
        match self {
            KeySource::File(path) => format!("JWT_JWKS_FILE {}", path.display()),
            KeySource::Url(url) => format!("JWT_JWKS_URL {url}"),
        }
    }
}

/// What `/readyz` says of the keys.
#[derive(Debug, Clone, Copy)]
pub struct KeyStatus {
    pub usable: bool,
    pub keys: usize,
    pub age: Option<Duration>,
}

/// The current keys of one source, shared by every worker.
#[derive(Clone)]
pub struct IdentityKeys {
    shared: Arc<Shared>,
}

struct Shared {
    source: KeySource,
    settings: KeySettings,
    current: RwLock<Option<Loaded>>,
    control: Mutex<Control>,
    wake: Condvar,
    /// Counts finished fetches: requests waiting for a refresh watch it.
    fetched: tokio::sync::watch::Sender<u64>,
}

struct Loaded {
    keys: Arc<KeySet>,
    loaded_at: Instant,
    /// When a URL's keys are due to be fetched again.
    fresh_until: Instant,
    /// The file as it was when read (modification time and length).
    stamp: Option<(SystemTime, u64)>,
}

#[derive(Default)]
struct Control {
    requested: bool,
    in_flight: bool,
    last_attempt: Option<Instant>,
    failures: u32,
}

/// The longest wait between attempts while the provider fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl IdentityKeys {
    /// A file must be readable at start (it is the operator's own); a URL is fetched in the
    /// background, so that the service starts while the provider is down.
    pub fn start(source: KeySource, settings: KeySettings) -> Result<Self, String> {
        let shared = Arc::new(Shared {
            source,
            settings,
            current: RwLock::new(None),
            control: Mutex::new(Control::default()),
            wake: Condvar::new(),
            fetched: tokio::sync::watch::Sender::new(0),
        });
        match &shared.source {
            KeySource::File(path) => {
                let stamp = file_stamp(path).map_err(|error| format!("JWT_JWKS_FILE {}: {error}", path.display()))?;
                shared.load_file(path, stamp)?;
            }
            KeySource::Url(_) => {
                let weak = Arc::downgrade(&shared);
                std::thread::Builder::new()
                    .name("jwks-refresh".into())
                    .spawn(move || refresh_loop(weak))
                    .map_err(|error| format!("cannot start the key set thread: {error}"))?;
            }
        }
        Ok(IdentityKeys { shared })
    }

    /// The keys to verify with now, or 503 when none may be used.
    pub fn current(&self) -> Result<Arc<KeySet>, ApiError> {
        if let KeySource::File(path) = &self.shared.source {
            self.shared.reload_if_changed(path);
        }
        let current = self.shared.read_current();
        match current.as_ref() {
            None => Err(ApiError::KeysUnavailable(format!(
                "the identity provider's signing keys have not been loaded yet from {}",
                self.shared.source.describe()
            ))),
            Some(loaded) if self.shared.too_stale(loaded) => Err(ApiError::KeysUnavailable(format!(
                "the identity provider's signing keys were last fetched {} s ago, longer than allowed",
                loaded.loaded_at.elapsed().as_secs()
            ))),
            Some(loaded) => Ok(loaded.keys.clone()),
        }
    }

    /// A token named a key that is not there: fetch the set again now, unless a fetch ran within the
    /// cooldown. Requests arriving meanwhile wait for the same fetch (or its timeout).
    pub async fn refresh(&self) {
        if matches!(self.shared.source, KeySource::File(_)) {
            return;
        }
        let mut fetched = self.shared.fetched.subscribe();
        {
            let mut control = self.shared.lock_control();
            if !control.in_flight && !control.requested {
                let cooling = control
                    .last_attempt
                    .is_some_and(|at| at.elapsed() < self.shared.settings.cooldown);
                if cooling {
                    return;
                }
                control.requested = true;
                self.shared.wake.notify_all();
            }
        }
        let wait = self.shared.settings.timeout + Duration::from_secs(1);
        // Whether it finished or not, the caller reads the keys as they now are.
        let _ = actix_web::rt::time::timeout(wait, fetched.changed()).await;
    }

    pub fn status(&self) -> KeyStatus {
        let current = self.shared.read_current();
        match current.as_ref() {
            None => KeyStatus {
                usable: false,
                keys: 0,
                age: None,
            },
            Some(loaded) => KeyStatus {
                usable: !self.shared.too_stale(loaded) && !loaded.keys.is_empty(),
                keys: loaded.keys.len(),
                age: Some(loaded.loaded_at.elapsed()),
            },
        }
    }
}

impl Shared {
    // A panic elsewhere while a lock was held leaves the keys as they were: still usable.
    fn read_current(&self) -> std::sync::RwLockReadGuard<'_, Option<Loaded>> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_current(&self) -> std::sync::RwLockWriteGuard<'_, Option<Loaded>> {
        self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_control(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn too_stale(&self, loaded: &Loaded) -> bool {
        matches!(self.source, KeySource::Url(_)) && loaded.loaded_at.elapsed() > self.settings.max_stale
    }

    /// Puts a new set in place and logs what changed.
    fn install(&self, keys: KeySet, skipped: Vec<String>, ttl: Duration, stamp: Option<(SystemTime, u64)>) {
        let mut current = self.write_current();
        let before = current.as_ref().map(|loaded| loaded.keys.kids()).unwrap_or_default();
        let after = keys.kids();
        let added: Vec<&String> = after.difference(&before).collect();
        let removed: Vec<&String> = before.difference(&after).collect();
        if current.is_none() || !added.is_empty() || !removed.is_empty() {
            log::info!(
                "{}: {} signing keys; kids added {added:?}, removed {removed:?}",
                self.source.describe(),
                keys.len()
            );
            for reason in &skipped {
                log::warn!("{}: skipped {reason}", self.source.describe());
            }
        }
        if keys.is_empty() {
            log::warn!(
                "{}: no key can verify tokens; writes are refused",
                self.source.describe()
            );
        }
        let now = Instant::now();
        *current = Some(Loaded {
            keys: Arc::new(keys),
            loaded_at: now,
            fresh_until: now + ttl,
            stamp,
        });
    }

    fn load_file(&self, path: &PathBuf, stamp: (SystemTime, u64)) -> Result<(), String> {
        let text = std::fs::read(path).map_err(|error| format!("JWT_JWKS_FILE {}: {error}", path.display()))?;
        let (keys, skipped) = KeySet::parse(&text, &self.settings.algorithms)
            .map_err(|error| format!("JWT_JWKS_FILE {}: {error}", path.display()))?;
        self.install(keys, skipped, Duration::ZERO, Some(stamp));
        Ok(())
    }

    /// A rewritten file is read again; one that no longer reads leaves the last good keys serving.
    fn reload_if_changed(&self, path: &PathBuf) {
        let Ok(stamp) = file_stamp(path) else {
            return;
        };
        let known = {
            let current = self.read_current();
            current.as_ref().and_then(|loaded| loaded.stamp)
        };
        if known == Some(stamp) {
            return;
        }
        if let Err(error) = self.load_file(path, stamp) {
            log::warn!("{error}; the keys read before keep serving");
            // Not read again until the file changes once more.
            if let Some(loaded) = self.write_current().as_mut() {
                loaded.stamp = Some(stamp);
            }
        }
    }

    /// When the next fetch is due without a request asking for one.
    fn next_due(&self, control: &Control) -> Instant {
        let current = self.read_current();
        let backoff = || {
            let delay = Duration::from_secs(1u64 << control.failures.min(6)).min(MAX_BACKOFF);
            control.last_attempt.map_or_else(Instant::now, |at| at + delay)
        };
        match (current.as_ref(), control.failures) {
            (None, _) => backoff(),
            (Some(loaded), 0) => loaded.fresh_until,
            // Failing: keys still fresh wait for their time; expired ones are retried with backoff.
            (Some(loaded), _) => loaded.fresh_until.max(backoff()),
        }
    }

    fn fetch(&self, url: &str) {
        let result = fetch_key_set(url, &self.settings);
        let failed = match result {
            Ok((keys, skipped, ttl)) => {
                self.install(keys, skipped, ttl, None);
                false
            }
            Err(error) => {
                let serving = self
                    .read_current()
                    .as_ref()
                    .map(|loaded| loaded.loaded_at.elapsed().as_secs());
                match serving {
                    Some(age) => log::warn!("JWT_JWKS_URL {url}: {error}; keys fetched {age} s ago keep serving"),
                    None => log::warn!("JWT_JWKS_URL {url}: {error}; writes answer 503 until the keys load"),
                }
                true
            }
        };
        let mut control = self.lock_control();
        control.in_flight = false;
        control.failures = if failed { control.failures.saturating_add(1) } else { 0 };
        drop(control);
        self.fetched.send_modify(|count| *count += 1);
    }
}

/// The fetch thread: it ends when the service drops its keys.
fn refresh_loop(shared: Weak<Shared>) {
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let KeySource::Url(url) = &shared.source else {
            return;
        };
        let mut control = shared.lock_control();
        let now = Instant::now();
        let due = shared.next_due(&control);
        if !control.requested && now < due {
            // Wakes at least every few seconds, so that a dropped service ends the thread.
            let wait = (due - now).min(Duration::from_secs(5));
            let (guard, _) = shared
                .wake
                .wait_timeout_while(control, wait, |control| !control.requested)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            control = guard;
            if !control.requested && Instant::now() < due {
                continue;
            }
        }
        control.requested = false;
        control.in_flight = true;
        control.last_attempt = Some(Instant::now());
        drop(control);
        shared.fetch(url);
    }
}

/// GET the key set: a timeout, no redirects, a size cap, and the lifetime its `Cache-Control` gives.
fn fetch_key_set(url: &str, settings: &KeySettings) -> Result<(KeySet, Vec<String>, Duration), String> {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(settings.timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::NativeTls)
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header("Accept", "application/jwk-set+json, application/json")
        .call()
        .map_err(|error| format!("fetch failed: {error}"))?;
    let status = response.status();
    if status != 200 {
        return Err(format!("answered HTTP {}", status.as_u16()));
    }
    let ttl = max_age(
        response
            .headers()
            .get("cache-control")
            .and_then(|value| value.to_str().ok()),
    )
    .map_or(settings.default_ttl, |age| {
        age.clamp(settings.min_ttl, settings.max_ttl)
    });
    let body = response
        .body_mut()
        .with_config()
        .limit(settings.max_bytes)
        .read_to_vec()
        .map_err(|error| format!("body not read (at most {} bytes): {error}", settings.max_bytes))?;
    let (keys, skipped) = KeySet::parse(&body, &settings.algorithms)?;
    Ok((keys, skipped, ttl))
}

/// `max-age` of a `Cache-Control` value (`no-store` and `no-cache` count as 0, then clamped).
fn max_age(cache_control: Option<&str>) -> Option<Duration> {
    let value = cache_control?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    age
}

fn file_stamp(path: &PathBuf) -> std::io::Result<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.modified()?, metadata.len()))
}

/// `JWT_JWKS_URL` must be https, or http to a loopback address (a sidecar, a test).
pub fn check_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|error| format!("JWT_JWKS_URL is not a URL: {error}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        _ => Err("JWT_JWKS_URL must be https (or http to a loopback address)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_reads_cache_control() {
        assert_eq!(max_age(Some("public, max-age=300")), Some(Duration::from_secs(300)));
        assert_eq!(max_age(Some("no-store")), Some(Duration::ZERO));
        assert_eq!(max_age(Some("public")), None);
        assert_eq!(max_age(None), None);
        assert_eq!(max_age(Some("max-age=abc")), None);
    }

    #[test]
    fn key_set_urls_are_https_or_loopback() {
        assert!(check_url("https://login.microsoftonline.com/common/discovery/v2.0/keys").is_ok());
        assert!(check_url("http://127.0.0.1:8081/jwks").is_ok());
        assert!(check_url("http://[::1]:8081/jwks").is_ok());
        assert!(check_url("http://idp.example.jp/jwks").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
    }
}
