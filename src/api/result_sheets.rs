//! `/plans/{id}/results/template.{xlsx,csv}` and `/plans/{id}/results/import`: each year's
//! results collected from the departments in a spreadsheet, and taken back as filled in.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use super::export::ZipArchive as Binary;
use super::imports::{content_type, file_body, DryRunParams};
use super::records::{self, Writer};
use super::QueryParams;
use crate::auth::Scope;
use crate::db::Database;
use crate::error::{ApiError, ItemErrors};
use crate::transfer::sheet::{self, Limit, ResultsImportReport};

pub(super) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Which KPIs a template lists.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateParams {
    /// Only the KPIs of initiatives in which this department (its id) has a project: the sheet
    /// one department fills in.
    #[param(example = 1, inline)]
    pub department: Option<crate::api::query::documented::Id>,
}

/// The template's rows and a file name for them.
async fn template_of(
    db: &Database,
    request: &HttpRequest,
    plan_id: i64,
) -> Result<(Vec<sheet::TemplateRow>, String, String), ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let department = params.id("department")?;
    params.finish()?;
    db.run(move |conn| {
        let (plan, _) = crate::db::plans::get(conn, plan_id)?;
        if let Some(department) = department {
            let of_plan = crate::db::departments::get_department(conn, department)?.0.plan_id == plan_id;
            if !of_plan {
                return Err(ApiError::not_found(
                    "department",
                    format!("{department} of plan {plan_id}"),
                ));
            }
        }
        let rows = sheet::template(conn, plan_id, department)?;
        let name = match department {
            Some(department) => format!("{}-results-department-{department}", plan.code),
            None => format!("{}-results", plan.code),
        };
        Ok((rows, name, format!("{} 実績値入力シート", plan.name)))
    })
    .await
}

pub(super) fn attachment(body: Vec<u8>, content_type: &str, file: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")))
        .body(body)
}

/// The results sheet to fill in, as an Excel workbook: one row per KPI and year after its
/// baseline up to its target year, recorded years prefilled with their value and version.
#[utoipa::path(
    operation_id = "getResultsTemplate",
    tag = "results",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1), TemplateParams),
    responses(
        (status = 200, description = "The sheet", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = inline(Binary)),
        ItemErrors,
    )
)]
#[get("/plans/{id}/results/template.xlsx")]
pub async fn template_xlsx(
    db: web::Data<Database>,
    request: HttpRequest,
    plan: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (rows, name, title) = template_of(&db, &request, plan.into_inner()).await?;
    Ok(attachment(sheet::to_xlsx(&rows, &title)?, XLSX, format!("{name}.xlsx")))
}

/// The same sheet as CSV (UTF-8 with a BOM, CRLF, a header row of Japanese column names).
#[utoipa::path(
    operation_id = "getResultsTemplateCsv",
    tag = "results",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1), TemplateParams),
    responses(
        (status = 200, description = "The sheet", content_type = "text/csv", body = String),
        ItemErrors,
    )
)]
#[get("/plans/{id}/results/template.csv")]
pub async fn template_csv(
    db: web::Data<Database>,
    request: HttpRequest,
    plan: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (rows, name, _) = template_of(&db, &request, plan.into_inner()).await?;
    Ok(attachment(
        sheet::to_csv(&rows)?,
        "text/csv; charset=utf-8",
        format!("{name}.csv"),
    ))
}

/// Record a year's results from the filled-in sheet (`kpis:write`; a token limited to a
/// department only for that department's KPIs), xlsx or CSV. All or nothing: every result is
/// recorded and audited like a single PUT, or none is. Figures as typed by hand are understood
/// (full-width digits, thousands separators, ％, the KPI's unit); anything ambiguous is refused
/// with its row and column. A row whose result changed since the sheet was downloaded (its
/// version differs) is a 409. `dry_run=true` answers the per-row diff and records nothing.
#[utoipa::path(
    operation_id = "importResults",
    tag = "results",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1), DryRunParams),
    request_body(description = "The sheet from results/template, filled in", content(
        (Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (String = "text/csv"),
    )),
    security(("bearer" = ["kpis:write"])),
    responses(
        (status = 200, description = "Recorded (or in a dry run: what would be), row by row", body = ResultsImportReport),
        (status = 404, response = crate::error::responses::NotFound),
        crate::error::CreateErrors,
    )
)]
#[post("/plans/{id}/results/import")]
pub async fn import(
    db: web::Data<Database>,
    writer: Writer,
    request: HttpRequest,
    plan: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    writer.require(Scope::KpisWrite)?;
    let plan_id = plan.into_inner();
    let mut params = QueryParams::parse(request.query_string())?;
    let dry_run = params.boolean("dry_run")?.unwrap_or(false);
    params.finish()?;
    let kind = content_type(&request);
    let body = file_body(&request, payload).await?;
    // Reading a workbook is work for a blocking thread, not for the worker serving other requests.
    let rows = web::block(move || match kind.as_str() {
        XLSX => sheet::read_xlsx(&body),
        "text/csv" => sheet::read_csv(&body),
        _ => Err(ApiError::UnsupportedMediaTypeOf("text/csv or an xlsx workbook")),
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))??;
    let report = db
        .write(move |conn| {
            if crate::db::plans::exists(conn, plan_id)? {
                writer.check_plan(conn, plan_id)?;
            }
            let limit = Limit {
                department: writer.department(),
            };
            sheet::apply(conn, plan_id, &rows, &limit, &writer.actor(), dry_run)
        })
        .await?;
    Ok(records::written(
        actix_web::http::StatusCode::OK,
        records::to_json(&report)?,
        None,
    ))
}
