//! Every setting, typed, from the command line or the environment, with a default that works.

use std::time::Duration;

/// Settings shared by every command. Each has an environment variable and a working default.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// Database: a SQLite file path (or `sqlite://path`), or a `postgres://` URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "strategy.sqlite3",
        global = true
    )]
    pub database_url: String,

    /// Address the HTTP server listens on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: String,

    /// Most database connections the service keeps open.
    #[arg(long, env = "POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=512), global = true)]
    pub pool_size: u32,

    /// Seconds a request waits for a database connection before it answers 503.
    #[arg(long, env = "POOL_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub pool_timeout_secs: u64,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Log filter, in env_logger's syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log: String,
}

impl Config {
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
