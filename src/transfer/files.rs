//! Plans as files, for the command line: `strategy-api export` and `strategy-api import`.

use std::io::Write;

use crate::api::export;
use crate::db::{plans, Database};
use crate::error::ApiError;

use super::bundle::Bundle;
use super::document::PlanDocument;
use super::load::{self, Actor, Counts};

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// The plan document, as `GET /api/v1/plans/{id}/export` answers it.
    Json,
    /// The zip of CSVs, as `GET /api/v1/plans/{id}/export.zip` answers it.
    Zip,
}

fn plan_id(database: &Database, code: &str) -> Result<i64, ApiError> {
    let code = code.to_string();
    database
        .run_blocking(move |conn| plans::id_of_code(conn, &code))?
        .ok_or_else(|| ApiError::not_found("plan", "with this code"))
}

/// Writes the plan with `code` to `out`, byte for byte what the API answers.
pub fn export(
    database: Database,
    code: &str,
    format: FileFormat,
    out: &mut impl Write,
) -> Result<(), Box<dyn std::error::Error>> {
    let id = plan_id(&database, code)?;
    match format {
        FileFormat::Json => {
            let document = database.run_blocking(|conn| export::plan_export(conn, id))?;
            serde_json::to_writer(&mut *out, &document)?;
        }
        FileFormat::Zip => {
            let bytes = actix_web::rt::System::new().block_on(async move {
                let (sink, mut source) = tokio::io::duplex(64 * 1024);
                let writer = actix_web::rt::spawn(export::write_zip(std::sync::Arc::new(database), id, sink));
                let mut bytes = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut source, &mut bytes).await?;
                writer
                    .await
                    .map_err(|error| std::io::Error::other(error.to_string()))?
                    .map_err(|error| std::io::Error::other(error.to_string()))?;
                Ok::<_, std::io::Error>(bytes)
            })?;
            out.write_all(&bytes)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Imports (or with `dry_run` only checks) a plan document or an export.zip; answers the new plan's id and the
/// records created, or the problem with every failing place.
pub fn import(database: &Database, file: &[u8], dry_run: bool) -> Result<(Option<i64>, Counts), ApiError> {
    // An export.zip (its records named by file, row and column on failure) or a plan document.
    if file.starts_with(b"PK\x03\x04") {
        let bundle = Bundle::read(file)?;
        return import_document(database, &bundle.document, dry_run).map_err(|failure| bundle.named(failure));
    }
    import_document(database, file, dry_run)
}

fn import_document(database: &Database, document: &[u8], dry_run: bool) -> Result<(Option<i64>, Counts), ApiError> {
    let document = PlanDocument::parse(document)?;
    let subject = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
    database.run_blocking(move |conn| {
        crate::db::write::write_transaction(conn, |conn| {
            if dry_run {
                return load::dry_run(conn, &document, &subject);
            }
            let (id, counts) = load::import(conn, &document, &subject)?;
            let actor = Actor {
                subject: &subject,
                jti: "-",
                method: "CLI",
            };
            load::audit_created(conn, &actor, id)?;
            Ok((Some(id), counts))
        })
    })
}
