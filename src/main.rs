//! The `strategy-api` command: serve the API, migrate, seed, or print the OpenAPI document.

use clap::{Parser, Subcommand};
use strategy_api::auth::{Authenticator, PlanLimit, Scope};
use strategy_api::config::Config;
use strategy_api::dataset::Dataset;
use strategy_api::db::seed::{self, SeedOutcome};
use strategy_api::db::synthetic;
use strategy_api::db::write::{self, TokenRow};
use strategy_api::db::{self, Database};
use strategy_api::startup::Application;
use strategy_api::transfer::files::{self, FileFormat};

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
    Seed {
        /// Scale mode: also add copies of the strategy as further plans until there are N plans
        /// of it in all (45·N KPIs), in one transaction.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=100_000))]
        synthetic: Option<i64>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Write a whole plan to standard output (or --output): the plan document or the zip of CSVs.
    Export {
        /// The plan's code, like atsugi-2.
        #[arg(long)]
        plan: String,
        #[arg(long, value_enum, default_value = "json")]
        format: FileFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Copy a whole database (every plan, result, revision, evaluation, audit record, token and
    /// revocation, and the data version) into an empty one, SQLite or Postgres, and check that both
    /// hold the same (rows and a digest per table).
    Copy {
        /// The database to copy: a SQLite file or a postgres:// URL.
        #[arg(long)]
        from: String,
        /// The database to copy into (migrated first); it must hold no data unless --force.
        #[arg(long)]
        to: String,
        /// Replace whatever the target holds.
        #[arg(long)]
        force: bool,
    },
    /// Write a consistent copy of the SQLite database to FILE, while the service runs.
    Backup {
        /// A new file for the copy.
        file: std::path::PathBuf,
    },
    /// Create a plan from a plan document or an export.zip (as `export` writes them), in one transaction.
    Import {
        /// The plan document (JSON) or an export.zip of CSVs; `-` reads standard input.
        file: std::path::PathBuf,
        /// Check everything and print what would be created, changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Issue, revoke and list API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new token (HS256, signed with JWT_SECRET).
    Issue {
        /// Who holds it: shown in the audit record.
        #[arg(long)]
        sub: String,
        /// admin, kpis:write or projects:write (repeat for several).
        #[arg(long = "scope", required = true, num_args = 1.., value_parser = ["admin", "kpis:write", "projects:write"])]
        scopes: Vec<String>,
        /// Limit the token to this department (its id): projects with a responsible division in it,
        /// and KPIs (and their results, also from a sheet) of initiatives in which it has a project.
        #[arg(long)]
        dept: Option<i64>,
        /// Limit the token to one plan, by its code (or its id): it writes no other plan's records.
        #[arg(long)]
        plan: Option<String>,
        /// Lifetime, like 30d, 12h or 90m.
        #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
    },
    /// Refuse a token from now on, on every instance sharing the database.
    Revoke {
        /// The token's id: its `jti` (or, for an Entra ID token, its `uti`).
        jti: String,
        /// Revoke the id only for tokens of this issuer (`iss`); without it, from every issuer.
        #[arg(long)]
        issuer: Option<String>,
    },
    /// List issued and revoked tokens (ids and claims, never a token or secret).
    List,
}

fn main() -> std::process::ExitCode {
    strategy_api::memory::limit_arenas();
    let cli = Cli::parse();
    env_logger::Builder::new().parse_filters(&cli.config.log).init();
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
        Command::Seed { synthetic } => {
            let database = open(&config);
            database.run_blocking(db::migrate)?;
            let dataset = Dataset::atsugi_2();
            match database.run_blocking(|conn| seed::seed(conn, &dataset))? {
                SeedOutcome::Loaded { plan_id } => {
                    log::info!("loaded the strategy as plan {plan_id}")
                }
                SeedOutcome::AlreadyPresent { plan_id } => {
                    log::info!("the strategy is already plan {plan_id}")
                }
            }
            if let Some(total) = synthetic {
                let started = std::time::Instant::now();
                let outcome = database.run_blocking(|conn| synthetic::add_copies(conn, &dataset.plan.code, total))?;
                database.run_blocking(db::analyze)?;
                log::info!(
                    "added {} synthetic copies of the strategy in {} ms: {} plans of it in all",
                    outcome.added,
                    started.elapsed().as_millis(),
                    outcome.plans
                );
            }
            Ok(())
        }
        Command::Token(command) => token(&config, command),
        Command::Export { plan, format, output } => {
            let database = open(&config);
            database.run_blocking(db::migrate)?;
            match output {
                Some(path) => files::export(
                    database,
                    &plan,
                    format,
                    &mut std::io::BufWriter::new(std::fs::File::create(path)?),
                ),
                None => files::export(database, &plan, format, &mut std::io::stdout().lock()),
            }
        }
        Command::Copy { from, to, force } => {
            let started = std::time::Instant::now();
            let copied = db::copy::copy(&from, &to, force, config.pool_timeout())?;
            println!("{:<22} {:>8}  sha256", "table", "rows");
            for table in &copied.tables {
                println!("{:<22} {:>8}  {}", table.table, table.rows, table.sha256);
            }
            let rows: usize = copied.tables.iter().map(|table| table.rows).sum();
            println!(
                "copied {} tables, {rows} rows, in {} ms: the target holds the same as the source",
                copied.tables.len(),
                started.elapsed().as_millis()
            );
            Ok(())
        }
        Command::Backup { file } => {
            let database = open(&config);
            db::copy::backup(&database, &file)?;
            println!("backed up {} to {}", database.backend().display(), file.display());
            Ok(())
        }
        Command::Import { file, dry_run } => {
            let document = if file.as_os_str() == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
                bytes
            } else {
                std::fs::read(&file)?
            };
            let database = open(&config);
            database.run_blocking(db::migrate)?;
            match files::import(&database, &document, dry_run) {
                Ok((plan_id, created)) => {
                    let report = serde_json::json!({"dry_run": dry_run, "plan_id": plan_id, "created": created});
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    Ok(())
                }
                Err(problem) => Err(describe(&problem).into()),
            }
        }
        Command::Serve => {
            Authenticator::offline(&config)?;
            let database = Database::new(&config.database_url, config.pool_size, config.pool_timeout());
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
                // What start-up freed (the seed data, the OpenAPI document's objects) goes back.
                strategy_api::memory::release_freed();
                log::info!("listening on http://{} (Swagger UI at /docs/)", config.bind);
                application.run_until_stopped().await
            })?;
            Ok(())
        }
    }
}

fn token(config: &Config, command: TokenCommand) -> Result<(), Box<dyn std::error::Error>> {
    let database = open(config);
    database.run_blocking(db::migrate)?;
    match command {
        TokenCommand::Issue {
            sub,
            scopes,
            dept,
            plan,
            ttl,
        } => {
            let authenticator = Authenticator::offline(config)?;
            let scopes: Vec<Scope> = scopes.iter().filter_map(|scope| Scope::parse(scope)).collect();
            let plan = plan.as_deref().map(PlanLimit::of_text);
            let (token, claims) = authenticator.issue(&sub, &scopes, dept, plan.as_ref(), ttl)?;
            let at = |seconds: i64| chrono::DateTime::from_timestamp(seconds, 0).map(|time| time.naive_utc());
            database.run_blocking(|conn| {
                write::record_issued_token(
                    conn,
                    &TokenRow {
                        issuer: claims.iss.clone(),
                        jti: claims.jti.clone(),
                        subject: claims.sub.clone(),
                        scopes: claims.scope.clone(),
                        department_id: claims.dept,
                        plan: claims
                            .plan
                            .as_ref()
                            .map(|plan| plan.to_string().trim_matches('"').to_string()),
                        issued_at: at(claims.iat),
                        expires_at: at(claims.exp),
                        revoked_at: None,
                    },
                )
            })?;
            log::info!(
                "issued token {} to {} ({}), expires {}",
                claims.jti,
                claims.sub,
                claims.scope,
                claims.exp
            );
            println!("{token}");
        }
        TokenCommand::Revoke { jti, issuer } => {
            let issuer = issuer.unwrap_or_default();
            let revoked = database.run_blocking(|conn| write::revoke_token(conn, &issuer, &jti, db::now()))?;
            println!(
                "{}",
                if revoked {
                    format!("revoked {jti}")
                } else {
                    format!("{jti} was already revoked")
                }
            );
        }
        TokenCommand::List => {
            let shown = |time: Option<chrono::NaiveDateTime>| time.map_or("-".to_string(), |time| format!("{time}Z"));
            println!(
                "{:<36}  {:<24}  {:<24}  {:<30}  {:<5}  {:<12}  {:<27}  {:<27}  revoked",
                "jti", "issuer", "subject", "scopes", "dept", "plan", "issued", "expires"
            );
            for token in database.run_blocking(write::list_tokens)? {
                println!(
                    "{:<36}  {:<24}  {:<24}  {:<30}  {:<5}  {:<12}  {:<27}  {:<27}  {}",
                    token.jti,
                    if token.issuer.is_empty() {
                        "(any)"
                    } else {
                        &token.issuer
                    },
                    token.subject,
                    token.scopes,
                    token.department_id.map_or("-".to_string(), |dept| dept.to_string()),
                    token.plan.as_deref().unwrap_or("-"),
                    shown(token.issued_at),
                    shown(token.expires_at),
                    shown(token.revoked_at)
                );
            }
        }
    }
    Ok(())
}

/// A refused import, every failing place on a line of its own.
fn describe(problem: &strategy_api::error::ApiError) -> String {
    use strategy_api::error::ApiError;
    match problem {
        ApiError::BadRequest { errors, .. } | ApiError::Unprocessable { errors, .. } => {
            let lines: Vec<String> = errors
                .iter()
                .map(|error| format!("  {}: {}", error.field, error.message))
                .collect();
            format!(
                "the document was not imported; nothing was written:\n{}",
                lines.join("\n")
            )
        }
        other => format!("the document was not imported; nothing was written: {other}"),
    }
}

/// The database of a command that runs and exits.
fn open(config: &Config) -> Database {
    Database::for_command(&config.database_url, config.pool_timeout())
}
