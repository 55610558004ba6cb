//! `/plans`: the strategy documents.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::records::{record_endpoints, Record};
use super::{list_response, utc, Collection, OutputParams, PageParams, QueryParams};
use crate::auth::Scope;
use crate::db::plans::{self, CorrectionRow, Keyword, PlanFilter, PlanForm, PlanRow};
use crate::db::{results, Database, DbConnection};
use crate::domain::progress::GradeStep;
use crate::error::{ApiError, ListErrors};

/// A strategy document of a municipality.
#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    #[schema(example = 1)]
    pub id: i64,
    /// Stable code of the plan.
    #[schema(example = "atsugi-2")]
    pub code: String,
    /// The name as published.
    #[schema(example = "第2期厚木市まち・ひと・しごと創生総合戦略")]
    pub name: String,
    /// Title of the source document this data comes from.
    #[schema(example = "第2期厚木市まち・ひと・しごと創生総合戦略 基本目標別重要業績評価指標（KPI）及び事業一覧")]
    pub document_title: String,
    /// Local government code (6 digits with check digit).
    #[schema(example = "142123")]
    pub municipality_code: String,
    /// The same code in its 5-digit form, without the check digit.
    #[schema(example = "14212")]
    pub municipality_code_5digit: String,
    #[schema(example = "厚木市")]
    pub municipality_name: String,
    #[schema(example = "神奈川県")]
    pub prefecture: String,
    /// First fiscal year of the plan period.
    #[schema(example = 2021)]
    pub period_start_year: i32,
    /// Last fiscal year of the plan period.
    #[schema(example = 2026)]
    pub period_end_year: i32,
    /// How KPI achievement rates are graded: the first step whose `min` the rate reaches.
    pub grading_scheme: Vec<GradeStep>,
    /// Who publishes the data set.
    #[schema(example = "厚木市")]
    pub publisher: Option<String>,
    /// Where the source document is published (null until the city states it).
    pub source_url: Option<String>,
    /// When the source document was published (YYYY-MM-DD; null until the city states it).
    pub published_on: Option<String>,
    /// The licence of the data (null until the city states it).
    pub licence: Option<String>,
    pub licence_url: Option<String>,
    /// What the data set holds, for data catalogues (null: described from the title and period).
    pub description: Option<String>,
    /// Keywords for data catalogues.
    #[schema(example = json!(["地方創生", "総合戦略", "KPI"]))]
    pub keywords: Vec<String>,
    /// Whom to ask about the data (null until the city states it).
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_url: Option<String>,
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A plan with the corrections made to its published text.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanDetail {
    #[serde(flatten)]
    pub plan: Plan,
    /// Evident typos of the published document that the data corrects, each with the published form.
    pub corrections: Vec<SourceCorrection>,
}

/// A correction of the published text: what was published, what the data says instead, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceCorrection {
    /// The corrected record, e.g. `division D09-05`.
    #[schema(example = "division D09-05")]
    pub record: String,
    #[schema(example = "department")]
    pub field: String,
    #[schema(example = "子ども未来部")]
    pub published: String,
    #[schema(example = "こども未来部")]
    pub normalised: String,
    pub reason: String,
}

impl From<PlanRow> for Plan {
    fn from(row: PlanRow) -> Self {
        let keywords = row.keywords();
        Plan {
            id: row.id,
            code: row.code,
            name: row.name,
            document_title: row.document_title,
            municipality_code_5digit: row.municipality_code.chars().take(5).collect(),
            municipality_code: row.municipality_code,
            municipality_name: row.municipality_name,
            prefecture: row.prefecture,
            period_start_year: row.period_start_year,
            period_end_year: row.period_end_year,
            grading_scheme: results::parse_scheme(row.grading_scheme.as_deref()),
            publisher: row.publisher,
            source_url: row.source_url,
            published_on: row.published_on,
            licence: row.licence,
            licence_url: row.licence_url,
            keywords,
            description: row.description,
            contact_name: row.contact_name,
            contact_email: row.contact_email,
            contact_url: row.contact_url,
            version: row.version,
            updated_at: utc(row.updated_at),
        }
    }
}

impl From<CorrectionRow> for SourceCorrection {
    fn from(row: CorrectionRow) -> Self {
        SourceCorrection {
            record: row.record,
            field: row.field,
            published: row.published,
            normalised: row.normalised,
            reason: row.reason,
        }
    }
}

/// Plan filter: by code only (a plan is its own plan).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanParams {
    /// Only the plan with this code.
    #[param(example = "atsugi-2", inline)]
    pub code: Option<crate::api::query::documented::Text>,
}

/// List plans.
#[utoipa::path(
    operation_id = "listPlans",
    tag = "plans",
    params(PlanParams, PageParams, OutputParams),
    responses(
        (status = 200, description = "A page of plans", content((Collection<Plan> = "application/json"), (String = "text/csv"))),
        ListErrors,
    )
)]
#[get("/plans")]
pub async fn list(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = PlanFilter {
        code: params.text("code")?,
    };
    let output = params.output(&request)?;
    let page = params.page(plans::PLAN_SORT)?;
    params.finish()?;
    list_response::<_, Plan, _>(&db, &request, page, output, move |conn, page| {
        plans::list(conn, &filter, page)
    })
    .await
}

/// Plans are written by admins.
pub struct PlanRecord;

impl Record for PlanRecord {
    const RESOURCE: &'static str = "plan";
    const PATH: &'static str = "/api/v1/plans";
    const SCOPE: Scope = Scope::Admin;
    type View = PlanDetail;
    type Input = PlanForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<PlanDetail, ApiError> {
        let (plan, corrections) = plans::get(conn, id)?;
        Ok(PlanDetail {
            plan: plan.into(),
            corrections: corrections.into_iter().map(Into::into).collect(),
        })
    }

    fn plan_of(view: &PlanDetail) -> Option<i64> {
        Some(view.plan.id)
    }

    fn input_of(view: &PlanDetail) -> PlanForm {
        let plan = &view.plan;
        PlanForm {
            code: plan.code.clone(),
            name: plan.name.clone(),
            document_title: plan.document_title.clone(),
            municipality_code: plan.municipality_code.clone(),
            municipality_name: plan.municipality_name.clone(),
            prefecture: plan.prefecture.clone(),
            period_start_year: plan.period_start_year,
            period_end_year: plan.period_end_year,
            grading_scheme: Some(plan.grading_scheme.clone()),
            publisher: plan.publisher.clone(),
            source_url: plan.source_url.clone(),
            published_on: plan.published_on.clone(),
            licence: plan.licence.clone(),
            licence_url: plan.licence_url.clone(),
            description: plan.description.clone(),
            keywords: plan.keywords.iter().cloned().map(Keyword).collect(),
            contact_name: plan.contact_name.clone(),
            contact_email: plan.contact_email.clone(),
            contact_url: plan.contact_url.clone(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &PlanForm, id: Option<i64>) -> Result<(), ApiError> {
        plans::validate(conn, input, id)
    }

    fn insert(conn: &mut DbConnection, input: &PlanForm) -> Result<i64, ApiError> {
        plans::insert(conn, input)
    }

    fn update(conn: &mut DbConnection, id: i64, input: &PlanForm) -> Result<(), ApiError> {
        plans::update(conn, id, input)
    }

    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
        plans::dependents(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        plans::delete(conn, id)
    }
}

record_endpoints! {
    record: PlanRecord, name: "Plan", form: PlanForm, view: PlanDetail, tag: "plans", scope: "admin",
    collection: "/plans", item: "/plans/{id}",
    get: get "Get one plan, with the corrections made to its published text.",
    create: create "Create a plan (admin): the city's next strategy.",
    update: update "Correct a plan (admin), as a JSON merge patch under If-Match.",
    delete: delete "Delete a plan with nothing left in it (admin), under If-Match.",
}
