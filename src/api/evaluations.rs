//! `/plans/{id}/evaluations`: yearly evaluations frozen by an admin, as JSON or CSV.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::kpis::Kpi;
use super::progress::{rollup, tally, StatusCounts};
use super::records::{self, Writer};
use super::{list_response, utc, Collection, Format, OutputParams, PageParams, QueryParams};
use crate::auth::Scope;
use crate::db::evaluations::{self as store, EvaluationRow, ItemRow};
use crate::db::goals::CommonFilter;
use crate::db::kpis::KpiFilter;
use crate::db::results::ResultView;
use crate::db::write::Operation;
use crate::db::{Database, DbConnection};
use crate::domain::progress::Status;
use crate::domain::validate::{Checks, MAX_NAME};
use crate::error::{ApiError, CreateErrors, ItemErrors, ListErrors};

/// An evaluation without its items.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationSummary {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = 1)]
    pub plan_id: i64,
    /// The fiscal year evaluated: each KPI's latest result up to this year counts.
    #[schema(example = 2024)]
    pub fiscal_year: i32,
    #[schema(example = "令和6年度 総合戦略評価")]
    pub title: String,
    /// Who froze it: the token's subject.
    #[schema(example = "kikaku-admin")]
    pub created_by: String,
    /// When the evaluation was frozen.
    pub created_at: DateTime<Utc>,
}

/// A frozen evaluation: every KPI as it stood when it was taken. It never changes afterwards.
#[derive(Debug, Serialize, ToSchema)]
pub struct Evaluation {
    #[serde(flatten)]
    pub summary: EvaluationSummary,
    pub counts: StatusCounts,
    /// Mean achievement of the KPIs with a measured result.
    pub mean_achievement: Option<f64>,
    pub items: Vec<EvaluationItem>,
}

/// One KPI in an evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationItem {
    #[schema(example = 1)]
    pub kpi_id: i64,
    #[schema(example = "1-1-1-1")]
    pub kpi_code: String,
    #[schema(example = "国内友好都市との交流活動件数")]
    pub kpi_name: String,
    #[schema(example = "件")]
    pub unit: String,
    #[schema(example = "increase")]
    pub direction: String,
    pub baseline_value: Option<String>,
    /// The target the KPI was judged against: the current one when the evaluation was frozen.
    pub target_value: Option<String>,
    pub target_year: Option<i32>,
    /// The original target where it had been revised by then (else null), and the achievement
    /// against it.
    pub original_target_value: Option<String>,
    pub original_target_year: Option<i32>,
    pub original_achievement: Option<f64>,
    /// Year of the result evaluated (the latest up to the fiscal year), null without one.
    pub result_year: Option<i32>,
    pub result_value: Option<String>,
    pub achievement: Option<f64>,
    pub expected: Option<f64>,
    pub status: Status,
    pub grade: Option<String>,
}

/// What an admin sends to freeze an evaluation.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationForm {
    /// The fiscal year evaluated (within the plan's period).
    #[schema(example = 2024, minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub fiscal_year: i32,
    #[schema(example = "令和6年度 総合戦略評価", min_length = 1, max_length = 200)]
    pub title: String,
}

impl From<EvaluationRow> for EvaluationSummary {
    fn from(row: EvaluationRow) -> Self {
        EvaluationSummary {
            id: row.id,
            plan_id: row.plan_id,
            fiscal_year: row.fiscal_year,
            title: row.title,
            created_by: row.created_by,
            created_at: utc(row.created_at),
        }
    }
}

impl From<ItemRow> for EvaluationItem {
    fn from(row: ItemRow) -> Self {
        EvaluationItem {
            status: Status::ALL
                .into_iter()
                .find(|status| status.as_str() == row.status)
                .unwrap_or(Status::NoData),
            kpi_id: row.kpi_id,
            kpi_code: row.kpi_code,
            kpi_name: row.kpi_name,
            unit: row.unit,
            direction: row.direction,
            baseline_value: row.baseline_value,
            target_value: row.target_value,
            target_year: row.target_year,
            original_target_value: row.original_target_value,
            original_target_year: row.original_target_year,
            original_achievement: row.original_achievement,
            result_year: row.result_year,
            result_value: row.result_value,
            achievement: row.achievement,
            expected: row.expected,
            grade: row.grade,
        }
    }
}

impl From<&Kpi> for ItemRow {
    fn from(kpi: &Kpi) -> Self {
        ItemRow {
            kpi_id: kpi.id,
            kpi_code: kpi.code.clone(),
            kpi_name: kpi.name.clone(),
            unit: kpi.unit.clone(),
            direction: kpi.direction.as_str().to_string(),
            baseline_value: kpi.baseline.value_text.clone(),
            target_value: kpi.target.value_text.clone(),
            target_year: Some(kpi.target.year),
            original_target_value: kpi
                .target_revisions
                .first()
                .and_then(|revision| revision.previous.value_text.clone()),
            original_target_year: kpi.target_revisions.first().map(|revision| revision.previous.year),
            original_achievement: kpi
                .original_target_progress
                .as_ref()
                .and_then(|progress| progress.achievement),
            result_year: kpi.progress.latest_year,
            result_value: kpi.progress.latest_value_text.clone(),
            achievement: kpi.progress.achievement,
            expected: kpi.progress.expected,
            status: kpi.progress.status.as_str().to_string(),
            grade: kpi.progress.grade.clone(),
        }
    }
}

/// Every evaluation of a plan with its items, oldest first (for the export).
pub(crate) fn of_plan(conn: &mut DbConnection, plan_id: i64) -> Result<Vec<Evaluation>, ApiError> {
    let page = crate::db::Page {
        limit: i64::from(i32::MAX),
        offset: 0,
        sort: Vec::new(),
    };
    let mut evaluations = Vec::new();
    for summary in store::list(conn, plan_id, page)?.items {
        let (row, items) = store::get(conn, plan_id, summary.id)?;
        evaluations.push(Evaluation::new(row, items));
    }
    Ok(evaluations)
}

impl Evaluation {
    fn new(row: EvaluationRow, items: Vec<ItemRow>) -> Self {
        let items: Vec<EvaluationItem> = items.into_iter().map(Into::into).collect();
        let (counts, mean_achievement) = tally(items.iter().map(|item| (item.status, item.achievement)));
        Evaluation {
            summary: row.into(),
            counts,
            mean_achievement,
            items,
        }
    }
}

/// Freeze an evaluation of the plan's KPIs (admin): each KPI's latest result up to the fiscal
/// year, with achievement, status and grade as they are now. It never changes afterwards.
#[utoipa::path(
    operation_id = "createPlanEvaluation",
    tag = "evaluations",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1)),
    request_body(content = EvaluationForm, content_type = "application/json"),
    security(("bearer" = ["admin"])),
    responses(
        (status = 201, description = "Frozen", body = Evaluation, headers(("Location" = String))),
        (status = 404, response = crate::error::responses::NotFound),
        CreateErrors,
    )
)]
#[post("/plans/{id}/evaluations")]
pub async fn create(
    db: web::Data<Database>,
    writer: Writer,
    request: HttpRequest,
    plan: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    writer.require(Scope::Admin)?;
    let plan_id = plan.into_inner();
    let parsed = records::parse_input::<EvaluationForm>(records::json_body(&request, &body)?)?;
    let (id, after) = db
        .write(move |conn| {
            let plan = crate::db::plans::get(conn, plan_id)?.0;
            writer.check_plan(conn, plan_id)?;
            let mut checks = Checks::default();
            checks.text("title", &parsed.input.title, MAX_NAME);
            let year = parsed.input.fiscal_year;
            checks.year("fiscal_year", year);
            let of_plan = plan.period_start_year - 10..=plan.period_end_year;
            if crate::domain::validate::YEARS.contains(&year) && !of_plan.contains(&year) {
                checks.refuse(
                    "fiscal_year",
                    format!("must be a year of the plan, up to {}", plan.period_end_year),
                );
            }
            let form = parsed.finish(checks.finish())?;
            let filter = KpiFilter {
                common: CommonFilter {
                    plan: Some(plan_id),
                    code: None,
                },
                ..Default::default()
            };
            let view = ResultView {
                as_of: None,
                up_to_year: Some(form.fiscal_year),
            };
            let items: Vec<ItemRow> = rollup(conn, &filter, view)?.items.iter().map(ItemRow::from).collect();
            let id = store::create(
                conn,
                plan_id,
                form.fiscal_year,
                &form.title,
                writer.subject(),
                crate::db::now(),
                &items,
            )?;
            let (row, items) = store::get(conn, plan_id, id)?;
            let after = records::to_json(&Evaluation::new(row, items))?;
            records::audit_write(conn, &writer, "evaluation", id, Operation::Create, None, Some(&after))?;
            Ok((id, after))
        })
        .await?;
    Ok(records::written(
        StatusCode::CREATED,
        after,
        Some(format!("/api/v1/plans/{plan_id}/evaluations/{id}")),
    ))
}

/// The plan's evaluations, oldest first.
#[utoipa::path(
    operation_id = "listPlanEvaluations",
    tag = "evaluations",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1), PageParams, OutputParams),
    responses(
        (status = 200, description = "A page of evaluations", content((Collection<EvaluationSummary> = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::error::responses::NotFound),
        ListErrors,
    )
)]
#[get("/plans/{id}/evaluations")]
pub async fn list(
    db: web::Data<Database>,
    request: HttpRequest,
    plan: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let plan_id = plan.into_inner();
    let mut params = QueryParams::parse(request.query_string())?;
    let output = params.output(&request)?;
    let page = params.page(store::EVALUATION_SORT)?;
    params.finish()?;
    list_response::<_, EvaluationSummary, _>(&db, &request, page, output, move |conn, page| {
        crate::db::plans::get(conn, plan_id)?;
        store::list(conn, plan_id, page)
    })
    .await
}

/// Output format of an evaluation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    /// `json` (default) or `csv`; `Accept: text/csv` also gives CSV.
    #[param(inline)]
    pub format: Option<Format>,
}

/// One evaluation with every KPI as it stood, as JSON or as CSV (UTF-8, CRLF, one header row).
#[utoipa::path(
    operation_id = "getPlanEvaluation",
    tag = "evaluations",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1),
           ("evaluation" = i64, Path, description = "Evaluation id", example = 1, minimum = 1), FormatParams),
    responses(
        (status = 200, description = "The evaluation", content(
            (Evaluation = "application/json"),
            (String = "text/csv", example = "kpi_code,kpi_name,unit,direction,baseline_value,target_value,target_year,original_target_value,original_target_year,original_achievement,result_year,result_value,achievement,expected,status,grade\\r\\n")
        )),
        ItemErrors,
    )
)]
#[get("/plans/{id}/evaluations/{evaluation}")]
pub async fn get(
    db: web::Data<Database>,
    request: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (plan_id, id) = path.into_inner();
    let mut params = QueryParams::parse(request.query_string())?;
    let format = params.choice::<Format>("format")?;
    params.finish()?;
    let wants_csv = match format {
        Some(format) => format == Format::Csv,
        None => request
            .headers()
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
    };
    let (row, items) = db.run(move |conn| store::get(conn, plan_id, id)).await?;
    let evaluation = Evaluation::new(row, items);
    if !wants_csv {
        return Ok(HttpResponse::Ok().json(evaluation));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"evaluation-{id}.csv\""),
        ))
        .body(csv_of(&evaluation.items)?))
}

/// RFC 4180 CSV with CRLF line ends and one header row: the columns are the JSON field names.
fn csv_of(items: &[EvaluationItem]) -> Result<Vec<u8>, ApiError> {
    let failed = |error: csv::Error| ApiError::Internal(error.to_string());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record([
            "kpi_code",
            "kpi_name",
            "unit",
            "direction",
            "baseline_value",
            "target_value",
            "target_year",
            "original_target_value",
            "original_target_year",
            "original_achievement",
            "result_year",
            "result_value",
            "achievement",
            "expected",
            "status",
            "grade",
        ])
        .map_err(failed)?;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let number = |value: Option<f64>| value.map(|value| value.to_string()).unwrap_or_default();
    let year = |value: Option<i32>| value.map(|year| year.to_string()).unwrap_or_default();
    for item in items {
        writer
            .write_record([
                item.kpi_code.clone(),
                item.kpi_name.clone(),
                item.unit.clone(),
                item.direction.clone(),
                text(&item.baseline_value),
                text(&item.target_value),
                year(item.target_year),
                text(&item.original_target_value),
                year(item.original_target_year),
                number(item.original_achievement),
                year(item.result_year),
                text(&item.result_value),
                number(item.achievement),
                number(item.expected),
                item.status.as_str().to_string(),
                text(&item.grade),
            ])
            .map_err(failed)?;
    }
    writer
        .into_inner()
        .map_err(|error| ApiError::Internal(error.to_string()))
}
