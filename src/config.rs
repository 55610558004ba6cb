//! Every setting, typed, from the command line or the environment, with a default that works.

use std::time::Duration;

/// Settings shared by every command. Each has an environment variable and a working default.
// No `Debug`: the configuration holds the signing secret, which must never reach a log.
#[derive(clap::Args, Clone)]
pub struct Config {
    /// Database: a SQLite file path (or `sqlite://path`), or a `postgres://` URL.
    #[arg(long, env = "DATABASE_URL", default_value = "strategy.sqlite3", global = true)]
    pub database_url: String,

    /// Address the HTTP server listens on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: String,

    /// Most pooled database connections, and database threads per HTTP worker (on Postgres one
    /// more connection, of its own, reads the data version for every read).
    #[arg(long, env = "POOL_SIZE", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=512), global = true)]
    pub pool_size: u32,

    /// Seconds a request waits for a database connection before it answers 503.
    #[arg(long, env = "POOL_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub pool_timeout_secs: u64,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS", global = true)]
    pub workers: Option<usize>,

    /// HS256 signing secret for the service's own API tokens (`token issue`; at least 32 bytes).
    /// Without it and without a public key or key set, the service is read-only.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,

    /// PEM public key of an identity provider whose tokens are accepted (EdDSA or RS256): one key,
    /// for small deployments; a key set (`JWT_JWKS_FILE`, `JWT_JWKS_URL`) follows key rotation.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<std::path::PathBuf>,

    /// Algorithm of `JWT_PUBLIC_KEY_FILE`: `EdDSA` or `RS256`.
    #[arg(long, env = "JWT_PUBLIC_KEY_ALG", default_value = "EdDSA", value_parser = ["EdDSA", "RS256"], global = true)]
    pub jwt_public_key_alg: String,

    /// The identity provider's key set (JWKS) as a file, read again whenever it changes.
    #[arg(long, env = "JWT_JWKS_FILE", global = true)]
    pub jwt_jwks_file: Option<std::path::PathBuf>,

    /// The identity provider's key set (JWKS) URL: https, or http to a loopback address.
    #[arg(long, env = "JWT_JWKS_URL", global = true)]
    pub jwt_jwks_url: Option<String>,

    /// Signature algorithms accepted from the identity provider (HS* never are).
    #[arg(
        long,
        env = "JWT_ALGORITHMS",
        default_value = "RS256,PS256,ES256,EdDSA",
        global = true
    )]
    pub jwt_algorithms: String,

    /// Seconds a key set fetch may take.
    #[arg(long, env = "JWT_JWKS_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60), global = true)]
    pub jwt_jwks_timeout_secs: u64,

    /// Largest key set accepted, in bytes.
    #[arg(long, env = "JWT_JWKS_MAX_BYTES", default_value_t = 262_144, value_parser = clap::value_parser!(u64).range(1024..=16_777_216), global = true)]
    pub jwt_jwks_max_bytes: u64,

    /// Seconds a key set is kept when its response states no `Cache-Control: max-age`.
    #[arg(long, env = "JWT_JWKS_DEFAULT_TTL_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub jwt_jwks_default_ttl_secs: u64,

    /// Shortest time a key set is kept, whatever its max-age says, in seconds.
    #[arg(long, env = "JWT_JWKS_MIN_TTL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub jwt_jwks_min_ttl_secs: u64,

    /// Longest time a key set is kept, whatever its max-age says, in seconds.
    #[arg(long, env = "JWT_JWKS_MAX_TTL_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=604_800), global = true)]
    pub jwt_jwks_max_ttl_secs: u64,

    /// Seconds between fetches caused by tokens naming an unknown `kid`.
    #[arg(long, env = "JWT_JWKS_COOLDOWN_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub jwt_jwks_cooldown_secs: u64,

    /// Seconds the last good key set keeps verifying while the provider cannot be reached; then
    /// writes answer 503.
    #[arg(long, env = "JWT_JWKS_MAX_STALE_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=2_592_000), global = true)]
    pub jwt_jwks_max_stale_secs: u64,

    /// Accepted `iss` of tokens, a comma list (the first is the issuer of tokens this service issues).
    #[arg(long, env = "JWT_ISSUER", default_value = "strategy-api", global = true)]
    pub jwt_issuer: String,

    /// Accepted `aud` of tokens, a comma list (a token's `aud` may be a string or an array).
    #[arg(long, env = "JWT_AUDIENCE", default_value = "strategy-api", global = true)]
    pub jwt_audience: String,

    /// JSON Pointers of the claims that hold scopes or roles (space-separated strings or arrays); every
    /// one present is read.
    #[arg(long, env = "JWT_SCOPE_CLAIMS", default_value = "/scope,/scp,/roles", global = true)]
    pub jwt_scope_claims: String,

    /// JSON object mapping the provider's roles or scopes to the service's scopes
    /// (`{"Strategy.Admin": ["admin"]}`); when set, only mapped values count.
    #[arg(long, env = "JWT_SCOPE_MAP", global = true)]
    pub jwt_scope_map: Option<String>,

    /// JSON Pointers of the token id, tried in order; revocation keys on the issuer and this id.
    #[arg(long, env = "JWT_ID_CLAIMS", default_value = "/jti,/uti", global = true)]
    pub jwt_id_claims: String,

    /// JSON Pointer of the claim naming the token's department (an id, or a value of `JWT_DEPT_MAP`).
    #[arg(long, env = "JWT_DEPT_CLAIM", default_value = "/dept", global = true)]
    pub jwt_dept_claim: String,

    /// JSON object mapping group or claim values to department ids (`{"grp-kikaku": 3}`).
    #[arg(long, env = "JWT_DEPT_MAP", global = true)]
    pub jwt_dept_map: Option<String>,

    /// JSON Pointer of the claim limiting a token to plans (a plan id, a plan code, or a value of
    /// `JWT_PLAN_MAP`; one or an array).
    #[arg(long, env = "JWT_PLAN_CLAIM", default_value = "/plan", global = true)]
    pub jwt_plan_claim: String,

    /// JSON object mapping plan claim values to plan ids (numbers) or codes (strings).
    #[arg(long, env = "JWT_PLAN_MAP", global = true)]
    pub jwt_plan_map: Option<String>,

    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[arg(long, env = "JWT_LEEWAY_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=300), global = true)]
    pub jwt_leeway_secs: u64,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1024..=16_777_216), global = true)]
    pub max_body_bytes: u64,

    /// Largest accepted body of an import (a whole plan, a results sheet), in bytes.
    #[arg(long, env = "MAX_IMPORT_BYTES", default_value_t = 33_554_432, value_parser = clap::value_parser!(u64).range(65_536..=268_435_456), global = true)]
    pub max_import_bytes: u64,

    /// Seconds a client has to send a request's headers (and to close after a response): a slow
    /// client cannot hold a connection open.
    #[arg(long, env = "CLIENT_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub client_timeout_secs: u64,

    /// Seconds a request may take before it is answered 503 (a streamed body, once started, continues).
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub request_timeout_secs: u64,

    /// Open connections each worker accepts; further clients wait in the listen backlog.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65_536), global = true)]
    pub max_connections: u64,

    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT before the process exits.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=300), global = true)]
    pub shutdown_grace_secs: u64,

    /// Change streams (`/api/v1/changes/stream`) one instance holds open at once; more answer 503.
    #[arg(long, env = "STREAM_MAX_CLIENTS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000), global = true)]
    pub stream_max_clients: u64,

    /// Seconds between the heartbeat comments of an idle change stream (proxies keep it open).
    #[arg(long, env = "STREAM_HEARTBEAT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub stream_heartbeat_secs: u64,

    /// Webhook worker threads of this instance (they share the deliveries of every instance); 0
    /// sends no webhooks from this one.
    #[arg(long, env = "WEBHOOK_WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=64), global = true)]
    pub webhook_workers: u64,

    /// Seconds a webhook attempt may take, connecting included; longer is a failure, retried.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=120), global = true)]
    pub webhook_timeout_secs: u64,

    /// Milliseconds before a failed webhook delivery is tried again; each further failure doubles
    /// it (at most an eighth of the retry window), with jitter.
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..=3_600_000), global = true)]
    pub webhook_retry_base_ms: u64,

    /// Seconds a webhook delivery is retried from its first attempt; then its subscription is
    /// paused as failing.
    #[arg(long, env = "WEBHOOK_RETRY_WINDOW_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=2_592_000), global = true)]
    pub webhook_retry_window_secs: u64,

    /// Milliseconds between an idle webhook worker's looks for deliveries it was not woken for
    /// (retries due, changes written through other instances).
    #[arg(long, env = "WEBHOOK_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000), global = true)]
    pub webhook_poll_ms: u64,

    /// Let webhooks go to loopback, private, link-local and other non-public addresses (a receiver
    /// inside the city's network). Off by default, so that a token holder cannot make the service
    /// probe the internal network.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub webhook_allow_private_targets: bool,

    /// Days delivered webhook deliveries (and their attempts) are kept for the deliveries list;
    /// failed and pending ones are kept until delivered.
    #[arg(long, env = "WEBHOOK_KEEP_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650), global = true)]
    pub webhook_keep_days: u64,

    /// Writes per second from one client address (bursts of twice that); 0 turns the limit off.
    #[arg(long, env = "WRITE_RATE_LIMIT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub write_rate_limit: u32,

    /// Reads per second from one client address (bursts of twice that); 0, the default, turns the limit off.
    #[arg(long, env = "READ_RATE_LIMIT", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub read_rate_limit: u32,

    /// Seconds public caches may keep a read response (`Cache-Control: public, max-age`).
    #[arg(long, env = "CACHE_MAX_AGE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86_400), global = true)]
    pub cache_max_age_secs: u64,

    /// Memory for read responses kept in-process, in MiB; each is served only while the data version
    /// it was built at is still current, so the cache never answers from stale data. 0 turns it off.
    #[arg(long, env = "RESPONSE_CACHE_MIB", default_value_t = 8, value_parser = clap::value_parser!(u64).range(0..=65_536), global = true)]
    pub response_cache_mib: u64,

    /// Origins whose pages may read the API from a browser: `*` or a comma-separated list.
    #[arg(long, env = "CORS_READ_ORIGINS", default_value = "*", global = true)]
    pub cors_read_origins: String,

    /// Origins whose pages may write (with a token) from a browser: a comma-separated list; none by default.
    #[arg(long, env = "CORS_WRITE_ORIGINS", default_value = "", global = true)]
    pub cors_write_origins: String,

    /// The address the public reaches the service at (`https://strategy.example.jp`), for the
    /// absolute addresses the pages' structured data gives; default: `http://` and the request's
    /// `Host`. Forwarded headers are not trusted for this, so no client can make a cached page
    /// point elsewhere.
    #[arg(long, env = "PUBLIC_BASE_URL", value_parser = public_base_url, global = true)]
    pub public_base_url: Option<String>,

    /// Log filter, in env_logger's syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log: String,
}

/// An http(s) origin with an optional path, without query or fragment; kept without a trailing `/`.
fn public_base_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http or https URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("must have no query, fragment or user".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

impl Config {
    /// How the identity provider's key set is fetched and kept.
    pub fn key_settings(&self, algorithms: Vec<jsonwebtoken::Algorithm>) -> crate::auth::KeySettings {
        let seconds = Duration::from_secs;
        crate::auth::KeySettings {
            algorithms,
            timeout: seconds(self.jwt_jwks_timeout_secs),
            max_bytes: self.jwt_jwks_max_bytes,
            default_ttl: seconds(self.jwt_jwks_default_ttl_secs),
            min_ttl: seconds(self.jwt_jwks_min_ttl_secs),
            max_ttl: seconds(self.jwt_jwks_max_ttl_secs.max(self.jwt_jwks_min_ttl_secs)),
            cooldown: seconds(self.jwt_jwks_cooldown_secs),
            max_stale: seconds(self.jwt_jwks_max_stale_secs),
        }
    }

    /// How webhooks are delivered.
    pub fn delivery_settings(&self) -> crate::notify::delivery::DeliverySettings {
        crate::notify::delivery::DeliverySettings {
            workers: usize::try_from(self.webhook_workers).unwrap_or(0),
            timeout: Duration::from_secs(self.webhook_timeout_secs),
            retry_base: Duration::from_millis(self.webhook_retry_base_ms),
            retry_window: Duration::from_secs(self.webhook_retry_window_secs),
            poll: Duration::from_millis(self.webhook_poll_ms),
            allow_private: self.webhook_allow_private_targets,
            keep_delivered: Duration::from_secs(self.webhook_keep_days * 86_400),
        }
    }

    pub fn pool_timeout(&self) -> Duration {
        Duration::from_secs(self.pool_timeout_secs)
    }

    /// A configuration with every default and the given database: what the tests start from.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Defaults::parse_from(["strategy-api"]).config;
        config.database_url = database_url.into();
        config
    }
}

#[cfg(test)]
mod tests {
    /// Every setting is in the README's configuration table, so that operators find it there.
    #[test]
    fn the_readme_lists_every_setting() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Settings {
            #[command(flatten)]
            config: super::Config,
        }
        let readme = include_str!("../README.md");
        let table = &readme[readme.find("## Configuration").expect("a configuration section")..];
        let missing: Vec<String> = Settings::command()
            .get_arguments()
            .filter_map(|argument| argument.get_env())
            .map(|name| name.to_string_lossy().into_owned())
            .filter(|name| !table.contains(&format!("`{name}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "not in the README's configuration table: {missing:?}"
        );
    }
}
