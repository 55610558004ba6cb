//! The webhook workers: each instance runs a few threads that take a subscription with a delivery
//! due (a lease in the database, so that one worker of any instance sends its deliveries, one at a
//! time, in cursor order), POST the oldest one signed, and record the attempt. A failure is retried
//! with exponential backoff and jitter until the retry window is over; then the subscription is
//! paused as failing. A worker that dies mid-delivery leaves its lease to expire: the delivery is
//! sent again, by any instance, with the same webhook-id.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::TimeDelta;

use super::signature;
use super::targets::GuardedResolver;
use crate::db::webhooks::{self, Attempt, DeliveryRow, Due, Outcome};
use crate::db::{self, Database};
use crate::error::ApiError;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Worker threads of this instance; 0 sends nothing from it.
    pub workers: usize,
    /// Time an attempt may take, connection included.
    pub timeout: Duration,
    /// Wait after the first failed attempt; each further failure doubles it.
    pub retry_base: Duration,
    /// How long a delivery is retried, from its first attempt; then its subscription is paused.
    pub retry_window: Duration,
    /// How often an idle worker looks for work it was not woken for (retries due, changes written
    /// by other instances).
    pub poll: Duration,
    /// Whether targets may be private, loopback or link-local addresses.
    pub allow_private: bool,
    /// How long delivered deliveries (and their attempts) are kept for the deliveries list.
    pub keep_delivered: Duration,
}

/// Deliveries, and time, a worker gives one subscription before the others get a turn.
const TURN: usize = 100;
const TURN_TIME: Duration = Duration::from_secs(30);

/// Subscriptions looked at per search for work.
const CANDIDATES: i64 = 8;

/// How often the first worker forgets old delivered deliveries.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Bytes of a receiver's answer read (and dropped) so that its connection can be reused.
const ANSWER_LIMIT: u64 = 64 * 1024;

impl DeliverySettings {
    /// How long a worker holds a subscription: room for an attempt, its record and a margin. A
    /// worker that died is replaced by another once this has passed.
    fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }

    /// The wait after `failures` failed attempts: the base doubled for each failure after the
    /// first, at most an eighth of the window, then between half and all of that (jitter), so that
    /// receivers recovering from an outage are not met by every retry at once.
    pub fn backoff(&self, failures: i32, random: f64) -> Duration {
        let cap = (self.retry_window / 8).max(self.retry_base);
        let doubled = self
            .retry_base
            .checked_mul(1u32 << failures.clamp(1, 31).saturating_sub(1).min(30))
            .unwrap_or(cap)
            .min(cap);
        doubled.mul_f64(0.5 + random.clamp(0.0, 1.0) / 2.0)
    }

    /// What becomes of a delivery after this attempt: delivered on a 2xx; given up on 410 Gone or
    /// when the next try would fall outside the retry window from the first attempt; otherwise
    /// tried again after the backoff (or the receiver's Retry-After, if longer).
    pub fn outcome(
        &self,
        delivery: &DeliveryRow,
        attempt: &Attempt,
        retry_after: Option<Duration>,
        random: f64,
    ) -> Outcome {
        match attempt.status_code {
            Some(200..=299) => return Outcome::Delivered,
            Some(410) => return Outcome::GiveUp("the receiver is gone".into()),
            _ => {}
        }
        let failures = delivery.attempts + 1;
        let wait = self
            .backoff(failures, random)
            .max(retry_after.unwrap_or_default().min(self.retry_window));
        let next = attempt.at + delta(wait);
        let first = delivery.first_attempt_at.unwrap_or(attempt.at);
        if next - first > delta(self.retry_window) {
            Outcome::GiveUp(format!(
                "undelivered after {failures} attempts over {}",
                humantime::format_duration(Duration::from_secs((attempt.at - first).num_seconds().max(0) as u64))
            ))
        } else {
            Outcome::RetryAt(next)
        }
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// This instance's workers. Dropping it stops them once their attempt in flight is recorded.
pub struct Dispatcher {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

struct Shared {
    database: Database,
    settings: DeliverySettings,
    agent: ureq::Agent,
    /// Names this instance's leases (a random id per process, and the worker's number).
    instance: String,
    stop: AtomicBool,
}

impl Dispatcher {
    /// Starts `settings.workers` workers.
    pub fn start(database: Database, settings: DeliverySettings) -> Dispatcher {
        use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            // Straight to the target, whose addresses the resolver has checked.
            .proxy(None)
            .user_agent(format!("strategy-api-webhooks/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(
                TlsConfig::builder()
                    .provider(TlsProvider::NativeTls)
                    .root_certs(RootCerts::PlatformVerifier)
                    .build(),
            )
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            GuardedResolver {
                allow_private: settings.allow_private,
            },
        );
        let shared = Arc::new(Shared {
            database,
            agent,
            instance: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            stop: AtomicBool::new(false),
            settings,
        });
        let threads = (0..shared.settings.workers)
            .map(|index| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("webhook-{index}"))
                    .spawn(move || work(&shared, index))
                    .expect("a webhook worker starts")
            })
            .collect();
        Dispatcher {
            shared,
            threads: Mutex::new(threads),
        }
    }

    /// Stops the workers and waits for them: an attempt in flight finishes (within its timeout)
    /// and is recorded, so that a graceful stop sends nothing twice, and no worker is left inside
    /// the database driver when the process exits.
    pub fn stop(&self) {
        self.signal_stop();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }

    /// Tells the workers to stop after what they are doing (the server is shutting down).
    pub fn signal_stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.database.commits().wake_all();
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(shared: &Shared, index: usize) {
    let owner = format!("{}-{index}", shared.instance);
    let commits = shared.database.commits();
    let mut pruned: Option<Instant> = None;
    while !shared.stop.load(Ordering::SeqCst) {
        if index == 0 && pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned = Some(Instant::now());
            prune(shared);
        }
        let seen = commits.seen();
        match deliver_some(shared, &owner) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => log::warn!("webhook worker {owner}: {error}"),
        }
        // Woken by a write of this instance, or after the poll interval.
        commits.wait(seen, shared.settings.poll);
    }
}

/// Forgets the deliveries delivered longer ago than the settings keep them.
fn prune(shared: &Shared) {
    let before = db::now() - delta(shared.settings.keep_delivered);
    match shared
        .database
        .run_blocking_write(|conn| webhooks::prune_delivered(conn, before))
    {
        Ok(0) => {}
        Ok(count) => log::info!("forgot {count} webhook deliveries delivered before {before}Z"),
        Err(error) => log::warn!("old webhook deliveries could not be forgotten: {error}"),
    }
}

/// Takes one subscription with a delivery due, if any, and sends what is due of it; true when it
/// attempted one (then there may be more to do at once).
fn deliver_some(shared: &Shared, owner: &str) -> Result<bool, ApiError> {
    let database = &shared.database;
    let now = db::now();
    let lease = delta(shared.settings.lease());
    let candidates = database.run_blocking(|conn| webhooks::claimable(conn, now, CANDIDATES))?;
    for subscription in candidates {
        if !database.run_blocking_write(|conn| webhooks::claim(conn, subscription, owner, now + lease, now))? {
            continue;
        }
        let sent = deliver_in_order(shared, subscription, owner);
        database.run_blocking_write(|conn| webhooks::release(conn, subscription, owner, db::now()))?;
        return sent.map(|attempts| attempts > 0);
    }
    Ok(false)
}

/// Sends a held subscription's due deliveries oldest first, stopping at the first failure (the
/// rest wait for it, so that the receiver sees changes in cursor order); answers how many it tried.
fn deliver_in_order(shared: &Shared, subscription: i64, owner: &str) -> Result<usize, ApiError> {
    let database = &shared.database;
    let started = Instant::now();
    let mut attempts = 0;
    while attempts < TURN && started.elapsed() < TURN_TIME && !shared.stop.load(Ordering::SeqCst) {
        let now = db::now();
        let Some(due) = database.run_blocking(|conn| webhooks::next_due(conn, subscription, now))? else {
            break;
        };
        // The claim holds the lease for the first; each further one extends it.
        let until = now + delta(shared.settings.lease());
        if attempts > 0 && !database.run_blocking_write(|conn| webhooks::renew(conn, subscription, owner, until))? {
            break;
        }
        attempts += 1;
        let (attempt, retry_after) = send(shared, &due);
        let outcome = shared
            .settings
            .outcome(&due.delivery, &attempt, retry_after, random_fraction());
        match &outcome {
            Outcome::Delivered => {}
            Outcome::RetryAt(at) => log::info!(
                "webhook {subscription}: delivery {} failed ({}), retried at {at}Z",
                due.delivery.message_id,
                attempt
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("HTTP {}", attempt.status_code.unwrap_or(0)))
            ),
            Outcome::GiveUp(reason) => log::warn!(
                "webhook {subscription}: delivery {} given up, subscription paused as failing: {reason}",
                due.delivery.message_id
            ),
        }
        database.run_blocking_write(|conn| webhooks::record_attempt(conn, &due.delivery, &attempt, &outcome))?;
        if outcome != Outcome::Delivered {
            break;
        }
    }
    Ok(attempts)
}

/// One attempt: the payload signed now, POSTed within the timeout, redirects not followed.
fn send(shared: &Shared, due: &Due) -> (Attempt, Option<Duration>) {
    let at = db::now();
    let started = Instant::now();
    let result = post(shared, due);
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let attempt = |status_code, error| Attempt {
        at,
        status_code,
        error,
        duration_ms,
    };
    match result {
        Ok((status, location, retry_after)) => {
            let error = location.map(|location| {
                format!("the receiver answered HTTP {status} to {location}; redirects are not followed: register that URL instead")
            });
            (attempt(Some(i32::from(status)), error), retry_after)
        }
        Err(error) => (attempt(None, Some(error)), None),
    }
}

/// The receiver's status, where it redirected to (a 3xx), and its Retry-After.
type Answer = (u16, Option<String>, Option<Duration>);

fn post(shared: &Shared, due: &Due) -> Result<Answer, String> {
    let body = crate::api::webhooks::WebhookEvent::body(&due.change)?;
    let timestamp = chrono::Utc::now().timestamp();
    let secrets: Vec<&str> = due.secrets.iter().map(String::as_str).collect();
    let signatures = signature::header(&secrets, &due.delivery.message_id, timestamp, &body)?;
    let response = shared
        .agent
        .post(&due.url)
        .header("content-type", "application/json")
        .header("webhook-id", &due.delivery.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signatures)
        .send(&body[..]);
    let mut response = response.map_err(|error| match error {
        ureq::Error::Timeout(_) => format!(
            "no answer within {} (WEBHOOK_TIMEOUT_SECS)",
            humantime::format_duration(shared.settings.timeout)
        ),
        ureq::Error::Other(refusal) => refusal.to_string(),
        other => other.to_string(),
    })?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let location = (300..400)
        .contains(&status)
        .then(|| header("location").unwrap_or_default());
    let retry_after = header("retry-after")
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Read (and drop) what the receiver said, so that its connection can serve the next one.
    let _ = response.body_mut().with_config().limit(ANSWER_LIMIT).read_to_vec();
    Ok((status, location, retry_after))
}

/// A number in [0, 1) for the jitter.
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn settings() -> DeliverySettings {
        DeliverySettings {
            workers: 1,
            timeout: Duration::from_secs(15),
            retry_base: Duration::from_secs(5),
            retry_window: Duration::from_secs(86_400),
            poll: Duration::from_secs(1),
            allow_private: false,
            keep_delivered: Duration::from_secs(30 * 86_400),
        }
    }

    fn delivery(attempts: i32, first: Option<NaiveDateTime>) -> DeliveryRow {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap().naive_utc();
        DeliveryRow {
            id: 1,
            subscription_id: 1,
            change_id: 1,
            message_id: "msg_1".into(),
            status: webhooks::PENDING.into(),
            attempts,
            first_attempt_at: first,
            next_attempt_at: at,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            delivered_at: None,
            created_at: at,
        }
    }

    fn attempt_at(seconds: i64, status_code: Option<i32>) -> Attempt {
        Attempt {
            at: chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0)
                .unwrap()
                .naive_utc(),
            status_code,
            error: None,
            duration_ms: 10,
        }
    }

    #[test]
    fn the_backoff_doubles_within_its_jitter_up_to_an_eighth_of_the_window() {
        let settings = settings();
        for failures in 1..=20 {
            let full =
                (Duration::from_secs(5) * 2u32.pow((failures - 1).min(20) as u32)).min(Duration::from_secs(10_800));
            assert_eq!(settings.backoff(failures, 1.0), full, "failure {failures}");
            assert_eq!(settings.backoff(failures, 0.0), full / 2, "failure {failures}");
        }
    }

    #[test]
    fn a_delivery_is_retried_for_the_window_then_given_up() {
        let settings = settings();
        let first = attempt_at(0, Some(503)).at;
        assert_eq!(
            settings.outcome(&delivery(0, None), &attempt_at(0, Some(200)), None, 0.5),
            Outcome::Delivered
        );
        assert_eq!(
            settings.outcome(&delivery(0, None), &attempt_at(0, Some(204)), None, 0.5),
            Outcome::Delivered
        );
        assert!(matches!(
            settings.outcome(&delivery(0, None), &attempt_at(0, Some(500)), None, 1.0),
            Outcome::RetryAt(at) if at == first + TimeDelta::seconds(5)
        ));
        // A redirect and no answer at all are failures too.
        assert!(matches!(
            settings.outcome(&delivery(3, Some(first)), &attempt_at(60, Some(302)), None, 1.0),
            Outcome::RetryAt(at) if at == first + TimeDelta::seconds(100)
        ));
        assert!(matches!(
            settings.outcome(&delivery(3, Some(first)), &attempt_at(60, None), None, 1.0),
            Outcome::RetryAt(_)
        ));
        // Retry-After, when longer than the backoff, is respected.
        assert!(matches!(
            settings.outcome(&delivery(0, None), &attempt_at(0, Some(503)), Some(Duration::from_secs(120)), 1.0),
            Outcome::RetryAt(at) if at == first + TimeDelta::seconds(120)
        ));
        // The next try would fall after a day from the first attempt: given up.
        assert!(matches!(
            settings.outcome(&delivery(15, Some(first)), &attempt_at(84_000, Some(500)), None, 1.0),
            Outcome::GiveUp(_)
        ));
        assert!(matches!(
            settings.outcome(&delivery(0, None), &attempt_at(0, Some(410)), None, 1.0),
            Outcome::GiveUp(reason) if reason.contains("gone")
        ));
    }

    #[test]
    fn random_fractions_stay_in_the_unit_interval() {
        for _ in 0..1000 {
            let fraction = random_fraction();
            assert!((0.0..1.0).contains(&fraction), "{fraction}");
        }
    }
}
