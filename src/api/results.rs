//! `/kpis/{id}/results`: yearly results (実績値), one per year of the KPI's own year type.

use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::{self, Writer};
use super::utc;
use crate::auth::Scope;
use crate::db::kpis::{self as kpi_store, KpiRow};
use crate::db::results::{
    self as store, ResultRow, ResultValues, MEASURED, NOT_MEASURABLE, RESULT_RESOURCE as RESOURCE,
};
use crate::db::write::Operation;
use crate::db::{Database, DbConnection};
use crate::domain::kpi::{decimal_value, YearType};
use crate::domain::validate::{Checks, MAX_DESCRIPTION, MAX_NAME};
use crate::domain::{chart, era};
use crate::error::{ApiError, ItemErrors, PatchErrors};

/// One year's result of a KPI.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiResult {
    #[schema(example = 1)]
    pub kpi_id: i64,
    /// Gregorian year, of the KPI's year type.
    #[schema(example = 2022)]
    pub year: i32,
    pub year_type: YearType,
    #[schema(example = "令和4(2022)年度")]
    pub label: String,
    /// The value as a number; null when not measurable.
    #[schema(value_type = Option<f64>, example = 26)]
    pub value: Option<serde_json::Number>,
    /// The exact decimal as recorded.
    #[schema(example = "26")]
    pub value_text: Option<String>,
    /// `measured`, or `not_measurable` (then `note` says why).
    #[schema(example = "measured")]
    pub status: String,
    pub note: Option<String>,
    /// Where the figure comes from: a survey, a statistic, a URL.
    pub source: Option<String>,
    /// The responsible division's analysis of the figure (要因分析).
    pub analysis: Option<String>,
    /// What the division will do next (今後の方向性).
    pub next_steps: Option<String>,
    #[schema(example = 1)]
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// A KPI's results, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiResults {
    #[schema(example = 1)]
    pub kpi_id: i64,
    /// First year a result may be recorded for: the baseline year.
    #[schema(example = 2019)]
    pub first_year: i32,
    /// Last year: the target year.
    #[schema(example = 2026)]
    pub last_year: i32,
    pub year_type: YearType,
    pub items: Vec<KpiResult>,
}

/// Whether a year's figure could be measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Measured,
    /// Not measurable that year (`note` says why: the survey was not held, say).
    NotMeasurable,
}

/// The body of a PUT: one year's result.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultForm {
    /// The exact decimal, as a number (26, 98.90) or a string ("98.90"); null or absent when not measurable.
    #[serde(default, deserialize_with = "crate::domain::input::decimal::deserialize")]
    #[schema(schema_with = crate::domain::input::decimal::schema)]
    pub value: Option<String>,
    /// `measured` (the default) or `not_measurable`.
    #[serde(default)]
    pub status: Option<ResultStatus>,
    /// A remark; required for `not_measurable` (why: the survey was not held, say).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub note: Option<String>,
    /// Where the figure comes from.
    #[serde(default)]
    #[schema(example = "市民意識調査", min_length = 1, max_length = 200)]
    pub source: Option<String>,
    /// The responsible division's analysis of the figure (要因分析).
    #[serde(default)]
    #[schema(example = "イベントの再開により交流が回復した。", min_length = 1, max_length = 2000)]
    pub analysis: Option<String>,
    /// What the division will do next (今後の方向性).
    #[serde(default)]
    #[schema(
        example = "オンライン交流を併用して件数を維持する。",
        min_length = 1,
        max_length = 2000
    )]
    pub next_steps: Option<String>,
}

pub(crate) fn view(kpi: &KpiRow, row: ResultRow) -> KpiResult {
    let year_type = kpi.target_year_type.parse().unwrap_or(YearType::Fiscal);
    KpiResult {
        kpi_id: row.kpi_id,
        year: row.year,
        year_type,
        label: era::label(row.year, year_type),
        value: row.value.as_deref().and_then(decimal_value),
        value_text: row.value,
        status: row.status,
        note: row.note,
        source: row.source,
        analysis: row.analysis,
        next_steps: row.next_steps,
        version: row.version,
        updated_at: utc(row.updated_at),
    }
}

fn result_of(conn: &mut DbConnection, kpi: &KpiRow, year: i32) -> Result<KpiResult, ApiError> {
    store::find(conn, kpi.id, year)?
        .map(|row| view(kpi, row))
        .ok_or_else(|| ApiError::not_found("result", format!("{year} of KPI {}", kpi.id)))
}

/// A year between the baseline and the target year, or a 422 that says the range.
pub(crate) fn check_year(kpi: &KpiRow, year: i32) -> Result<(), ApiError> {
    if (kpi.baseline_year..=kpi.target_year).contains(&year) {
        return Ok(());
    }
    let mut checks = Checks::default();
    checks.refuse(
        "year",
        format!(
            "must be from {} to {} ({} years of this KPI, baseline to target)",
            kpi.baseline_year, kpi.target_year, kpi.target_year_type
        ),
    );
    checks.finish()
}

pub(crate) fn values_of(form: ResultForm) -> Result<ResultValues, ApiError> {
    let mut checks = Checks::default();
    let status = match form.status {
        None | Some(ResultStatus::Measured) => MEASURED,
        Some(ResultStatus::NotMeasurable) => NOT_MEASURABLE,
    };
    // Which fields a status needs is a rule across fields (a 422), what each holds a bound (a 400).
    match (&form.value, status) {
        (Some(value), MEASURED) => checks.decimal("value", value),
        (None, MEASURED) => checks.refuse("value", "a measured result needs a value"),
        (Some(_), _) => checks.refuse("value", "a result that is not measurable has no value"),
        (None, _) => {
            if form.note.is_none() {
                checks.refuse("note", "say why the result is not measurable");
            }
        }
    }
    if let Some(note) = &form.note {
        checks.text("note", note, MAX_DESCRIPTION);
    }
    if let Some(source) = &form.source {
        checks.text("source", source, MAX_NAME);
    }
    for (field, text) in [("analysis", &form.analysis), ("next_steps", &form.next_steps)] {
        if let Some(text) = text {
            checks.text(field, text, MAX_DESCRIPTION);
        }
    }
    checks.finish()?;
    Ok(ResultValues {
        value: form.value,
        status,
        note: form.note,
        source: form.source,
        analysis: form.analysis,
        next_steps: form.next_steps,
    })
}

/// Path of one year's result.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ResultPath {
    /// KPI id.
    #[param(example = 1, minimum = 1)]
    pub id: i64,
    /// Year, of the KPI's own year type (fiscal or calendar), from 1900 to 2100
    /// (`validate::YEARS`); the KPI's own period (baseline to target year) is checked against it.
    #[param(example = 2022, minimum = 1900, maximum = 2100)]
    pub year: i32,
}

impl ResultPath {
    /// The KPI and the year, or a 400 for a year outside the years any record may name.
    fn checked(self) -> Result<(i64, i32), ApiError> {
        let mut checks = Checks::default();
        checks.year("year", self.year);
        checks.finish()?;
        Ok((self.id, self.year))
    }
}

/// A KPI's yearly results.
#[utoipa::path(
    operation_id = "listKpiResults",
    tag = "results",
    params(("id" = i64, Path, description = "KPI id", example = 1, minimum = 1)),
    responses((status = 200, description = "The KPI's results, oldest first", body = KpiResults), ItemErrors)
)]
#[get("/kpis/{id}/results")]
pub async fn list(db: web::Data<Database>, id: web::Path<i64>) -> Result<web::Json<KpiResults>, ApiError> {
    let id = id.into_inner();
    let results = db
        .run(move |conn| {
            let kpi = kpi_store::get(conn, id)?;
            let rows = store::of_kpi(conn, id)?;
            Ok(KpiResults {
                kpi_id: id,
                first_year: kpi.baseline_year,
                last_year: kpi.target_year,
                year_type: kpi.target_year_type.parse().unwrap_or(YearType::Fiscal),
                items: rows.into_iter().map(|row| view(&kpi, row)).collect(),
            })
        })
        .await?;
    Ok(web::Json(results))
}

/// One year's result, with its ETag.
#[utoipa::path(
    operation_id = "getKpiResult",
    tag = "results",
    params(ResultPath),
    responses(
        (status = 200, description = "The result", body = KpiResult,
         headers(("ETag" = String, description = "Send it in If-Match to replace or delete the result"))),
        ItemErrors,
    )
)]
#[get("/kpis/{id}/results/{year}")]
pub async fn get(db: web::Data<Database>, path: web::Path<ResultPath>) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner().checked()?;
    let result = db
        .run(move |conn| {
            let kpi = kpi_store::get(conn, id)?;
            result_of(conn, &kpi, year)
        })
        .await?;
    let body = records::to_json(&result)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, records::etag_of(&body)))
        .content_type("application/json")
        .body(body))
}

/// Record one year's result (`kpis:write`): creates it, or replaces it under If-Match.
#[utoipa::path(
    operation_id = "putKpiResult",
    tag = "results",
    params(ResultPath, ("If-Match" = Option<String>, Header, description = "The result's current ETag; required to replace an existing result")),
    request_body(content = ResultForm, content_type = "application/json"),
    security(("bearer" = ["kpis:write"])),
    responses(
        (status = 200, description = "Replaced", body = KpiResult, headers(("ETag" = String))),
        (status = 201, description = "Created", body = KpiResult, headers(("ETag" = String), ("Location" = String))),
        PatchErrors,
    )
)]
#[put("/kpis/{id}/results/{year}")]
pub async fn put(
    db: web::Data<Database>,
    writer: Writer,
    request: HttpRequest,
    path: web::Path<ResultPath>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    writer.require(Scope::KpisWrite)?;
    let (id, year) = path.into_inner().checked()?;
    let parsed = records::parse_input::<ResultForm>(records::json_body(&request, &body)?)?;
    let values = parsed.finish(Ok(())).and_then(values_of)?;
    let (created, after) = db
        .write(move |conn| {
            let kpi = kpi_store::get(conn, id)?;
            writer.check_plan(conn, kpi.plan_id)?;
            writer.check_kpi_reach(conn, kpi.initiative_id)?;
            check_year(&kpi, year)?;
            let before = store::find(conn, id, year)?.map(|row| view(&kpi, row));
            let before_json = before.as_ref().map(records::to_json).transpose()?;
            match (&before_json, writer.if_match()) {
                (Some(_), None) => return Err(ApiError::PreconditionRequired),
                (Some(current), Some(condition)) if !records::matches(condition, &records::etag_of(current)) => {
                    return Err(ApiError::PreconditionFailed)
                }
                // RFC 9110: If-Match never matches a representation that does not exist.
                (None, Some(_)) => return Err(ApiError::PreconditionFailed),
                _ => {}
            }
            let created = store::put(conn, id, year, &values)?;
            store::refresh_status(conn, id)?;
            let after = records::to_json(&result_of(conn, &kpi, year)?)?;
            let operation = if created { Operation::Create } else { Operation::Update };
            records::audit_write(
                conn,
                &writer,
                RESOURCE,
                id,
                operation,
                before_json.as_deref(),
                Some(&after),
            )?;
            Ok((created, after))
        })
        .await?;
    Ok(if created {
        records::written(
            StatusCode::CREATED,
            after,
            Some(format!("/api/v1/kpis/{id}/results/{year}")),
        )
    } else {
        records::written(StatusCode::OK, after, None)
    })
}

/// Delete one year's result (`kpis:write`), under If-Match.
#[utoipa::path(
    operation_id = "deleteKpiResult",
    tag = "results",
    params(ResultPath, super::records::IfMatch),
    security(("bearer" = ["kpis:write"])),
    responses((status = 204, description = "Deleted"), crate::error::DeleteErrors)
)]
#[delete("/kpis/{id}/results/{year}")]
pub async fn remove(
    db: web::Data<Database>,
    writer: Writer,
    path: web::Path<ResultPath>,
) -> Result<HttpResponse, ApiError> {
    writer.require(Scope::KpisWrite)?;
    let condition = writer.precondition()?;
    let (id, year) = path.into_inner().checked()?;
    db.write(move |conn| {
        let kpi = kpi_store::get(conn, id)?;
        writer.check_plan(conn, kpi.plan_id)?;
        writer.check_kpi_reach(conn, kpi.initiative_id)?;
        let before = records::to_json(&result_of(conn, &kpi, year)?)?;
        if !records::matches(&condition, &records::etag_of(&before)) {
            return Err(ApiError::PreconditionFailed);
        }
        store::delete(conn, id, year)?;
        store::refresh_status(conn, id)?;
        records::audit_write(conn, &writer, RESOURCE, id, Operation::Delete, Some(&before), None)
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// A line chart of the KPI: baseline, yearly results and target, the expected path dashed
/// (600×300 SVG with Japanese labels, for embedding in a web page).
#[utoipa::path(
    operation_id = "getKpiChart",
    tag = "results",
    params(("id" = i64, Path, description = "KPI id", example = 1, minimum = 1)),
    responses(
        (status = 200, description = "The chart", content_type = "image/svg+xml", body = String),
        ItemErrors,
    )
)]
#[get("/kpis/{id}/chart.svg")]
pub async fn chart_svg(db: web::Data<Database>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (kpi, rows) = db
        .run(move |conn| Ok((kpi_store::get(conn, id)?, store::of_kpi(conn, id)?)))
        .await?;
    let svg = chart_of(&kpi, &rows);
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .body(svg))
}

/// The chart of a KPI's results against its baseline and (current) target.
pub(crate) fn chart_of(kpi: &KpiRow, rows: &[ResultRow]) -> String {
    let number = |text: Option<&str>| text.and_then(|text| text.parse::<f64>().ok());
    chart::line_chart(&chart::Series {
        name: &kpi.name,
        unit: &kpi.unit,
        year_type: kpi.target_year_type.parse().unwrap_or(YearType::Fiscal),
        baseline_year: kpi.baseline_year,
        target_year: kpi.target_year,
        baseline: number(kpi.baseline_value.as_deref()),
        target: number(kpi.target_value.as_deref()),
        results: rows
            .iter()
            .filter_map(|row| number(row.value.as_deref()).map(|value| (row.year, value)))
            .collect(),
    })
}
