//! The `strategy-api` command: serve the API, migrate, seed, or print the OpenAPI document.

use clap::{Parser, Subcommand};
use strategy_api::config::Config;
use strategy_api::dataset::Dataset;
use strategy_api::db::seed::{self, SeedOutcome};
use strategy_api::db::{self, Database};
use strategy_api::startup::Application;

#[derive(Parser)]
#[command(
    name = "strategy-api",
    version,
    about = "Atsugi City's regional-revitalization strategy as a JSON REST API"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, seed an empty database, and serve HTTP (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Load the bundled strategy (idempotent: a plan already present is left as it is).
    Seed,
    /// Print the OpenAPI document.
    Openapi,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::new()
        .parse_filters(&cli.config.log)
        .init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            eprintln!("strategy-api: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", strategy_api::openapi::document_json());
            Ok(())
        }
        Command::Migrate => {
            let database = open(&config);
            database.run_blocking(db::migrate)?;
            log::info!("migrations applied to {}", database.backend().display());
            Ok(())
        }
        Command::Seed => {
            let database = open(&config);
            database.run_blocking(db::migrate)?;
            match database.run_blocking(|conn| seed::seed(conn, &Dataset::atsugi_2()))? {
                SeedOutcome::Loaded { plan_id } => {
                    log::info!("loaded the strategy as plan {plan_id}")
                }
                SeedOutcome::AlreadyPresent { plan_id } => {
                    log::info!("the strategy is already plan {plan_id}")
                }
            }
            Ok(())
        }
        Command::Serve => {
            let database = open(&config);
            let started = std::time::Instant::now();
            database.run_blocking(|conn| {
                db::migrate(conn)?;
                seed::seed_if_empty(conn, &Dataset::atsugi_2())
            })?;
            log::info!(
                "{} migrated and seeded in {} ms",
                database.backend().display(),
                started.elapsed().as_millis()
            );
            actix_web::rt::System::new().block_on(async move {
                let application = Application::build(&config, database)?;
                log::info!("listening on http://{} (Swagger UI at /docs/)", config.bind);
                application.run_until_stopped().await
            })?;
            Ok(())
        }
    }
}

fn open(config: &Config) -> Database {
    Database::new(
        &config.database_url,
        config.pool_size,
        config.pool_timeout(),
    )
}
