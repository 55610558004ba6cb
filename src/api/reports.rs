//! `/plans/{id}/report.xlsx`: the evaluation report as the KPI list the city's staff keep in Excel.

use actix_web::{get, web, HttpRequest, HttpResponse};

use super::export::ZipArchive as Binary;
use super::result_sheets::{attachment, XLSX};
use super::QueryParams;
use crate::db::Database;
use crate::error::{ApiError, ItemErrors};
use crate::report::{self, Moment};

/// Which moment a report shows.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The results and targets as they stood then (from the audit history): a date (the end of
    /// that day in Japan, UTC+9) or an RFC 3339 time. Default: now.
    #[param(example = "2026-06-30", inline)]
    pub as_of: Option<crate::api::query::documented::Moment>,
}

/// Reads `as_of`, or (on the report page) `evaluation`, not both; the caller finishes the parameters.
pub(crate) fn moment_of(params: &mut QueryParams) -> Result<Moment, ApiError> {
    let as_of = params.moment("as_of")?;
    let evaluation = params.id("evaluation")?;
    match (as_of, evaluation) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "evaluation",
            "shows the plan as the evaluation froze it; it cannot be combined with as_of",
        )),
        (Some(at), None) => Ok(Moment::AsOf(at)),
        (None, Some(id)) => Ok(Moment::Evaluation(id)),
        (None, None) => Ok(Moment::Now),
    }
}

/// The workbook of a report, named after the plan and the moment.
async fn workbook(db: web::Data<Database>, plan_id: i64, moment: Moment) -> Result<HttpResponse, ApiError> {
    let report = db.run(move |conn| report::load(conn, plan_id, moment)).await?;
    let file = format!("{}-report{}.xlsx", report.plan.plan.code, report.standing.file_suffix());
    let body = web::block(move || report::workbook::to_xlsx(&report))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))??;
    Ok(attachment(body, XLSX, file))
}

/// The evaluation report as an Excel workbook: one row per KPI with goal, measure, initiative,
/// name, unit, baseline, original and current target, a column of results per fiscal year,
/// achievement, status, grade and divisions; numbers as numbers in their published places.
#[utoipa::path(
    operation_id = "getPlanReport",
    tag = "plans",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1), ReportParams),
    responses(
        (status = 200, description = "The report", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = inline(Binary)),
        ItemErrors,
    )
)]
#[get("/plans/{id}/report.xlsx")]
pub async fn report_xlsx(
    db: web::Data<Database>,
    request: HttpRequest,
    plan: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let moment = params.moment("as_of")?.map_or(Moment::Now, Moment::AsOf);
    params.finish()?;
    workbook(db, plan.into_inner(), moment).await
}

/// The same workbook as a frozen evaluation judged the plan: each KPI as the evaluation froze it,
/// with the results recorded by then up to the fiscal year it evaluated.
#[utoipa::path(
    operation_id = "getEvaluationReport",
    tag = "evaluations",
    params(
        ("id" = i64, Path, description = "Plan id", example = 1, minimum = 1),
        ("evaluation" = i64, Path, description = "Evaluation id", example = 1, minimum = 1),
    ),
    responses(
        (status = 200, description = "The report", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = inline(Binary)),
        ItemErrors,
    )
)]
#[get("/plans/{id}/evaluations/{evaluation}/report.xlsx")]
pub async fn evaluation_report_xlsx(
    db: web::Data<Database>,
    request: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(request.query_string())?.finish()?;
    let (plan_id, evaluation) = path.into_inner();
    workbook(db, plan_id, Moment::Evaluation(evaluation)).await
}
