//! `/kpis/{id}/target-revisions`: revising a KPI's target (目標値の見直し) while keeping the
//! original on record, so that past achievement can still be read against it.

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::kpis::{KpiRecord, Measurement};
use super::records::{self, Record, Writer};
use super::utc;
use crate::db::kpis as kpi_store;
use crate::db::revisions::{self, Revision, RevisionRow};
use crate::db::{self, Database};
use crate::domain::validate::{Checks, MAX_DESCRIPTION};
use crate::error::{ApiError, PatchErrors};

/// One revision of a KPI's target.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetRevision {
    /// The target before this revision (for the first revision: the original target).
    pub previous: Measurement,
    /// The target this revision set.
    pub target: Measurement,
    /// Why the target was revised.
    #[schema(example = "国の目標見直しに合わせて上方修正")]
    pub reason: String,
    /// Who revised it: the token's subject.
    #[schema(example = "planning@city.atsugi.kanagawa.jp")]
    pub revised_by: String,
    pub revised_at: DateTime<Utc>,
}

impl TargetRevision {
    /// The revision, in the year type of the KPI's target.
    pub fn new(row: RevisionRow, year_type: &str) -> Self {
        TargetRevision {
            previous: Measurement::new(row.previous_value, row.previous_year, year_type),
            target: Measurement::new(row.value, row.year, year_type),
            reason: row.reason,
            revised_by: row.revised_by,
            revised_at: utc(row.revised_at),
        }
    }
}

/// A new target for a KPI and why.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetRevisionForm {
    /// The new target, as a number or a string ("99.10").
    #[serde(default, deserialize_with = "crate::domain::input::decimal::deserialize")]
    #[schema(schema_with = crate::domain::input::decimal::schema)]
    pub value: Option<String>,
    /// The new target year, of the target's year type (not before the baseline year).
    #[schema(example = 2026, minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub year: i32,
    /// Why the target is revised: kept with the revision.
    #[schema(example = "国の目標見直しに合わせて上方修正", min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Revise a KPI's target (`kpis:write`), under the KPI's If-Match: the KPI's `target` becomes the
/// new one, and the revision (previous and new target, reason, who, when) is added to its
/// `target_revisions`. Answers the KPI as it now is.
#[utoipa::path(
    operation_id = "reviseKpiTarget",
    tag = "kpis",
    params(("id" = i64, Path, description = "KPI id", example = 1, minimum = 1), super::records::IfMatch),
    request_body(content = TargetRevisionForm, content_type = "application/json"),
    security(("bearer" = ["kpis:write"])),
    responses(
        (status = 200, description = "Revised: the KPI with its new target", body = super::kpis::Kpi, headers(("ETag" = String))),
        PatchErrors,
    )
)]
#[post("/kpis/{id}/target-revisions")]
pub async fn revise(
    db: web::Data<Database>,
    writer: Writer,
    request: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let parsed = records::parse_input::<TargetRevisionForm>(records::json_body(&request, &body)?)?;
    let mut checks = Checks::default();
    if let Some(value) = &parsed.input.value {
        checks.decimal("value", value);
    }
    checks.year("year", parsed.input.year);
    checks.text("reason", &parsed.input.reason, MAX_DESCRIPTION);
    let form = parsed.finish(checks.finish())?;
    let id = id.into_inner();
    records::change::<KpiRecord>(&db, writer, id, move |conn, writer, before| {
        let mut kpi = KpiRecord::input_of(before);
        kpi.target.value = form.value.clone();
        kpi.target.year = form.year;
        // The KPI's own rules hold for the new target (a value, not before the baseline), named as here.
        kpi_store::validate(conn, &kpi, Some(id))
            .map_err(|refusal| refusal.renamed(|field| field.trim_start_matches("target.").to_string()))?;
        revisions::record(
            conn,
            id,
            &Revision {
                value: form.value,
                year: form.year,
                reason: form.reason,
                revised_by: writer.subject().to_string(),
                revised_at: db::now(),
            },
        )?;
        KpiRecord::update(conn, id, &kpi)
    })
    .await
}
